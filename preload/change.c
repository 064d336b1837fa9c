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
 * also marks the name it resolves to (alias_of), and entries reached
 * through a symlink recorded their target's word (tier/layout.h), so both
 * names die together. Other names of a file (a hard link, a bind mount)
 * are not recognised here; revalidation catches them. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "preload/change.h"
#include "preload/config.h"
#include "preload/fdtag.h"
#include "preload/key.h"
#include "preload/log.h"
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
    const uint32_t b[4] = {m->bucket1, m->pbucket1, m->abucket1, m->apbucket1};
    uint64_t words = m->epoch;

    for (int i = 0; i < 4; i++)
        words += b[i] != 0;
    if (delta == TIER_CHANGE_BEGIN)
        fetch_add_seqcst(&a->view.marks->inflight, words);
    for (int i = 0; i < 4; i++)
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

/* Open marks for the path key (len bytes, -1: none) or for the bucket of
 * a descriptor's tag (key NULL), and the epoch when tree. */
static void mark_begin(struct shim_mark *m, const char *key, int len, uint64_t tag, bool tree)
{
    struct shim_attach *a = shim_enter_marks();

    m->a = a;
    m->bucket1 = m->pbucket1 = m->abucket1 = m->apbucket1 = 0;
    m->epoch = tree;
    if (!a)
        return;
    if (key && len >= 0) {
        char alias[PATH_KEY_SIZE];
        m->bucket1 = bucket1_of(a, key, len);
        m->pbucket1 = parent_bucket1_of(a, key, len);
        int an = alias_of(key, len, alias);
        if (an >= 0) {
            m->abucket1 = bucket1_of(a, alias, an);
            m->apbucket1 = parent_bucket1_of(a, alias, an);
        }
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
static struct shim_attach *mark_end(struct shim_mark *m, const char *key, int len)
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
    if (key && len >= 0) {
        char alias[PATH_KEY_SIZE];
        m->bucket1 = bucket1_of(a, key, len);
        m->pbucket1 = parent_bucket1_of(a, key, len);
        int an = alias_of(key, len, alias);
        if (an >= 0) {
            m->abucket1 = bucket1_of(a, alias, an);
            m->apbucket1 = parent_bucket1_of(a, alias, an);
        }
    }
    m->epoch = m->epoch || !key;
    mark_add(a, m, TIER_CHANGE_ONE);
    return a;
}

/* Decide what a change to the normalised path key (n bytes) affects. */
static void classify(struct shim_change *c, int n, bool check_type)
{
    bool under = path_prefixes_match(&shim_cfg.prefixes, c->key, (size_t)n);
    bool above = !under && path_prefixes_below(&shim_cfg.prefixes, c->key, (size_t)n);
    struct stat st;

    if (!under && !above)
        return;
    c->relevant = true;
    c->len = under ? n : -1;
    c->tree = above || (check_type && REAL(lstat)(c->key, &st) == 0 &&
                        (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)));
}

static void change_init(struct shim_change *c)
{
    c->relevant = c->tree = false;
    c->len = -1;
    c->mark.a = NULL;
    c->mark.bucket1 = c->mark.pbucket1 = c->mark.abucket1 = c->mark.apbucket1 = 0;
    c->mark.epoch = false;
}

static void change_mark(struct shim_change *c)
{
    if (c->relevant)
        mark_begin(&c->mark, c->key, c->len, 0, c->tree);
}

void shim_change_begin(struct shim_change *c, int dirfd, const char *path, bool check_type)
{
    change_init(c);
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
        classify(c, n, check_type);
    }
    change_mark(c);
}

void shim_change_begin_fd(struct shim_change *c, int fd)
{
    change_init(c);
    int n = shim_fd_resolve(fd, c->key);
    if (n >= 0)
        classify(c, n, true);
    change_mark(c);
}

uint64_t shim_change_end(struct shim_change *c)
{
    uint64_t tag;

    if (!c->relevant)
        return 0;
    struct shim_attach *a = mark_end(&c->mark, c->key, c->len);
    if (a && c->mark.bucket1)
        tag = fdtag_make(a->seq, c->mark.bucket1 - 1);
    else
        tag = FDTAG_EPOCH; /* a cached path, bucket unknown: its close marks
                              the epoch */
    if (a)
        shim_leave(a);
    if (shim_cfg.log == SHIM_LOG_ALL)
        shim_log(c->tree ? "CHANGE-TREE" : "CHANGE", c->len >= 0 ? c->key : "?");
    return tag;
}

void shim_tag_begin(struct shim_mark *m, uint64_t tag)
{
    mark_begin(m, NULL, -1, tag, false);
}

void shim_tag_end(struct shim_mark *m)
{
    struct shim_attach *a = mark_end(m, NULL, -1);
    if (a)
        shim_leave(a);
}
