/* fdtag.h - the word the shim keeps per descriptor number (fdtab.c), and
 * the tag a modifying open returns for it, in one place:
 *
 *   bit  63      FDTAG_OURS     one of the shim's own descriptors (the
 *                               instance directory, the miss socket): if the
 *                               host closes it, the shim stops using it
 *   bit  62      FDTAG_WRITER   opened for writing through the shim: the
 *                               tag below is exact (0: no cached path);
 *                               without it, descriptor-modifying calls ask
 *                               /proc where the file is
 *   bits 32-61   attach number  which index the bucket belongs to
 *   bit  25      FDTAG_EPOCH    a cached path, but no index knew its bucket
 *                               at the open: its close marks the epoch
 *   bits 0-24    1 + bucket     of a path opened for writing: its close
 *                               marks that bucket changed again
 *
 * A tag (returned by shim_change_end) is the word without the two flags at
 * the top; 0 when no cached path is concerned. */
#ifndef SHMCACHE_FDTAG_H
#define SHMCACHE_FDTAG_H

#include <stdint.h>

#include "tier/layout.h"

#define FDTAG_OURS          (1ULL << 63)
#define FDTAG_WRITER        (1ULL << 62)
#define FDTAG_TAG_MASK      (FDTAG_WRITER - 1)
#define FDTAG_ATTACH_SHIFT  32
#define FDTAG_ATTACH_MASK   ((1u << 30) - 1)
#define FDTAG_EPOCH         (1ULL << 25)
#define FDTAG_BUCKET_MASK   ((1u << 25) - 1)

_Static_assert(TIER_SLOTS_MAX < FDTAG_BUCKET_MASK, "1 + bucket fits the tag");

static inline uint64_t fdtag_make(uint32_t attach_seq, uint32_t bucket)
{
    return (uint64_t)(attach_seq & FDTAG_ATTACH_MASK) << FDTAG_ATTACH_SHIFT | (bucket + 1);
}

/* 1 + bucket, 0 when the tag names none. */
static inline uint32_t fdtag_bucket1(uint64_t tag)
{
    return (uint32_t)tag & FDTAG_BUCKET_MASK;
}

static inline uint32_t fdtag_attach(uint64_t tag)
{
    return (uint32_t)(tag >> FDTAG_ATTACH_SHIFT) & FDTAG_ATTACH_MASK;
}

#endif
