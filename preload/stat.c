/* stat.c - the fstat family: the stat of a descriptor the shim handed out
 * is the source's (objtab.c decides, after the real call says what the
 * descriptor is now). fstatat and statx count only with AT_EMPTY_PATH and
 * an empty (or NULL) path: a descriptor, not a path. Path metadata is
 * answered by the real calls. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "preload/hook.h"
#include "preload/objtab.h"
#include "preload/sys.h"

_Static_assert(sizeof(struct stat) == sizeof(struct stat64),
               "64-bit targets only: struct stat64 is struct stat");

/* A successful call with these arguments described a descriptor; the
 * kernel read path already (or accepted NULL), so reading it is safe. */
static bool empty_path(const char *path, int flags)
{
    const char *p = shim_unknown(path);
    return (flags & AT_EMPTY_PATH) && (!p || !p[0]);
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

SHIM_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    struct hook h;

    if (!hook_enter(&h))
        return real_fstatat(dirfd, path, st, flags);
    int r = REAL(fstatat)(dirfd, path, st, flags);
    hook_called(&h);
    if (r == 0 && empty_path(path, flags))
        shim_fix_stat(dirfd, st);
    return hook_leave(&h, r);
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

SHIM_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
    struct hook h;

    if (!hook_enter(&h))
        return REAL(__fxstatat)(ver, dirfd, path, st, flags);
    int r = REAL(__fxstatat)(ver, dirfd, path, st, flags);
    hook_called(&h);
    if (r == 0 && STAT_VER_OK(ver) && empty_path(path, flags))
        shim_fix_stat(dirfd, st);
    return hook_leave(&h, r);
}

SHIM_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
{
    return __fxstatat(ver, dirfd, path, (struct stat *)st, flags);
}

SHIM_EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *x)
{
    struct hook h;

    if (!hook_enter(&h))
        return shim_real.statx ? shim_real.statx(dirfd, path, flags, mask, x)
                               : (int)shim_sys_ret(shim_sys6(SYS_statx, dirfd, (long)path, flags, mask, (long)x, 0));
    int r = REAL(statx)(dirfd, path, flags, mask, x);
    hook_called(&h);
    if (r == 0 && empty_path(path, flags))
        shim_fix_statx(dirfd, x);
    return hook_leave(&h, r);
}
