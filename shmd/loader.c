/* loader.c - filling the tier: a queue of paths, a pool of threads that
 * copy sources into new objects, and the admission rules.
 *
 * A file is admitted only when all of these hold:
 *   - it opens read-only as the daemon's user and is a regular file on a
 *     filesystem with real contents (not proc, sysfs, ...), not in the tier;
 *   - its size is within --max-file and the capacity;
 *   - its ctime is at least --settle-ms old (ctime moves on every write and
 *     cannot be set by users: a file rewritten within one timestamp tick with
 *     the same size would otherwise be indistinguishable);
 *   - it did not change while being copied: the bytes copied equal st_size,
 *     fstat before and after agree (dev, ino, size, mtime, ctime) and the
 *     path still names the same inode;
 *   - no shim changed the path (generation, epoch) since the load began.
 * Copies are made in a new, never reused object name and published only
 * when complete, so nothing half-written is ever visible.
 *
 * Queue invariants: a path is at most once in the queue or being loaded
 * (deduplicated by hash); a path that failed is not retried before its
 * retry time (the negative cache), so a stream of misses on a huge or
 * special file costs one stat per second, not one load per miss. A load
 * that lost a race with a change ("changed") is retried at the next miss. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "shmd/shmd.h"
#include "tier/atomic.h"
#include "tier/hash.h"
#include "tier/path.h"
#include "tier/stat.h"
#include "tier/clock.h"

#define QUEUE_MAX 4096
#define NEG_SLOTS 4096
#define NEG_RETRY_NS NS_PER_SEC   /* failed loads: retry after 1 s */
#define COPY_CHUNK (1u << 20)

struct job {
    struct job *next;
    struct warm_batch *batch;  /* NULL for a miss */
    int fd;                    /* the program's descriptor, or -1; owned */
    uint64_t hash;             /* daemon-local dedup hash */
    size_t len;
    char key[];                /* len bytes, NUL, zero padding */
};

struct neg {
    uint64_t hash;
    uint64_t until_ns;         /* CLOCK_REALTIME */
};

struct loader {
    struct shmd *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    size_t queued;
    uint64_t inflight[QUEUE_MAX + 64]; /* hashes queued or loading */
    size_t ninflight;
    struct neg neg[NEG_SLOTS];
    bool stop;
    unsigned nthreads;
    pthread_t threads[64];
};

struct warm_done {
    struct warm_done *next;
    struct load_result r;
    size_t len;
    char key[];
};

struct warm_batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;            /* submitted, not yet taken by warm_batch_next */
    struct warm_done *head, *tail;
};

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

const char *shmd_fail_name(int fail)
{
    return fail >= 0 && fail < TIER_FAIL_COUNT && fail_names[fail] ? fail_names[fail] : "?";
}

static uint64_t key_hash(const char *key, size_t len)
{
    return tier_hash(0x5348u, key, len);
}

/* Filesystems whose files are not plain data: their "regular files" are
 * generated on read (and st_size lies), so copying them is meaningless. */
static bool special_fs(long type)
{
    switch ((unsigned long)type) {
    case PROC_SUPER_MAGIC: case SYSFS_MAGIC: case DEBUGFS_MAGIC: case TRACEFS_MAGIC:
    case SECURITYFS_MAGIC: case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC:
    case DEVPTS_SUPER_MAGIC: case BPF_FS_MAGIC: case PSTOREFS_MAGIC:
    case EFIVARFS_MAGIC: case NSFS_MAGIC: case SELINUX_MAGIC: case SMACK_MAGIC:
    case 0x62656570: /* configfs */
    case 0x65735543: /* fusectl */
        return true;
    default:
        return false;
    }
}

/* special_fs() of the filesystem fd lives on, remembered per device for
 * FSTYPE_TTL_NS: on a network filesystem statfs is a round trip (sshfs
 * sends an SFTP request) and a device's type does not change while it is
 * mounted; the entries age out because the device numbers of anonymous
 * filesystems (FUSE, NFS, procfs) are reused after an unmount.
 * Returns -1 when fstatfs fails. */
#define FSTYPE_CACHE 16
#define FSTYPE_TTL_NS 10 * NS_PER_SEC
static struct {
    pthread_mutex_t mu;
    unsigned n, next;
    struct {
        dev_t dev;
        bool special;
        uint64_t until_ns;     /* CLOCK_MONOTONIC */
    } e[FSTYPE_CACHE];
} g_fstype = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int on_special_fs(int fd, dev_t dev)
{
    struct statfs sfs;
    int r = -1;

    uint64_t now = mono_ns();
    unsigned slot = FSTYPE_CACHE;

    pthread_mutex_lock(&g_fstype.mu);
    for (unsigned i = 0; i < g_fstype.n; i++) {
        if (g_fstype.e[i].dev != dev)
            continue;
        slot = i;
        if (now < g_fstype.e[i].until_ns)
            r = g_fstype.e[i].special;
    }
    pthread_mutex_unlock(&g_fstype.mu);
    if (r >= 0)
        return r;
    if (fstatfs(fd, &sfs) < 0)
        return -1;
    r = special_fs(sfs.f_type);
    pthread_mutex_lock(&g_fstype.mu);
    if (slot == FSTYPE_CACHE || slot >= g_fstype.n)
        slot = g_fstype.n < FSTYPE_CACHE ? g_fstype.n++ : g_fstype.next++ % FSTYPE_CACHE;
    g_fstype.e[slot].dev = dev;
    g_fstype.e[slot].special = r;
    g_fstype.e[slot].until_ns = now + FSTYPE_TTL_NS;
    pthread_mutex_unlock(&g_fstype.mu);
    return r;
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
        return LOG_WARN;
    case TIER_FAIL_UNSETTLED: case TIER_FAIL_NOT_REGULAR: case TIER_FAIL_WRITING:
        return LOG_DEBUG;
    default:
        return LOG_INFO;
    }
}

static void fail_count(struct shmd *d, struct load_result *r, int fail)
{
    r->fail = fail;
    struct tier_header *h = d->store.hdr;
    fetch_add_relaxed(&h->fail[fail], 1);
    fetch_add_relaxed(&h->load_failures, 1);
}

/* Is the entry for key current: present, not killed, and its source
 * still exactly as copied (t)? */
static bool entry_fresh(struct store *s, const char *key, size_t len, uint64_t hash,
                        const struct tier_stat *t)
{
    store_lock(s);
    int i = store_find(s, key, len, hash);
    bool fresh = i >= 0 && !store_entry_killed(s, (uint32_t)i) &&
                 tier_stat_same(&s->records[i].st, t);
    store_unlock(s);
    return fresh;
}

/* The source: a program's descriptor when one came with the miss (its own
 * open of key: no second open on the slow filesystem, and its reads share
 * the page cache), else our own open of key. Whatever descriptor it is,
 * the copy is published only if key still names that very file (dev and
 * ino checked after the copy), so a stale or foreign descriptor can never
 * put another file's bytes under this path. Returns given itself, or a
 * descriptor of our own to close, or -1 with errno. */
static int open_source(const char *key, int given)
{
    /* the program's descriptor itself, not a dup: every close of a
     * descriptor on a FUSE file is a FLUSH request to the filesystem's
     * process, which the program's own requests then queue behind */
    if (given >= 0)
        return given;
    int fd = open(key, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = open(key, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    return fd;
}

/* Is the file open for writing anywhere on this host? A program that
 * opened it before this load began (so no generation moved) may write more
 * at any time, and the copy would be stale at once. Asked with a read
 * lease, which the kernel refuses (EAGAIN) while any descriptor or shared
 * mapping can write the file; taken and dropped at once (a writer opening
 * meanwhile waits microseconds; shmd ignores the SIGIO). Unknown, so false,
 * where shmd may not take leases: a file it does not own without
 * CAP_LEASE, NFS. fd may share the program's open file description (the
 * miss path): a lease sets the description's owner (reset to none after)
 * and its removal clears O_ASYNC, so a description with either is left
 * alone. */
bool shmd_open_for_writing(int fd)
{
    struct f_owner_ex own;
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || (fl & O_ASYNC) || fcntl(fd, F_GETOWN_EX, &own) < 0 || own.pid != 0)
        return false;
    if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
        fcntl(fd, F_SETLEASE, F_UNLCK);
        fcntl(fd, F_SETOWN, 0);
        return false;
    }
    return errno == EAGAIN;
}

void shmd_load(struct shmd *d, const char *key, size_t len, int given, struct load_result *r)
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

    fd = open_source(key, given);
    if (fd < 0) {
        fail_count(d, r, TIER_FAIL_NOENT);
        goto out;
    }
    int special = tier_stat_noatime(fd, "", AT_EMPTY_PATH, &st1) < 0 ? -1 : on_special_fs(fd, st1.st_dev);
    if (special < 0) {
        fail_count(d, r, TIER_FAIL_IO);
        goto out;
    }
    r->size = (uint64_t)st1.st_size;
    tier_stat_from(&t1, &st1);
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

    if (shmd_open_for_writing(fd)) {
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
    int64_t copied = copy_bytes(fd, ofd, (uint64_t)st1.st_size, &d->stopping);
    if (copied < 0) {
        fail_count(d, r, errno == ENOSPC ? TIER_FAIL_NOSPACE : TIER_FAIL_IO);
        goto out;
    }
    bool stable = tier_stat_noatime(fd, "", AT_EMPTY_PATH, &st2) == 0 &&
                  tier_stat_noatime(AT_FDCWD, key, 0, &st3) == 0 &&
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
    uint32_t access, dirs_uid;
    shmd_access(key, len, fd, (uint64_t)st1.st_dev, st1.st_mode, epoch, &access, &dirs_uid);

    struct store_obj obj = {
        .record = (uint32_t)rec, .id = id, .ino = (uint64_t)ost.st_ino,
        .ctime_sec = ost.st_ctim.tv_sec, .ctime_nsec = ost.st_ctim.tv_nsec,
        .epoch = epoch, .gen = gen, .checked_ns = checked_ns, .st = t1,
        .access = access, .dirs_uid = dirs_uid,
    };
    store_lock(s);
    if (load_acquire(&s->view.gens[hash & s->view.bucket_mask]) != gen ||
        load_acquire(&s->view.marks->epoch) != epoch) {
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
    if (put < 0)
        fail_count(d, r, put == -2 ? TIER_FAIL_NOSPACE : TIER_FAIL_INDEX_FULL);
    else
        shmd_log(LOG_DEBUG, "loaded %s (%llu bytes)", key, (unsigned long long)st1.st_size);

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
        shmd_log(fail_level(r->fail), "not loaded: %s: %s", key, shmd_fail_name(r->fail));
}

/* pre: l->mu held */
static bool inflight_has(const struct loader *l, uint64_t h)
{
    for (size_t i = 0; i < l->ninflight; i++)
        if (l->inflight[i] == h)
            return true;
    return false;
}

static void inflight_del(struct loader *l, uint64_t h)
{
    for (size_t i = 0; i < l->ninflight; i++)
        if (l->inflight[i] == h) {
            l->inflight[i] = l->inflight[--l->ninflight];
            return;
        }
}

int loader_submit(struct loader *l, const char *key, size_t len, int fd, struct warm_batch *b)
{
    uint64_t h = key_hash(key, len);
    int ret = 0;

    pthread_mutex_lock(&l->mu);
    struct neg *n = &l->neg[h % NEG_SLOTS];
    if (!b && (inflight_has(l, h) || (n->hash == h && real_ns() < n->until_ns))) {
        ret = 1;
    } else if (l->queued >= QUEUE_MAX || l->ninflight >= QUEUE_MAX + 64 || l->stop) {
        ret = -1;
    } else {
        struct job *j = malloc(sizeof *j + len + 8);
        if (!j) {
            ret = -1;
        } else {
            j->next = NULL;
            j->batch = b;
            j->fd = fd;
            fd = -1; /* the job owns it now */
            j->hash = h;
            j->len = len;
            memset(j->key + len, 0, 8);
            memcpy(j->key, key, len);
            if (l->tail)
                l->tail->next = j;
            else
                l->head = j;
            l->tail = j;
            l->queued++;
            if (!inflight_has(l, h))
                l->inflight[l->ninflight++] = h;
            pthread_cond_signal(&l->cv);
        }
    }
    pthread_mutex_unlock(&l->mu);
    if (fd >= 0)
        close(fd);
    return ret;
}

static void batch_finish(struct warm_batch *b, const struct job *j, const struct load_result *r)
{
    struct warm_done *w = malloc(sizeof *w + j->len + 8);

    pthread_mutex_lock(&b->mu);
    if (w) {
        w->next = NULL;
        w->r = *r;
        w->len = j->len;
        memcpy(w->key, j->key, j->len + 1);
        if (b->tail)
            b->tail->next = w;
        else
            b->head = w;
        b->tail = w;
    } else {
        b->pending--; /* lost the result, not the count */
    }
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void *loader_thread(void *arg)
{
    struct loader *l = arg;
    struct load_result r;

    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->head && !l->stop)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop)
            break;
        struct job *j = l->head;
        l->head = j->next;
        if (!l->head)
            l->tail = NULL;
        l->queued--;
        pthread_mutex_unlock(&l->mu);

        shmd_load(l->d, j->key, j->len, j->fd, &r);
        if (j->fd >= 0)
            close(j->fd);

        pthread_mutex_lock(&l->mu);
        inflight_del(l, j->hash);
        if (r.fail >= 0 && r.fail != TIER_FAIL_CHANGED) {
            struct neg *n = &l->neg[j->hash % NEG_SLOTS];
            n->hash = j->hash;
            n->until_ns = r.fail == TIER_FAIL_UNSETTLED ? r.retry_ns : real_ns() + NEG_RETRY_NS;
        }
        pthread_mutex_unlock(&l->mu);
        if (j->batch)
            batch_finish(j->batch, j, &r);
        free(j);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

struct loader *loader_start(struct shmd *d, unsigned threads)
{
    struct loader *l = calloc(1, sizeof *l);

    if (!l)
        return NULL;
    l->d = d;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (threads > 64)
        threads = 64;
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&l->threads[i], NULL, loader_thread, l) != 0)
            break;
        l->nthreads++;
    }
    if (l->nthreads == 0) {
        free(l);
        return NULL;
    }
    return l;
}

/* Stop the pool: loads in progress see d->stopping and give up between
 * chunks; queued jobs are answered as failed so waiting warm batches return. */
bool loader_stop(struct loader *l, uint64_t deadline_ns)
{
    bool all = true;

    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    for (unsigned i = 0; i < l->nthreads; i++)
        all &= shmd_join_until(l->threads[i], deadline_ns);
    struct load_result r = {.fail = TIER_FAIL_IO};
    pthread_mutex_lock(&l->mu);
    struct job *j = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
    while (j) {
        struct job *next = j->next;
        if (j->batch)
            batch_finish(j->batch, j, &r);
        if (j->fd >= 0)
            close(j->fd);
        free(j);
        j = next;
    }
    if (!all)
        return false; /* a thread is stuck in the filesystem: keep l */
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
    return true;
}

struct warm_batch *warm_batch_new(void)
{
    struct warm_batch *b = calloc(1, sizeof *b);
    if (b) {
        pthread_mutex_init(&b->mu, NULL);
        pthread_cond_init(&b->cv, NULL);
    }
    return b;
}

void warm_batch_expect(struct warm_batch *b, size_t n)
{
    pthread_mutex_lock(&b->mu);
    b->pending += n;
    pthread_mutex_unlock(&b->mu);
}

bool warm_batch_next(struct warm_batch *b, char *key, struct load_result *r)
{
    pthread_mutex_lock(&b->mu);
    while (b->pending && !b->head)
        pthread_cond_wait(&b->cv, &b->mu);
    struct warm_done *w = b->head;
    if (w) {
        b->head = w->next;
        if (!b->head)
            b->tail = NULL;
        b->pending--;
    }
    pthread_mutex_unlock(&b->mu);
    if (!w)
        return false;
    memcpy(key, w->key, w->len + 1);
    *r = w->r;
    free(w);
    return true;
}

void warm_batch_free(struct warm_batch *b)
{
    struct warm_done *w = b->head;
    while (w) {
        struct warm_done *next = w->next;
        free(w);
        w = next;
    }
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}
