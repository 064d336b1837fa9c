/* index.h - the reader side of the index: validating a mapped index file,
 * lock-free lookup, object names. Used by the shim (read-only mapping) and
 * by shmd (which also writes, see shmd/store.h).
 *
 * Everything read from the mapping is untrusted: offsets, lengths and counts
 * are bounds-checked before use, so a corrupt or hostile index can only make
 * lookups miss. */
#ifndef SHMCACHE_INDEX_H
#define SHMCACHE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tier/atomic.h"
#include "tier/layout.h"

/* A process-local view of one mapped index. All pointers point into the
 * mapping; the scalar fields are copies taken (and checked) at attach, so a
 * later change to the header cannot move them. */
struct tier_view {
    const struct tier_header *hdr;
    const struct tier_slot *slots;
    const struct tier_record *records;
    const unsigned char *arena;
    struct tier_marks *marks;          /* writable region */
    struct tier_stripe *stripes;
    uint64_t *gens;                    /* change words, by bucket */
    uint32_t *hits;                    /* per record, approximate */
    uint8_t *refs;
    struct tier_ring *ring;            /* misses the socket had no room for */
    uint64_t arena_size;               /* bytes */
    uint64_t hash_seed;
    uint64_t generation;
    uint32_t slot_mask;                /* slot_count - 1 */
    uint32_t record_count;
    uint32_t bucket_mask;
    uint32_t stripe_mask;
};

/* Check a header against the file it came from. Returns NULL when the index
 * is usable, or a short reason ("bad magic", "owner uid 0", ...).
 * pre: at least TIER_HEADER_SIZE bytes are mapped at h. */
const char *tier_header_check(const struct tier_header *h, uint64_t file_size,
                              uint32_t uid);

/* Fill v from h, a checked copy of the header (a hostile writer cannot
 * change the sizes after the check). ro maps the file from offset 0 to
 * marks_offset (at least), rw maps marks_size bytes from marks_offset. */
void tier_view_init(struct tier_view *v, const struct tier_header *h,
                    const void *ro, void *rw);

/* True when a daemon owns the index and its heartbeat is recent.
 * now_ns: CLOCK_MONOTONIC (or _COARSE) ns. */
bool tier_view_live(const struct tier_view *v, uint64_t now_ns);

/* What a lookup copies out of a record, consistent as of seq. */
struct tier_entry {
    uint32_t record;          /* index into the records */
    uint64_t seq;
    uint64_t object_id;
    uint64_t object_ino;
    int64_t object_ctime_sec;
    int64_t object_ctime_nsec;
    struct tier_stat st;
    uint32_t access;          /* TIER_ACCESS_* */
    uint32_t dirs_uid;
    uint32_t kind;            /* TIER_KIND_* */
    uint32_t target_len;      /* with TIER_KIND_LINK: see tier_entry_target */
    uint64_t target_off;      /* bytes from the arena start */
    uint32_t list_count;      /* with TIER_KIND_LIST: entries of the map */
    struct tier_stat lst;     /* with TIER_KIND_LINK */
};

enum tier_lookup_result {
    TIER_MISS = 0,   /* no entry, or could not read one consistently */
    TIER_HIT = 1,    /* *e is a consistent, current entry */
    TIER_STALE = 2,  /* an entry exists but a change through a shim killed it */
};

/* Look up a normalised path. key holds len bytes, a NUL and zero padding up
 * to the next multiple of 8 (as path_normalize leaves it); hash is
 * tier_hash(v->hash_seed, key, len). Lock-free, async-signal-safe; never
 * loops more than slot_count probes. */
enum tier_lookup_result tier_lookup(const struct tier_view *v, const char *key,
                                    size_t len, uint64_t hash,
                                    struct tier_entry *e);

/* True when record e->record still holds what the lookup saw: call after
 * opening the object, so a hit is only served if the entry was valid across
 * the open. */
bool tier_entry_unchanged(const struct tier_view *v, const struct tier_entry *e);

/* Copy the symlink target of e (TIER_KIND_LINK) into buf, at most n bytes
 * and no NUL, as readlink(2) does. Returns the bytes copied (the whole
 * target is target_len), or -1 when the record changed meanwhile (a miss)
 * or is inconsistent. */
long tier_entry_target(const struct tier_view *v, const struct tier_entry *e, char *buf, size_t n);

/* The object's file name in the instance directory: "o" followed by 40 hex
 * digits: the index generation (16), the object id (16) and the record (8)
 * that holds it for its whole life. buf must hold TIER_OBJECT_NAME_SIZE
 * bytes. The name identifies the record, so a descriptor the shim did not
 * hand out itself (inherited across exec) can still be matched to it. */
#define TIER_OBJECT_NAME_SIZE 42
void tier_object_name(uint64_t generation, uint64_t id, uint32_t record, char *buf);

/* Parse an object name. Returns false for anything else. */
bool tier_object_parse(const char *name, uint64_t *generation, uint64_t *id, uint32_t *record);

/* Read record r consistently into e if it holds object id; false when it
 * does not or kept changing. Bounds-checked. */
bool tier_record_get(const struct tier_view *v, uint32_t r, uint64_t id, struct tier_entry *e);

/* Count an event in this CPU's stripe (relaxed; never blocks). */
enum tier_counter { TIER_COUNT_HIT, TIER_COUNT_MISS, TIER_COUNT_UNSENT, TIER_COUNT_META_HIT,
                    TIER_COUNT_NEGATIVE_HIT, TIER_COUNT_DIR_HIT, TIER_COUNT_WAIT_HIT,
                    TIER_COUNT_WAIT_TIMEOUT };
void tier_count(const struct tier_view *v, enum tier_counter c);

/* A hit on a record: set its CLOCK reference bit (read-mostly: the line is
 * written only when the bit is not set yet) and count it (a plain
 * increment: concurrent hits on one file may count once, never block). */
static inline void tier_touch(const struct tier_view *v, uint32_t record)
{
    if (record >= v->record_count)
        return;
    uint8_t *r = &v->refs[record];
    if (!load_relaxed(r))
        store_relaxed(r, 1);
    uint32_t *h = &v->hits[record];
    store_relaxed(h, load_relaxed(h) + 1);
}

#endif
