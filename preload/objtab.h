/* objtab.h - the objects this process was handed, so that fstat of such a
 * descriptor reports the source's stat, not the copy's (objtab.c). */
#ifndef SHMCACHE_OBJTAB_H
#define SHMCACHE_OBJTAB_H

#include <stdint.h>
#include <sys/stat.h>

#include "tier/index.h"

struct statx;

/* Remember (object dev, ino, ctime) -> e's source stat after a hit. */
void shim_obj_remember(uint64_t dev, const struct tier_entry *e)
    __attribute__((visibility("hidden")));
/* st (from the real fstat of fd, fd -1 when unknown) describes an object
 * handed out: replace it with the source's stat. Otherwise leave it. May
 * change errno. */
void shim_fix_stat(int fd, struct stat *st) __attribute__((visibility("hidden")));
void shim_fix_statx(int fd, struct statx *stx) __attribute__((visibility("hidden")));

#endif
