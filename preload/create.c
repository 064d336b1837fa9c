/* create.c - calls that make a path without going through a hooked symbol:
 * bind(2) of a Unix socket to a path, and the temp-name family (mkstemp,
 * mkostemp, mkstemps, mkostemps and their 64 names, mkdtemp), which glibc
 * makes with its internal __open and __mkdir. Each marks the path made as
 * a create (change.h), as mknod does: its "does not exist" and its
 * directory's stat must not be served once it exists.
 *
 * The temp-name family picks the name inside the call, so it cannot be
 * marked before. The marks are:
 *   - from before the call until after it, the template as written: its
 *     marks include its directory's (the parent of whatever name is made:
 *     its stat and listing), and through alias_of the directory's other
 *     name when a symlink leads to it;
 *   - after the call, the name made, once (shim_change_after).
 * Not the epoch, which would drop every entry of every prefix for each
 * temporary file, and mkstemp, write, rename is the usual way to replace a
 * file. What this leaves open is a "does not exist" recorded for the very
 * name picked, served in the moment between the kernel making it and the
 * mark after: only to a process that asked about that name before it was
 * picked (one of 62^6) and then found it in the directory's listing within
 * that moment. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "preload/change.h"
#include "preload/fdtab.h"
#include "preload/hook.h"
#include "preload/readable.h"

#define SUN_PATH_OFF offsetof(struct sockaddr_un, sun_path)

/* A path bind: the name as the kernel reads it (up to the first NUL or
 * the end of the address) marked around the call. pre: the family and
 * the first byte of the name were read. */
__attribute__((noinline)) static int bind_path(struct hook *h, int fd, const struct sockaddr *sa,
                                               socklen_t len)
{
    char path[sizeof(struct sockaddr_un) - SUN_PATH_OFF + 1];
    struct shim_change c;
    bool named = shim_readable(sa, len); /* else the kernel answers EFAULT */

    if (named) {
        memcpy(path, ((const struct sockaddr_un *)sa)->sun_path, len - SUN_PATH_OFF);
        path[len - SUN_PATH_OFF] = '\0';
        shim_change_begin(&c, AT_FDCWD, path, 0);
    }
    hook_call(h);
    int r = REAL(bind)(fd, sa, len);
    hook_called(h);
    if (named)
        shim_change_end(&c);
    return r;
}

/* Every other bind (another family, an abstract or autobound name, an
 * address the kernel refuses) goes straight to the kernel, after a compare
 * and a look at three bytes known readable. */
SHIM_EXPORT int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    const struct sockaddr *sa = addr.__sockaddr__;
    struct hook h;

    if (len <= SUN_PATH_OFF || len > sizeof(struct sockaddr_un) || !hook_enter(&h))
        return REAL(bind)(fd, sa, len);
    if (!shim_readable_short(sa, SUN_PATH_OFF + 1) || sa->sa_family != AF_UNIX ||
        ((const struct sockaddr_un *)sa)->sun_path[0] == '\0') {
        hook_call(&h);
        return REAL(bind)(fd, sa, len);
    }
    return hook_leave(&h, bind_path(&h, fd, sa, len));
}

/* After a call of the temp-name family: the template's marks closed, then
 * the name made (made: the template, now holding it; NULL when the call
 * failed) marked once, and its descriptor (fd >= 0) tracked as written. */
static void temp_made(struct shim_change *c, const char *made, int fd)
{
    shim_change_end(c);
    if (!made)
        return;
    uint64_t tag = shim_change_after(c, AT_FDCWD, made);
    if (fd >= 0)
        shim_fd_track_write(fd, tag);
}

#define TEMP_FD(tmpl, call) \
    do { \
        struct hook h_; \
        struct shim_change c_; \
        if (!hook_enter(&h_)) \
            return call; \
        shim_change_begin(&c_, AT_FDCWD, tmpl, 0); \
        hook_call(&h_); \
        int fd_ = call; \
        hook_called(&h_); \
        temp_made(&c_, fd_ >= 0 ? tmpl : NULL, fd_); \
        return hook_leave(&h_, fd_); \
    } while (0)

SHIM_EXPORT int mkstemp(char *t)
{
    TEMP_FD(t, REAL(mkstemp)(t));
}

SHIM_EXPORT int mkstemp64(char *t)
{
    TEMP_FD(t, REAL(mkstemp64)(t));
}

SHIM_EXPORT int mkostemp(char *t, int flags)
{
    TEMP_FD(t, REAL(mkostemp)(t, flags));
}

SHIM_EXPORT int mkostemp64(char *t, int flags)
{
    TEMP_FD(t, REAL(mkostemp64)(t, flags));
}

SHIM_EXPORT int mkstemps(char *t, int suffix_len)
{
    TEMP_FD(t, REAL(mkstemps)(t, suffix_len));
}

SHIM_EXPORT int mkstemps64(char *t, int suffix_len)
{
    TEMP_FD(t, REAL(mkstemps64)(t, suffix_len));
}

SHIM_EXPORT int mkostemps(char *t, int suffix_len, int flags)
{
    TEMP_FD(t, REAL(mkostemps)(t, suffix_len, flags));
}

SHIM_EXPORT int mkostemps64(char *t, int suffix_len, int flags)
{
    TEMP_FD(t, REAL(mkostemps64)(t, suffix_len, flags));
}

SHIM_EXPORT char *mkdtemp(char *t)
{
    struct hook h;
    struct shim_change c;

    if (!hook_enter(&h))
        return REAL(mkdtemp)(t);
    shim_change_begin(&c, AT_FDCWD, t, 0);
    hook_call(&h);
    char *r = REAL(mkdtemp)(t);
    hook_called(&h);
    temp_made(&c, r, -1);
    return hook_leave_ptr(&h, r);
}
