/* readable.h - may the shim read a pointer the program passed?
 *
 * The kernel answers EFAULT for a path it cannot read; a hook that read the
 * path first would crash the program instead. So no hook reads a user
 * pointer before one of these says it may, and where they say it may not,
 * the hook makes the real call, which answers exactly what the kernel
 * answers (EFAULT, or ENAMETOOLONG for a path without a NUL in
 * TIER_PATH_MAX bytes). The common case costs no system call: the chunks
 * (4 KiB) found readable are remembered (readable.c). */
#ifndef SHMCACHE_READABLE_H
#define SHMCACHE_READABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tier/atomic.h"

#define SHIM_CHUNK_SHIFT 12
#define SHIM_CHUNK_SIZE (1u << SHIM_CHUNK_SHIFT)

/* The table of chunks found readable (readable.c: the entry format). */
#define SHIM_READABLE_SLOTS_SHIFT 10
#define SHIM_READABLE_GEN_BITS 20
#define SHIM_READABLE_GEN_MASK ((1ULL << SHIM_READABLE_GEN_BITS) - 1)
#define SHIM_READABLE_CHUNK_LIMIT (1ULL << (64 - SHIM_READABLE_GEN_BITS))
extern uint64_t shim_readable_chunks[1u << SHIM_READABLE_SLOTS_SHIFT]
    __attribute__((visibility("hidden")));
extern uint64_t shim_readable_gen __attribute__((visibility("hidden")));
bool shim_chunk_readable_slow(uint64_t chunk, uint64_t *slot, uint64_t gen)
    __attribute__((visibility("hidden")));

/* True when the chunk (address >> SHIM_CHUNK_SHIFT) can be read: one load
 * and a compare when it was found readable before. */
static inline bool shim_chunk_readable(uint64_t chunk)
{
    /* the generation is read before the kernel is asked: a forget in
     * between makes what the slow path stores stale at once */
    uint64_t gen = load_acquire(&shim_readable_gen) & SHIM_READABLE_GEN_MASK;
    uint64_t *slot = &shim_readable_chunks[(chunk * 0x9e3779b97f4a7c15ULL) >>
                                           (64 - SHIM_READABLE_SLOTS_SHIFT)];

    if (__builtin_expect(chunk + 1 < SHIM_READABLE_CHUNK_LIMIT &&
                         load_relaxed(slot) == ((chunk + 1) << SHIM_READABLE_GEN_BITS | gen), 1))
        return true;
    return shim_chunk_readable_slow(chunk, slot, gen);
}

/* True when the n bytes from p (n small: within two chunks at most) can be
 * read, the cheap way first. */
static inline bool shim_readable_short(const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    if (!p)
        return false;
    if (__builtin_expect((a & (SHIM_CHUNK_SIZE - 1)) + n <= SHIM_CHUNK_SIZE, 1))
        return shim_chunk_readable(a >> SHIM_CHUNK_SHIFT);
    return shim_chunk_readable(a >> SHIM_CHUNK_SHIFT) &&
           shim_chunk_readable((a + n - 1) >> SHIM_CHUNK_SHIFT);
}

/* Writable chunks: the same scheme, another table (a chunk found writable
 * was found by writing one byte of the caller's own buffer). */
extern uint64_t shim_writable_chunks[1u << SHIM_READABLE_SLOTS_SHIFT]
    __attribute__((visibility("hidden")));
bool shim_chunk_writable_slow(uint64_t chunk, uint64_t *slot, uint64_t gen, void *at)
    __attribute__((visibility("hidden")));

/* True when the n bytes at p (n > 0, a struct stat or a readlink buffer)
 * can be written. Call it only right before writing them all: to find a
 * new chunk writable, the kernel writes a random byte into it, inside
 * [p, p + n). Never faults. */
static inline bool shim_writable(void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p, end = a + n;
    uint64_t gen = load_acquire(&shim_readable_gen) & SHIM_READABLE_GEN_MASK;

    if (!p || n == 0 || end < a)
        return false;
    for (uint64_t c = a >> SHIM_CHUNK_SHIFT; c <= (end - 1) >> SHIM_CHUNK_SHIFT; c++) {
        uint64_t *slot = &shim_writable_chunks[(c * 0x9e3779b97f4a7c15ULL) >>
                                               (64 - SHIM_READABLE_SLOTS_SHIFT)];
        uintptr_t at = c << SHIM_CHUNK_SHIFT > a ? c << SHIM_CHUNK_SHIFT : a;
        if (!(c + 1 < SHIM_READABLE_CHUNK_LIMIT &&
              load_relaxed(slot) == ((c + 1) << SHIM_READABLE_GEN_BITS | gen)) &&
            !shim_chunk_writable_slow(c, slot, gen, (void *)at))
            return false;
    }
    return true;
}

/* The length of the NUL-terminated string at p when every byte of it up to
 * and including the NUL can be read and it is shorter than TIER_PATH_MAX;
 * -1 otherwise (p NULL or unreadable, or too long). Never faults. */
int shim_path_len(const char *p) __attribute__((visibility("hidden")));

/* True when the n bytes at p can be read. Never faults. */
bool shim_readable(const void *p, size_t n) __attribute__((visibility("hidden")));

/* The address space may have lost readable or writable memory (munmap,
 * mprotect, mremap, MAP_FIXED over a mapping, ...): forget every chunk
 * remembered, in both tables.
 * Called before and after such a call (mm.c). */
void shim_readable_forget(void) __attribute__((visibility("hidden")));

#endif
