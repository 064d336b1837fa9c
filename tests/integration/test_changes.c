/* test_changes.c - regressions for change-marking bugs an independent
 * review found in the shim and the daemon (fixed in 8b1fbfb). Each test
 * names what the old shim did; each fails on that behaviour and passes on
 * the fixed one, and asserts what a user relies on: the bytes a fresh
 * shimmed process reads after a change, that hits are still served, that a
 * program's descriptors do not grow.
 *
 * Every daemon here runs with --settle-ms 0 --revalidate-ms 0 (never
 * revalidate), so only the shim's own change marks can make a change
 * visible: a change the shim failed to mark stays invisible for good.
 *
 *   - a vfork child's chdir (CPython's subprocess with cwd=) does not make
 *     the parent's relative rename go unmarked;
 *   - a vfork child's close_range (CPython's close_fds) does not make the
 *     parent leak descriptors, one attach's worth per subprocess;
 *   - a vfork child's chroot does not turn the shim off in the parent;
 *   - fchownat and utimensat with AT_EMPTY_PATH and "" mark the file of
 *     the descriptor;
 *   - a change made while the daemon is paused (heartbeat stale) is still
 *     marked in its index, and seen once it runs again;
 *   - a process killed inside a modifying call leaves its bucket in flight
 *     only until shmd clears the mark (10 s), not until the next daemon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/harness.h"

static const char *const immutable_args[] = {"--settle-ms", "0", "--revalidate-ms", "0",
                                             "--capacity", "64M", "--log-level", "debug", NULL};

static int setup_immutable(void **state)
{
    return h_fix_new(state, immutable_args, true) ? 0 : -1;
}

/* Text after the first n lines of r's stdout, and its length. */
static const char *after_lines(const struct h_result *r, int n, size_t *len)
{
    const char *p = r->out;
    while (n-- > 0) {
        const char *nl = memchr(p, '\n', r->out_len - (size_t)(p - r->out));
        if (!nl)
            fail_msg("expected more lines of output, got:\n%s", r->out);
        p = nl + 1;
    }
    *len = r->out_len - (size_t)(p - r->out);
    return p;
}

/* Cache path and prove it is being served from the tier (one hit). */
static void cache_and_check_hit(struct h_fix *f, const char *path)
{
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", path, "+", "wait-tier", path, f->d.dir, "5000"));
    h_assert_ok(&r, h_fmt("caching %s", path));
    h_result_free(&r);
    long long hits = h_stat(&f->d, "hits");
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", path));
    h_assert_ok(&r, "probe where");
    r.out[strcspn(r.out, "\n")] = '\0';
    h_assert_in_tier(r.out, f->d.dir, h_fmt("%s before the change", path));
    assert_int_equal(h_stat(&f->d, "hits"), hits + 1);
    h_result_free(&r);
}

/* A fresh shimmed process reads path: its bytes must be want. */
static void expect_content(struct h_fix *f, const char *path, const void *want, size_t n,
                           const char *what)
{
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", path));
    h_assert_ok(&r, what);
    h_assert_bytes(r.out, r.out_len, want, n, what);
    h_result_free(&r);
}

static void skip_unless_root(struct h_fix *f, const char *why)
{
    if (h_is_root())
        return;
    print_message("    SKIPPED: needs root (%s); CI runs the suite as root\n", why);
    H_PASS(f);
    skip();
}

/* ---- vfork children ---------------------------------------------------------- */
/* CPython's subprocess makes its child with vfork; with cwd= the child
 * chdirs before exec. The old shim ran its chdir hook in the child, whose
 * memory is the parent's: the child's new cwd (/usr, outside the prefix)
 * cleared the parent's "cwd is under a prefix" flag, so the parent's
 * relative rename("f.tmp", "f") was not marked and the old entry was
 * served to every process from then on. */
static void test_vfork_child_chdir(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "f");
    const char *old = "the old version of f\n";
    const char *text = "written by python after subprocess.run(cwd=\"/usr\")\n";
    static const char script[] =
        "import os, subprocess, sys\n"
        "os.chdir(sys.argv[1])\n"
        "fd = os.open('f', os.O_RDONLY)\n"
        "print(os.readlink('/proc/self/fd/%d' % fd), flush=True)\n"
        "os.close(fd)\n"
        "subprocess.run(['/bin/true'], cwd='/usr', check=True)\n"
        "with open('f.tmp', 'w') as w:\n"
        "    w.write(sys.argv[2])\n"
        "os.rename('f.tmp', 'f')\n"
        "with open('f') as r:\n"
        "    sys.stdout.write(r.read())\n";
    char l[H_PATH_MAX];
    struct h_result r;
    size_t n;

    assert_int_equal(h_write_str(p, old), 0);
    cache_and_check_hit(f, p);
    long long hits = h_stat(&f->d, "hits");
    h_shim(f, &r, NULL, H_ARGV(h_python(), "-c", script, f->src, text));
    h_assert_ok(&r, "python: chdir, open f, subprocess.run(cwd=/usr), rename f.tmp f");
    h_assert_in_tier(h_line_of(r.out, 0, l, sizeof l) ? l : "(nothing)", f->d.dir,
                     "python's relative open of f before the subprocess");
    if (h_stat(&f->d, "hits") < hits + 1)
        fail_msg("python's open of f before the subprocess was not counted as a hit");
    const char *rest = after_lines(&r, 1, &n);
    h_assert_bytes(rest, n, text, strlen(text), "python's own read of f after its rename");
    h_result_free(&r);

    expect_content(f, p, text, strlen(text),
                   "a fresh process after the relative rename (cwd flag kept in the parent)");
    H_PASS(f);
}

/* CPython's vfork child closes every inherited descriptor with
 * close_range(3, ~0) (close_fds=True) before exec. The old shim's
 * close_range hook ran in the child and, sharing the parent's memory,
 * forgot the parent's own instance directory and socket descriptors as if
 * they were closed: the parent's next attach opened new ones while the old
 * ones stayed open, 2 descriptors leaked per subprocess (attach is tried
 * at most once a second, hence the sleeps). */
static void test_no_fd_leak_across_subprocesses(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "page.bin");
    static const char script[] =
        "import os, subprocess, sys, time\n"
        "p = sys.argv[1]\n"
        "def fds():\n"
        "    return ' '.join(sorted(os.listdir('/proc/self/fd'), key=int))\n"
        "def read():\n"
        "    with open(p, 'rb') as r:\n"
        "        return r.read()\n"
        "def where():\n"
        "    fd = os.open(p, os.O_RDONLY)\n"
        "    try:\n"
        "        return os.readlink('/proc/self/fd/%d' % fd)\n"
        "    finally:\n"
        "        os.close(fd)\n"
        "first = where()\n"
        "before = fds()\n"
        "for i in range(4):\n"
        "    subprocess.run(['/bin/true'], check=True)\n"
        "    read()\n"
        "    time.sleep(1.1)\n"
        "    read()\n"
        "after = fds()\n"
        "print(first)\n"
        "print(where())\n"
        "print('before', before)\n"
        "print('after', after)\n"
        "for fd in after.split():\n"
        "    try:\n"
        "        print('fd', fd, os.readlink('/proc/self/fd/' + fd))\n"
        "    except OSError:\n"
        "        pass\n";
    char l0[H_PATH_MAX], l1[H_PATH_MAX], before[H_PATH_MAX], after[H_PATH_MAX];
    struct h_result r;

    cache_and_check_hit(f, p);
    long long hits = h_stat(&f->d, "hits");
    h_shim(f, &r, NULL, H_ARGV(h_python(), "-c", script, p));
    h_assert_ok(&r, "python: 4 x subprocess.run + reads of a cached file");
    assert_non_null(h_line_of(r.out, 0, l0, sizeof l0));
    assert_non_null(h_line_of(r.out, 1, l1, sizeof l1));
    assert_non_null(h_line_of(r.out, 2, before, sizeof before));
    assert_non_null(h_line_of(r.out, 3, after, sizeof after));
    h_assert_in_tier(l0, f->d.dir, "python's first open (attached)");
    h_assert_in_tier(l1, f->d.dir, "python's open after the subprocesses");
    if (strcmp(before + strlen("before"), after + strlen("after")) != 0)
        fail_msg("python's descriptors changed across 4 subprocesses:\n  %s\n  %s\n%s", before,
                 after, r.out);
    /* where, 8 reads, where: all served from the tier */
    long long now = h_stat(&f->d, "hits");
    if (now < hits + 10)
        fail_msg("%lld hits from python's 10 opens of a cached file, expected 10", now - hits);
    h_result_free(&r);
    H_PASS(f);
}

/* A vfork child that chroots (even to "/") leaves the daemon's root. The
 * old shim's chroot hook turned the shim off there, and since the child's
 * memory is the parent's, off in the parent too: the parent's rename over
 * a cached file afterwards was not marked (the old entry was served to
 * every other process for good), and the parent itself got no more hits. */
static void test_vfork_child_chroot(void **state)
{
    struct h_fix *f = *state;
    skip_unless_root(f, "chroot in the vfork child");
    const char *p = h_src(f, "page.bin");
    const char *q = h_src(f, "k100.bin");
    const char *np = h_src(f, "page.new");
    const char *text = "renamed over page.bin after a vfork child chrooted\n";
    char l[H_PATH_MAX];
    struct h_result r;
    size_t n;

    cache_and_check_hit(f, p);
    cache_and_check_hit(f, q);
    assert_int_equal(h_write_str(np, text), 0);
    long long hits = h_stat(&f->d, "hits");
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", p, "+", "vfork-chroot", "+", "rename", np, p,
                              "+", "cat", p, "+", "where", q));
    h_assert_ok(&r, "where + vfork-chroot + rename + cat + where");
    h_assert_in_tier(h_line_of(r.out, 0, l, sizeof l) ? l : "(nothing)", f->d.dir,
                     "the parent's open before the vfork");
    long long now = h_stat(&f->d, "hits");
    const char *rest = after_lines(&r, 1, &n);
    if (n < strlen(text) + 1 || memcmp(rest, text, strlen(text)) != 0)
        fail_msg("the parent's read after its rename is not the new content:\n%s", r.out);
    /* what every other process reads: the rename was marked */
    expect_content(f, p, text, strlen(text), "a fresh process after the parent's rename");
    /* and the parent was not turned off by its child */
    h_assert_in_tier(h_line_of(rest, 1, l, sizeof l) ? l : "(nothing)", f->d.dir,
                     "the parent's open of another cached file after the vfork child's chroot "
                     "(the shim must still be on in the parent)");
    if (now < hits + 2)
        fail_msg("%lld hits in the parent, expected at least 2 (before and after the vfork)",
                 now - hits);
    h_result_free(&r);
    H_PASS(f);
}

/* ---- AT_EMPTY_PATH ----------------------------------------------------------- */
/* One "NAME dev ino size mode nlink uid gid mtime_sec mtime_nsec ..." line
 * of probe fstat. */
struct pstat {
    unsigned gid;
    long long mtime_sec;
    long mtime_nsec;
};

static void parse_stat_line(const char *out, const char *name, struct pstat *ps)
{
    char l[1024];
    for (int i = 0; h_line_of(out, i, l, sizeof l); i++) {
        size_t k = strlen(name);
        if (strncmp(l, name, k) != 0 || l[k] != ' ')
            continue;
        unsigned long long dev, ino, nlink;
        long long size;
        unsigned mode, uid;
        if (sscanf(l + k, "%llu %llu %lld %o %llu %u %u %lld %ld", &dev, &ino, &size, &mode,
                   &nlink, &uid, &ps->gid, &ps->mtime_sec, &ps->mtime_nsec) != 9)
            fail_msg("cannot parse probe fstat line \"%s\"", l);
        return;
    }
    fail_msg("no \"%s\" line in probe fstat output:\n%s", name, out);
}

/* A fresh shimmed `probe fstat path`: every line describing the
 * descriptor (fstat, fstatat and statx of it) must report the source's
 * gid and mtime as stat(2) sees them now (without the shim). */
static void expect_fstat_is_source(struct h_fix *f, const char *path, const char *what)
{
    static const char *const names[] = {"fstat", "fstatat", "statx"};
    struct stat st;
    struct h_result r;

    assert_int_equal(stat(path, &st), 0);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "fstat", path));
    h_assert_ok(&r, what);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct pstat ps;
        parse_stat_line(r.out, names[i], &ps);
        if (ps.gid != (unsigned)st.st_gid || ps.mtime_sec != (long long)st.st_mtim.tv_sec ||
            ps.mtime_nsec != st.st_mtim.tv_nsec)
            fail_msg("%s: %s reports gid %u mtime %lld.%09ld, the source has gid %u mtime "
                     "%lld.%09ld", what, names[i], ps.gid, ps.mtime_sec, ps.mtime_nsec,
                     (unsigned)st.st_gid, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
    h_result_free(&r);
}

/* fchownat(fd, "", -1, gid, AT_EMPTY_PATH) on an O_PATH descriptor changes
 * the group of the file of fd. The old shim took it for a path call on ""
 * relative to fd, which named no cached path: nothing was marked, and
 * fstat of a hit kept reporting the old group for good. */
static void test_fchownat_empty_path(void **state)
{
    struct h_fix *f = *state;
    skip_unless_root(f, "chown to another group");
    const char *p = h_src(f, "text.txt");
    struct stat st;
    struct h_result r;

    cache_and_check_hit(f, p);
    expect_fstat_is_source(f, p, "fstat of the hit before the change");
    assert_int_equal(stat(p, &st), 0);
    unsigned gid = (unsigned)st.st_gid == 4242 ? 4243 : 4242;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "chown-empty", p, h_fmt("%u", gid)));
    h_assert_ok(&r, "fchownat(O_PATH fd, \"\", -1, gid, AT_EMPTY_PATH)");
    h_result_free(&r);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal((unsigned)st.st_gid, gid);
    expect_fstat_is_source(f, p, "a fresh process's fstat after fchownat(AT_EMPTY_PATH)");
    /* and the changed file is served again, with its new group */
    cache_and_check_hit(f, p);
    expect_fstat_is_source(f, p, "fstat of the copy made after the change");
    H_PASS(f);
}

/* utimensat(fd, "", times, AT_EMPTY_PATH) on an O_RDONLY descriptor of
 * the source sets the times of the file of fd. The old shim, as for
 * fchownat, marked nothing: fstat of a hit kept the old mtime for good. */
static void test_utimensat_empty_path(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "text.txt");
    const long long sec = 1000000000;
    struct stat st;
    struct h_result r;

    cache_and_check_hit(f, p);
    expect_fstat_is_source(f, p, "fstat of the hit before the change");
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "utime-empty", p, h_fmt("%lld", sec)));
    h_assert_ok(&r, "utimensat(O_RDONLY fd, \"\", times, AT_EMPTY_PATH)");
    h_result_free(&r);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal((long long)st.st_mtim.tv_sec, sec);
    expect_fstat_is_source(f, p, "a fresh process's fstat after utimensat(AT_EMPTY_PATH)");
    cache_and_check_hit(f, p);
    expect_fstat_is_source(f, p, "fstat of the copy made after the change");
    H_PASS(f);
}

/* Whether a fresh shimmed process reads exactly want from path. */
static bool reads(struct h_fix *f, const char *path, const char *want)
{
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", path));
    h_assert_ok(&r, h_fmt("reading %s", path));
    bool ok = r.out_len == strlen(want) && memcmp(r.out, want, r.out_len) == 0;
    h_result_free(&r);
    return ok;
}

/* ---- a paused daemon ------------------------------------------------------------- */
/* A daemon stopped long enough for its heartbeat to go stale (SIGSTOP, a
 * swapped-out or throttled daemon, a debugger) is not live: shims serve
 * nothing. The old shim skipped the change marks too, so a rename made
 * meanwhile, by a process attached before or one started during the
 * pause, was never marked, and once the daemon ran again its old entry was
 * served for good. */
static void test_daemon_paused(void **state)
{
    struct h_fix *f = *state;
    const char *p1 = h_src(f, "text.txt");  /* renamed over by a process attached before */
    const char *p2 = h_src(f, "page.bin");  /* renamed over by a process started meanwhile */
    const char *q = h_src(f, "k100.bin");   /* not changed: tells when hits are back */
    const char *n1 = h_src(f, "text.new"), *n2 = h_src(f, "page.new");
    const char *t1 = "renamed over text.txt while the daemon was stopped\n";
    const char *t2 = "renamed over page.bin by a process started while it was stopped\n";
    const char *ready = h_fmt("%s/ready", f->tmp), *go = h_fmt("%s/go", f->tmp);
    char l[H_PATH_MAX];
    struct h_proc b;
    struct h_result rb, ra;

    cache_and_check_hit(f, p1);
    cache_and_check_hit(f, p2);
    cache_and_check_hit(f, q);
    assert_int_equal(h_write_str(n1, t1), 0);
    assert_int_equal(h_write_str(n2, t2), 0);
    assert_int_equal(h_start(&b, h_shim_env(f, NULL),
                             H_ARGV(h_probe(), "where", p1, "+", "touch", ready, "+", "wait-file",
                                    go, "20000", "+", "rename", n1, p1)),
                     0);
    uint64_t end = h_now_ms() + 10000;
    while (access(ready, F_OK) < 0 && h_now_ms() < end)
        h_sleep_ms(5);
    if (access(ready, F_OK) < 0) {
        h_finish(&b, &rb, 1);
        fail_msg("the long-running process did not start: %s", rb.err);
    }

    /* nothing asserted while it is stopped: a failure must not leave it so */
    assert_int_equal(kill(f->d.pid, SIGSTOP), 0);
    h_sleep_ms(2500); /* its heartbeat is stale: not live */
    h_write_str(go, "");
    h_finish(&b, &rb, 10000);
    h_shim(f, &ra, NULL, H_ARGV(h_probe(), "rename", n2, p2));
    assert_int_equal(kill(f->d.pid, SIGCONT), 0);

    h_assert_ok(&rb, "the process attached before the pause: rename");
    h_assert_in_tier(h_line_of(rb.out, 0, l, sizeof l) ? l : "(nothing)", f->d.dir,
                     "the long-running process's open before the pause");
    h_assert_ok(&ra, "a process started during the pause: rename");
    h_result_free(&rb);
    h_result_free(&ra);

    /* wait until the daemon is live again for the shims: q is a hit */
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "wait-tier", q, f->d.dir, "5000"));
    h_assert_ok(&r, "hits are served again after SIGCONT");
    h_result_free(&r);
    /* both checked before either fails: each is a case of its own */
    for (int round = 0; round < 2; round++) {
        if (round)
            h_sleep_ms(3000);
        const char *when = round ? "3 s after the pause" : "after the pause";
        bool ok1 = reads(f, p1, t1), ok2 = reads(f, p2, t2);
        if (!ok1 || !ok2)
            fail_msg("%s, a fresh process reads the old content of%s%s", when,
                     ok1 ? "" : " the file renamed over by the process attached before it",
                     ok2 ? "" : (ok1 ? " the file renamed over by a process started during it"
                                     : " and of the one renamed over by a process started "
                                       "during it"));
    }
    H_PASS(f);
}

/* ---- a process killed inside a modifying call ----------------------------------- */
struct log_wait {
    const char *path, *needle;
};

static bool log_has(void *arg)
{
    const struct log_wait *w = arg;
    size_t n = 0;
    unsigned char *b = h_read_file(w->path, &n);
    bool found = b && h_count_lines((const char *)b, w->needle) > 0;
    free(b);
    return found;
}

/* `shmd warm path`: its summary line must start with want. */
static void expect_warm(struct h_fix *f, const char *path, const char *want, const char *what)
{
    struct h_result r;
    h_shmd_cmd(&f->d, &r, H_ARGV("warm", path));
    if (strncmp(r.out, want, strlen(want)) != 0)
        fail_msg("%s: shmd warm said \"%s\" (stderr \"%s\"), expected \"%s...\"", what, r.out,
                 r.err, want);
    h_result_free(&r);
}

/* An open for writing marks its path in flight before the real call and
 * ends the mark after it. A process killed inside the call (here: blocked
 * in open(O_WRONLY) of a FIFO with no reader, then SIGKILLed) never ends
 * it. With the old daemon nothing ever cleared such a mark: every path of
 * that bucket passed through until the daemon was restarted, shmd warm
 * skipped them as changed and no read was a hit. Now shmd clears a mark
 * that stayed in flight, unchanged, for 10 s, and logs it. */
static void test_killed_inside_modifying_call(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "fifo");
    const char *q = h_src(f, "page.bin");
    const char *text = "a regular file where the FIFO was\n";
    struct log_wait w = {f->d.log, "cleared the change mark of bucket"};
    struct h_proc k;
    struct h_result r;
    char l[H_PATH_MAX];

    assert_int_equal(mkfifo(p, 0644), 0);
    assert_int_equal(h_start(&k, h_shim_env(f, NULL), H_ARGV(h_probe(), "errno", p, "w")), 0);
    h_sleep_ms(300); /* blocked in open(2), its path marked in flight */
    assert_int_equal(kill(k.pid, SIGKILL), 0);
    uint64_t t0 = h_now_ms();
    assert_int_equal(h_finish(&k, &r, 5000), 128 + SIGKILL);
    h_result_free(&r);

    /* The path becomes a regular file behind the cache. While its bucket
     * is in flight it is neither loaded nor served (the precondition: the
     * dead process really left its mark)... */
    assert_int_equal(unlink(p), 0);
    assert_int_equal(h_write_str(p, text), 0);
    expect_warm(f, p, "warmed 0 files", "while the dead process's mark is in flight");
    h_assert_where(f, p, false, "while the dead process's mark is in flight");
    /* ...while paths of other buckets are */
    cache_and_check_hit(f, q);
    assert_false(log_has(&w));

    /* shmd clears the mark 10 s after it first saw it (it looks once a second) */
    if (!h_wait_until(log_has, &w, 15000, 100))
        fail_msg("no \"%s\" in the daemon's log 15 s after the process died", w.needle);
    print_message("    mark cleared %.1f s after the kill\n", (double)(h_now_ms() - t0) / 1000);
    expect_warm(f, p, "warmed 1 file ", "after the mark was cleared");
    long long hits = h_stat(&f->d, "hits");
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", p, "+", "cat", p));
    h_assert_ok(&r, "where + cat after the mark was cleared");
    h_assert_in_tier(h_line_of(r.out, 0, l, sizeof l) ? l : "(nothing)", f->d.dir,
                     "the path after its mark was cleared");
    size_t n;
    const char *rest = after_lines(&r, 1, &n);
    h_assert_bytes(rest, n, text, strlen(text), "the path served after its mark was cleared");
    h_result_free(&r);
    if (h_stat(&f->d, "hits") < hits + 2)
        fail_msg("the two opens after the mark was cleared were not both hits");
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vfork_child_chdir, setup_immutable, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_no_fd_leak_across_subprocesses, setup_immutable,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_vfork_child_chroot, setup_immutable, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_fchownat_empty_path, setup_immutable,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_utimensat_empty_path, setup_immutable,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_paused, setup_immutable, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_killed_inside_modifying_call, setup_immutable,
                                        h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: change marks (review regressions)", tests,
                                       h_group_setup, h_group_teardown);
}
