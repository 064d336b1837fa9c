/* test_failures.c - when things go wrong the shim is invisible: failed
 * opens fail with the errno they have without it; with no daemon, a daemon
 * killed with SIGKILL, or one restarted on the same directory, programs
 * read the right bytes (and a restarted daemon serves hits again, also to
 * processes that were running across the restart); paths outside the
 * prefixes never touch the tier; a program that closes every descriptor
 * keeps working. */
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

static const char *const as_nobody[] = {"setpriv", "--reuid=65534", "--regid=65534",
                                        "--clear-groups", NULL};
static const char *const immutable_args[] = {"--settle-ms", "0", "--revalidate-ms", "0",
                                             "--capacity", "64M", "--log-level", "debug", NULL};


/* probe cat of every standard file, shimmed, with extra env: the bytes
 * must be the files'. Returns the stderr (caller frees). */
static char *cat_std_right(struct h_fix *f, const char *const *extra, const char *what)
{
    const char *argv[40];
    h_probe_std_argv(f, "cat", argv);
    struct h_result r;
    h_shim(f, &r, extra, argv);
    h_assert_ok(&r, what);
    size_t off = 0;
    for (size_t i = 0; i < h_std_nfiles; i++) {
        unsigned char *want = h_file_bytes(&h_std_files[i]);
        if (off + h_std_files[i].size > r.out_len)
            fail_msg("%s: output too short at %s", what, h_std_files[i].name);
        h_assert_bytes(r.out + off, h_std_files[i].size, want, h_std_files[i].size,
                       h_fmt("%s: %s", what, h_std_files[i].name));
        off += h_std_files[i].size;
        free(want);
    }
    assert_int_equal(off, r.out_len);
    free(r.out);
    return r.err;
}


/* ---- errno ------------------------------------------------------------------ */
/* probe errno PATH MODE with and without the shim: same answer, want. */
static void same_errno(struct h_fix *f, const char *path, const char *mode, const char *want)
{
    struct h_result plain, shim;
    h_plain(f, &plain, H_ARGV(h_probe(), "errno", path, mode));
    h_shim(f, &shim, NULL, H_ARGV(h_probe(), "errno", path, mode));
    h_assert_ok(&plain, "probe errno without the shim");
    h_assert_ok(&shim, "probe errno with the shim");
    if (strcmp(plain.out, shim.out) != 0)
        fail_msg("open(%s, %s): \"%s\" without the shim, \"%s\" with it", path, mode,
                 strtok(plain.out, "\n"), strtok(shim.out, "\n"));
    if (strcmp(plain.out, h_fmt("%s\n", want)) != 0)
        fail_msg("open(%s, %s): \"%s\", the test expected %s", path, mode,
                 strtok(plain.out, "\n"), want);
    h_result_free(&plain);
    h_result_free(&shim);
}

static void test_errno_matches(void **state)
{
    struct h_fix *f = *state;
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(symlink("loop", h_src(f, "loop")), 0);
    h_cache_std(f);

    for (int round = 0; round < 2; round++) { /* the second after the daemon saw the misses */
        same_errno(f, h_src(f, "missing"), "r", "ENOENT");
        same_errno(f, h_src(f, "missing"), "f", "ENOENT");
        same_errno(f, h_src(f, "sub/missing/deeper"), "r", "ENOENT");
        same_errno(f, h_src(f, "text.txt/below"), "r", "ENOTDIR");
        same_errno(f, h_src(f, "text.txt"), "dir", "ENOTDIR");
        same_errno(f, h_src(f, "sub"), "w", "EISDIR");
        same_errno(f, h_src(f, "sub"), "r", "OK");
        same_errno(f, h_src(f, longname), "r", "ENAMETOOLONG");
        same_errno(f, h_src(f, "loop"), "r", "ELOOP");
        /* success leaves errno alone, on a hit and on a miss alike */
        same_errno(f, h_src(f, "text.txt"), "r", "OK");
        same_errno(f, h_src(f, "k100.bin"), "f", "OK");
        assert_int_equal(h_write_str(h_src(f, h_fmt("fresh-%d", round)), "x"), 0);
        same_errno(f, h_src(f, h_fmt("fresh-%d", round)), "r", "OK");
        h_sleep_ms(300);
    }
    h_assert_where(f, h_src(f, "text.txt"), true, "the errno checks ran against a live tier");
    H_PASS(f);
}

/* EACCES needs a user that permissions apply to: daemon and programs run
 * as nobody, the file is nobody's with mode 000. */
static int setup_nobody(void **state)
{
    if (geteuid() != 0) {
        *state = NULL;
        return 0; /* the test skips itself */
    }
    struct h_fix *f = h_fix_new(state, immutable_args, false);
    if (!f)
        return -1;
    f->wrap = as_nobody;
    f->d.wrap = as_nobody;
    const char *noperm = h_src(f, "noperm");
    const char *mine = h_src(f, "mine.txt");
    if (h_write_str(noperm, "secret\n") < 0 || chown(noperm, 65534, 65534) < 0 ||
        chmod(noperm, 0) < 0 || h_write_str(mine, "nobody's own file\n") < 0 ||
        chown(mine, 65534, 65534) < 0 || h_daemon_start(&f->d) < 0) {
        print_error("setup as nobody failed\n");
        h_fix_teardown(state); /* prints the daemon log */
        return -1;
    }
    return 0;
}

static void test_eacces_as_nobody(void **state)
{
    struct h_fix *f = *state;
    if (!f) {
        print_message("    skipped: needs root to run as nobody\n");
        skip();
    }
    const char *noperm = h_src(f, "noperm");
    const char *mine = h_src(f, "mine.txt");
    struct h_result r;

    /* the shim works for this user: a readable file becomes a hit */
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", mine, "+", "wait-tier", mine, f->d.dir, "5000"));
    h_assert_ok(&r, "caching a file as nobody");
    h_result_free(&r);

    same_errno(f, noperm, "r", "EACCES");
    same_errno(f, noperm, "f", "EACCES");
    h_sleep_ms(200);
    same_errno(f, noperm, "r", "EACCES");

    /* a cached file made unreadable through the shim: EACCES at once */
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "errno", mine, "+", "chmod", mine, "0", "+", "errno",
                              mine));
    h_assert_ok(&r, "errno + chmod 0 + errno");
    assert_string_equal(r.out, "OK\nEACCES\n");
    h_result_free(&r);
    same_errno(f, mine, "r", "EACCES");
    H_PASS(f);
}

/* ---- no daemon, dead daemon, new daemon ---------------------------------------------- */
static void test_no_daemon_pass_through(void **state)
{
    struct h_fix *f = *state;
    char *err = cat_std_right(f, NULL, "no daemon");
    assert_string_equal(err, ""); /* no warning: a missing daemon is normal */
    free(err);
    err = cat_std_right(f, H_ENV("SHMCACHE_LOG=all"), "no daemon, SHMCACHE_LOG=all");
    assert_int_equal(h_count_lines(err, "HIT "), 0);
    free(err);
    h_assert_where(f, h_src(f, "k100.bin"), false, "no daemon");
    H_PASS(f);
}

static void test_daemon_sigkill(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "text.txt");
    const char *text = "rewritten while the daemon is dead\n";
    h_cache_std(f);
    h_assert_where(f, p, true, "before SIGKILL");

    h_daemon_kill9(&f->d);
    free(cat_std_right(f, NULL, "right after SIGKILL"));
    /* its heartbeat stops; older than 2 s means dead: no more hits, and a
     * change made meanwhile is read as it is */
    assert_int_equal(h_rewrite(p, text, strlen(text)), 0);
    h_sleep_ms(2300);
    h_assert_where(f, h_src(f, "k100.bin"), false, "2.3 s after SIGKILL");
    struct h_result r;
    h_shim(f, &r, H_ENV("SHMCACHE_LOG=all"), H_ARGV(h_probe(), "cat", p));
    h_assert_ok(&r, "cat after SIGKILL");
    h_assert_bytes(r.out, r.out_len, text, strlen(text), "a file changed after the daemon died");
    assert_int_equal(h_count_lines(r.err, "HIT "), 0);
    h_result_free(&r);
    H_PASS(f);
}

/* kill: 9 for SIGKILL, 15 for a clean stop. New processes and one that
 * runs across the restart both get hits from the new daemon. */
static void restart(struct h_fix *f, int sig)
{
    const char *p = h_src(f, "k100.bin");
    const char *ready = h_fmt("%s/ready", f->tmp);
    const char *go = h_fmt("%s/go", f->tmp);
    const struct h_file *file = h_std("k100.bin");
    struct h_proc b;
    struct h_result rb;

    h_cache_std(f);
    h_assert_where(f, p, true, "before the restart");
    assert_int_equal(h_start(&b, h_shim_env(f, NULL),
                             H_ARGV(h_probe(), "where", p, "+", "touch", ready, "+", "wait-file",
                                    go, "15000", "+", "wait-tier", p, f->d.dir, "10000", "+",
                                    "cat", p)),
                     0);
    uint64_t end = h_now_ms() + 10000;
    while (access(ready, F_OK) < 0 && h_now_ms() < end)
        h_sleep_ms(5);
    assert_int_equal(access(ready, F_OK), 0);

    if (sig == 9) {
        h_daemon_kill9(&f->d);
    } else {
        assert_int_equal(h_daemon_stop(&f->d), 0);
        struct stat st;
        assert_int_equal(stat(f->d.dir, &st), -1);
    }
    assert_int_equal(h_daemon_start(&f->d), 0);
    /* a new daemon starts from an empty tier */
    assert_int_equal(h_stat(&f->d, "hits"), 0);
    assert_int_equal(h_stat(&f->d, "entries"), 0);
    assert_int_equal(h_write_str(go, ""), 0);
    uint64_t t0 = h_now_ms();

    /* new processes: a first pass misses, then hits */
    h_cache_std(f);
    /* every open a hit: counted in the program's own log, since the
     * long-lived process may be hitting at the same time */
    char *err = cat_std_right(f, H_ENV("SHMCACHE_LOG=all"), "after the restart");
    assert_int_equal(h_count_lines(err, "HIT "), (int)h_std_nfiles);
    free(err);
    h_assert_where(f, p, true, "a new process after the restart");

    /* the process that ran across the restart re-attached */
    h_finish(&b, &rb, 20000);
    h_assert_ok(&rb, "the process running across the restart");
    print_message("    long-lived process: %.*s (%llu ms after the restart)\n",
                  (int)strcspn(strchr(rb.out, '\n') + 1, "\n"), strchr(rb.out, '\n') + 1,
                  (unsigned long long)(h_now_ms() - t0));
    char first[H_PATH_MAX];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(rb.out, "\n"), rb.out);
    h_assert_in_tier(first, f->d.dir, "the long-lived process before the restart");
    const char *data = strchr(strchr(rb.out, '\n') + 1, '\n') + 1;
    unsigned char *want = h_file_bytes(file);
    h_assert_bytes(data, rb.out_len - (size_t)(data - rb.out), want, file->size,
                   "the long-lived process after the restart");
    free(want);
    h_result_free(&rb);
}

static void test_restart_after_sigkill(void **state)
{
    struct h_fix *f = *state;
    restart(f, 9);
    H_PASS(f);
}

static void test_restart_after_stop(void **state)
{
    struct h_fix *f = *state;
    restart(f, 15);
    H_PASS(f);
}

/* An instance directory that is not private (mode 0755): the shim does not
 * trust it, warns once, and passes everything through. */
static void test_untrusted_instance_dir(void **state)
{
    struct h_fix *f = *state;
    assert_int_equal(mkdir(f->d.dir, 0755), 0);
    assert_int_equal(chmod(f->d.dir, 0755), 0);
    char *err = cat_std_right(f, NULL, "an untrusted instance directory");
    h_sleep_ms(1100); /* past the attach retry: still one warning per process */
    if (h_count_lines(err, "") != 1 || !strstr(err, "not trusted"))
        fail_msg("expected one \"not trusted\" warning, got:\n%s", err);
    free(err);
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", h_src(f, "one"), "+", "sleep", "1100", "+", "cat",
                              h_src(f, "one"), "+", "maps-has", f->d.dir));
    h_assert_ok(&r, "two attach attempts on an untrusted directory");
    assert_int_equal(h_count_lines(r.err, ""), 1);
    assert_string_equal(r.out + 2, "maps 0 fds 0\n");
    h_result_free(&r);
    assert_int_equal(rmdir(f->d.dir), 0);
    H_PASS(f);
}

/* ---- outside the prefixes ------------------------------------------------------ */
static void test_outside_prefix_untouched(void **state)
{
    struct h_fix *f = *state;
    /* a sibling whose name starts with the prefix's, and an unrelated dir */
    const char *sib = h_fmt("%s/srcfoo", f->tmp);
    const char *other = h_fmt("%s/other", f->tmp);
    assert_int_equal(h_mkdirs(sib, 0755), 0);
    assert_int_equal(h_mkdirs(other, 0755), 0);
    const char *a = h_fmt("%s/a.txt", sib);
    const char *b = h_fmt("%s/b.txt", other);
    assert_int_equal(h_write_str(a, "outside one\n"), 0);
    assert_int_equal(h_write_str(b, "outside two\n"), 0);
    h_cache_std(f);

    struct h_result r;
    char before[8192], after[8192];
    h_shmd_cmd(&f->d, &r, H_ARGV("stats", "--json"));
    snprintf(before, sizeof before, "%s", r.out);
    h_result_free(&r);

    for (int i = 0; i < 3; i++) {
        h_shim(f, &r, H_ENV("SHMCACHE_LOG=all"),
               H_ARGV(h_probe(), "cat", a, "+", "fcat", b, "+", "errno", h_fmt("%s/none", sib),
                      "+", "trunc-write", h_fmt("%s/new", other), "x", "+", "maps-has",
                      f->d.dir));
        h_assert_ok(&r, "reads outside the prefix");
        assert_string_equal(r.out, "outside one\noutside two\nENOENT\nmaps 0 fds 0\n");
        assert_string_equal(r.err, ""); /* no SHMCACHE_LOG line at all */
        h_result_free(&r);
    }
    h_sleep_ms(300);
    h_shmd_cmd(&f->d, &r, H_ARGV("stats", "--json"));
    snprintf(after, sizeof after, "%s", r.out);
    h_result_free(&r);
    static const char *const keys[] = {"hits", "misses", "entries", "loads", "load_failures",
                                       "misses_received", "invalidations", "bad_messages"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (h_json_num(before, keys[i]) != h_json_num(after, keys[i]))
            fail_msg("%s changed from %lld to %lld by opens outside the prefix", keys[i],
                     h_json_num(before, keys[i]), h_json_num(after, keys[i]));

    /* the control: an open inside the prefix does map the index */
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", h_src(f, "one"), "+", "maps-has", f->d.dir));
    h_assert_ok(&r, "a read inside the prefix");
    int maps = 0, fds = 0;
    assert_int_equal(sscanf(r.out + 1, "maps %d fds %d", &maps, &fds), 2);
    assert_true(maps >= 1);
    h_result_free(&r);

    /* SHMCACHE_DISABLE=1: inside the prefix too, nothing */
    h_shim(f, &r, H_ENV("SHMCACHE_DISABLE=1", "SHMCACHE_LOG=all"),
           H_ARGV(h_probe(), "cat", h_src(f, "one"), "+", "where", h_src(f, "one"), "+",
                  "maps-has", f->d.dir));
    h_assert_ok(&r, "SHMCACHE_DISABLE=1");
    unsigned char *one = h_file_bytes(h_std("one"));
    h_assert_bytes(r.out, 1, one, 1, "SHMCACHE_DISABLE=1");
    free(one);
    assert_string_equal(r.out + 1, h_fmt("%s\nmaps 0 fds 0\n", h_src(f, "one")));
    /* and says so, once (SHMCACHE_LOG is set) */
    if (h_count_lines(r.err, "") != 1 || !strstr(r.err, "off: SHMCACHE_DISABLE=1\n"))
        fail_msg("SHMCACHE_DISABLE=1, SHMCACHE_LOG=all: the shim said \"%s\"", r.err);
    h_result_free(&r);
    H_PASS(f);
}

/* ---- the host closes the shim's descriptors ------------------------------------------ */
static void test_close_every_descriptor(void **state)
{
    struct h_fix *f = *state;
    const struct h_file *file = h_std("k100.bin");
    const char *p = h_src(f, file->name);
    h_cache_std(f);
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", p, "+", "closefds", "+", "cat", p, "+", "fcat", p,
                              "+", "wait-tier", p, f->d.dir, "5000", "+", "cat", p));
    h_assert_ok(&r, "reads around closing every descriptor");
    unsigned char *want = h_file_bytes(file);
    assert_true(r.out_len > 3 * file->size);
    for (int i = 0; i < 3; i++)
        h_assert_bytes(r.out + (size_t)i * file->size, file->size, want, file->size,
                       h_fmt("read %d", i + 1));
    const char *tail = r.out + 3 * file->size;
    assert_memory_equal(tail, "tier after ", 11);
    const char *last = strchr(tail, '\n') + 1;
    h_assert_bytes(last, r.out_len - (size_t)(last - r.out), want, file->size,
                   "from the tier again after re-attaching");
    free(want);
    h_result_free(&r);
    H_PASS(f);
}

/* ---- a full tier ------------------------------------------------------------------ */
static const char *const small_args[] = {"--settle-ms", "0", "--revalidate-ms", "200",
                                         "--capacity", "1M", "--log-level", "debug", NULL};

static int setup_small(void **state)
{
    return h_fix_new(state, small_args, true) ? 0 : -1;
}

/* 1 MiB of capacity (max-file 256 KiB) for 2 MiB of files: the daemon
 * evicts, never holds more than its capacity, and every read is right. A
 * file above max-file is never cached. */
static void test_capacity_evicts_and_bounds(void **state)
{
    struct h_fix *f = *state;
    struct h_file files[11];
    const char *paths[12];
    char names[11][32];
    for (int i = 0; i < 11; i++) {
        snprintf(names[i], sizeof names[i], "fill/f%02d", i);
        files[i] = (struct h_file){names[i], i < 10 ? 200 * 1024 : 300 * 1024, 100u + (unsigned)i,
                                   false};
    }
    assert_int_equal(h_make_tree(f->src, files, 11), 0);

    const char *argv[64];
    int k = 0;
    argv[k++] = h_probe();
    for (int i = 0; i < 11; i++) {
        paths[i] = h_fmt("%s/%s", f->src, names[i]);
        if (i)
            argv[k++] = "+";
        argv[k++] = "cat";
        argv[k++] = paths[i];
    }
    argv[k] = NULL;
    size_t total = 10 * 200 * 1024 + 300 * 1024;
    unsigned char *want = malloc(total);
    size_t off = 0;
    for (int i = 0; i < 11; i++) {
        h_fill(want + off, files[i].size, files[i].seed, false);
        off += files[i].size;
    }

    for (int round = 0; round < 4; round++) {
        struct h_result r;
        h_shim(f, &r, NULL, argv);
        h_assert_ok(&r, "reading more than the capacity");
        h_assert_bytes(r.out, r.out_len, want, total, h_fmt("round %d", round));
        h_result_free(&r);
        h_sleep_ms(150);
        long long mem = h_stat(&f->d, "memory"), bytes = h_stat(&f->d, "bytes");
        if (mem > (1LL << 20) || bytes > (1LL << 20))
            fail_msg("round %d: the tier holds %lld bytes (%lld of memory) above its capacity "
                     "of 1 MiB", round, bytes, mem);
    }
    struct h_stats s;
    assert_int_equal(h_stats(&f->d, &s), 0);
    assert_true(s.evictions > 0);
    assert_true(h_stat(&f->d, "fail_too_large") >= 1);
    /* (a cyclic scan larger than the tier may never hit: that is CLOCK)
     * a working set that fits is served from the tier again */
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "wait-tier", paths[0], f->d.dir, "5000", "+",
                              "wait-tier", paths[1], f->d.dir, "5000", "+", "wait-tier", paths[0],
                              f->d.dir, "5000", "+", "cat", paths[0]));
    h_assert_ok(&r, "a working set within the capacity");
    const char *data = r.out;
    for (int i = 0; i < 3; i++)
        data = strchr(data, '\n') + 1;
    h_assert_bytes(data, r.out_len - (size_t)(data - r.out), want, files[0].size,
                   "the first file from the tier after the pressure");
    h_result_free(&r);
    h_assert_where(f, paths[10], false, "a file above --max-file");
    free(want);
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_errno_matches, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_eacces_as_nobody, setup_nobody, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_no_daemon_pass_through, h_fix_setup_nodaemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_instance_dir, h_fix_setup_nodaemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_sigkill, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_restart_after_sigkill, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_restart_after_stop, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_outside_prefix_untouched, h_fix_setup,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_close_every_descriptor, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_capacity_evicts_and_bounds, setup_small,
                                        h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: failures", tests, h_group_setup,
                                       h_group_teardown);
}
