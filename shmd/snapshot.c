/* snapshot.c - a directory listing's objects (see snapshot.h and
 * tier/listing.h).
 *
 * Building: mkdir the snapshot (0700 while it is filled), one node per
 * name in the source's order (reversed on kernels whose tmpfs lists the
 * newest first), then read it back: the names must come back in the
 * source's order, and each node's inode is what the map keys on. The map
 * is written next, then the snapshot made read-only (0555); its ctime is
 * final from then on. Nothing is published yet: on any failure both are
 * removed at once.
 *
 * Removing: the snapshot is opened and locked exclusively without
 * waiting; a shim holding it (a shared lock, from its opendir until its
 * closedir) makes that fail, and the caller tries again later. Under the
 * lock no shim can start to use it (its own lock attempt fails, and it
 * makes the real call), so the names go, then the directory, then the
 * lock with the descriptor. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shmd/fdio.h"
#include "shmd/snapshot.h"
#include "tier/hash.h"
#include "tier/index.h"
#include "tier/listing.h"

#define GETDENTS_BUF 32768

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static long getdents(int fd, void *buf, size_t n)
{
    return syscall(SYS_getdents64, fd, buf, n);
}

static bool is_dot(const char *n)
{
    return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

static int src_add(struct snap_src *s, const char *name, uint64_t ino, uint8_t type)
{
    size_t len = strlen(name);

    if (s->n >= TIER_LIST_MAX) {
        errno = E2BIG;
        return -1;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct snap_name *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    if (s->bytes + len + 1 > s->names_cap) {
        size_t cap = s->names_cap ? s->names_cap * 2 : 4096;
        while (cap < s->bytes + len + 1)
            cap *= 2;
        char *p = realloc(s->names, cap);
        if (!p)
            return -1;
        s->names = p;
        s->names_cap = cap;
    }
    memcpy(s->names + s->bytes, name, len + 1);
    s->v[s->n++] = (struct snap_name){.ino = ino, .off = (uint32_t)s->bytes,
                                      .len = (uint16_t)len, .type = type};
    s->bytes += len + 1;
    return 0;
}

int snapshot_read(const char *path, struct snap_src *src)
{
    DIR *d = opendir(path);

    if (!d)
        return -1;
    for (;;) {
        errno = 0;
        struct dirent64 *e = readdir64(d);
        if (!e)
            break;
        if (src_add(src, e->d_name, e->d_ino, e->d_type) < 0)
            break;
    }
    int err = errno;
    closedir(d);
    if (err) {
        snapshot_src_free(src);
        errno = err;
        return -1;
    }
    return 0;
}

void snapshot_src_free(struct snap_src *src)
{
    free(src->v);
    free(src->names);
    memset(src, 0, sizeof *src);
}

/* One empty node of the source's type (tier/listing.h). */
static int make_node(int sfd, const char *name, uint8_t type)
{
    switch (type) {
    case DT_DIR:
        return mkdirat(sfd, name, 0555);
    case DT_LNK:
        return symlinkat(".", sfd, name);
    case DT_FIFO:
        return mknodat(sfd, name, S_IFIFO | 0444, 0);
    case DT_SOCK:
        return mknodat(sfd, name, S_IFSOCK | 0444, 0);
    default:
        return mknodat(sfd, name, S_IFREG | 0444, 0);
    }
}

/* Empty the directory sfd (names only; a subdirectory of a snapshot is
 * itself empty). */
static int empty_dir(int sfd)
{
    static __thread char buf[GETDENTS_BUF];

    fchmod(sfd, 0700);
    for (int round = 0; round < 64; round++) {
        if (lseek(sfd, 0, SEEK_SET) < 0)
            return -1;
        long n = getdents(sfd, buf, sizeof buf);
        if (n < 0)
            return -1;
        bool any = false;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *e = (struct linux_dirent64 *)(buf + off);
            off += e->d_reclen;
            if (is_dot(e->d_name))
                continue;
            any = true;
            if (unlinkat(sfd, e->d_name, e->d_type == DT_DIR ? AT_REMOVEDIR : 0) < 0 &&
                errno != ENOENT)
                return -1;
        }
        if (!any)
            return 0;
    }
    errno = ENOTEMPTY;
    return -1;
}

/* Remove the directory name (and, for an object name, its map) without
 * asking who has it open: for what was never published. */
static void remove_now(int dirfd, const char *name, bool object)
{
    char map[TIER_OBJECT_NAME_SIZE];
    int sfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (sfd >= 0) {
        empty_dir(sfd);
        close(sfd);
    }
    unlinkat(dirfd, name, AT_REMOVEDIR);
    if (object) {
        tier_list_map_name(name, map);
        unlinkat(dirfd, map, 0);
    }
}

int snapshot_remove(int dirfd, const char *name)
{
    char map[TIER_OBJECT_NAME_SIZE];

    tier_list_map_name(name, map);
    unlinkat(dirfd, map, 0); /* a shim that has read it keeps its copy */
    int sfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0)
        return errno == ENOENT ? 0 : -1;
    if (flock(sfd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(sfd);
        if (e == EWOULDBLOCK)
            return 1;
        errno = e;
        return -1;
    }
    int r = empty_dir(sfd) == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) == 0 ? 0 : -1;
    int e = errno;
    close(sfd);
    errno = e;
    return r;
}

bool snapshot_is_object(const char *name)
{
    uint64_t g, id;
    uint32_t rec;
    char o[TIER_OBJECT_NAME_SIZE];

    if (strlen(name) != TIER_OBJECT_NAME_SIZE - 1)
        return false;
    memcpy(o, name, TIER_OBJECT_NAME_SIZE);
    if (o[0] == 'm')
        o[0] = 'o';
    return tier_object_parse(o, &g, &id, &rec);
}

enum snap_order snapshot_probe_order(int dirfd)
{
    static const char *const names[] = {"a", "b", "c", "d"};
    static const char probe[] = "order-probe";
    char buf[4096];
    enum snap_order o = SNAP_ORDER_NONE;
    int seen[4], k = 0;

    remove_now(dirfd, probe, false); /* left by a daemon that died here */
    if (mkdirat(dirfd, probe, 0700) < 0)
        return SNAP_ORDER_NONE;
    int sfd = openat(dirfd, probe, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    for (int i = 0; sfd >= 0 && i < 4; i++)
        if (mknodat(sfd, names[i], S_IFREG | 0444, 0) < 0)
            goto out;
    long n = sfd >= 0 ? getdents(sfd, buf, sizeof buf) : -1;
    for (long off = 0; off < n && k < 4;) {
        struct linux_dirent64 *e = (struct linux_dirent64 *)(buf + off);
        off += e->d_reclen;
        if (!is_dot(e->d_name))
            seen[k++] = e->d_name[0] - 'a';
    }
    if (k == 4 && seen[0] == 0 && seen[1] == 1 && seen[2] == 2 && seen[3] == 3)
        o = SNAP_ORDER_CREATED;
    else if (k == 4 && seen[0] == 3 && seen[1] == 2 && seen[2] == 1 && seen[3] == 0)
        o = SNAP_ORDER_REVERSED;
out:
    if (sfd >= 0) {
        empty_dir(sfd);
        close(sfd);
    }
    unlinkat(dirfd, probe, AT_REMOVEDIR);
    return o;
}

/* ---- building ------------------------------------------------------------------------- */

/* An open-addressing set of the source's names, to find each name that
 * the snapshot lists back. */
struct name_set {
    uint32_t *slot;            /* 1 + index into src->v; 0: empty */
    uint32_t mask;
};

static uint64_t name_hash(const char *n, size_t len)
{
    return tier_hash(0, n, len);
}

static int set_build(struct name_set *set, const struct snap_src *src)
{
    uint32_t size = 16;
    while (size < src->n * 2)
        size *= 2;
    set->slot = calloc(size, sizeof *set->slot);
    if (!set->slot)
        return -1;
    set->mask = size - 1;
    for (size_t i = 0; i < src->n; i++) {
        const char *n = src->names + src->v[i].off;
        uint32_t h = (uint32_t)name_hash(n, src->v[i].len) & set->mask;
        for (; set->slot[h]; h = (h + 1) & set->mask) {
            const struct snap_name *o = &src->v[set->slot[h] - 1];
            if (o->len == src->v[i].len && memcmp(src->names + o->off, n, o->len) == 0) {
                free(set->slot);
                errno = EILSEQ; /* a name listed twice */
                return -1;
            }
        }
        set->slot[h] = (uint32_t)i + 1;
    }
    return 0;
}

static long set_find(const struct name_set *set, const struct snap_src *src, const char *n)
{
    size_t len = strlen(n);
    for (uint32_t h = (uint32_t)name_hash(n, len) & set->mask; set->slot[h];
         h = (h + 1) & set->mask) {
        const struct snap_name *o = &src->v[set->slot[h] - 1];
        if (o->len == len && memcmp(src->names + o->off, n, len) == 0)
            return (long)set->slot[h] - 1;
    }
    return -1;
}

static int by_snap_ino(const void *pa, const void *pb)
{
    const struct tier_list_ent *a = pa, *b = pb;
    return a->snap_ino < b->snap_ino ? -1 : a->snap_ino > b->snap_ino;
}

/* Read the snapshot back: the map's entries, and whether the names came
 * in the source's order. */
static int read_back(int sfd, const struct snap_src *src, const struct name_set *set,
                     struct tier_list_ent *map, uint32_t *count)
{
    static __thread char buf[GETDENTS_BUF];
    size_t next = 0;           /* the next source name not a dot, in order */
    uint32_t k = 0;

    for (;;) {
        long n = getdents(sfd, buf, sizeof buf);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *e = (struct linux_dirent64 *)(buf + off);
            off += e->d_reclen;
            long i = set_find(set, src, e->d_name);
            if (i < 0 || k >= src->n) {
                errno = EILSEQ; /* a name the source lacks ("." or "..") */
                return -1;
            }
            if (!is_dot(e->d_name)) {
                while (next < src->n && is_dot(src->names + src->v[next].off))
                    next++;
                if (next >= src->n || (size_t)i != next) {
                    errno = EILSEQ; /* not in the source's order */
                    return -1;
                }
                next++;
            }
            map[k++] = (struct tier_list_ent){.snap_ino = e->d_ino, .src_ino = src->v[i].ino,
                                              .src_type = src->v[i].type};
        }
    }
    if (k != src->n) {
        errno = EILSEQ;
        return -1;
    }
    *count = k;
    return 0;
}

int snapshot_build(int dirfd, const char *name, uint64_t id, const struct snap_src *src,
                   enum snap_order order, struct snap_made *out)
{
    char mapname[TIER_OBJECT_NAME_SIZE];
    struct name_set set = {0};
    struct tier_list_ent *map = NULL;
    struct stat st;
    int sfd = -1, mfd = -1, e;

    if (order == SNAP_ORDER_NONE) {
        errno = EILSEQ;
        return -1;
    }
    if (set_build(&set, src) < 0)
        return -1;
    map = malloc(tier_list_map_size((uint32_t)src->n));
    if (!map || mkdirat(dirfd, name, 0700) < 0)
        goto fail_early;
    sfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0)
        goto fail;
    for (size_t j = 0; j < src->n; j++) {
        size_t i = order == SNAP_ORDER_CREATED ? j : src->n - 1 - j;
        const char *n = src->names + src->v[i].off;
        if (!is_dot(n) && make_node(sfd, n, src->v[i].type) < 0)
            goto fail;
    }
    struct tier_list_head *head = (struct tier_list_head *)map;
    struct tier_list_ent *ents = (struct tier_list_ent *)(head + 1);
    uint32_t count;
    if (read_back(sfd, src, &set, ents, &count) < 0)
        goto fail;
    qsort(ents, count, sizeof *ents, by_snap_ino);
    for (uint32_t i = 1; i < count; i++)
        if (ents[i].snap_ino == ents[i - 1].snap_ino) {
            errno = EILSEQ;
            goto fail;
        }
    *head = (struct tier_list_head){.magic = TIER_LIST_MAGIC, .object_id = id, .count = count};
    tier_list_map_name(name, mapname);
    mfd = openat(dirfd, mapname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
    if (mfd < 0 || shmd_write_all(mfd, map, tier_list_map_size(count)) < 0 || close(mfd) < 0) {
        mfd = -1;
        goto fail;
    }
    mfd = -1;
    if (fchmod(sfd, 0555) < 0 || fstat(sfd, &st) < 0)
        goto fail;
    close(sfd);
    free(set.slot);
    free(map);
    *out = (struct snap_made){.ino = st.st_ino, .ctime_sec = st.st_ctim.tv_sec,
                              .ctime_nsec = st.st_ctim.tv_nsec, .count = count};
    return 0;

fail:
    e = errno;
    if (mfd >= 0)
        close(mfd);
    if (sfd >= 0)
        close(sfd);
    remove_now(dirfd, name, true);
    errno = e;
fail_early:
    e = errno;
    free(set.slot);
    free(map);
    errno = e;
    return -1;
}
