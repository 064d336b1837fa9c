/* test_cli.c - shmd's command line as DESIGN.md's interface table states
 * it: bad flags (exit 2 and the usage), stats (human and JSON), ls, warm,
 * evict, flush, stop, exec; and the shim's handling of bad SHMCACHE_*
 * values (exactly one warning line, the program still works). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/harness.h"

static long long std_bytes(void)
{
    long long n = 0;
    for (size_t i = 0; i < h_std_nfiles; i++)
        n += (long long)h_std_files[i].size;
    return n;
}

/* ---- bad usage ---------------------------------------------------------------- */
static int newlines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void expect_usage(const char *const *argv, const char *dir)
{
    struct h_result r;
    int code = h_run(&r, NULL, argv, 10000);
    const char *a1 = argv[1] ? argv[1] : "", *a2 = argv[1] && argv[2] ? argv[2] : "";
    const char *a3 = argv[1] && argv[2] && argv[3] ? argv[3] : "";
    const char *cmd = h_fmt("shmd %s %s %s", a1, a2, a3);
    if (code != 2)
        fail_msg("%s: exit %d, expected 2; stderr:\n%s", cmd, code, r.err);
    /* one line saying what is wrong, one pointing to --help: not the usage */
    if (newlines(r.err) != 2 || strncmp(r.err, "shmd", 4) != 0 ||
        !strstr(r.err, "\nTry 'shmd ") || !strstr(r.err, " --help'.\n") || strstr(r.err, "usage:"))
        fail_msg("%s: not one line and a pointer to --help on stderr:\n%s", cmd, r.err);
    if (r.out_len != 0)
        fail_msg("%s: printed on stdout:\n%s", cmd, r.out);
    struct stat st;
    if (dir && stat(dir, &st) == 0)
        fail_msg("%s: created %s", cmd, dir);
    h_result_free(&r);
}

static void test_bad_flags(void **state)
{
    struct h_fix *f = *state;
    const char *s = h_shmd(), *d = f->d.dir;
    expect_usage(H_ARGV(s, "--dir", d, "--bogus"), d);
    expect_usage(H_ARGV(s, "--dir", d, "--capacity", "12"), d);
    expect_usage(H_ARGV(s, "--dir", d, "--capacity", "lots"), d);
    expect_usage(H_ARGV(s, "--dir", "relative/dir"), NULL);
    expect_usage(H_ARGV(s, "--dir", d, "--revalidate-ms", "soon"), d);
    expect_usage(H_ARGV(s, "--dir", d, "--settle-ms", "-1"), d);
    expect_usage(H_ARGV(s, "--dir", d, "--log-level", "loud"), d);
    expect_usage(H_ARGV(s, "--dir", d, "--loaders", "0"), d);
    expect_usage(H_ARGV(s, "--dir", d, "--slots", "0"), d);
    expect_usage(H_ARGV(s, "--dir", d, "--name", "a/b"), d);
    expect_usage(H_ARGV(s, "--dir"), NULL);
    expect_usage(H_ARGV(s, "--dir", d, "--", "extra"), d);
    expect_usage(H_ARGV(s, "frobnicate"), NULL);
    expect_usage(H_ARGV(s, "stats", "--dir", d, "--bogus"), d);
    expect_usage(H_ARGV(s, "stats", "--dir", d, "extra"), d);
    expect_usage(H_ARGV(s, "ls", "--dir", d, "--sort", "bogus"), d);
    expect_usage(H_ARGV(s, "ls", "--dir", d, "--prometheus"), d);
    expect_usage(H_ARGV(s, "stats", "--dir", d, "--sort", "hits"), d);
    expect_usage(H_ARGV(s, "stats", "--dir", d, "--json", "--prometheus"), d);
    expect_usage(H_ARGV(s, "stats", "--dir", d, "--count", "0"), d);
    expect_usage(H_ARGV(s, "warm", "--dir", d, "--watch", "/x"), d);
    expect_usage(H_ARGV(s, "stop", "--dir", d, "extra"), d);
    expect_usage(H_ARGV(s, "warm", "--dir", d), d);
    expect_usage(H_ARGV(s, "evict", "--dir", d), d);
    expect_usage(H_ARGV(s, "flush", "--dir", d, "extra"), d);
    expect_usage(H_ARGV(s, "exec", "--dir", d, "-p", f->src), d);
    expect_usage(H_ARGV(s, "exec", "--dir", d, "-p", "relative", "--", "true"), d);
    expect_usage(H_ARGV(s, "exec", "--dir", d, "--", "true"), d); /* no prefix at all */

    expect_usage(H_ARGV(s, "--dir", d, "--capacity", "99999999999G"), d);
    expect_usage(H_ARGV(s, "--name", "x", "frobnicate"), NULL);
    expect_usage(H_ARGV(s, "--name", "x", "stats", "--bogus"), NULL);

    /* a client command without a daemon: exit 1, a message, no usage */
    struct h_result r;
    int code = h_run(&r, NULL, H_ARGV(s, "stats", "--dir", d), 10000);
    assert_int_equal(code, 1);
    assert_non_null(strstr(r.err, "no daemon"));
    h_result_free(&r);
    /* a size beyond 64 bits is said to be too large, not "at least 1M" */
    h_run(&r, NULL, H_ARGV(s, "--dir", d, "--capacity", "99999999999G"), 10000);
    if (!strstr(r.err, "too large"))
        fail_msg("--capacity 99999999999G:\n%s", r.err);
    h_result_free(&r);
    H_PASS(f);
}

/* The forms people type: global options before the command (as git and
 * systemctl take them), --version, CMD --help, help. */
static void test_command_forms(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    const char *s = h_shmd(), *d = f->d.dir;

    int code = h_run(&r, NULL, H_ARGV(s, "--dir", d, "stats", "--json"), 10000);
    if (code != 0 || h_json_num(r.out, "pid") <= 0)
        fail_msg("shmd --dir D stats --json: exit %d\n%s%s", code, r.out, r.err);
    h_result_free(&r);
    code = h_run(&r, NULL, H_ARGV(s, h_fmt("--dir=%s", d), "ls"), 10000);
    if (code != 0 || strncmp(r.out, "      SIZE", 10) != 0)
        fail_msg("shmd --dir=D ls: exit %d\n%s%s", code, r.out, r.err);
    h_result_free(&r);
    /* --name before the command reaches the command: its instance, not an
     * "unexpected argument" */
    code = h_run(&r, NULL, H_ARGV(s, "--name", "no-such-instance-4711", "stats"), 10000);
    if (code != 1 || !strstr(r.err, "shmcache-") || !strstr(r.err, "-no-such-instance-4711"))
        fail_msg("shmd --name X stats: exit %d\n%s", code, r.err);
    h_result_free(&r);

    code = h_run(&r, NULL, H_ARGV(s, "--version"), 10000);
    if (code != 0 || strncmp(r.out, "shmd ", 5) != 0 || r.out[5] < '0' || r.out[5] > '9' ||
        newlines(r.out) != 1 || r.err_len)
        fail_msg("shmd --version: exit %d\n%s%s", code, r.out, r.err);
    h_result_free(&r);

    static const char *const cmds[] = {"stats", "ls", "why", "warm", "evict", "flush", "stop", "exec"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        code = h_run(&r, NULL, H_ARGV(s, cmds[i], "--help"), 10000);
        const char *want = h_fmt("usage: shmd %s", cmds[i]);
        if (code != 0 || strncmp(r.out, want, strlen(want)) != 0 || r.err_len ||
            !strstr(r.out, "--name NAME"))
            fail_msg("shmd %s --help: exit %d\n%s%s", cmds[i], code, r.out, r.err);
        /* a command's help is its own: not the daemon's options (but exec's) */
        if ((strstr(r.out, "--capacity") != NULL) != (strcmp(cmds[i], "exec") == 0))
            fail_msg("shmd %s --help shows the wrong options:\n%s", cmds[i], r.out);
        h_result_free(&r);
    }
    /* the daemon is still there: no --help above did anything */
    assert_true(h_daemon_alive(&f->d));
    code = h_run(&r, NULL, H_ARGV(s, "help"), 10000);
    if (code != 0 || !strstr(r.out, "usage: shmd") || !strstr(r.out, "  why "))
        fail_msg("shmd help: exit %d\n%s%s", code, r.out, r.err);
    h_result_free(&r);
    H_PASS(f);
}

/* After a daemon was SIGKILLed, a command says the instance is stale and
 * what it still holds, not only "Connection refused". */
static void test_stale_instance_hint(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;

    h_cache_std(f);
    h_daemon_kill9(&f->d);
    int code = h_run(&r, NULL, H_ARGV(h_shmd(), "stats", "--dir", f->d.dir), 10000);
    if (code != 1 || !strstr(r.err, "stale") || !strstr(r.err, "MiB of memory") ||
        newlines(r.err) != 1)
        fail_msg("stats on a SIGKILLed daemon's instance: exit %d\n%s", code, r.err);
    h_result_free(&r);
    /* and the next daemon reclaims it */
    assert_int_equal(h_daemon_start(&f->d), 0);
    code = h_shmd_cmd(&f->d, &r, H_ARGV("stats", "--json"));
    assert_int_equal(code, 0);
    h_result_free(&r);
    H_PASS(f);
}

/* ---- stats, ls ------------------------------------------------------------------ */
static void test_stats_human_and_json(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    h_cache_std(f);
    h_shim(f, &r, NULL,
           H_ARGV(h_probe(), "cat", h_src(f, "one"), "+", "cat", h_src(f, "page.bin")));
    h_assert_ok(&r, "two hits");
    h_result_free(&r);

    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("stats", "--json")), 0);
    const char *json = r.out;
    assert_true(json[0] == '{');
    assert_true(r.out_len >= 2 && strcmp(json + r.out_len - 2, "}\n") == 0);
    static const char *const keys[] = {"hits", "misses", "entries", "bytes", "capacity",
                                       "evictions", "invalidations", "loads", "load_failures"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (h_json_num(json, keys[i]) < 0)
            fail_msg("stats --json has no number \"%s\":\n%s", keys[i], json);
    long long n = (long long)h_std_nfiles;
    assert_int_equal(h_json_num(json, "entries"), n);
    assert_int_equal(h_json_num(json, "bytes"), std_bytes());
    assert_int_equal(h_json_num(json, "capacity"), 64LL << 20);
    assert_int_equal(h_json_num(json, "loads"), n);
    assert_int_equal(h_json_num(json, "misses"), n);
    assert_int_equal(h_json_num(json, "hits"), 2);
    assert_int_equal(h_json_num(json, "load_failures"), 0);
    assert_int_equal(h_json_num(json, "evictions"), 0);
    assert_int_equal(h_json_num(json, "invalidations"), 0);
    char *saved = strdup(json);
    h_result_free(&r);

    /* it is JSON: a parser takes it, every counter a number */
    const char *jf = h_fmt("%s/stats.json", f->tmp);
    assert_int_equal(h_write_str(jf, saved), 0);
    h_run(&r, NULL, H_ARGV(h_python(), "-c",
                           "import json, sys\n"
                           "d = json.load(open(sys.argv[1]))\n"
                           "for k in ('hits', 'misses', 'entries', 'bytes', 'capacity',\n"
                           "          'evictions', 'invalidations', 'loads', 'load_failures'):\n"
                           "    assert type(d[k]) is int, k\n"
                           "print('ok')\n", jf), 20000);
    h_assert_ok(&r, "python json.load of stats --json");
    assert_string_equal(r.out, "ok\n");
    h_result_free(&r);

    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("stats")), 0);
    static const char *const human[] = {"entries", "hits", "misses", "loads"};
    for (size_t i = 0; i < sizeof human / sizeof *human; i++) {
        const char *line = strstr(r.out, human[i]);
        if (!line || (line != r.out && line[-1] != '\n'))
            fail_msg("stats has no \"%s\" line:\n%s", human[i], r.out);
        long long v = -1;
        sscanf(line + strlen(human[i]), " %lld", &v);
        if (v != h_json_num(saved, human[i]))
            fail_msg("stats says %s %lld, stats --json %lld", human[i], v,
                     h_json_num(saved, human[i]));
    }
    assert_non_null(strstr(r.out, f->d.dir));
    free(saved);
    h_result_free(&r);
    H_PASS(f);
}

static void test_ls_lists_cached_paths(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    h_cache_std(f);
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("ls")), 0);
    assert_int_equal(h_count_lines(r.out, ""), (int)h_std_nfiles + 1); /* a header */
    for (size_t i = 0; i < h_std_nfiles; i++) {
        const char *p = h_src(f, h_std_files[i].name);
        int hits = 0;
        for (const char *line = r.out; line && *line;) {
            size_t len = strcspn(line, "\n"), pl = strlen(p);
            hits += len > pl && strncmp(line + len - pl - 1, h_fmt(" %s", p), pl + 1) == 0;
            line = line[len] ? line + len + 1 : NULL;
        }
        if (hits != 1)
            fail_msg("ls lists %s %d times:\n%s", p, hits, r.out);
    }
    h_result_free(&r);
    H_PASS(f);
}

/* ---- warm, evict, flush ------------------------------------------------------- */
static void test_warm_then_all_hits(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("warm", f->src)), 0);
    assert_non_null(strstr(r.out, h_fmt("warmed %zu files", h_std_nfiles)));
    h_result_free(&r);
    /* warm returns when the files are in (and the directories' listings) */
    assert_int_equal(h_stat(&f->d, "entries") - h_stat(&f->d, "meta_entries"),
                     (long long)h_std_nfiles);
    assert_true(h_stat(&f->d, "dir_entries") >= 1);

    struct h_stats s0, s1;
    assert_int_equal(h_stats(&f->d, &s0), 0);
    const char *argv[40];
    h_probe_std_argv(f, "where", argv);
    h_shim(f, &r, NULL, argv);
    assert_int_equal(h_stats(&f->d, &s1), 0);
    h_assert_ok(&r, "first shimmed pass after warm");
    const char *line = r.out;
    for (size_t i = 0; i < h_std_nfiles; i++) {
        char w[H_PATH_MAX];
        snprintf(w, sizeof w, "%.*s", (int)strcspn(line, "\n"), line);
        h_assert_in_tier(w, f->d.dir, h_std_files[i].name);
        line += strcspn(line, "\n") + 1;
    }
    assert_int_equal(s1.hits - s0.hits, (long long)h_std_nfiles);
    assert_int_equal(s1.misses - s0.misses, 0);
    h_result_free(&r);

    /* warming again: already cached */
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("warm", h_src(f, "one"))), 0);
    assert_non_null(strstr(r.out, "1 already cached"));
    h_result_free(&r);
    /* nothing there: exit 1 and a message */
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("warm", h_src(f, "missing"))), 1);
    assert_true(r.err_len > 0);
    h_result_free(&r);
    H_PASS(f);
}

static void test_evict_and_flush(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    const char *p = h_src(f, "k100.bin");
    long long n = (long long)h_std_nfiles;
    h_cache_std(f);
    h_assert_where(f, p, true, "before evict");

    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("evict", p)), 0);
    assert_string_equal(r.out, "removed 1 entry\n");
    h_result_free(&r);
    assert_int_equal(h_stat(&f->d, "entries"), n - 1);
    long long misses = h_stat(&f->d, "misses");
    h_assert_where(f, p, false, "the next open after evict");
    assert_int_equal(h_stat(&f->d, "misses"), misses + 1);
    h_assert_where(f, h_src(f, "page.bin"), true, "another file after evict");

    /* a directory evicts everything below it */
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("evict", h_src(f, "sub"))), 0);
    assert_string_equal(r.out, "removed 1 entry\n");
    h_result_free(&r);
    h_assert_where(f, h_src(f, "sub/dir/nested.bin"), false, "after evicting its directory");

    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("flush")), 0);
    assert_int_equal(h_stat(&f->d, "entries"), 0);
    assert_int_equal(h_stat(&f->d, "bytes"), 0);
    h_result_free(&r);
    h_assert_where(f, h_src(f, "page.bin"), false, "after flush");
    /* and the tier fills again */
    h_cache_std(f);
    h_assert_where(f, h_src(f, "page.bin"), true, "after flush and a new first pass");
    H_PASS(f);
}

/* ---- stop, exec ---------------------------------------------------------------- */
static void test_stop(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    h_cache_std(f);
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("stop")), 0);
    h_result_free(&r);
    /* stop returns once the daemon is gone: exited 0, directory removed */
    struct stat st;
    assert_int_equal(stat(f->d.dir, &st), -1);
    uint64_t end = h_now_ms() + 5000;
    while (h_daemon_alive(&f->d) && h_now_ms() < end)
        h_sleep_ms(10);
    assert_false(h_daemon_alive(&f->d));
    assert_int_equal(f->d.exit_code, 0);
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("stats")), 1);
    h_result_free(&r);
    /* programs carry on without it */
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", h_src(f, "text.txt")));
    h_assert_ok(&r, "cat after stop");
    unsigned char *want = h_file_bytes(h_std("text.txt"));
    h_assert_bytes(r.out, r.out_len, want, h_std("text.txt")->size, "cat after stop");
    free(want);
    h_result_free(&r);
    H_PASS(f);
}

static void test_exec_starts_daemon(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    const struct h_file *file = h_std("m3.bin");
    const char *p = h_src(f, file->name);
    unsigned char *want = h_file_bytes(file);
    const char *const argv[] = {h_shmd(), "exec", "--dir", f->d.dir, "--settle-ms", "0",
                                "--revalidate-ms", "200", "-p", f->src, "--", "cat", p, NULL};

    assert_int_equal(h_stat(&f->d, "entries"), -1); /* no daemon yet */
    h_run(&r, NULL, argv, 20000);
    h_assert_ok(&r, "shmd exec (starting a daemon)");
    h_assert_bytes(r.out, r.out_len, want, file->size, "cat under shmd exec");
    h_result_free(&r);

    /* a daemon now runs for the instance, with the options given, under
     * its own name (ps, pkill and the harness's cleanup look for "shmd") */
    long long dpid = h_stat(&f->d, "pid");
    assert_true(dpid > 1);
    size_t n = 0;
    unsigned char *comm = h_read_file(h_fmt("/proc/%lld/comm", dpid), &n);
    assert_non_null(comm);
    if (n < 5 || memcmp(comm, "shmd\n", 5) != 0)
        fail_msg("the daemon shmd exec started runs as \"%.*s\", not \"shmd\"", (int)n, comm);
    free(comm);
    assert_int_equal(h_stat(&f->d, "settle_ms"), 0);
    assert_int_equal(h_stat(&f->d, "revalidate_ms"), 200);
    assert_true(h_wait_stat_ge(&f->d, "entries", 1, 5000) >= 1);

    /* the second exec uses it: a hit */
    long long hits = h_stat(&f->d, "hits");
    h_run(&r, H_ENV("SHMCACHE_LOG=all"), argv, 20000);
    h_assert_ok(&r, "shmd exec (daemon running)");
    h_assert_bytes(r.out, r.out_len, want, file->size, "cat under shmd exec, second run");
    assert_int_equal(h_count_lines(r.err, "HIT "), 1);
    assert_int_equal(h_stat(&f->d, "hits"), hits + 1);
    h_result_free(&r);

    /* the command's exit status is exec's */
    const char *const fail_argv[] = {h_shmd(), "exec", "--dir", f->d.dir, "-p", f->src, "--",
                                     "sh", "-c", "exit 7", NULL};
    assert_int_equal(h_run(&r, NULL, fail_argv, 20000), 7);
    h_result_free(&r);

    /* a prefix that does not exist is kept, and said (issue 12) */
    const char *const typo_argv[] = {h_shmd(), "exec", "--dir", f->d.dir, "-p", f->src, "-p",
                                     "/does-not-exist", "--", "true", NULL};
    assert_int_equal(h_run(&r, NULL, typo_argv, 20000), 0);
    if (h_count_lines(r.err, "warning: prefix /does-not-exist: No such file or directory") != 1 ||
        h_count_lines(r.err, f->src) != 0)
        fail_msg("shmd exec -p /does-not-exist:\n%s", r.err);
    h_result_free(&r);
    free(want);
    H_PASS(f); /* teardown stops the daemon through its lock file */
}

/* The daemon shmd exec starts holds none of the caller's descriptors: a
 * command substitution and a pipe end with the command (before, they
 * waited for `shmd stop`: the daemon held the caller's stderr); it logs to
 * DIR/log; a daemon started for a command that cannot be run is stopped
 * (127), and options given for a daemon that already runs are said to be
 * not applied. */
static void test_exec_leaves_caller_alone(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    const char *p = h_src(f, "greeting");
    assert_int_equal(h_write_str(p, "hello\n"), 0);
    /* the harness reads the command's stdout and stderr to their ends: a
     * daemon holding either would keep h_run waiting for the 20 s limit */
    h_run(&r, NULL,
          H_ARGV("/bin/sh", "-c",
                 "out=$(\"$1\" exec --dir \"$2\" -p \"$3\" -- cat \"$4\" 2>&1); "
                 "printf '%s' \"$out\" | cat; exec 9>&2; \"$1\" exec --dir \"$2\" -p \"$3\" -- true",
                 "sh", h_shmd(), f->d.dir, f->src, p),
          20000);
    if (r.code == -1)
        fail_msg("a command substitution of shmd exec waited for the daemon (timed out)");
    h_assert_ok(&r, "shmd exec in $(...)");
    assert_string_equal(r.out, "hello");
    h_result_free(&r);
    long long dpid = h_stat(&f->d, "pid");
    assert_true(dpid > 1);
    /* its descriptors: /dev/null, its own files and sockets, nothing else */
    struct h_result ls;
    h_run(&ls, NULL, H_ARGV("/bin/sh", "-c", h_fmt("ls -l /proc/%lld/fd", dpid)), 10000);
    h_assert_ok(&ls, "ls of the daemon's descriptors");
    for (const char *l = ls.out; (l = strstr(l, "-> ")); l += 3) {
        const char *t = l + 3;
        bool ok = !strncmp(t, "/dev/null", 9) || !strncmp(t, f->d.dir, strlen(f->d.dir)) ||
                  !strncmp(t, "socket:", 7) || !strncmp(t, "anon_inode:", 11);
        if (!ok)
            fail_msg("the daemon shmd exec started holds %.*s", (int)strcspn(t, "\n"), t);
    }
    h_result_free(&ls);
    size_t n;
    unsigned char *log = h_read_file(h_fmt("%s/log", f->d.dir), &n);
    if (!log || !strstr((char *)log, "info: serving "))
        fail_msg("the daemon shmd exec started does not log to %s/log", f->d.dir);
    free(log);

    /* options for the running daemon: not applied, and said so */
    h_run(&r, NULL, H_ARGV(h_shmd(), "exec", "--dir", f->d.dir, "--capacity", "64M", "-p", f->src,
                           "--", "true"), 20000);
    h_assert_ok(&r, "shmd exec --capacity with a daemon running");
    if (!strstr(r.err, "--capacity not applied (it runs with 1.0 GiB)"))
        fail_msg("shmd exec --capacity with a daemon running said \"%s\"", r.err);
    h_result_free(&r);
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("stop")), 0);
    h_result_free(&r);
    f->d.pid = 0;

    /* a command that cannot be run: 127, and no daemon left for it */
    for (int i = 0; i < 100 && h_stat(&f->d, "pid") > 0; i++)
        h_sleep_ms(50);
    assert_int_equal(h_run(&r, NULL, H_ARGV(h_shmd(), "exec", "--dir", f->d.dir, "-p", f->src,
                                            "--", "/nonexistent/cmd"), 20000),
                     127);
    h_result_free(&r);
    assert_int_equal(h_stat(&f->d, "pid"), -1);
    H_PASS(f);
}

/* --idle-exit: the daemon stops once no shimmed process has been attached
 * for that long, and not while one is. */
static void test_exec_idle_exit(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    const char *p = h_src(f, "one");
    /* a shimmed process attached for 3 s, with --idle-exit 1 */
    h_run(&r, NULL, H_ARGV(h_shmd(), "exec", "--dir", f->d.dir, "--idle-exit", "1", "-p", f->src,
                           "--", "sh", "-c", "cat \"$1\" >/dev/null; exec sleep 3", "sh", p),
          20000);
    /* (sh attached at its first open; sleep, exec'd, attaches at none:
     * the daemon may go during the sleep; what counts is after) */
    h_assert_ok(&r, "shmd exec --idle-exit 1");
    h_result_free(&r);
    uint64_t end = h_now_ms() + 10000;
    while (h_stat(&f->d, "pid") > 0) {
        if (h_now_ms() > end)
            fail_msg("the daemon with --idle-exit 1 still runs 10 s after its last process");
        h_sleep_ms(100);
    }
    /* while a process is attached, it stays */
    h_run(&r, NULL, H_ARGV(h_shmd(), "exec", "--dir", f->d.dir, "--idle-exit", "1", "-p", f->src,
                           "--", h_python(), "-c",
                           "import sys, time, subprocess\n"
                           "open(sys.argv[1]).read()\n"
                           "for i in range(4):\n"
                           "    time.sleep(0.75)\n"
                           "    if subprocess.run([sys.argv[2], 'stats', '--dir', sys.argv[3]],\n"
                           "                      capture_output=True).returncode:\n"
                           "        print('gone while attached'); break\n"
                           "else:\n"
                           "    print('stayed')\n",
                           p, h_shmd(), f->d.dir),
          20000);
    h_assert_ok(&r, "an attached process under --idle-exit 1");
    assert_string_equal(r.out, "stayed\n");
    h_result_free(&r);
    H_PASS(f);
}

/* ---- SHMCACHE_LOG ------------------------------------------------------------ */
static void test_log_levels(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "page.bin"), *q = h_src(f, "one");
    const char *const argv[] = {h_probe(), "cat", p, "+", "cat", q, NULL};
    struct h_result r;
    h_cache_std(f);
    assert_int_equal(h_write_str(h_src(f, "fresh"), "fresh\n"), 0);
    const char *const argv2[] = {h_probe(), "cat", p, "+", "cat", h_src(f, "fresh"), NULL};

    h_shim(f, &r, H_ENV("SHMCACHE_LOG=all"), argv);
    h_assert_ok(&r, "SHMCACHE_LOG=all");
    assert_string_equal(r.err, h_fmt("shmcache[%d]: HIT %s\nshmcache[%d]: HIT %s\n",
                                     (int)strtol(r.err + 9, NULL, 10), p,
                                     (int)strtol(r.err + 9, NULL, 10), q));
    h_result_free(&r);
    h_shim(f, &r, H_ENV("SHMCACHE_LOG=miss"), argv2);
    h_assert_ok(&r, "SHMCACHE_LOG=miss");
    assert_int_equal(h_count_lines(r.err, ""), 1);
    assert_non_null(strstr(r.err, h_fmt("MISS %s\n", h_src(f, "fresh"))));
    h_result_free(&r);
    for (int i = 0; i < 2; i++) {
        h_shim(f, &r, i ? H_ENV("SHMCACHE_LOG=off") : NULL, argv2);
        h_assert_ok(&r, "SHMCACHE_LOG=off");
        assert_string_equal(r.err, "");
        h_result_free(&r);
    }
    H_PASS(f);
}

/* ---- bad environment -------------------------------------------------------- */
/* Run probe cat (with where) under env: output right, exactly one line on
 * stderr mentioning var. Returns whether the open was served by the tier. */
static bool one_warning(struct h_fix *f, const char *const *env, const char *var)
{
    const struct h_file *file = h_std("k100.bin");
    const char *p = h_src(f, file->name);
    struct h_result r;
    h_shim(f, &r, env, H_ARGV(h_probe(), "cat", p, "+", "where", p));
    h_assert_ok(&r, h_fmt("probe with bad %s", var));
    unsigned char *want = h_file_bytes(file);
    assert_true(r.out_len > file->size);
    h_assert_bytes(r.out, file->size, want, file->size, h_fmt("cat with bad %s", var));
    free(want);
    if (h_count_lines(r.err, "") != 1 || !strstr(r.err, var) || strncmp(r.err, "shmcache[", 9))
        fail_msg("bad %s: expected exactly one warning line from the shim, got:\n%s", var, r.err);
    bool tier = strncmp(r.out + file->size, f->d.dir, strlen(f->d.dir)) == 0;
    h_result_free(&r);
    return tier;
}

static void test_bad_env_warns_once(void **state)
{
    struct h_fix *f = *state;
    h_cache_std(f);
    /* refused values whose setting stays inert: the shim still serves */
    assert_true(one_warning(f, H_ENV("SHMCACHE_LOG=bogus"), "SHMCACHE_LOG"));
    assert_true(one_warning(f, H_ENV("SHMCACHE_VALIDATE=sometimes"), "SHMCACHE_VALIDATE"));
    /* refused values that turn the shim off */
    assert_false(one_warning(f, H_ENV("SHMCACHE_DISABLE=maybe"), "SHMCACHE_DISABLE"));
    assert_false(one_warning(f, H_ENV(h_fmt("SHMCACHE_PREFIX=%s:relative/dir", f->src)),
                             "SHMCACHE_PREFIX"));
    assert_false(one_warning(f, H_ENV("SHMCACHE_DIR=not/absolute"), "SHMCACHE_DIR"));
    assert_false(one_warning(f, H_ENV("SHMCACHE_DIR", "SHMCACHE_NAME=bad/name"), "SHMCACHE_NAME"));

    /* a real program too */
    struct h_result r;
    h_shim(f, &r, H_ENV("SHMCACHE_LOG=bogus"), H_ARGV("cat", h_src(f, "text.txt")));
    h_assert_ok(&r, "cat with SHMCACHE_LOG=bogus");
    unsigned char *want = h_file_bytes(h_std("text.txt"));
    h_assert_bytes(r.out, r.out_len, want, h_std("text.txt")->size, "cat with SHMCACHE_LOG=bogus");
    assert_int_equal(h_count_lines(r.err, ""), 1);
    free(want);
    h_result_free(&r);
    H_PASS(f);
}

/* With SHMCACHE_LOG set, a shim that cannot use a tier says why, once per
 * process, the first time a path under a prefix is used; without it, not a
 * word. (The not-trusted cases already warn always: test_security.) */
static void says_why(struct h_fix *f, const char *const *env, const char *const *argv,
                     const char *want, const char *what)
{
    struct h_result r;
    h_run(&r, h_shim_env(f, env), h_wrapped(f->wrap, argv), 20000);
    h_assert_ok(&r, what);
    if (h_count_lines(r.err, "shmcache[") != 1 || !strstr(r.err, want))
        fail_msg("%s: the shim said \"%s\", expected one line with \"%s\"", what, r.err, want);
    h_result_free(&r);
}

static void test_idle_shim_says_why(void **state)
{
    struct h_fix *f = *state;
    const char *const three[] = {"/bin/cat", h_xstrdup(h_src(f, "one")),
                                 h_xstrdup(h_src(f, "text.txt")),
                                 h_xstrdup(h_src(f, "page.bin")), NULL};
    struct h_result r;

    /* no daemon: silent without SHMCACHE_LOG */
    h_run(&r, h_shim_env(f, NULL), three, 20000);
    h_assert_ok(&r, "no daemon, no SHMCACHE_LOG");
    assert_int_equal(r.err_len, 0);
    h_result_free(&r);
    says_why(f, H_ENV("SHMCACHE_LOG=miss"), three,
             h_fmt("not caching: no daemon for %s", f->d.dir), "no daemon");
    says_why(f, H_ENV("SHMCACHE_LOG=miss", "SHMCACHE_DISABLE=1"), three, "off: SHMCACHE_DISABLE=1",
             "SHMCACHE_DISABLE=1");
    says_why(f, H_ENV("SHMCACHE_LOG=miss", "SHMCACHE_PREFIX="), three,
             "off: SHMCACHE_PREFIX is not set", "no prefix");
    says_why(f, H_ENV("SHMCACHE_PREFIX=::"), three, "SHMCACHE_PREFIX=\"::\" names no directory",
             "SHMCACHE_PREFIX=::");

    /* a daemon that does not run: stopped (SIGSTOP) for longer than the
     * heartbeat allows */
    assert_int_equal(h_daemon_start(&f->d), 0);
    h_cache_std(f);
    kill(f->d.pid, SIGSTOP);
    h_sleep_ms(2500);
    says_why(f, H_ENV("SHMCACHE_LOG=miss"), three, "is not running", "a stopped daemon");
    kill(f->d.pid, SIGCONT);

    /* the README's trap: the daemon of that name runs as another user */
    if (h_is_root()) {
        struct h_fix nf = *f;
        static const char *const nobody[] = {"setpriv", "--reuid=65534", "--regid=65534",
                                             "--clear-groups", NULL};
        nf.wrap = nobody;
        char name[64];
        snprintf(name, sizeof name, "whytest%d", (int)getpid());
        assert_int_equal(mkdir(h_fmt("/dev/shm/shmcache-0-%s", name), 0700), 0);
        says_why(&nf, H_ENV("SHMCACHE_LOG=miss", "SHMCACHE_DIR", h_fmt("SHMCACHE_NAME=%s", name)),
                 three, h_fmt("one runs as uid 0 (/dev/shm/shmcache-0-%s)", name),
                 "the daemon as another user");
        rmdir(h_fmt("/dev/shm/shmcache-0-%s", name));
    }
    for (int i = 1; i < 4; i++)
        free((char *)three[i]);
    H_PASS(f);
}

/* shmd why: the prefix, the instance, the entry and the refusals. */
static void test_why(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    h_cache_std(f);
    const char *big = h_xstrdup(h_src(f, "too-big.bin"));
    assert_int_equal(h_write_file(big, "", 0), 0);
    assert_int_equal(truncate(big, 20 << 20), 0); /* above --max-file (16 MiB) */
    h_shim(f, &r, NULL, H_ARGV("/bin/cat", big));
    h_assert_ok(&r, "cat of a file above --max-file");
    h_result_free(&r);
    assert_true(h_wait_stat_ge(&f->d, "fail_too_large", 1, 5000) >= 1);

    const char *env[] = {h_fmt("SHMCACHE_PREFIX=%s", f->src), h_fmt("SHMCACHE_DIR=%s", f->d.dir),
                         NULL};
    const char *e0 = h_xstrdup(env[0]), *e1 = h_xstrdup(env[1]);
    const char *const wenv[] = {e0, e1, NULL};
    assert_int_equal(h_run(&r, wenv, H_ARGV(h_shmd(), "why", h_src(f, "one")), 10000), 0);
    if (!strstr(r.out, h_fmt("prefix     under %s\n", f->src)) || !strstr(r.out, "tier       a copy, "))
        fail_msg("shmd why of a cached file said:\n%s", r.out);
    h_result_free(&r);
    assert_int_equal(h_run(&r, wenv, H_ARGV(h_shmd(), "why", big), 10000), 1);
    if (!strstr(r.out, "refused    its copy, ") || !strstr(r.out, ": too-large\n"))
        fail_msg("shmd why of a file above --max-file said:\n%s", r.out);
    h_result_free(&r);
    assert_int_equal(h_run(&r, wenv, H_ARGV(h_shmd(), "why", "/etc/hostname"), 10000), 1);
    if (!strstr(r.out, "not under SHMCACHE_PREFIX"))
        fail_msg("shmd why of a path outside the prefixes said:\n%s", r.out);
    h_result_free(&r);
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("stop")), 0);
    h_result_free(&r);
    f->d.pid = 0;
    assert_int_equal(h_run(&r, wenv, H_ARGV(h_shmd(), "why", h_src(f, "one")), 10000), 1);
    if (!strstr(r.out, "daemon     none answers there"))
        fail_msg("shmd why without a daemon said:\n%s", r.out);
    h_result_free(&r);
    free((char *)big);
    free((char *)e0);
    free((char *)e1);
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_flags, h_fix_setup_nodaemon, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_command_forms, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_stale_instance_hint, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_stats_human_and_json, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_ls_lists_cached_paths, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_warm_then_all_hits, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_evict_and_flush, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_stop, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_exec_starts_daemon, h_fix_setup_nodaemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_exec_leaves_caller_alone, h_fix_setup_nodaemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_exec_idle_exit, h_fix_setup_nodaemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_idle_shim_says_why, h_fix_setup_nodaemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_why, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_log_levels, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_bad_env_warns_once, h_fix_setup, h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: cli", tests, h_group_setup,
                                       h_group_teardown);
}
