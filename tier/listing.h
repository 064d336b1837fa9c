/* listing.h - a directory's listing in the tier (TIER_KIND_LIST).
 *
 * A listing is two objects in the instance directory, written by shmd
 * before the record that names them is published, and never changed:
 *   - the snapshot: a directory named by tier_object_name, holding one
 *     empty node per name of the source directory, created in the order
 *     the source listed them (tmpfs lists in creation order), of the same
 *     type where tmpfs can make one without privileges (regular file,
 *     directory, symlink, fifo, socket; a device or an unknown type is an
 *     empty regular file). A shim hands it out as a real directory stream
 *     (glibc's DIR, on a descriptor of the snapshot), so readdir,
 *     rewinddir, seekdir and telldir are glibc's own.
 *   - the map: the file named by tier_list_map_name, a tier_list_head
 *     followed by count tier_list_ent sorted by snap_ino: for every entry
 *     of the snapshot (with "." and ".."), the inode and type the source
 *     listed. The readdir hooks rewrite d_ino and d_type from it, so a
 *     program sees the source's values.
 * A shim holds a shared flock(2) on the snapshot while it has it open;
 * shmd removes a snapshot's names only under an exclusive one, so an open
 * stream never loses a name (a removal waits while one is open).
 *
 * Readers treat the map as untrusted: magic, id and count must match the
 * record, the size must match the count; anything else is a miss. */
#ifndef SHMCACHE_TIER_LISTING_H
#define SHMCACHE_TIER_LISTING_H

#include <stddef.h>
#include <stdint.h>

#include "tier/index.h"

#define TIER_LIST_MAGIC 0x74736c6d63686d73ULL /* "shmcmlst" */
#define TIER_LIST_MAX   65536u  /* names of a listing at most ("." and ".." too) */
/* What one name of a snapshot holds in the kernel (a tmpfs inode and its
 * dentry), counted against the tier's memory with the map's pages. */
#define TIER_LIST_NODE_BYTES 1024u

struct tier_list_head {
    uint64_t magic;           /* TIER_LIST_MAGIC */
    uint64_t object_id;       /* the record's object_id */
    uint32_t count;           /* entries that follow */
    uint32_t reserved;
};
_Static_assert(sizeof(struct tier_list_head) == 24, "tier_list_head moved: bump TIER_VERSION");

struct tier_list_ent {
    uint64_t snap_ino;        /* the snapshot node's inode (the key) */
    uint64_t src_ino;         /* d_ino the source listed */
    uint8_t src_type;         /* d_type the source listed */
    uint8_t reserved[7];
};
_Static_assert(sizeof(struct tier_list_ent) == 24, "tier_list_ent moved: bump TIER_VERSION");

/* Bytes of the map of count entries. */
static inline size_t tier_list_map_size(uint32_t count)
{
    return sizeof(struct tier_list_head) + (size_t)count * sizeof(struct tier_list_ent);
}

/* The map's file name for an object name (tier_object_name): "m" and the
 * same 40 hex digits. buf: TIER_OBJECT_NAME_SIZE bytes. */
void tier_list_map_name(const char *object_name, char *buf);

/* The entry for snap_ino among n sorted entries, or NULL. */
const struct tier_list_ent *tier_list_find(const struct tier_list_ent *e, uint32_t n,
                                           uint64_t snap_ino);

#endif
