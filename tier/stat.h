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
 * values; STATX_BTIME is cleared from the mask when t has no birth time. */
void tier_stat_to_statx(const struct tier_stat *t, struct statx *stx);

/* What a load asks statx for, and so what an entry can answer. */
#define TIER_STATX_RECORDED (STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID)

/* True when t holds all a statx request for mask can be answered with. */
bool tier_stat_statx_known(const struct tier_stat *t, unsigned mask);

/* A whole statx result from t, as the kernel answered the load's request
 * (pre: tier_stat_statx_known): the fields it answered then, the birth
 * time only when asked for, attributes and mount id. */
void tier_stat_fill_statx(const struct tier_stat *t, unsigned mask, struct statx *stx);

/* True when a and b describe the same unchanged file: dev, ino, size, mtime
 * and ctime equal. ctime moves on every write, chmod, chown and rename. */
bool tier_stat_same(const struct tier_stat *a, const struct tier_stat *b);

#endif
