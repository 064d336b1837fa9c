/* stat.c - fstat of descriptors the shim handed out reports the source.
 *
 * On a hit the shim remembers (object dev, inode, ctime) -> the source's
 * stat in a small process-local table. Every fstat-like call first does the
 * real call; only if that describes a remembered object (all three equal:
 * the descriptor may have been closed and its number reused, or the object
 * unlinked and its inode reused) is the result replaced. Keyed by the object,
 * not the descriptor number, so dup, dup2, fork and inherited descriptors
 * work without tracking them. The table is 2-way set associative; an entry
 * pushed out only means that descriptor reports the copy's inode and device
 * (its size, mode and times are the source's anyway). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "preload/shim.h"
#include "tier/atomic.h"
#include "tier/stat.h"

#define SETS 1024
#define WAYS 2

struct objrec {
    uint64_t seq;            /* seqlock; odd while a hook rewrites the record */
    uint64_t dev, ino;
    int64_t ctime_sec, ctime_nsec;
    struct tier_stat st;
};
#define REC_WORDS (sizeof(struct objrec) / 8)

static struct objrec g_obj[SETS][WAYS];
static int g_obj_used;
static unsigned g_obj_turn;

static unsigned set_of(uint64_t ino)
{
    return (unsigned)((ino * 0x9e3779b97f4a7c15ULL) >> 54) & (SETS - 1);
}

void shim_obj_remember(uint64_t dev, const struct tier_entry *e)
{
    struct objrec *set = g_obj[set_of(e->object_ino)];
    struct objrec rec = {
        .dev = dev, .ino = e->object_ino,
        .ctime_sec = e->object_ctime_sec, .ctime_nsec = e->object_ctime_nsec,
        .st = e->st,
    };
    int w = -1;

    for (int i = 0; i < WAYS; i++)
        if (load_relaxed(&set[i].ino) == e->object_ino && load_relaxed(&set[i].dev) == dev)
            w = i;
    if (w < 0)
        w = (int)(fetch_add_relaxed(&g_obj_turn, 1) % WAYS);
    struct objrec *r = &set[w];
    uint64_t q = load_relaxed(&r->seq);
    if ((q & 1) || !cas_acquire(&r->seq, &q, q + 1))
        return; /* another thread (or a signal handler) is writing it */
    fence_release();
    words_store_relaxed((uint64_t *)r + 1, (const uint64_t *)&rec + 1, REC_WORDS - 1);
    store_release(&r->seq, q + 2);
    if (!load_relaxed(&g_obj_used))
        store_relaxed(&g_obj_used, 1);
}

/* Find the source stat for object (dev, ino, ctime). */
static bool lookup(uint64_t dev, uint64_t ino, int64_t cs, int64_t cn, struct tier_stat *out)
{
    struct objrec *set = g_obj[set_of(ino)];
    struct objrec copy;

    for (int i = 0; i < WAYS; i++) {
        struct objrec *r = &set[i];
        for (int tries = 0; tries < 4; tries++) {
            uint64_t s1 = load_acquire(&r->seq);
            if (s1 & 1)
                continue;
            words_load_relaxed((uint64_t *)&copy, (const uint64_t *)r, REC_WORDS);
            fence_acquire();
            if (load_relaxed(&r->seq) != s1)
                continue;
            if (copy.ino == ino && copy.dev == dev && copy.ctime_sec == cs &&
                copy.ctime_nsec == cn) {
                *out = copy.st;
                return true;
            }
            break;
        }
    }
    return false;
}

void shim_fix_stat(struct stat *st)
{
    struct tier_stat t;

    if (likely(!load_relaxed(&g_obj_used)) || !S_ISREG(st->st_mode))
        return;
    if (lookup((uint64_t)st->st_dev, (uint64_t)st->st_ino, (int64_t)st->st_ctim.tv_sec,
               (int64_t)st->st_ctim.tv_nsec, &t))
        tier_stat_to(&t, st);
}

void shim_fix_statx(struct statx *x)
{
    struct tier_stat t;
    const unsigned need = STATX_INO | STATX_CTIME;

    if (likely(!load_relaxed(&g_obj_used)) || (x->stx_mask & need) != need)
        return;
    uint64_t dev = (uint64_t)makedev(x->stx_dev_major, x->stx_dev_minor);
    if (lookup(dev, x->stx_ino, x->stx_ctime.tv_sec, x->stx_ctime.tv_nsec, &t))
        tier_stat_to_statx(&t, x);
}

_Static_assert(sizeof(struct stat) == sizeof(struct stat64),
               "64-bit targets only: struct stat64 is struct stat");

static bool empty_path(const char *path, int flags)
{
    return (flags & AT_EMPTY_PATH) && (!path || !path[0]);
}

SHIM_EXPORT int fstat(int fd, struct stat *st)
{
    int r = shim_real.fstat ? shim_real.fstat(fd, st)
                            : (int)syscall(SYS_newfstatat, fd, "", st, AT_EMPTY_PATH);
    if (r == 0)
        shim_fix_stat(st);
    return r;
}

SHIM_EXPORT int fstat64(int fd, struct stat64 *st)
{
    return fstat(fd, (struct stat *)st);
}

SHIM_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    int r = shim_real.fstatat ? shim_real.fstatat(dirfd, path, st, flags)
                              : (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
    if (r == 0 && empty_path(path, flags))
        shim_fix_stat(st);
    return r;
}

SHIM_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
    return fstatat(dirfd, path, (struct stat *)st, flags);
}

/* Binaries linked against glibc < 2.33 call the versioned wrappers. ver 1 is
 * _STAT_VER_LINUX, the layout of struct stat on x86_64; other versions and
 * other architectures are passed through untouched. */
#ifdef __x86_64__
#define STAT_VER_OK(v) ((v) == 1)
#else
#define STAT_VER_OK(v) 0
#endif

SHIM_EXPORT int __fxstat(int ver, int fd, struct stat *st)
{
    int r = REAL(__fxstat)(ver, fd, st);
    if (r == 0 && STAT_VER_OK(ver))
        shim_fix_stat(st);
    return r;
}

SHIM_EXPORT int __fxstat64(int ver, int fd, struct stat64 *st)
{
    int r = REAL(__fxstat64)(ver, fd, st);
    if (r == 0 && STAT_VER_OK(ver))
        shim_fix_stat((struct stat *)st);
    return r;
}

SHIM_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
    int r = REAL(__fxstatat)(ver, dirfd, path, st, flags);
    if (r == 0 && STAT_VER_OK(ver) && empty_path(path, flags))
        shim_fix_stat(st);
    return r;
}

SHIM_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
{
    int r = REAL(__fxstatat64)(ver, dirfd, path, st, flags);
    if (r == 0 && STAT_VER_OK(ver) && empty_path(path, flags))
        shim_fix_stat((struct stat *)st);
    return r;
}

SHIM_EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *x)
{
    int r = shim_real.statx ? shim_real.statx(dirfd, path, flags, mask, x)
                            : (int)syscall(SYS_statx, dirfd, path, flags, mask, x);
    if (r == 0 && empty_path(path, flags))
        shim_fix_statx(x);
    return r;
}
