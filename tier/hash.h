/* hash.h - the 64-bit hash that places paths in the index.
 *
 * Seeded per index (tier_header.hash_seed) so the table's layout cannot be
 * predicted from file names. Portable 64-bit arithmetic only: a 32-bit and a
 * 64-bit process compute the same value, as they must to share the index. */
#ifndef SHMCACHE_HASH_H
#define SHMCACHE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Returns the hash of the n bytes at p. Reads only those n bytes. */
uint64_t tier_hash(uint64_t seed, const void *p, size_t n);

/* The same value for a key: n bytes, then zero bytes up to the next
 * multiple of 8 (as path_normalize and the shim's keys leave it). Reads the
 * last word whole instead of byte by byte (every lookup hashes its key). */
uint64_t tier_hash_key(uint64_t seed, const void *key, size_t n);

#endif
