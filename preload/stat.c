/* stat.c - fstat of descriptors the shim handed out reports the source.
 *
 * On a hit the shim remembers (object dev, inode, ctime) -> the source's
 * stat in a small process-local table. Every fstat-like call first does the
 * real call; only if that describes a remembered object (all three equal:
 * the descriptor may have been closed and its number reused, or the object
 * unlinked and its inode reused) is the result replaced. Keyed by the
 * object, not the descriptor number, so dup, dup2 and fork need no tracking.
 *
 * A descriptor this process did not open itself (inherited across exec,
 * received over a socket, or pushed out of the 2-way table) is recognised
 * by its name: a regular file without write bits on the instance
 * directory's device is looked up through /proc/self/fd, whose target names
 * the object's record (tier_object_name); the record must still hold that
 * object, inode and ctime. Without /proc such a descriptor reports the copy
 * (its own inode and device, mode without write bits, its own ctime). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
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

    for (int i = 0; i < WAYS; i++) {
        if (load_relaxed(&set[i].ino) != e->object_ino || load_relaxed(&set[i].dev) != dev)
            continue;
        if (load_relaxed(&set[i].ctime_sec) == e->object_ctime_sec &&
            load_relaxed(&set[i].ctime_nsec) == e->object_ctime_nsec &&
            !(load_relaxed(&set[i].seq) & 1))
            return; /* already remembered: a hot file costs no store here */
        w = i;
    }
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
        if (load_relaxed(&r->ino) != ino)
            continue; /* the usual answer for a descriptor that is not ours */
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

/* st_dev of the instance directory, 0 while unknown (looked up at most
 * once a second until the directory exists). */
static uint64_t g_dir_dev;
static uint64_t g_dir_dev_next_ns;

static uint64_t instance_dev(void)
{
    uint64_t dev = load_relaxed(&g_dir_dev);
    struct timespec ts;
    struct stat st;

    if (dev)
        return dev;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    if (now < load_relaxed(&g_dir_dev_next_ns))
        return 0;
    store_relaxed(&g_dir_dev_next_ns, now + 1000000000ULL);
    if (stat(shim_cfg.dir, &st) == 0)
        store_relaxed(&g_dir_dev, (uint64_t)st.st_dev);
    return load_relaxed(&g_dir_dev);
}

/* The slow way for a descriptor this process did not open: its name. */
static bool by_name(int fd, uint64_t dev, uint64_t ino, int64_t cs, int64_t cn, struct tier_stat *out)
{
    char link[32], target[PATH_KEY_SIZE];
    uint64_t gen, id;
    uint32_t rec;
    struct tier_entry e;
    bool ok = false;

    ssize_t len = readlink(shim_fd_link(fd, link), target, TIER_PATH_MAX - 1);
    size_t dl = strlen(shim_cfg.dir);
    if (len <= 0 || (size_t)len <= dl + 1)
        return false;
    target[len] = '\0';
    if (memcmp(target, shim_cfg.dir, dl) != 0 || target[dl] != '/' ||
        !tier_object_parse(target + dl + 1, &gen, &id, &rec))
        return false;
    struct shim_attach *a = shim_enter(false);
    if (!a)
        return false;
    if (a->view.generation == gen && a->dev == dev && tier_record_get(&a->view, rec, id, &e) &&
        e.object_ino == ino && e.object_ctime_sec == cs && e.object_ctime_nsec == cn) {
        *out = e.st;
        shim_obj_remember(dev, &e);
        ok = true;
    }
    shim_leave(a);
    return ok;
}

/* The source's stat for the object described by (dev, ino, ctime, mode),
 * open as fd (-1: unknown). */
static bool source_of(int fd, uint64_t dev, uint64_t ino, int64_t cs, int64_t cn, uint32_t mode,
                      struct tier_stat *t)
{
    if (!S_ISREG(mode))
        return false;
    if (load_relaxed(&g_obj_used) && lookup(dev, ino, cs, cn, t))
        return true;
    /* objects have no write bits: the cheap filter before any system call */
    if (fd < 0 || (mode & 0222) || !shim_ready() || instance_dev() != dev)
        return false;
    int saved = errno;
    bool ok = by_name(fd, dev, ino, cs, cn, t);
    errno = saved;
    return ok;
}

void shim_fix_stat(int fd, struct stat *st)
{
    struct tier_stat t;

    /* the common answer first: not a regular file, or writable and no
     * object ever handed out here */
    if (!S_ISREG(st->st_mode) || ((st->st_mode & 0222) && !load_relaxed(&g_obj_used)))
        return;
    if (source_of(fd, (uint64_t)st->st_dev, (uint64_t)st->st_ino, (int64_t)st->st_ctim.tv_sec,
                  (int64_t)st->st_ctim.tv_nsec, st->st_mode, &t))
        tier_stat_to(&t, st);
}

void shim_fix_statx(int fd, struct statx *x)
{
    struct tier_stat t;
    const unsigned need = STATX_INO | STATX_CTIME | STATX_TYPE | STATX_MODE;

    if ((x->stx_mask & need) != need)
        return;
    uint64_t dev = (uint64_t)makedev(x->stx_dev_major, x->stx_dev_minor);
    if (source_of(fd, dev, x->stx_ino, x->stx_ctime.tv_sec, x->stx_ctime.tv_nsec, x->stx_mode, &t))
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
        shim_fix_stat(fd, st);
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
        shim_fix_stat(dirfd, st);
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
        shim_fix_stat(fd, st);
    return r;
}

SHIM_EXPORT int __fxstat64(int ver, int fd, struct stat64 *st)
{
    int r = REAL(__fxstat64)(ver, fd, st);
    if (r == 0 && STAT_VER_OK(ver))
        shim_fix_stat(fd, (struct stat *)st);
    return r;
}

SHIM_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
    int r = REAL(__fxstatat)(ver, dirfd, path, st, flags);
    if (r == 0 && STAT_VER_OK(ver) && empty_path(path, flags))
        shim_fix_stat(dirfd, st);
    return r;
}

SHIM_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
{
    int r = REAL(__fxstatat64)(ver, dirfd, path, st, flags);
    if (r == 0 && STAT_VER_OK(ver) && empty_path(path, flags))
        shim_fix_stat(dirfd, (struct stat *)st);
    return r;
}

SHIM_EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *x)
{
    int r = shim_real.statx ? shim_real.statx(dirfd, path, flags, mask, x)
                            : (int)syscall(SYS_statx, dirfd, path, flags, mask, x);
    if (r == 0 && empty_path(path, flags))
        shim_fix_statx(dirfd, x);
    return r;
}
