/* test_cli_output.c - what an operator reads and scripts rely on: the stats
 * table, --json, --prometheus (the text exposition format, checked line by
 * line), --watch --count, ls with hits and --sort and --json (a file name
 * with a newline survives), warm --from (a manifest, stdin), skipped files
 * reported with their reason, exit codes. JSON is checked with Python's own
 * parser, so "valid JSON" means what it says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/harness.h"

static int setup_small_max(void **state)
{
    static const char *const args[] = {"--settle-ms", "0", "--revalidate-ms", "200",
                                       "--capacity", "64M", "--max-file", "1M", NULL};
    return h_fix_new(state, args, true) ? 0 : -1;
}

/* `shmd CMD --dir D ARGS...` must exit 0; returns its stdout (owned by r). */
static const char *ok(struct h_fix *f, struct h_result *r, const char *const *args)
{
    int code = h_shmd_cmd(&f->d, r, args);
    if (code != 0)
        fail_msg("shmd %s: exit %d; stderr:\n%s", args[0], code, r->err);
    return r->out;
}

/* Run python3 -c script with text on stdin (through sh); must print "ok". */
static void python_check(const char *script, const char *input, const char *what)
{
    char tmp[] = "/tmp/shmcache-it-py-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, input, strlen(input)), (ssize_t)strlen(input));
    close(fd);
    struct h_result r;
    h_run(&r, NULL, H_ARGV("sh", "-c", h_fmt("%s -c \"$0\" < %s", h_python(), tmp), script), 20000);
    unlink(tmp);
    if (r.code != 0 || strcmp(r.out, "ok\n") != 0)
        fail_msg("%s: python said %s%s\ninput:\n%.2000s", what, r.out, r.err, input);
    h_result_free(&r);
}

static void test_stats_table(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    static const char *const keys[] = {"instance", "entries", "memory", "bytes", "hits", "misses",
                                       "hit ratio", "loads", "load failures", "evictions",
                                       "invalidations"};

    h_cache_std(f);
    h_assert_where(f, h_src(f, "page.bin"), true, "a hit");
    const char *out = ok(f, &r, H_ARGV("stats"));
    const char *line = out;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        line = strstr(line, keys[i]);
        if (!line)
            fail_msg("stats table: no \"%s\" line (in order):\n%s", keys[i], out);
        const char *bol = line;
        while (bol > out && bol[-1] != '\n')
            bol--;
        if (bol != line || strlen(line) < 16 || line[15] != ' ' || line[16] == ' ')
            fail_msg("stats table: \"%s\" not aligned at column 16:\n%s", keys[i], out);
    }
    if (!strstr(out, " of ") || !strstr(out, "%)") || !strstr(out, "up "))
        fail_msg("stats table: memory as \"X of Y (Z%%)\" and uptime expected:\n%s", out);
    h_result_free(&r);
    H_PASS(f);
}

static void test_stats_json_and_prometheus(void **state)
{
    struct h_fix *f = *state;
    struct h_result rj, rp;

    h_cache_std(f);
    ok(f, &rj, H_ARGV("stats", "--json"));
    python_check("import json, sys\n"
                 "d = json.load(sys.stdin)\n"
                 "need = ['hits', 'misses', 'entries', 'bytes', 'capacity', 'evictions',\n"
                 "        'invalidations', 'loads', 'load_failures', 'memory']\n"
                 "assert all(isinstance(d[k], int) for k in need), d\n"
                 "assert d['entries'] == 7 and isinstance(d['dir'], str)\n"
                 "print('ok')\n",
                 rj.out, "stats --json");
    ok(f, &rp, H_ARGV("stats", "--prometheus"));
    python_check("import re, sys\n"
                 "sample = re.compile(r'^(shmcache_[a-z_]+)\\{dir=\"(?:[^\"\\\\\\n]|\\\\.)*\"'\n"
                 "                    r'(,reason=\"[a-z_]+\")?\\} [0-9]+$')\n"
                 "declared, seen = set(), {}\n"
                 "for line in sys.stdin.read().splitlines():\n"
                 "    if line.startswith('# HELP ') or line.startswith('# TYPE '):\n"
                 "        parts = line.split(' ')\n"
                 "        if parts[1] == 'TYPE':\n"
                 "            assert parts[3] in ('counter', 'gauge'), line\n"
                 "            declared.add(parts[2])\n"
                 "        continue\n"
                 "    m = sample.match(line)\n"
                 "    assert m, 'bad line: ' + line\n"
                 "    assert m.group(1) in declared, 'no TYPE before ' + line\n"
                 "    seen[m.group(1)] = seen.get(m.group(1), 0) + 1\n"
                 "assert seen['shmcache_load_failures_total'] >= 9, seen\n"
                 "for name in ('hits_total', 'misses_total', 'entries', 'memory_bytes',\n"
                 "             'capacity_bytes', 'evictions_total', 'uptime_seconds'):\n"
                 "    assert seen.get('shmcache_' + name) == 1, name\n"
                 "print('ok')\n",
                 rp.out, "stats --prometheus");
    /* the same numbers in both */
    long long hits = h_json_num(rj.out, "hits");
    if (!strstr(rp.out, h_fmt("shmcache_hits_total{dir=\"%s\"} %lld\n", f->d.dir, hits)))
        fail_msg("prometheus hits differ from JSON (%lld):\n%s", hits, rp.out);
    h_result_free(&rj);
    h_result_free(&rp);
    H_PASS(f);
}

static void test_stats_watch(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;

    uint64_t t0 = h_now_ms();
    const char *out = ok(f, &r, H_ARGV("stats", "--watch", "--count", "3"));
    uint64_t took = h_now_ms() - t0;
    assert_int_equal(h_count_lines(out, "instance"), 3);   /* three tables */
    assert_int_equal(h_count_lines(out, "last second"), 2); /* rates after the first */
    if (took < 1800)
        fail_msg("--watch --count 3 took %llu ms: not once a second", (unsigned long long)took);
    h_result_free(&r);
    out = ok(f, &r, H_ARGV("stats", "--json", "--count", "2"));
    assert_int_equal(h_count_lines(out, "\"hits\""), 2);
    h_result_free(&r);
    H_PASS(f);
}

static void test_ls_sort_and_json(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    const char *odd = h_src(f, "nl\nname.txt");

    assert_int_equal(h_write_str(odd, "a file whose name has a newline\n"), 0);
    h_cache_std(f);
    h_cache(f, H_ARGV(odd), (long long)h_std_nfiles + 1);
    for (int i = 0; i < 5; i++)
        h_assert_where(f, h_src(f, "page.bin"), true, "hits on page.bin");

    const char *out = ok(f, &r, H_ARGV("ls"));
    if (strncmp(out, "      SIZE      AGE       HITS  KIND    PATH\n", 45) != 0)
        fail_msg("ls header:\n%s", out);
    const char *first = strchr(out, '\n') + 1;
    if (!strstr(first, "page.bin\n") || strstr(first, "page.bin\n") > strchr(first, '\n') + 1)
        fail_msg("ls (default --sort hits): page.bin is not first:\n%s", out);
    if (!strstr(out, "nl\\x0aname.txt"))
        fail_msg("ls: a newline in a name is not escaped:\n%s", out);
    h_result_free(&r);

    out = ok(f, &r, H_ARGV("ls", "--sort", "size"));
    first = strchr(out, '\n') + 1;
    if (strstr(first, "m3.bin") > strchr(first, '\n'))
        fail_msg("ls --sort size: the 3 MiB file is not first:\n%s", out);
    h_result_free(&r);

    ok(f, &r, H_ARGV("ls", "--json", "--sort", "path"));
    python_check(h_fmt("import json, sys\n"
                       "e = json.load(sys.stdin)\n"
                       "assert len(e) == %zu, len(e)\n"
                       "paths = [x['path'] for x in e]\n"
                       "assert paths == sorted(paths), paths\n"
                       "assert %s in paths, paths\n"
                       "hot = [x for x in e if x['path'].endswith('/page.bin')][0]\n"
                       "assert hot['hits'] >= 5 and hot['size'] == 4096, hot\n"
                       "assert hot['kind'] == 'file', hot\n"
                       "assert all(isinstance(x['age_ms'], int) for x in e)\n"
                       "print('ok')\n",
                       h_std_nfiles + 1, h_fmt("'%s/nl\\nname.txt'", f->src)),
                 r.out, "ls --json");
    h_result_free(&r);
    H_PASS(f);
}

static void test_warm_from_manifest(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    char manifest[H_PATH_MAX + 32];

    snprintf(manifest, sizeof manifest, "%s/manifest", f->tmp);
    assert_int_equal(h_write_str(manifest, h_fmt("# what the app reads at start\n\n%s\n%s\n%s\n",
                                                 h_src(f, "page.bin"), h_src(f, "sub"),
                                                 h_src(f, "m3.bin"))),
                     0);
    int code = h_shmd_cmd(&f->d, &r, H_ARGV("warm", "--from", manifest));
    assert_int_equal(code, 0); /* a skipped file is reported, not an error */
    if (!strstr(r.out, "warmed 2 files") || !strstr(r.out, "1 skipped"))
        fail_msg("warm --from: summary:\n%s", r.out);
    if (!strstr(r.err, h_fmt("skipped too-large %s", h_src(f, "m3.bin"))))
        fail_msg("warm --from: the too-large file and its reason are not reported:\n%s", r.err);
    if (strchr(r.err, '\r'))
        fail_msg("warm: a progress bar on a stream that is not a terminal:\n%s", r.err);
    h_result_free(&r);

    /* from standard input; and what is already there is said so */
    h_run(&r, NULL,
          H_ARGV("sh", "-c", "printf '%s\\n' \"$1\" | \"$0\" warm --dir \"$2\" --from -", h_shmd(),
                 h_src(f, "page.bin"), f->d.dir),
          20000);
    assert_int_equal(r.code, 0);
    if (!strstr(r.out, "warmed 0 files") || !strstr(r.out, "1 already cached"))
        fail_msg("warm --from -: summary:\n%s", r.out);
    h_result_free(&r);

    /* a missing operand: exit 1 and its name, the rest still warmed */
    code = h_shmd_cmd(&f->d, &r, H_ARGV("warm", h_src(f, "no-such-file"), h_src(f, "text.txt")));
    assert_int_equal(code, 1);
    if (!strstr(r.err, "no-such-file") || !strstr(r.out, "warmed 1 file "))
        fail_msg("warm with a missing operand:\nout: %s\nerr: %s", r.out, r.err);
    h_result_free(&r);
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stats_table, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_stats_json_and_prometheus, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_stats_watch, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_ls_sort_and_json, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_warm_from_manifest, setup_small_max, h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: CLI outputs", tests, h_group_setup,
                                       h_group_teardown);
}
