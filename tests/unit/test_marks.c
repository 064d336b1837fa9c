/* test_marks.c - clearing change marks left in flight (shmd/marks.c): a
 * process that died inside a modifying call must not leave its paths (or,
 * for the epoch, the whole tier) passing through until the daemon
 * restarts; a live call, however busy its bucket, must never lose its
 * mark. Times are passed in, so the 10 s bound costs no waiting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "shmd/marks.h"
#include "tier/atomic.h"
#include "tier/clock.h"

/* A shim's BEGIN with its hint, as preload/change.c adds them. */
static void begin(struct fx *f, uint64_t *w)
{
    fetch_add_seqcst(&f->s.view.marks->inflight, 1);
    fetch_add_seqcst(w, TIER_CHANGE_BEGIN);
}

static void end(struct fx *f, uint64_t *w)
{
    fetch_add_seqcst(w, TIER_CHANGE_END);
    fetch_add_seqcst(&f->s.view.marks->inflight, (uint64_t)-1);
}

static struct marks_watch g_watch;

static int setup(void **state)
{
    memset(&g_watch, 0, sizeof g_watch); /* a new daemon's watcher */
    return fx_setup(state, 64, 1ULL << 30);
}

/* marks_check once a second from t0 up to t0 + secs; returns the clears. */
static unsigned run(struct fx *f, uint64_t t0, unsigned secs)
{
    unsigned cleared = 0;
    for (unsigned i = 0; i <= secs; i++)
        cleared += marks_check(&f->s, &g_watch, t0 + i * NS_PER_SEC);
    return cleared;
}

static void test_dead_bucket_mark_is_cleared(void **state)
{
    struct fx *f = *state;
    uint64_t *w = &f->s.view.gens[5];
    uint64_t before = load_acquire(w);

    begin(f, w); /* ... and the process is killed */
    uint64_t t0 = 1000 * NS_PER_SEC;
    assert_int_equal(run(f, t0, 9), 0); /* not before 10 s */
    assert_false(tier_change_quiet(load_acquire(w)));
    assert_int_equal(run(f, t0 + 10 * NS_PER_SEC, 2), 1);
    uint64_t after = load_acquire(w);
    assert_true(tier_change_quiet(after));
    /* the count moved on: nothing recorded before the call is current */
    assert_true((after & TIER_CHANGE_COUNT_MASK) > (before & TIER_CHANGE_COUNT_MASK) + 1);
    assert_true(load_acquire(&f->s.view.marks->inflight) == 0);
    /* nothing more to do */
    assert_int_equal(run(f, t0 + 30 * NS_PER_SEC, 15), 0);
}

static void test_dead_epoch_mark_is_cleared(void **state)
{
    struct fx *f = *state;
    uint64_t *e = &f->s.view.marks->epoch;

    begin(f, e);
    assert_int_equal(run(f, 2000 * NS_PER_SEC, 12), 1);
    assert_true(tier_change_quiet(load_acquire(e)));
}

static void test_live_busy_bucket_is_never_cleared(void **state)
{
    struct fx *f = *state;
    uint64_t *w = &f->s.view.gens[9];
    uint64_t t0 = 3000 * NS_PER_SEC;

    /* one call stays in flight for 30 s while others come and go on the
     * same bucket every second: the word moves, so it is live */
    begin(f, w);
    for (unsigned i = 0; i <= 30; i++) {
        begin(f, w);
        end(f, w);
        assert_int_equal(marks_check(&f->s, &g_watch, t0 + i * NS_PER_SEC), 0);
    }
    assert_false(tier_change_quiet(load_acquire(w)));
    end(f, w);
    assert_true(tier_change_quiet(load_acquire(w)));
    assert_int_equal(run(f, t0 + 40 * NS_PER_SEC, 15), 0);
}

static void test_end_after_a_clear_is_cleared_again(void **state)
{
    struct fx *f = *state;
    uint64_t *w = &f->s.view.gens[11];
    uint64_t t0 = 4000 * NS_PER_SEC;

    /* a call on a hung server outlives the bound: cleared; its END then
     * leaves the word in flight (the call count wraps), cleared again */
    begin(f, w);
    assert_int_equal(run(f, t0, 12), 1);
    uint64_t mid = load_acquire(w);
    end(f, w);
    assert_false(tier_change_quiet(load_acquire(w)));
    assert_true(load_acquire(w) != mid);
    assert_int_equal(run(f, t0 + 20 * NS_PER_SEC, 12), 1);
    assert_true(tier_change_quiet(load_acquire(w)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dead_bucket_mark_is_cleared, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dead_epoch_mark_is_cleared, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_live_busy_bucket_is_never_cleared, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_end_after_a_clear_is_cleared_again, setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("marks", tests, NULL, NULL);
}
