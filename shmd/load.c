/* load.c - filling the tier with one file: the admission rules and the
 * copy (see load.h).
 *
 * A file is admitted only when all of these hold:
 *   - it opens read-only as the daemon's user and is a regular file on a
 *     filesystem with real contents (not proc, sysfs, ...), not in the tier;
 *   - its size is within --max-file and the capacity;
 *   - its ctime is at least --settle-ms old (ctime moves on every write and
 *     cannot be set by users: a file rewritten within one timestamp tick with
 *     the same size would otherwise be indistinguishable);
 *   - no descriptor or shared mapping on this host can write it (a read
 *     lease is refused), where shmd may ask;
 *   - it did not change while being copied: the bytes copied equal st_size,
 *     fstat before and after agree (dev, ino, size, mtime, ctime) and the
 *     path still names the same inode;
 *   - no shim changed the path (generation, epoch) since the load began,
 *     nor the path with its symlinks resolved, if that is another one (its
 *     bucket's generation is recorded too: a change through the target's
 *     own name kills the entry).
 * Copies are made in a new, never reused object name and published only
 * when complete, so nothing half-written is ever visible. With a fleet
 * (fleet.h), the bytes come from it when it holds this very version (size
 * and mtime as fstat says now), verified; every rule above still holds
 * (the source is looked at before and after as for a copy), and a copy
 * made from the source is offered to the fleet once published.
 *
 * The source is a program's descriptor when one came with the miss (its own
 * open of key: no second open on the slow filesystem, and its reads share
 * the page cache), else our own open of key (source.c). Whatever descriptor
 * it is, the copy is published only if key still names that very file (dev
 * and ino checked after the copy), so a stale or foreign descriptor can
 * never put another file's bytes under this path. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmd/access.h"
#include "shmd/daemon.h"
#include "shmd/fleet.h"
#include "shmd/load.h"
#include "shmd/log.h"
#include "shmd/queue.h"
#include "shmd/source.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/hash.h"
#include "tier/path.h"
#include "tier/stat.h"

#define COPY_CHUNK (1u << 20)  /* bytes per sendfile or pread */

static const char *const fail_names[TIER_FAIL_COUNT] = {
    [TIER_FAIL_NOENT] = "unreadable",
    [TIER_FAIL_NOT_REGULAR] = "not-regular",
    [TIER_FAIL_TOO_LARGE] = "too-large",
    [TIER_FAIL_UNSETTLED] = "unsettled",
    [TIER_FAIL_CHANGED] = "changed",
    [TIER_FAIL_NOSPACE] = "no-space",
    [TIER_FAIL_IO] = "io-error",
    [TIER_FAIL_INDEX_FULL] = "index-full",
    [TIER_FAIL_NO_ROOM] = "no-room",
    [TIER_FAIL_WRITING] = "writing",
};

const char *load_fail_name(int fail)
{
    return fail >= 0 && fail < TIER_FAIL_COUNT && fail_names[fail] ? fail_names[fail] : "?";
}

/* Copy exactly what the source has, up to limit + 1 bytes (one more byte
 * than expected proves it grew). Reads only at explicit offsets (sendfile
 * with an offset, pread): the source may be a program's own descriptor,
 * whose file offset must not move. Returns bytes copied or -1 with errno. */
static int64_t copy_bytes(int from, int to, uint64_t limit, const int *stop)
{
    off_t off = 0;
    bool use_sendfile = true;
    char *buf = NULL;

    while ((uint64_t)off <= limit) {
        if (load_relaxed(stop)) {
            errno = EINTR;
            off = -1;
            break;
        }
        ssize_t n;
        if (use_sendfile) {
            n = sendfile(to, from, &off, COPY_CHUNK);
            if (n < 0 && (errno == EINVAL || errno == ENOSYS) && off == 0) {
                use_sendfile = false;
                continue;
            }
        } else {
            if (!buf && !(buf = malloc(COPY_CHUNK)))
                return -1;
            n = pread(from, buf, COPY_CHUNK, off);
            for (ssize_t done = 0; n > 0 && done < n;) {
                ssize_t w = write(to, buf + done, (size_t)(n - done));
                if (w < 0) {
                    n = -1;
                    break;
                }
                done += w;
            }
            if (n > 0)
                off += n;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            off = -1;
            break;
        }
        if (n == 0)
            break;
    }
    int e = errno;
    free(buf);
    errno = e;
    return (int64_t)off;
}

/* How loud a refused load is: trouble in the tier is a warning; a file the
 * operator may want to know about (too large, unreadable, changing) is
 * info; the routine ones (not settled yet, not a regular file) are debug.
 * The negative cache keeps any of them to one line a second per path. */
static int fail_level(int fail)
{
    switch (fail) {
    case TIER_FAIL_NOSPACE: case TIER_FAIL_IO: case TIER_FAIL_INDEX_FULL: case TIER_FAIL_NO_ROOM:
        return SHMD_LOG_WARN;
    case TIER_FAIL_UNSETTLED: case TIER_FAIL_NOT_REGULAR: case TIER_FAIL_WRITING:
        return SHMD_LOG_DEBUG;
    default:
        return SHMD_LOG_INFO;
    }
}

static void fail_count(struct shmd *d, struct load_result *r, int fail)
{
    r->fail = fail;
    struct tier_header *h = d->store.hdr;
    fetch_add_relaxed(&h->fail[fail], 1);
    fetch_add_relaxed(&h->load_failures, 1);
}

/* Is the entry for key a current copy: a file, not killed, and its source
 * still exactly as copied (t)? (Only metadata of it is no copy.) */
static bool entry_fresh(struct store *s, const char *key, size_t len, uint64_t hash,
                        const struct tier_stat *t)
{
    store_lock(s);
    int i = store_find(s, key, len, hash);
    bool fresh = i >= 0 && (s->records[i].kind & TIER_KIND_MASK) == TIER_KIND_FILE &&
                 !store_entry_killed(s, (uint32_t)i) && tier_stat_same(&s->records[i].st, t);
    store_unlock(s);
    return fresh;
}

/* The fleet holds no copy: a program waiting for this load reads the
 * source itself, now (queue.h). */
static void tell_source(void *job)
{
    queue_answer(job, false);
}

void load_file(struct shmd *d, const char *key, size_t len, int given, struct queue_job *job,
               struct load_result *r)
{
    struct store *s = &d->store;
    struct stat st1, st2, st3, ost;
    struct tier_stat t1, t2;
    char name[TIER_OBJECT_NAME_SIZE];
    int fd = -1, ofd = -1, rec = -1;
    uint64_t mem = 0;
    bool created = false;

    memset(r, 0, sizeof *r);
    r->fail = -1;
    uint64_t hash = tier_hash(s->view.hash_seed, key, len);
    /* generation and epoch before the first look at the source: a change
     * through a shim after this point kills what we publish */
    uint64_t gen = load_acquire(&s->view.gens[hash & s->view.bucket_mask]);
    uint64_t epoch = load_acquire(&s->view.marks->epoch);
    if (!tier_change_quiet(gen) || !tier_change_quiet(epoch)) {
        /* a shim is inside a modifying call on this path or tree: what we
         * would read may be the state it is replacing (layout.h) */
        fail_count(d, r, TIER_FAIL_CHANGED);
        goto out;
    }

    fd = source_open(key, given);
    if (fd < 0) {
        fail_count(d, r, TIER_FAIL_NOENT);
        goto out;
    }
    int special = source_tstat(fd, "", AT_EMPTY_PATH, &st1, &t1) < 0 ? -1 : source_special(fd, st1.st_dev);
    if (special < 0) {
        fail_count(d, r, TIER_FAIL_IO);
        goto out;
    }
    r->size = (uint64_t)st1.st_size;
    if (!S_ISREG(st1.st_mode) || special ||
        ((uint64_t)st1.st_dev == d->tier_dev &&
         path_is_under(key, len, d->opt.dir, strlen(d->opt.dir)))) {
        fail_count(d, r, TIER_FAIL_NOT_REGULAR);
        goto out;
    }
    if (entry_fresh(s, key, len, hash, &t1)) {
        r->fresh = true;
        goto out;
    }
    if ((uint64_t)st1.st_size > s->hdr->max_file) {
        fail_count(d, r, TIER_FAIL_TOO_LARGE);
        goto out;
    }
    uint64_t changed_ns = timespec_ns(&st1.st_ctim);
    uint64_t settle_ns = s->hdr->settle_ms * NS_PER_MS;
    uint64_t checked_ns = real_ns();
    if ((int64_t)(checked_ns - changed_ns) < (int64_t)settle_ns) {
        r->retry_ns = changed_ns + settle_ns;
        fail_count(d, r, TIER_FAIL_UNSETTLED);
        goto out;
    }

    if (source_open_for_writing(fd)) {
        fail_count(d, r, TIER_FAIL_WRITING);
        goto out;
    }

    mem = store_object_memory((uint64_t)st1.st_size);
    store_lock(s);
    rec = store_reserve(s, mem);
    uint64_t id = store_new_id(s);
    store_unlock(s);
    if (rec < 0) {
        fail_count(d, r, rec == -2 ? TIER_FAIL_NOSPACE
                         : mem > s->hdr->capacity ? TIER_FAIL_TOO_LARGE : TIER_FAIL_NO_ROOM);
        goto out;
    }

    /* the copy carries the source's mode without write bits (set at
     * creation: the instance directory is 0700 and the object unpublished,
     * so no one can open it early) and times, so even metadata readers
     * that bypass the shim see the right ones */
    mode_t mode = st1.st_mode & 0555;
    tier_object_name(s->view.generation, id, (uint32_t)rec, name);
    ofd = openat(d->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (ofd < 0) {
        fail_count(d, r, errno == ENOSPC ? TIER_FAIL_NOSPACE : TIER_FAIL_IO);
        goto out;
    }
    created = true;
    if (st1.st_size > 0 && fallocate(ofd, 0, 0, st1.st_size) < 0 && errno != EOPNOTSUPP) {
        fail_count(d, r, errno == ENOSPC ? TIER_FAIL_NOSPACE : TIER_FAIL_IO);
        goto out;
    }
    /* the fleet first (fleet.h): a copy of exactly the version this host
     * sees, verified, and no byte read from the source; else the source */
    int64_t copied = -1, mtime_ns = (int64_t)timespec_ns(&st1.st_mtim);
    bool from_fleet = false;
    if (d->fleet && st1.st_size > 0 &&
        fleet_fetch(d->fleet, key, len, (uint64_t)st1.st_size, mtime_ns, ofd,
                    job ? tell_source : NULL, job) == 1) {
        copied = st1.st_size;
        from_fleet = true;
    }
    if (!from_fleet) {
        if (job)
            queue_answer(job, false); /* a program waiting reads the source too, now */
        copied = copy_bytes(fd, ofd, (uint64_t)st1.st_size, &d->stopping);
    }
    if (copied < 0) {
        fail_count(d, r, errno == ENOSPC ? TIER_FAIL_NOSPACE : TIER_FAIL_IO);
        goto out;
    }
    bool stable = source_stat(fd, "", AT_EMPTY_PATH, &st2) == 0 &&
                  source_stat(AT_FDCWD, key, 0, &st3) == 0 &&
                  (uint64_t)copied == (uint64_t)st1.st_size &&
                  st3.st_dev == st1.st_dev && st3.st_ino == st1.st_ino;
    if (stable) {
        tier_stat_from(&t2, &st2);
        stable = tier_stat_same(&t1, &t2);
    }
    if (!stable) {
        fail_count(d, r, TIER_FAIL_CHANGED);
        goto out;
    }
    struct timespec times[2] = {st1.st_atim, st1.st_mtim};
    if (((mode & d->umask) && fchmod(ofd, mode) < 0) || futimens(ofd, times) < 0 ||
        fstat(ofd, &ost) < 0) {
        fail_count(d, r, TIER_FAIL_IO);
        goto out;
    }
    close(ofd);
    ofd = -1;
    /* reached through a symlink: a change through the target's own name
     * must kill the entry too (its bucket's gen is recorded as well). That
     * word is read only now, after the copy: so the source is looked at
     * once more after it, and must still be what was copied (a change
     * through the other name in between moved its ctime; see the settle
     * rule above for filesystems with coarse times) */
    char real[PATH_KEY_SIZE];
    uint32_t real_bucket1 = 0;
    uint64_t real_gen = 0;
    int rn = source_real_path(key, fd, real);
    if (rn >= 0 && ((size_t)rn != len || memcmp(real, key, len) != 0)) {
        real_bucket1 = (uint32_t)(tier_hash(s->view.hash_seed, real, (size_t)rn) & s->view.bucket_mask) + 1;
        real_gen = load_acquire(&s->view.gens[real_bucket1 - 1]);
        struct stat st4;
        struct tier_stat t4;
        if (!tier_change_quiet(real_gen) || source_stat(fd, "", AT_EMPTY_PATH, &st4) < 0 ||
            (tier_stat_from(&t4, &st4), !tier_stat_same(&t1, &t4))) {
            fail_count(d, r, TIER_FAIL_CHANGED);
            goto out;
        }
    }
    /* is the path itself a symlink? (for lstat from the tier; the kernel
     * has its attributes from the open) */
    struct stat lst;
    uint32_t kind = TIER_KIND_FILE;
    if (source_stat(AT_FDCWD, key, AT_SYMLINK_NOFOLLOW, &lst) == 0 && !S_ISLNK(lst.st_mode) &&
        lst.st_ino == st1.st_ino && lst.st_dev == st1.st_dev)
        kind |= TIER_KIND_PLAIN;
    if (source_noexec(key, t1.mnt_id))
        kind |= TIER_KIND_NOEXEC;
    uint32_t access, dirs_uid;
    shmd_access(key, len, fd, (uint64_t)st1.st_dev, st1.st_mode, epoch, &access, &dirs_uid);

    struct store_obj obj = {
        .record = (uint32_t)rec, .id = id, .ino = (uint64_t)ost.st_ino,
        .ctime_sec = ost.st_ctim.tv_sec, .ctime_nsec = ost.st_ctim.tv_nsec,
        .epoch = epoch, .gen = gen, .checked_ns = checked_ns, .st = t1,
        .access = access, .dirs_uid = dirs_uid, .kind = kind,
        .real_bucket1 = real_bucket1, .real_gen = real_gen,
    };
    store_lock(s);
    if (load_acquire(&s->view.gens[hash & s->view.bucket_mask]) != gen ||
        load_acquire(&s->view.marks->epoch) != epoch ||
        (real_bucket1 && load_acquire(&s->view.gens[real_bucket1 - 1]) != real_gen)) {
        store_unlock(s);
        fail_count(d, r, TIER_FAIL_CHANGED); /* a shim changed it meanwhile */
        goto out;
    }
    int put = store_put(s, key, len, hash, &obj);
    rec = -1; /* store_put consumed the reservation either way */
    if (put >= 0) {
        fetch_add_relaxed(&s->hdr->loads, 1);
        created = false;
    }
    store_unlock(s);
    if (put >= 0 && !from_fleet) {
        fetch_add_relaxed(&d->source_loads, 1);
        /* offered to the fleet: the published object, immutable from here */
        int pfd;
        if (d->fleet && st1.st_size > 0 &&
            (pfd = openat(d->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
            fleet_publish(d->fleet, key, len, (uint64_t)st1.st_size, mtime_ns, pfd);
    }
    r->from_fleet = put >= 0 && from_fleet;
    if (put < 0)
        fail_count(d, r, put == -2 ? TIER_FAIL_NOSPACE : TIER_FAIL_INDEX_FULL);
    else
        shmd_log(SHMD_LOG_DEBUG, "loaded %s (%llu bytes)", key, (unsigned long long)st1.st_size);

out:
    if (ofd >= 0)
        close(ofd);
    if (created)
        unlinkat(d->dirfd, name, 0);
    if (rec >= 0) {
        store_lock(s);
        store_unreserve(s, mem, (uint32_t)rec);
        store_unlock(s);
    }
    if (fd >= 0 && fd != given)
        close(fd); /* given is the caller's to close */
    if (r->fail >= 0)
        shmd_log(fail_level(r->fail), "not loaded: %s: %s", key, load_fail_name(r->fail));
}
