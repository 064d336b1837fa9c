/* readable.c - which user memory the shim may read (see readable.h).
 *
 * A chunk (4 KiB, the smallest page) is checked by asking the kernel to
 * read its first 8 bytes: rt_sigprocmask with an invalid `how` copies the
 * new mask from user memory first and fails with EFAULT when it cannot,
 * then fails with EINVAL without changing anything. Chunks found readable
 * are remembered in a small direct-mapped table shared by the process's
 * threads, each entry one word: (chunk + 1) << GEN_BITS | generation, so
 * one load and one compare decide the common case, and a torn entry cannot
 * exist. Forgetting everything is one increment of the generation: every
 * entry of an older generation no longer matches.
 *
 * What makes a remembered chunk wrong is memory that stops being readable:
 * the program's own munmap, mremap, mprotect, MAP_FIXED mmap, shmdt,
 * madvise(MADV_GUARD_INSTALL) and dlclose go through hooks (mm.c) that
 * forget before and after the real call, so a check racing them either
 * sees the old generation or asks the kernel again. Not seen: memory
 * libc unmaps by itself (a large block after free, a dead thread's stack),
 * a raw munmap system call, a shrinking brk or sbrk, a file mapping
 * truncated under the program (SIGBUS), and protection keys changed with
 * WRPKRU. A child after fork starts afresh (init.c): MADV_DONTFORK memory
 * is not there. A pointer into such
 * memory is already a dangling pointer in the program; the shim may then
 * fault where the kernel would have answered EFAULT. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>

#include "preload/readable.h"
#include "preload/sys.h"
#include "tier/atomic.h"
#include "tier/layout.h"

#define SLOTS (1u << SHIM_READABLE_SLOTS_SHIFT) /* 1024 remembered chunks: 8 KiB */
#define GEN_BITS SHIM_READABLE_GEN_BITS
#define GEN_MASK SHIM_READABLE_GEN_MASK
#define CHUNK_LIMIT SHIM_READABLE_CHUNK_LIMIT /* chunk + 1 must fit above the gen */

uint64_t shim_readable_chunks[SLOTS];
uint64_t shim_writable_chunks[SLOTS];
uint64_t shim_readable_gen = 1; /* low GEN_BITS never 0: an empty entry never matches */

/* Ask the kernel. Anything but the EINVAL of a readable mask (EFAULT, or a
 * seccomp filter's refusal) counts as unreadable: the real call decides. */
static bool kernel_can_read(uintptr_t addr)
{
    long r = shim_sys6(SYS_rt_sigprocmask, -1, (long)addr, 0, 8, 0, 0);
    return r == -EINVAL;
}

bool shim_chunk_readable_slow(uint64_t chunk, uint64_t *slot, uint64_t gen)
{
    if (!kernel_can_read((uintptr_t)(chunk << SHIM_CHUNK_SHIFT)))
        return false;
    if (chunk + 1 < CHUNK_LIMIT) { /* above: kernel addresses, never remembered */
        store_relaxed(slot, (chunk + 1) << GEN_BITS | gen);
        /* a forget since gen was read, maybe a wrap that cleared the table
         * before this store: do not leave an entry that could match again */
        if ((load_acquire(&shim_readable_gen) & GEN_MASK) != gen)
            store_relaxed(slot, 0);
    }
    return true;
}

/* getrandom writes n bytes of the caller's buffer, or fails EFAULT without
 * a trace; GRND_NONBLOCK so it never waits (EAGAIN only before the
 * kernel's generator is seeded, early in boot: then not writable). */
bool shim_chunk_writable_slow(uint64_t chunk, uint64_t *slot, uint64_t gen, void *at)
{
    if (shim_sys3(SYS_getrandom, at, 1, GRND_NONBLOCK) != 1)
        return false;
    if (chunk + 1 < CHUNK_LIMIT) {
        store_relaxed(slot, (chunk + 1) << GEN_BITS | gen);
        if ((load_acquire(&shim_readable_gen) & GEN_MASK) != gen)
            store_relaxed(slot, 0);
    }
    return true;
}

int shim_path_len(const char *p)
{
    uintptr_t a = (uintptr_t)p;
    size_t total = 0;

    if (!p)
        return -1;
    for (;;) {
        if (!shim_chunk_readable(a >> SHIM_CHUNK_SHIFT))
            return -1;
        size_t room = SHIM_CHUNK_SIZE - (a & (SHIM_CHUNK_SIZE - 1));
        size_t n = strnlen((const char *)a, room); /* never reads past the chunk */
        total += n;
        if (n < room)
            return total < TIER_PATH_MAX ? (int)total : -1;
        if (total >= TIER_PATH_MAX)
            return -1;
        a += room;
    }
}

bool shim_readable(const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;

    if (!p || a + n < a)
        return false;
    if (n == 0)
        return true;
    for (uint64_t c = a >> SHIM_CHUNK_SHIFT; c <= (a + n - 1) >> SHIM_CHUNK_SHIFT; c++)
        if (!shim_chunk_readable(c))
            return false;
    return true;
}

void shim_readable_forget(void)
{
    uint64_t g = fetch_add_seqcst(&shim_readable_gen, 1) + 1;

    if ((g & GEN_MASK) == 0) {
        /* the generation wrapped: entries of 2^20 forgets ago would match
         * again; clear them and skip 0 */
        for (unsigned i = 0; i < SLOTS; i++) {
            store_relaxed(&shim_readable_chunks[i], 0);
            store_relaxed(&shim_writable_chunks[i], 0);
        }
        fetch_add_seqcst(&shim_readable_gen, 1);
    }
}
