/* hash.c - tier_hash: a MurmurHash3-style 64-bit hash over 8-byte words.
 *
 * Two multiplies per word and the murmur finaliser: paths of 50-150 bytes
 * hash in a few tens of nanoseconds, which matters because every open under a
 * prefix hashes its path once. Words are assembled byte by byte in
 * little-endian order so the result does not depend on host endianness or
 * alignment. */
#include <stdbool.h>
#include <string.h>

#include "tier/hash.h"
#include "tier/word.h"

#define C1 0x87c37b91114253d5ULL
#define C2 0x4cf5ad432745937fULL

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

/* The n (< 8) bytes at p as a little-endian word. */
static inline uint64_t load_tail(const unsigned char *p, size_t n)
{
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

static inline uint64_t mix_word(uint64_t h, uint64_t w)
{
    w *= C1;
    w = rotl64(w, 31);
    w *= C2;
    h ^= w;
    return rotl64(h, 27) * 5 + 0x52dce729;
}

/* Both hashes: the last partial word read whole when the key is padded
 * (zeros after it, tier/hash.h), byte by byte otherwise. Inlined into each
 * with padded a constant, so the key's hash has no byte loop. */
static inline uint64_t hash_words(uint64_t seed, const unsigned char *p, size_t n, bool padded)
{
    uint64_t h = seed ^ ((uint64_t)n * C2);
    size_t i = 0;

    for (; i + 8 <= n; i += 8)
        h = mix_word(h, load_le64(p + i));
    if (i < n)
        h = mix_word(h, padded ? load_le64(p + i) : load_tail(p + i, n - i));
    return fmix64(h ^ n);
}

uint64_t tier_hash_key(uint64_t seed, const void *key, size_t n)
{
    return hash_words(seed, key, n, true);
}

uint64_t tier_hash(uint64_t seed, const void *data, size_t n)
{
    return hash_words(seed, data, n, false);
}
