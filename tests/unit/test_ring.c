/* test_ring.c - the miss ring (tier/ring.c): misses come out once each, in
 * order, with their kind; a full ring refuses (and nothing is lost that was
 * accepted); a slot claimed by a producer that never publishes is skipped
 * after TIER_RING_STUCK_NS and the ring goes on; whatever a shim may write
 * there (a wrong check, length or tail) loses at most that miss; four
 * producer threads against the consumer lose nothing they were told was
 * taken. Times are passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/ring.h"

static struct tier_ring *g_ring;

static int setup(void **state)
{
    (void)state;
    g_ring = aligned_alloc(64, sizeof *g_ring);
    if (!g_ring)
        return -1;
    tier_ring_init(g_ring);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_ring);
    return 0;
}

/* A padded key. */
static size_t key(char *buf, size_t size, const char *fmt, int n)
{
    memset(buf, 0, size);
    return (size_t)snprintf(buf, size - 8, fmt, n);
}

static void test_in_order_once(void **state)
{
    (void)state;
    char k[256];
    for (int i = 0; i < 10; i++) {
        size_t n = key(k, sizeof k, "/srv/app/file-%d.py", i);
        assert_true(tier_ring_push(g_ring, (uint32_t)(i % 3), k, n));
    }
    uint64_t head = 0, stuck = 0;
    struct tier_ring_miss m;
    for (int i = 0; i < 10; i++) {
        size_t n = key(k, sizeof k, "/srv/app/file-%d.py", i);
        assert_int_equal(tier_ring_take(g_ring, &head, 1000, &stuck, &m), 1);
        assert_int_equal(m.what, (uint32_t)(i % 3));
        assert_int_equal(m.len, n);
        assert_string_equal(m.key, k);
    }
    assert_int_equal(tier_ring_take(g_ring, &head, 1000, &stuck, &m), 0);
    assert_int_equal(head, 10);
}

static void test_full_then_wraps(void **state)
{
    (void)state;
    char k[64];
    size_t n = key(k, sizeof k, "/p/%d", 7);
    for (unsigned i = 0; i < TIER_RING_SLOTS; i++)
        assert_true(tier_ring_push(g_ring, 0, k, n));
    assert_false(tier_ring_push(g_ring, 0, k, n)); /* full: refused, not overwritten */
    uint64_t head = 0, stuck = 0;
    struct tier_ring_miss m;
    for (int round = 0; round < 3; round++) {
        for (unsigned i = 0; i < TIER_RING_SLOTS / 2; i++)
            assert_int_equal(tier_ring_take(g_ring, &head, 1, &stuck, &m), 1);
        for (unsigned i = 0; i < TIER_RING_SLOTS / 2; i++)
            assert_true(tier_ring_push(g_ring, 1, k, n));
        assert_false(tier_ring_push(g_ring, 1, k, n));
    }
    unsigned got = 0;
    while (tier_ring_take(g_ring, &head, 1, &stuck, &m) == 1)
        got++;
    assert_int_equal(got, TIER_RING_SLOTS);
}

static void test_too_long_refused(void **state)
{
    (void)state;
    char k[TIER_RING_PATH + 16];
    memset(k, 0, sizeof k);
    memset(k, 'a', TIER_RING_PATH);
    k[0] = '/';
    assert_false(tier_ring_push(g_ring, 0, k, TIER_RING_PATH)); /* no room for its NUL */
    k[TIER_RING_PATH - 1] = '\0';
    assert_true(tier_ring_push(g_ring, 0, k, TIER_RING_PATH - 1));
    uint64_t head = 0, stuck = 0;
    struct tier_ring_miss m;
    assert_int_equal(tier_ring_take(g_ring, &head, 1, &stuck, &m), 1);
    assert_int_equal(m.len, TIER_RING_PATH - 1);
    assert_string_equal(m.key, k);
    assert_int_equal(tier_ring_take(g_ring, &head, 1, &stuck, &m), 0);
}

/* A producer that claimed a position and was killed before publishing. */
static void test_stuck_slot_skipped(void **state)
{
    (void)state;
    char k[64];
    size_t n = key(k, sizeof k, "/after/%d", 1);
    uint64_t pos = load_relaxed(&g_ring->tail);
    assert_true(cas_relaxed(&g_ring->tail, &pos, pos + 1)); /* claimed, never published */
    assert_true(tier_ring_push(g_ring, 0, k, n));            /* the next one is */
    uint64_t head = 0, stuck = 0, t0 = 5 * NS_PER_SEC;
    struct tier_ring_miss m;
    assert_int_equal(tier_ring_take(g_ring, &head, t0, &stuck, &m), 0);
    assert_int_equal(tier_ring_take(g_ring, &head, t0 + TIER_RING_STUCK_NS / 2, &stuck, &m), 0);
    assert_int_equal(tier_ring_take(g_ring, &head, t0 + TIER_RING_STUCK_NS, &stuck, &m), -1);
    assert_int_equal(tier_ring_take(g_ring, &head, t0 + TIER_RING_STUCK_NS, &stuck, &m), 1);
    assert_string_equal(m.key, "/after/1");
    /* the slow producer publishing now finds it was given up on */
    uint64_t expect = pos;
    assert_false(cas_acq_rel(&g_ring->slot[pos % TIER_RING_SLOTS].seq, &expect, pos + 1));
    assert_int_equal(tier_ring_take(g_ring, &head, t0 + 2 * TIER_RING_STUCK_NS, &stuck, &m), 0);
}

/* What a shim may write into the shared ring loses at most one miss. */
static void test_wrong_values(void **state)
{
    (void)state;
    char k[64];
    size_t n = key(k, sizeof k, "/x/%d", 3);
    uint64_t head = 0, stuck = 0;
    struct tier_ring_miss m;
    struct tier_ring_slot *s = &g_ring->slot[0];

    assert_true(tier_ring_push(g_ring, 0, k, n));
    store_relaxed(&s->check, load_relaxed(&s->check) ^ 1); /* a torn or forged slot */
    assert_int_equal(tier_ring_take(g_ring, &head, 1, &stuck, &m), -1);
    assert_true(tier_ring_push(g_ring, 0, k, n));
    store_relaxed(&g_ring->slot[1].len, 100000); /* a length out of the slot */
    assert_int_equal(tier_ring_take(g_ring, &head, 1, &stuck, &m), -1);
    assert_true(tier_ring_push(g_ring, 9, k, n)); /* an unknown kind */
    assert_int_equal(tier_ring_take(g_ring, &head, 1, &stuck, &m), -1);
    /* a tail far ahead of anything a producer could claim */
    store_relaxed(&g_ring->tail, head + 10 * TIER_RING_SLOTS);
    assert_int_equal(tier_ring_take(g_ring, &head, 1, &stuck, &m), 0);
    assert_true(tier_ring_push(g_ring, 2, k, n));
    int r;
    uint64_t t = 1;
    while ((r = tier_ring_take(g_ring, &head, t, &stuck, &m)) != 1)
        t += TIER_RING_STUCK_NS; /* at worst, skipped slots first */
    assert_int_equal(m.what, 2);
    assert_string_equal(m.key, "/x/3");
}

#define PRODUCERS 4
#define PER_PRODUCER 20000

static int g_stop;
static unsigned char g_seen[PRODUCERS][PER_PRODUCER];
static unsigned g_refused[PRODUCERS];

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    char k[64];
    for (int i = 0; i < PER_PRODUCER; i++) {
        memset(k, 0, sizeof k);
        int n = snprintf(k, 48, "/p%d/%d", id, i);
        if (!tier_ring_push(g_ring, (uint32_t)(i % 3), k, (size_t)n))
            g_refused[id]++;
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    uint64_t head = 0, stuck = 0;
    struct tier_ring_miss m;
    /* a fixed clock: a producer descheduled between its claim and its
     * publish (for more than TIER_RING_STUCK_NS on a loaded machine) is
     * waited for, not skipped as a dead one would be (test_stuck_slot_skipped
     * covers that): this test is about the protocol between live threads */
    for (;;) {
        int r = tier_ring_take(g_ring, &head, 1, &stuck, &m);
        if (r == 1) {
            int id, i;
            assert_int_equal(sscanf(m.key, "/p%d/%d", &id, &i), 2);
            assert_true(id >= 0 && id < PRODUCERS && i >= 0 && i < PER_PRODUCER);
            assert_int_equal(m.what, (uint32_t)(i % 3));
            g_seen[id][i]++;
        } else if (r == 0 && load_acquire(&g_stop)) {
            if (tier_ring_take(g_ring, &head, 1, &stuck, &m) == 0)
                break;
        }
        assert_true(r >= 0); /* no slot is lost between live threads */
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t p[PRODUCERS], c;
    assert_int_equal(pthread_create(&c, NULL, consumer, NULL), 0);
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_create(&p[i], NULL, producer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(p[i], NULL);
    store_release(&g_stop, 1);
    pthread_join(c, NULL);
    unsigned taken = 0, refused = 0;
    for (int id = 0; id < PRODUCERS; id++) {
        refused += g_refused[id];
        for (int i = 0; i < PER_PRODUCER; i++) {
            assert_true(g_seen[id][i] <= 1); /* never twice */
            taken += g_seen[id][i];
        }
    }
    /* every miss accepted came out; the rest were refused, and said so */
    assert_int_equal(taken + refused, PRODUCERS * PER_PRODUCER);
    print_message("    %u taken, %u refused (ring full)\n", taken, refused);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_in_order_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_then_wraps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_long_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stuck_slot_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests_name("unit: the miss ring", tests, NULL, NULL);
}
