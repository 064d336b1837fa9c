/* open.c - the open family: open, open64, openat, openat64, the fortified
 * __open_2 variants, creat and creat64. A servable open under a prefix
 * (open.h) is served from the tier when cached, and otherwise reported to
 * shmd as a miss after the real open; an open for writing marks its path
 * changed around the real call (change.h) and its descriptor for its
 * close (fdtab.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>

#include "preload/change.h"
#include "preload/client.h"
#include "preload/fdtab.h"
#include "preload/hook.h"
#include "preload/key.h"
#include "preload/open.h"

/* Which real function a hook stands for. */
enum open_kind { K_OPEN, K_OPEN64, K_OPENAT, K_OPENAT64, K_OPEN_2, K_OPEN64_2,
                 K_OPENAT_2, K_OPENAT64_2 };

static inline __attribute__((always_inline)) int real_open(enum open_kind k, int dirfd, const char *path, int flags, mode_t mode)
{
    struct shim_real *r = &shim_real;

    switch (k) {
    case K_OPEN:
        if (r->open)
            return r->open(path, flags, mode);
        break;
    case K_OPEN64:
        if (r->open64)
            return r->open64(path, flags, mode);
        break;
    case K_OPENAT:
        if (r->openat)
            return r->openat(dirfd, path, flags, mode);
        break;
    case K_OPENAT64:
        if (r->openat64)
            return r->openat64(dirfd, path, flags, mode);
        break;
    case K_OPEN_2:
        if (r->__open_2)
            return r->__open_2(path, flags);
        break;
    case K_OPEN64_2:
        if (r->__open64_2)
            return r->__open64_2(path, flags);
        break;
    case K_OPENAT_2:
        if (r->__openat_2)
            return r->__openat_2(dirfd, path, flags);
        break;
    case K_OPENAT64_2:
        if (r->__openat64_2)
            return r->__openat64_2(dirfd, path, flags);
        break;
    }
    /* not resolved yet (a hook re-entered from init): the system call */
    if (k == K_OPEN || k == K_OPEN64 || k == K_OPEN_2 || k == K_OPEN64_2)
        dirfd = AT_FDCWD;
    return (int)shim_sys_ret(shim_sys6(SYS_openat, dirfd, (long)path, flags | SHIM_O_LARGEFILE,
                                       mode, 0, 0));
}

/* The part of an open that needs path buffers, kept out of line so the
 * common pass-through open has a small stack frame. maybe: from
 * shim_open_maybe, for a servable open. */
__attribute__((noinline)) static int open_slow(struct hook *h, enum open_kind k, int dirfd,
                                               const char *path, int flags, mode_t mode,
                                               enum shim_open_class c, int maybe)
{
    char key[PATH_KEY_SIZE];
    bool notify;
    int fd;

    if (c == SHIM_OPEN_MODIFY) {
        struct shim_change ch;
        shim_change_begin(&ch, dirfd, path, shim_change_how_open(flags));
        hook_call(h);
        fd = real_open(k, dirfd, path, flags, mode);
        hook_called(h);
        uint64_t tag = shim_change_end(&ch);
        if (fd >= 0 && (flags & O_ACCMODE) != O_RDONLY)
            shim_fd_track_write(fd, tag);
        return fd;
    }
    int len, err;
    fd = shim_serve_path(dirfd, path, maybe, flags, key, &len, &notify, &err);
    if (fd >= 0)
        return fd; /* a hit: errno as the caller had it */
    if (fd == SHIM_SERVE_NEGATIVE) {
        h->err = err;
        return -1;
    }
    hook_call(h);
    fd = real_open(k, dirfd, path, flags, mode);
    hook_called(h);
    if (len >= 0 && fd >= 0 && notify)
        shim_notify_miss(key, len, fd, flags);
    else if (len >= 0 && fd < 0 && (h->err == ENOENT || h->err == ENOTDIR))
        shim_notify_stat(key, len); /* record that it does not exist */
    return fd;
}

static inline int open_common(enum open_kind k, int dirfd, const char *path, int flags,
                              mode_t mode)
{
    struct hook h;

    if (!hook_enter(&h))
        return real_open(k, dirfd, path, flags, mode);
    enum shim_open_class c = shim_open_class(flags);
    int maybe = c == SHIM_OPEN_SERVE ? shim_open_maybe(dirfd, path) : 1;
    if (c == SHIM_OPEN_PASS || maybe == 0) {
        hook_call(&h);
        return real_open(k, dirfd, path, flags, mode); /* its errno stands */
    }
    int fd = open_slow(&h, k, dirfd, path, flags, mode, c, maybe);
    return hook_leave(&h, fd);
}

/* Read mode only when the flags say it was passed, as musl does. */
#define OPEN_MODE(flags, ap, last) \
    mode_t mode = 0; \
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) { \
        va_list ap; \
        va_start(ap, last); \
        mode = va_arg(ap, mode_t); \
        va_end(ap); \
    }

SHIM_EXPORT int open(const char *path, int flags, ...)
{
    OPEN_MODE(flags, ap, flags);
    return open_common(K_OPEN, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
    OPEN_MODE(flags, ap, flags);
    return open_common(K_OPEN64, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags, ap, flags);
    return open_common(K_OPENAT, dirfd, path, flags, mode);
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags, ap, flags);
    return open_common(K_OPENAT64, dirfd, path, flags, mode);
}

/* Fortified opens carry no mode; with O_CREAT the real one aborts, as it
 * must, so those go straight to it. */
SHIM_EXPORT int __open_2(const char *path, int flags)
{
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
        return real_open(K_OPEN_2, AT_FDCWD, path, flags, 0);
    return open_common(K_OPEN_2, AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int __open64_2(const char *path, int flags)
{
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
        return real_open(K_OPEN64_2, AT_FDCWD, path, flags, 0);
    return open_common(K_OPEN64_2, AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
        return real_open(K_OPENAT_2, dirfd, path, flags, 0);
    return open_common(K_OPENAT_2, dirfd, path, flags, 0);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
        return real_open(K_OPENAT64_2, dirfd, path, flags, 0);
    return open_common(K_OPENAT64_2, dirfd, path, flags, 0);
}

SHIM_EXPORT int creat(const char *path, mode_t mode)
{
    return open_common(K_OPEN, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

SHIM_EXPORT int creat64(const char *path, mode_t mode)
{
    return open_common(K_OPEN64, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
