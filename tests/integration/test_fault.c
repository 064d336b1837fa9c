/* test_fault.c - fault injection: whatever breaks around it, shmcache never
 * serves wrong bytes and never harms the host program.
 *   - 8 reader processes loop over a tree while a writer rewrites files in
 *     place, replaces them by rename, truncates and deletes them (through
 *     the shim), and the daemon is SIGKILLed and restarted 4 times: every
 *     read equals one complete version that existed during the read
 *     (tests/helpers/churn.c keeps the versions), no reader sees an error
 *     other than ENOENT of a deleted version, and the running readers get
 *     hits again after every restart;
 *   - readers SIGKILLed at random points (attach, opens, reads): the daemon
 *     and the other readers carry on;
 *   - the tier's tmpfs full (a 4 MiB tmpfs mounted for the test, capacity
 *     64 MiB): loads fail cleanly and are counted, programs read the right
 *     bytes, no object is ever partial, and programs that then look up or
 *     invalidate paths on the full tmpfs are not harmed;
 *   - a burst of misses from 4 processes into a SIGSTOPped daemon
 *     overflows its socket queue: programs are never blocked, the overflow
 *     is counted; a daemon stopped for longer than the heartbeat bound:
 *     programs pass through and invalidate, then hits resume on SIGCONT;
 *   - a writer that keeps its descriptor open across a pause: a reader
 *     sees what the file holds, as without the shim.
 * Tests that mount a tmpfs skip themselves when not run as root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/harness.h"

#define READERS 8
#define RESTARTS 4

/* ---- the churn tallies ---------------------------------------------------------- */
struct tally {
    long long reads, ok, tier, enoent, torn, unverifiable, bad, errors;
};

static bool parse_tally(const char *out, struct tally *t)
{
    const char *line = strstr(out, "reads ");
    return line && sscanf(line, "reads %lld ok %lld tier %lld enoent %lld torn %lld unverifiable "
                                "%lld bad %lld errors %lld", &t->reads, &t->ok, &t->tier,
                          &t->enoent, &t->torn, &t->unverifiable, &t->bad, &t->errors) == 8;
}

/* Collect reader i; add its tally to sum; fail on any wrong read. */
static void check_reader(struct h_proc *p, int i, struct tally *sum, bool need_tier)
{
    struct h_result r;
    struct tally t;
    h_finish(p, &r, 30000);
    h_assert_ok(&r, h_fmt("reader %d", i));
    if (!parse_tally(r.out, &t))
        fail_msg("reader %d printed no tally:\n%s\n%s", i, r.out, r.err);
    if (t.bad || t.errors || t.unverifiable || t.ok != t.reads)
        fail_msg("reader %d: %lld reads, %lld wrong, %lld errors, %lld unverifiable:\n%.4000s", i,
                 t.reads, t.bad, t.errors, t.unverifiable, r.err);
    if (t.reads == 0 || (need_tier && t.tier == 0))
        fail_msg("reader %d: %lld reads, %lld from the tier", i, t.reads, t.tier);
    sum->reads += t.reads;
    sum->tier += t.tier;
    sum->enoent += t.enoent;
    sum->torn += t.torn;
    h_result_free(&r);
}

/* A churn tree of n files in src/churn, its state file in tmp. */
static const char *churn_init(struct h_fix *f, int n)
{
    const char *state = h_fmt("%s/churn.state", f->tmp);
    const char *dir = h_fmt("%s/churn", f->src);
    struct h_result r;
    assert_int_equal(h_mkdirs(dir, 0755), 0);
    h_plain(f, &r, H_ARGV(h_helper("churn"), "init", state, dir, h_fmt("%d", n)));
    h_assert_ok(&r, "churn init");
    h_result_free(&r);
    return state;
}

static void churn_stop(const char *state)
{
    struct h_result r;
    h_run(&r, NULL, H_ARGV(h_helper("churn"), "stop", state), 10000);
    h_result_free(&r);
}

/* ---- readers, a writer and a daemon that keeps dying ------------------------------- */
static const char *const churn_args[] = {"--settle-ms", "200", "--revalidate-ms", "200",
                                         "--capacity", "64M", "--log-level", "info", NULL};

static int setup_churn(void **state)
{
    return h_fix_new(state, churn_args, true) ? 0 : -1;
}

static void test_churn_with_daemon_restarts(void **state)
{
    struct h_fix *f = *state;
    char state_path[H_PATH_MAX];
    snprintf(state_path, sizeof state_path, "%s", churn_init(f, 24));
    const char *churn = h_helper("churn");
    struct h_proc writer, readers[READERS];
    long long resume_ms[RESTARTS + 1];
    bool restarted = true;

    assert_int_equal(h_start(&writer, h_shim_env(f, NULL),
                             H_ARGV(churn, "write", state_path, "20240601", "2", "20")), 0);
    for (int i = 0; i < READERS; i++)
        assert_int_equal(h_start(&readers[i], h_shim_env(f, NULL),
                                 H_ARGV(churn, "read", state_path, f->d.dir)), 0);

    /* each daemon: wait for the running readers' first hit, then SIGKILL
     * it in the middle of their reads and start the next one */
    for (int cycle = 0; cycle <= RESTARTS; cycle++) {
        uint64_t t0 = h_now_ms();
        resume_ms[cycle] = h_wait_stat_ge(&f->d, "hits", 1, 8000) >= 1 ? (long long)(h_now_ms() - t0) : -1;
        if (cycle == RESTARTS)
            break;
        h_sleep_ms(400);
        h_daemon_kill9(&f->d);
        h_sleep_ms(50 + 100 * (unsigned)cycle);
        if (h_daemon_start(&f->d) < 0) {
            restarted = false;
            break;
        }
    }
    h_sleep_ms(500);
    churn_stop(state_path);

    struct h_result w;
    h_finish(&writer, &w, 30000);
    struct tally sum = {0};
    for (int i = 0; i < READERS; i++)
        check_reader(&readers[i], i, &sum, true);
    h_assert_ok(&w, "the writer");
    assert_true(restarted);
    print_message("    %s; %lld reads by %d readers, %lld from the tier, %lld ENOENT of deleted "
                  "versions, %lld torn (in-place rewrites read from the file)\n",
                  w.out_len ? strtok(w.out, "\n") : "the writer said nothing", sum.reads, READERS, sum.tier, sum.enoent, sum.torn);
    for (int cycle = 0; cycle <= RESTARTS; cycle++) {
        print_message("    daemon %d: first hit after %lld ms\n", cycle + 1, resume_ms[cycle]);
        if (resume_ms[cycle] < 0)
            fail_msg("daemon %d: no hit within 8 s (hits did not resume after a restart)", cycle + 1);
    }
    h_result_free(&w);
    H_PASS(f);
}

/* ---- readers killed in the middle --------------------------------------------------- */
static void test_sigkill_readers(void **state)
{
    struct h_fix *f = *state;
    char state_path[H_PATH_MAX];
    snprintf(state_path, sizeof state_path, "%s", churn_init(f, 24));
    const char *churn = h_helper("churn");
    struct h_proc survivors[2];
    struct h_result r;
    int killed = 0;

    for (int i = 0; i < 2; i++)
        assert_int_equal(h_start(&survivors[i], h_shim_env(f, NULL),
                                 H_ARGV(churn, "read", state_path, f->d.dir)), 0);
    /* short-lived readers, killed at every stage of their life: loading
     * the shim, attaching, looking up, opening, reading */
    for (int i = 0; i < 40; i++) {
        struct h_proc victim;
        assert_int_equal(h_start(&victim, h_shim_env(f, NULL),
                                 H_ARGV(churn, "read", state_path, f->d.dir)), 0);
        h_sleep_ms((unsigned)(i * 7) % 45);
        kill(victim.pid, SIGKILL);
        h_finish(&victim, &r, 10000);
        killed += r.code == 128 + SIGKILL;
        h_result_free(&r);
    }
    bool alive = h_daemon_alive(&f->d);
    churn_stop(state_path);
    struct tally sum = {0};
    for (int i = 0; i < 2; i++)
        check_reader(&survivors[i], i, &sum, true);
    assert_true(alive);
    assert_true(killed >= 30);

    /* the daemon serves on: counters, listing, hits for a new process */
    struct h_stats s;
    assert_int_equal(h_stats(&f->d, &s), 0);
    assert_int_equal(s.entries, 24);
    h_shmd_cmd(&f->d, &r, H_ARGV("ls"));
    h_assert_ok(&r, "shmd ls after the kills");
    assert_int_equal(h_count_lines(r.out, "/churn/"), 24);
    h_result_free(&r);
    h_assert_where(f, h_fmt("%s/churn/d0/f000.dat", f->src), true, "a new process after the kills");
    print_message("    %d readers killed; the 2 others read %lld times, %lld from the tier\n", killed,
                  sum.reads, sum.tier);
    H_PASS(f);
}

/* ---- the tier's tmpfs full --------------------------------------------------------------- */
struct tmpfs_fix {
    char mnt[H_PATH_MAX];
    bool mounted;
};
static struct tmpfs_fix g_tmpfs;

static int setup_tmpfs(void **state)
{
    struct h_fix *f = h_fix_new(state, NULL, false);
    if (!f)
        return -1;
    memset(&g_tmpfs, 0, sizeof g_tmpfs);
    if (!h_is_root())
        return 0;
    snprintf(g_tmpfs.mnt, sizeof g_tmpfs.mnt, "%.200s/mnt", f->tmp);
    if (mkdir(g_tmpfs.mnt, 0755) < 0 ||
        mount("shmcache-test", g_tmpfs.mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755") < 0) {
        print_error("mount tmpfs on %s: %s\n", g_tmpfs.mnt, strerror(errno));
        return -1;
    }
    g_tmpfs.mounted = true;
    snprintf(f->d.dir, sizeof f->d.dir, "%.240s/inst", g_tmpfs.mnt);
    if (h_daemon_start(&f->d) < 0) {
        print_error("daemon on the small tmpfs did not come up\n");
        return -1;
    }
    return 0;
}

static int teardown_tmpfs(void **state)
{
    struct h_fix *f = *state;
    if (f && f->d.pid > 0)
        h_daemon_stop(&f->d); /* before the unmount: it removes its directory */
    if (g_tmpfs.mounted && umount2(g_tmpfs.mnt, MNT_DETACH) < 0)
        print_error("umount %s: %s\n", g_tmpfs.mnt, strerror(errno));
    g_tmpfs.mounted = false;
    return h_fix_teardown(state);
}

#define BIG 12
#define SMALL 200

/* Every object in dir holds exactly the bytes of one of the files. */
static void objects_whole(const char *dir, const struct h_file *files, size_t n, const char *src)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int objects = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] != 'o')
            continue;
        size_t len = 0;
        unsigned char *got = h_read_file(h_fmt("%s/%s", dir, e->d_name), &len);
        if (!got)
            continue; /* evicted meanwhile */
        bool whole = false;
        for (size_t i = 0; i < n && !whole; i++) {
            if (files[i].size != len)
                continue;
            unsigned char *want = h_file_bytes(&files[i]);
            whole = memcmp(got, want, len) == 0;
            free(want);
        }
        if (!whole)
            fail_msg("object %s (%zu bytes) is not a whole copy of any file in %s", e->d_name, len,
                     src);
        free(got);
        objects++;
    }
    closedir(d);
    print_message("    %d objects, each a whole copy\n", objects);
}

static void test_tmpfs_full(void **state)
{
    struct h_fix *f = *state;
    if (!h_is_root()) {
        print_message("    skipped: needs root to mount a tmpfs\n");
        H_PASS(f);
        skip();
    }
    struct h_file files[BIG + 7];
    char names[BIG][32];
    const char *argv[4 * (SMALL + BIG) + 8];
    struct h_result r;
    int k = 0;

    for (int i = 0; i < BIG; i++) {
        snprintf(names[i], sizeof names[i], "big/b%02d.bin", i);
        files[i] = (struct h_file){names[i], 512 * 1024, 300u + (unsigned)i, false};
    }
    for (size_t i = 0; i < h_std_nfiles; i++)
        files[BIG + i] = h_std_files[i];
    assert_int_equal(h_make_tree(f->src, files, BIG), 0);
    assert_int_equal(h_mkdirs(h_fmt("%s/small", f->src), 0755), 0);
    for (int i = 0; i < SMALL; i++)
        assert_int_equal(h_write_str(h_src(f, h_fmt("small/s%03d", i)), h_fmt("small %03d\n", i)), 0);

    /* 6 MiB of files through a 4 MiB tmpfs, twice */
    argv[k++] = h_probe();
    for (int i = 0; i < BIG; i++) {
        if (i)
            argv[k++] = "+";
        argv[k++] = "cat";
        argv[k++] = h_src(f, files[i].name);
    }
    argv[k] = NULL;
    for (int round = 0; round < 2; round++) {
        h_shim(f, &r, NULL, argv);
        h_assert_ok(&r, "reading more than the tmpfs holds");
        assert_int_equal(r.out_len, (size_t)BIG * 512 * 1024);
        for (int i = 0; i < BIG; i++) {
            unsigned char *want = h_file_bytes(&files[i]);
            h_assert_bytes(r.out + (size_t)i * 512 * 1024, 512 * 1024, want, 512 * 1024,
                           h_fmt("round %d, %s", round, files[i].name));
            free(want);
        }
        h_result_free(&r);
        h_sleep_ms(300);
    }
    assert_true(h_daemon_alive(&f->d));
    long long nospace = h_stat(&f->d, "fail_no_space");
    if (nospace < 1)
        fail_msg("no load failed with no-space on a full tmpfs (fail_no_space %lld)", nospace);
    assert_true(h_stat(&f->d, "load_failures") >= nospace);
    objects_whole(f->d.dir, files, BIG + h_std_nfiles, f->src);
    int objects = 0;
    h_objects_bytes(f->d.dir, &objects);
    assert_int_equal(objects, h_stat(&f->d, "entries"));

    /* now really full: programs that look up new paths (index pages never
     * touched) and invalidate must still work */
    char filler[H_PATH_MAX]; /* h_fmt's buffers rotate: an own copy */
    snprintf(filler, sizeof filler, "%.4000s/filler", g_tmpfs.mnt);
    static char block[65536];
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    while (write(fd, block, sizeof block) > 0)
        ;
    close(fd);
    static char small[SMALL][H_PATH_MAX]; /* h_fmt's buffers rotate: own copies */
    for (int i = 0; i < SMALL; i++)
        snprintf(small[i], sizeof small[i], "%s", h_src(f, h_fmt("small/s%03d", i)));
    k = 0;
    argv[k++] = h_probe();
    for (int i = 0; i < SMALL; i++) {
        if (i)
            argv[k++] = "+";
        argv[k++] = "cat";
        argv[k++] = small[i];
    }
    argv[k++] = "+";
    argv[k++] = "trunc-write";
    argv[k++] = h_src(f, files[0].name);
    argv[k++] = "rewritten on a full tmpfs\n";
    for (int i = 0; i < SMALL; i += 10) {
        argv[k++] = "+";
        argv[k++] = "unlink";
        argv[k++] = small[i];
    }
    argv[k] = NULL;
    h_shim(f, &r, NULL, argv);
    if (r.code != 0)
        fail_msg("a program looking up and changing files with the tier's tmpfs full: exit code "
                 "%d%s; stderr:\n%.2000s", r.code, r.code == 128 + SIGBUS ? " (SIGBUS)" : "", r.err);
    for (int i = 0; i < SMALL; i++)
        if (!strstr(r.out, h_fmt("small %03d\n", i)))
            fail_msg("small/s%03d not read right on a full tmpfs; out:\n%.3000s\nerr:\n%.3000s", i, r.out, r.err);
    h_result_free(&r);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", h_src(f, files[0].name)));
    h_assert_ok(&r, "reading a file rewritten on a full tmpfs");
    assert_string_equal(r.out, "rewritten on a full tmpfs\n");
    h_result_free(&r);
    if (!h_daemon_alive(&f->d))
        fail_msg("the daemon died on a full tmpfs (exit %d%s)", f->d.exit_code,
                 f->d.exit_code == 128 + SIGBUS ? ": SIGBUS" : "");

    /* room again: loads succeed again (the daemon works through the
     * failed loads of the full phase first, every one of them now that
     * every miss reaches it: under valgrind, 20-50 times slower, that
     * takes more than 5 s) */
    assert_int_equal(unlink(filler), 0);
    const char *p = h_src(f, "small/s001");
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "wait-tier", p, f->d.dir,
                               getenv("SHMCACHE_TEST_SLOW_DAEMON") ? "60000" : "5000"));
    h_assert_ok(&r, "a load after the tmpfs has room again");
    h_result_free(&r);
    H_PASS(f);
}

/* ---- misses into a stopped daemon ------------------------------------------------------------ */
#define BURST 2000
#define BURSTERS 4

static void test_miss_burst_and_sigstop(void **state)
{
    struct h_fix *f = *state;
    const char *argv[BURST + 2];
    struct h_proc procs[BURSTERS];
    struct h_result r;
    char *want = malloc(BURST * 32);
    size_t want_len = 0;

    assert_int_equal(h_mkdirs(h_fmt("%s/burst", f->src), 0755), 0);
    argv[0] = "cat";
    for (int i = 0; i < BURST; i++) {
        argv[1 + i] = h_src(f, h_fmt("burst/b%04d", i));
        int n = snprintf(want + want_len, 32, "burst file %04d\n", i);
        assert_int_equal(h_write_str(argv[1 + i], want + want_len), 0);
        want_len += (size_t)n;
        /* argv entries must outlive h_fmt's rotating buffers */
        argv[1 + i] = strdup(argv[1 + i]);
    }
    argv[BURST + 1] = NULL;
    h_cache_std(f);

    /* a live daemon that cannot run: within the heartbeat bound the shims
     * still send misses, into a queue nobody drains */
    assert_int_equal(kill(f->d.pid, SIGSTOP), 0);
    uint64_t t0 = h_now_ms();
    for (int i = 0; i < BURSTERS; i++)
        assert_int_equal(h_start(&procs[i], h_shim_env(f, NULL), argv), 0);
    int bad = 0;
    for (int i = 0; i < BURSTERS; i++) {
        h_finish(&procs[i], &r, 20000);
        bad += r.code != 0 || r.out_len != want_len || memcmp(r.out, want, want_len) != 0;
        h_result_free(&r);
    }
    uint64_t burst_ms = h_now_ms() - t0;
    assert_int_equal(kill(f->d.pid, SIGCONT), 0);
    assert_int_equal(bad, 0);
    print_message("    %d processes x %d misses into a stopped daemon: %llu ms\n", BURSTERS, BURST,
                  (unsigned long long)burst_ms);
    if (burst_ms > 10000)
        fail_msg("the burst took %llu ms: programs were blocked", (unsigned long long)burst_ms);
    long long unsent = h_wait_stat_ge(&f->d, "misses_unsent", 1, 3000);
    if (unsent < 1)
        fail_msg("no miss notice was refused: the socket queue never overflowed (unsent %lld)", unsent);
    print_message("    misses_unsent %lld, misses_received %lld\n", unsent,
                  h_stat(&f->d, "misses_received"));
    assert_true(h_daemon_alive(&f->d));
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "wait-tier", argv[BURST], f->d.dir, "5000"));
    h_assert_ok(&r, "a burst file loads once the daemon runs again");
    h_result_free(&r);

    /* stopped past the heartbeat bound: everything passes through, also
     * writes, without waiting for the daemon */
    const char *text = h_src(f, "text.txt"), *k100 = h_src(f, "k100.bin");
    assert_int_equal(kill(f->d.pid, SIGSTOP), 0);
    h_sleep_ms(2300);
    t0 = h_now_ms();
    const char *cat_argv[40];
    h_probe_std_argv(f, "cat", cat_argv);
    h_shim(f, &r, H_ENV("SHMCACHE_LOG=all"), cat_argv);
    int code = r.code;
    int hits = h_count_lines(r.err, "HIT ");
    h_result_free(&r);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", k100, "+", "trunc-write", text, "new text\n",
                              "+", "cat", text));
    uint64_t stopped_ms = h_now_ms() - t0;
    assert_int_equal(kill(f->d.pid, SIGCONT), 0);
    h_assert_ok(&r, "reads and a write while the daemon is stopped");
    assert_string_equal(r.out, h_fmt("%s\nnew text\n", k100));
    h_result_free(&r);
    assert_int_equal(code, 0);
    assert_int_equal(hits, 0);
    if (stopped_ms > 5000)
        fail_msg("reads with a stopped daemon took %llu ms", (unsigned long long)stopped_ms);
    /* running again: the write is still seen, and hits resume */
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", text, "+", "wait-tier", k100, f->d.dir, "5000"));
    h_assert_ok(&r, "after SIGCONT");
    assert_memory_equal(r.out, "new text\n", 9);
    h_result_free(&r);
    for (int i = 1; i <= BURST; i++)
        free((char *)argv[i]);
    free(want);
    H_PASS(f);
}

/* ---- a writer that holds its descriptor ----------------------------------------------------- */
static const char *const hold_args[] = {"--settle-ms", "300", "--revalidate-ms", "5000",
                                        "--capacity", "64M", "--log-level", "debug", NULL};

static int setup_hold(void **state)
{
    return h_fix_new(state, hold_args, true) ? 0 : -1;
}

/* The file as a program without the shim and one with it read it now. */
static void reads_agree(struct h_fix *f, const char *p, const char *what, bool *from_tier)
{
    struct h_result plain, shim;
    h_plain(f, &plain, H_ARGV(h_probe(), "cat", p));
    h_shim(f, &shim, H_ENV("SHMCACHE_LOG=all"), H_ARGV(h_probe(), "cat", p));
    h_assert_ok(&plain, what);
    h_assert_ok(&shim, what);
    if (plain.out_len != shim.out_len || memcmp(plain.out, shim.out, plain.out_len) != 0)
        fail_msg("%s: the file holds \"%s\" but a shimmed read returned \"%s\"%s", what, plain.out,
                 shim.out, strstr(shim.err, "HIT ") ? " (a hit)" : "");
    if (from_tier)
        *from_tier = strstr(shim.err, "HIT ") != NULL;
    h_result_free(&plain);
    h_result_free(&shim);
}

static void test_writer_holding_descriptor(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "held.txt");
    const char *ready1 = h_fmt("%s/ready1", f->tmp), *go = h_fmt("%s/go", f->tmp);
    const char *ready2 = h_fmt("%s/ready2", f->tmp), *done = h_fmt("%s/done", f->tmp);
    struct h_proc w;
    struct h_result r;
    bool tier = false;

    assert_int_equal(h_write_str(p, "the old version\n"), 0);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "wait-tier", p, f->d.dir, "5000"));
    h_assert_ok(&r, "caching the old version");
    h_result_free(&r);

    assert_int_equal(h_start(&w, h_shim_env(f, NULL),
                             H_ARGV(h_helper("churn"), "holdwrite", p, "PART ONE\n", ready1, go,
                                    "PART TWO\n", ready2, done)), 0);
    for (int i = 0; i < 500 && access(ready1, F_OK) < 0; i++)
        h_sleep_ms(10);
    /* while the writer pauses, readers keep opening the file (each open a
     * miss the daemon may load, once the file has settled) */
    for (int i = 0; i < 30 && !tier; i++) {
        reads_agree(f, p, "while the writer pauses", &tier);
        h_sleep_ms(50);
    }
    print_message("    the file, open for writing, %s admitted to the tier\n", tier ? "was" : "was not");
    assert_int_equal(h_write_str(go, ""), 0);
    for (int i = 0; i < 500 && access(ready2, F_OK) < 0; i++)
        h_sleep_ms(10);
    /* the writer wrote more through the same descriptor: what readers see
     * must be what the file holds */
    bool fail_after = false;
    for (int i = 0; i < 3; i++) {
        struct h_result plain, shim;
        h_plain(f, &plain, H_ARGV(h_probe(), "cat", p));
        h_shim(f, &shim, H_ENV("SHMCACHE_LOG=all"), H_ARGV(h_probe(), "cat", p));
        if (strcmp(plain.out, shim.out) != 0 && !fail_after) {
            fail_after = true;
            print_error("after the second write (descriptor still open): the file holds \"%s\", "
                        "a shimmed read returned \"%s\"%s\n", plain.out, shim.out,
                        strstr(shim.err, "HIT ") ? " (a hit)" : "");
        }
        h_result_free(&plain);
        h_result_free(&shim);
        h_sleep_ms(100);
    }
    assert_int_equal(h_write_str(done, ""), 0);
    h_finish(&w, &r, 10000);
    h_assert_ok(&r, "the writer");
    h_result_free(&r);
    reads_agree(f, p, "after the writer closed", NULL);
    if (fail_after)
        fail_msg("a write through a descriptor opened (through the shim) before the entry was "
                 "loaded was not seen by readers");
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_churn_with_daemon_restarts, setup_churn,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_readers, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_tmpfs_full, setup_tmpfs, teardown_tmpfs),
        cmocka_unit_test_setup_teardown(test_miss_burst_and_sigstop, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_writer_holding_descriptor, setup_hold,
                                        h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: fault injection", tests, h_group_setup,
                                       h_group_teardown);
}
