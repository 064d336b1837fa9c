/* stat.c - the stat family. Of a descriptor (fstat, and fstatat or statx
 * with AT_EMPTY_PATH and an empty path): the stat of a descriptor the shim
 * handed out is the source's (objtab.c decides, after the real call says
 * what the descriptor is now). Of a path (stat, lstat, fstatat, statx, the
 * pre-2.33 __xstat names): from the tier's records when it has them
 * (meta.c). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "preload/hook.h"
#include "preload/key.h"
#include "preload/meta.h"
#include "preload/readable.h"
#include "preload/stat.h"
#include "preload/objtab.h"
#include "preload/sys.h"
#include "tier/stat.h"

_Static_assert(sizeof(struct stat) == sizeof(struct stat64),
               "64-bit targets only: struct stat64 is struct stat");

/* These arguments name a descriptor, not a path (path read only once it
 * is known readable). */
static bool empty_path(const char *path, int flags)
{
    return (flags & AT_EMPTY_PATH) && (!shim_unknown(path) || shim_path_len(path) == 0);
}

static int real_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    return shim_real.fstatat ? shim_real.fstatat(dirfd, path, st, flags)
                             : (int)shim_sys_ret(shim_sys6(SYS_newfstatat, dirfd, (long)path, (long)st, flags, 0, 0));
}

SHIM_EXPORT int fstat(int fd, struct stat *st)
{
    struct hook h;

    if (!hook_enter(&h))
        return shim_real.fstat ? shim_real.fstat(fd, st) : real_fstatat(fd, "", st, AT_EMPTY_PATH);
    int r = REAL(fstat)(fd, st);
    hook_called(&h);
    if (r == 0)
        shim_fix_stat(fd, st);
    return hook_leave(&h, r);
}

SHIM_EXPORT int fstat64(int fd, struct stat64 *st)
{
    return fstat(fd, (struct stat *)st);
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
    struct hook h;

    if (!hook_enter(&h))
        return REAL(__fxstat)(ver, fd, st);
    int r = REAL(__fxstat)(ver, fd, st);
    hook_called(&h);
    if (r == 0 && STAT_VER_OK(ver))
        shim_fix_stat(fd, st);
    return hook_leave(&h, r);
}

SHIM_EXPORT int __fxstat64(int ver, int fd, struct stat64 *st)
{
    return __fxstat(ver, fd, (struct stat *)st);
}

/* ---- the stat family by path --------------------------------------------
 * Under a prefix, answered from the tier (meta.c) when it knows; else the
 * real call, and a notice to shmd so that it will. The answer is written
 * only after the caller's buffer is known writable (else the real call,
 * which answers EFAULT). */

/* Which real function a path-stat hook stands for (S_SYS: the system call
 * syscall() was asked for). */
enum stat_kind { S_STAT, S_LSTAT, S_FSTATAT, S_XSTAT, S_LXSTAT, S_FXSTATAT, S_SYS };

struct stat_call {
    enum stat_kind kind;
    int ver;                    /* the old ABI's version argument; S_SYS:
                                   the system call's number */
    int dirfd;
    const char *path;
    struct stat *st;
    int flags;
};

static int stat_real(const struct stat_call *c)
{
    switch (c->kind) {
    case S_STAT:
        return REAL(stat)(c->path, c->st);
    case S_LSTAT:
        return REAL(lstat)(c->path, c->st);
    case S_FSTATAT:
        return REAL(fstatat)(c->dirfd, c->path, c->st, c->flags);
    case S_XSTAT:
        return REAL(__xstat)(c->ver, c->path, c->st);
    case S_LXSTAT:
        return REAL(__lxstat)(c->ver, c->path, c->st);
    case S_FXSTATAT:
        return REAL(__fxstatat)(c->ver, c->dirfd, c->path, c->st, c->flags);
    case S_SYS:
        if (c->ver == SYS_newfstatat)
            return (int)shim_sys_ret(shim_sys6(SYS_newfstatat, c->dirfd, (long)c->path,
                                               (long)c->st, c->flags, 0, 0));
        return (int)shim_sys_ret(shim_sys3(c->ver, c->path, c->st, 0)); /* stat, lstat */
    }
    return -1;
}

/* Flags a path stat may carry and still be answered from the tier. */
#define STAT_FLAGS_SERVED (AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH)

__attribute__((noinline)) static int stat_path(struct hook *h, const struct stat_call *c,
                                               int maybe)
{
    struct shim_meta m;
    bool nofollow = c->kind == S_LSTAT || c->kind == S_LXSTAT || (c->flags & AT_SYMLINK_NOFOLLOW);
    /* (S_SYS: SYS_lstat comes with AT_SYMLINK_NOFOLLOW in flags) */

    if (!(c->flags & ~STAT_FLAGS_SERVED)) {
        shim_meta_lookup(c->dirfd, c->path, maybe, nofollow ? SHIM_META_NOFOLLOW : 0, NULL, 0,
                         &m);
        if (m.found == SHIM_META_STAT && shim_writable(c->st, sizeof *c->st)) {
            memset(c->st, 0, sizeof *c->st);
            tier_stat_to(&m.st, c->st);
            return 0; /* errno as the caller had it */
        }
        if (m.found == SHIM_META_ERROR) {
            h->err = m.err;
            return -1;
        }
    } else {
        m.len = -1;
        m.notify = false;
    }
    hook_call(h);
    int r = stat_real(c);
    hook_called(h);
    shim_meta_notify(&m, r, h->err);
    return r;
}

/* The shape of the path-stat hooks: the fd case (AT_EMPTY_PATH with "")
 * is the fstat family's, above. */
static int stat_hook(enum stat_kind kind, int ver, int dirfd, const char *path, struct stat *st,
                     int flags)
{
    struct hook h;
    struct stat_call c = {kind, ver, dirfd, path, st, flags};

    if (!hook_enter(&h))
        return stat_real(&c);
    if (empty_path(path, flags)) {
        hook_call(&h);
        int r = stat_real(&c);
        hook_called(&h);
        if (r == 0)
            shim_fix_stat(dirfd, st);
        return hook_leave(&h, r);
    }
    int maybe;
    if (((kind == S_XSTAT || kind == S_LXSTAT || kind == S_FXSTATAT) && !STAT_VER_OK(ver)) ||
        !(maybe = shim_open_maybe(dirfd, path))) {
        hook_call(&h);
        return stat_real(&c); /* outside the prefixes: its errno stands */
    }
    return hook_leave(&h, stat_path(&h, &c, maybe));
}

SHIM_EXPORT int stat(const char *path, struct stat *st)
{
    return stat_hook(S_STAT, 0, AT_FDCWD, path, st, 0);
}

SHIM_EXPORT int stat64(const char *path, struct stat64 *st)
{
    return stat_hook(S_STAT, 0, AT_FDCWD, path, (struct stat *)st, 0);
}

SHIM_EXPORT int lstat(const char *path, struct stat *st)
{
    return stat_hook(S_LSTAT, 0, AT_FDCWD, path, st, 0);
}

SHIM_EXPORT int lstat64(const char *path, struct stat64 *st)
{
    return stat_hook(S_LSTAT, 0, AT_FDCWD, path, (struct stat *)st, 0);
}

SHIM_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    return stat_hook(S_FSTATAT, 0, dirfd, path, st, flags);
}

SHIM_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
    return stat_hook(S_FSTATAT, 0, dirfd, path, (struct stat *)st, flags);
}

SHIM_EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
    return stat_hook(S_XSTAT, ver, AT_FDCWD, path, st, 0);
}

SHIM_EXPORT int __xstat64(int ver, const char *path, struct stat64 *st)
{
    return stat_hook(S_XSTAT, ver, AT_FDCWD, path, (struct stat *)st, 0);
}

SHIM_EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
    return stat_hook(S_LXSTAT, ver, AT_FDCWD, path, st, 0);
}

SHIM_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st)
{
    return stat_hook(S_LXSTAT, ver, AT_FDCWD, path, (struct stat *)st, 0);
}

SHIM_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
    return stat_hook(S_FXSTATAT, ver, dirfd, path, st, flags);
}

SHIM_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
{
    return stat_hook(S_FXSTATAT, ver, dirfd, path, (struct stat *)st, flags);
}

int shim_stat_syscall(struct hook *h, long nr, int dirfd, const char *path, struct stat *st,
                      int flags)
{
    struct stat_call c = {S_SYS, (int)nr, dirfd, path, st, flags};
    int maybe = shim_open_maybe(dirfd, path);

    if (!maybe) {
        hook_call(h);
        int r = stat_real(&c);
        hook_called(h);
        return r;
    }
    return stat_path(h, &c, maybe);
}

/* statx: the fd case as fstat, a path as stat or lstat; AT_STATX_FORCE_SYNC
 * asks the filesystem itself, so it goes to it. */
#define STATX_FLAGS_SERVED (AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | \
                            AT_STATX_DONT_SYNC)

int shim_statx(struct hook *h, int dirfd, const char *path, int flags, unsigned mask,
               struct statx *x, int (*real)(int, const char *, int, unsigned, struct statx *))
{
    struct shim_meta m;

    if (empty_path(path, flags)) {
        hook_call(h);
        int r = real(dirfd, path, flags, mask, x);
        hook_called(h);
        if (r == 0)
            shim_fix_statx(dirfd, x);
        return r;
    }
    m.len = -1;
    m.notify = false;
    int maybe = shim_open_maybe(dirfd, path);
    if (maybe && !(flags & ~STATX_FLAGS_SERVED) && !(mask & STATX__RESERVED)) {
        shim_meta_lookup(dirfd, path, maybe, flags & AT_SYMLINK_NOFOLLOW ? SHIM_META_NOFOLLOW : 0,
                         NULL, 0, &m);
        if (m.found == SHIM_META_STAT && tier_stat_statx_known(&m.st, mask) &&
            shim_writable(x, sizeof *x)) {
            tier_stat_fill_statx(&m.st, mask, x);
            return 0;
        }
        if (m.found == SHIM_META_ERROR) {
            h->err = m.err;
            return -1;
        }
    }
    hook_call(h);
    int r = real(dirfd, path, flags, mask, x);
    hook_called(h);
    shim_meta_notify(&m, r, h->err);
    return r;
}

static int statx_real(int dirfd, const char *path, int flags, unsigned mask, struct statx *x)
{
    return shim_real.statx ? shim_real.statx(dirfd, path, flags, mask, x)
                           : (int)shim_sys_ret(shim_sys6(SYS_statx, dirfd, (long)path, flags, mask, (long)x, 0));
}

SHIM_EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *x)
{
    struct hook h;

    if (!hook_enter(&h))
        return statx_real(dirfd, path, flags, mask, x);
    return hook_leave(&h, shim_statx(&h, dirfd, path, flags, mask, x, statx_real));
}
