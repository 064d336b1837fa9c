/* test_programs.c - real, unmodified programs under the shim: their output
 * is byte-identical to a run without the shim, and a second run is served
 * from the tier (the daemon's hit counter grows by the number of opens,
 * and the shim logs a HIT for each).
 *
 * Programs cover the open paths glibc offers: cat (open), sha256sum
 * (fopen), python3 (open64, plus os.fstat of the descriptor), grep
 * (openat), cp, dd and head. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/harness.h"

/* Run argv without the shim, then twice with it. Both shimmed outputs must
 * equal the plain one; after the first run the daemon must hold at least
 * entries entries, and the second run must be `opens` hits and no miss. */
static void run_twice(struct h_fix *f, const char *const *argv, long long entries, int opens,
                      const char *what)
{
    struct h_result ref, r1, r2;
    struct h_stats before, after;

    h_plain(f, &ref, argv);
    h_assert_ok(&ref, h_fmt("%s without the shim", what));

    h_shim(f, &r1, H_ENV("SHMCACHE_LOG=all"), argv);
    h_assert_ok(&r1, h_fmt("%s, first shimmed run", what));
    h_assert_bytes(r1.out, r1.out_len, ref.out, ref.out_len, h_fmt("%s, first run", what));
    /* cold or already cached by an earlier run: every open is logged once */
    assert_int_equal(h_count_lines(r1.err, "HIT ") + h_count_lines(r1.err, "MISS "), opens);

    long long got = h_wait_stat_ge(&f->d, "entries", entries, 5000);
    if (got < entries)
        fail_msg("%s: %lld entries after the first run, expected %lld", what, got, entries);

    assert_int_equal(h_stats(&f->d, &before), 0);
    h_shim(f, &r2, H_ENV("SHMCACHE_LOG=all"), argv);
    assert_int_equal(h_stats(&f->d, &after), 0);
    h_assert_ok(&r2, h_fmt("%s, second shimmed run", what));
    h_assert_bytes(r2.out, r2.out_len, ref.out, ref.out_len, h_fmt("%s, second run", what));
    if (after.hits - before.hits != opens || after.misses != before.misses)
        fail_msg("%s: second run: %lld hits and %lld misses, expected %d hits and none; "
                 "stderr:\n%s", what, after.hits - before.hits, after.misses - before.misses,
                 opens, r2.err);
    assert_int_equal(h_count_lines(r2.err, "HIT "), opens);
    assert_int_equal(h_count_lines(r2.err, "MISS "), 0);

    h_result_free(&ref);
    h_result_free(&r1);
    h_result_free(&r2);
}

static void test_cat_all_sizes(void **state)
{
    struct h_fix *f = *state;
    const char *argv[16];
    int k = 0;
    argv[k++] = "cat";
    for (size_t i = 0; i < h_std_nfiles; i++)
        argv[k++] = h_src(f, h_std_files[i].name);
    argv[k] = NULL;

    run_twice(f, argv, (long long)h_std_nfiles, (int)h_std_nfiles, "cat");

    /* and the bytes are the files' own, not just the same as a plain run */
    struct h_result r;
    h_shim(f, &r, NULL, argv);
    h_assert_ok(&r, "cat, third run");
    size_t off = 0;
    for (size_t i = 0; i < h_std_nfiles; i++) {
        unsigned char *want = h_file_bytes(&h_std_files[i]);
        assert_true(off + h_std_files[i].size <= r.out_len);
        h_assert_bytes(r.out + off, h_std_files[i].size, want, h_std_files[i].size,
                       h_std_files[i].name);
        off += h_std_files[i].size;
        free(want);
    }
    assert_int_equal(off, r.out_len);
    h_result_free(&r);
    H_PASS(f);
}

static void test_sha256sum_fopen(void **state)
{
    struct h_fix *f = *state;
    const char *argv[16];
    int k = 0;
    argv[k++] = "sha256sum";
    for (size_t i = 0; i < h_std_nfiles; i++)
        argv[k++] = h_src(f, h_std_files[i].name);
    argv[k] = NULL;
    run_twice(f, argv, (long long)h_std_nfiles, (int)h_std_nfiles, "sha256sum");
    H_PASS(f);
}

static const char py_script[] =
    "import os, sys\n"
    "p = sys.argv[1]\n"
    "with open(p, 'rb') as f:\n"
    "    data = f.read()\n"
    "    a = os.fstat(f.fileno())\n"
    "b = os.stat(p)\n"
    "sys.stdout.buffer.write(data)\n"
    "for name, s in (('FSTAT', a), ('STAT', b)):\n"
    "    sys.stderr.write('%s %d %d %d %d %o\\n' % (name, s.st_ino, s.st_dev, s.st_size,\n"
    "                     s.st_mtime_ns, s.st_mode))\n";

static void py_stat_line(const char *err, const char *name, char *out, size_t n)
{
    const char *p = err;
    size_t k = strlen(name);
    while (p && !(strncmp(p, name, k) == 0 && p[k] == ' '))
        p = (p = strchr(p, '\n')) ? p + 1 : NULL;
    if (!p)
        fail_msg("python printed no %s line; stderr:\n%s", name, err);
    size_t len = strcspn(p, "\n");
    snprintf(out, n, "%.*s", (int)len - (int)strlen(name) - 1, p + strlen(name) + 1);
}

static void test_python_read_and_fstat(void **state)
{
    struct h_fix *f = *state;
    const char *names[] = {"k100.bin", "m3.bin", "empty", "text.txt"};

    /* make the metadata distinctive: a mode and an mtime no default has */
    const char *p0 = h_src(f, "k100.bin");
    assert_int_equal(chmod(p0, 0640), 0);
    struct timespec t[2] = {{.tv_sec = 1500000000, .tv_nsec = 123456789},
                            {.tv_sec = 1400000000, .tv_nsec = 987654321}};
    assert_int_equal(utimensat(AT_FDCWD, p0, t, 0), 0);

    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *path = h_src(f, names[i]);
        const char *const argv[] = {h_python(), "-c", py_script, path, NULL};
        run_twice(f, argv, (long long)i + 1, 1, h_fmt("python3 %s", names[i]));

        /* on a hit, os.fstat of the descriptor is the source's stat */
        struct h_result r;
        h_shim(f, &r, H_ENV("SHMCACHE_LOG=all"), argv);
        h_assert_ok(&r, "python3, third run");
        assert_int_equal(h_count_lines(r.err, "HIT "), 1);
        char fs[256], ss[256], want[256];
        py_stat_line(r.err, "FSTAT", fs, sizeof fs);
        py_stat_line(r.err, "STAT", ss, sizeof ss);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        snprintf(want, sizeof want, "%llu %llu %lld %lld %o", (unsigned long long)st.st_ino,
                 (unsigned long long)st.st_dev, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
                 (unsigned)st.st_mode);
        if (strcmp(fs, want) != 0 || strcmp(ss, want) != 0)
            fail_msg("python3 %s: os.fstat \"%s\", os.stat \"%s\", source \"%s\" "
                     "(ino dev size mtime_ns mode)", names[i], fs, ss, want);
        h_result_free(&r);
    }
    H_PASS(f);
}

static void test_grep_openat(void **state)
{
    struct h_fix *f = *state;
    const char *path = h_src(f, "text.txt");
    run_twice(f, H_ARGV("grep", "-n", "alpha bravo", path), 1, 1, "grep -n");
    run_twice(f, H_ARGV("grep", "-c", "line 0000", path), 1, 1, "grep -c");
    H_PASS(f);
}

static void test_cp_copy_elsewhere(void **state)
{
    struct h_fix *f = *state;
    const char *names[] = {"m3.bin", "page.bin", "empty"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *src = h_src(f, names[i]);
        const char *dst = h_fmt("%s/copy-%zu", f->tmp, i);
        const char *const argv[] = {"cp", src, dst, NULL};
        /* the output to compare is the copy: cat it after each run */
        struct h_result r;
        h_shim(f, &r, H_ENV("SHMCACHE_LOG=all"), argv);
        h_assert_ok(&r, "cp, first run");
        h_result_free(&r);
        assert_true(h_wait_stat_ge(&f->d, "entries", (long long)i + 1, 5000) >= (long long)i + 1);
        assert_int_equal(unlink(dst), 0);

        long long hits = h_stat(&f->d, "hits");
        h_shim(f, &r, H_ENV("SHMCACHE_LOG=all"), argv);
        h_assert_ok(&r, "cp, second run");
        assert_int_equal(h_count_lines(r.err, "HIT "), 1);
        assert_int_equal(h_stat(&f->d, "hits") - hits, 1);
        h_result_free(&r);

        size_t n;
        unsigned char *got = h_read_file(dst, &n);
        assert_non_null(got);
        unsigned char *want = h_file_bytes(h_std(names[i]));
        h_assert_bytes(got, n, want, h_std(names[i])->size, h_fmt("cp of %s", names[i]));
        free(got);
        free(want);
    }
    H_PASS(f);
}

static void test_dd(void **state)
{
    struct h_fix *f = *state;
    const char *path = h_src(f, "m3.bin");
    run_twice(f, H_ARGV("dd", h_fmt("if=%s", path), "bs=65536", "status=none"), 1, 1,
              "dd bs=65536");
    run_twice(f, H_ARGV("dd", h_fmt("if=%s", path), "bs=1000", "skip=7", "count=50",
                        "status=none"), 1, 1, "dd skip/count");
    run_twice(f, H_ARGV("dd", h_fmt("if=%s", h_src(f, "one")), "bs=1", "status=none"), 2, 1,
              "dd of a 1-byte file");
    H_PASS(f);
}

static void test_head(void **state)
{
    struct h_fix *f = *state;
    run_twice(f, H_ARGV("head", "-c", "5000", h_src(f, "k100.bin")), 1, 1, "head -c 5000");
    run_twice(f, H_ARGV("head", "-c", "-100", h_src(f, "k100.bin")), 1, 1, "head -c -100");
    run_twice(f, H_ARGV("head", "-n", "3", h_src(f, "text.txt")), 2, 1, "head -n 3");
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cat_all_sizes, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_sha256sum_fopen, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_python_read_and_fstat, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_grep_openat, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_cp_copy_elsewhere, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_dd, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_head, h_fix_setup, h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: programs", tests, h_group_setup,
                                       h_group_teardown);
}
