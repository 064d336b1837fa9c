/* stat.h - statx and the stat system calls from the tier, shared by the
 * hooks and syscall() (stat.c). */
#ifndef SHMCACHE_PRELOAD_STAT_H
#define SHMCACHE_PRELOAD_STAT_H

#include "preload/hook.h"

struct stat;
struct statx;

/* statx(dirfd, path, flags, mask, x) inside a hook (h entered): from the
 * tier when it knows, else real(...) and a notice. Returns the result;
 * h->err holds the errno to leave. */
int shim_statx(struct hook *h, int dirfd, const char *path, int flags, unsigned mask,
               struct statx *x, int (*real)(int, const char *, int, unsigned, struct statx *))
    __attribute__((visibility("hidden")));

/* syscall(nr, ...) for nr SYS_newfstatat (dirfd, path, st, flags), or
 * SYS_stat and SYS_lstat where they exist (path, st: dirfd AT_FDCWD, flags
 * AT_SYMLINK_NOFOLLOW for lstat, 0 for stat), inside a hook: from the tier
 * when it knows, else that very system call and a notice. Returns the
 * result; h->err holds the errno to leave. pre: flags has no AT_EMPTY_PATH
 * (the descriptor case is the kernel's). */
int shim_stat_syscall(struct hook *h, long nr, int dirfd, const char *path, struct stat *st,
                      int flags) __attribute__((visibility("hidden")));

#endif
