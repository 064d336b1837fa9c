/* test_burst.c - every miss reaches the daemon (issue 12): a burst of first
 * opens overflows the daemon's datagram queue (net.unix.max_dgram_qlen, 10
 * by default), and what the socket refuses goes through the miss ring
 * (tier/ring.h), so a first pass fills the tier:
 *   - one process reading 300 files once leaves at least 99% of them cached
 *     (the bound waited for is generous: 10 s; the time it took is printed);
 *   - 16 processes started at once over 2,000 files leave at least 99%;
 *   - misses_unsent counts only what neither the socket nor the ring took,
 *     and misses_ringed shows the ring at work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/harness.h"

static const char *const burst_args[] = {"--settle-ms", "0", "--revalidate-ms", "0",
                                         "--capacity", "256M", "--log-level", "info", NULL};

static int setup(void **state)
{
    return h_fix_new(state, burst_args, true) ? 0 : -1;
}

/* n files of 4 KiB under src/burst; the reader script in tmp. */
static void make_files(struct h_fix *f, int n)
{
    char d[H_PATH_MAX];
    snprintf(d, sizeof d, "%.4000s/burst", f->src);
    assert_int_equal(h_mkdirs(d, 0755), 0);
    unsigned char buf[4096];
    for (int i = 0; i < n; i++) {
        h_fill(buf, sizeof buf, (uint32_t)i, false);
        if (h_write_file(h_fmt("%s/f%05d.bin", d, i), buf, sizeof buf) < 0)
            fail_msg("write: %s", strerror(errno));
    }
    if (h_write_str(h_fmt("%s/read.py", f->tmp),
                    "import os, sys\n"
                    "d, n, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
                    "total = 0\n"
                    "for k in range(n):\n"
                    "    with open('%s/f%05d.bin' % (d, (k + start) % n), 'rb') as f:\n"
                    "        total += len(f.read())\n"
                    "print(total)\n") < 0)
        fail_msg("write read.py: %s", strerror(errno));
}

/* Wait (at most 10 s) until at least want copies are in; the count. */
static long long wait_loaded(struct h_fix *f, long long want, uint64_t *took_ms)
{
    uint64_t t0 = h_now_ms();
    long long e = 0;
    while (h_now_ms() - t0 < 10000) {
        e = h_stat(&f->d, "loads");
        if (e >= want)
            break;
        h_sleep_ms(20);
    }
    *took_ms = h_now_ms() - t0;
    return e;
}

/* At least 99% of n files loaded after what (the target), said with
 * how long it took and the ways the misses went. */
static void expect_filled(struct h_fix *f, int n, const char *what)
{
    uint64_t took;
    long long loaded = wait_loaded(f, n * 99 / 100 + 1, &took);
    print_message("    %lld of %d files cached %llu ms after %s "
                  "(%lld misses through the ring, %lld unsent, %lld dropped by the queue)\n",
                  loaded, n, (unsigned long long)took, what, h_stat(&f->d, "misses_ringed"),
                  h_stat(&f->d, "misses_unsent"), h_stat(&f->d, "misses_dropped"));
    if (loaded * 100 < n * 99)
        fail_msg("%s over %d files left %lld cached (want 99%%)", what, n, loaded);
}

static void test_one_pass_fills_the_tier(void **state)
{
    struct h_fix *f = *state;
    const int n = 300;
    make_files(f, n);
    struct h_result r;
    h_shim(f, &r, NULL,
           H_ARGV(h_python(), h_fmt("%s/read.py", f->tmp), h_fmt("%s/burst", f->src),
                  h_fmt("%d", n), "0"));
    h_assert_ok(&r, "one pass");
    assert_string_equal(r.out, h_fmt("%d\n", n * 4096));
    h_result_free(&r);
    expect_filled(f, n, "one pass");
    H_PASS(f);
}

static void test_sixteen_at_once(void **state)
{
    struct h_fix *f = *state;
    const int n = 2000, procs = 16;
    make_files(f, n);
    struct h_proc p[16];
    for (int i = 0; i < procs; i++)
        assert_int_equal(h_start(&p[i], h_shim_env(f, NULL),
                                 h_wrapped(f->wrap, H_ARGV(h_python(), h_fmt("%s/read.py", f->tmp),
                                                           h_fmt("%s/burst", f->src),
                                                           h_fmt("%d", n),
                                                           h_fmt("%d", i * n / procs)))),
                         0);
    for (int i = 0; i < procs; i++) {
        struct h_result r;
        assert_int_equal(h_finish(&p[i], &r, 120000), 0);
        h_assert_ok(&r, "a reader");
        assert_string_equal(r.out, h_fmt("%d\n", n * 4096));
        h_result_free(&r);
    }
    expect_filled(f, n, "16 readers");
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_pass_fills_the_tier, setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_sixteen_at_once, setup, h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: every miss reaches the daemon", tests,
                                       h_group_setup, h_group_teardown);
}
