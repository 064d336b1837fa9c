/* meta.c - recording what a path is, for stat, lstat, access and readlink
 * from the tier (see meta.h and the record kinds in tier/layout.h).
 *
 * A path's metadata is recorded only when all of these hold:
 *   - lstat(path) succeeds, and for a symlink readlink and stat(path)
 *     succeed too (a META record: st is stat(path), lst and the target are
 *     kept for a link); or lstat fails with ENOENT or ENOTDIR and the
 *     parent directory can be stat'ed (a NEG record, its st the parent's:
 *     how the revalidator re-checks it), and --negative-ms is not 0. Other
 *     errors (EACCES, ELOOP, ENAMETOOLONG) depend on who asks or are rare:
 *     not recorded, the shims ask the kernel;
 *   - the path (for a NEG record, its parent) is not in the tier's own
 *     directory, and its ctime (the parent's) is at least --settle-ms old;
 *   - no shim changed the path, the tree, or the path with its symlinks
 *     resolved (real_bucket1) since this began (the change words, as for
 *     content).
 * A listing (list, for a directory: TIER_KIND_LIST) is read between two
 * stats of the directory that must agree, and built as a snapshot and its
 * map (snapshot.h) before the record is published; it counts against the
 * capacity like a copy (store_list_memory).
 * A current entry of any kind for the path is left alone (one with its
 * listing, when a listing is asked for), so a stat miss never pushes out a
 * copied file. The path with its symlinks resolved is
 * asked of the kernel (open O_PATH, /proc/self/fd): a change made through
 * that name kills the record too. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmd/access.h"
#include "shmd/daemon.h"
#include "shmd/log.h"
#include "shmd/meta.h"
#include "shmd/snapshot.h"
#include "shmd/source.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/hash.h"
#include "tier/path.h"
#include "tier/stat.h"

static void fail(struct shmd *d, struct load_result *r, int why)
{
    r->fail = why;
    fetch_add_relaxed(&d->store.hdr->fail[why], 1);
    fetch_add_relaxed(&d->store.hdr->load_failures, 1);
}

/* The parent directory of key (len bytes) into out; "/" has none. */
static int parent_of(const char *key, size_t len, char *out)
{
    size_t n = len;
    while (n > 0 && key[n - 1] != '/')
        n--;
    if (n == 0 || len == 1)
        return -1;
    n = n > 1 ? n - 1 : 1; /* "/a/b" -> "/a", "/a" -> "/" */
    memcpy(out, key, n);
    memset(out + n, 0, 8 - (n & 7)); /* a padded key */
    return (int)n;
}

/* Is there a current entry for key (with its listing, when list)? */
static bool entry_current(struct store *s, const char *key, size_t len, uint64_t hash, bool list)
{
    store_lock(s);
    int i = store_find(s, key, len, hash);
    bool cur = i >= 0 && !store_entry_killed(s, (uint32_t)i) &&
               (!list || (s->records[i].kind & TIER_KIND_LIST));
    store_unlock(s);
    return cur;
}

/* At the publish (store locked): is there a current entry that a record
 * of kind must not replace? Any, except a directory's metadata without its
 * listing when kind brings one. */
static bool entry_kept(const struct store *s, const char *key, size_t len, uint64_t hash,
                       uint32_t kind)
{
    int i = store_find(s, key, len, hash);
    if (i < 0 || store_entry_killed(s, (uint32_t)i))
        return false;
    uint32_t was = s->records[i].kind;
    return !((kind & TIER_KIND_LIST) && (was & TIER_KIND_MASK) == TIER_KIND_META &&
             !(was & TIER_KIND_LIST));
}

/* The directory's names, read between two stats that agree with st. */
static int read_listing(const char *key, const struct tier_stat *was, struct snap_src *src,
                        int *why)
{
    struct stat st;
    struct tier_stat now;

    if (snapshot_read(key, src) < 0) {
        *why = errno == E2BIG ? TIER_FAIL_TOO_LARGE : errno == ENOENT || errno == ENOTDIR ||
                                errno == EACCES ? TIER_FAIL_NOENT : TIER_FAIL_IO;
        return -1;
    }
    if (source_tstat(AT_FDCWD, key, 0, &st, &now) < 0 || !tier_stat_same(was, &now)) {
        snapshot_src_free(src);
        *why = TIER_FAIL_CHANGED;
        return -1;
    }
    return 0;
}

/* One look at the source: what the path is (followed and not), or how
 * it fails. */
struct look {
    uint32_t kind;             /* TIER_KIND_* with LINK or PLAIN, and a NEG's errno */
    struct stat st, lst;       /* stat (for NEG: the parent's), lstat */
    struct tier_stat tst, tlst;
    ssize_t tlen;              /* a link's target */
    char target[TIER_PATH_MAX];
};

/* Fill lk for key (parent: its parent directory, or NULL for "/").
 * A missing name is looked at after its parent: a name created in between
 * changes the parent's stat the revalidator compares. Returns -1 when the
 * path cannot be recorded (an error that depends on who asks, a dangling
 * link, a change under way), -2 when the parent is missing too (ENOENT,
 * ENOTDIR: see missing_top). */
static int look(struct shmd *d, const char *key, const char *parent, struct look *lk)
{
    lk->kind = TIER_KIND_META;
    lk->tlen = 0;
    if (source_tstat(AT_FDCWD, key, AT_SYMLINK_NOFOLLOW, &lk->lst, &lk->tlst) < 0) {
        int e = errno;
        if ((e != ENOENT && e != ENOTDIR) || !d->store.hdr->negative_ms || !parent)
            return -1;
        if (source_tstat(AT_FDCWD, parent, 0, &lk->st, &lk->tst) < 0)
            return errno == ENOENT || errno == ENOTDIR ? -2 : -1;
        if (source_tstat(AT_FDCWD, key, AT_SYMLINK_NOFOLLOW, &lk->lst, &lk->tlst) == 0 ||
            errno != e)
            return -1; /* created meanwhile */
        lk->kind = TIER_KIND_NEG | TIER_KIND_PLAIN | (uint32_t)e << TIER_KIND_ERR_SHIFT;
        return 0;
    }
    if (S_ISLNK(lk->lst.st_mode)) {
        lk->tlen = readlink(key, lk->target, sizeof lk->target - 1);
        if (lk->tlen < 0 || source_tstat(AT_FDCWD, key, 0, &lk->st, &lk->tst) < 0)
            return -1; /* changing, or dangling: ask the kernel */
        lk->kind |= TIER_KIND_LINK;
        return 0;
    }
    lk->st = lk->lst;
    lk->tst = lk->tlst;
    lk->kind |= TIER_KIND_PLAIN;
    return 0;
}

static bool look_same(const struct look *a, const struct look *b)
{
    return a->kind == b->kind && tier_stat_same(&a->tst, &b->tst) &&
           (!(a->kind & TIER_KIND_LINK) ||
            (tier_stat_same(&a->tlst, &b->tlst) && a->tlen == b->tlen &&
             memcmp(a->target, b->target, (size_t)a->tlen) == 0));
}

/* Is the regular file key open for writing on this host? */
static bool writing_now(const char *key)
{
    int fd = source_open(key, -1);
    if (fd < 0)
        return false; /* gone, or not ours to open: the look decides */
    bool w = source_open_for_writing(fd);
    close(fd);
    return w;
}

/* The name, other than key itself, through which a change made by a shim
 * must kill key's record, into out (PATH_KEY_SIZE bytes); its length, -1
 * when there is none, -2 when it cannot be known now:
 *   - a path that exists: the same path with every symlink resolved (a
 *     change through the target's name);
 *   - ENOENT: the parent resolved, and the missing name;
 *   - ENOTDIR: the non-directory above it (the parent), with the
 *     directories above that resolved: replacing that file by a directory
 *     makes the name reachable, and a shim marks the file's name, and its
 *     name with symlinks resolved (change.c). */
static int alias_name(const char *key, size_t len, const char *parent, int plen, uint32_t kind,
                      char *out)
{
    char dir[PATH_KEY_SIZE];
    int rn;

    if ((kind & TIER_KIND_MASK) != TIER_KIND_NEG) {
        rn = source_real_path(key, -1, out);
    } else {
        bool notdir = (kind >> TIER_KIND_ERR_SHIFT) == ENOTDIR;
        const char *base_of = notdir ? parent : key;
        size_t blen = notdir ? (size_t)plen : len;
        int dlen = parent_of(base_of, blen, dir);
        if (dlen < 0)
            return -1;
        size_t base = blen - (size_t)dlen - (dlen > 1);
        rn = source_real_path(dir, -1, out);
        if (rn >= 0)
            rn = (size_t)rn + 1 + base + 8 < PATH_KEY_SIZE
                     ? path_normalize(out, base_of + blen - base, false, out, PATH_KEY_SIZE) : -1;
        if (rn >= 0 && notdir)
            return rn; /* always another name than key */
    }
    if (rn < 0)
        return -2;
    return (size_t)rn == len && memcmp(out, key, len) == 0 ? -1 : rn;
}

/* The highest missing name on the way to key, whose parent is missing
 * too (parent, plen): the child of the deepest ancestor that stat()s (a
 * directory, or for ENOTDIR the file in the way), into out. The kernel's
 * walk stops at that name whatever follows, so its "does not exist"
 * answers for every path below it (a shim walks up to it:
 * shim_absent_above), and one entry stands for a whole missing subtree,
 * such as the locale and autoload directories apps probe at start-up.
 * Returns its length, or -1 (an ancestor fails otherwise: EACCES, ...). */
static int missing_top(const char *parent, int plen, char *out)
{
    char up[PATH_KEY_SIZE];
    struct stat st;
    int n = plen;

    memcpy(out, parent, (size_t)plen + 1);
    for (;;) {
        int ulen = parent_of(out, (size_t)n, up);
        if (ulen < 0)
            return -1;
        if (source_stat(AT_FDCWD, up, 0, &st) == 0)
            return n;
        if (errno != ENOENT && errno != ENOTDIR)
            return -1;
        memcpy(out, up, (size_t)ulen + 1);
        n = ulen;
    }
}

static void load_meta_at(struct shmd *d, const char *key, size_t len, bool list, bool above,
                         struct load_result *r);

void load_meta(struct shmd *d, const char *key, size_t len, bool list, struct load_result *r)
{
    load_meta_at(d, key, len, list, false, r);
}

/* above: key is a missing_top, recorded for a path below it */
static void load_meta_at(struct shmd *d, const char *key, size_t len, bool list, bool above,
                         struct load_result *r)
{
    struct store *s = &d->store;
    struct stat lst, st;
    struct tier_stat tst, tlst;
    char parent[PATH_KEY_SIZE], real[PATH_KEY_SIZE], target[TIER_PATH_MAX];
    char snap[TIER_OBJECT_NAME_SIZE] = "";
    struct snap_src src = {0};
    struct snap_made made = {0};
    uint32_t kind = TIER_KIND_META;
    uint64_t memory = 0;
    ssize_t tlen = 0;
    int rec = -1, why;

    memset(r, 0, sizeof *r);
    r->fail = -1;
    r->meta = true;
    uint64_t hash = tier_hash(s->view.hash_seed, key, len);
    uint64_t gen = load_acquire(&s->view.gens[hash & s->view.bucket_mask]);
    uint64_t epoch = load_acquire(&s->view.marks->epoch);
    if (!tier_change_quiet(gen) || !tier_change_quiet(epoch)) {
        fail(d, r, TIER_FAIL_CHANGED);
        goto out;
    }
    if (entry_current(s, key, len, hash, list)) {
        r->fresh = true;
        goto out;
    }
    int plen = parent_of(key, len, parent);
    struct look lk, again;
    int lr = look(d, key, plen >= 0 ? parent : NULL, &lk);
    if (lr == -2 && !above) {
        char top[PATH_KEY_SIZE];
        int toplen = missing_top(parent, plen, top);
        if (toplen > 0) {
            shmd_log(SHMD_LOG_DEBUG, "%s: its parent is missing too: recording %s", key, top);
            load_meta_at(d, top, (size_t)toplen, false, true, r);
            return;
        }
    }
    if (lr < 0) {
        fail(d, r, TIER_FAIL_NOENT);
        goto out;
    }
    kind = lk.kind;
    st = lk.st;
    tst = lk.tst;
    lst = lk.lst;
    tlst = lk.tlst;
    tlen = lk.tlen;
    memcpy(target, lk.target, (size_t)tlen);
    bool neg = (kind & TIER_KIND_MASK) == TIER_KIND_NEG;
    bool notdir = neg && (kind >> TIER_KIND_ERR_SHIFT) == ENOTDIR;
    if ((uint64_t)st.st_dev == d->tier_dev &&
        path_is_under(key, len, d->opt.dir, strlen(d->opt.dir))) {
        fail(d, r, TIER_FAIL_NOT_REGULAR);
        goto out;
    }
    uint64_t changed_ns = timespec_ns(&st.st_ctim);
    if (kind & TIER_KIND_LINK && timespec_ns(&lst.st_ctim) > changed_ns)
        changed_ns = timespec_ns(&lst.st_ctim);
    uint64_t settle_ns = s->hdr->settle_ms * NS_PER_MS;
    uint64_t checked_ns = real_ns();
    if ((int64_t)(checked_ns - changed_ns) < (int64_t)settle_ns) {
        r->retry_ns = changed_ns + settle_ns;
        fail(d, r, TIER_FAIL_UNSETTLED);
        goto out;
    }
    if (!neg && S_ISREG(st.st_mode) && source_noexec(key, tst.mnt_id))
        kind |= TIER_KIND_NOEXEC;
    /* a file open for writing may grow or change yet, unseen (as for a
     * copy: load.c) */
    if (!neg && S_ISREG(st.st_mode) && writing_now(key)) {
        fail(d, r, TIER_FAIL_WRITING);
        goto out;
    }

    /* the other name whose change through a shim must kill this record too
     * (alias_name), and its change word; read after the look above, so the
     * look is taken again after it and must agree: a change through that
     * name in between is seen either way */
    uint32_t real_bucket1 = 0;
    uint64_t real_gen = 0;
    int rn = alias_name(key, len, plen >= 0 ? parent : NULL, plen, kind, real);
    if (rn == -2) {
        fail(d, r, TIER_FAIL_CHANGED);
        goto out;
    }
    if (rn >= 0) {
        uint64_t rh = tier_hash(s->view.hash_seed, real, (size_t)rn);
        real_bucket1 = (uint32_t)(rh & s->view.bucket_mask) + 1;
        real_gen = load_acquire(&s->view.gens[real_bucket1 - 1]);
        if (!tier_change_quiet(real_gen) || look(d, key, plen >= 0 ? parent : NULL, &again) < 0 ||
            !look_same(&lk, &again)) {
            fail(d, r, TIER_FAIL_CHANGED);
            goto out;
        }
    }

    /* a listing is a "does not exist" for every other name: none with
     * --negative-ms 0 */
    if (list && (kind & TIER_KIND_MASK) == TIER_KIND_META && S_ISDIR(st.st_mode) &&
        s->hdr->negative_ms) {
        if (d->list_order == SNAP_ORDER_NONE) {
            fail(d, r, TIER_FAIL_NOT_REGULAR); /* tmpfs cannot keep an order */
            goto out;
        }
        if (read_listing(key, &tst, &src, &why) < 0) {
            fail(d, r, why);
            goto out;
        }
        kind |= TIER_KIND_LIST;
        memory = store_list_memory((uint32_t)src.n);
    }

    /* who may be told: search permission on the directories above; for
     * ENOTDIR the kernel stops at the parent, which is no directory, so
     * the directories that count are the parent's */
    uint32_t access, dirs_uid;
    shmd_access(notdir ? parent : key, notdir ? (size_t)plen : len, -1, (uint64_t)st.st_dev,
                neg ? 0 : (uint32_t)st.st_mode, epoch, &access, &dirs_uid);
    store_lock(s);
    rec = store_reserve(s, memory);
    uint64_t id = store_new_id(s);
    store_unlock(s);
    if (rec < 0) {
        fail(d, r, rec == -2 ? TIER_FAIL_NOSPACE : memory ? TIER_FAIL_NO_ROOM : TIER_FAIL_INDEX_FULL);
        goto out;
    }
    if (kind & TIER_KIND_LIST) {
        tier_object_name(s->view.generation, id, (uint32_t)rec, snap);
        if (snapshot_build(d->dirfd, snap, id, &src, d->list_order, &made) < 0) {
            snap[0] = '\0'; /* nothing left behind */
            fail(d, r, errno == ENOSPC ? TIER_FAIL_NOSPACE : errno == EILSEQ ? TIER_FAIL_NOT_REGULAR
                                                                                  : TIER_FAIL_IO);
            goto out;
        }
    }
    struct store_obj obj = {
        .record = (uint32_t)rec, .id = id, .ino = made.ino, .ctime_sec = made.ctime_sec,
        .ctime_nsec = made.ctime_nsec, .epoch = epoch, .gen = gen, .checked_ns = checked_ns,
        .access = access, .dirs_uid = dirs_uid, .kind = kind, .target = target,
        .target_len = (uint32_t)tlen, .real_bucket1 = real_bucket1, .real_gen = real_gen,
        .list_count = made.count,
    };
    obj.st = tst;
    if (kind & TIER_KIND_LINK)
        obj.lst = tlst;
    store_lock(s);
    if (load_acquire(&s->view.gens[hash & s->view.bucket_mask]) != gen ||
        load_acquire(&s->view.marks->epoch) != epoch ||
        (real_bucket1 && load_acquire(&s->view.gens[real_bucket1 - 1]) != real_gen)) {
        store_unlock(s);
        fail(d, r, TIER_FAIL_CHANGED);
        goto out;
    }
    /* another load published meanwhile (a copy of the file, say): a
     * current entry stays, unless this adds a directory's listing to it */
    if (entry_kept(s, key, len, hash, kind)) {
        store_unlock(s);
        r->fresh = true;
        goto out;
    }
    int put = store_put(s, key, len, hash, &obj);
    rec = -1; /* store_put took the record and the memory, or freed them */
    if (put >= 0) {
        snap[0] = '\0'; /* published */
        fetch_add_relaxed(&s->hdr->meta_loads, 1);
    }
    store_unlock(s);
    if (put < 0)
        fail(d, r, put == -2 ? TIER_FAIL_NOSPACE : TIER_FAIL_INDEX_FULL);
    else
        shmd_log(SHMD_LOG_DEBUG, "recorded %s (%s)", key,
                 (kind & TIER_KIND_MASK) == TIER_KIND_NEG ? "does not exist"
                 : kind & TIER_KIND_LIST ? "metadata and listing" : "metadata");
out:
    if (snap[0])
        snapshot_remove(d->dirfd, snap); /* never published: nobody has it */
    if (rec >= 0) {
        store_lock(s);
        store_unreserve(s, memory, (uint32_t)rec);
        store_unlock(s);
    }
    snapshot_src_free(&src);
    if (r->fail >= 0)
        shmd_log(SHMD_LOG_DEBUG, "not recorded: %s: %s", key, load_fail_name(r->fail));
}
