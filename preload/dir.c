/* dir.c - directory listings from the tier: opendir, scandir and their
 * relatives, and what a served stream needs from readdir, dirfd and
 * closedir (the objects are described in tier/listing.h).
 *
 * A served opendir returns glibc's own DIR on a descriptor of the
 * listing's snapshot, so readdir, rewinddir, seekdir and telldir are
 * glibc's, and the names come in the source's order with its d_type. The
 * shim remembers the stream (a small table, by DIR pointer) with the
 * listing's map and the source path:
 *   - readdir and readdir_r rewrite each entry's d_ino and d_type from the
 *     map: the source's values;
 *   - dirfd opens the source directory itself on first use (O_RDONLY |
 *     O_DIRECTORY | O_CLOEXEC, as glibc's opendir does), so what a program
 *     does with it (fstat, openat, fchdir, getdents) reaches the source,
 *     never the snapshot; that descriptor reads its own position, not the
 *     stream's;
 *   - closedir forgets the stream and closes both.
 * fdopendir of a descriptor of such a directory is served the same way
 * (serve_fd), the stream owning that descriptor as dirfd's.
 * A stream opened while the table is full, or by glibc's internal calls
 * (glob, nftw, fts), is a real one.
 *
 * A hit is the rules of a content hit (client.c): a current entry with its
 * listing, the directories above deciding search permission for this
 * process, and read permission on the directory decided by its recorded
 * bits or asked of the kernel. Then the snapshot is opened and locked
 * shared (without waiting: shmd removing it holds it exclusively, and the
 * real call is made), the map read and checked against the record, and the
 * record checked unchanged across it all. A directory known not to exist
 * fails with its errno, without a system call. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/attach.h"
#include "preload/client.h"
#include "preload/hook.h"
#include "preload/key.h"
#include "preload/log.h"
#include "preload/real.h"
#include "preload/sys.h"
#include "tier/access.h"
#include "tier/hash.h"
#include "tier/listing.h"

/* ---- the served streams ------------------------------------------------------------- */

#define SERVED_SLOTS 256u
#define SERVED_PROBES 8u       /* a stream's slot is among these after its hash */
#define SLOT_CLAIMED ((DIR *)1)

struct served {
    DIR *dir;                  /* NULL: free; SLOT_CLAIMED while being filled */
    char *map;                 /* the listing's map: head, then entries */
    uint32_t count;
    int real_fd;               /* dirfd()'s descriptor of the source, or -1 */
    char *key;                 /* the source directory */
};

static struct served g_served[SERVED_SLOTS];
static unsigned g_served_live; /* streams in the table: readdir's fast test */

static unsigned slot_home(const DIR *d)
{
    return (unsigned)(((uintptr_t)d * 0x9e3779b97f4a7c15ULL) >> 56) & (SERVED_SLOTS - 1);
}

static struct served *served_find(const DIR *d)
{
    if (!d || !load_relaxed(&g_served_live))
        return NULL;
    for (unsigned i = 0, h = slot_home(d); i < SERVED_PROBES; i++) {
        struct served *s = &g_served[(h + i) & (SERVED_SLOTS - 1)];
        if (load_acquire(&s->dir) == d)
            return s;
    }
    return NULL;
}

/* Take a slot for d: false when its probes are all taken. */
static bool served_add(DIR *d, char *map, uint32_t count, char *key)
{
    for (unsigned i = 0, h = slot_home(d); i < SERVED_PROBES; i++) {
        struct served *s = &g_served[(h + i) & (SERVED_SLOTS - 1)];
        DIR *expect = NULL;
        if (!cas_acq_rel(&s->dir, &expect, SLOT_CLAIMED))
            continue;
        s->map = map;
        s->count = count;
        s->real_fd = -1;
        s->key = key;
        fetch_add_relaxed(&g_served_live, 1);
        store_release(&s->dir, d);
        return true;
    }
    return false;
}

static void served_drop(struct served *s)
{
    char *map = s->map, *key = s->key;
    int fd = s->real_fd;

    store_release(&s->dir, NULL);
    fetch_add_relaxed(&g_served_live, -1);
    free(map);
    free(key);
    if (fd >= 0)
        shim_close(fd);
}

/* The source's d_ino and d_type for an entry the snapshot gave. */
static void patch(const struct served *s, struct dirent64 *e)
{
    const struct tier_list_ent *m =
        tier_list_find((const struct tier_list_ent *)(s->map + sizeof(struct tier_list_head)),
                       s->count, e->d_ino);
    if (m) {
        e->d_ino = m->src_ino;
        e->d_type = m->src_type;
    }
}

/* ---- serving ------------------------------------------------------------------------ */

/* The map of entry e, read and checked: NULL when it is not that listing's. */
static char *read_map(int dirfd, const char *name, const struct tier_entry *e)
{
    char mname[TIER_OBJECT_NAME_SIZE];
    size_t size = tier_list_map_size(e->list_count);

    if (e->list_count == 0 || e->list_count > TIER_LIST_MAX)
        return NULL;
    tier_list_map_name(name, mname);
    int fd = REAL(openat)(dirfd, mname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *map = malloc(size);
    ssize_t n = map ? pread(fd, map, size, 0) : -1;
    shim_close(fd);
    const struct tier_list_head *h = (const struct tier_list_head *)map;
    if (n != (ssize_t)size || h->magic != TIER_LIST_MAGIC || h->object_id != e->object_id ||
        h->count != e->list_count) {
        free(map);
        return NULL;
    }
    return map;
}

/* The stream of entry e's snapshot, remembered; NULL on any trouble. */
static DIR *open_listing(struct shim_attach *a, const struct tier_entry *e, const char *key,
                         int len, bool park)
{
    char name[TIER_OBJECT_NAME_SIZE];
    int dirfd = load_relaxed(&a->dirfd);

    if (dirfd < 0)
        return NULL;
    tier_object_name(a->view.generation, e->object_id, e->record, name);
    int fd = REAL(openat)(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    /* (fdopendir: glibc's takes no descriptor of its own, so neither may
     * ours take a number the program gets next) */
    if (park)
        fd = shim_park_fd(fd);
    char *map = NULL, *k = NULL;
    DIR *d = NULL;
    /* locked before the record is checked: a removal either came first
     * (the record has changed) or waits for our closedir */
    if (flock(fd, LOCK_SH | LOCK_NB) < 0 || !(map = read_map(dirfd, name, e)) ||
        !tier_entry_unchanged(&a->view, e) || !(k = malloc((size_t)len + 1)) ||
        !(d = REAL(fdopendir)(fd))) {
        shim_close(fd);
        free(map);
        free(k);
        return NULL;
    }
    memcpy(k, key, (size_t)len + 1);
    if (!served_add(d, map, e->list_count, k)) {
        REAL(closedir)(d);
        free(map);
        free(k);
        return NULL;
    }
    return d;
}

/* What a lookup of a directory's listing found. */
struct dir_lookup {
    DIR *dir;                  /* a hit */
    int err;                   /* known not to exist: fail with it */
    bool notify;               /* worth a "list" notice after the real call */
};

/* want: the directory must be this one (fdopendir's descriptor), or no
 * listing is served */
static void serve_key(const char *key, int len, const struct stat *want, struct dir_lookup *l)
{
    struct tier_entry e;

    struct shim_attach *a = shim_enter(false);
    if (!a)
        return;
    enum tier_lookup_result r =
        tier_lookup(&a->view, key, (size_t)len, tier_hash_key(a->view.hash_seed, key, (size_t)len), &e);
    uint32_t kind = e.kind & TIER_KIND_MASK;
    bool decide = r == TIER_HIT && !shim_cfg.validate_open && !a->validate &&
                  ((e.access & TIER_ACCESS_DIRS_OPEN) || e.dirs_uid == a->euid);
    if (decide && kind == TIER_KIND_NEG && !want) {
        l->err = (int)(e.kind >> TIER_KIND_ERR_SHIFT);
        tier_touch(&a->view, e.record);
        tier_count(&a->view, TIER_COUNT_META_HIT);
        tier_count(&a->view, TIER_COUNT_NEGATIVE_HIT);
    } else if (decide && kind == TIER_KIND_META && (e.kind & TIER_KIND_LIST) &&
               (!want || (e.st.ino == (uint64_t)want->st_ino &&
                          e.st.dev == (uint64_t)want->st_dev)) &&
               (tier_access_public(&e) || tier_access_owner(&e, a->euid) ||
                REAL(faccessat)(AT_FDCWD, key, R_OK, AT_EACCESS) == 0) &&
               (l->dir = open_listing(a, &e, key, len, want != NULL))) {
        tier_touch(&a->view, e.record);
        tier_count(&a->view, TIER_COUNT_META_HIT);
        tier_count(&a->view, TIER_COUNT_DIR_HIT);
    } else {
        /* no listing yet, or a stale one: shmd may record it */
        l->notify = load_relaxed(&a->view.hdr->negative_ms) != 0 &&
                    (r != TIER_HIT || (kind == TIER_KIND_META && !(e.kind & TIER_KIND_LIST) &&
                                       S_ISDIR(e.st.mode)));
    }
    shim_leave(a);
    if (shim_cfg.log == SHIM_LOG_ALL && (l->dir || l->err))
        shim_log(l->dir ? "LIST" : "META-ERROR", key);
}

/* Look path's listing up (dirfd: AT_FDCWD, or any with an absolute path):
 * key and *len as for shim_open_key (-1: not under a prefix). */
static void serve_dir(int dirfd, const char *path, char *key, int *len, struct dir_lookup *l)
{
    bool raw, changed;

    memset(l, 0, sizeof *l);
    int maybe = shim_open_maybe(dirfd, path);
    *len = maybe ? shim_open_key(dirfd, path, maybe, key, &raw) : -1;
    if (*len < 0)
        return;
    serve_key(key, *len, NULL, l);
    if (!l->dir && !l->err && raw && (*len = shim_key_normalize(key, *len, &changed)) >= 0 &&
        changed) {
        memset(l, 0, sizeof *l);
        serve_key(key, *len, NULL, l);
    }
}

/* After the real call on a miss: tell shmd what it may record. */
static void after_real(const char *key, int len, const struct dir_lookup *l, bool ok, int e)
{
    if (len < 0)
        return;
    if (ok && l->notify)
        shim_notify_list(key, len);
    else if (!ok && (e == ENOENT || e == ENOTDIR))
        shim_notify_stat(key, len);
}

/* ---- the hooks ---------------------------------------------------------------------- */

SHIM_EXPORT DIR *opendir(const char *path)
{
    struct hook h;
    char key[PATH_KEY_SIZE];
    struct dir_lookup l;
    int len;

    if (!hook_enter(&h))
        return REAL(opendir)(path);
    serve_dir(AT_FDCWD, shim_unknown(path), key, &len, &l);
    if (l.dir)
        return hook_leave_ptr(&h, l.dir);
    if (l.err) {
        h.err = l.err;
        return hook_leave_ptr(&h, NULL);
    }
    hook_call(&h);
    DIR *d = REAL(opendir)(path);
    hook_called(&h);
    after_real(key, len, &l, d != NULL, h.err);
    return hook_leave_ptr(&h, d);
}

/* fdopendir of a descriptor of a directory whose listing the tier holds:
 * the snapshot's stream, where glibc's would read the descriptor from its
 * offset on. So only a descriptor that glibc would take (open, not
 * O_PATH, a directory: its fstat is the entry's directory) and that has
 * read nothing yet (offset 0) is served; the stream owns it, as glibc's
 * would: dirfd returns it, closedir closes it, and it gets FD_CLOEXEC as
 * glibc sets it. The snapshot's own descriptor is parked high (glibc's
 * takes no new number). Five system calls (readlink of /proc/self/fd,
 * fcntl, fstat, lseek, then fcntl), against the getdents calls on the
 * source. */
static DIR *serve_fd(int fd, char *key, int *len, struct dir_lookup *l)
{
    struct stat st;

    memset(l, 0, sizeof *l);
    *len = shim_fd_resolve(fd, key);
    if (*len < 0 || !path_prefixes_match(&shim_cfg.prefixes, key, (size_t)*len)) {
        *len = -1;
        return NULL;
    }
    int fl = (int)shim_sys3(SYS_fcntl, fd, F_GETFL, 0);
    if (fl < 0 || (fl & O_PATH) || REAL(fstat)(fd, &st) < 0 || !S_ISDIR(st.st_mode) ||
        shim_sys3(SYS_lseek, fd, 0, SEEK_CUR) != 0)
        return NULL;
    serve_key(key, *len, &st, l);
    if (!l->dir)
        return NULL;
    struct served *s = served_find(l->dir);
    /* glibc's fdopendir sets FD_CLOEXEC on the descriptor it takes */
    if (!s || shim_sys3(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC) < 0) {
        l->notify = false;
        closedir(l->dir);
        l->dir = NULL;
        return NULL;
    }
    store_release(&s->real_fd, fd);
    return l->dir;
}

SHIM_EXPORT DIR *fdopendir(int fd)
{
    struct hook h;
    char key[PATH_KEY_SIZE];
    struct dir_lookup l;
    int len;

    if (!hook_enter(&h))
        return REAL(fdopendir)(fd);
    DIR *d = serve_fd(fd, key, &len, &l);
    if (d)
        return hook_leave_ptr(&h, d);
    hook_call(&h);
    d = REAL(fdopendir)(fd);
    hook_called(&h);
    if (d && len >= 0 && l.notify)
        shim_notify_list(key, len);
    return hook_leave_ptr(&h, d);
}

SHIM_EXPORT struct dirent *readdir(DIR *d)
{
    struct dirent *e = REAL(readdir)(d);
    struct served *s;

    if (e && (s = served_find(d)))
        patch(s, (struct dirent64 *)e);
    return e;
}

SHIM_EXPORT struct dirent64 *readdir64(DIR *d)
{
    struct dirent64 *e = REAL(readdir64)(d);
    struct served *s;

    if (e && (s = served_find(d)))
        patch(s, e);
    return e;
}

SHIM_EXPORT int readdir_r(DIR *d, struct dirent *entry, struct dirent **result)
{
    int r = REAL(readdir_r)(d, entry, result);
    struct served *s;

    if (r == 0 && *result && (s = served_find(d)))
        patch(s, (struct dirent64 *)*result);
    return r;
}

SHIM_EXPORT int readdir64_r(DIR *d, struct dirent64 *entry, struct dirent64 **result)
{
    int r = REAL(readdir64_r)(d, entry, result);
    struct served *s;

    if (r == 0 && *result && (s = served_find(d)))
        patch(s, *result);
    return r;
}

SHIM_EXPORT int closedir(DIR *d)
{
    struct served *s = served_find(d);

    if (s)
        served_drop(s);
    return REAL(closedir)(d);
}

SHIM_EXPORT int dirfd(DIR *d)
{
    struct served *s = served_find(d);

    if (!s)
        return REAL(dirfd)(d);
    int fd = load_acquire(&s->real_fd);
    if (fd >= 0)
        return fd;
    int err = errno;
    fd = REAL(open)(s->key, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1; /* the directory is gone: the open's errno */
    int expect = -1;
    if (!cas_acq_rel(&s->real_fd, &expect, fd)) {
        shim_close(fd); /* another thread's came first */
        fd = expect;
    }
    errno = err;
    return fd;
}

/* scandir over a served stream, as glibc's: errno kept on success. The
 * 64-bit names take the same structure on the two architectures built for
 * (a static assert below), so one body serves all four. */
typedef int (*scan_filter)(const struct dirent *);
typedef int (*scan_compar)(const struct dirent **, const struct dirent **);
typedef void (*any_fn)(void);  /* how GCC lets a function pointer change type */

_Static_assert(sizeof(struct dirent) == sizeof(struct dirent64) &&
               offsetof(struct dirent, d_name) == offsetof(struct dirent64, d_name),
               "struct dirent is struct dirent64");

static int scan_served(DIR *d, struct dirent ***list, scan_filter filter, scan_compar compar)
{
    struct dirent **v = NULL;
    size_t n = 0, cap = 0;
    int err = errno;

    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e)
            break;
        if (filter && !filter(e))
            continue;
        if (n == cap) {
            size_t c = cap ? cap * 2 : 16;
            struct dirent **nv = realloc(v, c * sizeof *nv);
            if (!nv)
                break;
            v = nv;
            cap = c;
        }
        struct dirent *copy = malloc(e->d_reclen);
        if (!copy)
            break;
        memcpy(copy, e, e->d_reclen);
        v[n++] = copy;
    }
    int fail = errno;
    closedir(d);
    if (fail) {
        while (n)
            free(v[--n]);
        free(v);
        errno = fail;
        return -1;
    }
    if (compar && n > 1)
        qsort(v, n, sizeof *v, (int (*)(const void *, const void *))(any_fn)compar);
    *list = v;
    errno = err;
    return (int)n;
}

enum scan_kind { SCAN, SCAN64, SCANAT, SCANAT64 };

static int scan_real(enum scan_kind k, int dirfd, const char *path, void *list, any_fn filter,
                     any_fn compar)
{
    switch (k) {
    case SCAN:
        return REAL(scandir)(path, list, (scan_filter)filter, (scan_compar)compar);
    case SCAN64:
        return REAL(scandir64)(path, list, (int (*)(const struct dirent64 *))filter,
                               (int (*)(const struct dirent64 **, const struct dirent64 **))compar);
    case SCANAT:
        return REAL(scandirat)(dirfd, path, list, (scan_filter)filter, (scan_compar)compar);
    default:
        return REAL(scandirat64)(dirfd, path, list, (int (*)(const struct dirent64 *))filter,
                                 (int (*)(const struct dirent64 **, const struct dirent64 **))compar);
    }
}

static int scandir_common(enum scan_kind k, int dirfd, const char *path, void *list,
                          any_fn filter, any_fn compar)
{
    struct hook h;
    char key[PATH_KEY_SIZE];
    struct dir_lookup l;
    int len;

    if (!hook_enter(&h))
        return scan_real(k, dirfd, path, list, filter, compar);
    serve_dir(dirfd, shim_unknown(path), key, &len, &l);
    if (l.dir) {
        errno = h.err;
        return scan_served(l.dir, list, (scan_filter)filter, (scan_compar)compar);
    }
    if (l.err) {
        errno = l.err;
        return -1;
    }
    hook_call(&h);
    int r = scan_real(k, dirfd, path, list, filter, compar);
    hook_called(&h);
    after_real(key, len, &l, r >= 0, h.err);
    return hook_leave(&h, r);
}

SHIM_EXPORT int scandir(const char *path, struct dirent ***list, scan_filter filter,
                        scan_compar compar)
{
    return scandir_common(SCAN, AT_FDCWD, path, list, (any_fn)filter, (any_fn)compar);
}

SHIM_EXPORT int scandir64(const char *path, struct dirent64 ***list,
                          int (*filter)(const struct dirent64 *),
                          int (*compar)(const struct dirent64 **, const struct dirent64 **))
{
    return scandir_common(SCAN64, AT_FDCWD, path, list, (any_fn)filter, (any_fn)compar);
}

SHIM_EXPORT int scandirat(int dirfd, const char *path, struct dirent ***list, scan_filter filter,
                          scan_compar compar)
{
    return scandir_common(SCANAT, dirfd, path, list, (any_fn)filter, (any_fn)compar);
}

SHIM_EXPORT int scandirat64(int dirfd, const char *path, struct dirent64 ***list,
                            int (*filter)(const struct dirent64 *),
                            int (*compar)(const struct dirent64 **, const struct dirent64 **))
{
    return scandir_common(SCANAT64, dirfd, path, list, (any_fn)filter, (any_fn)compar);
}
