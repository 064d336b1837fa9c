/* access.h - access and readlink from the tier, shared by their hooks and
 * syscall() (access.c). */
#ifndef SHMCACHE_PRELOAD_ACCESS_H
#define SHMCACHE_PRELOAD_ACCESS_H

#include <stddef.h>

#include "preload/hook.h"

/* Inside a hook (h entered): from the tier when it decides, else real(...)
 * and a notice. Return the result; h->err holds the errno to leave. */
int shim_faccessat(struct hook *h, int dirfd, const char *path, int mode, int flags,
                   int (*real)(int, const char *, int, int)) __attribute__((visibility("hidden")));
long shim_readlinkat(struct hook *h, int dirfd, const char *path, char *buf, size_t n,
                     long (*real)(int, const char *, char *, size_t))
    __attribute__((visibility("hidden")));

#endif
