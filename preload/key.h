/* key.h - from the path a program passed to the key the index uses: the
 * normalised absolute path (tier/path.h), for a read-only open (cheap, on
 * every open) and for any call that changes a path (through "..", a
 * directory descriptor, /proc). */
#ifndef SHMCACHE_KEY_H
#define SHMCACHE_KEY_H

#include <fcntl.h>
#include <stdbool.h>

#include "preload/config.h"
#include "preload/readable.h"
#include "tier/path.h"

#define SHIM_KEY_HIDDEN __attribute__((visibility("hidden")))

/* Does the current directory lie under a prefix, or above one? Decided on
 * chdir (shim_cwd_changed); a stale value is harmless: "no" makes a
 * relative open pass through (always correct), "yes" makes it ask the
 * kernel for the real cwd. */
extern int shim_cwd_is_relevant SHIM_KEY_HIDDEN;
void shim_cwd_changed(void) SHIM_KEY_HIDDEN;

/* The cheap test on every servable open: could path name a cached file?
 * Returns 0 (no: pass through, also when path cannot be read: the real
 * call answers EFAULT), 1 (under a prefix as written), -1 (only
 * normalising can tell) or 2 (relative, from a relevant cwd). Reads at
 * most the longest prefix's length + 1 bytes of path, after checking they
 * can be read; no system call unless the chunk is new. */
static inline int shim_open_maybe(int dirfd, const char *path)
{
    unsigned need = shim_cfg.prefixes.max_len + 1;
    uintptr_t a = (uintptr_t)path;

    if (!a)
        return 0;
    if (__builtin_expect((a & (SHIM_CHUNK_SIZE - 1)) + need > SHIM_CHUNK_SIZE ||
                         !shim_chunk_readable(a >> SHIM_CHUNK_SHIFT), 0)) {
        if (shim_path_len(path) < 0)
            return 0;
    }
    if (path[0] == '/')
        return path_prefixes_match_raw(&shim_cfg.prefixes, path);
    return path[0] && dirfd == AT_FDCWD && load_relaxed(&shim_cwd_is_relevant) ? 2 : 0;
}

/* The key of a servable open of path (relative to the cwd when not
 * absolute), given maybe = shim_open_maybe(dirfd, path) != 0. key has
 * PATH_KEY_SIZE bytes. Returns the key length, or -1 when path is not
 * under a prefix or not cacheable ("..", too long, unreadable).
 *
 * The common case (absolute, under a prefix as written) is the path
 * itself, copied without checking that it is normal: *raw is then set.
 * Looking it up is still exact, because every key in the index is normal:
 * a path that is found is normal, and only a miss needs
 * shim_key_normalize() and a second look. */
int shim_open_key(int dirfd, const char *path, int maybe, char *key, bool *raw) SHIM_KEY_HIDDEN;

/* After a miss on a raw key of len bytes: its normal form, in place.
 * Returns its length (*changed false: it was normal, the miss stands), or
 * -1 when it cannot be a key. */
int shim_key_normalize(char *key, int len, bool *changed) SHIM_KEY_HIDDEN;

/* Normalise any path for a modifying call: absolute, relative to the cwd
 * or to a directory descriptor (resolved through /proc/self/fd), through
 * ".." (its parent resolved by the kernel). allow_dir keeps names like "d/".
 * Returns the length, or -1 when it cannot be resolved (or read). */
int shim_resolve(int dirfd, const char *path, char *out, bool allow_dir) SHIM_KEY_HIDDEN;

/* The normalised absolute path of open descriptor fd (/proc/self/fd), or
 * -1. */
int shim_fd_resolve(int fd, char *out) SHIM_KEY_HIDDEN;

/* True when path (readable, see shim_path_len) has a ".." component. */
bool shim_has_dotdot(const char *path) SHIM_KEY_HIDDEN;

#endif
