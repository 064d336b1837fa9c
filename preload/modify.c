/* modify.c - the calls that change files. By path: truncate, rename,
 * unlink, rmdir, remove, link, symlink, mkdir, mknod, mkfifo, chmod, chown,
 * utime and utimensat, setxattr and removexattr. By descriptor: ftruncate,
 * futimens, fchmod, fchown, fsetxattr, fremovexattr (and utimensat or
 * futimesat with a NULL path). Each marks the path (or the tree, see
 * change.c) changed before the real call and again after it, so a write
 * through the shim is seen at once by this and every other process, and
 * no process that can observe the call's effect (the rename done, the lock
 * file gone) is served what was there before.
 *
 * A descriptor opened for writing through the shim knows its bucket
 * (fdtab.h); any other is looked up in /proc (one readlink, on calls that
 * are rare).
 *
 * how (change.h): SHIM_CHANGE_TYPE, the path may be a directory or a
 * symlink (a rename, an unlink, a permission change), which changes a
 * whole tree; SHIM_CHANGE_FOLLOW, the call changes what a final symlink
 * names (truncate, utime). A new name (the target of link, symlink, mkdir,
 * mknod, mkfifo) has nothing below it to cache, but may replace a negative
 * answer. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "preload/change.h"
#include "preload/fdtab.h"
#include "preload/fdtag.h"
#include "preload/hook.h"
#include "preload/readable.h"

/* The shape of every hook here: marks opened by begin, the real call, the
 * marks closed by end; errno as the real call left it. */
#define AROUND(decl, begin, end, call) \
    do { \
        struct hook h_; \
        decl; \
        if (!hook_enter(&h_)) \
            return call; \
        begin; \
        hook_call(&h_); \
        int r_ = call; \
        hook_called(&h_); \
        end; \
        return hook_leave(&h_, r_); \
    } while (0)

/* One path, or two (rename, link: both names change). */
#define ONE_PATH(dirfd, path, how, call) \
    AROUND(struct shim_change c_, shim_change_begin(&c_, dirfd, path, how), \
           shim_change_end(&c_), call)

#define TWO_PATHS(d1, p1, d2, p2, call) \
    AROUND(struct shim_change a_; struct shim_change b_, \
           (shim_change_begin(&a_, d1, p1, SHIM_CHANGE_TYPE), \
            shim_change_begin(&b_, d2, p2, SHIM_CHANGE_TYPE)), \
           (shim_change_end(&b_), shim_change_end(&a_)), call)

/* A change through descriptor fd in flight. */
struct fd_change {
    enum { FD_NONE, FD_TAG, FD_PATH } by;
    struct shim_mark mark;      /* FD_TAG: a write descriptor of ours */
    struct shim_change path;    /* FD_PATH: any other, by its path */
};

static void fd_change_begin(struct fd_change *c, int fd)
{
    uint64_t w = shim_fd_word(fd);

    if (!(w & FDTAG_WRITER)) {
        c->by = FD_PATH;
        shim_change_begin_fd(&c->path, fd);
    } else if (w & FDTAG_TAG_MASK) {
        c->by = FD_TAG;
        shim_tag_begin(&c->mark, w & FDTAG_TAG_MASK);
    } else {
        c->by = FD_NONE; /* opened for writing through the shim, not cached */
    }
}

static void fd_change_end(struct fd_change *c)
{
    if (c->by == FD_TAG)
        shim_tag_end(&c->mark);
    else if (c->by == FD_PATH)
        shim_change_end(&c->path);
}

#define ONE_FD(fd, call) \
    AROUND(struct fd_change c_, fd_change_begin(&c_, fd), fd_change_end(&c_), call)

/* A path call given AT_EMPTY_PATH and "" acts on the descriptor dirfd. */
#define PATH_OR_FD(d, p, flags, how, call) \
    do { \
        if (((flags) & AT_EMPTY_PATH) && shim_path_len(p) == 0) \
            ONE_FD(d, call); \
        ONE_PATH(d, p, how, call); \
    } while (0)

SHIM_EXPORT int ftruncate(int fd, off_t len)
{
    ONE_FD(fd, REAL(ftruncate)(fd, len));
}

SHIM_EXPORT int ftruncate64(int fd, off64_t len)
{
    ONE_FD(fd, REAL(ftruncate64)(fd, len));
}

SHIM_EXPORT int futimens(int fd, const struct timespec t[2])
{
    ONE_FD(fd, REAL(futimens)(fd, t));
}

SHIM_EXPORT int fchmod(int fd, mode_t m)
{
    ONE_FD(fd, REAL(fchmod)(fd, m));
}

SHIM_EXPORT int fchown(int fd, uid_t u, gid_t g)
{
    ONE_FD(fd, REAL(fchown)(fd, u, g));
}

SHIM_EXPORT int fsetxattr(int fd, const char *name, const void *v, size_t n, int flags)
{
    ONE_FD(fd, REAL(fsetxattr)(fd, name, v, n, flags));
}

SHIM_EXPORT int fremovexattr(int fd, const char *name)
{
    ONE_FD(fd, REAL(fremovexattr)(fd, name));
}

SHIM_EXPORT int truncate(const char *p, off_t len)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_FOLLOW, REAL(truncate)(p, len));
}

SHIM_EXPORT int truncate64(const char *p, off64_t len)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_FOLLOW, REAL(truncate64)(p, len));
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
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_TYPE, REAL(unlink)(p));
}

SHIM_EXPORT int unlinkat(int d, const char *p, int flags)
{
    ONE_PATH(d, p, SHIM_CHANGE_TYPE, REAL(unlinkat)(d, p, flags));
}

SHIM_EXPORT int rmdir(const char *p)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_TYPE, REAL(rmdir)(p));
}

SHIM_EXPORT int remove(const char *p)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_TYPE, REAL(remove)(p));
}

/* A link changes the old name's stat too (nlink, ctime). */
SHIM_EXPORT int link(const char *o, const char *n)
{
    TWO_PATHS(AT_FDCWD, o, AT_FDCWD, n, REAL(link)(o, n));
}

SHIM_EXPORT int linkat(int od, const char *o, int nd, const char *n, int flags)
{
    if ((flags & AT_EMPTY_PATH) && shim_path_len(o) == 0) {
        struct hook h;
        struct fd_change fc;
        struct shim_change c;
        if (!hook_enter(&h))
            return REAL(linkat)(od, o, nd, n, flags);
        fd_change_begin(&fc, od);
        shim_change_begin(&c, nd, n, 0);
        hook_call(&h);
        int r = REAL(linkat)(od, o, nd, n, flags);
        hook_called(&h);
        shim_change_end(&c);
        fd_change_end(&fc);
        return hook_leave(&h, r);
    }
    TWO_PATHS(od, o, nd, n, REAL(linkat)(od, o, nd, n, flags));
}

SHIM_EXPORT int symlink(const char *target, const char *n)
{
    ONE_PATH(AT_FDCWD, n, 0, REAL(symlink)(target, n));
}

SHIM_EXPORT int symlinkat(const char *target, int nd, const char *n)
{
    ONE_PATH(nd, n, 0, REAL(symlinkat)(target, nd, n));
}

SHIM_EXPORT int mkdir(const char *p, mode_t m)
{
    ONE_PATH(AT_FDCWD, p, 0, REAL(mkdir)(p, m));
}

SHIM_EXPORT int mkdirat(int d, const char *p, mode_t m)
{
    ONE_PATH(d, p, 0, REAL(mkdirat)(d, p, m));
}

SHIM_EXPORT int mknod(const char *p, mode_t m, dev_t dev)
{
    ONE_PATH(AT_FDCWD, p, 0, REAL(mknod)(p, m, dev));
}

SHIM_EXPORT int mknodat(int d, const char *p, mode_t m, dev_t dev)
{
    ONE_PATH(d, p, 0, REAL(mknodat)(d, p, m, dev));
}

/* glibc's mkfifo and mkfifoat call its internal __mknodat, not the mknodat
 * symbol: hooked for themselves. */
SHIM_EXPORT int mkfifo(const char *p, mode_t m)
{
    ONE_PATH(AT_FDCWD, p, 0, REAL(mkfifo)(p, m));
}

SHIM_EXPORT int mkfifoat(int d, const char *p, mode_t m)
{
    ONE_PATH(d, p, 0, REAL(mkfifoat)(d, p, m));
}

SHIM_EXPORT int chmod(const char *p, mode_t m)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_TYPE, REAL(chmod)(p, m));
}

SHIM_EXPORT int fchmodat(int d, const char *p, mode_t m, int flags)
{
    PATH_OR_FD(d, p, flags, SHIM_CHANGE_TYPE, REAL(fchmodat)(d, p, m, flags));
}

SHIM_EXPORT int chown(const char *p, uid_t u, gid_t g)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_TYPE, REAL(chown)(p, u, g));
}

SHIM_EXPORT int lchown(const char *p, uid_t u, gid_t g)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_TYPE, REAL(lchown)(p, u, g));
}

SHIM_EXPORT int fchownat(int d, const char *p, uid_t u, gid_t g, int flags)
{
    PATH_OR_FD(d, p, flags, SHIM_CHANGE_TYPE, REAL(fchownat)(d, p, u, g, flags));
}

SHIM_EXPORT int utime(const char *p, const struct utimbuf *t)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_FOLLOW, REAL(utime)(p, t));
}

SHIM_EXPORT int utimes(const char *p, const struct timeval t[2])
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_FOLLOW, REAL(utimes)(p, t));
}

SHIM_EXPORT int lutimes(const char *p, const struct timeval t[2])
{
    ONE_PATH(AT_FDCWD, p, 0, REAL(lutimes)(p, t));
}

SHIM_EXPORT int setxattr(const char *p, const char *name, const void *v, size_t n, int flags)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_TYPE, REAL(setxattr)(p, name, v, n, flags));
}

SHIM_EXPORT int lsetxattr(const char *p, const char *name, const void *v, size_t n, int flags)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_TYPE, REAL(lsetxattr)(p, name, v, n, flags));
}

SHIM_EXPORT int removexattr(const char *p, const char *name)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_TYPE, REAL(removexattr)(p, name));
}

SHIM_EXPORT int lremovexattr(const char *p, const char *name)
{
    ONE_PATH(AT_FDCWD, p, SHIM_CHANGE_TYPE, REAL(lremovexattr)(p, name));
}

/* Linux takes a NULL path as "the file dirfd names". */
SHIM_EXPORT int utimensat(int d, const char *p, const struct timespec t[2], int flags)
{
    if (!shim_unknown(p))
        ONE_FD(d, REAL(utimensat)(d, p, t, flags));
    PATH_OR_FD(d, p, flags, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : SHIM_CHANGE_FOLLOW,
               REAL(utimensat)(d, p, t, flags));
}

SHIM_EXPORT int futimesat(int d, const char *p, const struct timeval t[2])
{
    if (!shim_unknown(p))
        ONE_FD(d, REAL(futimesat)(d, p, t));
    ONE_PATH(d, p, SHIM_CHANGE_FOLLOW, REAL(futimesat)(d, p, t));
}
