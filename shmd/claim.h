/* claim.h - taking an instance for this daemon, and giving it back: the
 * instance directory, its lock, the index and the two sockets (see
 * claim.c). */
#ifndef SHMCACHE_SHMD_CLAIM_H
#define SHMCACHE_SHMD_CLAIM_H

#include <stdbool.h>

struct shmd;

/* Claim the instance d->opt.dir: create or open the directory (it must be
 * ours and 0700), take its lock, remove what a crashed daemon left, create
 * the index (sizes from d->opt, defaults from the tmpfs, written back into
 * d->opt) and bind miss.sock and ctl.sock.
 * pre: d->opt set; d->dirfd, lockfd, missfd and ctlfd are -1.
 * Returns 0, or -1 after logging why, with whatever was taken given back
 * (and nothing of another daemon's touched). */
int claim_instance(struct shmd *d);

/* Give back what claim_instance took: every object, the index, the
 * sockets, the directory if empty, and last the lock. unmap false leaves
 * the index mapped and the store's memory allocated, for threads that may
 * still read them (the process is about to exit without them).
 * pre: no thread writes the store any more. */
void claim_release(struct shmd *d, bool unmap);

#endif
