/* index.c - validation and lock-free lookup of the index (see index.h).
 *
 * Probe: walk the slots from hash & mask; a slot with record 0 ends the run.
 * For a slot whose hash matches, read the record it names under the
 * record's seqlock and compare hash and path there: a slot read torn, moved
 * by a deletion or pointing to a reused record simply fails that check.
 *
 * Each record is read under its seqlock (tier/seqlock.h; the writer is
 * shmd/store.c): the record is copied and its path compared inside one read
 * section, and nothing is decided before the section checks clean. */
#include <sched.h>
#include <string.h>

#include "tier/atomic.h"
#include "tier/index.h"
#include "tier/seqlock.h"

#define RECORD_WORDS (sizeof(struct tier_record) / 8)
/* A record is copied in two parts: everything up to lst, then the words
 * after it; lst itself only for a symlink (the only kind that uses it). */
#define HEAD_WORDS (offsetof(struct tier_record, lst) / 8)
#define TAIL_OFF (offsetof(struct tier_record, real_gen) / 8)
_Static_assert(offsetof(struct tier_record, lst) % 8 == 0 &&
               offsetof(struct tier_record, real_gen) ==
                   offsetof(struct tier_record, lst) + sizeof(struct tier_stat),
               "the record's parts are whole words, lst between them");

static bool pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

const char *tier_header_check(const struct tier_header *h, uint64_t file_size,
                              uint32_t uid)
{
    if (load_acquire(&h->magic) != TIER_MAGIC)
        return "bad magic (not a shmcache index)";
    if (h->version != TIER_VERSION)
        return "unsupported layout version";
    if (h->header_size != sizeof(struct tier_header) ||
        h->slot_size != sizeof(struct tier_slot) || h->record_size != sizeof(struct tier_record))
        return "struct sizes differ from this build";
    if (h->owner_uid != uid)
        return "owned by another user";
    if (h->file_size != file_size)
        return "size does not match the file";
    if (!pow2(h->slot_count) || h->slot_count < TIER_SLOTS_MIN ||
        h->slot_count > TIER_SLOTS_MAX || !pow2(h->bucket_count) ||
        h->bucket_count > TIER_SLOTS_MAX || !pow2(h->stripe_count) ||
        h->stripe_count > 4096 || h->record_count == 0 || h->record_count > h->slot_count)
        return "bad table sizes";
    if (h->slots_offset > file_size || h->records_offset > file_size)
        return "bad region offsets"; /* before any sum that could wrap */
    uint64_t slots_end = h->slots_offset + (uint64_t)h->slot_count * sizeof(struct tier_slot);
    uint64_t records_end = h->records_offset + (uint64_t)h->record_count * sizeof(struct tier_record);
    if (h->slots_offset < TIER_HEADER_SIZE || h->slots_offset % 64 ||
        h->records_offset < slots_end || h->records_offset % 64 ||
        h->arena_offset < records_end || h->arena_offset % TIER_PAGE ||
        h->arena_size > file_size || h->arena_offset > file_size - h->arena_size ||
        h->marks_offset % TIER_PAGE || h->marks_offset < h->arena_offset + h->arena_size ||
        h->marks_size > file_size || h->marks_offset > file_size - h->marks_size ||
        h->marks_size < tier_marks_bytes(h->stripe_count, h->bucket_count, h->record_count))
        return "bad region offsets";
    return NULL;
}

void tier_view_init(struct tier_view *v, const struct tier_header *h,
                    const void *ro, void *rw)
{
    unsigned char *m = rw;

    v->hdr = ro;
    v->slots = (const struct tier_slot *)((const unsigned char *)ro + h->slots_offset);
    v->records = (const struct tier_record *)((const unsigned char *)ro + h->records_offset);
    v->record_count = h->record_count;
    v->arena = (const unsigned char *)ro + h->arena_offset;
    v->arena_size = h->arena_size;
    v->hash_seed = h->hash_seed;
    v->generation = h->generation;
    v->slot_mask = h->slot_count - 1;
    v->bucket_mask = h->bucket_count - 1;
    v->stripe_mask = h->stripe_count - 1;
    v->marks = (struct tier_marks *)m;
    v->stripes = (struct tier_stripe *)(m + tier_marks_stripes_off());
    v->gens = (uint64_t *)(m + tier_marks_gens_off(h->stripe_count));
    v->hits = (uint32_t *)(m + tier_marks_hits_off(h->stripe_count, h->bucket_count));
    v->refs = m + tier_marks_refs_off(h->stripe_count, h->bucket_count, h->record_count);
    v->ring = (struct tier_ring *)(m + tier_marks_ring_off(h->stripe_count, h->bucket_count,
                                                           h->record_count));
}

bool tier_view_live(const struct tier_view *v, uint64_t now_ns)
{
    if (load_acquire(&v->hdr->state) != TIER_STATE_LIVE)
        return false;
    uint64_t beat = load_relaxed(&v->hdr->heartbeat_ns);
    int64_t age = (int64_t)(now_ns - beat);
    /* a heartbeat far in the future is another time namespace's clock:
     * nothing can be said of it, so not live */
    return age < (int64_t)TIER_STALE_NS && age > -(int64_t)TIER_STALE_NS;
}

/* Compare the arena record at off with the padded key; relaxed word loads. */
static bool path_equal(const struct tier_view *v, uint64_t off, const char *key,
                       size_t len)
{
    size_t words = (len + 8) / 8; /* path, NUL and zero padding */

    if (off % 8 || off > v->arena_size || words * 8 > v->arena_size - off)
        return false;
    const uint64_t *a = (const uint64_t *)(v->arena + off);
    for (size_t i = 0; i < words; i++) {
        uint64_t k;
        memcpy(&k, key + 8 * i, 8);
        if (load_relaxed(&a[i]) != k)
            return false;
    }
    return true;
}

/* Read record r consistently into *out. With a key, also compare its path
 * (inside the same seqlock window: the arena bytes are only meaningful for
 * that version of the record). Returns 1 for a live record (matching the
 * key, when given), 0 for another path or a free record, -1 when the record
 * kept changing. */
static int read_record(const struct tier_view *v, uint32_t r, const char *key,
                       size_t len, uint64_t hash, struct tier_record *out)
{
    const struct tier_record *rec = &v->records[r];

    for (int tries = 0; tries < SEQ_READ_TRIES; tries++) {
        uint64_t s1;
        if (!read_seqcount_begin(&rec->seq, &s1))
            continue;
        const uint64_t *w = (const uint64_t *)rec;
        words_load_relaxed((uint64_t *)out, w, HEAD_WORDS);
        words_load_relaxed((uint64_t *)out + TAIL_OFF, w + TAIL_OFF, RECORD_WORDS - TAIL_OFF);
        if (out->kind & TIER_KIND_LINK)
            words_load_relaxed((uint64_t *)out + HEAD_WORDS, w + HEAD_WORDS, TAIL_OFF - HEAD_WORDS);
        bool same = out->object_id != 0 &&
                    (!key || (out->hash == hash && out->path_len == len &&
                              path_equal(v, out->path_off, key, len)));
        if (read_seqcount_retry(&rec->seq, s1))
            continue;
        out->seq = s1;
        return same;
    }
    return -1;
}

/* What a lookup needs of a record besides the entry: the change words
 * the entry is valid under. */
struct entry_words {
    uint64_t gen, epoch, real_gen;
    uint32_t real_bucket1;
};

/* read_record for a lookup: the fields an entry holds, loaded straight
 * into it (no copy of the whole record, no second copy out of it), and
 * the path compared with key, all inside one seqlock window. Returns as
 * read_record. */
static int read_entry(const struct tier_view *v, uint32_t r, const char *key, size_t len,
                      uint64_t hash, struct tier_entry *e, struct entry_words *w)
{
    const struct tier_record *rec = &v->records[r];

    for (int tries = 0; tries < SEQ_READ_TRIES; tries++) {
        uint64_t s1;
        if (!read_seqcount_begin(&rec->seq, &s1))
            continue;
        uint64_t id = load_relaxed(&rec->object_id);
        uint64_t path_off = load_relaxed(&rec->path_off);
        uint32_t path_len = load_relaxed(&rec->path_len);
        bool same = id != 0 && load_relaxed(&rec->hash) == hash && path_len == len &&
                    path_equal(v, path_off, key, len);
        if (same) {
            e->object_id = id;
            e->object_ino = load_relaxed(&rec->object_ino);
            e->object_ctime_sec = load_relaxed(&rec->object_ctime_sec);
            e->object_ctime_nsec = load_relaxed(&rec->object_ctime_nsec);
            w->epoch = load_relaxed(&rec->epoch);
            w->gen = load_relaxed(&rec->gen);
            words_load_relaxed((uint64_t *)&e->st, (const uint64_t *)&rec->st,
                               sizeof e->st / 8);
            e->access = load_relaxed(&rec->access);
            e->dirs_uid = load_relaxed(&rec->dirs_uid);
            e->kind = load_relaxed(&rec->kind);
            if (e->kind & TIER_KIND_LINK)
                words_load_relaxed((uint64_t *)&e->lst, (const uint64_t *)&rec->lst,
                                   sizeof e->lst / 8);
            w->real_gen = load_relaxed(&rec->real_gen);
            w->real_bucket1 = load_relaxed(&rec->real_bucket1);
            e->target_len = load_relaxed(&rec->target_len);
            e->list_count = load_relaxed(&rec->list_count);
            e->target_off = path_off + (((uint64_t)path_len + 8) & ~(uint64_t)7);
        }
        if (read_seqcount_retry(&rec->seq, s1))
            continue;
        e->record = r;
        e->seq = s1;
        return same;
    }
    return -1;
}

static void entry_from(struct tier_entry *e, uint32_t r, const struct tier_record *copy)
{
    e->record = r;
    e->seq = copy->seq;
    e->object_id = copy->object_id;
    e->object_ino = copy->object_ino;
    e->object_ctime_sec = copy->object_ctime_sec;
    e->object_ctime_nsec = copy->object_ctime_nsec;
    e->st = copy->st;
    e->access = copy->access;
    e->dirs_uid = copy->dirs_uid;
    e->kind = copy->kind;
    if (copy->kind & TIER_KIND_LINK)
        e->lst = copy->lst;
    e->target_len = copy->target_len;
    e->list_count = copy->list_count;
    e->target_off = copy->path_off + (((uint64_t)copy->path_len + 8) & ~(uint64_t)7);
}

enum tier_lookup_result tier_lookup(const struct tier_view *v, const char *key,
                                    size_t len, uint64_t hash,
                                    struct tier_entry *e)
{
    struct entry_words w;
    uint32_t mask = v->slot_mask;
    uint32_t i = (uint32_t)hash & mask;

    if (len == 0 || len >= TIER_PATH_MAX)
        return TIER_MISS;
    for (uint32_t probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
        const struct tier_slot *s = &v->slots[i];
        uint64_t rec = load_acquire(&s->record);
        if (rec == 0)
            return TIER_MISS; /* end of the probe run */
        if (load_relaxed(&s->hash) != hash || rec > v->record_count)
            continue;
        uint32_t r = (uint32_t)(rec - 1);
        int m = read_entry(v, r, key, len, hash, e, &w);
        if (m < 0)
            return TIER_MISS;
        if (m == 0)
            continue;
        /* The slot may have been a stale view of one that shmd emptied
         * before reusing the record, now refilled for the same path but not
         * yet published (its slot is set last): a later lookup would go back
         * to the entry still published. Having read the record's new seq
         * (acquire), this load sees the slot as it is after the emptying. */
        if (load_acquire(&s->record) != rec)
            return TIER_MISS;
        /* served only while both change words are exactly as when the
         * load began (layout.h): a modifying call in flight, or any change
         * since, makes this stale. A shim adds its begin mark before its
         * real call; whoever observes that call's effect through the kernel
         * (whose locks order the two) then sees the mark here */
        uint64_t gen = load_acquire(&v->gens[hash & v->bucket_mask]);
        uint64_t epoch = load_acquire(&v->marks->epoch);
        if (gen != w.gen || epoch != w.epoch)
            return TIER_STALE;
        /* reached through a symlink: the target's bucket too */
        if (w.real_bucket1 && (w.real_bucket1 - 1 > v->bucket_mask ||
                               load_acquire(&v->gens[w.real_bucket1 - 1]) != w.real_gen))
            return TIER_STALE;
        return TIER_HIT;
    }
    return TIER_MISS;
}

bool tier_entry_unchanged(const struct tier_view *v, const struct tier_entry *e)
{
    return read_seqcount_unchanged(&v->records[e->record].seq, e->seq);
}

/* The 8 hex digits of x (lower case, most significant first) into buf:
 * each nibble spread to its own byte, then '0'..'9' or 'a'..'f' added a
 * word at a time (this runs on every hit). */
static void hex8(uint32_t x, char *buf)
{
    uint64_t v = x;

    v = (v | v << 16) & 0x0000ffff0000ffffULL;
    v = (v | v << 8) & 0x00ff00ff00ff00ffULL;
    v = (v | v << 4) & 0x0f0f0f0f0f0f0f0fULL;
    uint64_t letters = ((v + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
    v += 0x3030303030303030ULL + letters * ('a' - '0' - 10);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v); /* the most significant digit first in memory */
#endif
    memcpy(buf, &v, 8);
}

long tier_entry_target(const struct tier_view *v, const struct tier_entry *e, char *buf, size_t n)
{
    const struct tier_record *rec = &v->records[e->record];
    uint64_t off = e->target_off;
    size_t len = e->target_len;

    if (!(e->kind & TIER_KIND_LINK) || off % 8 || off > v->arena_size ||
        len >= TIER_PATH_MAX || len > v->arena_size - off)
        return -1;
    if (len > n)
        len = n;
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)load_relaxed(&v->arena[off + i]);
    fence_acquire(); /* the bytes are read before the record is checked again */
    return read_seqcount_unchanged(&rec->seq, e->seq) ? (long)len : -1;
}

void tier_object_name(uint64_t generation, uint64_t id, uint32_t record, char *buf)
{
    buf[0] = 'o';
    hex8((uint32_t)(generation >> 32), buf + 1);
    hex8((uint32_t)generation, buf + 9);
    hex8((uint32_t)(id >> 32), buf + 17);
    hex8((uint32_t)id, buf + 25);
    hex8(record, buf + 33);
    buf[41] = '\0';
}

static bool parse_hex(const char *p, int digits, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < digits; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
        if (d == 16)
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

bool tier_object_parse(const char *name, uint64_t *generation, uint64_t *id, uint32_t *record)
{
    uint64_t r;
    if (name[0] != 'o' || strlen(name) != TIER_OBJECT_NAME_SIZE - 1 ||
        !parse_hex(name + 1, 16, generation) || !parse_hex(name + 17, 16, id) ||
        !parse_hex(name + 33, 8, &r))
        return false;
    *record = (uint32_t)r;
    return true;
}

bool tier_record_get(const struct tier_view *v, uint32_t r, uint64_t id, struct tier_entry *e)
{
    struct tier_record copy;

    if (r >= v->record_count || id == 0 || read_record(v, r, NULL, 0, 0, &copy) != 1 ||
        copy.object_id != id)
        return false;
    entry_from(e, r, &copy);
    return true;
}

void tier_count(const struct tier_view *v, enum tier_counter c)
{
    int cpu = sched_getcpu();
    struct tier_stripe *s = &v->stripes[(uint32_t)(cpu < 0 ? 0 : cpu) & v->stripe_mask];
    uint64_t *n = c == TIER_COUNT_HIT ? &s->hits : c == TIER_COUNT_MISS ? &s->misses
                : c == TIER_COUNT_UNSENT ? &s->unsent : c == TIER_COUNT_META_HIT ? &s->meta_hits
                : c == TIER_COUNT_NEGATIVE_HIT ? &s->negative_hits
                : c == TIER_COUNT_DIR_HIT ? &s->dir_hits
                : c == TIER_COUNT_WAIT_HIT ? &s->wait_hits : &s->wait_timeouts;

    fetch_add_relaxed(n, 1);
}
