/* modify.c - calls that change cached paths invalidate them, so a write
 * through the shim is seen at once by this and every other process; the
 * close family keeps the fd table (fdtab.c) right.
 *
 * Each hook: resolve the path(s) before the real call (a rename or unlink
 * removes the name), call, then bump the path's generation. Bumping after
 * the call matters: a load that shmd began before the call finished then
 * carries the old generation and is never served. A change to a directory or
 * a symlink, or to an ancestor of a prefix, can move whole trees: it bumps
 * the epoch, which no entry published before it survives.
 *
 * Changes made through another name for the same file (a symlink, a hard
 * link, a bind mount) are not recognised here; revalidation catches them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/shim.h"
#include "tier/atomic.h"
#include "tier/hash.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

uint32_t shim_invalidate(const char *key, int len, bool tree)
{
    struct shim_attach *a = shim_enter(true);
    uint32_t tag = 0;

    if (!a)
        return 0; /* no live index: nobody is serving anything */
    if (len >= 0) {
        uint64_t h = tier_hash(a->view.hash_seed, key, (size_t)len);
        uint32_t b = (uint32_t)h & a->view.bucket_mask;
        fetch_add_seqcst(&a->view.gens[b], 1);
        tag = (b + 1) | (a->seq << 25);
    }
    if (tree)
        fetch_add_seqcst(&a->view.marks->epoch, 1);
    shim_leave(a);
    return tag;
}

void shim_bump_tag(uint32_t tag)
{
    int saved = errno;
    struct shim_attach *a = shim_enter(true);

    if (a) {
        uint32_t b = (tag & ((1u << 25) - 1)) - 1;
        if (((tag >> 25) & 63) == a->seq && b <= a->view.bucket_mask)
            fetch_add_seqcst(&a->view.gens[b], 1);
        else
            fetch_add_seqcst(&a->view.marks->epoch, 1); /* index replaced since */
        shim_leave(a);
    }
    errno = saved;
}

static bool has_dotdot(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
            return true;
    return false;
}

/* The absolute path of an open directory, from /proc. */
static int fd_path(int fd, char *buf)
{
    char link[32];

    if (fd < 0)
        return -1;
    ssize_t r = readlink(shim_fd_link(fd, link), buf, TIER_PATH_MAX - 1);
    if (r <= 0 || buf[0] != '/')
        return -1;
    buf[r] = '\0';
    return 0;
}

/* A path with "..": open its parent for real and ask /proc where it is.
 * out is the only path-sized buffer: it holds the parent's name until the
 * open, then its resolved path, then the result. */
static int resolve_parent(int dirfd, const char *path, char *out, bool allow_dir)
{
    char base[NAME_MAX + 1];
    size_t n = strlen(path);

    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n >= TIER_PATH_MAX)
        return -1;
    memcpy(out, path, n);
    out[n] = '\0';
    char *slash = strrchr(out, '/');
    const char *b = slash ? slash + 1 : out;
    if (!*b || strcmp(b, ".") == 0 || strcmp(b, "..") == 0 || strlen(b) > NAME_MAX)
        return -1;
    strcpy(base, b);
    const char *parent = !slash ? "." : slash == out ? "/" : out;
    if (slash && slash != out)
        *slash = '\0';
    int pfd = REAL(openat)(dirfd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return -1;
    int r = fd_path(pfd, out);
    REAL(close)(pfd);
    if (r < 0)
        return -1;
    return path_normalize(out, base, allow_dir, out, PATH_KEY_SIZE);
}

int shim_resolve(int dirfd, const char *path, char *out, bool allow_dir)
{
    int saved = errno;
    int n = -1;

    if (!path || !path[0])
        goto done;
    if (has_dotdot(path)) {
        n = resolve_parent(dirfd, path, out, allow_dir);
    } else if (path[0] == '/') {
        n = path_normalize(path, NULL, allow_dir, out, PATH_KEY_SIZE);
    } else if (dirfd == AT_FDCWD) {
        if (syscall(SYS_getcwd, out, TIER_PATH_MAX) > 0)
            n = path_normalize(out, path, allow_dir, out, PATH_KEY_SIZE);
    } else if (fd_path(dirfd, out) == 0) {
        n = path_normalize(out, path, allow_dir, out, PATH_KEY_SIZE);
    }
done:
    errno = saved;
    return n;
}

void shim_change_prepare(struct shim_change *c, int dirfd, const char *path, bool check_type)
{
    c->relevant = c->tree = false;
    c->len = -1;
    if (!shim_ready() || !path || !path[0])
        return;
    if (path[0] != '/' && dirfd == AT_FDCWD && !shim_cwd_relevant() && !has_dotdot(path))
        return; /* relative to a directory nowhere near a prefix */
    int saved = errno;
    int n = shim_resolve(dirfd, path, c->key, true);
    if (n < 0) {
        /* relative or through "..", and /proc could not say where it is:
         * it may be anywhere, so assume the worst */
        c->relevant = c->tree = path[0] != '/' || has_dotdot(path);
        errno = saved;
        return;
    }
    bool under = path_prefixes_match(&shim_cfg.prefixes, c->key, (size_t)n);
    bool above = !under && path_prefixes_below(&shim_cfg.prefixes, c->key, (size_t)n);
    if (under || above) {
        struct stat st;
        c->relevant = true;
        c->len = under ? n : -1;
        c->tree = above || (check_type && lstat(c->key, &st) == 0 &&
                            (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)));
    }
    errno = saved;
}

uint32_t shim_change_commit(const struct shim_change *c)
{
    if (!c->relevant)
        return 0;
    int saved = errno;
    uint32_t tag = shim_invalidate(c->key, c->len, c->tree);
    if (shim_cfg.log == SHIM_LOG_ALL)
        shim_log(c->tree ? "CHANGE-TREE" : "CHANGE", c->len >= 0 ? c->key : "?");
    errno = saved;
    return tag;
}

/* Hooks on one path: prepare, call, commit. */
#define ONE_PATH(dirfd, path, check_type, call) \
    do { \
        struct shim_change c_; \
        shim_change_prepare(&c_, dirfd, path, check_type); \
        int r_ = call; \
        shim_change_commit(&c_); \
        return r_; \
    } while (0)

#define TWO_PATHS(d1, p1, d2, p2, call) \
    do { \
        struct shim_change a_, b_; \
        shim_change_prepare(&a_, d1, p1, true); \
        shim_change_prepare(&b_, d2, p2, true); \
        int r_ = call; \
        shim_change_commit(&a_); \
        shim_change_commit(&b_); \
        return r_; \
    } while (0)

SHIM_EXPORT int truncate(const char *p, off_t len)
{
    ONE_PATH(AT_FDCWD, p, false, REAL(truncate)(p, len));
}

SHIM_EXPORT int truncate64(const char *p, off64_t len)
{
    ONE_PATH(AT_FDCWD, p, false, REAL(truncate64)(p, len));
}

SHIM_EXPORT int rename(const char *o, const char *n)
{
    TWO_PATHS(AT_FDCWD, o, AT_FDCWD, n, REAL(rename)(o, n));
}

SHIM_EXPORT int renameat(int od, const char *o, int nd, const char *n)
{
    TWO_PATHS(od, o, nd, n, REAL(renameat)(od, o, nd, n));
}

SHIM_EXPORT int renameat2(int od, const char *o, int nd, const char *n, unsigned flags)
{
    TWO_PATHS(od, o, nd, n, REAL(renameat2)(od, o, nd, n, flags));
}

SHIM_EXPORT int unlink(const char *p)
{
    ONE_PATH(AT_FDCWD, p, true, REAL(unlink)(p));
}

SHIM_EXPORT int unlinkat(int d, const char *p, int flags)
{
    ONE_PATH(d, p, true, REAL(unlinkat)(d, p, flags));
}

SHIM_EXPORT int rmdir(const char *p)
{
    ONE_PATH(AT_FDCWD, p, false, REAL(rmdir)(p));
}

SHIM_EXPORT int remove(const char *p)
{
    ONE_PATH(AT_FDCWD, p, true, REAL(remove)(p));
}

SHIM_EXPORT int link(const char *o, const char *n)
{
    ONE_PATH(AT_FDCWD, n, false, REAL(link)(o, n));
}

SHIM_EXPORT int linkat(int od, const char *o, int nd, const char *n, int flags)
{
    ONE_PATH(nd, n, false, REAL(linkat)(od, o, nd, n, flags));
}

SHIM_EXPORT int symlink(const char *target, const char *n)
{
    ONE_PATH(AT_FDCWD, n, false, REAL(symlink)(target, n));
}

SHIM_EXPORT int symlinkat(const char *target, int nd, const char *n)
{
    ONE_PATH(nd, n, false, REAL(symlinkat)(target, nd, n));
}

SHIM_EXPORT int chmod(const char *p, mode_t m)
{
    ONE_PATH(AT_FDCWD, p, true, REAL(chmod)(p, m));
}

SHIM_EXPORT int fchmodat(int d, const char *p, mode_t m, int flags)
{
    ONE_PATH(d, p, true, REAL(fchmodat)(d, p, m, flags));
}

SHIM_EXPORT int chown(const char *p, uid_t u, gid_t g)
{
    ONE_PATH(AT_FDCWD, p, true, REAL(chown)(p, u, g));
}

SHIM_EXPORT int lchown(const char *p, uid_t u, gid_t g)
{
    ONE_PATH(AT_FDCWD, p, true, REAL(lchown)(p, u, g));
}

SHIM_EXPORT int fchownat(int d, const char *p, uid_t u, gid_t g, int flags)
{
    ONE_PATH(d, p, true, REAL(fchownat)(d, p, u, g, flags));
}

SHIM_EXPORT int utime(const char *p, const struct utimbuf *t)
{
    ONE_PATH(AT_FDCWD, p, false, REAL(utime)(p, t));
}

SHIM_EXPORT int utimes(const char *p, const struct timeval t[2])
{
    ONE_PATH(AT_FDCWD, p, false, REAL(utimes)(p, t));
}

SHIM_EXPORT int lutimes(const char *p, const struct timeval t[2])
{
    ONE_PATH(AT_FDCWD, p, false, REAL(lutimes)(p, t));
}

SHIM_EXPORT int futimesat(int d, const char *p, const struct timeval t[2])
{
    ONE_PATH(d, p, false, REAL(futimesat)(d, p, t));
}

SHIM_EXPORT int utimensat(int d, const char *p, const struct timespec t[2], int flags)
{
    ONE_PATH(d, p, false, REAL(utimensat)(d, p, t, flags));
}

SHIM_EXPORT int futimens(int fd, const struct timespec t[2])
{
    int r = REAL(futimens)(fd, t);
    if (shim_ready())
        shim_fd_written(fd);
    return r;
}

SHIM_EXPORT int ftruncate(int fd, off_t len)
{
    int r = REAL(ftruncate)(fd, len);
    if (shim_ready())
        shim_fd_written(fd);
    return r;
}

SHIM_EXPORT int ftruncate64(int fd, off64_t len)
{
    int r = REAL(ftruncate64)(fd, len);
    if (shim_ready())
        shim_fd_written(fd);
    return r;
}

/* The close family: the fd table learns first (so a descriptor of ours
 * that the host closes is never used again), then the real call, then the
 * write-descriptor invalidation. */
SHIM_EXPORT int close(int fd)
{
    if (!shim_ready())
        return shim_real.close ? shim_real.close(fd) : (int)syscall(SYS_close, fd);
    shim_fd_closing(fd);
    int r = shim_real.close(fd);
    shim_fd_closed(fd);
    return r;
}

SHIM_EXPORT int close_range(unsigned lo, unsigned hi, int flags)
{
    if (!shim_ready() || (flags & CLOSE_RANGE_CLOEXEC))
        return REAL(close_range)(lo, hi, flags);
    shim_fd_closing_range(lo, hi);
    int r = REAL(close_range)(lo, hi, flags);
    if (r == 0)
        shim_fd_closed_range(lo, hi);
    return r;
}

SHIM_EXPORT void closefrom(int lo)
{
    if (shim_ready() && lo >= 0) {
        shim_fd_closing_range((unsigned)lo, UINT_MAX);
        REAL(closefrom)(lo);
        shim_fd_closed_range((unsigned)lo, UINT_MAX);
        return;
    }
    REAL(closefrom)(lo);
}

SHIM_EXPORT int dup2(int old, int new)
{
    if (!shim_ready() || old == new)
        return REAL(dup2)(old, new);
    shim_fd_closing(new);
    int r = REAL(dup2)(old, new);
    if (r >= 0)
        shim_fd_closed(new);
    return r;
}

SHIM_EXPORT int dup3(int old, int new, int flags)
{
    if (!shim_ready() || old == new)
        return REAL(dup3)(old, new, flags);
    shim_fd_closing(new);
    int r = REAL(dup3)(old, new, flags);
    if (r >= 0)
        shim_fd_closed(new);
    return r;
}

/* The current directory decides whether relative paths can be cached. */
SHIM_EXPORT int chdir(const char *p)
{
    int r = REAL(chdir)(p);
    if (r == 0 && shim_ready())
        shim_cwd_changed();
    return r;
}

SHIM_EXPORT int fchdir(int fd)
{
    int r = REAL(fchdir)(fd);
    if (r == 0 && shim_ready())
        shim_cwd_changed();
    return r;
}

/* After these, paths no longer name what they name for shmd. */
SHIM_EXPORT int chroot(const char *p)
{
    int r = REAL(chroot)(p);
    if (r == 0)
        shim_disable();
    return r;
}

SHIM_EXPORT int unshare(int flags)
{
    int r = REAL(unshare)(flags);
    if (r == 0 && (flags & CLONE_NEWNS))
        shim_disable();
    return r;
}

SHIM_EXPORT int setns(int fd, int nstype)
{
    int r = REAL(setns)(fd, nstype);
    if (r == 0 && (nstype == 0 || (nstype & CLONE_NEWNS)))
        shim_disable();
    return r;
}
