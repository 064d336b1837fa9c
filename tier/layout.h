/* layout.h - the on-shm layout of an instance's `index` file.
 *
 * This file is an ABI between shmd and every process that has the shim
 * loaded, possibly built from different versions of this tree. Fixed-width
 * fields only (no pointers, time_t or struct stat); magic and version first.
 * tests/unit/test_layout.c pins every offset and size: a change that moves a
 * field must bump TIER_VERSION.
 *
 * The file, created by shmd and never resized:
 *
 *   0              struct tier_header (TIER_HEADER_SIZE bytes, a page)
 *   slots_offset   struct tier_slot[slot_count]     } mapped read-only by shims
 *   records_offset struct tier_record[record_count] }
 *   arena_offset   path bytes, arena_size bytes     }
 *   marks_offset   struct tier_marks                } the only region shims map
 *                  struct tier_stripe[stripe_count] } writable: a wrong value
 *                  uint64_t gen[bucket_count]       } there can cause a miss
 *                  uint32_t hits[record_count]      } (or a wrong count),
 *                  uint8_t  ref[record_count]       } never another file's bytes
 *
 * The hash table (slots) is compact, 16 bytes per slot, because every probe
 * touches it and tmpfs allocates a page even for a read fault on a hole. The
 * entries themselves (records) are allocated densely by shmd, so memory
 * follows the number of entries, not the table size; they never move, so
 * deletion only shifts 16-byte slots and CLOCK can keep its hand on records.
 *
 * Writers: shmd alone writes the header, slots, records and arena (one mutex
 * inside the daemon). Readers are lock-free; each record is a seqlock. */
#ifndef SHMCACHE_LAYOUT_H
#define SHMCACHE_LAYOUT_H

#include <stdint.h>

#define TIER_MAGIC        0x3158444948534d53ULL /* "SMSHIDX1" little-endian */
#define TIER_MARKS_MAGIC  0x314b52414d534d53ULL /* "SMSMARK1" */
#define TIER_VERSION      6u
#define TIER_PAGE         4096u
#define TIER_HEADER_SIZE  4096u
#define TIER_PATH_MAX     4096u   /* bytes including the NUL, as PATH_MAX */

#define TIER_SLOTS_MIN    64u
#define TIER_SLOTS_MAX    (1u << 24)
#define TIER_ARENA_PER_RECORD 256u /* bytes of path arena per record */
#define TIER_STRIPES      64u     /* counter stripes, power of two */

/* Heartbeat: shmd stores CLOCK_MONOTONIC ns every TIER_HEARTBEAT_NS; a shim
 * that sees it older than TIER_STALE_NS stops serving hits. */
#define TIER_HEARTBEAT_NS 100000000ULL   /* 100 ms */
#define TIER_STALE_NS     2000000000ULL  /* 2 s */

enum tier_state {
    TIER_STATE_LIVE = 1,    /* a daemon owns this index and serves it */
    TIER_STATE_STOPPED = 2, /* the daemon left or was replaced: pass through */
};

/* The fleet as the shims see it (tier_header.fleet, written by shmd). A
 * shim waits for a miss to come from the fleet (SHMCACHE_FLEET_WAIT_MS)
 * only while it is TIER_FLEET_ANSWERING: with no fleet, one that timed out
 * or failed last, or one that has held nothing this host asked for lately,
 * a miss costs exactly what it does without one. */
enum tier_fleet {
    TIER_FLEET_NONE = 0,      /* no --fleet */
    TIER_FLEET_ANSWERING = 1, /* its last operation succeeded */
    TIER_FLEET_DOWN = 2,      /* its last operation failed: loads read the source */
    TIER_FLEET_COLD = 3,      /* it answers, but held none of the last files
                                 asked of it (a first host): not worth a wait */
};

/* Reasons a load is refused; counted in tier_header.fail[]. */
enum tier_fail {
    TIER_FAIL_NOENT = 0,     /* source missing or unreadable */
    TIER_FAIL_NOT_REGULAR,   /* directory, device, fifo, special filesystem */
    TIER_FAIL_TOO_LARGE,     /* above --max-file or capacity */
    TIER_FAIL_UNSETTLED,     /* modified within --settle-ms */
    TIER_FAIL_CHANGED,       /* changed while being copied */
    TIER_FAIL_NOSPACE,       /* tmpfs full (ENOSPC) */
    TIER_FAIL_IO,            /* read or write error */
    TIER_FAIL_INDEX_FULL,    /* no slot or path space left after eviction */
    TIER_FAIL_NO_ROOM,       /* capacity taken by other loads in flight */
    TIER_FAIL_WRITING,       /* open for writing: more writes may follow */
    TIER_FAIL_COUNT
};

struct tier_header {
    /* Static after creation. magic is stored last, with release order, so a
     * reader that sees it sees every other field. */
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;     /* bytes: sizeof(struct tier_header) */
    uint32_t slot_size;       /* bytes: sizeof(struct tier_slot) */
    uint32_t record_size;     /* bytes: sizeof(struct tier_record) */
    uint32_t slot_count;      /* power of two */
    uint32_t record_count;    /* 3/4 of slot_count (the load factor bound on
                                 live entries) plus spares for loads in flight */
    uint32_t bucket_count;    /* power of two: entries of gen[] */
    uint32_t stripe_count;    /* power of two: entries of the stripe array */
    uint64_t file_size;       /* bytes */
    uint64_t slots_offset;    /* bytes from the start of the file */
    uint64_t records_offset;
    uint64_t arena_offset;
    uint64_t arena_size;      /* bytes */
    uint64_t marks_offset;    /* page aligned */
    uint64_t marks_size;      /* bytes, page multiple */
    uint64_t hash_seed;       /* random per index: no precomputed collisions */
    uint64_t generation;      /* random per index: part of every object name,
                                 so names are never reused across restarts */
    uint32_t owner_uid;
    uint32_t daemon_pid;
    uint64_t root_dev;        /* the daemon's "/": shims in another root or */
    uint64_t root_ino;        /* mount namespace would resolve paths to    */
    uint64_t mntns_ino;       /* other files, so they do not attach (0: ?) */
    uint64_t started_ns;      /* CLOCK_REALTIME ns */
    uint64_t capacity;        /* bytes of object memory (page-rounded sizes) */
    uint64_t max_file;        /* bytes */
    uint64_t revalidate_ms;   /* 0: never revalidate */
    uint64_t settle_ms;
    uint64_t negative_ms;     /* bound on a cached "does not exist"; 0: none cached */

    /* Live line, own cache line: read on every hit. */
    uint64_t heartbeat_ns;    /* CLOCK_MONOTONIC ns of the last heartbeat */
    uint32_t state;           /* enum tier_state */
    uint32_t fleet;           /* enum tier_fleet: may a shim wait for a miss
                                 to be fetched from the fleet? */
    uint64_t reserved2[6];

    /* Daemon counters (written by shmd only, relaxed). */
    uint64_t entries;         /* live slots */
    uint64_t bytes;           /* sum of cached file sizes */
    uint64_t memory;          /* sum of sizes rounded up to pages: what tmpfs holds */
    uint64_t loads;           /* objects published */
    uint64_t load_failures;   /* sum of fail[] */
    uint64_t evictions;       /* entries dropped to make room */
    uint64_t invalidations;   /* entries dropped because the source changed */
    uint64_t misses_received; /* miss datagrams accepted */
    uint64_t fail[16];        /* by enum tier_fail */
    uint64_t meta_entries;    /* live records of kind TIER_KIND_META */
    uint64_t negative_entries; /* live records of kind TIER_KIND_NEG */
    uint64_t dir_entries;     /* live records with TIER_KIND_LIST */
    uint64_t meta_loads;      /* metadata records published */
    uint64_t misses_ringed;   /* ... of misses_received, taken from the miss ring */
};
_Static_assert(sizeof(struct tier_header) == 488 && sizeof(struct tier_header) <= TIER_HEADER_SIZE,
               "tier_header moved: bump TIER_VERSION, update test_layout.c");

/* The source's struct stat as seen when the copy was made. */
struct tier_stat {
    uint64_t dev;
    uint64_t ino;
    uint64_t nlink;
    uint64_t size;            /* bytes */
    uint64_t blocks;          /* 512-byte units */
    uint64_t rdev;
    uint32_t mode;
    uint32_t uid;
    uint32_t gid;
    uint32_t blksize;
    int64_t atime_sec;
    int64_t atime_nsec;
    int64_t mtime_sec;
    int64_t mtime_nsec;
    int64_t ctime_sec;
    int64_t ctime_nsec;
    int64_t btime_sec;        /* birth time, when the filesystem tells it */
    int64_t btime_nsec;       /* -1: it does not */
    /* what statx(2) answered beyond struct stat (statx_mask 0: not known,
     * a statx is then asked of the kernel) */
    uint32_t statx_mask;      /* stx_mask of that answer */
    uint32_t reserved;
    uint64_t mnt_id;          /* stx_mnt_id */
    uint64_t attributes;      /* stx_attributes */
    uint64_t attributes_mask; /* stx_attributes_mask */
};
_Static_assert(sizeof(struct tier_stat) == 160, "tier_stat moved: bump TIER_VERSION");

/* One slot of the open-addressing table: linear probing, backward-shift
 * deletion (no tombstones: a probe ends at an empty slot). The two words
 * are written separately, so a reader may see a torn pair; that is harmless
 * because the record's own hash and path are checked under its seqlock. */
struct tier_slot {
    uint64_t hash;            /* tier_hash(seed, path) */
    uint64_t record;          /* 1 + index into the records; 0: empty */
};
_Static_assert(sizeof(struct tier_slot) == 16, "tier_slot moved: bump TIER_VERSION");

/* One cached path. Invariant: while seq is even, every other field
 * describes one complete entry, or object_id == 0 (free record).
 *
 * Kinds (kind & TIER_KIND_MASK):
 *   FILE  the file's bytes in an object; st is stat(path) (the file, through
 *         any symlinks), as for every kind that exists;
 *   META  no object: a path that exists (a directory, a symlink to one, a
 *         file not copied); st is stat(path);
 *   NEG   stat(path) fails with errno kind >> TIER_KIND_ERR_SHIFT (ENOENT or
 *         ENOTDIR, never an error that depends on who asks); st is the
 *         parent directory's stat when that was checked.
 * TIER_KIND_LINK: the path itself is a symlink: lst is lstat(path) and the
 * link's target_len bytes follow the path in the arena (NUL-terminated,
 * zero-padded). TIER_KIND_PLAIN: the path itself is no symlink: lstat(path)
 * is stat(path), or fails as it does. With neither, lstat is not known.
 * TIER_KIND_LIST (with META, for a directory): the directory's listing is
 * an object too: a snapshot directory named by the object (entries of the
 * same names, in the same order, as empty nodes) and its map, the file
 * named by tier_list_map_name: list_count entries (tier/listing.h). */
#define TIER_KIND_FILE      0u
#define TIER_KIND_META      1u
#define TIER_KIND_NEG       2u
#define TIER_KIND_MASK      0xffu
#define TIER_KIND_LINK      0x100u
#define TIER_KIND_PLAIN     0x200u
#define TIER_KIND_LIST      0x400u
#define TIER_KIND_NOEXEC    0x800u  /* on a noexec mount (or not known):
                                       access(X_OK) of a regular file is
                                       the kernel's to answer */
#define TIER_KIND_ERR_SHIFT 16

struct tier_record {
    uint64_t seq;             /* seqlock: odd while shmd rewrites the record */
    uint64_t hash;            /* tier_hash(seed, path) */
    uint64_t object_id;       /* 0: empty; never reused within a generation
                                 (also for kinds without an object) */
    uint64_t object_ino;      /* the object's inode and ctime: how the shim */
    int64_t object_ctime_sec; /* recognises its own descriptors in fstat   */
    int64_t object_ctime_nsec;
    uint64_t epoch;           /* tier_marks.epoch when the load began */
    uint64_t gen;             /* gen[bucket] when the load began; both are
                                 change words with no call in flight */
    uint64_t path_off;        /* bytes from the arena start, 8-aligned */
    uint64_t loaded_ns;       /* CLOCK_REALTIME ns when the source was first
                                 stat'ed for the copy (st below is from then) */
    struct tier_stat st;
    uint32_t path_len;        /* bytes, without the NUL */
    uint32_t access;          /* TIER_ACCESS_* flags, from the load */
    uint32_t dirs_uid;        /* owner of every directory above the file that
                                 not everyone may search, or TIER_UID_NONE */
    uint32_t kind;            /* TIER_KIND_* */
    struct tier_stat lst;     /* lstat(path), with TIER_KIND_LINK */
    uint64_t real_gen;        /* gen[real_bucket1 - 1] when the load began */
    uint32_t real_bucket1;    /* 1 + the bucket of the path with its symlinks
                                 resolved, when that is another path: a
                                 change to the target kills the entry too */
    uint32_t target_len;      /* bytes of the link's target, without NUL */
    uint32_t list_count;      /* with TIER_KIND_LIST: entries in the map */
    uint32_t reserved;
};
_Static_assert(sizeof(struct tier_record) == 440 && sizeof(struct tier_record) % 8 == 0,
               "tier_record moved (the seqlock copies whole words): bump TIER_VERSION");

/* Who may be served an entry. Every process of the instance's uid can map
 * it, but they may differ in groups and capabilities, which the kernel
 * checks on a real open; shmd records what the mode bits of the file and
 * of each directory above it (and POSIX ACLs) decide, and a shim serves a
 * hit only when they decide it for the calling process, otherwise it asks
 * the kernel (tier/access.h). */
#define TIER_ACCESS_DIRS_OPEN 1u  /* every directory above the file has all
                                     three x bits and no ACL */
#define TIER_ACCESS_FILE_ACL  2u  /* the file has an ACL: its group and
                                     other bits do not decide */
#define TIER_UID_NONE 0xffffffffu

/* Change words: tier_marks.epoch (tree-wide changes: a directory or
 * symlink renamed or removed, an ancestor of a prefix changed) and
 * gen[hash & (bucket_count - 1)] (a path of that bucket changed). Only
 * shims write them, only by adding:
 *   bits 0-47   changes: how many times the word moved;
 *   bits 48-63  modifying calls in flight on it.
 * A modifying call adds TIER_CHANGE_BEGIN before the real call and
 * TIER_CHANGE_END after it (on the same index); the close of a descriptor
 * written through the shim adds TIER_CHANGE_ONE. A load records both words
 * when it begins, and only when no call is in flight on them; an entry is
 * served only while both are still exactly what it recorded. So from the
 * moment a modifying call begins until long after it ended, its paths are
 * not served: no process that can observe its effect (the rename done, the
 * lock file gone) is served what was there before, and a load that read
 * the old state in the meantime is never published. A process killed
 * inside a modifying call leaves its word in flight: the paths of that
 * bucket (or, for the epoch, all paths) pass through, never stale, until
 * shmd clears a mark in flight for longer than TIER_CHANGE_STUCK_NS. */
#define TIER_CHANGE_COUNT_MASK ((1ULL << 48) - 1)
#define TIER_CHANGE_INFLIGHT   (1ULL << 48)
#define TIER_CHANGE_ONE        1ULL
#define TIER_CHANGE_BEGIN      (TIER_CHANGE_INFLIGHT + TIER_CHANGE_ONE)
#define TIER_CHANGE_END        (TIER_CHANGE_ONE - TIER_CHANGE_INFLIGHT) /* mod 2^64 */
#define TIER_CHANGE_STUCK_NS   10000000000ULL /* 10 s */

/* True when no modifying call is in flight on change word w. */
static inline int tier_change_quiet(uint64_t w)
{
    return (w & ~TIER_CHANGE_COUNT_MASK) == 0;
}

/* Start of the writable region: the epoch, then (see the map above) the
 * counter stripes, the gen[] change words, hits and reference bits. */
struct tier_marks {
    uint64_t magic;           /* TIER_MARKS_MAGIC */
    uint64_t reserved0[7];
    uint64_t epoch;           /* own cache line */
    uint64_t inflight;        /* modifying calls in flight, all words: a hint
                                 (shmd looks for marks left in flight by a
                                 process that died while it is not 0) */
    uint64_t reserved1[6];
};
_Static_assert(sizeof(struct tier_marks) == 128, "tier_marks moved: bump TIER_VERSION");

/* Hit and miss counters, striped by CPU so workers do not share a line. */
struct tier_stripe {
    uint64_t hits;            /* opens served */
    uint64_t misses;
    uint64_t unsent;          /* miss notices the socket refused (queue full) */
    uint64_t meta_hits;       /* stat, access, readlink answered */
    uint64_t negative_hits;   /* ... of them, with an error (ENOENT, ENOTDIR) */
    uint64_t dir_hits;        /* directory listings served (opendir, scandir) */
    uint64_t wait_hits;       /* misses served after waiting for the fleet
                                 (SHMCACHE_FLEET_WAIT_MS) */
    uint64_t wait_timeouts;   /* ... waits that reached the bound */
};
_Static_assert(sizeof(struct tier_stripe) == 64, "tier_stripe moved: bump TIER_VERSION");

/* Offsets inside the marks region, derived from the counts. */
static inline uint64_t tier_marks_stripes_off(void)
{
    return sizeof(struct tier_marks);
}
static inline uint64_t tier_marks_gens_off(uint32_t stripes)
{
    return tier_marks_stripes_off() + (uint64_t)stripes * sizeof(struct tier_stripe);
}
/* Hits per record: approximate (shims add without a locked instruction, so
 * concurrent hits may count once), zeroed by shmd when a record gets a new
 * object; for `shmd ls`. */
static inline uint64_t tier_marks_hits_off(uint32_t stripes, uint32_t buckets)
{
    return tier_marks_gens_off(stripes) + (uint64_t)buckets * sizeof(uint64_t);
}
static inline uint64_t tier_marks_refs_off(uint32_t stripes, uint32_t buckets, uint32_t records)
{
    return tier_marks_hits_off(stripes, buckets) + (uint64_t)records * sizeof(uint32_t);
}
/* The miss ring (below), on its own cache lines after the reference bits. */
static inline uint64_t tier_marks_ring_off(uint32_t stripes, uint32_t buckets, uint32_t records)
{
    return (tier_marks_refs_off(stripes, buckets, records) + records + 63) & ~(uint64_t)63;
}

/* Misses the daemon's socket had no room for. A shim sends each miss as a
 * datagram (with its descriptor) while the socket has room; when the
 * kernel refuses one (the queue holds net.unix.max_dgram_qlen datagrams,
 * 10 by default), it pushes the path here instead, and shmd drains the
 * ring on every turn of its main loop (TIER_HEARTBEAT_NS at most). A
 * bounded multi-producer, single-consumer queue in the manner of Vyukov's:
 * slot i of position p (p mod TIER_RING_SLOTS == i) is free for the
 * producer of p while its seq is p, holds p's miss once seq is p + 1, and
 * is free again for p + TIER_RING_SLOTS once shmd has taken it.
 *   producer: claim p by a CAS on tail when slot.seq == p (seq < p: full,
 *             the miss is dropped and counted); write len, what, path,
 *             check; publish with a CAS of seq from p to p + 1;
 *   shmd:     at head, take the slot when seq == head + 1, then set it to
 *             head + TIER_RING_SLOTS; a slot claimed and never published
 *             (its producer was killed, or is stopped) is skipped after
 *             TIER_RING_STUCK_NS by the same CAS the producer would publish
 *             with, so one of the two wins.
 * Shims write here, so shmd trusts nothing it reads: a slot whose check is
 * not the hash of what it holds, or whose path is not absolute and normal,
 * is dropped (counted as a bad message); a wrong value anywhere can only
 * make a useless load or lose a miss. */
#define TIER_RING_SLOTS     4096u
#define TIER_RING_PATH      232u       /* bytes of a path in a slot, NUL included */
#define TIER_RING_STUCK_NS  100000000ULL /* 100 ms */

struct tier_ring_slot {
    uint64_t seq;
    uint64_t check;           /* tier_ring_check(what, path, len) */
    uint32_t len;             /* path bytes, without the NUL */
    uint32_t what;            /* 0 content miss, 1 metadata, 2 listing (proto.h) */
    char path[TIER_RING_PATH];
};
_Static_assert(sizeof(struct tier_ring_slot) == 256, "tier_ring_slot moved: bump TIER_VERSION");

struct tier_ring {
    uint64_t tail;            /* next position a producer claims; own line */
    uint64_t reserved0[7];
    uint64_t head;            /* next position shmd takes (shmd's copy is its own) */
    uint64_t reserved1[7];
    struct tier_ring_slot slot[TIER_RING_SLOTS];
};
_Static_assert(sizeof(struct tier_ring) == 128 + 256 * TIER_RING_SLOTS,
               "tier_ring moved: bump TIER_VERSION");

static inline uint64_t tier_marks_bytes(uint32_t stripes, uint32_t buckets, uint32_t records)
{
    return tier_marks_ring_off(stripes, buckets, records) + sizeof(struct tier_ring);
}

#endif
