/* miss.h - the receiving end of miss.sock (the datagram format is in
 * tier/proto.h). */
#ifndef SHMCACHE_SHMD_MISS_H
#define SHMCACHE_SHMD_MISS_H

struct shmd;

/* Receive miss datagrams until the socket's queue is empty, or at most
 * MISS_BATCH of them, and queue a load for each well-formed one from our
 * own user (or root). Every datagram is counted once: in the header's
 * misses_received, or in d->bad_messages. Every descriptor received is
 * either handed to the load queue or closed.
 * pre: called by one thread at a time (the main loop). */
void miss_drain(struct shmd *d);

/* Take what shims pushed to the miss ring when the socket was full
 * (tier/ring.h): checked as datagrams are, then queued (without a
 * descriptor). Main loop, every turn. */
void miss_ring_drain(struct shmd *d);

#endif
