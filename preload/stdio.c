/* stdio.c - the stdio opens: fopen, fopen64, freopen, freopen64, and
 * fclose. glibc's fopen opens through an internal call that no open hook
 * sees, and fclose closes the same way, so stdio is hooked on its own: the
 * same classes as open (open.h), from the mode string as glibc reads it. A
 * hit is the object's descriptor wrapped with fdopen(3). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "preload/change.h"
#include "preload/client.h"
#include "preload/fdtab.h"
#include "preload/hook.h"
#include "preload/key.h"
#include "preload/open.h"
#include "preload/readable.h"

/* fopen modes as glibc reads them. Returns the open(2) flags, or -1 when
 * the mode is one the shim leaves alone (",ccs=", unknown first letter, or
 * a mode it cannot read: glibc reads it in user space, so the real call
 * then does exactly what it does without the shim). */
static int mode_flags(const char *m)
{
    int f;

    /* modes are short: the cheap check covers the usual ones whole */
    if (!shim_readable_short(m, 8) || !memchr(m, '\0', 8))
        if (shim_path_len(m) < 0)
            return -1;
    switch (m[0]) {
    case 'r': f = O_RDONLY; break;
    case 'w': f = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': f = O_WRONLY | O_CREAT | O_APPEND; break;
    default: return -1;
    }
    for (const char *p = m + 1; *p; p++) {
        switch (*p) {
        case '+': f = (f & ~O_ACCMODE) | O_RDWR; break;
        case 'e': f |= O_CLOEXEC; break;
        case 'x': f |= O_EXCL; break;
        case ',': return -1;
        default: break; /* b, t, m, c: no effect on the open */
        }
    }
    return f;
}

static FILE *real_fopen(bool large, const char *path, const char *mode)
{
    return large ? REAL(fopen64)(path, mode) : REAL(fopen)(path, mode);
}

/* An fopen for writing: marks around the call, the descriptor tracked. */
static FILE *fopen_modify(struct hook *h, bool large, const char *path, const char *mode,
                          int flags)
{
    struct shim_change ch;

    shim_change_begin(&ch, AT_FDCWD, path, shim_change_how_open(flags));
    hook_call(h);
    FILE *fp = real_fopen(large, path, mode);
    hook_called(h);
    uint64_t tag = shim_change_end(&ch);
    if (fp && (flags & O_ACCMODE) != O_RDONLY)
        shim_fd_track_write(fileno(fp), tag);
    return fp;
}

__attribute__((noinline)) static FILE *fopen_slow(struct hook *h, bool large, const char *path,
                                                  const char *mode, int flags, int maybe)
{
    char key[PATH_KEY_SIZE];
    bool notify;
    int len, err;

    int fd = shim_serve_path(AT_FDCWD, path, maybe, flags, key, &len, &notify, &err);
    if (fd >= 0) {
        FILE *fp = fdopen(fd, mode);
        if (fp)
            return fp;
        shim_close(fd);
    }
    if (fd == SHIM_SERVE_NEGATIVE) {
        h->err = err;
        return NULL;
    }
    hook_call(h);
    FILE *fp = real_fopen(large, path, mode);
    hook_called(h);
    if (fp && len >= 0 && notify)
        shim_notify_miss(key, len, fileno(fp), flags);
    return fp;
}

static FILE *fopen_common(bool large, const char *path, const char *mode)
{
    struct hook h;

    if (!hook_enter(&h))
        return real_fopen(large, path, mode);
    int flags = mode_flags(mode);
    enum shim_open_class c = flags < 0 ? SHIM_OPEN_PASS : shim_open_class(flags);
    if (c == SHIM_OPEN_MODIFY)
        return hook_leave_ptr(&h, fopen_modify(&h, large, path, mode, flags));
    int maybe = c == SHIM_OPEN_SERVE ? shim_open_maybe(AT_FDCWD, path) : 0;
    if (maybe == 0) {
        hook_call(&h);
        return real_fopen(large, path, mode);
    }
    return hook_leave_ptr(&h, fopen_slow(&h, large, path, mode, flags, maybe));
}

SHIM_EXPORT FILE *fopen(const char *path, const char *mode)
{
    return fopen_common(false, path, mode);
}

SHIM_EXPORT FILE *fopen64(const char *path, const char *mode)
{
    return fopen_common(true, path, mode);
}

/* freopen: the real call reopens the stream on the source (closing the old
 * descriptor inside libc); on a hit its descriptor is then replaced by the
 * object's (same number, offset 0), so the stream reads from the tier from
 * its first byte. A NULL path reopens the same file with another mode:
 * passed through. */
__attribute__((noinline)) static FILE *freopen_slow(struct hook *h, bool large, const char *path,
                                                    const char *mode, FILE *stream)
{
    FILE *(*real)(const char *, const char *, FILE *) = large ? REAL(freopen64) : REAL(freopen);
    char key[PATH_KEY_SIZE];
    struct shim_change ch;
    struct shim_fd_end end;
    int oldfd = stream ? fileno(stream) : -1;
    int flags = mode_flags(mode);
    enum shim_open_class c = flags < 0 ? SHIM_OPEN_PASS : shim_open_class(flags);
    int maybe = c == SHIM_OPEN_SERVE ? shim_open_maybe(AT_FDCWD, path) : 0;

    if (c == SHIM_OPEN_MODIFY)
        shim_change_begin(&ch, AT_FDCWD, path, shim_change_how_open(flags));
    shim_fd_end_begin(oldfd, &end);
    hook_call(h);
    FILE *fp = real(path, mode, stream);
    hook_called(h);
    shim_fd_end_done(oldfd, &end, true);
    if (c == SHIM_OPEN_MODIFY) {
        uint64_t tag = shim_change_end(&ch);
        if (fp && (flags & O_ACCMODE) != O_RDONLY)
            shim_fd_track_write(fileno(fp), tag);
    } else if (fp && maybe) {
        bool notify;
        int len, err;
        /* O_CLOEXEC: until dup3 the copy is the shim's own descriptor */
        int obj = shim_serve_path(AT_FDCWD, path, maybe, flags | O_CLOEXEC, key, &len, &notify,
                                  &err);
        if (obj >= 0 && !shim_put_in_place(obj, fileno(fp), flags))
            notify = true;
        if (notify && len >= 0)
            shim_notify_miss(key, len, fileno(fp), flags);
    }
    return fp;
}

static FILE *freopen_common(bool large, const char *path, const char *mode, FILE *stream)
{
    struct hook h;

    if (!hook_enter(&h) || !path)
        return large ? REAL(freopen64)(path, mode, stream) : REAL(freopen)(path, mode, stream);
    return hook_leave_ptr(&h, freopen_slow(&h, large, path, mode, stream));
}

SHIM_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream)
{
    return freopen_common(false, path, mode, stream);
}

SHIM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream)
{
    return freopen_common(true, path, mode, stream);
}

SHIM_EXPORT int fclose(FILE *fp)
{
    struct hook h;
    struct shim_fd_end end;

    if (!hook_enter(&h) || !fp)
        return REAL(fclose)(fp);
    int fd = fileno(fp);
    shim_fd_end_begin(fd, &end);
    hook_call(&h);
    int r = REAL(fclose)(fp);
    hook_called(&h);
    shim_fd_end_done(fd, &end, true);
    return hook_leave(&h, r);
}
