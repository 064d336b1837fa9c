/* test_process.c - the shim in the places where a preloaded library is most
 * easily wrong: opens from a signal handler that interrupts opens, in a
 * vfork child, through posix_spawn, and in children forked while other
 * threads are opening (tests/helpers/procs.c). Every read must return the
 * file's exact bytes, and the hits must really come from the tier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

static const char *procs(void)
{
    static char path[H_PATH_MAX];
    const char *probe = h_probe();
    size_t n = strlen(probe) - strlen("probe");
    snprintf(path, sizeof path, "%.*sprocs", (int)n, probe);
    return path;
}

static void test_signal_vfork_spawn_fork(void **state)
{
    struct h_fix *f = *state;
    const struct h_file *file = h_std("k100.bin");
    const char *p = h_src(f, file->name);
    unsigned char *want = h_file_bytes(file);
    struct h_result r;

    h_cache(f, H_ARGV(p), 1);
    long long hits = h_stat(&f->d, "hits");
    h_shim(f, &r, H_ARGV("SHMCACHE_LOG=miss"),
           H_ARGV(procs(), p, h_fmt("%llx", (unsigned long long)h_fnv1a(want, file->size))));
    print_message("%s", r.out);
    h_assert_ok(&r, "procs");
    long sig_ok = 0;
    const char *s = strstr(r.out, "signal ok=");
    assert_non_null(s);
    sig_ok = strtol(s + strlen("signal ok="), NULL, 10);
    assert_true(sig_ok > 0);
    /* 1 + 3000 in the main loop, the signal handler's, 2 around vfork, 1
     * by cat, 1200 by threads, 40 by fork children: all from the tier */
    long long got = h_stat(&f->d, "hits") - hits;
    long long min = 1 + 3000 + sig_ok + 2 + 1 + 1200 + 40;
    if (got < min)
        fail_msg("only %lld hits for at least %lld opens of a cached file; misses %lld; "
                 "stderr:\n%s", got, min, h_stat(&f->d, "misses"), r.err);
    free(want);
    h_result_free(&r);
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signal_vfork_spawn_fork, h_fix_setup, h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: processes and signals", tests,
                                       h_group_setup, h_group_teardown);
}
