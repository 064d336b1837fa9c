/* real.h - the functions libshmcache.so interposes, and the real ones
 * behind them.
 *
 * SHIM_HOOKS is the list of every exported hook, X(return type, name,
 * parameters): the build writes the linker version script from it (nothing
 * else leaves the shared object) and init.c resolves each real function
 * with dlsym(RTLD_NEXT) once. The shim calls every libc function it hooks
 * (its own stat, readlink, syscall()) through REAL(), so it never
 * re-enters itself. SHIM_CALLS would list libc functions it calls through
 * REAL() without hooking them (none now). */
#ifndef SHMCACHE_REAL_H
#define SHMCACHE_REAL_H

#include <dirent.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <utime.h>

#include "preload/sys.h"
#include "tier/atomic.h"

struct stat64;
struct statx;

#define SHIM_HOOKS(X) \
    X(int, open, (const char *, int, ...)) \
    X(int, open64, (const char *, int, ...)) \
    X(int, openat, (int, const char *, int, ...)) \
    X(int, openat64, (int, const char *, int, ...)) \
    X(int, __open_2, (const char *, int)) \
    X(int, __open64_2, (const char *, int)) \
    X(int, __openat_2, (int, const char *, int)) \
    X(int, __openat64_2, (int, const char *, int)) \
    X(int, creat, (const char *, mode_t)) \
    X(int, creat64, (const char *, mode_t)) \
    X(FILE *, fopen, (const char *, const char *)) \
    X(FILE *, fopen64, (const char *, const char *)) \
    X(FILE *, freopen, (const char *, const char *, FILE *)) \
    X(FILE *, freopen64, (const char *, const char *, FILE *)) \
    X(int, fclose, (FILE *)) \
    X(int, fstat, (int, struct stat *)) \
    X(int, fstat64, (int, struct stat64 *)) \
    X(int, __fxstat, (int, int, struct stat *)) \
    X(int, __fxstat64, (int, int, struct stat64 *)) \
    X(int, fstatat, (int, const char *, struct stat *, int)) \
    X(int, fstatat64, (int, const char *, struct stat64 *, int)) \
    X(int, __fxstatat, (int, int, const char *, struct stat *, int)) \
    X(int, __fxstatat64, (int, int, const char *, struct stat64 *, int)) \
    X(int, statx, (int, const char *, int, unsigned, struct statx *)) \
    X(int, stat, (const char *, struct stat *)) \
    X(int, stat64, (const char *, struct stat64 *)) \
    X(int, lstat, (const char *, struct stat *)) \
    X(int, lstat64, (const char *, struct stat64 *)) \
    X(int, __xstat, (int, const char *, struct stat *)) \
    X(int, __xstat64, (int, const char *, struct stat64 *)) \
    X(int, __lxstat, (int, const char *, struct stat *)) \
    X(int, __lxstat64, (int, const char *, struct stat64 *)) \
    X(int, access, (const char *, int)) \
    X(int, faccessat, (int, const char *, int, int)) \
    X(int, euidaccess, (const char *, int)) \
    X(int, eaccess, (const char *, int)) \
    X(ssize_t, readlink, (const char *, char *, size_t)) \
    X(ssize_t, readlinkat, (int, const char *, char *, size_t)) \
    X(long, syscall, (long, ...)) \
    X(int, close, (int)) \
    X(int, close_range, (unsigned, unsigned, int)) \
    X(void, closefrom, (int)) \
    X(int, dup2, (int, int)) \
    X(int, dup3, (int, int, int)) \
    X(int, truncate, (const char *, off_t)) \
    X(int, truncate64, (const char *, off64_t)) \
    X(int, rename, (const char *, const char *)) \
    X(int, renameat, (int, const char *, int, const char *)) \
    X(int, renameat2, (int, const char *, int, const char *, unsigned)) \
    X(int, unlink, (const char *)) \
    X(int, unlinkat, (int, const char *, int)) \
    X(int, rmdir, (const char *)) \
    X(int, remove, (const char *)) \
    X(int, link, (const char *, const char *)) \
    X(int, linkat, (int, const char *, int, const char *, int)) \
    X(int, symlink, (const char *, const char *)) \
    X(int, symlinkat, (const char *, int, const char *)) \
    X(int, mkdir, (const char *, mode_t)) \
    X(int, mkdirat, (int, const char *, mode_t)) \
    X(int, mknod, (const char *, mode_t, dev_t)) \
    X(int, mknodat, (int, const char *, mode_t, dev_t)) \
    X(int, mkfifo, (const char *, mode_t)) \
    X(int, mkfifoat, (int, const char *, mode_t)) \
    X(int, bind, (int, const struct sockaddr *, socklen_t)) \
    X(int, mkstemp, (char *)) \
    X(int, mkstemp64, (char *)) \
    X(int, mkostemp, (char *, int)) \
    X(int, mkostemp64, (char *, int)) \
    X(int, mkstemps, (char *, int)) \
    X(int, mkstemps64, (char *, int)) \
    X(int, mkostemps, (char *, int, int)) \
    X(int, mkostemps64, (char *, int, int)) \
    X(char *, mkdtemp, (char *)) \
    X(int, chmod, (const char *, mode_t)) \
    X(int, fchmodat, (int, const char *, mode_t, int)) \
    X(int, chown, (const char *, uid_t, gid_t)) \
    X(int, lchown, (const char *, uid_t, gid_t)) \
    X(int, fchownat, (int, const char *, uid_t, gid_t, int)) \
    X(int, utime, (const char *, const struct utimbuf *)) \
    X(int, utimes, (const char *, const struct timeval *)) \
    X(int, lutimes, (const char *, const struct timeval *)) \
    X(int, futimesat, (int, const char *, const struct timeval *)) \
    X(int, utimensat, (int, const char *, const struct timespec *, int)) \
    X(int, setxattr, (const char *, const char *, const void *, size_t, int)) \
    X(int, lsetxattr, (const char *, const char *, const void *, size_t, int)) \
    X(int, removexattr, (const char *, const char *)) \
    X(int, lremovexattr, (const char *, const char *)) \
    X(int, ftruncate, (int, off_t)) \
    X(int, ftruncate64, (int, off64_t)) \
    X(int, futimens, (int, const struct timespec *)) \
    X(int, fchmod, (int, mode_t)) \
    X(int, fchown, (int, uid_t, gid_t)) \
    X(int, fsetxattr, (int, const char *, const void *, size_t, int)) \
    X(int, fremovexattr, (int, const char *)) \
    X(int, chdir, (const char *)) \
    X(int, fchdir, (int)) \
    X(int, chroot, (const char *)) \
    X(int, unshare, (int)) \
    X(int, setns, (int, int)) \
    X(void *, mmap, (void *, size_t, int, int, int, off_t)) \
    X(void *, mmap64, (void *, size_t, int, int, int, off64_t)) \
    X(int, munmap, (void *, size_t)) \
    X(void *, mremap, (void *, size_t, size_t, int, ...)) \
    X(int, mprotect, (void *, size_t, int)) \
    X(int, pkey_mprotect, (void *, size_t, int, int)) \
    X(int, madvise, (void *, size_t, int)) \
    X(void *, shmat, (int, const void *, int)) \
    X(int, shmdt, (const void *)) \
    X(int, dlclose, (void *)) \
    X(DIR *, opendir, (const char *)) \
    X(DIR *, fdopendir, (int)) \
    X(struct dirent *, readdir, (DIR *)) \
    X(struct dirent64 *, readdir64, (DIR *)) \
    X(int, readdir_r, (DIR *, struct dirent *, struct dirent **)) \
    X(int, readdir64_r, (DIR *, struct dirent64 *, struct dirent64 **)) \
    X(int, closedir, (DIR *)) \
    X(int, dirfd, (DIR *)) \
    X(int, scandir, (const char *, struct dirent ***, int (*)(const struct dirent *), \
                     int (*)(const struct dirent **, const struct dirent **))) \
    X(int, scandir64, (const char *, struct dirent64 ***, int (*)(const struct dirent64 *), \
                       int (*)(const struct dirent64 **, const struct dirent64 **))) \
    X(int, scandirat, (int, const char *, struct dirent ***, int (*)(const struct dirent *), \
                       int (*)(const struct dirent **, const struct dirent **))) \
    X(int, scandirat64, (int, const char *, struct dirent64 ***, \
                         int (*)(const struct dirent64 *), \
                         int (*)(const struct dirent64 **, const struct dirent64 **)))

#define SHIM_CALLS(Y)

struct shim_real {
#define X(ret, name, args) ret (*name) args;
    SHIM_HOOKS(X)
    SHIM_CALLS(X)
#undef X
};
extern struct shim_real shim_real __attribute__((visibility("hidden")));

/* The real function, resolved on first use if a hook runs before init
 * (another library's constructor, or dlsym itself calling malloc calling
 * open while init resolves the list). */
void *shim_dlsym_next(const char *name) __attribute__((visibility("hidden")));
#define REAL(name) \
    ({ \
        __typeof__(shim_real.name) f_ = load_relaxed(&shim_real.name); \
        if (!f_) { \
            f_ = (__typeof__(shim_real.name))shim_dlsym_next(#name); \
            store_relaxed(&shim_real.name, f_); \
        } \
        f_; \
    })

/* close() for the shim's own descriptors, also while init has not
 * resolved it yet. */
static inline int shim_close(int fd)
{
    return shim_real.close ? shim_real.close(fd) : (int)shim_sys_ret(shim_sys3(SYS_close, fd, 0, 0));
}

/* Resolve every real function (init.c, once). */
void shim_real_resolve(void) __attribute__((visibility("hidden")));

/* Hooks glibc's headers do not declare (fortify and the pre-2.33 stat ABI). */
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);
int __fxstat(int, int, struct stat *);
int __fxstat64(int, int, struct stat64 *);
int __fxstatat(int, int, const char *, struct stat *, int);
int __fxstatat64(int, int, const char *, struct stat64 *, int);
int __xstat(int, const char *, struct stat *);
int __xstat64(int, const char *, struct stat64 *);
int __lxstat(int, const char *, struct stat *);
int __lxstat64(int, const char *, struct stat64 *);

#endif
