/* access.c - access, faccessat, euidaccess and eaccess, and readlink and
 * readlinkat, under a prefix answered from the tier (meta.c) when its
 * records decide the answer for every caller:
 *   F_OK   the path exists, or the recorded ENOENT/ENOTDIR;
 *   R_OK   the file's three r bits are set and no ACL decides instead;
 *   X_OK   also its three x bits (so root, who needs one, gets it too),
 *          and for a regular file not on a noexec mount (TIER_KIND_NOEXEC);
 *   W_OK   never: a read-only mount, an immutable file, the caller's
 *          groups all decide it; the kernel answers.
 * Whether the real or the effective ids ask (access against faccessat with
 * AT_EACCESS) does not matter for those cases: the bits grant everyone;
 * but the directories above may be decided for their owner, the effective
 * uid (meta.c), so in a process whose real and effective ids differ the
 * kernel answers access() and faccessat without AT_EACCESS. A
 * readlink answer is the recorded target, cut to the caller's buffer as
 * readlink(2) does. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preload/access.h"
#include "preload/hook.h"
#include "preload/key.h"
#include "preload/meta.h"
#include "tier/access.h"

#define ALL_X (S_IXUSR | S_IXGRP | S_IXOTH)
#define ACCESS_FLAGS_SERVED (AT_EACCESS | AT_SYMLINK_NOFOLLOW)
#define ACCESS_MODES (R_OK | W_OK | X_OK) /* the kernel's S_IRWXO: any other
                                             bit is EINVAL, before the path */

/* Does the entry decide mode for every caller? Sets *ok. */
static bool decided(const struct shim_meta *m, int mode, bool *ok)
{
    if (m->found == SHIM_META_ERROR) {
        *ok = false;
        return true;
    }
    if (mode == F_OK) {
        *ok = true;
        return true;
    }
    if (mode & W_OK)
        return false;
    bool public_r = (m->file_mode & TIER_ALL_R) == TIER_ALL_R && !(m->access & TIER_ACCESS_FILE_ACL);
    if (!public_r || ((mode & X_OK) && (m->file_mode & ALL_X) != ALL_X))
        return false;
    /* on a noexec mount the kernel refuses X_OK for a regular file */
    if ((mode & X_OK) && m->noexec && S_ISREG(m->file_mode))
        return false;
    *ok = true;
    return true;
}

int shim_faccessat(struct hook *h, int dirfd, const char *path, int mode, int flags,
                   int (*real)(int, const char *, int, int))
{
    struct shim_meta m;
    bool ok;

    m.len = -1;
    m.notify = false;
    /* only what the kernel would answer from the path: a mode or flags it
     * refuses (EINVAL) go to it, whatever the tier knows of the path */
    int maybe = shim_open_maybe(dirfd, path);
    if (maybe && !(flags & ~ACCESS_FLAGS_SERVED) && !(mode & ~ACCESS_MODES)) {
        shim_meta_lookup(dirfd, path, maybe,
                         (flags & AT_SYMLINK_NOFOLLOW ? SHIM_META_NOFOLLOW : 0) |
                             (flags & AT_EACCESS ? 0 : SHIM_META_REAL_IDS),
                         NULL, 0, &m);
        if (m.found != SHIM_META_MISS && decided(&m, mode, &ok)) {
            if (ok)
                return 0;
            h->err = m.err;
            return -1;
        }
    }
    hook_call(h);
    int r = real(dirfd, path, mode, flags);
    hook_called(h);
    if (r == 0 || mode == F_OK)
        shim_meta_notify(&m, r, h->err); /* F_OK's answer is the path's */
    return r;
}

static int faccessat_real(int dirfd, const char *path, int mode, int flags)
{
    return REAL(faccessat)(dirfd, path, mode, flags);
}

/* access() is faccessat with the real ids; euidaccess with the effective. */
static int access_real(int dirfd, const char *path, int mode, int flags)
{
    (void)dirfd;
    return flags & AT_EACCESS ? REAL(euidaccess)(path, mode) : REAL(access)(path, mode);
}

SHIM_EXPORT int access(const char *path, int mode)
{
    struct hook h;

    if (!hook_enter(&h))
        return REAL(access)(path, mode);
    return hook_leave(&h, shim_faccessat(&h, AT_FDCWD, path, mode, 0, access_real));
}

SHIM_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
    struct hook h;

    if (!hook_enter(&h))
        return REAL(faccessat)(dirfd, path, mode, flags);
    return hook_leave(&h, shim_faccessat(&h, dirfd, path, mode, flags, faccessat_real));
}

SHIM_EXPORT int euidaccess(const char *path, int mode)
{
    struct hook h;

    if (!hook_enter(&h))
        return REAL(euidaccess)(path, mode);
    return hook_leave(&h, shim_faccessat(&h, AT_FDCWD, path, mode, AT_EACCESS, access_real));
}

SHIM_EXPORT int eaccess(const char *path, int mode)
{
    return euidaccess(path, mode);
}

long shim_readlinkat(struct hook *h, int dirfd, const char *path, char *buf, size_t n,
                     long (*real)(int, const char *, char *, size_t))
{
    struct shim_meta m;

    m.len = -1;
    m.notify = false;
    int maybe = shim_open_maybe(dirfd, path);
    if (maybe && n > 0 && shim_unknown(buf)) {
        shim_meta_lookup(dirfd, path, maybe, SHIM_META_NOFOLLOW, buf, n, &m);
        if (m.found == SHIM_META_STAT)
            return m.link_len;
        if (m.found == SHIM_META_ERROR) {
            h->err = m.err;
            return -1;
        }
    }
    hook_call(h);
    long r = real(dirfd, path, buf, n);
    hook_called(h);
    shim_meta_notify(&m, r < 0 && h->err == EINVAL ? 0 : (int)r, h->err);
    return r;
}

static long readlinkat_real(int dirfd, const char *path, char *buf, size_t n)
{
    return REAL(readlinkat)(dirfd, path, buf, n);
}

static long readlink_real(int dirfd, const char *path, char *buf, size_t n)
{
    (void)dirfd;
    return REAL(readlink)(path, buf, n);
}

SHIM_EXPORT ssize_t readlink(const char *path, char *buf, size_t n)
{
    struct hook h;

    if (!hook_enter(&h))
        return REAL(readlink)(path, buf, n);
    long r = shim_readlinkat(&h, AT_FDCWD, path, buf, n, readlink_real);
    errno = h.err;
    return r;
}

SHIM_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
    struct hook h;

    if (!hook_enter(&h))
        return REAL(readlinkat)(dirfd, path, buf, n);
    long r = shim_readlinkat(&h, dirfd, path, buf, n, readlinkat_real);
    errno = h.err;
    return r;
}
