/* snapshot.h - a directory listing's objects in the instance directory
 * (the layout is in tier/listing.h): reading a source directory's names,
 * building the snapshot and its map from them, and removing them once no
 * shim holds the snapshot open. */
#ifndef SHMCACHE_SHMD_SNAPSHOT_H
#define SHMCACHE_SHMD_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A source directory's listing, in the order it was read. */
struct snap_name {
    uint64_t ino;              /* d_ino */
    uint32_t off;              /* of the name in names */
    uint16_t len;
    uint8_t type;              /* d_type */
};
struct snap_src {
    struct snap_name *v;
    size_t n, cap;
    char *names;               /* NUL-terminated names, back to back */
    size_t bytes, names_cap;
};

/* Read every name of the directory path (".", ".." too) into src, which
 * must be zeroed. Returns 0, or -1 with errno (E2BIG: more than
 * TIER_LIST_MAX names; ENOENT, ENOTDIR, EACCES, EIO as opendir/readdir). */
int snapshot_read(const char *path, struct snap_src *src);
void snapshot_src_free(struct snap_src *src);

/* The order tmpfs lists a directory's names in, probed once in dirfd:
 * SNAP_ORDER_CREATED (Linux 6.6 and later), SNAP_ORDER_REVERSED (before),
 * or SNAP_ORDER_NONE (neither: no listings are cached). */
enum snap_order { SNAP_ORDER_NONE, SNAP_ORDER_CREATED, SNAP_ORDER_REVERSED };
enum snap_order snapshot_probe_order(int dirfd);

/* What a built snapshot is: how a shim recognises it, and its map's size. */
struct snap_made {
    uint64_t ino;              /* the snapshot directory's inode and ctime */
    int64_t ctime_sec, ctime_nsec;
    uint32_t count;            /* map entries (names with "." and "..") */
};

/* Build the snapshot of src under name (an object name) in dirfd, and its
 * map for object id. Returns 0, or -1 with errno (nothing left behind);
 * EILSEQ: the source lists no "." or "..", or a name twice, or tmpfs did
 * not keep the order. */
int snapshot_build(int dirfd, const char *name, uint64_t id, const struct snap_src *src,
                   enum snap_order order, struct snap_made *out);

/* Remove the snapshot name (an object name) and its map from dirfd, unless
 * a shim holds it open (its shared flock). Returns 0 (removed, or not
 * there), 1 (in use: try again later), or -1 with errno. */
int snapshot_remove(int dirfd, const char *name);

/* Is name in dirfd a listing's snapshot or map (by its name)? */
bool snapshot_is_object(const char *name);

#endif
