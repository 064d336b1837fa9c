/* meta.h - one metadata load: recording a path's stat (and lstat, and a
 * symlink's target), or that it does not exist, as a record without an
 * object (the rules are at the top of meta.c). Run by the queue. */
#ifndef SHMCACHE_SHMD_META_H
#define SHMCACHE_SHMD_META_H

#include <stdbool.h>
#include <stddef.h>

#include "shmd/load.h"

struct shmd;

/* Record key's metadata (a normalised absolute path of len bytes, padded
 * as path_normalize leaves it), with list and a directory there its
 * listing too (tier/listing.h). Refusals are counted and logged as for
 * load_file; r tells the outcome. pre: d's store is created; any thread. */
void load_meta(struct shmd *d, const char *key, size_t len, bool list, struct load_result *r);

#endif
