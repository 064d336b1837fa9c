/* thread.h - joining the daemon's threads within a deadline. A loader or
 * the revalidator may be stuck in a hung filesystem (a dead NFS server, a
 * FUSE process that stopped answering); shutdown waits for them a bounded
 * time, then leaves them behind. */
#ifndef SHMCACHE_SHMD_THREAD_H
#define SHMCACHE_SHMD_THREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* pthread_join with a deadline in CLOCK_MONOTONIC ns. Returns true when t
 * was joined, false when it was still running at the deadline (then it is
 * neither joined nor detached). */
bool shmd_join_until(pthread_t t, uint64_t deadline_ns);

#endif
