/* fdtab.c - what the shim knows per descriptor number:
 *   bit 31      the descriptor is one of the shim's own (instance directory,
 *               miss socket): if the host closes it, stop using the number;
 *   bits 25-30  attach number the bucket below belongs to;
 *   bits 0-24   1 + invalidation bucket of a descriptor opened for writing
 *               on a cached path: its close bumps that bucket again, so what
 *               was written is never served once the writer has closed
 *               (close-to-open consistency).
 * A flat array indexed by fd, lazily backed by zero pages; descriptors above
 * FD_MAX are simply not tracked (then only revalidation bounds staleness). */
#include "preload/shim.h"
#include "tier/atomic.h"

#define FD_MAX 65536
#define OURS (1u << 31)
#define BUCKET_MASK ((1u << 25) - 1)

static uint32_t g_fdinfo[FD_MAX];
static unsigned g_fd_hi; /* one above the highest fd ever recorded */

static void note_hi(int fd)
{
    unsigned hi = load_relaxed(&g_fd_hi);
    while ((unsigned)fd + 1 > hi &&
           !__atomic_compare_exchange_n(&g_fd_hi, &hi, (unsigned)fd + 1, 0,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

void shim_fd_mark_ours(int fd, bool ours)
{
    if (fd < 0 || fd >= FD_MAX)
        return;
    if (ours) {
        __atomic_fetch_or(&g_fdinfo[fd], OURS, __ATOMIC_RELAXED);
        note_hi(fd);
    } else {
        __atomic_fetch_and(&g_fdinfo[fd], ~OURS, __ATOMIC_RELAXED);
    }
}

void shim_fd_track_write(int fd, uint32_t tag)
{
    if (fd < 0 || fd >= FD_MAX || !tag)
        return;
    uint32_t v = load_relaxed(&g_fdinfo[fd]);
    store_relaxed(&g_fdinfo[fd], (v & OURS) | (tag & ~OURS));
    note_hi(fd);
}

void shim_fd_closing(int fd)
{
    if (fd < 0 || fd >= FD_MAX)
        return;
    if (load_relaxed(&g_fdinfo[fd]) & OURS) {
        __atomic_fetch_and(&g_fdinfo[fd], ~OURS, __ATOMIC_RELAXED);
        shim_attach_fd_lost(fd);
    }
}

void shim_fd_closed(int fd)
{
    if (fd < 0 || fd >= FD_MAX || !(load_relaxed(&g_fdinfo[fd]) & ~OURS))
        return; /* the common case: a plain read only load, no store */
    uint32_t v = __atomic_fetch_and(&g_fdinfo[fd], OURS, __ATOMIC_RELAXED);
    if (v & BUCKET_MASK)
        shim_bump_tag(v & ~OURS);
}

void shim_fd_written(int fd)
{
    if (fd < 0 || fd >= FD_MAX)
        return;
    uint32_t v = load_relaxed(&g_fdinfo[fd]);
    if (v & BUCKET_MASK)
        shim_bump_tag(v & ~OURS);
}

void shim_fd_closing_range(unsigned lo, unsigned hi)
{
    unsigned top = load_relaxed(&g_fd_hi);
    for (unsigned fd = lo; fd <= hi && fd < top; fd++)
        shim_fd_closing((int)fd);
}

void shim_fd_closed_range(unsigned lo, unsigned hi)
{
    unsigned top = load_relaxed(&g_fd_hi);
    for (unsigned fd = lo; fd <= hi && fd < top; fd++)
        if (load_relaxed(&g_fdinfo[fd]))
            shim_fd_closed((int)fd);
}
