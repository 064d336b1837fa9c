/* store.h - the writer side of the tier: the index file, its slots, the
 * path arena and the objects in the instance directory, with capacity
 * accounting and CLOCK (second-chance) eviction.
 *
 * shmd is the only writer. Inside shmd, every store_* function except
 * store_create and store_destroy must be called with s->lock held; readers in
 * other processes never take it. */
#ifndef SHMCACHE_STORE_H
#define SHMCACHE_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shmd/debug.h"
#include "tier/atomic.h"
#include "tier/index.h"
#include "tier/layout.h"

struct store_params {
    uint32_t slots;            /* power of two in [TIER_SLOTS_MIN, TIER_SLOTS_MAX];
                                  3/4 of them can hold entries */
    uint64_t capacity;         /* bytes of object memory */
    uint64_t max_file;         /* bytes */
    uint64_t revalidate_ms;
    uint64_t settle_ms;
    uint64_t negative_ms;
    uint64_t root_dev, root_ino, mntns_ino;
};

/* A loaded object, ready to publish. */
struct store_obj {
    uint32_t record;           /* from store_reserve: part of the object's name */
    uint64_t id;
    uint64_t ino;              /* the object's inode and ctime (after fchmod */
    int64_t ctime_sec;         /* and futimens: final)                       */
    int64_t ctime_nsec;
    uint64_t epoch;            /* marks epoch and gen when the load began */
    uint64_t gen;
    uint64_t checked_ns;       /* CLOCK_REALTIME ns of the stat that gave st */
    struct tier_stat st;       /* the source */
    uint32_t access;           /* TIER_ACCESS_*, and the owner of the */
    uint32_t dirs_uid;         /* directories not open (shmd_access) */
    uint32_t kind;             /* TIER_KIND_*: FILE has an object, the others
                                  none (id is still unique, ino 0) */
    struct tier_stat lst;      /* with TIER_KIND_LINK */
    const char *target;        /* with TIER_KIND_LINK: target_len bytes */
    uint32_t target_len;
    uint32_t real_bucket1;     /* see struct tier_record */
    uint64_t real_gen;
    uint32_t list_count;       /* with TIER_KIND_LIST: the map's entries
                                  (ino and ctime are the snapshot's) */
};

struct arena_free {            /* free path records of one size class */
    uint64_t *off;
    size_t n, cap;
};

struct store {
    pthread_mutex_t lock;      /* through store_lock/store_unlock only */
#if SHMCACHE_DEBUG >= 1
    pthread_t owner;           /* who holds lock, while locked */
    bool locked;
#endif
    int dirfd;                 /* the instance directory (not owned) */
    int fd;                    /* the index file (for fallocate) */
    void *map;                 /* the whole index file, read-write */
    size_t map_len;
    struct tier_header *hdr;
    struct tier_slot *slots;
    struct tier_record *records;
    unsigned char *arena;
    struct tier_view view;     /* the same mapping seen as a reader */
    uint32_t *free_records;    /* stack of free record indices, lowest on top */
    uint32_t nfree;
    uint32_t max_entries;      /* live entries at most: 3/4 of the slots; the
                                  records beyond are for loads in flight, so a
                                  replacement never has to evict another entry */
    uint32_t records_hi;       /* atomic: one above every record ever used;
                                  walks stop there, so untouched records
                                  are never faulted in */
    uint32_t hand;             /* CLOCK hand, over records */
    uint64_t next_id;          /* next object id; ids are never reused */
    uint64_t reserved;         /* bytes promised to loads in flight */
    uint64_t arena_top;        /* bump pointer into the arena */
    uint64_t records_ready;    /* bytes of the records region allocated */
    uint64_t arena_ready;      /* bytes of the arena allocated */
    struct arena_free *free;   /* by record size / 8 */
    size_t free_classes;
    /* snapshots of listings removed from the table, to be deleted once no
     * shim holds them open (store_reap): object names */
    char (*trash)[TIER_OBJECT_NAME_SIZE];
    size_t ntrash, trash_cap;
};

/* Take and release s->lock. With SHMCACHE_DEBUG (shmd/debug.h) the owner
 * is recorded for the lock-held checks, and at level 2 store_unlock runs
 * store_validate first and aborts on a broken invariant. */
void store_lock(struct store *s);
void store_unlock(struct store *s);

/* Create (replacing any) the index file "index" in dirfd and map it.
 * Returns 0, or -1 with errno set. */
int store_create(struct store *s, int dirfd, const struct store_params *p);

/* Mark the index stopped, unlink every object and the index; unmap and
 * free unless unmap is false (threads may still look: the process is about
 * to exit). s->lock is left as it is. */
void store_destroy(struct store *s, bool unmap);

/* Bytes of tmpfs memory an object of size bytes occupies, and a listing
 * of count names (its snapshot's nodes and its map). */
uint64_t store_object_memory(uint64_t size);
uint64_t store_list_memory(uint32_t count);

/* Delete the snapshots of removed listings that no shim holds open any
 * more; the others wait for the next call. Takes s->lock briefly; the
 * deleting runs without it. Main loop. */
void store_reap(struct store *s);

/* The record holding path key (padded as for tier_lookup), or -1. */
int store_find(const struct store *s, const char *key, size_t len, uint64_t hash);

/* Bound for walks over records: every live record is below it. */
static inline uint32_t store_records_hi(const struct store *s)
{
    return load_acquire(&s->records_hi);
}

/* Copy the path of live record r into out (PATH_KEY_SIZE bytes) with its
 * NUL. Returns its length. */
size_t store_path_copy(const struct store *s, uint32_t r, char *out);

/* A new, never used object id. */
uint64_t store_new_id(struct store *s);

/* Reserve memory bytes of capacity and one record for a load in flight,
 * evicting entries as needed. The record is the object's for its whole
 * life (its index is part of the object's name), so a replacement is
 * published into a new record. Returns the record, -1 when the load
 * cannot fit even after eviction (then nothing was evicted in vain), or -2
 * when the tmpfs has no page left for the record. */
int store_reserve(struct store *s, uint64_t memory);
/* Give back a reservation that will not be published. */
void store_unreserve(struct store *s, uint64_t memory, uint32_t record);

/* Publish obj (in its reserved record) under path, replacing an entry for
 * the same path. Consumes the reservation, also on failure. Evicts when the
 * path arena is full. Returns the record, -1 when there is no room, or -2
 * when the tmpfs has no page left for the path; on success, an object this
 * replaced has been unlinked. */
int store_put(struct store *s, const char *key, size_t len, uint64_t hash,
              const struct store_obj *obj);

/* Remove the entry in record r and unlink its object. */
void store_remove(struct store *s, uint32_t r);

/* Make a killed entry current again without copying: the caller checked,
 * after reading gen and epoch, that the source is exactly as when copied,
 * and classified its permissions again (a directory above may have changed).
 * Returns false if record r no longer holds object id. */
bool store_revive(struct store *s, uint32_t r, uint64_t id, uint64_t gen, uint64_t epoch,
                  uint64_t real_gen, uint32_t access, uint32_t dirs_uid);

/* Choose and remove one entry by CLOCK. Returns false when there is none. */
bool store_evict_one(struct store *s);

/* True when the entry in record r was killed by a shim (gen or epoch moved). */
bool store_entry_killed(const struct store *s, uint32_t r);

/* Sums of the striped counters the shims keep. */
struct store_counts {
    uint64_t hits, misses, unsent, meta_hits, negative_hits, dir_hits, wait_hits, wait_timeouts;
};
void store_counts(const struct store *s, struct store_counts *c);

/* Expensive whole-table invariant check for tests: every entry reachable
 * from its home slot, counters equal to the sums. Returns NULL or a reason. */
const char *store_validate(const struct store *s);

#endif
