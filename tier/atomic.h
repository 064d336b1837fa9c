/* atomic.h - named-order atomics for memory shared between processes.
 *
 * Every cross-process or cross-thread ordering decision in shmcache goes
 * through one of these helpers, so `grep load_acquire` finds them all (the
 * mimalloc convention); no other file uses the __atomic builtins. They are
 * lock-free for the widths used here (1, 4 and 8 bytes, and pointers), so
 * they work on MAP_SHARED memory between unrelated processes as well as
 * between threads.
 *
 * Fields guarded by a seqlock (tier/seqlock.h) are read and written with the
 * relaxed helpers: the seqlock, not the access, provides the ordering, and
 * relaxed accesses keep ThreadSanitizer honest about what is intentionally
 * racy. The seq_cst helpers are for the two Dekker-style handshakes (a shim
 * entering an attachment against its reclaim; a change mark against a
 * lookup), where each side stores and then loads the other's word. */
#ifndef SHMCACHE_ATOMIC_H
#define SHMCACHE_ATOMIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define load_relaxed(p)          __atomic_load_n((p), __ATOMIC_RELAXED)
#define load_acquire(p)          __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define load_seqcst(p)           __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define store_relaxed(p, v)      __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define store_release(p, v)      __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define store_seqcst(p, v)       __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define exchange_relaxed(p, v)   __atomic_exchange_n((p), (v), __ATOMIC_RELAXED)
#define fetch_add_relaxed(p, v)  __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define fetch_add_seqcst(p, v)   __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define fetch_sub_release(p, v)  __atomic_fetch_sub((p), (v), __ATOMIC_RELEASE)
#define fetch_or_relaxed(p, v)   __atomic_fetch_or((p), (v), __ATOMIC_RELAXED)
#define fetch_and_relaxed(p, v)  __atomic_fetch_and((p), (v), __ATOMIC_RELAXED)
/* Compare-and-swap, strong. On failure *expp receives the current value
 * (relaxed). cas_relaxed for counters nobody orders against. */
#define cas_relaxed(p, expp, v) \
    __atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)
#define cas_acquire(p, expp, v) \
    __atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)
#define cas_acq_rel(p, expp, v) \
    __atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#define fence_acquire()          __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define fence_release()          __atomic_thread_fence(__ATOMIC_RELEASE)

/* Spin-wait hint inside a retry loop. */
#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* Copy n 64-bit words out of seqlock-guarded shared memory.
 * pre: src and dst 8-byte aligned. The copy may be torn; the caller
 * re-checks the sequence counter before trusting it. */
static inline void words_load_relaxed(uint64_t *dst, const uint64_t *src, size_t n)
{
    /* unrolled: a struct tier_stat (20 words) is copied on every lookup */
#pragma GCC unroll 20
    for (size_t i = 0; i < n; i++)
        dst[i] = load_relaxed(&src[i]);
}

/* Store n 64-bit words into seqlock-guarded shared memory (writer side). */
static inline void words_store_relaxed(uint64_t *dst, const uint64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_relaxed(&dst[i], src[i]);
}

#endif
