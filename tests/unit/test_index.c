/* test_index.c - the index through both sides: shmd's writer (shmd/store.c)
 * publishes, the shim's lock-free reader (tier/index.c) looks up.
 *
 * Each test builds a real index in a private 0700 directory under /dev/shm,
 * publishes entries the way shmd/load.c does (reserve, new id, put, all
 * under s.lock) and reads them back only through tier_lookup on s.view, with
 * keys built by path_normalize, as the shim does. store_validate runs after
 * every change in the model-driven tests; a reference model says which paths
 * must hit and which must miss. The last test races four readers against
 * the writer and checks that a hit is never a torn mix of two entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shmd/store.h"
#include "tests/unit/fixture.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/hash.h"
#include "tier/index.h"
#include "tier/path.h"





static int setup_small(void **state)
{
    return fx_setup(state, 64, 1ULL << 30);
}

static int setup_big(void **state)
{
    return fx_setup(state, 1024, 1ULL << 30);
}


/* ---- helpers -------------------------------------------------------------- */



/* A tier_stat whose every field is derived from v. */
static struct tier_stat stat_of(uint64_t v, uint64_t size)
{
    struct tier_stat t = {
        .dev = v, .ino = v * 3, .nlink = 1 + v % 7, .size = size,
        .blocks = (size + 511) / 512, .rdev = 0, .mode = 0100644,
        .uid = (uint32_t)(1000 + v), .gid = (uint32_t)(2000 + v), .blksize = 4096,
        .atime_sec = (int64_t)(v * 5), .atime_nsec = (int64_t)(v % NS_PER_SEC),
        .mtime_sec = (int64_t)(v * 5 + 1), .mtime_nsec = (int64_t)((v * 7) % NS_PER_SEC),
        .ctime_sec = (int64_t)(v * 5 + 2), .ctime_nsec = (int64_t)((v * 11) % NS_PER_SEC),
    };
    return t;
}


static void object_create(const struct fx *f, uint64_t id, uint32_t rec)
{
    char name[TIER_OBJECT_NAME_SIZE];
    tier_object_name(f->s.view.generation, id, rec, name);
    int fd = openat(f->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    assert_true(fd >= 0);
    close(fd);
}

/* Publish path as shmd/load.c does. Returns the record (or -1) and the
 * new object id in *id. The object file exists when with_file. */
static int put_key(struct fx *f, const struct key *k, uint64_t size, uint64_t v,
                   bool with_file, uint64_t *id)
{
    struct store *s = &f->s;
    uint64_t mem = store_object_memory(size);

    store_lock(s);
    int rr = store_reserve(s, mem);
    uint64_t nid = store_new_id(s);
    store_unlock(s);
    assert_true(rr >= 0);
    if (with_file)
        object_create(f, nid, (uint32_t)rr);
    struct store_obj o = {
        .record = (uint32_t)rr, .id = nid, .ino = v * 7, .ctime_sec = (int64_t)(v * 11),
        .ctime_nsec = (int64_t)(v % 999999937),
        .epoch = load_acquire(&s->view.marks->epoch),
        .gen = load_acquire(&s->view.gens[k->hash & s->view.bucket_mask]),
        .checked_ns = 1, .st = stat_of(v, size),
    };
    store_lock(s);
    int r = store_put(s, k->k, k->len, k->hash, &o);
    store_unlock(s);
    if (id)
        *id = nid;
    return r;
}

static int put(struct fx *f, const char *path, uint64_t size, uint64_t v, bool with_file,
               uint64_t *id)
{
    struct key k;
    key_make(f, path, &k);
    return put_key(f, &k, size, v, with_file, id);
}

static enum tier_lookup_result look(const struct fx *f, const char *path, struct tier_entry *e)
{
    struct key k;
    struct tier_entry tmp;
    key_make(f, path, &k);
    return tier_lookup(&f->s.view, k.k, k.len, k.hash, e ? e : &tmp);
}

static void remove_key(struct fx *f, const struct key *k)
{
    store_lock(&f->s);
    int r = store_find(&f->s, k->k, k->len, k->hash);
    if (r >= 0)
        store_remove(&f->s, (uint32_t)r);
    store_unlock(&f->s);
    assert_true(r >= 0);
}

static void remove_path(struct fx *f, const char *path)
{
    struct key k;
    key_make(f, path, &k);
    remove_key(f, &k);
}

static void validate(const struct fx *f)
{
    const char *why = store_validate(&f->s);
    if (why)
        fail_msg("store_validate: %s", why);
}

static unsigned count_dir_entries(const struct fx *f)
{
    int fd = dup(f->dirfd);
    DIR *d = fdopendir(fd);
    struct dirent *de;
    unsigned n = 0;

    assert_non_null(d);
    rewinddir(d);
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static uint64_t rng_next(uint64_t *x)
{
    /* xorshift64*: deterministic, so a failure replays */
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ULL;
}

/* ---- basic publish / lookup ----------------------------------------------- */

/* tier_hash_key (the lookups' hash, reading the padded last word whole)
 * is tier_hash on every key length and alignment of the tail. */
static void test_hash_key_is_hash(void **state)
{
    (void)state;
    uint64_t buf[40];
    for (size_t n = 1; n < 300; n++) {
        unsigned char *k = (unsigned char *)buf;
        memset(buf, 0, sizeof buf);
        for (size_t i = 0; i < n; i++)
            k[i] = (unsigned char)(i * 131 + n * 7 + 1);
        for (uint64_t seed = 0; seed < 3; seed++)
            assert_true(tier_hash_key(seed * 0x9e3779b97f4a7c15ULL, k, n) ==
                        tier_hash(seed * 0x9e3779b97f4a7c15ULL, k, n));
    }
}

static void test_insert_lookup_miss(void **state)
{
    struct fx *f = *state;
    struct tier_entry e;
    uint64_t id;

    assert_null(tier_header_check(f->s.hdr, f->s.map_len, (uint32_t)geteuid()));
    assert_int_equal(look(f, "/srv/a/one", &e), TIER_MISS);

    int r = put(f, "/srv/a/one", 100, 42, true, &id);
    assert_true(r >= 0);
    validate(f);
    memset(&e, 0xa5, sizeof e);
    assert_int_equal(look(f, "/srv/a/one", &e), TIER_HIT);
    assert_int_equal(e.record, r);
    assert_int_equal(e.object_id, id);
    assert_int_equal(e.object_ino, 42 * 7);
    assert_int_equal(e.object_ctime_sec, 42 * 11);
    assert_int_equal(e.object_ctime_nsec, 42);
    assert_int_equal(e.seq % 2, 0);
    struct tier_stat want = stat_of(42, 100);
    assert_memory_equal(&e.st, &want, sizeof want);
    /* the same path written differently gives the same key */
    assert_int_equal(look(f, "//srv/./a//one", &e), TIER_HIT);
    assert_int_equal(e.object_id, id);

    /* other paths miss: neighbours, parents, extensions */
    assert_int_equal(look(f, "/srv/a/two", NULL), TIER_MISS);
    assert_int_equal(look(f, "/srv/a", NULL), TIER_MISS);
    assert_int_equal(look(f, "/srv/a/one/x", NULL), TIER_MISS);
    assert_int_equal(look(f, "/srv/a/onf", NULL), TIER_MISS);
    assert_int_equal(look(f, "/srv/a/on", NULL), TIER_MISS);

    /* the right path with a wrong hash or length misses */
    struct key k;
    key_make(f, "/srv/a/one", &k);
    assert_int_equal(tier_lookup(&f->s.view, k.k, k.len, k.hash ^ 1, &e), TIER_MISS);
    assert_int_equal(tier_lookup(&f->s.view, k.k, k.len - 1,
                                 tier_hash(f->s.view.hash_seed, k.k, k.len - 1), &e), TIER_MISS);
    assert_int_equal(tier_lookup(&f->s.view, k.k, 0, k.hash, &e), TIER_MISS);
    assert_int_equal(tier_lookup(&f->s.view, k.k, TIER_PATH_MAX, k.hash, &e), TIER_MISS);
    assert_int_equal(store_find(&f->s, k.k, k.len, k.hash), r);

    /* header counters */
    assert_int_equal(f->s.hdr->entries, 1);
    assert_int_equal(f->s.hdr->bytes, 100);
    assert_int_equal(f->s.hdr->memory, 4096);
    assert_true(object_exists(f, id));

    /* a second entry does not disturb the first */
    uint64_t id2;
    int r2 = put(f, "/srv/a/two", 5000, 43, true, &id2);
    assert_true(r2 >= 0 && r2 != r);
    assert_true(id2 != id);
    validate(f);
    assert_int_equal(look(f, "/srv/a/one", &e), TIER_HIT);
    assert_int_equal(e.object_id, id);
    assert_int_equal(look(f, "/srv/a/two", &e), TIER_HIT);
    assert_int_equal(e.object_id, id2);
    assert_int_equal(e.st.size, 5000);
    assert_int_equal(f->s.hdr->entries, 2);
    assert_int_equal(f->s.hdr->bytes, 5100);
    assert_int_equal(f->s.hdr->memory, 4096 + 8192);
}

static void test_replace(void **state)
{
    struct fx *f = *state;
    struct tier_entry e1, e2;
    uint64_t id1, id2;

    assert_true(put(f, "/srv/r/file", 10, 1, true, &id1) >= 0);
    assert_true(put(f, "/srv/r/other", 20, 2, true, NULL) >= 0);
    assert_int_equal(look(f, "/srv/r/file", &e1), TIER_HIT);
    assert_true(tier_entry_unchanged(&f->s.view, &e1));

    assert_true(put(f, "/srv/r/file", 9000, 3, true, &id2) >= 0);
    validate(f);
    assert_true(id2 != id1);
    /* the reader sees the new entry, and the old one is no longer current */
    assert_int_equal(look(f, "/srv/r/file", &e2), TIER_HIT);
    assert_int_equal(e2.object_id, id2);
    assert_int_equal(e2.st.size, 9000);
    assert_int_equal(e2.st.ino, 3 * 3);
    assert_int_equal(e2.object_ino, 3 * 7);
    assert_false(tier_entry_unchanged(&f->s.view, &e1));
    assert_true(tier_entry_unchanged(&f->s.view, &e2));
    /* the old object is unlinked, the new one kept */
    assert_false(object_exists(f, id1));
    assert_true(object_exists(f, id2));
    /* counters follow: one entry for the path, sizes of the new object */
    assert_int_equal(f->s.hdr->entries, 2);
    assert_int_equal(f->s.hdr->bytes, 9020);
    assert_int_equal(f->s.hdr->memory, 12288 + 4096);
    /* the neighbour is untouched */
    assert_int_equal(look(f, "/srv/r/other", &e1), TIER_HIT);
    assert_int_equal(e1.st.size, 20);
    /* the directory holds the index and the two live objects only */
    assert_int_equal(count_dir_entries(f), 3);
}

static void test_remove(void **state)
{
    struct fx *f = *state;
    struct tier_entry e, keep;
    uint64_t id, id_keep;

    assert_true(put(f, "/srv/x/gone", 4097, 5, true, &id) >= 0);
    assert_true(put(f, "/srv/x/kept", 1, 6, true, &id_keep) >= 0);
    assert_int_equal(look(f, "/srv/x/gone", &e), TIER_HIT);
    assert_int_equal(look(f, "/srv/x/kept", &keep), TIER_HIT);

    remove_path(f, "/srv/x/gone");
    validate(f);
    assert_int_equal(look(f, "/srv/x/gone", NULL), TIER_MISS);
    assert_false(tier_entry_unchanged(&f->s.view, &e));
    assert_false(object_exists(f, id));
    assert_int_equal(f->s.hdr->entries, 1);
    assert_int_equal(f->s.hdr->bytes, 1);
    assert_int_equal(f->s.hdr->memory, 4096);
    /* the other entry stays current */
    assert_int_equal(look(f, "/srv/x/kept", NULL), TIER_HIT);
    assert_true(tier_entry_unchanged(&f->s.view, &keep));
    assert_true(object_exists(f, id_keep));

    /* removing a free record is a no-op */
    store_lock(&f->s);
    store_remove(&f->s, e.record);
    store_unlock(&f->s);
    validate(f);
    assert_int_equal(f->s.hdr->entries, 1);
    assert_int_equal(look(f, "/srv/x/kept", NULL), TIER_HIT);

    /* the last entry out: empty, and the path can come back */
    remove_path(f, "/srv/x/kept");
    validate(f);
    assert_int_equal(f->s.hdr->entries, 0);
    assert_int_equal(f->s.hdr->bytes, 0);
    assert_int_equal(f->s.hdr->memory, 0);
    assert_false(object_exists(f, id_keep));
    assert_int_equal(count_dir_entries(f), 1);
    assert_true(put(f, "/srv/x/gone", 3, 7, true, &id) >= 0);
    assert_int_equal(look(f, "/srv/x/gone", &e), TIER_HIT);
    assert_int_equal(e.object_id, id);
    assert_int_equal(e.st.size, 3);
}

/* ---- collisions and backward-shift deletion -------------------------------- */

struct model {
    unsigned n;
    char path[80][48];
    struct key key[80];
    bool live[80];
    uint64_t id[80];
    uint64_t size[80];
};

static void model_check(const struct fx *f, const struct model *m, unsigned step)
{
    const char *why = store_validate(&f->s);
    if (why)
        fail_msg("step %u: store_validate: %s", step, why);
    unsigned live = 0;
    for (unsigned i = 0; i < m->n; i++) {
        struct tier_entry e;
        const struct key *k = &m->key[i];
        enum tier_lookup_result r = tier_lookup(&f->s.view, k->k, k->len, k->hash, &e);
        int found = store_find(&f->s, k->k, k->len, k->hash);
        if (m->live[i]) {
            live++;
            if (r != TIER_HIT || e.object_id != m->id[i] || e.st.size != m->size[i])
                fail_msg("step %u: live %s: lookup %d id %llu, want hit id %llu", step,
                         m->path[i], (int)r, (unsigned long long)(r == TIER_HIT ? e.object_id : 0),
                         (unsigned long long)m->id[i]);
            if (found != (int)e.record)
                fail_msg("step %u: %s: store_find %d, lookup record %u", step, m->path[i],
                         found, e.record);
        } else {
            if (r != TIER_MISS || found != -1)
                fail_msg("step %u: removed %s still found (lookup %d, store_find %d)", step,
                         m->path[i], (int)r, found);
        }
    }
    assert_int_equal(f->s.hdr->entries, live);
}

static unsigned displaced(const struct fx *f)
{
    unsigned n = 0;
    for (uint32_t i = 0; i <= f->s.view.slot_mask; i++)
        if (f->s.slots[i].record && ((uint32_t)f->s.slots[i].hash & f->s.view.slot_mask) != i)
            n++;
    return n;
}

/* Random inserts, replaces and removes on a nearly full 64-slot table,
 * checked against the model after every operation. forced_hash makes many
 * paths share a full hash (and so a home slot), with runs that wrap around
 * the end of the table. */
static void churn(struct fx *f, bool forced_hash, uint64_t seed)
{
    static struct model m;
    uint64_t x = seed;
    uint32_t cap = f->s.max_entries;
    unsigned live = 0, max_displaced = 0, removes = 0;

    memset(&m, 0, sizeof m);
    m.n = 72;
    for (unsigned i = 0; i < m.n; i++) {
        snprintf(m.path[i], sizeof m.path[i], "/srv/churn/%s/f%u", i % 2 ? "odd" : "even", i);
        key_make(f, m.path[i], &m.key[i]);
        if (forced_hash) /* full hashes 62, 63, 64: homes 62, 63 and 0 */
            m.key[i].hash = 62 + i % 3;
    }
    for (unsigned step = 0; step < 2500; step++) {
        unsigned i = (unsigned)(rng_next(&x) % m.n);
        uint64_t size = rng_next(&x) % 20000;
        if (m.live[i] && rng_next(&x) % 2) {
            uint64_t old = m.id[i];
            store_lock(&f->s);
            int r = store_find(&f->s, m.key[i].k, m.key[i].len, m.key[i].hash);
            assert_true(r >= 0);
            store_remove(&f->s, (uint32_t)r);
            store_unlock(&f->s);
            m.live[i] = false;
            live--;
            removes++;
            assert_false(object_exists(f, old));
        } else if (m.live[i] || live < cap) {
            uint64_t old = m.id[i];
            bool was = m.live[i];
            int r = put_key(f, &m.key[i], size, step, true, &m.id[i]);
            assert_true(r >= 0);
            m.size[i] = size;
            if (!was)
                live++;
            m.live[i] = true;
            if (was)
                assert_false(object_exists(f, old));
            assert_true(object_exists(f, m.id[i]));
        } else {
            continue;
        }
        model_check(f, &m, step);
        unsigned d = displaced(f);
        if (d > max_displaced)
            max_displaced = d;
    }
    /* the table really had collisions and deletions in probe runs */
    assert_true(max_displaced >= 8);
    assert_true(removes > 100);
    assert_int_equal(f->s.hdr->evictions, 0);
    /* exactly the live objects (and the index) are left in the directory */
    assert_int_equal(count_dir_entries(f), live + 1);
}

static void test_collisions_real_hash(void **state)
{
    churn(*state, false, 0x9e3779b97f4a7c15ULL);
}

static void test_collisions_forced_hash(void **state)
{
    churn(*state, true, 0x243f6a8885a308d3ULL);
}

/* Delete in every position of one long probe run that wraps the table. */
static void test_backward_shift_positions(void **state)
{
    struct fx *f = *state;
    static struct model m;
    unsigned run = 20;

    for (unsigned victim = 0; victim < run; victim++) {
        memset(&m, 0, sizeof m);
        m.n = run;
        for (unsigned i = 0; i < run; i++) {
            snprintf(m.path[i], sizeof m.path[i], "/srv/run/%u/%u", victim, i);
            key_make(f, m.path[i], &m.key[i]);
            /* homes 60, 61, 62, 63, 0, 1 ... several per home */
            m.key[i].hash = (uint64_t)(60 + i / 3) | (1ULL << 40);
            assert_true(put_key(f, &m.key[i], 1, i, false, &m.id[i]) >= 0);
            m.size[i] = 1;
            m.live[i] = true;
        }
        model_check(f, &m, victim);
        remove_key(f, &m.key[victim]);
        m.live[victim] = false;
        model_check(f, &m, 1000 + victim);
        /* then everything, in a shuffled order */
        for (unsigned j = 0; j < run; j++) {
            unsigned i = (j * 7 + victim) % run;
            if (!m.live[i])
                continue;
            remove_key(f, &m.key[i]);
            m.live[i] = false;
            model_check(f, &m, 2000 + j);
        }
        assert_int_equal(f->s.hdr->entries, 0);
    }
}

/* ---- killed entries: gen and epoch ---------------------------------------- */

static void test_stale(void **state)
{
    struct fx *f = *state;
    struct tier_entry e;
    struct key ka, kb;
    uint64_t ida;

    key_make(f, "/srv/s/a", &ka);
    /* find a second path in another gen bucket */
    char pb[32];
    for (unsigned i = 0;; i++) {
        snprintf(pb, sizeof pb, "/srv/s/b%u", i);
        key_make(f, pb, &kb);
        if ((kb.hash & f->s.view.bucket_mask) != (ka.hash & f->s.view.bucket_mask))
            break;
    }
    int ra = put_key(f, &ka, 10, 1, false, &ida);
    int rb = put_key(f, &kb, 10, 2, false, NULL);
    assert_true(ra >= 0 && rb >= 0);
    assert_int_equal(look(f, "/srv/s/a", &e), TIER_HIT);
    assert_false(store_entry_killed(&f->s, (uint32_t)ra));

    /* a shim changed /srv/s/a: its bucket's gen moves */
    uint64_t *g = &f->s.view.gens[ka.hash & f->s.view.bucket_mask];
    fetch_add_seqcst(g, TIER_CHANGE_ONE);
    assert_int_equal(look(f, "/srv/s/a", &e), TIER_STALE);
    assert_int_equal(look(f, pb, &e), TIER_HIT);
    assert_true(store_entry_killed(&f->s, (uint32_t)ra));
    assert_false(store_entry_killed(&f->s, (uint32_t)rb));

    /* the daemon checked the source: revive with the current gen */
    store_lock(&f->s);
    assert_true(store_revive(&f->s, (uint32_t)ra, ida, load_acquire(g),
                             load_acquire(&f->s.view.marks->epoch), 0, TIER_ACCESS_DIRS_OPEN, 7));
    assert_false(store_revive(&f->s, (uint32_t)ra, ida + 1000, load_acquire(g), 0, 0, 0, 0));
    store_unlock(&f->s);
    validate(f);
    assert_int_equal(look(f, "/srv/s/a", &e), TIER_HIT);
    assert_int_equal(e.object_id, ida);
    /* the revival carries the permissions classified again */
    assert_int_equal(e.access, TIER_ACCESS_DIRS_OPEN);
    assert_int_equal(e.dirs_uid, 7);

    /* a tree-wide change: the epoch kills every entry */
    fetch_add_seqcst(&f->s.view.marks->epoch, 1);
    assert_int_equal(look(f, "/srv/s/a", &e), TIER_STALE);
    assert_int_equal(look(f, pb, &e), TIER_STALE);
    assert_true(store_entry_killed(&f->s, (uint32_t)ra));
    assert_true(store_entry_killed(&f->s, (uint32_t)rb));
    /* a load that starts after the change is current again */
    assert_true(put_key(f, &kb, 11, 3, false, NULL) >= 0);
    assert_int_equal(look(f, pb, &e), TIER_HIT);
    assert_int_equal(e.st.size, 11);
    assert_int_equal(look(f, "/srv/s/a", &e), TIER_STALE);
    /* a stale entry is still there for the daemon, only not served */
    assert_int_equal(store_find(&f->s, ka.k, ka.len, ka.hash), ra);
}

/* A modifying call in flight (layout.h): from its begin mark on, the
 * entries of its bucket are not served, neither while it runs nor after
 * it ended; a load recorded while it ran could not be published as
 * current (the daemon refuses to load then, store_put asserts). */
static void test_change_in_flight(void **state)
{
    struct fx *f = *state;
    struct tier_entry e;
    struct key ka;

    key_make(f, "/srv/c/a", &ka);
    assert_true(put_key(f, &ka, 10, 1, false, NULL) >= 0);
    assert_int_equal(look(f, "/srv/c/a", &e), TIER_HIT);
    uint64_t *g = &f->s.view.gens[ka.hash & f->s.view.bucket_mask];
    uint64_t before = load_acquire(g);
    assert_true(tier_change_quiet(before));

    fetch_add_seqcst(g, TIER_CHANGE_BEGIN);
    assert_false(tier_change_quiet(load_acquire(g)));
    assert_int_equal(look(f, "/srv/c/a", &e), TIER_STALE);
    fetch_add_seqcst(g, TIER_CHANGE_END);
    assert_true(tier_change_quiet(load_acquire(g)));
    assert_true(load_acquire(g) == before + 2);
    assert_int_equal(look(f, "/srv/c/a", &e), TIER_STALE);

    /* two calls overlapping on one bucket: in flight until both end */
    fetch_add_seqcst(g, TIER_CHANGE_BEGIN);
    fetch_add_seqcst(g, TIER_CHANGE_BEGIN);
    fetch_add_seqcst(g, TIER_CHANGE_END);
    assert_false(tier_change_quiet(load_acquire(g)));
    fetch_add_seqcst(g, TIER_CHANGE_END);
    assert_true(tier_change_quiet(load_acquire(g)));

    /* the same for the epoch, over every bucket */
    assert_true(put_key(f, &ka, 11, 2, false, NULL) >= 0);
    assert_int_equal(look(f, "/srv/c/a", &e), TIER_HIT);
    fetch_add_seqcst(&f->s.view.marks->epoch, TIER_CHANGE_BEGIN);
    assert_int_equal(look(f, "/srv/c/a", &e), TIER_STALE);
    fetch_add_seqcst(&f->s.view.marks->epoch, TIER_CHANGE_END);
    assert_int_equal(look(f, "/srv/c/a", &e), TIER_STALE);
}

static void test_entry_unchanged(void **state)
{
    struct fx *f = *state;
    struct tier_entry e, other;

    assert_true(put(f, "/srv/u/a", 1, 1, false, NULL) >= 0);
    assert_int_equal(look(f, "/srv/u/a", &e), TIER_HIT);
    assert_true(tier_entry_unchanged(&f->s.view, &e));
    /* an unrelated publish leaves it current */
    assert_true(put(f, "/srv/u/b", 1, 2, false, NULL) >= 0);
    assert_true(tier_entry_unchanged(&f->s.view, &e));
    assert_int_equal(look(f, "/srv/u/b", &other), TIER_HIT);
    /* replace: changed */
    assert_true(put(f, "/srv/u/a", 2, 3, false, NULL) >= 0);
    assert_false(tier_entry_unchanged(&f->s.view, &e));
    assert_int_equal(look(f, "/srv/u/a", &e), TIER_HIT);
    assert_true(tier_entry_unchanged(&f->s.view, &e));
    /* remove: changed, and a reuse of the record does not bring it back */
    remove_path(f, "/srv/u/a");
    assert_false(tier_entry_unchanged(&f->s.view, &e));
    assert_true(put(f, "/srv/u/c", 1, 4, false, NULL) >= 0);
    assert_false(tier_entry_unchanged(&f->s.view, &e));
    assert_true(tier_entry_unchanged(&f->s.view, &other));
}

/* ---- full tables ------------------------------------------------------------ */

static void test_records_full_evicts(void **state)
{
    struct fx *f = *state;
    uint32_t cap = f->s.max_entries;
    uint64_t ids[64];
    char p[64][32];

    assert_int_equal(cap, 48); /* 3/4 of 64 slots */
    assert_int_equal(f->s.view.record_count, 48 + 8); /* and spares for loads in flight */
    for (unsigned i = 0; i < cap; i++) {
        snprintf(p[i], sizeof p[i], "/srv/full/%u", i);
        assert_true(put(f, p[i], 100, i, true, &ids[i]) >= 0);
        validate(f);
    }
    assert_int_equal(f->s.hdr->entries, cap);
    assert_int_equal(f->s.hdr->evictions, 0);
    for (unsigned i = 0; i < cap; i++)
        assert_int_equal(look(f, p[i], NULL), TIER_HIT);

    /* one more path: a record is freed by eviction, the new one is served */
    uint64_t idn;
    assert_true(put(f, "/srv/full/new", 100, 99, true, &idn) >= 0);
    validate(f);
    assert_int_equal(f->s.hdr->entries, cap);
    assert_int_equal(f->s.hdr->evictions, 1);
    assert_int_equal(look(f, "/srv/full/new", NULL), TIER_HIT);
    unsigned gone = 0;
    for (unsigned i = 0; i < cap; i++) {
        if (look(f, p[i], NULL) == TIER_MISS) {
            gone++;
            assert_false(object_exists(f, ids[i]));
        } else {
            assert_true(object_exists(f, ids[i]));
        }
    }
    assert_int_equal(gone, 1);
    assert_int_equal(count_dir_entries(f), cap + 1);

    /* keep going: always room, always exactly cap entries */
    for (unsigned i = 0; i < 100; i++) {
        char q[32];
        snprintf(q, sizeof q, "/srv/full/more%u", i);
        assert_true(put(f, q, 100, 1000 + i, true, NULL) >= 0);
        validate(f);
        assert_int_equal(look(f, q, NULL), TIER_HIT);
        assert_int_equal(f->s.hdr->entries, cap);
    }
    assert_int_equal(f->s.hdr->evictions, 101);
    assert_int_equal(count_dir_entries(f), cap + 1);
}

/* Long paths exhaust the path arena (256 bytes per record) long before the
 * records run out: store_put must evict, never fail or overlap paths. */
static void test_arena_exhaustion(void **state)
{
    struct fx *f = *state;
    static char paths[40][TIER_PATH_MAX];
    static bool live[40];
    uint64_t x = 12345;
    uint64_t evictions = 0;
    unsigned live_n = 0;

    assert_int_equal(f->s.view.arena_size, (uint64_t)f->s.view.record_count * 256);
    for (unsigned step = 0; step < 400; step++) {
        unsigned i = (unsigned)(rng_next(&x) % 40);
        /* mostly long paths, some short: the free lists fragment */
        size_t len = rng_next(&x) % 3 ? 2000 + rng_next(&x) % 2095 : 20 + rng_next(&x) % 200;
        if (live[i]) {
            remove_path(f, paths[i]);
            live[i] = false;
            live_n--;
            validate(f);
            continue;
        }
        int n = snprintf(paths[i], sizeof paths[i], "/srv/long/%u/", i);
        memset(paths[i] + n, 'a' + (char)(step % 26), len - (size_t)n);
        paths[i][len] = '\0';
        assert_int_equal(strlen(paths[i]), len);
        int r = put(f, paths[i], 1, step, true, NULL);
        if (r < 0)
            fail_msg("step %u: store_put of a %zu-byte path failed", step, len);
        live[i] = true;
        live_n++;
        validate(f);
        assert_int_equal(look(f, paths[i], NULL), TIER_HIT);
        /* whatever was evicted misses, the rest still hits */
        unsigned now = 0;
        for (unsigned j = 0; j < 40; j++) {
            if (!live[j])
                continue;
            if (look(f, paths[j], NULL) == TIER_HIT) {
                now++;
            } else {
                live[j] = false;
                evictions++;
            }
        }
        live_n = now;
        assert_int_equal(f->s.hdr->entries, live_n);
        assert_int_equal(f->s.hdr->evictions, evictions);
        assert_int_equal(count_dir_entries(f), live_n + 1);
    }
    /* the arena, not the records, was the limit */
    assert_true(evictions > 50);
}

/* ---- header validation ---------------------------------------------------- */

static const char *check_with(const struct fx *f, void (*corrupt)(struct tier_header *))
{
    static union {
        struct tier_header h;
        unsigned char page[TIER_HEADER_SIZE];
    } copy;
    memcpy(copy.page, f->s.map, TIER_HEADER_SIZE);
    corrupt(&copy.h);
    return tier_header_check(&copy.h, f->s.map_len, (uint32_t)geteuid());
}

#define CORRUPT(name, stmt) \
    static void name(struct tier_header *h) { stmt; }
CORRUPT(c_none, (void)h)
CORRUPT(c_magic, h->magic ^= 1)
CORRUPT(c_magic_marks, h->magic = TIER_MARKS_MAGIC)
CORRUPT(c_version, h->version = TIER_VERSION + 1)
CORRUPT(c_version0, h->version = 0)
CORRUPT(c_header_size, h->header_size += 8)
CORRUPT(c_slot_size, h->slot_size = 24)
CORRUPT(c_record_size, h->record_size -= 8)
CORRUPT(c_owner, h->owner_uid += 1)
CORRUPT(c_file_size, h->file_size += TIER_PAGE)
CORRUPT(c_slot_count_np2, h->slot_count = 1000)
CORRUPT(c_slot_count_small, h->slot_count = 32)
CORRUPT(c_slot_count_huge, h->slot_count = TIER_SLOTS_MAX * 2)
CORRUPT(c_record_count0, h->record_count = 0)
CORRUPT(c_record_count_big, h->record_count = h->slot_count + 1)
CORRUPT(c_bucket_np2, h->bucket_count = 1000)
CORRUPT(c_stripe_np2, h->stripe_count = 3)
CORRUPT(c_stripe_huge, h->stripe_count = 1u << 20)
CORRUPT(c_slots_in_header, h->slots_offset = 64)
CORRUPT(c_slots_unaligned, h->slots_offset += 8)
CORRUPT(c_records_overlap, h->records_offset = h->slots_offset + 64)
CORRUPT(c_records_unaligned, h->records_offset += 8)
CORRUPT(c_arena_overlap, h->arena_offset = h->records_offset)
CORRUPT(c_arena_unaligned, h->arena_offset += 64)
CORRUPT(c_arena_beyond, h->arena_offset = h->file_size)
CORRUPT(c_arena_size_huge, h->arena_size = h->file_size + 1)
CORRUPT(c_arena_size_wrap, h->arena_size = ~0ULL - 4095)
CORRUPT(c_marks_overlap, h->marks_offset = h->arena_offset)
CORRUPT(c_marks_unaligned, h->marks_offset += 8)
CORRUPT(c_marks_beyond, h->marks_offset = h->file_size)
CORRUPT(c_marks_small, h->marks_size = TIER_PAGE; h->bucket_count = 1u << 20)
CORRUPT(c_marks_size_huge, h->marks_size = h->file_size * 2)
/* offsets so large that offset + table size wraps around 2^64 */
CORRUPT(c_slots_wrap, h->slots_offset = 0 - (uint64_t)TIER_PAGE)
CORRUPT(c_records_wrap, h->records_offset = 0 - (uint64_t)TIER_PAGE)

static void test_header_check(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *name;
        void (*corrupt)(struct tier_header *);
    } cases[] = {
        {"magic", c_magic}, {"marks magic", c_magic_marks}, {"version", c_version},
        {"version 0", c_version0}, {"header_size", c_header_size}, {"slot_size", c_slot_size},
        {"record_size", c_record_size}, {"owner_uid", c_owner}, {"file_size", c_file_size},
        {"slot_count not pow2", c_slot_count_np2}, {"slot_count < min", c_slot_count_small},
        {"slot_count > max", c_slot_count_huge}, {"record_count 0", c_record_count0},
        {"record_count > slots", c_record_count_big}, {"bucket_count", c_bucket_np2},
        {"stripe_count", c_stripe_np2}, {"stripe_count huge", c_stripe_huge},
        {"slots in header", c_slots_in_header}, {"slots unaligned", c_slots_unaligned},
        {"records overlap slots", c_records_overlap}, {"records unaligned", c_records_unaligned},
        {"arena overlaps records", c_arena_overlap}, {"arena unaligned", c_arena_unaligned},
        {"arena beyond the file", c_arena_beyond}, {"arena_size huge", c_arena_size_huge},
        {"arena_size wraps", c_arena_size_wrap}, {"marks overlap arena", c_marks_overlap},
        {"marks unaligned", c_marks_unaligned}, {"marks beyond the file", c_marks_beyond},
        {"marks too small", c_marks_small}, {"marks_size huge", c_marks_size_huge},
        {"slots_offset wraps 2^64", c_slots_wrap}, {"records_offset wraps 2^64", c_records_wrap},
    };
    unsigned bad = 0;

    assert_null(check_with(f, c_none));
    assert_null(tier_header_check(f->s.hdr, f->s.map_len, (uint32_t)geteuid()));
    /* the file's real size is what the header says */
    struct stat st;
    assert_int_equal(fstatat(f->dirfd, "index", &st, 0), 0);
    assert_int_equal((uint64_t)st.st_size, f->s.map_len);
    assert_int_equal(f->s.hdr->file_size, f->s.map_len);

    /* wrong caller view: another uid, another file size */
    assert_non_null(tier_header_check(f->s.hdr, f->s.map_len, (uint32_t)geteuid() + 1));
    assert_non_null(tier_header_check(f->s.hdr, f->s.map_len + TIER_PAGE, (uint32_t)geteuid()));
    assert_non_null(tier_header_check(f->s.hdr, f->s.map_len - TIER_PAGE, (uint32_t)geteuid()));

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = check_with(f, cases[i].corrupt);
        if (!why) {
            print_error("tier_header_check accepted a header with a bad %s\n", cases[i].name);
            bad++;
        }
    }
    if (bad)
        fail_msg("%u corrupt headers accepted", bad);
}

static void test_view_live_and_names(void **state)
{
    struct fx *f = *state;
    const struct tier_view *v = &f->s.view;
    uint64_t beat = f->s.hdr->heartbeat_ns;
    char name[TIER_OBJECT_NAME_SIZE];

    assert_true(tier_view_live(v, beat));
    assert_true(tier_view_live(v, beat + TIER_STALE_NS - 1));
    assert_false(tier_view_live(v, beat + TIER_STALE_NS));
    assert_false(tier_view_live(v, beat + 100 * TIER_STALE_NS));
    store_release(&f->s.hdr->state, TIER_STATE_STOPPED);
    assert_false(tier_view_live(v, beat));
    store_release(&f->s.hdr->state, TIER_STATE_LIVE);

    tier_object_name(0x0123456789abcdefULL, 1, 0, name);
    assert_string_equal(name, "o0123456789abcdef000000000000000100000000");
    tier_object_name(~0ULL, 0xfedcba9876543210ULL, 0x89abcdefu, name);
    assert_string_equal(name, "offfffffffffffffffedcba987654321089abcdef");
    assert_int_equal(strlen(name), TIER_OBJECT_NAME_SIZE - 1);
    /* names parse back; anything else is refused */
    uint64_t pg, pid;
    uint32_t pr;
    assert_true(tier_object_parse(name, &pg, &pid, &pr));
    assert_true(pg == ~0ULL && pid == 0xfedcba9876543210ULL && pr == 0x89abcdefu);
    assert_false(tier_object_parse("offfffffffffffffffedcba987654321089abcde", &pg, &pid, &pr));
    assert_false(tier_object_parse("offfffffffffffffffedcba987654321089abcdef0", &pg, &pid, &pr));
    assert_false(tier_object_parse("pffffffffffffffffedcba987654321089abcdef", &pg, &pid, &pr));
    assert_false(tier_object_parse("oFFffffffffffffffedcba987654321089abcdef", &pg, &pid, &pr));
    assert_false(tier_object_parse("index", &pg, &pid, &pr));

    /* ids are never reused */
    store_lock(&f->s);
    uint64_t a = store_new_id(&f->s), b = store_new_id(&f->s);
    store_unlock(&f->s);
    assert_true(a != 0 && b > a);

    /* counters the shims keep, summed by the daemon */
    struct store_counts c;
    for (int i = 0; i < 5; i++)
        tier_count(v, TIER_COUNT_HIT);
    for (int i = 0; i < 3; i++)
        tier_count(v, TIER_COUNT_MISS);
    tier_count(v, TIER_COUNT_UNSENT);
    store_counts(&f->s, &c);
    assert_int_equal(c.hits, 5);
    assert_int_equal(c.misses, 3);
    assert_int_equal(c.unsent, 1);

    /* tier_touch sets the reference bit, ignores records out of range */
    assert_true(put(f, "/srv/t/a", 1, 1, false, NULL) >= 0);
    struct tier_entry e;
    assert_int_equal(look(f, "/srv/t/a", &e), TIER_HIT);
    v->refs[e.record] = 0;
    tier_touch(v, e.record);
    assert_int_equal(v->refs[e.record], 1);
    tier_touch(v, v->record_count);
    tier_touch(v, ~0u);
}

/* ---- concurrency: readers never see a torn entry ------------------------- */

#define CONC_PATHS 16
#define CONC_READERS 4
#define CONC_NS (3 * NS_PER_SEC / 2)

struct conc {
    struct fx *f;
    struct key key[CONC_PATHS];
    uint64_t latest[CONC_PATHS];  /* atomic: newest id published per path */
    int stop;                     /* atomic */
    int failed;                   /* atomic: first failure claims msg */
    char msg[512];
    uint64_t hits[CONC_READERS];
    uint64_t misses[CONC_READERS];
    uint64_t writes, removes;
};

static void conc_fail(struct conc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conc_fail(struct conc *c, const char *fmt, ...)
{
    int zero = 0;
    if (!__atomic_compare_exchange_n(&c->failed, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    store_release(&c->stop, 1);
}

/* v encodes the object id and the path: v = id << 4 | path index. Every
 * published field is a function of v. */
static struct store_obj conc_obj(uint64_t id, unsigned k)
{
    uint64_t v = id << 4 | k;
    struct store_obj o = {
        .id = id, .ino = v * 7, .ctime_sec = (int64_t)(v * 11), .ctime_nsec = (int64_t)(v * 13),
        .epoch = 0, .gen = 0, .checked_ns = v * 17, .st = stat_of(v, (v * 19) % 65536),
    };
    return o;
}

static bool conc_entry_ok(struct conc *c, unsigned k, const struct tier_entry *e)
{
    uint64_t v = e->st.dev;
    struct store_obj want = conc_obj(v >> 4, (unsigned)(v & 15));

    if ((v & 15) != k) {
        conc_fail(c, "lookup of path %u returned the entry of path %u", k, (unsigned)(v & 15));
        return false;
    }
    if (e->object_id != want.id || e->object_ino != want.ino ||
        e->object_ctime_sec != want.ctime_sec || e->object_ctime_nsec != want.ctime_nsec ||
        memcmp(&e->st, &want.st, sizeof want.st) != 0) {
        conc_fail(c, "torn entry for path %u: v=%llu id=%llu ino=%llu size=%llu st.ino=%llu", k,
                  (unsigned long long)v, (unsigned long long)e->object_id,
                  (unsigned long long)e->object_ino, (unsigned long long)e->st.size,
                  (unsigned long long)e->st.ino);
        return false;
    }
    uint64_t latest = load_acquire(&c->latest[k]);
    if (e->object_id > latest) {
        conc_fail(c, "path %u: hit id %llu newer than any published (%llu)", k,
                  (unsigned long long)e->object_id, (unsigned long long)latest);
        return false;
    }
    return true;
}

struct reader_arg {
    struct conc *c;
    unsigned idx;
};

static void *reader(void *arg)
{
    struct reader_arg *a = arg;
    struct conc *c = a->c;
    const struct tier_view *v = &c->f->s.view;
    uint64_t last[CONC_PATHS] = {0};
    uint64_t hits = 0, misses = 0;

    while (!load_acquire(&c->stop)) {
        for (unsigned k = 0; k < CONC_PATHS; k++) {
            struct tier_entry e;
            const struct key *key = &c->key[k];
            enum tier_lookup_result r = tier_lookup(v, key->k, key->len, key->hash, &e);
            if (r == TIER_HIT) {
                hits++;
                if (!conc_entry_ok(c, k, &e))
                    goto out;
                /* never back in time: a later lookup sees the same or newer */
                if (e.object_id < last[k]) {
                    conc_fail(c, "path %u: id %llu after id %llu", k,
                              (unsigned long long)e.object_id, (unsigned long long)last[k]);
                    goto out;
                }
                last[k] = e.object_id;
            } else if (r == TIER_MISS) {
                misses++;
            } else {
                conc_fail(c, "path %u: TIER_STALE without any gen/epoch change", k);
                goto out;
            }
        }
    }
out:
    c->hits[a->idx] = hits;
    c->misses[a->idx] = misses;
    return NULL;
}

static void *writer(void *arg)
{
    struct conc *c = arg;
    struct store *s = &c->f->s;
    uint64_t x = 0xdeadbeefcafef00dULL;
    uint64_t end = mono_ns() + CONC_NS;
    uint64_t n = 0;

    while (!load_acquire(&c->stop)) {
        if ((n & 255) == 0 && mono_ns() > end)
            break;
        n++;
        unsigned k = (unsigned)(rng_next(&x) % CONC_PATHS);
        unsigned op = (unsigned)(rng_next(&x) % 8);
        const struct key *key = &c->key[k];
        store_lock(s);
        int r = store_find(s, key->k, key->len, key->hash);
        if (op == 0 && r >= 0) {
            store_remove(s, (uint32_t)r);
            c->removes++;
        } else {
            uint64_t id = store_new_id(s);
            struct store_obj o = conc_obj(id, k);
            int rec = store_reserve(s, store_object_memory(o.st.size));
            o.record = (uint32_t)rec;
            if (rec < 0) {
                store_unlock(s);
                conc_fail(c, "store_reserve failed");
                break;
            }
            store_release(&c->latest[k], id);
            if (store_put(s, key->k, key->len, key->hash, &o) < 0) {
                store_unlock(s);
                conc_fail(c, "store_put failed");
                break;
            }
            c->writes++;
        }
        if ((n & 1023) == 0) {
            const char *why = store_validate(s);
            if (why) {
                store_unlock(s);
                conc_fail(c, "store_validate: %s", why);
                break;
            }
        }
        store_unlock(s);
    }
    store_release(&c->stop, 1);
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    static struct conc c;
    struct reader_arg ra[CONC_READERS];
    pthread_t rt[CONC_READERS], wt;

    memset(&c, 0, sizeof c);
    c.f = *state;
    for (unsigned k = 0; k < CONC_PATHS; k++) {
        char p[64];
        /* several of the paths share a prefix and differ late: path compares
         * must read the whole key */
        snprintf(p, sizeof p, "/srv/concurrent/dir/name-that-is-long-%02u", k);
        key_make(c.f, p, &c.key[k]);
    }
    /* start populated, so readers hit from the first loop */
    for (unsigned k = 0; k < CONC_PATHS; k++) {
        struct store *s = &c.f->s;
        store_lock(s);
        uint64_t id = store_new_id(s);
        struct store_obj o = conc_obj(id, k);
        int rec = store_reserve(s, store_object_memory(o.st.size));
        assert_true(rec >= 0);
        o.record = (uint32_t)rec;
        c.latest[k] = id;
        assert_true(store_put(s, c.key[k].k, c.key[k].len, c.key[k].hash, &o) >= 0);
        store_unlock(s);
    }
    for (unsigned i = 0; i < CONC_READERS; i++) {
        ra[i].c = &c;
        ra[i].idx = i;
        assert_int_equal(pthread_create(&rt[i], NULL, reader, &ra[i]), 0);
    }
    assert_int_equal(pthread_create(&wt, NULL, writer, &c), 0);
    pthread_join(wt, NULL);
    for (unsigned i = 0; i < CONC_READERS; i++)
        pthread_join(rt[i], NULL);

    if (c.failed)
        fail_msg("%s", c.msg);
    validate(c.f);
    uint64_t hits = 0, misses = 0;
    for (unsigned i = 0; i < CONC_READERS; i++) {
        print_message("reader %u: %llu hits, %llu misses\n", i, (unsigned long long)c.hits[i],
                      (unsigned long long)c.misses[i]);
        assert_true(c.hits[i] > 1000); /* each reader really hit */
        hits += c.hits[i];
        misses += c.misses[i];
    }
    print_message("writer: %llu puts, %llu removes\n", (unsigned long long)c.writes,
                  (unsigned long long)c.removes);
    assert_true(c.writes > 1000);
    assert_true(c.removes > 100);
    assert_true(misses > 0); /* removes were seen too */
    (void)hits;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_key_is_hash),
        cmocka_unit_test_setup_teardown(test_insert_lookup_miss, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_replace, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_collisions_real_hash, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_collisions_forced_hash, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_backward_shift_positions, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stale, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_change_in_flight, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_entry_unchanged, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_records_full_evicts, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_arena_exhaustion, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_header_check, setup_big, fx_teardown),
        cmocka_unit_test_setup_teardown(test_view_live_and_names, setup_small, fx_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_readers, setup_big, fx_teardown),
    };
    return cmocka_run_group_tests_name("index", tests, NULL, NULL);
}
