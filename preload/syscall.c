/* syscall.c - the generic syscall(2) function, for the metadata system
 * calls programs make through it rather than through their libc wrappers
 * (libuv, and so Node, calls statx this way). statx, newfstatat (and on
 * x86_64 stat and lstat), access, faccessat, faccessat2, readlinkat (and
 * readlink) are answered as their hooks answer them (stat.c, access.c),
 * and a miss makes the very system call asked for; every other number goes
 * to libc's syscall() untouched. */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/access.h"
#include "preload/hook.h"
#include "preload/stat.h"
#include "preload/sys.h"

/* The system calls themselves, as syscall() would make them: a miss makes
 * exactly the call the program asked for (a seccomp profile may allow one
 * of statx and newfstatat, or of access and faccessat, and not the other). */
static int sys_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *x)
{
    return (int)shim_sys_ret(shim_sys6(SYS_statx, dirfd, (long)path, flags, mask, (long)x, 0));
}

#ifdef SYS_access
static int sys_access(int dirfd, const char *path, int mode, int flags)
{
    (void)dirfd, (void)flags; /* AT_FDCWD, 0 */
    return (int)shim_sys_ret(shim_sys3(SYS_access, path, mode, 0));
}
#endif

static int sys_faccessat(int dirfd, const char *path, int mode, int flags)
{
    (void)flags; /* 0: the call has none */
    return (int)shim_sys_ret(shim_sys3(SYS_faccessat, dirfd, path, mode));
}

static int sys_faccessat2(int dirfd, const char *path, int mode, int flags)
{
    return (int)shim_sys_ret(shim_sys6(SYS_faccessat2, dirfd, (long)path, mode, flags, 0, 0));
}

#ifdef SYS_readlink
static long sys_readlink(int dirfd, const char *path, char *buf, size_t n)
{
    (void)dirfd; /* AT_FDCWD */
    return shim_sys_ret(shim_sys3(SYS_readlink, path, buf, n));
}
#endif

static long sys_readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
    return shim_sys_ret(shim_sys6(SYS_readlinkat, dirfd, (long)path, (long)buf, (long)n, 0, 0));
}

SHIM_EXPORT long syscall(long n, ...)
{
    struct hook h;
    long a[6];
    va_list ap;

    /* as libc's syscall(): six arguments, whatever the call takes */
    va_start(ap, n);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (!hook_enter(&h))
        return shim_real.syscall ? shim_real.syscall(n, a[0], a[1], a[2], a[3], a[4], a[5])
                                 : shim_sys_ret(shim_sys6(n, a[0], a[1], a[2], a[3], a[4], a[5]));
    switch (n) {
    case SYS_statx:
        return hook_leave(&h, shim_statx(&h, (int)a[0], (const char *)a[1], (int)a[2],
                                         (unsigned)a[3], (struct statx *)a[4], sys_statx));
    case SYS_newfstatat:
        /* the descriptor case is the kernel's own business here */
        if (((int)a[3] & AT_EMPTY_PATH) || ((int)a[3] & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)))
            break;
        return hook_leave(&h, shim_stat_syscall(&h, n, (int)a[0], (const char *)a[1],
                                                (struct stat *)a[2], (int)a[3]));
#ifdef SYS_stat
    case SYS_stat:
    case SYS_lstat:
        return hook_leave(&h, shim_stat_syscall(&h, n, AT_FDCWD, (const char *)a[0],
                                                (struct stat *)a[1],
                                                n == SYS_lstat ? AT_SYMLINK_NOFOLLOW : 0));
#endif
#ifdef SYS_access
    case SYS_access:
        return hook_leave(&h, shim_faccessat(&h, AT_FDCWD, (const char *)a[0], (int)a[1], 0,
                                             sys_access));
#endif
    case SYS_faccessat:
        return hook_leave(&h, shim_faccessat(&h, (int)a[0], (const char *)a[1], (int)a[2], 0,
                                             sys_faccessat));
    case SYS_faccessat2:
        return hook_leave(&h, shim_faccessat(&h, (int)a[0], (const char *)a[1], (int)a[2],
                                             (int)a[3], sys_faccessat2));
#ifdef SYS_readlink
    case SYS_readlink: {
        long r = shim_readlinkat(&h, AT_FDCWD, (const char *)a[0], (char *)a[1], (size_t)a[2],
                                 sys_readlink);
        errno = h.err;
        return r;
    }
#endif
    case SYS_readlinkat: {
        long r = shim_readlinkat(&h, (int)a[0], (const char *)a[1], (char *)a[2], (size_t)a[3],
                                 sys_readlinkat);
        errno = h.err;
        return r;
    }
    default:
        break;
    }
    hook_call(&h);
    return REAL(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
