/* test_evict.c - capacity accounting and CLOCK (second-chance) eviction in
 * shmd/store.c.
 *
 * What a user relies on: the tier never holds more object memory than
 * --capacity (page-rounded sizes, what tmpfs really holds), files that
 * readers hit recently survive eviction longer than cold ones, and the
 * counters `shmd stats` shows agree with the table. Entries are published
 * the way shmd/load.c does: store_reserve, then store_put, under s.lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmd/store.h"
#include "tests/unit/fixture.h"
#include "tier/atomic.h"
#include "tier/hash.h"
#include "tier/index.h"
#include "tier/path.h"

#define PAGE TIER_PAGE
#define CAP_PAGES 16




/* 16 pages of capacity, 48 records: capacity is the limit */
static int setup_cap(void **state)
{
    return fx_setup(state, 64, CAP_PAGES * PAGE);
}

/* plenty of capacity: only explicit evictions */
static int setup_roomy(void **state)
{
    return fx_setup(state, 64, 1ULL << 30);
}





/* Reserve and publish as the loader does. Returns the record, -1 when the
 * reservation is refused (nothing published), -2 when store_put fails. */
static int load(struct fx *f, const char *path, uint64_t size, uint64_t *idp)
{
    struct store *s = &f->s;
    struct key k;
    uint64_t mem = store_object_memory(size);
    char name[TIER_OBJECT_NAME_SIZE];

    key_make(f, path, &k);
    store_lock(s);
    int rec = store_reserve(s, mem);
    if (rec < 0) {
        store_unlock(s);
        return -1;
    }
    uint64_t id = store_new_id(s);
    store_unlock(s);

    tier_object_name(s->view.generation, id, (uint32_t)rec, name);
    int fd = openat(f->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    assert_true(fd >= 0);
    close(fd);

    struct store_obj o = {
        .record = (uint32_t)rec, .id = id, .ino = id, .epoch = load_acquire(&s->view.marks->epoch),
        .gen = load_acquire(&s->view.gens[k.hash & s->view.bucket_mask]),
        .st = {.dev = 1, .ino = id, .size = size, .mode = 0100644},
    };
    store_lock(s);
    int r = store_put(s, k.k, k.len, k.hash, &o);
    store_unlock(s);
    if (idp)
        *idp = id;
    return r < 0 ? -2 : r;
}

/* What a shim does on a hit: look up, then set the record's reference bit. */
static bool hit(const struct fx *f, const char *path)
{
    struct key k;
    struct tier_entry e;

    key_make(f, path, &k);
    if (tier_lookup(&f->s.view, k.k, k.len, k.hash, &e) != TIER_HIT)
        return false;
    tier_touch(&f->s.view, e.record);
    return true;
}

static bool cached(const struct fx *f, const char *path)
{
    struct key k;
    struct tier_entry e;

    key_make(f, path, &k);
    return tier_lookup(&f->s.view, k.k, k.len, k.hash, &e) == TIER_HIT;
}

static void clear_refs(struct fx *f)
{
    for (uint32_t r = 0; r < f->s.view.record_count; r++)
        store_relaxed(&f->s.view.refs[r], 0);
}

static void validate(const struct fx *f)
{
    const char *why = store_validate(&f->s);
    if (why)
        fail_msg("store_validate: %s", why);
}

static bool evict_one(struct fx *f)
{
    store_lock(&f->s);
    bool ok = store_evict_one(&f->s);
    store_unlock(&f->s);
    return ok;
}

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ULL;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_object_memory(void **state)
{
    (void)state;
    assert_int_equal(store_object_memory(0), 0);
    assert_int_equal(store_object_memory(1), PAGE);
    assert_int_equal(store_object_memory(PAGE - 1), PAGE);
    assert_int_equal(store_object_memory(PAGE), PAGE);
    assert_int_equal(store_object_memory(PAGE + 1), 2 * PAGE);
    assert_int_equal(store_object_memory(10 * PAGE), 10 * PAGE);
    assert_true(store_object_memory((1ULL << 40) + 1) == (1ULL << 40) + PAGE);
}

static void test_accounting_page_rounded(void **state)
{
    struct fx *f = *state;
    const struct tier_header *h = f->s.hdr;
    uint64_t id1, id2;

    assert_int_equal(h->capacity, CAP_PAGES * PAGE);
    assert_true(load(f, "/srv/m/one", 1, &id1) >= 0);
    assert_int_equal(h->entries, 1);
    assert_int_equal(h->bytes, 1);
    assert_int_equal(h->memory, PAGE);
    assert_int_equal(f->s.reserved, 0); /* the put consumed the reservation */
    validate(f);

    assert_true(load(f, "/srv/m/two", 2 * PAGE + 1, NULL) >= 0);
    assert_int_equal(h->entries, 2);
    assert_int_equal(h->bytes, 2 * PAGE + 2);
    assert_int_equal(h->memory, 4 * PAGE);
    validate(f);

    /* an empty file takes no memory but is an entry */
    assert_true(load(f, "/srv/m/empty", 0, NULL) >= 0);
    assert_int_equal(h->entries, 3);
    assert_int_equal(h->memory, 4 * PAGE);
    validate(f);

    /* replace: the old object's memory is returned */
    assert_true(load(f, "/srv/m/one", PAGE * 2, &id2) >= 0);
    assert_int_equal(h->entries, 3);
    assert_int_equal(h->bytes, 4 * PAGE + 1);
    assert_int_equal(h->memory, 5 * PAGE);
    assert_int_equal(f->s.reserved, 0);
    assert_false(object_exists(f, id1));
    assert_true(object_exists(f, id2));
    validate(f);

    /* explicit removal is not an eviction */
    struct key k;
    key_make(f, "/srv/m/two", &k);
    store_lock(&f->s);
    int r = store_find(&f->s, k.k, k.len, k.hash);
    assert_true(r >= 0);
    store_remove(&f->s, (uint32_t)r);
    store_unlock(&f->s);
    assert_int_equal(h->entries, 2);
    assert_int_equal(h->bytes, 2 * PAGE);
    assert_int_equal(h->memory, 2 * PAGE);
    assert_int_equal(h->evictions, 0);
    validate(f);
}

static void test_reserve_bounds(void **state)
{
    struct fx *f = *state;
    struct store *s = &f->s;
    uint64_t cap = CAP_PAGES * PAGE;

    for (int i = 0; i < 3; i++) {
        char p[32];
        snprintf(p, sizeof p, "/srv/b/%d", i);
        assert_true(load(f, p, PAGE, NULL) >= 0);
    }
    store_lock(s);
    /* larger than the whole tier: refused at once, nothing evicted */
    assert_int_equal(store_reserve(s, cap + 1), -1);
    assert_int_equal(store_reserve(s, cap + PAGE), -1);
    assert_int_equal(store_reserve(s, UINT64_MAX), -1);
    assert_int_equal(s->reserved, 0);
    assert_int_equal(s->hdr->entries, 3);
    assert_int_equal(s->hdr->evictions, 0);
    /* the whole tier fits, by evicting everything */
    int whole = store_reserve(s, cap);
    assert_true(whole >= 0);
    assert_int_equal(s->reserved, cap);
    assert_int_equal(s->hdr->entries, 0);
    assert_int_equal(s->hdr->memory, 0);
    assert_int_equal(s->hdr->evictions, 3);
    /* all promised to loads in flight: nothing else fits */
    assert_int_equal(store_reserve(s, PAGE), -1);
    assert_int_equal(s->reserved, cap);
    store_unreserve(s, cap, (uint32_t)whole);
    assert_int_equal(s->reserved, 0);
    int page = store_reserve(s, PAGE);
    assert_true(page >= 0);
    assert_true(page != whole || s->nfree > 0);
    /* unreserving more than reserved clamps at zero */
    store_unreserve(s, 10 * PAGE, (uint32_t)page);
    assert_int_equal(s->reserved, 0);
    store_unlock(s);
    validate(f);
}

/* A reservation that cannot succeed because of other loads in flight must
 * fail without emptying the tier: evicting cached files cannot make room
 * that is promised to someone else. */
static void test_reserve_refused_keeps_entries(void **state)
{
    struct fx *f = *state;
    struct store *s = &f->s;

    for (int i = 0; i < 6; i++) {
        char p[32];
        snprintf(p, sizeof p, "/srv/k/%d", i);
        assert_true(load(f, p, PAGE, NULL) >= 0);
    }
    store_lock(s);
    int big = store_reserve(s, 10 * PAGE); /* a big load in flight */
    assert_true(big >= 0);
    assert_int_equal(s->hdr->entries, 6);  /* 6 + 10 <= 16: no eviction */
    /* 8 more pages can never fit while the 10 are promised */
    assert_int_equal(store_reserve(s, 8 * PAGE), -1);
    uint64_t entries = s->hdr->entries, evictions = s->hdr->evictions;
    store_unreserve(s, 10 * PAGE, (uint32_t)big);
    store_unlock(s);
    if (entries != 6)
        fail_msg("a refused store_reserve evicted %llu entries (%llu left of 6)",
                 (unsigned long long)evictions, (unsigned long long)entries);
    validate(f);
}

/* Random loads and replaces into a 16-page tier: memory never exceeds the
 * capacity, the counters always match the table, and every entry that went
 * away was counted as an eviction. */
static void test_fill_past_capacity(void **state)
{
    struct fx *f = *state;
    const struct tier_header *h = f->s.hdr;
    uint64_t cap = CAP_PAGES * PAGE;
    uint64_t x = 0x1234567887654321ULL;
    static bool live[64];
    static uint64_t size[64];
    uint64_t evicted = 0;

    for (unsigned step = 0; step < 600; step++) {
        unsigned i = (unsigned)(rng_next(&x) % 64);
        uint64_t sz = rng_next(&x) % (5 * PAGE);
        uint64_t before = h->evictions;
        char p[32];
        snprintf(p, sizeof p, "/srv/fill/%u", i);
        int r = load(f, p, sz, NULL);
        if (r < 0)
            fail_msg("step %u: load of %llu bytes failed (%d)", step, (unsigned long long)sz, r);
        if (h->memory > cap)
            fail_msg("step %u: memory %llu above capacity %llu", step,
                     (unsigned long long)h->memory, (unsigned long long)cap);
        assert_int_equal(f->s.reserved, 0);
        validate(f);
        bool was = live[i];
        live[i] = true;
        size[i] = sz;
        /* who is still cached? */
        uint64_t n = 0, bytes = 0, mem = 0, gone = 0;
        for (unsigned j = 0; j < 64; j++) {
            if (!live[j])
                continue;
            char q[32];
            snprintf(q, sizeof q, "/srv/fill/%u", j);
            if (!cached(f, q)) {
                if (j == i)
                    fail_msg("step %u: the entry just loaded is not cached", step);
                live[j] = false;
                gone++;
                continue;
            }
            n++;
            bytes += size[j];
            mem += store_object_memory(size[j]);
        }
        assert_int_equal(h->entries, n);
        assert_int_equal(h->bytes, bytes);
        assert_int_equal(h->memory, mem);
        /* every entry that went away is one eviction; the old entry of a
         * replaced path may itself have been evicted to make room */
        uint64_t delta = h->evictions - before;
        if (delta != gone && !(was && delta == gone + 1))
            fail_msg("step %u: %llu evictions counted, %llu entries gone", step,
                     (unsigned long long)delta, (unsigned long long)gone);
        evicted += gone;
    }
    assert_true(evicted > 100);
}

/* CLOCK: entries with the reference bit get a second chance. */
static void test_second_chance_order(void **state)
{
    struct fx *f = *state;
    static const char *const p[] = {"/srv/c/a", "/srv/c/b", "/srv/c/c", "/srv/c/d", "/srv/c/e"};
    int rec[5];

    for (int i = 0; i < 5; i++)
        assert_true((rec[i] = load(f, p[i], 100, NULL)) >= 0);
    /* a new entry starts referenced: it is not the first victim */
    for (int i = 0; i < 5; i++)
        assert_int_equal(f->s.view.refs[rec[i]], 1);
    clear_refs(f);
    assert_true(hit(f, p[0]));
    assert_true(hit(f, p[2]));
    assert_int_equal(f->s.view.refs[rec[0]], 1);
    assert_int_equal(f->s.view.refs[rec[2]], 1);

    /* the three unreferenced entries go first, in any order */
    for (int n = 0; n < 3; n++) {
        assert_true(evict_one(f));
        validate(f);
        assert_true(cached(f, p[0]));
        assert_true(cached(f, p[2]));
    }
    assert_false(cached(f, p[1]));
    assert_false(cached(f, p[3]));
    assert_false(cached(f, p[4]));
    /* the sweep cleared their bits: they are next, and then nothing */
    assert_int_equal(f->s.view.refs[rec[0]], 0);
    assert_int_equal(f->s.view.refs[rec[2]], 0);
    assert_true(evict_one(f));
    assert_true(evict_one(f));
    assert_false(cached(f, p[0]));
    assert_false(cached(f, p[2]));
    assert_false(evict_one(f));
    assert_int_equal(f->s.hdr->evictions, 5);
    assert_int_equal(f->s.hdr->entries, 0);
    validate(f);
}

static void test_all_referenced_still_evicts(void **state)
{
    struct fx *f = *state;

    assert_false(evict_one(f)); /* empty tier */
    for (int i = 0; i < 4; i++) {
        char p[32];
        snprintf(p, sizeof p, "/srv/all/%d", i);
        assert_true(load(f, p, 1, NULL) >= 0);
        assert_true(hit(f, p));
    }
    /* every bit set: one full sweep clears them, then one goes */
    assert_true(evict_one(f));
    assert_int_equal(f->s.hdr->entries, 3);
    assert_int_equal(f->s.hdr->evictions, 1);
    validate(f);
}

/* Under capacity pressure, files that readers hit stay, cold ones go. */
static void test_hot_files_survive_pressure(void **state)
{
    struct fx *f = *state;
    char p[CAP_PAGES][32];
    uint64_t id[CAP_PAGES];

    for (int i = 0; i < CAP_PAGES; i++) {
        snprintf(p[i], sizeof p[i], "/srv/hot/%d", i);
        assert_true(load(f, p[i], PAGE, &id[i]) >= 0);
    }
    assert_int_equal(f->s.hdr->memory, CAP_PAGES * PAGE);
    clear_refs(f); /* as after a sweep */
    for (int i = 0; i < CAP_PAGES; i += 2)
        assert_true(hit(f, p[i]));

    /* half the capacity of new files: exactly the cold half is evicted */
    for (int i = 0; i < CAP_PAGES / 2; i++) {
        char q[32];
        snprintf(q, sizeof q, "/srv/new/%d", i);
        assert_true(load(f, q, PAGE, NULL) >= 0);
        assert_true(f->s.hdr->memory <= CAP_PAGES * PAGE);
        validate(f);
    }
    for (int i = 0; i < CAP_PAGES; i++) {
        if (i % 2 == 0) {
            if (!cached(f, p[i]))
                fail_msg("hot file %s was evicted before cold ones", p[i]);
            assert_true(object_exists(f, id[i]));
        } else {
            if (cached(f, p[i]))
                fail_msg("cold file %s survived while hot ones were under pressure", p[i]);
            assert_false(object_exists(f, id[i]));
        }
    }
    assert_int_equal(f->s.hdr->evictions, CAP_PAGES / 2);
    assert_int_equal(f->s.hdr->entries, CAP_PAGES);
}

/* A removed record's reference bit does not carry over to the next entry
 * that reuses the record. */
static void test_ref_bit_not_inherited(void **state)
{
    struct fx *f = *state;

    int r = load(f, "/srv/i/old", 1, NULL);
    assert_true(r >= 0);
    assert_true(hit(f, "/srv/i/old"));
    store_lock(&f->s);
    store_remove(&f->s, (uint32_t)r);
    store_unlock(&f->s);
    assert_int_equal(f->s.view.refs[r], 0);
    validate(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_memory),
        cmocka_unit_test_setup_teardown(test_accounting_page_rounded, setup_cap, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reserve_bounds, setup_cap, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reserve_refused_keeps_entries, setup_cap, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fill_past_capacity, setup_cap, fx_teardown),
        cmocka_unit_test_setup_teardown(test_second_chance_order, setup_roomy, fx_teardown),
        cmocka_unit_test_setup_teardown(test_all_referenced_still_evicts, setup_roomy, fx_teardown),
        cmocka_unit_test_setup_teardown(test_hot_files_survive_pressure, setup_cap, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ref_bit_not_inherited, setup_roomy, fx_teardown),
    };
    return cmocka_run_group_tests_name("evict", tests, NULL, NULL);
}
