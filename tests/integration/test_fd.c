/* test_fd.c - a cached descriptor behaves like the source's: fstat (and
 * fstatat, statx on the descriptor) report the source's metadata, mmap,
 * pread and sendfile give the source's bytes, and a child after exec reads
 * the right bytes from an inherited descriptor. Each check first proves the
 * descriptor really is an object of the tier (readlink of /proc/self/fd). */
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

/* Cache the whole standard tree, with some distinctive metadata first. */
static int setup_cached(void **state)
{
    if (h_fix_setup(state) < 0)
        return -1;
    struct h_fix *f = *state;
    struct timespec t[2] = {{.tv_sec = 1600000000, .tv_nsec = 5},
                            {.tv_sec = 1234567890, .tv_nsec = 999999999}};
    if (chmod(h_src(f, "page.bin"), 0604) < 0 || chmod(h_src(f, "one"), 0400) < 0 ||
        chmod(h_src(f, "k100.bin"), 0755) < 0 ||
        utimensat(AT_FDCWD, h_src(f, "k100.bin"), t, 0) < 0 ||
        utimensat(AT_FDCWD, h_src(f, "empty"), t, 0) < 0)
        return -1;
    return 0;
}


/* "where PATH + CMD PATH" under the shim: assert the descriptor is an object
 * of the tier and the bytes CMD printed are the file's. */
static void check_bytes(struct h_fix *f, const char *cmd, const struct h_file *file)
{
    const char *path = h_src(f, file->name);
    struct h_result r;
    long long hits = h_stat(&f->d, "hits");
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", path, "+", cmd, path));
    h_assert_ok(&r, h_fmt("probe %s %s", cmd, file->name));
    char *nl = memchr(r.out, '\n', r.out_len);
    assert_non_null(nl);
    *nl = '\0';
    h_assert_in_tier(r.out, f->d.dir, h_fmt("%s of %s", cmd, file->name));
    unsigned char *want = h_file_bytes(file);
    size_t off = (size_t)(nl + 1 - r.out);
    h_assert_bytes(nl + 1, r.out_len - off, want, file->size, h_fmt("%s of %s", cmd, file->name));
    assert_int_equal(h_stat(&f->d, "hits") - hits, 2);
    free(want);
    h_result_free(&r);
}

static void test_mmap(void **state)
{
    struct h_fix *f = *state;
    h_cache_std(f);
    for (size_t i = 0; i < h_std_nfiles; i++)
        check_bytes(f, "mmap", &h_std_files[i]);
    H_PASS(f);
}

static void test_sendfile(void **state)
{
    struct h_fix *f = *state;
    h_cache_std(f);
    for (size_t i = 0; i < h_std_nfiles; i++)
        check_bytes(f, "sendfile", &h_std_files[i]);
    H_PASS(f);
}

static void test_pread_read_fopen(void **state)
{
    struct h_fix *f = *state;
    h_cache_std(f);
    for (size_t i = 0; i < h_std_nfiles; i++) {
        check_bytes(f, "pread", &h_std_files[i]);
        check_bytes(f, "cat", &h_std_files[i]);
        check_bytes(f, "fcat", &h_std_files[i]);
    }
    H_PASS(f);
}

static void stat_line(const struct stat *st, char *buf, size_t n)
{
    snprintf(buf, n, "%llu %llu %lld %o %llu %u %u %lld %ld %lld %ld %ld %lld",
             (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
             (long long)st->st_size, (unsigned)st->st_mode, (unsigned long long)st->st_nlink,
             (unsigned)st->st_uid, (unsigned)st->st_gid, (long long)st->st_mtim.tv_sec,
             st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec,
             (long)st->st_blksize, (long long)st->st_blocks);
}

/* The line of probe fstat output that starts with "name ". */
static void probe_line(const char *out, const char *name, char *buf, size_t n)
{
    size_t k = strlen(name);
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, k) == 0 && p[k] == ' ') {
            size_t len = strcspn(p + k + 1, "\n");
            snprintf(buf, n, "%.*s", (int)len, p + k + 1);
            return;
        }
    }
    fail_msg("probe fstat printed no \"%s\" line:\n%s", name, out);
}

static void test_fstat_is_source_stat(void **state)
{
    struct h_fix *f = *state;
    static const char *const calls[] = {"fstat", "fstatat", "statx", "stat"};
    h_cache_std(f);
    for (size_t i = 0; i < h_std_nfiles; i++) {
        const char *path = h_src(f, h_std_files[i].name);
        struct h_result r;
        struct stat st;
        char want[512], got[512];

        h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", path, "+", "fstat", path));
        h_assert_ok(&r, "probe fstat");
        char where[H_PATH_MAX];
        snprintf(where, sizeof where, "%.*s", (int)strcspn(r.out, "\n"), r.out);
        h_assert_in_tier(where, f->d.dir, h_std_files[i].name);

        assert_int_equal(stat(path, &st), 0);
        stat_line(&st, want, sizeof want);
        for (size_t c = 0; c < sizeof calls / sizeof *calls; c++) {
            probe_line(r.out, calls[c], got, sizeof got);
            if (strcmp(got, want) != 0)
                fail_msg("%s: %s of a cached descriptor is\n  %s\nthe source's stat is\n  %s\n"
                         "(dev ino size mode nlink uid gid mtime.s mtime.ns ctime.s ctime.ns "
                         "blksize blocks)", h_std_files[i].name, calls[c], got, want);
        }

        /* the object itself, seen without the shim: the source's size, mode
         * without write bits, and mtime (DESIGN: "Objects are immutable") */
        struct stat obj;
        assert_int_equal(stat(where, &obj), 0);
        assert_int_equal(obj.st_size, st.st_size);
        assert_int_equal(obj.st_mode & 07777, st.st_mode & 0555);
        assert_int_equal(obj.st_mtim.tv_sec, st.st_mtim.tv_sec);
        assert_int_equal(obj.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
        h_result_free(&r);
    }
    H_PASS(f);
}

/* Objects are created with their final mode, and a daemon whose umask
 * removes some of those bits still sets them: the object of a 0755 file is
 * 0555 and of a 0604 file 0404 under umask 077 as under 022. */
static void test_object_mode_whatever_the_umask(void **state)
{
    struct h_fix *f = *state;
    assert_int_equal(h_daemon_stop(&f->d), 0);
    mode_t old = umask(077);
    int started = h_daemon_start(&f->d);
    umask(old);
    assert_int_equal(started, 0);
    h_cache_std(f);
    for (size_t i = 0; i < h_std_nfiles; i++) {
        const char *path = h_src(f, h_std_files[i].name);
        struct h_result r;
        struct stat st, obj;
        h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", path));
        h_assert_ok(&r, "probe where");
        r.out[strcspn(r.out, "\n")] = '\0';
        h_assert_in_tier(r.out, f->d.dir, h_std_files[i].name);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(stat(r.out, &obj), 0);
        if ((obj.st_mode & 07777) != (st.st_mode & 0555))
            fail_msg("%s: object mode %o, source %o (want the source's without write bits)",
                     h_std_files[i].name, (unsigned)(obj.st_mode & 07777),
                     (unsigned)(st.st_mode & 07777));
        h_result_free(&r);
    }
    H_PASS(f);
}

static void test_exec_inherits_cached_fd(void **state)
{
    struct h_fix *f = *state;
    h_cache_std(f);
    for (size_t i = 0; i < h_std_nfiles; i++) {
        const struct h_file *file = &h_std_files[i];
        struct h_result r;
        h_shim(f, &r, NULL, H_ARGV(h_probe(), "execfd", h_src(f, file->name)));
        h_assert_ok(&r, h_fmt("probe execfd %s", file->name));
        const char *w = strstr(r.err, "where ");
        assert_non_null(w);
        char where[H_PATH_MAX];
        snprintf(where, sizeof where, "%.*s", (int)strcspn(w + 6, "\n"), w + 6);
        h_assert_in_tier(where, f->d.dir, h_fmt("execfd %s", file->name));
        unsigned char *want = h_file_bytes(file);
        h_assert_bytes(r.out, r.out_len, want, file->size,
                       h_fmt("child after exec reading %s", file->name));
        free(want);
        h_result_free(&r);
    }
    H_PASS(f);
}

/* The source's stat through a dup (the first descriptor closed), in a
 * forked child, and in a child after exec (DESIGN, stat.c: "Keyed by the
 * object, not the descriptor number, so dup, dup2, fork and inherited
 * descriptors work without tracking them"). */
static void test_fstat_through_dup_fork_exec(void **state)
{
    struct h_fix *f = *state;
    static const char *const cmds[] = {"dup-fstat", "fork-fstat", "execfd-fstat"};
    h_cache_std(f);
    for (size_t c = 0; c < sizeof cmds / sizeof *cmds; c++) {
        for (size_t i = 0; i < h_std_nfiles; i++) {
            const char *path = h_src(f, h_std_files[i].name);
            struct h_result r;
            struct stat st;
            char want[512], got[512];
            h_shim(f, &r, NULL, H_ARGV(h_probe(), cmds[c], path));
            h_assert_ok(&r, h_fmt("probe %s", cmds[c]));
            if (c == 2) {
                const char *w = strstr(r.err, "where ");
                assert_non_null(w);
                char where[H_PATH_MAX];
                snprintf(where, sizeof where, "%.*s", (int)strcspn(w + 6, "\n"), w + 6);
                h_assert_in_tier(where, f->d.dir, h_fmt("%s %s", cmds[c], path));
            }
            assert_int_equal(stat(path, &st), 0);
            stat_line(&st, want, sizeof want);
            probe_line(r.out, "fstat", got, sizeof got);
            if (strcmp(got, want) != 0)
                fail_msg("%s: %s: fstat of the cached descriptor is\n  %s\nthe source's stat is"
                         "\n  %s\n(dev ino size mode nlink uid gid mtime.s mtime.ns ctime.s "
                         "ctime.ns blksize blocks)", h_std_files[i].name, cmds[c], got, want);
            h_result_free(&r);
        }
    }
    H_PASS(f);
}

/* A hit is a fresh descriptor with its own offset each time. */
static void test_each_open_has_its_own_offset(void **state)
{
    struct h_fix *f = *state;
    h_cache_std(f);
    const struct h_file *file = h_std("k100.bin");
    const char *p = h_src(f, file->name);
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", p, "+", "cat", p, "+", "mmap", p));
    h_assert_ok(&r, "three opens in one process");
    unsigned char *want = h_file_bytes(file);
    assert_int_equal(r.out_len, 3 * file->size);
    for (int k = 0; k < 3; k++)
        h_assert_bytes(r.out + (size_t)k * file->size, file->size, want, file->size,
                       h_fmt("open %d", k + 1));
    free(want);
    h_result_free(&r);
    H_PASS(f);
}

/* open() returns the lowest free number, and programs count on it. The
 * shim attaches (opening descriptors of its own) inside the program's first
 * call on a cached path: its descriptors must not take the numbers the
 * program gets next (found by CPython's test_os.test_closerange). */
static void test_own_descriptors_stay_out_of_the_way(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "created.txt");
    const char *hit = h_src(f, "k100.bin");
    static const char script[] =
        "import os, sys\n"
        "a = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o644)\n"   /* attaches: a write */
        "b = os.dup(a)\n"
        "c = os.open(sys.argv[2], os.O_RDONLY)\n"                    /* a hit */
        "d = os.dup(c)\n"
        "print(b - a, c - b, d - c)\n";
    struct h_result r, plain;

    h_cache_std(f);
    h_plain(f, &plain, H_ARGV(h_python(), "-c", script, h_src(f, "plain.txt"), hit));
    h_assert_ok(&plain, "python opening, dup'ing, without the shim");
    h_shim(f, &r, H_ENV("SHMCACHE_LOG=all"), H_ARGV(h_python(), "-c", script, p, hit));
    h_assert_ok(&r, "python opening, dup'ing");
    if (strcmp(r.out, plain.out) != 0)
        fail_msg("descriptor numbers differ under the shim: gaps \"%.40s\", without it \"%.40s\"",
                 r.out, plain.out);
    assert_true(strstr(r.err, "HIT ") != NULL);
    h_result_free(&r);
    h_result_free(&plain);
    H_PASS(f);
}

/* The shim's descriptors go high (above), and the kernel grows a
 * process's descriptor table to the highest number in use: in a process
 * with threads, growing it waits for an RCU grace period (10-20 ms, node's
 * first open under a prefix). So the table is grown at init, before the
 * program starts threads: the first attach, in a thread-running program,
 * finds it big enough (FDSize in /proc/self/status the same before and
 * after it). */
static void test_descriptor_table_grown_at_init(void **state)
{
    struct h_fix *f = *state;
    static const char script[] =
        "import os, sys, threading\n"
        "def fdsize():\n"
        "    for l in open('/proc/self/status'):\n"
        "        if l.startswith('FDSize:'): return int(l.split()[1])\n"
        "t = threading.Thread(target=lambda: threading.Event().wait(5), daemon=True)\n"
        "t.start()\n"
        "before = fdsize()\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"                    /* attaches: a hit */
        "after = fdsize()\n"
        "print(before, after, os.readlink('/proc/self/fd/%d' % fd))\n";
    struct h_result r;
    int before = 0, after = 0;
    char where[512] = "";

    h_cache_std(f);
    h_shim(f, &r, NULL, H_ARGV(h_python(), "-c", script, h_src(f, "k100.bin")));
    h_assert_ok(&r, "python opening a cached file with a thread running");
    assert_int_equal(sscanf(r.out, "%d %d %511s", &before, &after, where), 3);
    h_assert_in_tier(where, f->d.dir, "the open after the thread started");
    if (before != after)
        fail_msg("the first attach grew the descriptor table from %d to %d slots while a "
                 "thread ran", before, after);
    h_result_free(&r);
    H_PASS(f);
}

/* The shim's init never touches the program's descriptors: closing even a
 * duplicate of one drops the process's POSIX record locks on that file,
 * which survive exec (a lock held on stdin by a wrapper that then execs
 * the shimmed program). */
static void test_init_keeps_record_locks(void **state)
{
    struct h_fix *f = *state;
    const char *lock = h_fmt("%s/lockfile", f->tmp);
    static const char holder[] =
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)\n"
        "os.dup2(fd, 0); os.close(fd)\n"
        "fcntl.lockf(0, fcntl.LOCK_EX)\n"
        "env = dict(os.environ, LD_PRELOAD=sys.argv[2], SHMCACHE_PREFIX=sys.argv[3])\n"
        "os.execve(sys.executable, [sys.executable, '-c', 'import time; time.sleep(3)'], env)\n";
    static const char checker[] =
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n"
        "    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('NOT locked')\n"
        "except OSError:\n"
        "    print('locked')\n";
    struct h_proc p;
    struct h_result r;

    assert_int_equal(h_write_str(lock, ""), 0);
    assert_int_equal(h_start(&p, NULL, H_ARGV(h_python(), "-c", holder, lock, h_lib(), f->src)), 0);
    h_sleep_ms(1000); /* locked, exec'd, the shim's init long done */
    h_run(&r, NULL, H_ARGV(h_python(), "-c", checker, lock), 10000);
    h_assert_ok(&r, "the lock checker");
    if (strcmp(r.out, "locked\n") != 0)
        fail_msg("a record lock held across exec into a shimmed program: %s", r.out);
    h_result_free(&r);
    h_finish(&p, &r, 10000);
    h_result_free(&r);
    H_PASS(f);
}

/* A program that lowers its descriptor limit below the shim's base (fixed
 * at init from the limit then) still gets the lowest free numbers: the
 * shim's descriptors move to half the new limit. */
static void test_lowered_limit_keeps_numbering(void **state)
{
    struct h_fix *f = *state;
    static const char script[] =
        "import os, resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (1000, 1000))\n"
        "os.close(0)\n"
        "print(os.open(sys.argv[1], os.O_RDONLY))\n";                /* attaches */
    struct h_result r;

    h_cache_std(f);
    h_shim(f, &r, NULL, H_ARGV("prlimit", "--nofile=4096:4096", h_python(), "-c", script,
                               h_src(f, "k100.bin")));
    h_assert_ok(&r, "python lowering its limit, then opening under the prefix");
    assert_string_equal(r.out, "0\n");
    h_result_free(&r);
    H_PASS(f);
}

/* A miss hands the program's own descriptor to shmd, which copies through
 * it: the program's file offset must not move. The reader reads part of
 * the file, waits until shmd has loaded it (through that descriptor, while
 * it is open), then reads the rest: the bytes must be the file's, in order. */
static void test_miss_copy_keeps_program_offset(void **state)
{
    struct h_fix *f = *state;
    const struct h_file *file = h_std("m3.bin");
    const char *p = h_src(f, file->name);
    static const char script[] =
        "import os, sys, time, json, subprocess\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "head = os.read(fd, 100000)\n"
        "for _ in range(500):\n"
        "    st = json.loads(subprocess.run([sys.argv[2], 'stats', '--dir', sys.argv[3], '--json'],\n"
        "                    capture_output=True, text=True, env={}).stdout)\n"
        "    if st['entries'] >= 1: break\n"
        "    time.sleep(0.01)\n"
        "rest = b''\n"
        "while True:\n"
        "    b = os.read(fd, 1 << 16)\n"
        "    if not b: break\n"
        "    rest += b\n"
        "sys.stdout.buffer.write(head + rest)\n";
    struct h_result r;

    assert_int_equal(h_stat(&f->d, "entries"), 0);
    h_shim(f, &r, NULL, H_ARGV(h_python(), "-c", script, p, h_shmd(), f->d.dir));
    h_assert_ok(&r, "python reader across the load");
    assert_int_equal(h_stat(&f->d, "entries"), 1); /* loaded while it was open */
    assert_int_equal(h_stat(&f->d, "fail_changed"), 0);
    unsigned char *want = h_file_bytes(file);
    h_assert_bytes(r.out, r.out_len, want, file->size, "bytes read around the daemon's copy");
    free(want);
    h_result_free(&r);
    /* and the copy itself is right */
    h_assert_where(f, p, true, "the copy made through the program's descriptor");
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", p));
    want = h_file_bytes(file);
    h_assert_bytes(r.out, r.out_len, want, file->size, "the tier's copy");
    free(want);
    h_result_free(&r);
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fstat_is_source_stat, setup_cached, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_object_mode_whatever_the_umask, setup_cached,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_mmap, setup_cached, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_sendfile, setup_cached, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_pread_read_fopen, setup_cached, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_exec_inherits_cached_fd, setup_cached,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_fstat_through_dup_fork_exec, setup_cached,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_miss_copy_keeps_program_offset, h_fix_setup,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_descriptor_table_grown_at_init, h_fix_setup,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_init_keeps_record_locks, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_lowered_limit_keeps_numbering, h_fix_setup,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_own_descriptors_stay_out_of_the_way, h_fix_setup,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_each_open_has_its_own_offset, setup_cached,
                                        h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: descriptors", tests, h_group_setup,
                                       h_group_teardown);
}
