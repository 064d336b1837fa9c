/* debug.h - the daemon's internal checks, in mimalloc's manner
 * (mi_assert_internal, MI_DEBUG levels):
 *   SHMCACHE_DEBUG 0  release builds: no checks;
 *                  1  cheap asserts: the store lock held, a record index in
 *                     bounds, an even sequence after a write;
 *                  2  also store_validate(), the whole-index invariant
 *                     check, after every mutation of the index (the unit
 *                     tests and the fuzzers build with 2).
 * A failed check prints the condition and where, then aborts: only ever in
 * shmd and its tests, never in libshmcache.so, which must not abort the
 * program it is loaded into. */
#ifndef SHMCACHE_SHMD_DEBUG_H
#define SHMCACHE_SHMD_DEBUG_H

#ifndef SHMCACHE_DEBUG
#define SHMCACHE_DEBUG 0
#endif

/* Print "shmd: internal check failed: WHAT (FILE:LINE)" and abort. */
void shmd_check_failed(const char *what, const char *file, int line)
    __attribute__((noreturn, cold));

#if SHMCACHE_DEBUG >= 1
#define shmd_assert(cond) \
    ((cond) ? (void)0 : shmd_check_failed(#cond, __FILE__, __LINE__))
#else
#define shmd_assert(cond) ((void)0)
#endif

#endif
