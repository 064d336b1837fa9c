/* seqlock.h - the one sequence-lock protocol of shmcache, in the shape of
 * the Linux kernel's include/linux/seqlock.h.
 *
 * A seqcount is a 64-bit word in front of the data it guards: even while
 * the data is consistent, odd while a writer rewrites it. Used for the
 * index records (writer: shmd under its store lock, readers: every shim,
 * lock-free, in other processes) and for the shim's process-local table of
 * objects handed out (writers: any thread or signal handler of the
 * process, which claim the counter with a CAS).
 *
 *   reader                                 writer
 *   if (!read_seqcount_begin(&seq, &s))    write_seqcount_begin(&seq)
 *       give up or retry                   ... relaxed stores of the data ...
 *   ... relaxed loads of the data ...      write_seqcount_end(&seq)
 *   if (read_seqcount_retry(&seq, s))
 *       retry: the copy may be torn
 *
 * Limits, as in the kernel: a reader may see torn data and must not act on
 * it before the retry check (copy first, decide after); readers must bound
 * their retries, because the writer is another process that may be stopped
 * or killed mid-write: after SEQ_READ_TRIES attempts a reader gives up (a
 * miss: never wait for a writer). 64 bits never wrap. Writers of one
 * seqcount must exclude each other (the store lock, or the CAS of
 * write_seqcount_try_begin). */
#ifndef SHMCACHE_SEQLOCK_H
#define SHMCACHE_SEQLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "tier/atomic.h"

/* The one retry policy: attempts of a reader before it gives up. Each
 * failed attempt (writer inside, or data changed under the copy) pauses
 * with cpu_relax(). */
#define SEQ_READ_TRIES 4

/* Start a read. Returns false (after a pause) when a writer is inside: the
 * caller retries or gives up. *start is the value to check at the end. */
static inline bool read_seqcount_begin(const uint64_t *seq, uint64_t *start)
{
    uint64_t s = load_acquire(seq);
    if (s & 1) {
        cpu_relax();
        return false;
    }
    *start = s;
    return true;
}

/* End a read: true when the data read since read_seqcount_begin may be
 * torn (a writer came by), so the copy must be discarded. */
static inline bool read_seqcount_retry(const uint64_t *seq, uint64_t start)
{
    fence_acquire(); /* the data loads above happen before the recheck */
    if (load_relaxed(seq) == start)
        return false;
    cpu_relax();
    return true;
}

/* True when the data has not been rewritten since a read that began at
 * start (a cheap recheck long after the copy, e.g. after opening what the
 * copy named). */
static inline bool read_seqcount_unchanged(const uint64_t *seq, uint64_t start)
{
    return load_acquire(seq) == start;
}

/* Open a write. pre: no other writer of seq (the caller's lock). */
static inline void write_seqcount_begin(uint64_t *seq)
{
    store_relaxed(seq, load_relaxed(seq) + 1);
    fence_release(); /* the odd value is visible before any data store */
}

/* Open a write where writers are not otherwise excluded (threads and
 * signal handlers of one process). Returns false when another writer is
 * inside: the caller skips its write. */
static inline bool write_seqcount_try_begin(uint64_t *seq)
{
    uint64_t s = load_relaxed(seq);
    if ((s & 1) || !cas_acquire(seq, &s, s + 1))
        return false;
    fence_release();
    return true;
}

/* Close a write: the data stores above are visible before the even value. */
static inline void write_seqcount_end(uint64_t *seq)
{
    store_release(seq, load_relaxed(seq) + 1);
}

#endif
