/* sys.h - system calls the shim issues without libc, and the kernel's own
 * values of the flags it passes them.
 *
 * Only for the moments libc cannot be used: while init resolves the real
 * functions (a hook re-entered from inside dlsym), and where a libc
 * function the shim needs is one it interposes. The shape of musl's
 * arch/<arch>/syscall_arch.h: the raw return value, -errno on failure, and
 * errno untouched. Architectures other than these two are refused here, in
 * one place, because the kernel's flag values below differ between them. */
#ifndef SHMCACHE_SYS_H
#define SHMCACHE_SYS_H

#include <errno.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define SHIM_O_LARGEFILE 0100000 /* the kernel's; glibc's O_LARGEFILE is 0 on 64-bit */
static inline long shim_sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ __volatile__("syscall"
                         : "=a"(ret)
                         : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__aarch64__)
#define SHIM_O_LARGEFILE 0400000 /* arm64's; 0100000 is O_NOFOLLOW there */
static inline long shim_sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ __volatile__("svc 0"
                         : "+r"(x0)
                         : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                         : "memory", "cc");
    return x0;
}
#else
#error "libshmcache.so knows the system call ABI and flag values of x86_64 and aarch64 only"
#endif

#define shim_sys3(n, a, b, c) shim_sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* As libc's wrappers do (musl's __syscall_ret): -1 with errno for a
 * failure, the value otherwise. For the stand-ins of real functions. */
static inline long shim_sys_ret(long r)
{
    if ((unsigned long)r > -4096UL) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

#endif
