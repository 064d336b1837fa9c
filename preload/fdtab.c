/* fdtab.c - the descriptor table and the hooks that end descriptors:
 * close, close_range, closefrom, dup2 and dup3 (over an open number).
 *
 * A flat array indexed by fd (the word: fdtag.h), lazily backed by zero
 * pages; descriptors above FD_MAX are simply not tracked (then only
 * revalidation bounds staleness). A descriptor's end is handled in two
 * steps around the real call. Before it, the word is taken (exchanged for
 * 0, so a concurrent open that gets the same number keeps its own), a
 * descriptor of the shim's own that the host closes is forgotten (its
 * number is the host's from then on), and a write descriptor of a cached
 * path marks that path in flight. After it, the mark is closed, so what
 * was written is never served once the writer has closed (close-to-open
 * consistency), not even to a process that saw the close itself (a lock
 * released by it). A vfork child shares this table but not the
 * descriptors: its closes change nothing here. */
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

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define FD_MAX 65536

static uint64_t g_fdinfo[FD_MAX];
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

void shim_fd_track_write(int fd, uint64_t tag)
{
    if (fd < 0 || fd >= FD_MAX || shim_in_vfork_child())
        return;
    uint64_t v = load_relaxed(&g_fdinfo[fd]);
    store_relaxed(&g_fdinfo[fd], (v & FDTAG_OURS) | FDTAG_WRITER | (tag & FDTAG_TAG_MASK));
    note_hi(fd);
}

uint64_t shim_fd_word(int fd)
{
    return fd >= 0 && fd < FD_MAX ? load_relaxed(&g_fdinfo[fd]) : 0;
}

/* Take the word of fd before a call that ends it; forget our own. */
static uint64_t take(unsigned fd)
{
    uint64_t v = exchange_relaxed(&g_fdinfo[fd], 0);
    if (v & FDTAG_OURS)
        shim_attach_fd_lost((int)fd);
    return v;
}

void shim_fd_end_begin(int fd, struct shim_fd_end *e)
{
    e->word = 0;
    e->marked = false;
    if (fd < 0 || fd >= FD_MAX || !load_relaxed(&g_fdinfo[fd]) || shim_in_vfork_child())
        return; /* the common case: a plain load */
    e->word = take((unsigned)fd);
    if (e->word & FDTAG_TAG_MASK) {
        shim_tag_begin(&e->mark, e->word & FDTAG_TAG_MASK);
        e->marked = true;
    }
}

void shim_fd_end_done(int fd, struct shim_fd_end *e, bool ended)
{
    /* a call that did not end fd (dup2 onto it failed): the writer's tag
     * stays (the number is still its descriptor) */
    if (!ended && (e->word & ~FDTAG_OURS))
        fetch_or_relaxed(&g_fdinfo[fd], e->word & ~FDTAG_OURS);
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

/* Ending a range: every tracked number in it is taken; if any was a write
 * descriptor of a cached path, the whole tree is marked around the call
 * (one mark for many paths: ranges are closed by daemons and before exec,
 * rarely with files just written). */
static bool range_begin(unsigned lo, unsigned hi, struct shim_mark *m)
{
    unsigned top = load_relaxed(&g_fd_hi);
    bool written = false;

    for (unsigned fd = lo; fd <= hi && fd < top; fd++)
        if (load_relaxed(&g_fdinfo[fd]) && (take(fd) & FDTAG_TAG_MASK))
            written = true;
    if (written)
        shim_tag_begin(m, FDTAG_EPOCH);
    return written;
}

SHIM_EXPORT int close_range(unsigned lo, unsigned hi, int flags)
{
    struct hook h;
    struct shim_mark m;

    /* only calls that will close (the kernel checks nothing else first) */
    if ((flags & CLOSE_RANGE_CLOEXEC) || (flags & ~(int)(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) ||
        lo > hi || !hook_enter(&h))
        return REAL(close_range)(lo, hi, flags);
    if (shim_in_vfork_child()) {
        hook_call(&h);
        return REAL(close_range)(lo, hi, flags);
    }
    bool marked = range_begin(lo, hi, &m);
    hook_call(&h);
    int r = REAL(close_range)(lo, hi, flags);
    hook_called(&h);
    if (marked)
        shim_tag_end(&m);
    return hook_leave(&h, r);
}

SHIM_EXPORT void closefrom(int lo)
{
    struct hook h;
    struct shim_mark m;

    if (lo < 0 || !hook_enter(&h) || shim_in_vfork_child()) {
        REAL(closefrom)(lo);
        return;
    }
    bool marked = range_begin((unsigned)lo, UINT_MAX, &m);
    hook_call(&h);
    REAL(closefrom)(lo);
    hook_called(&h);
    if (marked)
        shim_tag_end(&m);
    hook_leave(&h, 0);
}

/* dup2/dup3 over an open number end what was there (if it succeeds). */
SHIM_EXPORT int dup2(int old, int new)
{
    struct hook h;
    struct shim_fd_end e;

    if (!shim_fd_word(new) || old == new || !hook_enter(&h))
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

    if (!shim_fd_word(new) || old == new || !hook_enter(&h))
        return REAL(dup3)(old, new, flags);
    shim_fd_end_begin(new, &e);
    hook_call(&h);
    int r = REAL(dup3)(old, new, flags);
    hook_called(&h);
    shim_fd_end_done(new, &e, r >= 0);
    return hook_leave(&h, r);
}
