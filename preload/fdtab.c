/* fdtab.c - the descriptor table and the hooks that end descriptors:
 * close, close_range, closefrom, dup2 and dup3 (over an open number).
 *
 * A flat array indexed by fd (the word: fdtag.h), lazily backed by zero
 * pages; descriptors above FD_MAX are simply not tracked (then only
 * revalidation bounds staleness). A descriptor's end is handled in two
 * steps around the real call: before it, a descriptor of the shim's own
 * that the host closes is forgotten (its number is the host's from then
 * on), and a write descriptor of a cached path marks that path in flight;
 * after it, the mark is closed, so what was written is never served once
 * the writer has closed (close-to-open consistency), not even to a process
 * that saw the close itself (a lock released by it). */
#include <limits.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/attach.h"
#include "preload/change.h"
#include "preload/fdtab.h"
#include "preload/fdtag.h"
#include "preload/hook.h"
#include "preload/sys.h"
#include "tier/atomic.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define FD_MAX 65536

static uint32_t g_fdinfo[FD_MAX];
static unsigned g_fd_hi; /* one above the highest fd ever recorded */

static void note_hi(int fd)
{
    unsigned hi = load_relaxed(&g_fd_hi);
    while ((unsigned)fd + 1 > hi && !cas_relaxed(&g_fd_hi, &hi, (unsigned)fd + 1))
        ;
}

void shim_fd_mark_ours(int fd, bool ours)
{
    if (fd < 0 || fd >= FD_MAX)
        return;
    if (ours) {
        fetch_or_relaxed(&g_fdinfo[fd], FDTAG_OURS);
        note_hi(fd);
    } else {
        fetch_and_relaxed(&g_fdinfo[fd], ~FDTAG_OURS);
    }
}

void shim_fd_track_write(int fd, uint32_t tag)
{
    if (fd < 0 || fd >= FD_MAX)
        return;
    uint32_t v = load_relaxed(&g_fdinfo[fd]);
    store_relaxed(&g_fdinfo[fd], (v & FDTAG_OURS) | FDTAG_WRITER | (tag & FDTAG_TAG_MASK));
    note_hi(fd);
}

uint32_t shim_fd_word(int fd)
{
    return fd >= 0 && fd < FD_MAX ? load_relaxed(&g_fdinfo[fd]) : 0;
}

void shim_fd_end_begin(int fd, struct shim_fd_end *e)
{
    e->marked = false;
    if (fd < 0 || fd >= FD_MAX)
        return;
    uint32_t v = load_relaxed(&g_fdinfo[fd]);
    if (!v)
        return; /* the common case: a plain load, no store */
    if (v & FDTAG_OURS) {
        fetch_and_relaxed(&g_fdinfo[fd], ~FDTAG_OURS);
        shim_attach_fd_lost(fd);
    }
    if (fdtag_bucket1(v)) {
        shim_tag_begin(&e->mark, v & FDTAG_TAG_MASK);
        e->marked = true;
    }
}

void shim_fd_end_done(int fd, struct shim_fd_end *e, bool ended)
{
    if (ended && fd >= 0 && fd < FD_MAX && load_relaxed(&g_fdinfo[fd]) & ~FDTAG_OURS)
        fetch_and_relaxed(&g_fdinfo[fd], FDTAG_OURS);
    if (e->marked)
        shim_tag_end(&e->mark);
}

/* close(2) ends fd even when it fails (EINTR, EIO): Linux releases the
 * number first. */
SHIM_EXPORT int close(int fd)
{
    struct hook h;
    struct shim_fd_end e;

    /* the common case first: a number the table knows nothing of (or the
     * shim off): the real call, nothing else to do before or after */
    if (!shim_fd_word(fd) || !hook_enter(&h))
        return shim_close(fd);
    shim_fd_end_begin(fd, &e);
    hook_call(&h);
    int r = shim_close(fd);
    hook_called(&h);
    shim_fd_end_done(fd, &e, r == 0 || errno != EBADF);
    return hook_leave(&h, r);
}

/* Ending a range: every tracked number in it, one at a time (a write
 * descriptor's marks, each closed after the real call). */
static void range_begin(unsigned lo, unsigned hi)
{
    unsigned top = load_relaxed(&g_fd_hi);
    for (unsigned fd = lo; fd <= hi && fd < top; fd++) {
        uint32_t v = load_relaxed(&g_fdinfo[fd]);
        if (v & FDTAG_OURS) {
            fetch_and_relaxed(&g_fdinfo[fd], ~FDTAG_OURS);
            shim_attach_fd_lost((int)fd);
        }
    }
}

static void range_done(unsigned lo, unsigned hi)
{
    unsigned top = load_relaxed(&g_fd_hi);
    for (unsigned fd = lo; fd <= hi && fd < top; fd++) {
        uint32_t v = load_relaxed(&g_fdinfo[fd]);
        if (!(v & ~FDTAG_OURS))
            continue;
        store_relaxed(&g_fdinfo[fd], v & FDTAG_OURS);
        if (fdtag_bucket1(v)) {
            struct shim_mark m;
            shim_tag_begin(&m, v & FDTAG_TAG_MASK);
            shim_tag_end(&m);
        }
    }
}

SHIM_EXPORT int close_range(unsigned lo, unsigned hi, int flags)
{
    struct hook h;

    if (!hook_enter(&h) || (flags & CLOSE_RANGE_CLOEXEC))
        return REAL(close_range)(lo, hi, flags);
    range_begin(lo, hi);
    hook_call(&h);
    int r = REAL(close_range)(lo, hi, flags);
    hook_called(&h);
    if (r == 0)
        range_done(lo, hi);
    return hook_leave(&h, r);
}

SHIM_EXPORT void closefrom(int lo)
{
    struct hook h;

    if (!hook_enter(&h) || lo < 0) {
        REAL(closefrom)(lo);
        return;
    }
    range_begin((unsigned)lo, UINT_MAX);
    hook_call(&h);
    REAL(closefrom)(lo);
    hook_called(&h);
    range_done((unsigned)lo, UINT_MAX);
    hook_leave(&h, 0);
}

/* dup2/dup3 over an open number end what was there (if it succeeds). */
SHIM_EXPORT int dup2(int old, int new)
{
    struct hook h;
    struct shim_fd_end e;

    if (!hook_enter(&h) || old == new)
        return REAL(dup2)(old, new);
    shim_fd_end_begin(new, &e);
    hook_call(&h);
    int r = REAL(dup2)(old, new);
    hook_called(&h);
    shim_fd_end_done(new, &e, r >= 0);
    return hook_leave(&h, r);
}

SHIM_EXPORT int dup3(int old, int new, int flags)
{
    struct hook h;
    struct shim_fd_end e;

    if (!hook_enter(&h) || old == new)
        return REAL(dup3)(old, new, flags);
    shim_fd_end_begin(new, &e);
    hook_call(&h);
    int r = REAL(dup3)(old, new, flags);
    hook_called(&h);
    shim_fd_end_done(new, &e, r >= 0);
    return hook_leave(&h, r);
}
