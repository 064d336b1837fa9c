/* client.h - the shim as the tier's client: serve an open from the tier,
 * tell shmd about a miss. */
#ifndef SHMCACHE_CLIENT_H
#define SHMCACHE_CLIENT_H

#include <stdbool.h>

/* What shim_serve returns for a path the tier knows does not exist: the
 * open fails with *err (ENOENT, ENOTDIR) without a system call. */
#define SHIM_SERVE_NEGATIVE (-2)

/* Open key (len bytes, padded as path_normalize leaves it) through the
 * tier with the caller's open flags. Returns a descriptor on a hit,
 * SHIM_SERVE_NEGATIVE (with *err), or -1 on a miss; *notify then says
 * whether shmd should be told after the real open. May change errno. */
int shim_serve(const char *key, int len, int flags, bool *notify, int *err)
    __attribute__((visibility("hidden")));

/* A servable open of path (dirfd, maybe: as for shim_open_key) through
 * the tier: the key is built into key (PATH_KEY_SIZE bytes) and served.
 * Returns a descriptor on a hit, SHIM_SERVE_NEGATIVE (with *err); otherwise -1, with *len the key's length
 * (-1: not cacheable) and *notify whether shmd should be told after the
 * real open. May change errno. */
int shim_serve_path(int dirfd, const char *path, int maybe, int flags, char *key, int *len,
                    bool *notify, int *err) __attribute__((visibility("hidden")));

/* Put obj, a descriptor of a copy in the tier the shim opened (O_CLOEXEC),
 * in place of the program's fd: dup3, so fd keeps its number and gets the
 * caller's O_CLOEXEC (of flags); obj is closed. True when fd is the copy
 * now. */
bool shim_put_in_place(int obj, int fd, int flags) __attribute__((visibility("hidden")));

/* Tell shmd about a miss on key, handing it fd, the descriptor the real
 * open just returned (read-only, with the open's flags), so it can copy
 * through the same open file (page cache, no second open on the slow
 * filesystem). With a fleet answering and SHMCACHE_FLEET_WAIT_MS, waits at
 * most that long for shmd to fetch the copy from the fleet, and then puts
 * the copy in place of fd (client.c); otherwise never blocks. fd stays
 * the caller's either way. May change errno. */
void shim_notify_miss(const char *key, int len, int fd, int flags)
    __attribute__((visibility("hidden")));

/* Tell shmd that a metadata question on key (or an open that found
 * nothing) had no answer in the tier: it records the path's stat, or that
 * it does not exist. Never blocks. May change errno. */
void shim_notify_stat(const char *key, int len) __attribute__((visibility("hidden")));

/* Tell shmd that a directory listing (opendir, scandir) of key had no
 * answer in the tier: it records the listing. Never blocks. May change
 * errno. */
void shim_notify_list(const char *key, int len) __attribute__((visibility("hidden")));

#endif
