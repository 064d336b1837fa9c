/* mm.c - calls that may take readable memory away from the program:
 * munmap, mremap, mprotect without PROT_READ or PROT_WRITE, pkey_mprotect, mmap with
 * MAP_FIXED (over what was there), madvise(MADV_GUARD_INSTALL), shmat with
 * SHM_REMAP, shmdt and dlclose. (Not brk and sbrk: libc's own allocator
 * moves the break without them, and hooking them from inside an allocator
 * would be a trap.) Around each, the
 * chunks the shim found readable are forgotten (readable.h), before the
 * call (so a check racing it asks the kernel) and after it (so nothing
 * found readable in between survives). Nothing else changes: these hooks
 * neither read nor write the program's memory.
 *
 * They never start init (a memory allocator may call them holding its own
 * lock, and init allocates), and forget whatever the state (one atomic
 * add). They can also run before init has resolved the real functions (a
 * malloc that maps memory while dlsym runs): then the system call itself. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/hook.h"
#include "preload/readable.h"
#include "preload/sys.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif
#ifndef SHM_REMAP
#define SHM_REMAP 040000
#endif

/* The real function when resolved, else fallback (an expression). */
#define REAL_OR(name, fallback, ...) \
    (load_relaxed(&shim_real.name) ? shim_real.name(__VA_ARGS__) : (fallback))

/* Forget around call when cond; the real call's result and errno stand
 * (forgetting touches neither). */
#define FORGET_AROUND(cond, call) \
    do { \
        if (!(cond)) \
            return call; \
        shim_readable_forget(); \
        __typeof__(call) r_ = call; \
        shim_readable_forget(); \
        return r_; \
    } while (0)

#define SYS_PTR(r) ((void *)shim_sys_ret(r))

SHIM_EXPORT void *mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
    FORGET_AROUND(flags & MAP_FIXED,
                  REAL_OR(mmap, SYS_PTR(shim_sys6(SYS_mmap, (long)a, (long)n, prot, flags, fd, off)),
                          a, n, prot, flags, fd, off));
}

SHIM_EXPORT void *mmap64(void *a, size_t n, int prot, int flags, int fd, off64_t off)
{
    FORGET_AROUND(flags & MAP_FIXED,
                  REAL_OR(mmap64, SYS_PTR(shim_sys6(SYS_mmap, (long)a, (long)n, prot, flags, fd, off)),
                          a, n, prot, flags, fd, off));
}

SHIM_EXPORT int munmap(void *a, size_t n)
{
    FORGET_AROUND(1, REAL_OR(munmap, (int)shim_sys_ret(shim_sys3(SYS_munmap, a, n, 0)), a, n));
}

/* The new address is read only when MREMAP_FIXED says it was passed. */
SHIM_EXPORT void *mremap(void *a, size_t old, size_t n, int flags, ...)
{
    void *to = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        to = va_arg(ap, void *);
        va_end(ap);
    }
    FORGET_AROUND(1, REAL_OR(mremap,
                             SYS_PTR(shim_sys6(SYS_mremap, (long)a, (long)old, (long)n, flags,
                                               (long)to, 0)),
                             a, old, n, flags, to));
}

SHIM_EXPORT int mprotect(void *a, size_t n, int prot)
{
    FORGET_AROUND((prot & (PROT_READ | PROT_WRITE)) != (PROT_READ | PROT_WRITE),
                  REAL_OR(mprotect, (int)shim_sys_ret(shim_sys3(SYS_mprotect, a, n, prot)), a, n,
                          prot));
}

SHIM_EXPORT int pkey_mprotect(void *a, size_t n, int prot, int pkey)
{
    FORGET_AROUND(1, REAL_OR(pkey_mprotect,
                             (int)shim_sys_ret(shim_sys6(SYS_pkey_mprotect, (long)a, (long)n, prot,
                                                         pkey, 0, 0)),
                             a, n, prot, pkey));
}

SHIM_EXPORT int madvise(void *a, size_t n, int advice)
{
    FORGET_AROUND(advice == MADV_GUARD_INSTALL,
                  REAL_OR(madvise, (int)shim_sys_ret(shim_sys3(SYS_madvise, a, n, advice)), a, n,
                          advice));
}

SHIM_EXPORT void *shmat(int id, const void *a, int flags)
{
    FORGET_AROUND(flags & SHM_REMAP, REAL(shmat)(id, a, flags));
}

SHIM_EXPORT int shmdt(const void *a)
{
    FORGET_AROUND(1, REAL(shmdt)(a));
}

SHIM_EXPORT int dlclose(void *handle)
{
    FORGET_AROUND(1, REAL(dlclose)(handle));
}
