/* asan_compat.c - lets unmodified host programs run with a sanitized shim.
 *
 * The ASan runtime of gcc 12 and clang 14 still enforces C11's rule that
 * aligned_alloc's size be a multiple of the alignment, and aborts the
 * program otherwise; glibc and C17 accept any size, and coreutils' dd
 * relies on that. mk/hardening.mk builds this file as a shared library
 * preloaded before the runtime in the ASan integration run, so such a call
 * becomes posix_memalign (no size rule) in the runtime's allocator.
 *
 * Built as a program too (as every helper in tests/helpers is): then it checks the
 * one call it exists for and prints "ok". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

void *aligned_alloc(size_t alignment, size_t size)
{
    void *p = NULL;

    if (alignment < sizeof(void *))
        alignment = sizeof(void *);
    int e = posix_memalign(&p, alignment, size);
    if (e) {
        errno = e;
        return NULL;
    }
    return p;
}

int main(void)
{
    void *p = aligned_alloc(4096, 1000);
    if (!p || (unsigned long)p % 4096) {
        fprintf(stderr, "asan_compat: aligned_alloc(4096, 1000) failed\n");
        return 1;
    }
    free(p);
    puts("ok");
    return 0;
}
