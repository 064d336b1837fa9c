/* test_namespace.c - a program in another mount namespace than shmd (a
 * systemd unit with PrivateTmp= or ProtectSystem=, `unshare -m`) may see
 * other files at the same paths. The shim then attaches but validates
 * every hit against the source: hits for the very same files, never the
 * daemon's copy of a file this program cannot see. Needs root and
 * unshare(1); skipped with a message otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"

/* False, after passing the test with a message, where unshare -m fails. */
static bool can_unshare(struct h_fix *f)
{
    struct h_result r;
    int code = h_run(&r, NULL, H_ARGV("unshare", "-m", "true"), 10000);
    h_result_free(&r);
    if (code != 0) {
        print_message("skipped: unshare -m does not work here (not root?)\n");
        H_PASS(f);
    }
    return code == 0;
}

static void test_other_namespace_same_files(void **state)
{
    struct h_fix *f = *state;
    const struct h_file *file = h_std("k100.bin");
    const char *p = h_src(f, file->name);
    struct h_result r;

    if (!can_unshare(f))
        return;
    h_cache_std(f);
    long long hits = h_stat(&f->d, "hits");
    h_shim(f, &r, H_ARGV("SHMCACHE_LOG=all"), H_ARGV("unshare", "-m", h_probe(), "where", p, "+", "cat", p));
    h_assert_ok(&r, "probe in a new mount namespace");
    char *nl = memchr(r.out, '\n', r.out_len);
    assert_non_null(nl);
    *nl = '\0';
    h_assert_in_tier(r.out, f->d.dir, "a validated hit from another mount namespace");
    unsigned char *want = h_file_bytes(file);
    h_assert_bytes(nl + 1, r.out_len - (size_t)(nl + 1 - r.out), want, file->size, "its bytes");
    if (!strstr(r.err, "validated against the source"))
        fail_msg("no note that hits are validated:\n%s", r.err);
    assert_int_equal(h_stat(&f->d, "hits") - hits, 2);
    free(want);
    h_result_free(&r);
    H_PASS(f);
}

static void test_other_namespace_other_files(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "k100.bin");
    char other[H_PATH_MAX + 16];
    const char *text = "the file this namespace sees at that path\n";
    struct h_result r;

    if (!can_unshare(f))
        return;
    h_cache_std(f);
    snprintf(other, sizeof other, "%s/other", f->tmp);
    assert_int_equal(h_mkdirs(other, 0755), 0);
    assert_int_equal(h_write_str(h_fmt("%s/k100.bin", other), text), 0);
    /* in a private namespace, another directory is mounted over the prefix */
    for (int round = 0; round < 2; round++) { /* the second after shmd saw the miss */
        h_shim(f, &r, NULL,
               H_ARGV("unshare", "-m", "sh", "-c",
                      "mount --make-rprivate / && mount --bind \"$1\" \"$2\" && exec \"$3\" cat \"$4\"",
                      "sh", other, f->src, h_probe(), p));
        h_assert_ok(&r, "probe over a bind mount in a new mount namespace");
        h_assert_bytes(r.out, r.out_len, text, strlen(text),
                       "a program must read the file its own namespace shows");
        h_result_free(&r);
        h_sleep_ms(300);
    }
    /* and the daemon never admitted that other file under the host's path */
    h_assert_where(f, p, true, "the host's copy is still the host's");
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", p));
    unsigned char *want = h_file_bytes(h_std("k100.bin"));
    h_assert_bytes(r.out, r.out_len, want, h_std("k100.bin")->size, "the host's bytes");
    free(want);
    h_result_free(&r);
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_other_namespace_same_files, h_fix_setup,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_other_namespace_other_files, h_fix_setup,
                                        h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: mount namespaces", tests, h_group_setup,
                                       h_group_teardown);
}
