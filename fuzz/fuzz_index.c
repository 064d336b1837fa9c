/* fuzz_index.c - libFuzzer harness for the index reader (tier/index.c), the
 * code every shimmed process runs on memory it does not trust.
 *
 * At start-up a real index is built with shmd's writer (shmd/store.c):
 * entries in probe runs, a removed one (shifted slots), one killed by a
 * generation bump, one whose seqlock is held odd. Each input then mutates a
 * copy of that file and reads it as the shim does:
 *
 *   byte 0      flags: RAW (the input's bytes are the file, from offset 0),
 *               RESIZE (the file is as long as the mutated header says, up
 *               to 4 MiB), GARBAGE (a second thread writes random bytes into
 *               the reader-writable marks region while lookups run), GARBAGE_RO
 *               (it also writes into slots, records and arena)
 *   byte 1      length k of an extra key, taken from the end of the input
 *   then        patches: region (header, slots, records, arena, marks), an
 *               offset in it, and raw bytes or a small integer to store or add
 *
 * The reader's path: copy the header, tier_header_check() against the file
 * size, map [0, marks_offset) and the marks region as two separate buffers
 * of exactly those sizes (ASan reports any byte read outside them, as the
 * shim's two mappings would fault or read foreign memory), tier_view_init(),
 * tier_view_live(), tier_lookup() of every key, tier_entry_unchanged(),
 * tier_touch(), tier_count(), tier_record_get() and tier_object_parse().
 *
 * Properties, besides no crash, no out-of-bounds access and no undefined
 * behaviour:
 *  - a hit is a valid entry: its record is in range, holds a live object,
 *    the key's hash and exactly the key as its path (NUL-terminated, inside
 *    the arena), and the entry copied out equals the record;
 *  - without concurrent writes, the result is exactly what an independent
 *    reference lookup over the raw bytes gives (hit, stale or miss, and the
 *    same record): nothing valid is missed, nothing invalid is served;
 *  - tier_record_get() returns only an in-range record holding that id;
 *  - tier_object_parse() accepts exactly the names tier_object_name() makes.
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "fuzz/fuzz_common.h"
#include "shmd/store.h"
#include "tier/atomic.h"
#include "tier/hash.h"
#include "tier/index.h"
#include "tier/path.h"

#define F_RAW        0x01
#define F_RESIZE     0x02
#define F_GARBAGE    0x04
#define F_GARBAGE_RO 0x08
#define MAX_FILE     (4u << 20)
#define NPATHS       24

static unsigned char *g_template;       /* the index file as shmd wrote it */
static size_t g_template_size;
static struct tier_header g_th;         /* its header */
static char g_keys[NPATHS][PATH_KEY_SIZE];
static size_t g_lens[NPATHS];

/* ---- the template: a real index written by shmd/store.c ------------------- */
static void put(struct store *s, const char *path, uint64_t size)
{
    char key[PATH_KEY_SIZE];
    int len = path_normalize(path, NULL, false, key, sizeof key);
    if (len < 0)
        fz_fail("template path %s", path);
    uint64_t hash = tier_hash(s->view.hash_seed, key, (size_t)len);
    int rec = store_reserve(s, store_object_memory(size));
    if (rec < 0)
        fz_fail("template: store_reserve");
    uint64_t id = store_new_id(s);
    struct store_obj o = {
        .record = (uint32_t)rec, .id = id, .ino = 1000 + id, .ctime_sec = (int64_t)id,
        .epoch = load_acquire(&s->view.marks->epoch),
        .gen = load_acquire(&s->view.gens[hash & s->view.bucket_mask]),
        .checked_ns = 1, .st = {.dev = 1, .ino = id, .nlink = 1, .size = size, .mode = 0100644},
    };
    if (store_put(s, key, (size_t)len, hash, &o) < 0)
        fz_fail("template: store_put");
}

static void build_template(void)
{
    char dir[64];
    struct store s;
    struct store_params p = {.slots = 64, .capacity = 1u << 30, .max_file = 1u << 20,
                             .revalidate_ms = 1000, .settle_ms = 1000};

    fz_instance_dir(dir, "index");
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0 || store_create(&s, dirfd, &p) < 0)
        fz_fail("template: store_create in %s", dir);
    store_lock(&s);
    for (int i = 0; i < NPATHS; i++) {
        /* long shared prefixes: path compares must read every word */
        snprintf(g_keys[i], sizeof g_keys[i], i % 3 ? "/srv/app/static/file-%02d.css"
                                                    : "/srv/a/%02d", i);
        g_lens[i] = strlen(g_keys[i]);
        memset(g_keys[i] + g_lens[i], 0, 8);
        put(&s, g_keys[i], 100u * (unsigned)i);
    }
    /* a removal: later slots of its probe run shift back */
    int r = store_find(&s, g_keys[5], g_lens[5], tier_hash(s.view.hash_seed, g_keys[5], g_lens[5]));
    if (r < 0)
        fz_fail("template: find");
    store_remove(&s, (uint32_t)r);
    store_unlock(&s); /* the store is valid here (checked in debug builds) */
    /* a path changed through a shim: its bucket generation moved */
    uint64_t h7 = tier_hash(s.view.hash_seed, g_keys[7], g_lens[7]);
    s.view.gens[h7 & s.view.bucket_mask]++;
    /* a record caught in the middle of a rewrite */
    r = store_find(&s, g_keys[9], g_lens[9], tier_hash(s.view.hash_seed, g_keys[9], g_lens[9]));
    s.records[r].seq |= 1;

    g_template_size = s.map_len;
    g_template = malloc(g_template_size);
    memcpy(g_template, s.map, g_template_size);
    memcpy(&g_th, g_template, sizeof g_th);
    s.records[r].seq &= ~1ULL;
    store_destroy(&s, true);
    close(dirfd);
    fz_remove_dir(dir);
    if (tier_header_check(&g_th, g_template_size, (uint32_t)geteuid()))
        fz_fail("template header does not check");
}

/* ---- the garbage writer --------------------------------------------------- */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *rw, *ro;   /* targets; NULL: idle */
    size_t rw_len, ro_len;
    uint64_t seed;
    int go;                   /* atomic: write while set */
    int busy;                 /* atomic: inside a burst */
    uint64_t bursts;          /* atomic: bursts done in this round */
} g_gw = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static uint64_t rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* not instrumented for coverage: its timing must not steer the fuzzer */
__attribute__((no_sanitize("coverage"))) static void *garbage_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_gw.mu);
    for (;;) {
        while (!load_acquire(&g_gw.go))
            pthread_cond_wait(&g_gw.cv, &g_gw.mu);
        uint64_t x = g_gw.seed | 1;
        pthread_mutex_unlock(&g_gw.mu);
        for (;;) {
            store_seqcst(&g_gw.busy, 1);
            if (!load_seqcst(&g_gw.go)) {
                store_seqcst(&g_gw.busy, 0);
                break;
            }
            for (int i = 0; i < 64; i++) {
                uint64_t v = rng(&x);
                bool ro = g_gw.ro && (v & 3) == 0;
                unsigned char *b = ro ? g_gw.ro : g_gw.rw;
                size_t len = ro ? g_gw.ro_len : g_gw.rw_len;
                if (!len)
                    continue;
                /* small values (counters, generations, epochs) or noise */
                unsigned char byte = (v >> 8) & 1 ? (unsigned char)(v >> 16) : (unsigned char)((v >> 16) & 3);
                store_relaxed(&b[(v >> 24) % len], byte);
            }
            store_seqcst(&g_gw.busy, 0);
            fetch_add_relaxed(&g_gw.bursts, 1);
        }
        pthread_mutex_lock(&g_gw.mu);
    }
    return NULL;
}

static void garbage_start(unsigned char *rw, size_t rw_len, unsigned char *ro, size_t ro_len,
                          uint64_t seed)
{
    static pthread_t t;
    static bool started;
    if (!started) {
        pthread_create(&t, NULL, garbage_main, NULL);
        started = true;
    }
    pthread_mutex_lock(&g_gw.mu);
    g_gw.rw = rw;
    g_gw.rw_len = rw_len;
    g_gw.ro = ro;
    g_gw.ro_len = ro_len;
    g_gw.seed = seed;
    store_relaxed(&g_gw.bursts, 0);
    store_seqcst(&g_gw.go, 1);
    pthread_cond_signal(&g_gw.cv);
    pthread_mutex_unlock(&g_gw.mu);
}

/* Inputs in garbage mode, and those during whose lookups garbage was
 * written: printed at exit, so a log shows the concurrency was real. */
static uint64_t g_garbage_inputs, g_garbage_overlapped;

static void garbage_report(void)
{
    if (g_garbage_inputs)
        fprintf(stderr, "fuzz_index: garbage written during the lookups of %llu of %llu inputs "
                "in garbage mode\n", (unsigned long long)g_garbage_overlapped,
                (unsigned long long)g_garbage_inputs);
}

static void garbage_stop(void)
{
    static bool reported;
    if (!reported) {
        atexit(garbage_report);
        reported = true;
    }
    g_garbage_inputs++;
    g_garbage_overlapped += load_relaxed(&g_gw.bursts) > 0;
    store_seqcst(&g_gw.go, 0);
    while (load_seqcst(&g_gw.busy))
        sched_yield();
}

/* ---- the reference lookup: the protocol read off layout.h ------------------ */
/* Over the raw bytes, single-threaded: what a lookup must return. */
static enum tier_lookup_result ref_lookup(const struct tier_header *h, const unsigned char *ro,
                                          const unsigned char *rw, const char *key, size_t len,
                                          uint64_t hash, uint32_t *rec_out)
{
    uint32_t mask = h->slot_count - 1;
    if (len == 0 || len >= TIER_PATH_MAX)
        return TIER_MISS;
    for (uint32_t n = 0, i = (uint32_t)hash & mask; n <= mask; n++, i = (i + 1) & mask) {
        struct tier_slot s;
        memcpy(&s, ro + h->slots_offset + (uint64_t)i * sizeof s, sizeof s);
        if (s.record == 0)
            return TIER_MISS;
        if (s.hash != hash || s.record > h->record_count)
            continue;
        struct tier_record r;
        memcpy(&r, ro + h->records_offset + (s.record - 1) * sizeof r, sizeof r);
        if (r.seq & 1)
            return TIER_MISS; /* a writer is inside: the reader gives up */
        if (r.object_id == 0 || r.hash != hash || r.path_len != len)
            continue;
        size_t words = (len + 8) / 8;
        if (r.path_off % 8 || r.path_off > h->arena_size || words * 8 > h->arena_size - r.path_off ||
            memcmp(ro + h->arena_offset + r.path_off, key, words * 8) != 0)
            continue;
        uint64_t gen;
        uint64_t epoch;
        memcpy(&gen, rw + tier_marks_gens_off(h->stripe_count) + (hash & (h->bucket_count - 1)) * 8, 8);
        memcpy(&epoch, rw + offsetof(struct tier_marks, epoch), 8);
        *rec_out = (uint32_t)(s.record - 1);
        if (gen != r.gen || epoch != r.epoch)
            return TIER_STALE;
        if (r.real_bucket1) { /* reached through a symlink: its target's word too */
            uint64_t rg;
            if (r.real_bucket1 - 1 >= h->bucket_count)
                return TIER_STALE;
            memcpy(&rg, rw + tier_marks_gens_off(h->stripe_count) + (uint64_t)(r.real_bucket1 - 1) * 8, 8);
            if (rg != r.real_gen)
                return TIER_STALE;
        }
        return TIER_HIT;
    }
    return TIER_MISS;
}

/* A hit must be a valid entry for key (see the top of the file). */
static void check_hit(const struct tier_header *h, const unsigned char *ro, const char *key,
                      size_t len, uint64_t hash, const struct tier_entry *e, bool ro_stable)
{
    if (e->record >= h->record_count)
        fz_fail("hit on record %u of %u", e->record, h->record_count);
    if (e->seq & 1)
        fz_fail("hit with an odd seq");
    if (e->object_id == 0)
        fz_fail("hit on a free record");
    if (!ro_stable)
        return; /* the record may have been overwritten since */
    struct tier_record r;
    memcpy(&r, ro + h->records_offset + (uint64_t)e->record * sizeof r, sizeof r);
    if (r.seq != e->seq || r.object_id != e->object_id || r.object_ino != e->object_ino ||
        r.object_ctime_sec != e->object_ctime_sec || r.object_ctime_nsec != e->object_ctime_nsec ||
        memcmp(&r.st, &e->st, sizeof r.st) != 0)
        fz_fail("entry of record %u differs from the record", e->record);
    if (r.hash != hash || r.path_len != len)
        fz_fail("hit on record %u with another hash or path length", e->record);
    if (r.path_off % 8 || r.path_off > h->arena_size || len + 1 > h->arena_size - r.path_off)
        fz_fail("hit on record %u whose path lies outside the arena", e->record);
    const unsigned char *p = ro + h->arena_offset + r.path_off;
    if (memcmp(p, key, len) != 0 || p[len] != '\0')
        fz_fail("hit on record %u holding another path", e->record);
}

/* ---- one input ------------------------------------------------------------------ */
/* Buffer i of exactly n bytes: ASan reports a read of even one byte past it. */
static unsigned char *sized_buffer(int i, size_t n)
{
    static unsigned char *buf[2];
    static size_t len[2];
    if (len[i] != n) {
        free(buf[i]);
        buf[i] = malloc(n);
        len[i] = n;
    }
    return buf[i];
}

static void apply_patches(unsigned char *file, size_t size, struct fz_in *in)
{
    const uint64_t start[5] = {0, g_th.slots_offset, g_th.records_offset, g_th.arena_offset,
                               g_th.marks_offset};
    const uint64_t len[5] = {TIER_HEADER_SIZE, g_th.records_offset - g_th.slots_offset,
                             g_th.arena_offset - g_th.records_offset,
                             g_th.marks_offset - g_th.arena_offset, g_th.marks_size};
    while (in->n) {
        uint8_t op = fz_u8(in);
        unsigned region = op % 5, kind = (op / 5) % 4;
        uint64_t off = start[region] + fz_u16(in) % len[region];
        if (kind == 0) {
            size_t n = (size_t)(fz_u8(in) % 32) + 1;
            const uint8_t *b = fz_bytes(in, &n);
            if (off < size)
                memcpy(file + off, b, n < size - off ? n : size - off);
            continue;
        }
        off &= ~(uint64_t)(kind == 3 ? 3 : 7);
        int8_t small = (int8_t)fz_u8(in);
        if (off + 8 > size)
            continue;
        if (kind == 3) {
            uint32_t v = (uint32_t)(int32_t)small;
            memcpy(file + off, &v, 4);
        } else {
            uint64_t v;
            memcpy(&v, file + off, 8);
            v = kind == 1 ? (uint64_t)(int64_t)small : v + (uint64_t)(int64_t)small;
            memcpy(file + off, &v, 8);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char extra[PATH_KEY_SIZE];
    struct fz_in in = {data, size};

    if (!g_template)
        build_template();
    uint8_t flags = fz_u8(&in);
    size_t k = fz_u8(&in);
    if (k > in.n)
        k = in.n;
    memset(extra, 0, sizeof extra);
    memcpy(extra, in.p + in.n - k, k);
    in.n -= k;
    size_t extra_len = strnlen(extra, k);
    memset(extra + extra_len, 0, sizeof extra - extra_len); /* a key is zero padded */

    static unsigned char file[MAX_FILE]; /* the index file, mutated */
    size_t fsize = g_template_size;
    memcpy(file, g_template, fsize);
    if (flags & F_RAW) {
        size_t n = in.n < fsize ? in.n : fsize;
        memcpy(file, in.p, n);
    } else {
        apply_patches(file, fsize, &in);
    }
    if (flags & F_RESIZE) {
        uint64_t want;
        memcpy(&want, file + offsetof(struct tier_header, file_size), 8);
        if (want >= TIER_HEADER_SIZE && want <= MAX_FILE) {
            if (want > fsize)
                memset(file + fsize, 0, want - fsize);
            fsize = want;
        }
    }

    /* the shim: a private copy of the header, checked against the file */
    struct tier_header h;
    memcpy(&h, file, sizeof h);
    const char *why = tier_header_check(&h, fsize, (uint32_t)geteuid());
    if (why)
        return 0;
    /* the two mappings, exactly as long as the shim's (kept while the sizes
     * repeat: fresh memory for every input costs page faults, not checks) */
    unsigned char *ro = sized_buffer(0, h.marks_offset);
    unsigned char *rw = sized_buffer(1, h.marks_size);
    memcpy(ro, file, h.marks_offset);
    memcpy(rw, file + h.marks_offset, h.marks_size);
    if (load_relaxed(&((struct tier_marks *)rw)->magic) != TIER_MARKS_MAGIC)
        return 0; /* the shim refuses it too */
    struct tier_view v;
    tier_view_init(&v, &h, ro, rw);
    (void)tier_view_live(&v, load_relaxed(&((struct tier_header *)ro)->heartbeat_ns) + 1);

    bool garbage = flags & (F_GARBAGE | F_GARBAGE_RO);
    bool ro_stable = !(flags & F_GARBAGE_RO);
    if (garbage)
        garbage_start(rw, h.marks_size, flags & F_GARBAGE_RO ? ro : NULL, h.marks_offset,
                      tier_hash(1, data, size));

    for (int round = 0; round < (garbage ? 4 : 1); round++) {
        for (int i = 0; i <= NPATHS; i++) {
            const char *key = i < NPATHS ? g_keys[i] : extra;
            size_t len = i < NPATHS ? g_lens[i] : extra_len;
            uint64_t hash = tier_hash(v.hash_seed, key, len);
            struct tier_entry e;
            memset(&e, 0xa5, sizeof e);
            enum tier_lookup_result r = tier_lookup(&v, key, len, hash, &e);
            if (r != TIER_HIT && r != TIER_MISS && r != TIER_STALE)
                fz_fail("tier_lookup returned %d", (int)r);
            if (!garbage) {
                uint32_t want_rec = 0;
                enum tier_lookup_result want = ref_lookup(&h, ro, rw, key, len, hash, &want_rec);
                if (r != want || (r == TIER_HIT && e.record != want_rec))
                    fz_fail("lookup of %s: %d (record %u), the reference says %d (record %u)", key,
                            (int)r, r == TIER_HIT ? e.record : 0, (int)want, want_rec);
            }
            if (r != TIER_HIT)
                continue;
            check_hit(&h, ro, key, len, hash, &e, ro_stable);
            if (!tier_entry_unchanged(&v, &e) && !garbage)
                fz_fail("entry changed with no writer");
            tier_touch(&v, e.record);
            tier_count(&v, TIER_COUNT_HIT);
            struct tier_entry again;
            if (tier_record_get(&v, e.record, e.object_id, &again) && !garbage &&
                memcmp(&again.st, &e.st, sizeof e.st) != 0)
                fz_fail("tier_record_get of a hit's record differs from the hit");
        }
        tier_count(&v, TIER_COUNT_MISS);
        tier_count(&v, TIER_COUNT_UNSENT);
    }

    /* records and ids named by the input */
    struct fz_in tail = {data, size};
    for (int i = 0; i < 4; i++) {
        uint32_t r = fz_u32(&tail) % (h.record_count + 4);
        uint64_t id = fz_u64(&tail) % 64;
        struct tier_entry e;
        if (tier_record_get(&v, r, id, &e)) {
            if (r >= h.record_count || e.record != r || e.object_id != id || id == 0)
                fz_fail("tier_record_get(%u, %llu) returned record %u id %llu", r,
                        (unsigned long long)id, e.record, (unsigned long long)e.object_id);
        }
        tier_touch(&v, r);
    }
    if (garbage)
        garbage_stop();

    /* object names: parse accepts exactly what name makes */
    char name[TIER_OBJECT_NAME_SIZE];
    uint64_t g, id;
    uint32_t rec;
    if (tier_object_parse(extra, &g, &id, &rec)) {
        tier_object_name(g, id, rec, name);
        if (strcmp(name, extra) != 0)
            fz_fail("tier_object_parse accepted \"%s\", which names \"%s\"", extra, name);
    }
    struct fz_in t2 = {data, size};
    uint64_t g2 = fz_u64(&t2), id2 = fz_u64(&t2);
    uint32_t rec2 = fz_u32(&t2);
    tier_object_name(g2, id2, rec2, name);
    if (!tier_object_parse(name, &g, &id, &rec) || g != g2 || id != id2 || rec != rec2)
        fz_fail("tier_object_parse refused or changed \"%s\"", name);
    return 0;
}
