/* meta.h - path metadata from the tier: what stat, lstat, access and
 * readlink hooks ask (meta.c), and the miss notice when it has no answer. */
#ifndef SHMCACHE_PRELOAD_META_H
#define SHMCACHE_PRELOAD_META_H

#include <stdbool.h>
#include <stddef.h>

#include "tier/layout.h"
#include "tier/path.h"

enum shim_meta_found {
    SHIM_META_MISS,             /* no answer: make the real call (and notify) */
    SHIM_META_STAT,             /* st is the answer */
    SHIM_META_ERROR,            /* the answer is -1 with errno err */
};

/* An answer, and the key to report a miss with. */
struct shim_meta {
    enum shim_meta_found found;
    int err;                    /* SHIM_META_ERROR */
    struct tier_stat st;        /* SHIM_META_STAT: stat, or lstat when asked */
    bool link;                  /* the path itself is a symlink */
    uint32_t access;            /* TIER_ACCESS_* of the entry */
    uint32_t file_mode;         /* st_mode of what the path names (followed) */
    bool noexec;                /* on a noexec mount (TIER_KIND_NOEXEC) */
    long link_len;              /* with a readlink buffer: bytes copied, -1
                                   when the path is no symlink (EINVAL) */
    bool notify;                /* on a miss: worth a notice to shmd */
    int len;                    /* key length, -1: not under a prefix */
    char key[PATH_KEY_SIZE];
};

/* How a metadata question is asked (shim_meta_lookup's how). */
#define SHIM_META_NOFOLLOW 1u   /* about the path itself (lstat, readlink) */
#define SHIM_META_REAL_IDS 2u   /* for the real ids (access without
                                   AT_EACCESS), not the effective ones */

/* Ask the tier about path (absolute, or relative to the cwd when dirfd is
 * AT_FDCWD), as how says (SHIM_META_*), given maybe =
 * shim_open_maybe(dirfd, path) != 0 (the cheap test the hook makes first,
 * so a path outside the prefixes costs nothing more). With link
 * (readlink), a symlink's target is copied there, at most linksz bytes
 * (checked writable first). Fills *m; reads path only after it is known
 * readable. May change errno. */
void shim_meta_lookup(int dirfd, const char *path, int maybe, unsigned how, char *link,
                      size_t linksz, struct shim_meta *m) __attribute__((visibility("hidden")));

struct shim_attach;
struct tier_entry;
/* After a miss on key (normal, len bytes): a current "does not exist"
 * (ENOENT or ENOTDIR) recorded for a directory above it, under the same
 * prefix, that this process may be told (the directories above it decide
 * search permission as the kernel would). The kernel's walk stops there
 * with that errno, whatever follows, so it answers for key too: shmd
 * records such a name (the highest missing one) when asked about a path
 * whose parent is missing (shmd/meta.c). Walks up from the parent; stops
 * at the first entry, or at the prefix. Returns the errno, 0 for none; *e
 * is the entry then. pre: a entered. */
int shim_absent_above(const struct shim_attach *a, const char *key, int len, struct tier_entry *e)
    __attribute__((visibility("hidden")));

/* For a change to key (normal, len bytes): the length of the ancestor
 * whose "does not exist" would answer for it (whoever asks, in any mode),
 * 0 for none. A create below it proves it exists: that entry must die with
 * the change (change.c). pre: a entered. */
int shim_absent_top(const struct shim_attach *a, const char *key, int len)
    __attribute__((visibility("hidden")));

/* After the real call on a miss: tell shmd, when the outcome (r, errno e)
 * is one it records (success, ENOENT, ENOTDIR). Never blocks. */
void shim_meta_notify(const struct shim_meta *m, int r, int e) __attribute__((visibility("hidden")));

#endif
