/* word.h - 8 bytes of memory as a little-endian 64-bit word, whatever the
 * host's byte order and the address's alignment (the hash and the prefix
 * comparison work a word at a time). */
#ifndef SHMCACHE_WORD_H
#define SHMCACHE_WORD_H

#include <stdint.h>
#include <string.h>

/* The attributes let the prefix comparison, which may read a word past a
 * string's NUL (within readable memory, see tier/path.c), inline it. */
__attribute__((no_sanitize_address, always_inline)) static inline uint64_t load_le64(const void *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

#endif
