/* open.c - the open family: serve read-only opens under a prefix from the
 * tier, tell shmd about misses, invalidate on opens for writing.
 *
 * Only O_RDONLY opens with no flags beyond O_CLOEXEC, O_NONBLOCK, O_NOCTTY
 * and O_LARGEFILE are served; O_DIRECTORY, O_PATH, O_NOFOLLOW, O_TMPFILE,
 * O_DIRECT, O_NOATIME, O_SYNC and unknown flags pass through unchanged. The
 * descriptor of a hit is openat(instance directory, object) with the
 * caller's O_CLOEXEC/O_NONBLOCK, so a child after exec inherits it exactly as
 * it would the real file's. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "preload/shim.h"
#include "tier/access.h"
#include "tier/atomic.h"
#include "tier/hash.h"
#include "tier/proto.h"
#include "tier/stat.h"

#define KERNEL_O_LARGEFILE 0100000
#define SERVABLE (O_ACCMODE | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | KERNEL_O_LARGEFILE)

enum open_class { OPEN_PASS, OPEN_SERVE, OPEN_MODIFY };

/* Does the current directory lie under a prefix, or above one? Decided on
 * chdir; stale values are harmless: "no" makes a relative open pass through
 * (always correct), "yes" makes it ask the kernel for the real cwd. */
static int g_cwd_relevant = 1;

static enum open_class classify(int flags)
{
    int acc = flags & O_ACCMODE;

    if ((flags & O_TMPFILE) == O_TMPFILE || (flags & O_PATH) || acc == O_ACCMODE)
        return OPEN_PASS;
    if (acc != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND)))
        return OPEN_MODIFY;
    if (flags & ~SERVABLE)
        return OPEN_PASS;
    return OPEN_SERVE;
}

bool shim_cwd_relevant(void)
{
    return load_relaxed(&g_cwd_relevant);
}

void shim_cwd_changed(void)
{
    char cwd[PATH_KEY_SIZE];
    int relevant = 1;
    int saved = errno;

    if (syscall(SYS_getcwd, cwd, TIER_PATH_MAX) > 0) {
        int n = path_normalize(cwd, NULL, true, cwd, sizeof cwd);
        if (n > 0)
            relevant = path_prefixes_match(&shim_cfg.prefixes, cwd, (size_t)n) ||
                       path_prefixes_below(&shim_cfg.prefixes, cwd, (size_t)n);
    }
    store_relaxed(&g_cwd_relevant, relevant);
    errno = saved;
}

int shim_key(int dirfd, const char *path, char *key)
{
    int n;

    if (!path)
        return -1;
    if (path[0] == '/') {
        int raw = path_prefixes_match_raw(&shim_cfg.prefixes, path);
        if (raw == 0)
            return -1; /* the common case outside the prefixes */
        if (raw == 1 && path_is_normal(path)) {
            /* the common case inside: already the key */
            size_t len = strlen(path);
            if (len + 8 >= PATH_KEY_SIZE)
                return -1;
            memcpy(key, path, len);
            memset(key + len, 0, 8 - (len & 7));
            return (int)len;
        }
        n = path_normalize(path, NULL, false, key, PATH_KEY_SIZE);
    } else {
        if (dirfd != AT_FDCWD || !path[0] || !load_relaxed(&g_cwd_relevant))
            return -1;
        int saved = errno;
        long r = syscall(SYS_getcwd, key, TIER_PATH_MAX);
        errno = saved;
        if (r <= 0)
            return -1;
        n = path_normalize(key, path, false, key, PATH_KEY_SIZE);
    }
    if (n < 0 || !path_prefixes_match(&shim_cfg.prefixes, key, (size_t)n))
        return -1;
    return n;
}

int shim_serve(const char *key, int len, int flags, bool *notify)
{
    struct tier_entry e;
    char name[TIER_OBJECT_NAME_SIZE];
    int saved = errno;
    int fd = -1;

    *notify = false;
    struct shim_attach *a = shim_enter(false);
    if (!a)
        return -1; /* no live daemon: plain pass-through */
    uint64_t hash = tier_hash(a->view.hash_seed, key, (size_t)len);
    enum tier_lookup_result r = tier_lookup(&a->view, key, (size_t)len, hash, &e);
    if (r == TIER_HIT && (shim_cfg.validate_open || a->validate)) {
        struct stat st;
        struct tier_stat now;
        if (stat(key, &st) < 0)
            r = TIER_STALE;
        else {
            tier_stat_from(&now, &st);
            if (!tier_stat_same(&now, &e.st))
                r = TIER_STALE;
        }
    }
    /* the kernel would check this process's groups and capabilities on the
     * real open: serve only what the recorded bits decide for it, or what
     * the kernel allows it now (tier/access.h) */
    bool denied = r == TIER_HIT && !tier_access_public(&e) &&
                  !tier_access_owner(&e, a->euid) &&
                  faccessat(AT_FDCWD, key, R_OK, AT_EACCESS) != 0;
    int dirfd = load_relaxed(&a->dirfd);
    if (r == TIER_HIT && !denied && dirfd >= 0) {
        tier_object_name(a->view.generation, e.object_id, e.record, name);
        fd = shim_real.openat(dirfd, name, O_RDONLY | O_NOFOLLOW | (flags & (SERVABLE & ~O_ACCMODE)));
        if (fd >= 0 && !tier_entry_unchanged(&a->view, &e)) {
            shim_real.close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) {
        tier_touch(&a->view, e.record);
        tier_count(&a->view, TIER_COUNT_HIT);
        shim_obj_remember(a->dev, &e);
    } else {
        *notify = !denied; /* a current entry: loading it again would not help */
    }
    shim_leave(a);
    if (fd >= 0 && shim_cfg.log == SHIM_LOG_ALL)
        shim_log("HIT", key);
    errno = saved;
    return fd;
}

void shim_notify_miss(const char *key, int len, int fd)
{
    int saved = errno;
    struct shim_attach *a = shim_enter(false);
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;

    if (!a)
        return;
    int s = load_relaxed(&a->sockfd);
    if (s >= 0) {
        struct iovec iov[2] = {{PROTO_MISS_TAG, PROTO_MISS_TAG_LEN}, {(void *)key, (size_t)len}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        if (fd >= 0) {
            memset(&ctl, 0, sizeof ctl);
            mh.msg_control = ctl.space;
            mh.msg_controllen = sizeof ctl.space;
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cm), &fd, sizeof fd);
        }
        if (sendmsg(s, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            tier_count(&a->view, TIER_COUNT_UNSENT);
    }
    tier_count(&a->view, TIER_COUNT_MISS);
    shim_leave(a);
    if (shim_cfg.log != SHIM_LOG_OFF)
        shim_log("MISS", key);
    errno = saved;
}

/* Which real function a hook stands for. */
enum open_kind { K_OPEN, K_OPEN64, K_OPENAT, K_OPENAT64, K_OPEN_2, K_OPEN64_2,
                 K_OPENAT_2, K_OPENAT64_2 };

static int real_open(enum open_kind k, int dirfd, const char *path, int flags, mode_t mode)
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
    return shim_sys_openat(dirfd, path, flags | KERNEL_O_LARGEFILE, mode);
}

/* A modifying open: resolve the path as every modifying call does (also
 * through ".." or a directory descriptor), invalidate after the call, and
 * remember a write descriptor so its close invalidates again. */
static void opened_for_write(int fd, int flags, const struct shim_change *c)
{
    uint32_t tag = shim_change_commit(c);

    if (fd >= 0 && (flags & O_ACCMODE) != O_RDONLY)
        shim_fd_track_write(fd, tag);
}

/* Could path name a cached file? The cheap test, without any buffer: a
 * raw prefix comparison, or a relative path from a relevant cwd. */
static inline bool maybe_under_prefix(int dirfd, const char *path)
{
    if (!path || !path[0])
        return false;
    if (path[0] == '/')
        return path_prefixes_match_raw(&shim_cfg.prefixes, path) != 0;
    return dirfd == AT_FDCWD && load_relaxed(&g_cwd_relevant);
}

/* The part of an open that needs path buffers, kept out of line so the
 * common pass-through open has a small stack frame. */
__attribute__((noinline)) static int open_slow(enum open_kind k, int dirfd, const char *path,
                                               int flags, mode_t mode, enum open_class c)
{
    char key[PATH_KEY_SIZE];
    bool notify;

    if (c == OPEN_MODIFY) {
        struct shim_change ch;
        shim_change_prepare(&ch, dirfd, path, false);
        int fd = real_open(k, dirfd, path, flags, mode);
        opened_for_write(fd, flags, &ch);
        return fd;
    }
    int len = shim_key(dirfd, path, key);
    if (len < 0)
        return real_open(k, dirfd, path, flags, mode);
    int fd = shim_serve(key, len, flags, &notify);
    if (fd >= 0)
        return fd;
    fd = real_open(k, dirfd, path, flags, mode);
    if (fd >= 0 && notify)
        shim_notify_miss(key, len, fd);
    return fd;
}

static inline int open_common(enum open_kind k, int dirfd, const char *path, int flags,
                              mode_t mode)
{
    if (!shim_ready())
        return real_open(k, dirfd, path, flags, mode);
    enum open_class c = classify(flags);
    if (c == OPEN_PASS || (c == OPEN_SERVE && !maybe_under_prefix(dirfd, path)))
        return real_open(k, dirfd, path, flags, mode);
    return open_slow(k, dirfd, path, flags, mode, c);
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

/* fopen modes as glibc reads them. Returns the open(2) flags, or -1 when
 * the mode is one the shim leaves alone (",ccs=", unknown first letter). */
static int mode_flags(const char *m)
{
    int f;

    if (!m)
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

static FILE *fopen_common(bool large, const char *path, const char *mode)
{
    char key[PATH_KEY_SIZE];
    bool notify = false;
    int flags = mode_flags(mode);

    if (!shim_ready() || flags < 0)
        return real_fopen(large, path, mode);
    enum open_class c = classify(flags);
    if (c == OPEN_MODIFY) {
        struct shim_change ch;
        shim_change_prepare(&ch, AT_FDCWD, path, false);
        FILE *fp = real_fopen(large, path, mode);
        opened_for_write(fp ? fileno(fp) : -1, flags, &ch);
        return fp;
    }
    int len = c == OPEN_PASS ? -1 : shim_key(AT_FDCWD, path, key);
    if (len < 0)
        return real_fopen(large, path, mode);
    int fd = shim_serve(key, len, flags, &notify);
    if (fd >= 0) {
        int saved = errno;
        FILE *fp = fdopen(fd, mode);
        errno = saved;
        if (fp)
            return fp;
        shim_real.close(fd);
    }
    FILE *fp = real_fopen(large, path, mode);
    if (fp && notify)
        shim_notify_miss(key, len, fileno(fp));
    return fp;
}

SHIM_EXPORT FILE *fopen(const char *path, const char *mode)
{
    return fopen_common(false, path, mode);
}

SHIM_EXPORT FILE *fopen64(const char *path, const char *mode)
{
    return fopen_common(true, path, mode);
}

/* freopen: the real call reopens the stream on the source; on a hit its
 * descriptor is then replaced by the object's (same number, offset 0), so
 * the stream reads from the tier from its first byte. */
static FILE *freopen_common(bool large, const char *path, const char *mode, FILE *stream)
{
    char key[PATH_KEY_SIZE];
    FILE *(*real)(const char *, const char *, FILE *) = large ? REAL(freopen64) : REAL(freopen);

    if (!shim_ready())
        return real(path, mode, stream);
    int oldfd = stream ? fileno(stream) : -1;
    int flags = mode_flags(mode);
    enum open_class c = flags < 0 || !path ? OPEN_PASS : classify(flags);
    struct shim_change ch;
    int len = c == OPEN_SERVE ? shim_key(AT_FDCWD, path, key) : -1;

    if (c == OPEN_MODIFY)
        shim_change_prepare(&ch, AT_FDCWD, path, false);
    shim_fd_closing(oldfd);
    FILE *fp = real(path, mode, stream);
    int saved = errno;
    shim_fd_closed(oldfd);
    if (c == OPEN_MODIFY) {
        opened_for_write(fp ? fileno(fp) : -1, flags, &ch);
    } else if (fp && len >= 0) {
        bool notify = false;
        int obj = shim_serve(key, len, flags, &notify);
        if (obj >= 0) {
            if (shim_real.dup3(obj, fileno(fp), flags & O_CLOEXEC) < 0)
                notify = true;
            shim_real.close(obj);
        }
        if (notify)
            shim_notify_miss(key, len, fileno(fp));
    }
    errno = saved;
    return fp;
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
    int (*real)(FILE *) = REAL(fclose);

    if (!shim_ready() || !fp)
        return real(fp);
    int fd = fileno(fp);
    shim_fd_closing(fd);
    int r = real(fp);
    int saved = errno;
    shim_fd_closed(fd);
    errno = saved;
    return r;
}
