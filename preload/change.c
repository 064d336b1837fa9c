/* change.c - marking changes through the shim (see change.h and the change
 * words in tier/layout.h).
 *
 * begin adds TIER_CHANGE_BEGIN to the path's gen (and to the epoch for a
 * tree change) before the real call; end adds TIER_CHANGE_END after it.
 * From the begin on, no entry of the bucket (or, for the epoch, no entry at
 * all) is served, and the daemon loads nothing there; after the end, every
 * entry recorded before is stale for good. Without a live index at the
 * begin there is nothing to mark in flight, and the end adds a plain
 * TIER_CHANGE_ONE to whatever index is live by then (one may have come up
 * meanwhile and loaded the old state).
 *
 * A change to a directory or a symlink, or to an ancestor of a prefix, can
 * move whole trees: it marks the epoch, which no entry published before it
 * survives. A change through a name with a symlinked directory above it
 * also marks the name it resolves to (alias_of), and so does a call that
 * follows a final symlink (truncate, utime, an open for writing of a link
 * to the file: target_of); entries reached through a symlink recorded
 * their target's word (tier/layout.h), so all the names die together.
 * Other names of a file (a hard link, a bind mount, a symlink outside the
 * prefixes to a file inside) are not recognised here; revalidation catches
 * them. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "preload/change.h"
#include "preload/config.h"
#include "preload/fdtag.h"
#include "preload/key.h"
#include "preload/log.h"
#include "preload/meta.h"
#include "preload/real.h"
#include "tier/atomic.h"
#include "tier/hash.h"

static uint32_t bucket1_of(const struct shim_attach *a, const char *key, int len)
{
    return ((uint32_t)tier_hash(a->view.hash_seed, key, (size_t)len) & a->view.bucket_mask) + 1;
}

/* The parent's bucket of the path key (len bytes): a create, remove or
 * rename of the path changes the directory's stat (and listing) too. */
static uint32_t parent_bucket1_of(const struct shim_attach *a, const char *key, int len)
{
    char parent[PATH_KEY_SIZE];
    int n = len;

    while (n > 0 && key[n - 1] != '/')
        n--;
    if (n == 0 || len <= 1)
        return 0;
    n = n > 1 ? n - 1 : 1;
    memcpy(parent, key, (size_t)n);
    return bucket1_of(a, parent, n);
}

static void mark_add(const struct shim_attach *a, const struct shim_mark *m, uint64_t delta)
{
    const uint32_t b[6] = {m->bucket1, m->pbucket1, m->abucket1, m->apbucket1, m->tbucket1,
                           m->nbucket1};
    uint64_t words = m->epoch;

    for (size_t i = 0; i < sizeof b / sizeof *b; i++)
        words += b[i] != 0;
    if (delta == TIER_CHANGE_BEGIN)
        fetch_add_seqcst(&a->view.marks->inflight, words);
    for (size_t i = 0; i < sizeof b / sizeof *b; i++)
        if (b[i])
            fetch_add_seqcst(&a->view.gens[b[i] - 1], delta);
    if (m->epoch)
        fetch_add_seqcst(&a->view.marks->epoch, delta);
    if (delta == TIER_CHANGE_END)
        fetch_add_seqcst(&a->view.marks->inflight, -words);
}

/* The same name with the symlinks above it resolved, when that is another
 * path (dirlink/f for realdir/f): a change through one name must kill the
 * other's entries too. The kernel resolves the parent (open O_PATH, then
 * /proc/self/fd): three system calls, on calls that change paths only.
 * Returns the alias's length in out, or -1 (the same path, or unknown). */
static int alias_of(const char *key, int len, char *out)
{
    int n = len;

    while (n > 0 && key[n - 1] != '/')
        n--;
    if (n <= 1 || len <= 1)
        return -1; /* under "/": no symlink above */
    memcpy(out, key, (size_t)n - 1);
    out[n - 1] = '\0';
    int fd = REAL(openat)(AT_FDCWD, out, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rn = shim_fd_resolve(fd, out);
    shim_close(fd);
    if (rn < 0 || ((size_t)rn == (size_t)n - 1 && memcmp(out, key, (size_t)n - 1) == 0))
        return -1;
    memset(out + rn, 0, 8); /* no stale bytes after the join */
    return path_normalize(out, key + n, false, out, PATH_KEY_SIZE);
}

/* What the symlink key (len bytes) resolves to, every symlink on the way
 * followed, as the kernel resolves it for the call (open O_PATH, then
 * /proc/self/fd: three system calls, on calls that follow a symlink under
 * a prefix only). Returns its length in out; -1 with *unknown false when
 * the kernel could not resolve it (dangling, a loop, no permission: the
 * call fails the same way unless it creates), -1 with *unknown true when
 * it did but the shim cannot say what to (/proc). */
static int target_of(const char *key, int len, char *out, bool *unknown)
{
    *unknown = false;
    int fd = REAL(openat)(AT_FDCWD, key, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rn = shim_fd_resolve(fd, out);
    shim_close(fd);
    *unknown = rn < 0;
    if (rn < 0 || (rn == len && memcmp(out, key, (size_t)len) == 0))
        return -1;
    return rn;
}

/* The buckets a change to the path key (len bytes, >= 0) marks on a: its
 * own and its parent's, the same for its alias, and with target what the
 * final symlink resolves to. A target that cannot be told marks the epoch
 * instead, when the call may change it: a create through a dangling
 * symlink, or one /proc could not name. */
static void mark_buckets(const struct shim_attach *a, struct shim_mark *m, const char *key,
                         int len, bool target, unsigned how)
{
    char other[PATH_KEY_SIZE];
    bool unknown;

    m->bucket1 = bucket1_of(a, key, len);
    m->pbucket1 = parent_bucket1_of(a, key, len);
    /* a create below a name recorded as missing (made behind the cache
     * since) proves it exists: from the begin on, it answers for no path */
    int top = shim_absent_top(a, key, len);
    if (top > 0)
        m->nbucket1 = bucket1_of(a, key, top);
    int an = alias_of(key, len, other);
    if (an >= 0) {
        m->abucket1 = bucket1_of(a, other, an);
        m->apbucket1 = parent_bucket1_of(a, other, an);
    }
    if (!target)
        return;
    int tn = target_of(key, len, other, &unknown);
    if (tn >= 0)
        m->tbucket1 = bucket1_of(a, other, tn);
    else if (unknown || (how & SHIM_CHANGE_CREATE))
        m->epoch = true;
}

static void mark_clear(struct shim_mark *m, bool epoch)
{
    m->bucket1 = m->pbucket1 = m->abucket1 = m->apbucket1 = m->tbucket1 = m->nbucket1 = 0;
    m->epoch = epoch;
}

/* Open marks for the path key (len bytes, -1: none) or for the bucket of
 * a descriptor's tag (key NULL), and the epoch when tree. */
static void mark_begin(struct shim_mark *m, const char *key, int len, uint64_t tag, bool tree,
                       bool target, unsigned how)
{
    struct shim_attach *a = shim_enter_marks();

    m->a = a;
    mark_clear(m, tree);
    if (!a)
        return;
    if (key && len >= 0) {
        mark_buckets(a, m, key, len, target, how);
    } else if (!key) {
        uint32_t b1 = fdtag_bucket1(tag);
        if (fdtag_attach(tag) == (a->seq & FDTAG_ATTACH_MASK) && b1 && b1 - 1 <= a->view.bucket_mask)
            m->bucket1 = b1;
        else
            m->epoch = true; /* the index was replaced since the open, or no
                                index knew the bucket then (FDTAG_EPOCH) */
    }
    mark_add(a, m, TIER_CHANGE_BEGIN);
}

/* Close marks opened on m->a; or, with no index at the begin, mark once on
 * the one there is now (one may have come up meanwhile and loaded the old
 * state): key/len name the path again, to find its bucket there. Returns
 * the attachment marked (still entered, for the caller's tag), or NULL. */
static struct shim_attach *mark_end(struct shim_mark *m, const char *key, int len, bool target,
                                    unsigned how)
{
    struct shim_attach *a = m->a;

    if (a) {
        mark_add(a, m, TIER_CHANGE_END);
        m->a = NULL;
        return a;
    }
    a = shim_enter_marks();
    if (!a)
        return NULL;
    if (key && len >= 0)
        mark_buckets(a, m, key, len, target, how);
    m->epoch = m->epoch || !key;
    mark_add(a, m, TIER_CHANGE_ONE);
    return a;
}

/* Decide what a change to the normalised path key (n bytes) affects. One
 * lstat, on calls under a prefix that may change a tree or follow a final
 * symlink. */
static void classify(struct shim_change *c, int n)
{
    bool under = path_prefixes_match(&shim_cfg.prefixes, c->key, (size_t)n);
    bool above = !under && path_prefixes_below(&shim_cfg.prefixes, c->key, (size_t)n);
    struct stat st;

    if (!under && !above)
        return;
    c->relevant = true;
    c->len = under ? n : -1;
    c->tree = above;
    if (above || !(c->how & (SHIM_CHANGE_TYPE | SHIM_CHANGE_FOLLOW)) ||
        REAL(lstat)(c->key, &st) < 0)
        return;
    if (c->how & SHIM_CHANGE_TYPE)
        c->tree = S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode);
    c->target = !c->tree && (c->how & SHIM_CHANGE_FOLLOW) && S_ISLNK(st.st_mode);
}

static void change_init(struct shim_change *c, unsigned how)
{
    c->relevant = c->tree = c->target = false;
    c->how = how;
    c->len = -1;
    c->mark.a = NULL;
    mark_clear(&c->mark, false);
}

static void change_mark(struct shim_change *c)
{
    if (c->relevant)
        mark_begin(&c->mark, c->key, c->len, 0, c->tree, c->target, c->how);
}

/* Resolve and classify path for a change (a begin without its marks). */
static void change_prepare(struct shim_change *c, int dirfd, const char *path, unsigned how)
{
    change_init(c, how);
    int plen = shim_path_len(path);
    if (plen <= 0)
        return; /* unreadable, too long or empty: the real call fails */
    if (path[0] != '/' && dirfd == AT_FDCWD && !load_relaxed(&shim_cwd_is_relevant) &&
        !shim_has_dotdot(path))
        return; /* relative to a directory nowhere near a prefix */
    int n = shim_resolve(dirfd, path, c->key, true);
    if (n < 0) {
        /* relative or through "..", and /proc could not say where it is:
         * it may be anywhere, so assume the worst */
        c->relevant = c->tree = path[0] != '/' || shim_has_dotdot(path);
    } else {
        classify(c, n);
    }
}

void shim_change_begin(struct shim_change *c, int dirfd, const char *path, unsigned how)
{
    change_prepare(c, dirfd, path, how);
    change_mark(c);
}

void shim_change_begin_fd(struct shim_change *c, int fd)
{
    change_init(c, SHIM_CHANGE_TYPE);
    int n = shim_fd_resolve(fd, c->key);
    if (n >= 0)
        classify(c, n);
    change_mark(c);
}

/* The bucket a descriptor opened for writing names for its close: that of
 * the path with every symlink resolved (the target, else the alias), as
 * the entries of every other name of it recorded it (real_bucket1); 0
 * when the target was not known (its close marks the epoch). */
static uint32_t tag_bucket1(const struct shim_change *c)
{
    if (c->target)
        return c->mark.tbucket1;
    return c->mark.abucket1 ? c->mark.abucket1 : c->mark.bucket1;
}

uint64_t shim_change_end(struct shim_change *c)
{
    uint64_t tag = FDTAG_EPOCH; /* a cached path, bucket unknown: its close
                                   marks the epoch */

    if (!c->relevant)
        return 0;
    struct shim_attach *a = mark_end(&c->mark, c->key, c->len, c->target, c->how);
    if (a && tag_bucket1(c))
        tag = fdtag_make(a->seq, tag_bucket1(c) - 1);
    if (a)
        shim_leave(a);
    if (shim_cfg.log == SHIM_LOG_ALL)
        shim_log(c->tree ? "CHANGE-TREE" : "CHANGE", c->len >= 0 ? c->key : "?");
    return tag;
}

uint64_t shim_change_after(struct shim_change *c, int dirfd, const char *path)
{
    change_prepare(c, dirfd, path, 0);
    return shim_change_end(c); /* no marks open: once, on the index now */
}

void shim_tag_begin(struct shim_mark *m, uint64_t tag)
{
    mark_begin(m, NULL, -1, tag, false, false, 0);
}

void shim_tag_end(struct shim_mark *m)
{
    struct shim_attach *a = mark_end(m, NULL, -1, false, 0);
    if (a)
        shim_leave(a);
}
