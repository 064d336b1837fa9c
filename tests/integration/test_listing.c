/* test_listing.c - directory listings from the tier (issue 11; the
 * objects are described in tier/listing.h, the hooks in preload/dir.c):
 *
 *   - parity: dirprobe (tests/helpers/dirprobe.c: opendir, readdir in the
 *     stream's order with d_ino and d_type, telldir/seekdir, rewinddir,
 *     readdir_r, readdir64, scandir with a filter and alphasort,
 *     scandir64, scandirat, dirfd with fstat and openat through it, and
 *     the errno of each failing call; "." and ".." apart: where they come
 *     is the one thing not kept) over directories of every kind of
 *     name (files, directories, symlinks, a dangling one, a fifo, a
 *     socket, names with spaces, a newline, UTF-8 and 255 bytes, a few
 *     hundred in creation order), a symlink to a directory, a file, a
 *     missing path and one under a file: byte-identical without the shim
 *     and three times with it, the last served from the tier (dir_hits);
 *     as nobody too, with a directory nobody may search but not read;
 *   - python3's os.listdir and os.scandir, node's fs.readdirSync, print
 *     the same with and without the shim, and are served from the tier;
 *   - changes through the shim (create, mkdir, rename, remove, symlink,
 *     link) are in the next listing of any process at once;
 *   - changes behind the cache (no shim) are in a listing within
 *     --negative-ms (bound asserted generously: 5 s for 500 ms);
 *   - a stream open on a snapshot keeps every name (of a listing larger
 *     than one getdents buffer) while the daemon wants to remove it, and
 *     the snapshot is removed after the stream is closed;
 *   - `shmd ls` shows the listing's kind, `shmd stats` counts it
 *     (dir_entries, memory), and `shmd evict` removes it and its objects;
 *   - `shmd warm` of a tree records every directory's listing and the other
 *     paths' metadata: a program's first run is served them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tests/lib/harness.h"

static const char *const list_args[] = {"--settle-ms", "0", "--revalidate-ms", "0",
                                        "--negative-ms", "3600000", "--capacity", "64M",
                                        "--log-level", "debug", NULL};
static const char *const behind_args[] = {"--settle-ms", "0", "--revalidate-ms", "0",
                                          "--negative-ms", "500", "--capacity", "64M",
                                          "--log-level", "debug", NULL};

static const char *const as_nobody[] = {"setpriv", "--reuid=65534", "--regid=65534",
                                        "--clear-groups", NULL};

static char g_dirprobe[H_PATH_MAX];

static int group_setup(void **state)
{
    if (h_group_setup(state) < 0)
        return -1;
    snprintf(g_dirprobe, sizeof g_dirprobe, "%s", h_helper("dirprobe"));
    if (access(g_dirprobe, X_OK) < 0) {
        print_error("test_listing: %s is missing: make build/tests/helpers/dirprobe\n",
                    g_dirprobe);
        return -1;
    }
    return 0;
}

static int setup_list(void **state)
{
    return h_fix_new(state, list_args, true) ? 0 : -1;
}

static int setup_behind(void **state)
{
    return h_fix_new(state, behind_args, true) ? 0 : -1;
}

/* Run argv with or without the shim (f->wrap in front); its stdout,
 * malloc'd; asserts it exited 0. */
static char *run(struct h_fix *f, bool shim, const char *const *argv, const char *what)
{
    struct h_result r;
    if (shim)
        h_shim(f, &r, NULL, argv);
    else
        h_plain(f, &r, argv);
    if (r.code != 0)
        fail_msg("%s: %s %s the shim exited %d: %s", what, argv[0], shim ? "with" : "without",
                 r.code, r.err);
    char *out = r.out;
    r.out = NULL;
    h_result_free(&r);
    return out;
}

/* The first line where a and b differ, for a failure message. */
static const char *first_difference(const char *a, const char *b)
{
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') {
            la = a + 1;
            lb = b + 1;
        }
        a++;
        b++;
    }
    return h_fmt("without the shim: \"%.*s\"; with it: \"%.*s\"", (int)strcspn(la, "\n"), la,
                 (int)strcspn(lb, "\n"), lb);
}

/* Run argv under the shim until the daemon holds at least n listings
 * (a burst of notices can overflow the daemon's socket queue: the shim
 * drops what does not fit, counted in misses_unsent; the next run asks
 * again). */
static void prime_listings(struct h_fix *f, const char *const *argv, long long n,
                           const char *what)
{
    uint64_t end = h_now_ms() + 15000;
    for (;;) {
        free(run(f, true, argv, what));
        if (h_wait_stat_ge(&f->d, "dir_entries", n, 500) >= n)
            return;
        if (h_now_ms() > end)
            fail_msg("%s: fewer than %lld listings recorded within 15 s", what, n);
    }
}

/* Run argv under the shim until a run is served a listing from the tier
 * (dir_hits grew), at most 10 s; that run's stdout. */
static char *run_until_served(struct h_fix *f, const char *const *argv, const char *what)
{
    uint64_t end = h_now_ms() + 10000;
    for (;;) {
        long long before = h_stat(&f->d, "dir_hits");
        char *out = run(f, true, argv, what);
        if (h_stat(&f->d, "dir_hits") > before)
            return out;
        free(out);
        if (h_now_ms() > end)
            fail_msg("%s: no listing was served from the tier within 10 s", what);
        h_sleep_ms(100);
    }
}

/* ---- a. parity ---------------------------------------------------------------------- */
/* The tree of every kind of name; returns the directories to probe. */
static void make_tree(struct h_fix *f, char *t, size_t tsz)
{
    snprintf(t, tsz, "%.4000s/t", f->src);
    h_mkdir_mode(t, 0755);
    h_put(h_fmt("%s/a", t), "alpha\n");
    h_put(h_fmt("%s/b.py", t), "print('b')\n");
    h_put(h_fmt("%s/with space", t), "s\n");
    h_put(h_fmt("%s/new\nline", t), "n\n");
    h_put(h_fmt("%s/\xc3\xbc-utf8", t), "u\n");
    char longname[256];
    memset(longname, 'L', 255);
    longname[255] = '\0';
    h_put(h_fmt("%s/%s", t, longname), "long\n");
    h_mkdir_mode(h_fmt("%s/sub", t), 0755);
    h_put(h_fmt("%s/sub/inner", t), "inner\n");
    assert_int_equal(symlink("a", h_fmt("%s/lnk", t)), 0);
    assert_int_equal(symlink("nowhere", h_fmt("%s/dangling", t)), 0);
    assert_int_equal(symlink("sub", h_fmt("%s/dirlink", t)), 0);
    assert_int_equal(mkfifo(h_fmt("%s/fifo", t), 0644), 0);
    assert_int_equal(mknod(h_fmt("%s/sock", t), S_IFSOCK | 0644, 0), 0);
    /* a few hundred names: the order is the filesystem's, kept */
    for (int i = 0; i < 300; i++)
        h_put(h_fmt("%s/n%03d-%x", t, i, (unsigned)(i * 2654435761u) >> 20), "x\n");
    /* nobody may search it but not read it */
    h_mkdir_mode(h_fmt("%s/noread", t), 0711);
    h_put(h_fmt("%s/noread/f", t), "f\n");
    h_mkdir_mode(h_fmt("%s/empty", t), 0755);
}

static void test_listing_parity(void **state)
{
    struct h_fix *f = *state;
    char t[H_PATH_MAX];
    make_tree(f, t, sizeof t);
    const char *argv[] = {g_dirprobe, "list", h_xstrdup(t), h_xstrdup(h_fmt("%s/sub", t)),
                          h_xstrdup(h_fmt("%s/dirlink", t)), h_xstrdup(h_fmt("%s/empty", t)),
                          h_xstrdup(h_fmt("%s/noread", t)), h_xstrdup(h_fmt("%s/lnk", t)),
                          h_xstrdup(h_fmt("%s/a", t)), h_xstrdup(h_fmt("%s/missing", t)),
                          h_xstrdup(h_fmt("%s/a/x", t)), h_xstrdup(h_fmt("%s/sub/", t)), NULL};
    char *plain = run(f, false, argv, "parity");
    char *first = run(f, true, argv, "parity");
    prime_listings(f, argv, 5, "parity");
    char *second = run(f, true, argv, "parity");
    long long before = h_stat(&f->d, "dir_hits");
    char *third = run(f, true, argv, "parity");
    long long served = h_stat(&f->d, "dir_hits") - before;
    const char *runs[] = {first, second, third};
    for (int i = 0; i < 3; i++)
        if (strcmp(plain, runs[i]) != 0)
            fail_msg("run %d under the shim lists differently: %s", i + 1,
                     first_difference(plain, runs[i]));
    print_message("    %lld listings served from the tier in the third run\n", served);
    /* each of the five directories (t, sub, dirlink, empty, noread: not
     * "sub/", whose name is no key) twice by opendir, four times by the
     * scandir family and once by fdopendir (also "sub/": its descriptor's
     * path is sub) */
    if (served < 5 * 7 + 1)
        fail_msg("the third run was served %lld listings from the tier, expected at least 36",
                 served);

    free(plain);
    free(first);
    free(second);
    free(third);
    for (int i = 2; argv[i]; i++)
        free((char *)argv[i]);
    H_PASS(f);
}

/* As nobody, the daemon with a group the programs lack (the instance's
 * uid, other groups: the kernel's answer differs by group): a listing of a
 * directory only that group may read is recorded, and a program without
 * the group still gets EACCES; a directory nobody may search but not read
 * is EACCES for both, never recorded. */
static const char *const nobody_daemon[] = {"setpriv", "--reuid=65534", "--regid=65534",
                                            "--groups=100", NULL};

static int setup_nobody(void **state)
{
    if (!h_is_root()) {
        *state = NULL;
        return 0; /* the test skips itself */
    }
    struct h_fix *f = h_fix_new(state, list_args, false);
    if (!f)
        return -1;
    f->wrap = as_nobody;
    f->d.wrap = nobody_daemon;
    return 0;
}

static void test_listing_parity_as_nobody(void **state)
{
    struct h_fix *f = *state;
    if (!f) {
        print_message("    skipped: needs root to run as nobody\n");
        skip();
    }
    char t[H_PATH_MAX];
    make_tree(f, t, sizeof t);
    const char *g = h_xstrdup(h_fmt("%s/grouponly", t));
    h_mkdir_mode(g, 0750);
    h_put(h_fmt("%s/f", g), "f\n");
    assert_int_equal(chown(g, 0, 100), 0);
    if (h_daemon_start(&f->d) < 0)
        fail_msg("the daemon did not start as nobody");
    const char *argv[] = {g_dirprobe, "list", t, h_xstrdup(h_fmt("%s/sub", t)), g,
                          h_xstrdup(h_fmt("%s/noread", t)), NULL};
    char *plain = run(f, false, argv, "parity as nobody");
    if (!strstr(plain, "opendir EACCES"))
        fail_msg("as nobody without group 100, grouponly/ and noread/ should fail with EACCES");
    /* recorded by a run with the group (as the daemon) */
    f->wrap = nobody_daemon;
    prime_listings(f, argv, 3, "parity as nobody, with group 100"); /* t, sub, grouponly */
    f->wrap = as_nobody;
    long long before = h_stat(&f->d, "dir_hits");
    char *shim = run(f, true, argv, "parity as nobody");
    if (strcmp(plain, shim) != 0)
        fail_msg("as nobody the shim lists differently: %s", first_difference(plain, shim));
    if (h_stat(&f->d, "dir_hits") <= before)
        fail_msg("as nobody nothing was served from the tier");
    free(plain);
    free(shim);
    free((char *)argv[3]);
    free((char *)argv[5]);
    free((char *)g);
    H_PASS(f);
}

/* ---- b. real programs ------------------------------------------------------------------ */
static const char py_lister[] =
    "import os, sys\n"
    "for p in sys.argv[1:]:\n"
    "    print('listdir', p, os.listdir(p))\n"
    "    for e in os.scandir(p):\n"
    "        print(' ', e.name, e.inode(), e.is_dir(follow_symlinks=False),\n"
    "              e.is_file(follow_symlinks=False), e.is_symlink(), e.is_dir())\n"
    "    print('walk', [(d, sorted(ds), sorted(fs)) for d, ds, fs in os.walk(p)])\n";

static const char js_lister[] =
    "const fs = require('fs');\n"
    "for (const p of process.argv.slice(2)) {\n"
    "  console.log('readdir', p, JSON.stringify(fs.readdirSync(p)));\n"
    "  for (const d of fs.readdirSync(p, {withFileTypes: true}))\n"
    "    console.log(' ', d.name, d.isFile(), d.isDirectory(), d.isSymbolicLink(), d.isFIFO(),\n"
    "                d.isSocket());\n"
    "  const dir = fs.opendirSync(p); let n = 0, e;\n"
    "  while ((e = dir.readSync()) !== null) n++;\n"
    "  dir.closeSync(); console.log('opendir', n);\n"
    "}\n";

static void programs_same(struct h_fix *f, const char *const *argv, const char *what)
{
    char *plain = run(f, false, argv, what);
    char *shim = run(f, true, argv, what);
    if (strcmp(plain, shim) != 0)
        fail_msg("%s: first run under the shim differs: %s", what, first_difference(plain, shim));
    free(shim);
    shim = run_until_served(f, argv, what);
    if (strcmp(plain, shim) != 0)
        fail_msg("%s: a run served from the tier differs: %s", what,
                 first_difference(plain, shim));
    print_message("    %s: identical, and served from the tier\n", what);
    free(plain);
    free(shim);
}

static void test_listing_programs(void **state)
{
    struct h_fix *f = *state;
    char t[H_PATH_MAX];
    make_tree(f, t, sizeof t);
    char *py = h_xstrdup(h_fmt("%s/lister.py", f->tmp));
    h_put(py, py_lister);
    programs_same(f, H_ARGV(h_python(), py, t, h_fmt("%s/sub", t), h_fmt("%s/dirlink", t)),
                  "python3 os.listdir, os.scandir, os.walk");
    if (access("/usr/bin/node", X_OK) == 0) {
        char *js = h_xstrdup(h_fmt("%s/lister.js", f->tmp));
        h_put(js, js_lister);
        programs_same(f, H_ARGV("/usr/bin/node", js, t, h_fmt("%s/sub", t)),
                      "node fs.readdirSync, fs.opendirSync");
        free(js);
    } else {
        print_message("    node is not installed: its part skipped\n");
    }
    free(py);
    H_PASS(f);
}

/* ---- c. changes through the shim ---------------------------------------------------------- */
/* Is NAME in DIR's listing, asked of a fresh process under the shim, now? */
static bool listed(struct h_fix *f, const char *dir, const char *name)
{
    char *out = run(f, true, H_ARGV(g_dirprobe, "poll", dir, name, "present", "0", "0"), "poll");
    bool ok = strcmp(out, "OK\n") == 0;
    free(out);
    return ok;
}

static void test_changes_through_shim(void **state)
{
    struct h_fix *f = *state;
    char d[H_PATH_MAX];
    snprintf(d, sizeof d, "%.4000s/c", f->src);
    h_mkdir_mode(d, 0755);
    h_put(h_fmt("%s/old", d), "old\n");
    h_mkdir_mode(h_fmt("%s/olddir", d), 0755);
    static const struct {
        const char *script, *name;
        bool present;
    } ops[] = {
        {": > created", "created", true},
        {"mkdir made", "made", true},
        {"mv old renamed", "renamed", true},
        {"true", "old", false},
        {"rm created", "created", false},
        {"rmdir olddir", "olddir", false},
        {"ln -s renamed sym", "sym", true},
        {"ln renamed hard", "hard", true},
        {"mv made made2", "made", false},
    };
    char *report = NULL;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        /* the listing is served from the tier before each change */
        free(run_until_served(f, H_ARGV(g_dirprobe, "poll", d, "nothing", "absent", "0", "0"),
                              "listing before a change"));
        char *out = run(f, true, H_ARGV("/bin/sh", "-c", h_fmt("cd \"$1\" && %s", ops[i].script),
                                        "sh", d), ops[i].script);
        free(out);
        if (listed(f, d, ops[i].name) != ops[i].present) {
            const char *line = h_fmt("  after `%s` (through the shim) %s was %s the listing\n",
                                     ops[i].script, ops[i].name,
                                     ops[i].present ? "missing from" : "still in");
            size_t a = report ? strlen(report) : 0;
            report = realloc(report, a + strlen(line) + 1);
            assert_non_null(report);
            memcpy(report + a, line, strlen(line) + 1);
        }
    }
    if (report)
        fail_msg("stale listings after changes through the shim:\n%s", report);
    H_PASS(f);
}

/* ---- d. changes behind the cache ------------------------------------------------------------ */
static void test_changes_behind_cache(void **state)
{
    struct h_fix *f = *state;
    char d[H_PATH_MAX];
    snprintf(d, sizeof d, "%.4000s/b", f->src);
    h_mkdir_mode(d, 0755);
    h_put(h_fmt("%s/gone", d), "g\n");
    free(run_until_served(f, H_ARGV(g_dirprobe, "poll", d, "later", "absent", "0", "0"),
                          "listing before"));
    h_put(h_fmt("%s/later", d), "made behind the cache\n");
    assert_int_equal(unlink(h_fmt("%s/gone", d)), 0);
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(g_dirprobe, "poll", d, "later", "present", "20", "5000"));
    h_assert_ok(&r, "poll");
    bool found = strcmp(r.out, "OK\n") == 0;
    print_message("    %.*s\n", (int)strcspn(r.err, "\n"), r.err);
    h_result_free(&r);
    if (!found)
        fail_msg("a name created behind the cache was not listed 5 s later (--negative-ms 500)");
    if (listed(f, d, "gone"))
        fail_msg("a name removed behind the cache was still listed");
    H_PASS(f);
}

/* ---- e. an open stream outlives its listing ------------------------------------------------ */
static int count_snapshots(const char *instance)
{
    DIR *d = opendir(instance);
    int n = 0;
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] == 'o' && e->d_type == DT_DIR;
    closedir(d);
    return n;
}

static void test_stream_outlives_listing(void **state)
{
    struct h_fix *f = *state;
    char d[H_PATH_MAX];
    snprintf(d, sizeof d, "%.4000s/big", f->src);
    h_mkdir_mode(d, 0755);
    /* more than one 32 KiB getdents buffer of names */
    const int names = 3000;
    for (int i = 0; i < names; i++) {
        int fd = open(h_fmt("%s/entry-%05d-with-a-rather-long-name-to-fill-buffers", d, i),
                      O_WRONLY | O_CREAT | O_EXCL, 0644);
        assert_true(fd >= 0);
        close(fd);
    }
    free(run_until_served(f, H_ARGV(g_dirprobe, "poll", d, "made", "absent", "0", "0"),
                          "the big listing"));
    assert_int_equal(count_snapshots(f->d.dir), 1);
    /* the stream reads one name, then the listing dies (a create through
     * the shim), the daemon wants the snapshot gone, the stream reads on */
    char *out = run(f, true, H_ARGV(g_dirprobe, "hold", d, h_fmt("%s/made", d)), "hold");
    char want[64];
    snprintf(want, sizeof want, "names %d made unseen\n", names + 2);
    if (strcmp(out, want) != 0)
        fail_msg("a stream open while its listing was removed read \"%.*s\", expected \"%.*s\"",
                 (int)strcspn(out, "\n"), out, (int)strcspn(want, "\n"), want);
    free(out);
    /* closed: the old snapshot goes (a new listing may have come) */
    uint64_t end = h_now_ms() + 10000;
    while (count_snapshots(f->d.dir) > h_stat(&f->d, "dir_entries")) {
        if (h_now_ms() > end)
            fail_msg("%d snapshots remain in %s for %lld listings, 10 s after the stream closed",
                     count_snapshots(f->d.dir), f->d.dir, h_stat(&f->d, "dir_entries"));
        h_sleep_ms(100);
    }
    H_PASS(f);
}

/* ---- f. the tools ------------------------------------------------------------------------- */
static void test_ls_stats_evict(void **state)
{
    struct h_fix *f = *state;
    char d[H_PATH_MAX];
    snprintf(d, sizeof d, "%.4000s/e", f->src);
    h_mkdir_mode(d, 0755);
    for (int i = 0; i < 10; i++)
        h_put(h_fmt("%s/f%d", d, i), "x\n");
    free(run_until_served(f, H_ARGV(g_dirprobe, "poll", d, "f3", "present", "0", "0"),
                          "a listing"));
    struct h_result r;
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("ls")), 0);
    const char *line = strstr(r.out, d);
    while (line && line > r.out && line[-1] == ' ')
        line--;
    if (!line || line - r.out < 4 || strncmp(line - 4, "list", 4) != 0)
        fail_msg("shmd ls does not show %s as a listing:\n%s", d, r.out);
    h_result_free(&r);
    assert_int_equal(h_stat(&f->d, "dir_entries"), 1);
    /* 12 names with . and ..: their nodes and the map's page */
    long long mem = h_stat(&f->d, "memory");
    if (mem < 12 * 1024)
        fail_msg("memory %lld does not count the listing", mem);
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("evict", d)), 0);
    h_result_free(&r);
    assert_int_equal(h_stat(&f->d, "dir_entries"), 0);
    uint64_t end = h_now_ms() + 10000;
    while (count_snapshots(f->d.dir) > 0 || access(h_fmt("%s", f->d.dir), F_OK) < 0) {
        if (h_now_ms() > end)
            fail_msg("the evicted listing's snapshot is still in %s after 10 s", f->d.dir);
        h_sleep_ms(100);
    }
    H_PASS(f);
}

/* ---- g. warm ------------------------------------------------------------------------------ */
static void test_warm_fills_listings(void **state)
{
    struct h_fix *f = *state;
    char t[H_PATH_MAX];
    make_tree(f, t, sizeof t);
    struct h_result r;
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("warm", t)), 0);
    /* t, sub, empty, noread: directories; dirlink, fifo, sock: other paths
     * (a dangling symlink is the kernel's to answer: skipped) */
    if (!strstr(r.out, " 7 directories and other paths, 0 already cached, 1 skipped"))
        fail_msg("shmd warm did not record the tree's directories and other paths: %s", r.out);
    h_result_free(&r);
    assert_int_equal(h_stat(&f->d, "dir_entries"), 4);
    /* the program's first run: its listings and stats from the tier */
    long long dirs = h_stat(&f->d, "dir_hits"), meta = h_stat(&f->d, "meta_hits");
    const char *argv[] = {g_dirprobe, "list", t, h_xstrdup(h_fmt("%s/sub", t)), NULL};
    char *plain = run(f, false, argv, "after warm");
    char *shim = run(f, true, argv, "after warm");
    if (strcmp(plain, shim) != 0)
        fail_msg("after warm the shim lists differently: %s", first_difference(plain, shim));
    if (h_stat(&f->d, "dir_hits") < dirs + 12 || h_stat(&f->d, "meta_hits") <= meta)
        fail_msg("after warm the first run was not served its listings and stats "
                 "(dir_hits %lld -> %lld, meta_hits %lld -> %lld)", dirs,
                 h_stat(&f->d, "dir_hits"), meta, h_stat(&f->d, "meta_hits"));
    free(plain);
    free(shim);
    free((char *)argv[3]);
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_listing_parity, setup_list, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_listing_parity_as_nobody, setup_nobody,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_listing_programs, setup_list, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_changes_through_shim, setup_list, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_changes_behind_cache, setup_behind, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_stream_outlives_listing, setup_list, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_ls_stats_evict, setup_list, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_warm_fills_listings, setup_list, h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: directory listings from the tier", tests,
                                       group_setup, h_group_teardown);
}
