/* change.h - invalidation through the shim: a call that changes a cached
 * path (or a tree above one) marks the change words of the index
 * (tier/layout.h) before the real call and again after it, so that no
 * process that can observe its effect is served what was there before. */
#ifndef SHMCACHE_CHANGE_H
#define SHMCACHE_CHANGE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>

#include "preload/attach.h"
#include "tier/path.h"

#define SHIM_CHANGE_HIDDEN __attribute__((visibility("hidden")))

/* Change marks in flight: set by a begin, closed by the matching end, on
 * the same attachment (entered meanwhile, so the index stays mapped). */
struct shim_mark {
    struct shim_attach *a;      /* NULL: no live index at the begin */
    uint32_t bucket1;           /* 1 + bucket whose gen is marked, 0: none */
    uint32_t pbucket1;          /* ... and its parent directory's */
    uint32_t abucket1;          /* the same two for the name with the */
    uint32_t apbucket1;         /* symlinks above it resolved (alias) */
    uint32_t tbucket1;          /* what a final symlink the call follows
                                   resolves to (target) */
    uint32_t nbucket1;          /* a missing ancestor recorded as such,
                                   which would answer for the path
                                   (shim_absent_top) */
    bool epoch;                 /* the epoch is marked */
};

/* What a modifying call does with its path (shim_change_begin's how). */
#define SHIM_CHANGE_TYPE   1u   /* a directory or symlink there changes a
                                   whole tree: look (rename, unlink, chmod) */
#define SHIM_CHANGE_FOLLOW 2u   /* follows a final symlink: the file it
                                   names changes (truncate, utime, an open
                                   for writing without O_NOFOLLOW) */
#define SHIM_CHANGE_CREATE 4u   /* with FOLLOW: may create what a dangling
                                   final symlink names (O_CREAT) */

/* The how of an open for writing with these flags. */
static inline unsigned shim_change_how_open(int flags)
{
    if ((flags & (O_NOFOLLOW | O_DIRECTORY)) || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return 0; /* never follows a final symlink (O_EXCL: fails on one) */
    return SHIM_CHANGE_FOLLOW | (flags & O_CREAT ? SHIM_CHANGE_CREATE : 0);
}

/* One path a modifying call touches. */
struct shim_change {
    bool relevant;              /* under or above a prefix (or could not tell) */
    bool tree;                  /* the whole tree: mark the epoch too */
    bool target;                /* a final symlink the call follows: mark
                                   what it resolves to too */
    unsigned how;               /* SHIM_CHANGE_* */
    int len;                    /* key length; -1: no single cached path */
    char key[PATH_KEY_SIZE];
    struct shim_mark mark;
};

/* Before a call that changes path (relative to dirfd): resolve it (a rename
 * or unlink removes the name, so this is the only moment), decide whether
 * it is under or above a prefix, and mark it in flight; how:
 * SHIM_CHANGE_*. Never reads path before it is known readable. */
void shim_change_begin(struct shim_change *c, int dirfd, const char *path, unsigned how)
    SHIM_CHANGE_HIDDEN;
/* The same for the file open as fd (fchmod, fsetxattr, ...): its path from
 * /proc. */
void shim_change_begin_fd(struct shim_change *c, int fd) SHIM_CHANGE_HIDDEN;
/* After the call. Returns the tag of its path for the fd table (fdtag.h),
 * 0 when none. */
uint64_t shim_change_end(struct shim_change *c) SHIM_CHANGE_HIDDEN;

/* After a call that made path under a name it chose itself (mkstemp,
 * mkdtemp), so that nothing could be marked before: mark it changed once,
 * on the index live now. Returns its tag, as shim_change_end. */
uint64_t shim_change_after(struct shim_change *c, int dirfd, const char *path)
    SHIM_CHANGE_HIDDEN;

/* The same around a call on a descriptor whose tag (fdtag.h) names the
 * bucket (a close or ftruncate of a write descriptor). */
void shim_tag_begin(struct shim_mark *m, uint64_t tag) SHIM_CHANGE_HIDDEN;
void shim_tag_end(struct shim_mark *m) SHIM_CHANGE_HIDDEN;

#endif
