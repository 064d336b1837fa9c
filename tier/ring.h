/* ring.h - the miss ring in the shims' writable region (the protocol is
 * described with struct tier_ring in tier/layout.h): shims push the misses
 * the daemon's socket had no room for, shmd takes them. */
#ifndef SHMCACHE_TIER_RING_H
#define SHMCACHE_TIER_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tier/layout.h"

/* Every slot free for its first position (shmd, at creation). */
void tier_ring_init(struct tier_ring *r);

/* Push a miss: key (len bytes, padded with zeros to the next multiple of
 * 8, as the shim's keys are) and what (0, 1, 2 as in proto.h). False when
 * the ring is full or key does not fit a slot. Lock-free, never waits
 * (a bounded number of CAS attempts), async-signal-safe. */
bool tier_ring_push(struct tier_ring *r, uint32_t what, const char *key, size_t len);

/* What shmd takes out of a slot. */
struct tier_ring_miss {
    uint32_t what;
    size_t len;
    char key[TIER_RING_PATH + 8]; /* NUL and zero padding */
};

/* Take the miss at *head (shmd's own position, advanced here). Returns 1
 * with *out filled and checked (the path still has to be proven absolute
 * and normal: proto_miss_parse's rules), 0 when there is nothing to take
 * now, -1 when a slot was dropped: it failed its check, or it was claimed
 * and not published for TIER_RING_STUCK_NS (now_ns: CLOCK_MONOTONIC;
 * *stuck_since_ns: shmd's, 0 at first). */
int tier_ring_take(struct tier_ring *r, uint64_t *head, uint64_t now_ns, uint64_t *stuck_since_ns,
                   struct tier_ring_miss *out);

#endif
