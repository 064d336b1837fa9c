/* test_lostupdate.c - the lock-file + rename pattern loses no update under
 * the shim (DESIGN, "The hook contract": a modifying call invalidates what
 * it affects before and after the real call, so no process that can observe
 * its effect is served the old state).
 *
 * 50 shimmed processes at once each append 4 lines to one file the way git,
 * npm and many tools update files: take DIR/list.lock with O_CREAT|O_EXCL,
 * read DIR/list, write old contents + the new line to the lock file,
 * rename it over DIR/list (tests/helpers/lockappend.c). The lock serialises
 * the writers, so every line must survive: a process that finds the lock
 * free has seen the previous holder's rename, and must read what it
 * renamed into place, never an older version from the tier. 20 rounds in a
 * row, each on a new file, with a daemon that loads at once and never
 * revalidates (--settle-ms 0 --revalidate-ms 0), so only the shim's own
 * invalidation keeps the tier from serving an old version.
 *
 * Each holder also reads list a second time, PAUSE_US after the first, and
 * compares: both reads are of the version in place, which cannot change
 * while the lock is held. The pause is what lets the tier serve anything
 * at all: the first read's miss makes the daemon load that version, and
 * the second read can be a (correct) hit. Without it every version is read
 * exactly once, by the next holder, before it could have been cached, and a
 * correct shim serves no read: the test requires the tier to have served
 * some, or it would prove nothing.
 *
 * The same with real git (needs git installed: `make deps`): a counter in
 * each of GIT_REFS refs, advanced by GIT_WRITERS shimmed writers at once,
 * each `git rev-parse` then `git update-ref REF NEW OLD` until it succeeds,
 * GIT_STEPS times (tests/helpers/gitcas.c). update-ref takes REF.lock,
 * checks the old value in the loose ref and renames the lock over it, so
 * every successful update-ref advances the counter by one: git's own
 * for-each-ref must show each ref at the number of successes on it, and
 * fsck must find the repository sound. */
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

#define ROUNDS 20
#define PROCS 50
#define LINES 4
#define PAUSE_US "500"

static const char *const daemon_args[] = {"--settle-ms", "0", "--revalidate-ms", "0",
                                          "--capacity", "64M", NULL};

static int setup(void **state)
{
    return h_fix_new(state, daemon_args, true) ? 0 : -1;
}

/* Outcome of one round: how many of the PROCS * LINES lines are missing,
 * duplicated or not ones any writer wrote, and a few of them by name. */
struct tally {
    int lines, missing, dup, foreign;
    long long differ; /* second reads under the lock that differed from the first */
    char sample[96]; /* the first few, by name */
};

static void add_sample(struct tally *t, const char *what, int p, int i)
{
    size_t n = strlen(t->sample);
    if (n < sizeof t->sample - 24)
        snprintf(t->sample + n, sizeof t->sample - n, "%s%s p%02d %d", n ? ", " : "", what, p, i);
}

static void count_lines(const char *text, struct tally *t)
{
    int seen[PROCS][LINES];
    memset(seen, 0, sizeof seen);
    memset(t, 0, sizeof *t);
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        int p, i, used = 0;
        t->lines++;
        if (sscanf(l, "p%d %d%n", &p, &i, &used) == 2 && (size_t)used == len && p >= 0 &&
            p < PROCS && i >= 0 && i < LINES)
            seen[p][i]++;
        else
            t->foreign++;
        l = nl ? nl + 1 : l + len;
    }
    for (int p = 0; p < PROCS; p++)
        for (int i = 0; i < LINES; i++) {
            if (!seen[p][i]) {
                t->missing++;
                add_sample(t, "lost", p, i);
            } else if (seen[p][i] > 1) {
                t->dup += seen[p][i] - 1;
                add_sample(t, "twice", p, i);
            }
        }
}

/* One round in dir: PROCS writers at once (shimmed or not), all waited for;
 * then what list holds. */
static void round_in(struct h_fix *f, const char *where, bool shimmed, struct tally *t)
{
    struct h_proc procs[PROCS];
    char dir[H_PATH_MAX], list[H_PATH_MAX + 8];

    snprintf(dir, sizeof dir, "%s", where); /* where may be an h_fmt buffer */

    assert_int_equal(h_mkdirs(dir, 0755), 0);
    snprintf(list, sizeof list, "%s/list", dir);
    assert_int_equal(h_write_file(list, "", 0), 0);
    for (int p = 0; p < PROCS; p++) {
        const char *const *argv = H_ARGV(h_helper("lockappend"), dir, h_fmt("p%02d", p),
                                         h_fmt("%d", LINES), PAUSE_US);
        assert_int_equal(h_start(&procs[p], shimmed ? h_shim_env(f, NULL) : NULL, argv), 0);
    }
    bool failed = false;
    long long differ = 0;
    for (int p = 0; p < PROCS; p++) {
        struct h_result r;
        int code = h_finish(&procs[p], &r, 60000);
        long long d = h_word_num(r.out, "differ");
        if ((code != 0 || d < 0) && !failed) {
            print_error("lockappend p%02d%s: exit code %d; stdout \"%.100s\"; stderr:\n%.2000s",
                        p, shimmed ? " (shimmed)" : "", code, r.out, r.err);
            failed = true;
        }
        differ += d > 0 ? d : 0;
        h_result_free(&r);
    }
    if (failed)
        fail_msg("a writer failed (see above): the round could not run");
    struct stat st;
    if (stat(h_fmt("%s.lock", list), &st) == 0)
        fail_msg("%s.lock is left behind after every writer exited", list);
    size_t n = 0;
    char *text = (char *)h_read_file(list, &n);
    assert_non_null(text);
    count_lines(text, t);
    t->differ = differ;
    free(text);
}

static void test_lock_file_rename_loses_no_line(void **state)
{
    struct h_fix *f = *state;
    struct tally t;
    const int want = PROCS * LINES;

    /* the workload itself is right: without the shim nothing is lost */
    round_in(f, h_fmt("%s/plain", f->tmp), false, &t);
    if (t.missing || t.dup || t.foreign || t.lines != want || t.differ)
        fail_msg("without the shim: %d lines (want %d), %d lost, %d twice, %d foreign (%s), "
                 "%lld double reads differed: the workload is broken, not the shim", t.lines,
                 want, t.missing, t.dup, t.foreign, t.sample, t.differ);

    long long hits0 = h_stat(&f->d, "hits");
    int bad_rounds = 0, lost = 0;
    long long differ = 0;
    for (int round = 0; round < ROUNDS; round++) {
        round_in(f, h_fmt("%s/round%02d", f->src, round), true, &t);
        differ += t.differ;
        if (t.missing || t.dup || t.foreign || t.lines != want || t.differ) {
            bad_rounds++;
            lost += t.missing;
            print_message("round %2d: %d lines, %d of %d lost, %d twice, %d foreign, %lld "
                          "double reads differed (%s)\n", round + 1, t.lines, t.missing, want,
                          t.dup, t.foreign, t.differ, t.sample);
        }
    }
    long long hits = h_stat(&f->d, "hits") - hits0;
    print_message("lock-file + rename: %d rounds of %d writers x %d lines, %lld of %d reads "
                  "served from the tier, %d rounds went wrong\n", ROUNDS, PROCS, LINES, hits,
                  ROUNDS * PROCS * LINES * 2, bad_rounds);
    if (bad_rounds)
        fail_msg("updates lost under the shim in %d of %d rounds (%d lines in all, %lld reads "
                 "under the lock that disagreed; the tier served %lld reads): a writer that "
                 "took the lock after the previous holder's rename read an older list",
                 bad_rounds, ROUNDS, lost, differ, hits);
    if (hits <= 0)
        fail_msg("the tier served none of the reads of list in %d rounds (hits %lld): the "
                 "test did not exercise the shim's invalidation", ROUNDS, hits);
    H_PASS(f);
}

/* ---- the same with git -------------------------------------------------------- */
#define GIT_ROUNDS 3
#define GIT_WRITERS 100
#define GIT_REFS 5
#define GIT_STEPS 2

static bool have_git(void)
{
    struct h_result r;
    int code = h_run(&r, NULL, H_ARGV("git", "--version"), 10000);
    h_result_free(&r);
    return code == 0;
}

/* git, not shimmed, with no configuration but the repository's. */
static const char *const *git_env(struct h_fix *f)
{
    static char home[H_PATH_MAX + 8];
    snprintf(home, sizeof home, "HOME=%s", f->tmp);
    static const char *v[8];
    v[0] = home;
    v[1] = "GIT_CONFIG_NOSYSTEM=1";
    v[2] = "GIT_CONFIG_GLOBAL=/dev/null";
    v[3] = "XDG_CONFIG_HOME";
    v[4] = "GIT_DIR";
    v[5] = "GIT_TERMINAL_PROMPT=0";
    v[6] = NULL;
    return v;
}

static void git_ok(struct h_fix *f, struct h_result *r, const char *const *argv, const char *what)
{
    h_run(r, git_env(f), argv, 60000);
    h_assert_ok(r, what);
}

/* A fresh repository at repo with GIT_REFS refs refs/c/xN at value 0; the
 * values (one blob per number) listed in the file values. */
static void git_repo(struct h_fix *f, const char *repo, const char *values)
{
    struct h_result r;
    char nums[H_PATH_MAX + 16];
    const int n = GIT_WRITERS * GIT_STEPS + 2;
    const char *argv[GIT_WRITERS * GIT_STEPS + 16];
    static char paths[GIT_WRITERS * GIT_STEPS + 2][H_PATH_MAX + 32];
    int k = 0;

    git_ok(f, &r, H_ARGV("git", "init", "-q", repo), "git init");
    h_result_free(&r);
    snprintf(nums, sizeof nums, "%.4000s.nums", repo);
    assert_int_equal(h_mkdirs(nums, 0755), 0);
    argv[k++] = "git";
    argv[k++] = "-C";
    argv[k++] = repo;
    argv[k++] = "hash-object";
    argv[k++] = "-w";
    for (int i = 0; i < n; i++) {
        snprintf(paths[i], sizeof paths[i], "%.4000s/%d", nums, i);
        assert_int_equal(h_write_str(paths[i], h_fmt("%d\n", i)), 0);
        argv[k++] = paths[i];
    }
    argv[k] = NULL;
    git_ok(f, &r, argv, "git hash-object (the counter's values)");
    if (h_count_lines(r.out, "") != n)
        fail_msg("git hash-object printed %d names for %d files", h_count_lines(r.out, ""), n);
    assert_int_equal(h_write_file(values, r.out, r.out_len), 0);
    char first[64];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(r.out, "\n"), r.out);
    h_result_free(&r);
    for (int i = 0; i < GIT_REFS; i++) {
        git_ok(f, &r, H_ARGV("git", "-C", repo, "update-ref", h_fmt("refs/c/x%d", i), first),
               "git update-ref (the start)");
        h_result_free(&r);
    }
}

/* The number ref stands for now, by git for-each-ref, from values. */
static int git_counter(const char *refs_out, const char *values_text, int ref)
{
    const char *name = h_fmt("refs/c/x%d ", ref);
    const char *l = strstr(refs_out, name);
    if (!l)
        return -1;
    char obj[64];
    snprintf(obj, sizeof obj, "%.*s", (int)strcspn(l + strlen(name), "\n"), l + strlen(name));
    int k = 0;
    for (const char *v = values_text; *v; k++) {
        size_t len = strcspn(v, "\n");
        if (len == strlen(obj) && strncmp(v, obj, len) == 0)
            return k;
        v += len + (v[len] == '\n');
    }
    return -1;
}

/* One round on a fresh repository (shimmed writers or not): how many
 * successful updates the refs do not show, described in detail. */
static int git_round(struct h_fix *f, int round, bool shimmed, char *detail, size_t dsize)
{
    char repo[H_PATH_MAX + 16], values[H_PATH_MAX + 16];
    snprintf(repo, sizeof repo, "%.4000s/git%d", shimmed ? f->src : f->tmp, round);
    snprintf(values, sizeof values, "%.4000s/values%d", f->tmp, round);
    git_repo(f, repo, values);

    /* the writers (and every git they run) shimmed or not */
    const char *const *ge = git_env(f);
    const char *extra[8];
    for (int i = 0; i < 8; i++)
        extra[i] = ge[i];
    struct h_proc procs[GIT_WRITERS];
    for (int w = 0; w < GIT_WRITERS; w++)
        assert_int_equal(h_start(&procs[w], shimmed ? h_shim_env(f, extra) : extra,
                                 H_ARGV(h_helper("gitcas"), repo, h_fmt("refs/c/x%d", w % GIT_REFS),
                                        h_fmt("%d", GIT_STEPS), values)),
                         0);
    long long ok[GIT_REFS] = {0}, tries = 0;
    for (int w = 0; w < GIT_WRITERS; w++) {
        struct h_result r;
        int code = h_finish(&procs[w], &r, 120000);
        long long n = h_word_num(r.out, "ok"), t = h_word_num(r.out, "tries");
        if (code != 0 || n < 0)
            fail_msg("gitcas writer %d%s: exit code %d; stdout \"%.100s\"; stderr:\n%.2000s", w,
                     shimmed ? " (shimmed)" : "", code, r.out, r.err);
        ok[w % GIT_REFS] += n;
        tries += t;
        h_result_free(&r);
    }

    struct h_result refs, fsck;
    git_ok(f, &refs, H_ARGV("git", "-C", repo, "for-each-ref",
                            "--format=%(refname) %(objectname)", "refs/c"),
           "git for-each-ref");
    size_t vn = 0;
    char *vtext = (char *)h_read_file(values, &vn);
    assert_non_null(vtext);
    size_t dl = 0;
    int lost = 0;
    detail[0] = '\0';
    for (int i = 0; i < GIT_REFS; i++) {
        int now = git_counter(refs.out, vtext, i);
        if (now < 0)
            fail_msg("round %d: refs/c/x%d is missing or not one of the counter's values "
                     "(git for-each-ref:\n%s)", round, i, refs.out);
        if (now == ok[i])
            continue;
        lost += abs((int)ok[i] - now); /* fewer: lost updates; more cannot happen */
        if (dl < dsize)
            dl += (size_t)snprintf(detail + dl, dsize - dl, "%srefs/c/x%d at %d after %lld",
                                   dl ? ", " : "", i, now, ok[i]);
    }
    if (dl < dsize)
        snprintf(detail + dl, dsize - dl, "%s%lld update-ref attempts", dl ? "; " : "", tries);
    git_ok(f, &fsck, H_ARGV("git", "-C", repo, "fsck", "--no-progress"),
           h_fmt("git fsck after round %d", round));
    h_result_free(&fsck);
    free(vtext);
    h_result_free(&refs);
    return lost;
}

static void test_git_update_ref_loses_no_update(void **state)
{
    struct h_fix *f = *state;
    char detail[512];
    if (!have_git())
        fail_msg("git is not installed: this test runs real git under the shim (`make deps` "
                 "installs it)");

    /* the workload itself is right: without the shim no update is lost */
    int lost = git_round(f, 0, false, detail, sizeof detail);
    if (lost)
        fail_msg("without the shim %d updates were lost (%s): the workload is broken, not the "
                 "shim", lost, detail);

    long long hits0 = h_stat(&f->d, "hits");
    int bad_rounds = 0, lost_all = 0;
    for (int round = 1; round <= GIT_ROUNDS; round++) {
        lost = git_round(f, round, true, detail, sizeof detail);
        if (lost) {
            bad_rounds++;
            lost_all += lost;
            print_message("git round %d: %d of %d successful update-ref calls lost (%s)\n", round,
                          lost, GIT_WRITERS * GIT_STEPS, detail);
        }
    }
    long long hits = h_stat(&f->d, "hits") - hits0;
    if (bad_rounds)
        fail_msg("git update-ref: updates lost under the shim in %d of %d rounds (%d of %d in "
                 "all; the tier served %lld opens): an update-ref that took the lock after the "
                 "previous writer's rename checked its old value against the ref as it was "
                 "before", bad_rounds, GIT_ROUNDS,
                 lost_all, GIT_ROUNDS * GIT_WRITERS * GIT_STEPS, hits);
    if (hits <= 0)
        fail_msg("the tier served none of git's opens (hits %lld): the test did not exercise "
                 "the shim", hits);
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock_file_rename_loses_no_line, setup,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_git_update_ref_loses_no_update, setup,
                                        h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: lost updates", tests, h_group_setup,
                                       h_group_teardown);
}
