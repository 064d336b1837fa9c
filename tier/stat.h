/* stat.h - conversions between struct stat / struct statx and the
 * fixed-width struct tier_stat stored in the index. */
#ifndef SHMCACHE_TIER_STAT_H
#define SHMCACHE_TIER_STAT_H

#include <stdbool.h>
#include <sys/stat.h>

#include "tier/layout.h"

void tier_stat_from(struct tier_stat *t, const struct stat *st);

/* Overwrite every field of st that describes the file with t's values. */
void tier_stat_to(const struct tier_stat *t, struct stat *st);

/* Overwrite the fields of a statx result (only those in stx_mask) with t's
 * values; the source's birth time is not recorded, so STATX_BTIME is
 * cleared from the mask. */
void tier_stat_to_statx(const struct tier_stat *t, struct statx *stx);

/* stat(2) for the daemon's looks at a source: statx for every basic field
 * but atime, converted to a struct stat (st_atim is whatever the kernel
 * holds, possibly not refreshed). A read through FUSE or NFS marks the
 * cached atime stale, so a plain fstat() after one costs a round trip to
 * the filesystem's server; without STATX_ATIME the kernel answers from its
 * attribute cache within the usual timeout, as it does for everything
 * else. dirfd, path and flags as for statx(2) (AT_EMPTY_PATH for a
 * descriptor). Returns 0, or -1 with errno. */
int tier_stat_noatime(int dirfd, const char *path, int flags, struct stat *st);

/* True when a and b describe the same unchanged file: dev, ino, size, mtime
 * and ctime equal. ctime moves on every write, chmod, chown and rename. */
bool tier_stat_same(const struct tier_stat *a, const struct tier_stat *b);

#endif
