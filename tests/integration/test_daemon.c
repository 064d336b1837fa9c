/* test_daemon.c - the daemon's life: SIGTERM and SIGINT stop it and remove
 * the instance directory; a second daemon on the same instance refuses;
 * what a SIGKILLed daemon left behind is reclaimed by the next one (its
 * objects gone, hits again); an instance directory that is not ours (wrong
 * mode, a symlink) is refused with a message; and the library exports
 * nothing but the interposed functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/harness.h"

static bool dir_exists(const char *dir)
{
    struct stat st;
    return lstat(dir, &st) == 0;
}

/* Files in dir whose name starts with 'o' (objects). */
static int count_objects(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] == 'o';
    closedir(d);
    return n;
}

static void stop_with(struct h_fix *f, int sig)
{
    h_cache_std(f);
    assert_true(count_objects(f->d.dir) > 0);
    assert_int_equal(kill(f->d.pid, sig), 0);
    for (int i = 0; i < 500 && h_daemon_alive(&f->d); i++)
        h_sleep_ms(10);
    assert_false(h_daemon_alive(&f->d));
    assert_int_equal(f->d.exit_code, 0);
    if (dir_exists(f->d.dir))
        fail_msg("%s still exists after signal %d", f->d.dir, sig);
    /* and the files are served by pass-through, right bytes */
    h_assert_where(f, h_src(f, "k100.bin"), false, "after the daemon stopped");
}

static void test_sigterm_cleans_up(void **state)
{
    stop_with(*state, SIGTERM);
    H_PASS((struct h_fix *)*state);
}

static void test_sigint_cleans_up(void **state)
{
    stop_with(*state, SIGINT);
    H_PASS((struct h_fix *)*state);
}

static void test_second_daemon_refuses(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;

    h_cache_std(f);
    h_run(&r, NULL, H_ARGV(h_shmd(), "--dir", f->d.dir, "--settle-ms", "0"), 5000);
    assert_int_equal(r.code, 1);
    if (!strstr(r.err, "already served by shmd pid"))
        fail_msg("second daemon said: %s", r.err);
    h_result_free(&r);
    /* the first one still serves, its tier intact */
    assert_true(h_daemon_alive(&f->d));
    assert_int_equal(h_stat(&f->d, "entries"), (long long)h_std_nfiles);
    h_assert_where(f, h_src(f, "k100.bin"), true, "the first daemon after a refused second");
    H_PASS(f);
}

static void test_leftovers_reclaimed(void **state)
{
    struct h_fix *f = *state;

    h_cache_std(f);
    int before = count_objects(f->d.dir);
    assert_true(before >= (int)h_std_nfiles);
    h_daemon_kill9(&f->d);
    assert_true(dir_exists(f->d.dir));              /* a crash leaves everything */
    assert_int_equal(count_objects(f->d.dir), before);
    assert_int_equal(h_daemon_start(&f->d), 0);    /* no live owner: reclaimed */
    assert_int_equal(count_objects(f->d.dir), 0);
    assert_int_equal(h_stat(&f->d, "entries"), 0);
    h_cache_std(f);
    h_assert_where(f, h_src(f, "k100.bin"), true, "after reclaiming");
    H_PASS(f);
}

static void refuse(struct h_fix *f, const char *dir, const char *expect)
{
    struct h_result r;
    h_run(&r, NULL, H_ARGV(h_shmd(), "--dir", dir), 5000);
    assert_int_equal(r.code, 1);
    if (!strstr(r.err, expect))
        fail_msg("daemon on %s said \"%s\", expected \"%s\"", dir, r.err, expect);
    h_result_free(&r);
    (void)f;
}

static void test_untrusted_dir_refused(void **state)
{
    struct h_fix *f = *state;
    char dir[H_PATH_MAX + 16], link[H_PATH_MAX + 16], target[H_PATH_MAX + 16];

    snprintf(dir, sizeof dir, "%s/wide", f->tmp);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    refuse(f, dir, "mode 0755, expected 0700: refusing");
    assert_int_equal(access(h_fmt("%s/index", dir), F_OK), -1); /* nothing created */

    snprintf(target, sizeof target, "%s/target", f->tmp);
    snprintf(link, sizeof link, "%s/link", f->tmp);
    assert_int_equal(mkdir(target, 0700), 0);
    assert_int_equal(symlink(target, link), 0);
    refuse(f, link, "symlink");
    assert_int_equal(access(h_fmt("%s/index", target), F_OK), -1);
    H_PASS(f);
}

/* nm is binutils', present wherever this was built. */
static void test_exports_only_hooks(void **state)
{
    struct h_fix *f = *state;
    struct h_result nm, hooks;

    h_run(&nm, NULL, H_ARGV("sh", "-c", h_fmt("nm -D --defined-only %s | awk '{print $3}' | sort",
                                              h_lib())), 10000);
    h_assert_ok(&nm, "nm -D");
    h_run(&hooks, NULL,
          H_ARGV("sh", "-c", h_fmt("sed -n 's/^ *X([^,]*, *\\([A-Za-z_0-9]*\\),.*/\\1/p' "
                                   "%s/preload/real.h | sort", h_root())), 10000);
    h_assert_ok(&hooks, "hook list");
    assert_true(h_count_lines(hooks.out, "") > 50);
    assert_string_equal(nm.out, hooks.out);
    h_result_free(&nm);
    h_result_free(&hooks);
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigterm_cleans_up, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_sigint_cleans_up, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_second_daemon_refuses, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_leftovers_reclaimed, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_dir_refused, h_fix_setup_nodaemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_exports_only_hooks, h_fix_setup_nodaemon,
                                        h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: daemon lifecycle", tests, h_group_setup,
                                       h_group_teardown);
}
