/* store.c - the writer side of the index and the objects (see store.h).
 *
 * Records are written under their seqlock (tier/seqlock.h), the writer
 * side of what tier/index.c reads. Deletion shifts later slots of the probe
 * run back into the hole (no tombstones), so a reader racing a deletion can
 * only miss.
 *
 * Order of effects that readers rely on:
 *  - a path is written to the arena, then its record, then the slot that
 *    names the record (release);
 *  - on removal the slot goes first, then the record is cleared (its seq
 *    moves), then the object is unlinked and the path space reused: a reader
 *    still looking at any of them sees the seq change and retries or misses. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "shmd/debug.h"
#include "shmd/log.h"
#include "shmd/opts.h"
#include "shmd/snapshot.h"
#include "shmd/store.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/listing.h"
#include "tier/path.h"
#include "tier/ring.h"
#include "tier/seqlock.h"

#define RECORD_WORDS (sizeof(struct tier_record) / 8)
/* Records beyond max_entries, for loads in flight (each holds one from
 * store_reserve to store_put): an eighth of the slots, and no more than
 * loads can be in flight at once, one per loader thread. */
#define SPARE_RECORDS_MAX SHMD_LOADERS_MAX

static uint64_t round_up(uint64_t x, uint64_t to)
{
    return (x + to - 1) / to * to;
}

void store_lock(struct store *s)
{
    pthread_mutex_lock(&s->lock);
#if SHMCACHE_DEBUG >= 1
    s->owner = pthread_self();
    s->locked = true;
#endif
}

void store_unlock(struct store *s)
{
#if SHMCACHE_DEBUG >= 2
    const char *why = store_validate(s);
    if (why)
        shmd_check_failed(why, __FILE__, __LINE__);
#endif
#if SHMCACHE_DEBUG >= 1
    s->locked = false;
#endif
    pthread_mutex_unlock(&s->lock);
}

/* pre: the caller holds s->lock (checked in debug builds). */
static void assert_locked(const struct store *s)
{
#if SHMCACHE_DEBUG >= 1
    shmd_assert(s->locked && pthread_equal(s->owner, pthread_self()));
#else
    (void)s;
#endif
}

static void counter_add(uint64_t *c, int64_t delta)
{
    store_relaxed(c, load_relaxed(c) + (uint64_t)delta);
}

uint64_t store_object_memory(uint64_t size)
{
    return round_up(size, TIER_PAGE);
}

uint64_t store_list_memory(uint32_t count)
{
    return store_object_memory(tier_list_map_size(count)) + (uint64_t)count * TIER_LIST_NODE_BYTES;
}

/* Index pages are allocated (fallocate) before anyone touches them: on a
 * full tmpfs a fault on a hole is SIGBUS, in shmd or in a host program
 * (tmpfs allocates even for a read fault of a shared mapping). The header,
 * the slots and the marks (which readers probe and write anywhere) are
 * allocated at creation; records and path arena, which readers reach only
 * through what shmd wrote, grow in chunks ahead of use. */
#define GROW_BYTES (64u * 1024u)

/* Make [base, base + need) of a region of region_size bytes allocated,
 * where [base, base + *ready) already is. Returns 0, or -1 (ENOSPC). */
static int region_grow(struct store *s, uint64_t base, uint64_t region_size, uint64_t *ready,
                       uint64_t need)
{
    if (need <= *ready)
        return 0;
    uint64_t want = round_up(need, GROW_BYTES);
    if (want > region_size)
        want = region_size;
    if (fallocate(s->fd, 0, (off_t)(base + *ready), (off_t)(want - *ready)) < 0 &&
        errno != EOPNOTSUPP)
        return -1;
    *ready = want;
    return 0;
}

/* Rewrite record r with the body of src (everything but seq). */
static void record_write(struct store *s, uint32_t r, const struct tier_record *src)
{
    struct tier_record *dst = &s->records[r];

    assert_locked(s);
    shmd_assert(r < s->view.record_count && r < s->records_hi);
    write_seqcount_begin(&dst->seq);
    words_store_relaxed((uint64_t *)dst + 1, (const uint64_t *)src + 1, RECORD_WORDS - 1);
    write_seqcount_end(&dst->seq);
    shmd_assert(!(load_relaxed(&dst->seq) & 1));
}

/* Point slot dst at (hash, record); record 0 empties it. Readers may see
 * the two words torn, which the record check absorbs (see layout.h). */
static void slot_set(struct tier_slot *dst, uint64_t hash, uint64_t record)
{
    store_relaxed(&dst->hash, hash);
    store_release(&dst->record, record);
}

static uint64_t random64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != sizeof v)
        v = real_ns() ^ ((uint64_t)getpid() << 32);
    return v;
}

int store_create(struct store *s, int dirfd, const struct store_params *p)
{
    uint32_t max_entries = p->slots / 4 * 3;
    uint32_t spare = p->slots / 8 < SPARE_RECORDS_MAX ? p->slots / 8 : SPARE_RECORDS_MAX;
    uint32_t records = max_entries + spare;
    uint64_t slots_off = TIER_HEADER_SIZE;
    uint64_t records_off = round_up(slots_off + (uint64_t)p->slots * sizeof(struct tier_slot), 64);
    uint64_t arena_off = round_up(records_off + (uint64_t)records * sizeof(struct tier_record), TIER_PAGE);
    uint64_t arena_size = (uint64_t)records * TIER_ARENA_PER_RECORD;
    uint64_t marks_off = round_up(arena_off + arena_size, TIER_PAGE);
    uint64_t marks_size = round_up(tier_marks_bytes(TIER_STRIPES, p->slots, records), TIER_PAGE);
    uint64_t file_size = marks_off + marks_size;

    memset(s, 0, sizeof *s);
    s->dirfd = dirfd;
    s->fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    s->free_classes = 2 * (TIER_PATH_MAX / 8) + 4; /* a path and a link target */
    s->free = calloc(s->free_classes, sizeof *s->free);
    s->free_records = malloc((size_t)records * sizeof *s->free_records);
    if (!s->free || !s->free_records)
        goto fail;
    for (uint32_t i = 0; i < records; i++)
        s->free_records[i] = records - 1 - i; /* record 0 on top: dense use */
    s->nfree = records;

    unlinkat(dirfd, "index.new", 0);
    int fd = openat(dirfd, "index.new", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        goto fail;
    if (ftruncate(fd, (off_t)file_size) < 0)
        goto fail_fd;
    /* everything a reader may touch unprompted (see region_grow) */
    if ((fallocate(fd, 0, 0, (off_t)records_off) < 0 ||
         fallocate(fd, 0, (off_t)marks_off, (off_t)marks_size) < 0) && errno != EOPNOTSUPP)
        goto fail_fd;
    s->map = mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s->map == MAP_FAILED) {
        s->map = NULL;
        goto fail_fd;
    }
    s->map_len = file_size;

    struct tier_header *h = s->map;
    h->version = TIER_VERSION;
    h->header_size = sizeof(struct tier_header);
    h->slot_size = sizeof(struct tier_slot);
    h->record_size = sizeof(struct tier_record);
    h->slot_count = p->slots;
    h->record_count = records;
    h->bucket_count = p->slots;
    h->stripe_count = TIER_STRIPES;
    h->file_size = file_size;
    h->slots_offset = slots_off;
    h->records_offset = records_off;
    h->arena_offset = arena_off;
    h->arena_size = arena_size;
    h->marks_offset = marks_off;
    h->marks_size = marks_size;
    h->hash_seed = random64();
    do
        h->generation = random64();
    while (h->generation == 0);
    h->owner_uid = (uint32_t)geteuid();
    h->daemon_pid = (uint32_t)getpid();
    h->root_dev = p->root_dev;
    h->root_ino = p->root_ino;
    h->mntns_ino = p->mntns_ino;
    h->started_ns = real_ns();
    h->capacity = p->capacity;
    h->max_file = p->max_file;
    h->revalidate_ms = p->revalidate_ms;
    h->settle_ms = p->settle_ms;
    h->negative_ms = p->negative_ms;
    h->heartbeat_ns = mono_ns();
    h->state = TIER_STATE_LIVE;
    struct tier_marks *m = (struct tier_marks *)((unsigned char *)s->map + marks_off);
    m->magic = TIER_MARKS_MAGIC;
    tier_ring_init((struct tier_ring *)((unsigned char *)m +
                                        tier_marks_ring_off(TIER_STRIPES, p->slots, records)));
    store_release(&h->magic, TIER_MAGIC);

    if (renameat(dirfd, "index.new", dirfd, "index") < 0)
        goto fail_map;
    s->fd = fd;

    s->hdr = h;
    s->slots = (struct tier_slot *)((unsigned char *)s->map + slots_off);
    s->records = (struct tier_record *)((unsigned char *)s->map + records_off);
    s->arena = (unsigned char *)s->map + arena_off;
    tier_view_init(&s->view, h, s->map, (unsigned char *)s->map + marks_off);
    s->max_entries = max_entries;
    s->next_id = 1;
    return 0;

fail_map:
    munmap(s->map, file_size);
    s->map = NULL;
fail_fd:
    {
        int e = errno;
        close(fd);
        unlinkat(dirfd, "index.new", 0);
        errno = e;
    }
fail:
    {
        int e = errno;
        free(s->free);
        free(s->free_records);
        s->free = NULL;
        s->free_records = NULL;
        errno = e;
    }
    return -1;
}

/* A listing's snapshot may be open in a shim, and has a name per entry:
 * it waits in the trash, deleted outside the lock (store_reap). Its map
 * goes at once (a shim that read it keeps its copy). pre: locked. */
static void trash_snapshot(struct store *s, const char *name)
{
    char map[TIER_OBJECT_NAME_SIZE];

    tier_list_map_name(name, map);
    unlinkat(s->dirfd, map, 0);
    if (s->ntrash == s->trash_cap) {
        size_t cap = s->trash_cap ? s->trash_cap * 2 : 16;
        void *t = realloc(s->trash, cap * sizeof *s->trash);
        if (!t) {
            if (snapshot_remove(s->dirfd, name) != 0)
                shmd_log(SHMD_LOG_WARN, "listing %s left behind: %s", name, strerror(errno));
            return;
        }
        s->trash = t;
        s->trash_cap = cap;
    }
    memcpy(s->trash[s->ntrash], name, TIER_OBJECT_NAME_SIZE);
    /* atomic: store_reap looks at the count without the lock first */
    store_relaxed(&s->ntrash, s->ntrash + 1);
}

static void unlink_object(struct store *s, uint64_t id, uint32_t record, uint32_t kind)
{
    char name[TIER_OBJECT_NAME_SIZE];
    bool file = (kind & TIER_KIND_MASK) == TIER_KIND_FILE;
    if (!file && !(kind & TIER_KIND_LIST))
        return; /* no object */
    tier_object_name(s->view.generation, id, record, name);
    if (file)
        unlinkat(s->dirfd, name, 0);
    else
        trash_snapshot(s, name);
}

/* Delete what the trash holds, keeping what is still open. Returns how
 * many wait. pre: not locked (the deleting takes a system call per name). */
static size_t reap(struct store *s, char (*t)[TIER_OBJECT_NAME_SIZE], size_t n)
{
    size_t keep = 0;
    for (size_t i = 0; i < n; i++) {
        int r = snapshot_remove(s->dirfd, t[i]);
        if (r == 1)
            memmove(t[keep++], t[i], TIER_OBJECT_NAME_SIZE);
        else if (r < 0)
            shmd_log(SHMD_LOG_WARN, "listing %s left behind: %s", t[i], strerror(errno));
    }
    return keep;
}

void store_reap(struct store *s)
{
    if (!load_relaxed(&s->ntrash))
        return;
    store_lock(s);
    size_t n = s->ntrash;
    char (*t)[TIER_OBJECT_NAME_SIZE] = s->trash;
    s->trash = NULL;
    s->trash_cap = 0;
    store_relaxed(&s->ntrash, 0);
    store_unlock(s);
    size_t keep = reap(s, t, n);
    store_lock(s);
    for (size_t i = 0; i < keep; i++)
        trash_snapshot(s, t[i]);
    store_unlock(s);
    free(t);
}

void store_destroy(struct store *s, bool unmap)
{
    if (!s->map)
        return;
    store_release(&s->hdr->state, TIER_STATE_STOPPED);
    for (uint32_t i = 0; i < s->records_hi; i++)
        if (s->records[i].object_id)
            unlink_object(s, s->records[i].object_id, i, s->records[i].kind);
    /* what a shim still holds open stays for the next start (claim.c) */
    reap(s, s->trash, s->ntrash);
    s->ntrash = 0;
    unlinkat(s->dirfd, "index", 0);
    if (!unmap)
        return;
    close(s->fd);
    s->fd = -1;
    munmap(s->map, s->map_len);
    s->map = NULL;
    free(s->trash);
    s->trash = NULL;
    s->ntrash = s->trash_cap = 0;
    for (size_t c = 0; c < s->free_classes; c++)
        free(s->free[c].off);
    free(s->free);
    free(s->free_records);
    s->free = NULL;
    s->free_records = NULL;
}

/* The slot naming the record for key, or -1. */
static int find_slot(const struct store *s, const char *key, size_t len, uint64_t hash)
{
    uint32_t mask = s->view.slot_mask;

    for (uint32_t n = 0, i = (uint32_t)hash & mask; n <= mask; n++, i = (i + 1) & mask) {
        const struct tier_slot *t = &s->slots[i];
        if (t->record == 0)
            return -1;
        const struct tier_record *r = &s->records[t->record - 1];
        if (t->hash == hash && r->path_len == len &&
            memcmp(s->arena + r->path_off, key, len) == 0)
            return (int)i;
    }
    return -1;
}

int store_find(const struct store *s, const char *key, size_t len, uint64_t hash)
{
    int i = find_slot(s, key, len, hash);
    return i < 0 ? -1 : (int)(s->slots[i].record - 1);
}

size_t store_path_copy(const struct store *s, uint32_t r, char *out)
{
    const struct tier_record *t = &s->records[r];

    assert_locked(s);
    shmd_assert(r < s->records_hi && t->object_id && t->path_len < PATH_KEY_SIZE);
    memcpy(out, s->arena + t->path_off, t->path_len);
    out[t->path_len] = '\0';
    return t->path_len;
}

uint64_t store_new_id(struct store *s)
{
    assert_locked(s);
    return s->next_id++;
}

/* Path arena: records of (len + 8) & ~7 bytes (path, NUL, zero padding),
 * exact-size free lists, splitting of larger free records, and a reset when
 * the table becomes empty (the only coalescing needed in practice: the arena
 * holds TIER_ARENA_PER_SLOT bytes per slot, several times a typical path). */
static uint64_t record_size(size_t len)
{
    return ((uint64_t)len + 8) & ~(uint64_t)7;
}

/* The arena bytes of a record: its path, and a link's target after it. */
static uint64_t arena_bytes(const struct tier_record *t)
{
    return record_size(t->path_len) + (t->kind & TIER_KIND_LINK ? record_size(t->target_len) : 0);
}

static void arena_push(struct store *s, uint64_t off, uint64_t size)
{
    struct arena_free *f = &s->free[size / 8];
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        uint64_t *n = realloc(f->off, cap * sizeof *n);
        if (!n)
            return; /* lose the record rather than fail: reclaimed at reset */
        f->off = n;
        f->cap = cap;
    }
    f->off[f->n++] = off;
}

static int64_t arena_alloc(struct store *s, uint64_t size)
{
    struct arena_free *f = &s->free[size / 8];

    if (f->n)
        return (int64_t)f->off[--f->n];
    if (s->arena_top + size <= s->view.arena_size) {
        uint64_t off = s->arena_top;
        s->arena_top += size;
        return (int64_t)off;
    }
    for (size_t c = size / 8 + 1; c < s->free_classes; c++) {
        if (s->free[c].n) {
            uint64_t off = s->free[c].off[--s->free[c].n];
            arena_push(s, off + size, c * 8 - size);
            return (int64_t)off;
        }
    }
    return -1;
}

static void arena_reset(struct store *s)
{
    for (size_t c = 0; c < s->free_classes; c++)
        s->free[c].n = 0;
    s->arena_top = 0;
}

int store_reserve(struct store *s, uint64_t memory)
{
    assert_locked(s);
    /* what loads in flight hold cannot be evicted: give up before evicting */
    if (memory > s->hdr->capacity || memory > s->hdr->capacity - s->reserved)
        return -1;
    while (s->hdr->memory + s->reserved + memory > s->hdr->capacity)
        if (!store_evict_one(s))
            return -1;
    while (s->nfree == 0)
        if (!store_evict_one(s))
            return -1;
    uint32_t r = s->free_records[s->nfree - 1];
    if (region_grow(s, s->hdr->records_offset, (uint64_t)s->view.record_count * sizeof(struct tier_record),
                    &s->records_ready, ((uint64_t)r + 1) * sizeof(struct tier_record)) < 0)
        return -2;
    s->nfree--;
    if (r >= s->records_hi)
        store_release(&s->records_hi, r + 1);
    s->reserved += memory;
    return (int)r;
}

/* Put record r back on the free stack. */
static void record_free(struct store *s, uint32_t r)
{
    s->free_records[s->nfree++] = r;
}

/* Clear live record r (readers see its seq move) and free it. */
static void record_clear(struct store *s, uint32_t r)
{
    static const struct tier_record empty;
    record_write(s, r, &empty);
    store_relaxed(&s->view.refs[r], 0);
    record_free(s, r);
}

static void unreserve_memory(struct store *s, uint64_t memory)
{
    s->reserved -= memory < s->reserved ? memory : s->reserved;
}

void store_unreserve(struct store *s, uint64_t memory, uint32_t record)
{
    assert_locked(s);
    unreserve_memory(s, memory);
    record_free(s, record);
}

static void fill_record(struct tier_record *t, uint64_t hash, const struct store_obj *o)
{
    t->hash = hash;
    t->object_id = o->id;
    t->object_ino = o->ino;
    t->object_ctime_sec = o->ctime_sec;
    t->object_ctime_nsec = o->ctime_nsec;
    t->epoch = o->epoch;
    t->gen = o->gen;
    t->loaded_ns = o->checked_ns;
    t->st = o->st;
    t->access = o->access;
    t->dirs_uid = o->dirs_uid;
    t->kind = o->kind;
    t->lst = o->lst;
    t->target_len = o->kind & TIER_KIND_LINK ? o->target_len : 0;
    t->real_bucket1 = o->real_bucket1;
    t->real_gen = o->real_gen;
    t->list_count = o->kind & TIER_KIND_LIST ? o->list_count : 0;
}

/* Bytes of object memory an entry holds: a file's copy, a listing. */
static uint64_t entry_memory(uint32_t kind, uint64_t size, uint32_t list_count)
{
    if ((kind & TIER_KIND_MASK) == TIER_KIND_FILE)
        return store_object_memory(size);
    return kind & TIER_KIND_LIST ? store_list_memory(list_count) : 0;
}

static void account(struct store *s, const struct tier_record *t, int sign)
{
    uint32_t k = t->kind & TIER_KIND_MASK;

    counter_add(&s->hdr->entries, sign);
    counter_add(&s->hdr->memory, sign * (int64_t)entry_memory(t->kind, t->st.size, t->list_count));
    if (k == TIER_KIND_FILE) {
        counter_add(&s->hdr->bytes, sign * (int64_t)t->st.size);
    } else {
        counter_add(k == TIER_KIND_NEG ? &s->hdr->negative_entries : &s->hdr->meta_entries, sign);
        if (t->kind & TIER_KIND_LIST)
            counter_add(&s->hdr->dir_entries, sign);
    }
}

/* The slot that names record r, which must be live. */
static uint32_t slot_of(const struct store *s, uint32_t r)
{
    uint32_t mask = s->view.slot_mask;
    uint32_t i = (uint32_t)s->records[r].hash & mask;

    for (uint32_t n = 0; n <= mask && s->slots[i].record != (uint64_t)r + 1; n++)
        i = (i + 1) & mask;
    return i;
}

int store_put(struct store *s, const char *key, size_t len, uint64_t hash,
              const struct store_obj *obj)
{
    assert_locked(s);
    shmd_assert(obj->record < s->view.record_count && tier_change_quiet(obj->gen) &&
                tier_change_quiet(obj->epoch));
    uint32_t r = obj->record;
    int old = store_find(s, key, len, hash);
    struct tier_record t;
    uint64_t off;

    unreserve_memory(s, entry_memory(obj->kind, obj->st.size, obj->list_count));
    memset(&t, 0, sizeof t);
    fill_record(&t, hash, obj);
    t.path_len = (uint32_t)len;
    uint64_t size = arena_bytes(&t);
    /* the path record moves over only when it holds nothing but the path:
     * a target is rewritten, and readers of the old record may read it */
    bool move = old >= 0 && !(s->records[old].kind & TIER_KIND_LINK) && !(t.kind & TIER_KIND_LINK);
    if (move) {
        off = s->records[old].path_off;
    } else {
        int64_t o;
        while ((old < 0 && load_relaxed(&s->hdr->entries) >= s->max_entries) ||
               (o = arena_alloc(s, size)) < 0) {
            if (!store_evict_one(s)) {
                record_free(s, r);
                return -1;
            }
            if (old >= 0 && s->records[old].object_id == 0)
                old = -1; /* evicted the entry being replaced */
        }
        off = (uint64_t)o;
        if (region_grow(s, s->hdr->arena_offset, s->view.arena_size, &s->arena_ready,
                        off + size) < 0) {
            arena_push(s, off, size);
            record_free(s, r);
            return -2;
        }
        /* path and target first: readers reach them only through the record */
        uint64_t words[2 * PATH_KEY_SIZE / 8];
        memset(words, 0, size);
        memcpy(words, key, len);
        if (t.kind & TIER_KIND_LINK)
            memcpy((char *)words + record_size(len), obj->target, obj->target_len);
        words_store_relaxed((uint64_t *)(s->arena + off), words, size / 8);
    }
    t.path_off = off;
    record_write(s, r, &t);
    store_relaxed(&s->view.refs[r], 1);
    store_relaxed(&s->view.hits[r], 0);
    account(s, &t, +1);

    if (old >= 0) {
        /* the slot switches to the new record, then the old one goes */
        struct tier_record was = s->records[old];
        slot_set(&s->slots[slot_of(s, (uint32_t)old)], hash, (uint64_t)r + 1);
        record_clear(s, (uint32_t)old);
        account(s, &was, -1);
        if (!move)
            arena_push(s, was.path_off, arena_bytes(&was));
        unlink_object(s, was.object_id, (uint32_t)old, was.kind);
        return (int)r;
    }
    uint32_t mask = s->view.slot_mask;
    uint32_t i = (uint32_t)hash & mask;
    while (s->slots[i].record != 0)
        i = (i + 1) & mask;
    slot_set(&s->slots[i], hash, (uint64_t)r + 1);
    return (int)r;
}

/* True when h lies in the cyclic interval (a, b]. */
static bool cyclic_between(uint32_t h, uint32_t a, uint32_t b)
{
    return a <= b ? (a < h && h <= b) : (a < h || h <= b);
}

void store_remove(struct store *s, uint32_t r)
{
    assert_locked(s);
    shmd_assert(r < s->records_hi);
    uint32_t mask = s->view.slot_mask;
    struct tier_record old = s->records[r];

    if (old.object_id == 0)
        return;
    uint32_t hole = slot_of(s, r);
    if (s->slots[hole].record == (uint64_t)r + 1) {
        for (uint32_t j = (hole + 1) & mask; s->slots[j].record != 0; j = (j + 1) & mask) {
            const struct tier_slot *t = &s->slots[j];
            if (cyclic_between((uint32_t)t->hash & mask, hole, j))
                continue; /* its home is after the hole: it must stay */
            slot_set(&s->slots[hole], t->hash, t->record);
            hole = j;
        }
        slot_set(&s->slots[hole], 0, 0);
    }
    record_clear(s, r);
    account(s, &old, -1);
    if (load_relaxed(&s->hdr->entries) == 0)
        arena_reset(s);
    else
        arena_push(s, old.path_off, arena_bytes(&old));
    unlink_object(s, old.object_id, r, old.kind);
}

bool store_evict_one(struct store *s)
{
    assert_locked(s);
    uint32_t count = s->records_hi;

    if (load_relaxed(&s->hdr->entries) == 0 || count == 0)
        return false;
    if (s->hand >= count)
        s->hand = 0;
    for (uint64_t n = 0; n <= 2 * (uint64_t)count; n++) {
        uint32_t i = s->hand;
        s->hand = s->hand + 1 < count ? s->hand + 1 : 0;
        if (s->records[i].object_id == 0)
            continue;
        if (load_relaxed(&s->view.refs[i])) {
            store_relaxed(&s->view.refs[i], 0);
            continue;
        }
        store_remove(s, i);
        counter_add(&s->hdr->evictions, 1);
        return true;
    }
    return false;
}

bool store_revive(struct store *s, uint32_t r, uint64_t id, uint64_t gen, uint64_t epoch,
                  uint64_t real_gen, uint32_t access, uint32_t dirs_uid)
{
    assert_locked(s);
    shmd_assert(r < s->records_hi && tier_change_quiet(gen) && tier_change_quiet(epoch));
    struct tier_record t = s->records[r];

    if (t.object_id != id)
        return false;
    t.gen = gen;
    t.epoch = epoch;
    t.real_gen = real_gen;
    t.access = access;
    t.dirs_uid = dirs_uid;
    record_write(s, r, &t);
    return true;
}

bool store_entry_killed(const struct store *s, uint32_t r)
{
    const struct tier_record *t = &s->records[r];
    return load_acquire(&s->view.gens[t->hash & s->view.bucket_mask]) != t->gen ||
           load_acquire(&s->view.marks->epoch) != t->epoch ||
           (t->real_bucket1 && (t->real_bucket1 - 1 > s->view.bucket_mask ||
                                load_acquire(&s->view.gens[t->real_bucket1 - 1]) != t->real_gen));
}

void store_counts(const struct store *s, struct store_counts *c)
{
    memset(c, 0, sizeof *c);
    for (uint32_t i = 0; i <= s->view.stripe_mask; i++) {
        c->hits += load_relaxed(&s->view.stripes[i].hits);
        c->misses += load_relaxed(&s->view.stripes[i].misses);
        c->unsent += load_relaxed(&s->view.stripes[i].unsent);
        c->meta_hits += load_relaxed(&s->view.stripes[i].meta_hits);
        c->negative_hits += load_relaxed(&s->view.stripes[i].negative_hits);
        c->dir_hits += load_relaxed(&s->view.stripes[i].dir_hits);
        c->wait_hits += load_relaxed(&s->view.stripes[i].wait_hits);
        c->wait_timeouts += load_relaxed(&s->view.stripes[i].wait_timeouts);
    }
}

const char *store_validate(const struct store *s)
{
    uint32_t mask = s->view.slot_mask;
    uint64_t entries = 0, bytes = 0, memory = 0, named = 0, meta = 0, neg = 0, dirs = 0;

    for (uint32_t i = 0; i <= mask; i++) {
        uint64_t rec = s->slots[i].record;
        if (rec == 0)
            continue;
        named++;
        if (rec > s->view.record_count)
            return "slot names a record out of range";
        const struct tier_record *t = &s->records[rec - 1];
        if (t->object_id == 0)
            return "slot names a free record";
        if (t->hash != s->slots[i].hash)
            return "slot hash differs from its record";
        for (uint32_t j = (uint32_t)t->hash & mask; j != i; j = (j + 1) & mask)
            if (s->slots[j].record == 0)
                return "entry unreachable from its home slot";
    }
    for (uint32_t r = 0; r < s->records_hi; r++) {
        const struct tier_record *t = &s->records[r];
        if (t->seq & 1)
            return "odd seq outside a write";
        if (t->object_id == 0)
            continue;
        entries++;
        switch (t->kind & TIER_KIND_MASK) {
        case TIER_KIND_FILE:
            bytes += t->st.size;
            memory += store_object_memory(t->st.size);
            break;
        case TIER_KIND_META:
            meta++;
            if (t->kind & TIER_KIND_LIST) {
                dirs++;
                memory += store_list_memory(t->list_count);
            }
            break;
        case TIER_KIND_NEG:
            neg++;
            break;
        default:
            return "record of an unknown kind";
        }
        if (t->path_off % 8 || t->path_off + arena_bytes(t) > s->view.arena_size)
            return "path record out of the arena";
        if (store_find(s, (const char *)s->arena + t->path_off, t->path_len, t->hash) != (int)r)
            return "record not found by its own path";
    }
    if (named != entries)
        return "slots and live records differ in number";
    if (entries + s->nfree > s->view.record_count)
        return "free list and live records overlap";
    if (entries != s->hdr->entries || bytes != s->hdr->bytes || memory != s->hdr->memory ||
        meta != s->hdr->meta_entries || neg != s->hdr->negative_entries ||
        dirs != s->hdr->dir_entries)
        return "counters differ from the table";
    return NULL;
}
