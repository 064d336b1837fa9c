/* stat.h - statx from the tier, shared by the statx hook and syscall()
 * (stat.c). */
#ifndef SHMCACHE_PRELOAD_STAT_H
#define SHMCACHE_PRELOAD_STAT_H

#include "preload/hook.h"

struct statx;

/* statx(dirfd, path, flags, mask, x) inside a hook (h entered): from the
 * tier when it knows, else real(...) and a notice. Returns the result;
 * h->err holds the errno to leave. */
int shim_statx(struct hook *h, int dirfd, const char *path, int flags, unsigned mask,
               struct statx *x, int (*real)(int, const char *, int, unsigned, struct statx *))
    __attribute__((visibility("hidden")));

#endif
