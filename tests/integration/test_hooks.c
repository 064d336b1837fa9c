/* test_hooks.c - the hook contract (DESIGN, "The hook contract"), for every
 * hooked function: a program under the shim sees exactly what it sees
 * without it. tests/helpers/hookprobe calls each function (the hooks, and
 * the path readers a later change hooks) with valid arguments, with every
 * pointer argument the kernel reads replaced by an unreadable one
 * (unmapped, 0xdeadc0de, PROT_NONE, a string running into a PROT_NONE
 * page), with NULL, and with a pointer that was valid for the call before
 * and has since been unmapped, made PROT_NONE or mremapped away; it prints
 * the return value and errno of each (errno is EDOM before every call, so
 * a successful call must leave EDOM). What a user relies on:
 *   - no call kills the program where the kernel would answer EFAULT;
 *   - the return value and errno are the real call's, in every case;
 *   - a successful call leaves errno alone;
 * whether the path is inside a prefix or not, with or without a daemon, on
 * a second run that meets the tier's entries for the files it opens, and on
 * a second host of a fleet (memcached), whose opens wait for the fleet's
 * copies (SHMCACHE_FLEET_WAIT_MS) and get them put in place of the real
 * descriptor.
 *
 * Each configuration runs the probe in a fresh directory of its own and
 * compares its output, byte for byte, with a run without the shim. When it
 * differs or the probe dies, the probe runs again with -k (every case in a
 * child process of its own) and every case that differs is listed, so one
 * failing run names all of them. */
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

#define PROBE_MS 120000

static const char *hookprobe(void)
{
    return h_helper("hookprobe");
}

/* text with every occurrence of dir replaced by "$DIR" (malloc'd). */
static char *normalised(const char *text, const char *dir)
{
    size_t dl = strlen(dir), n = strlen(text);
    char *out = malloc(n + 1), *o = out;
    assert_non_null(out);
    for (const char *p = text; *p;) {
        if (dl && strncmp(p, dir, dl) == 0) {
            memcpy(o, "$DIR", 4); /* never longer than dir, an absolute path */
            o += 4;
            p += dl;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* Run the probe in dir (created if missing): without the shim when env is
 * NULL. Its output normalised in *out (malloc'd). Returns the exit code. */
static int run_probe(const char *dir, const char *const *env, bool isolate, char **out,
                     char **err)
{
    struct h_result r;
    assert_int_equal(h_mkdirs(dir, 0755), 0);
    const char *const *argv = isolate ? H_ARGV(hookprobe(), "-k", dir) : H_ARGV(hookprobe(), dir);
    int code = h_run(&r, env, argv, PROBE_MS);
    *out = normalised(r.out, dir);
    *err = strdup(r.err);
    h_result_free(&r);
    return code;
}

static char *g_ref; /* the run without the shim (normalised) */

/* The reference: the probe without the shim, in a directory of its own. It
 * must have run every case as intended, or every comparison is void. */
static void reference(struct h_fix *f)
{
    char *err;
    free(g_ref);
    int code = run_probe(h_fmt("%s/ref", f->tmp), NULL, false, &g_ref, &err);
    if (code != 0)
        fail_msg("hookprobe without the shim: exit code %d; stderr:\n%.2000s", code, err);
    free(err);
    static const char *const must[] = {
        /* the reproducer, and the kernel's answers the shim must give */
        "unlink bad-path-deadc0de ret=-1 errno=EFAULT\n",
        "open ok ret=fd errno=EDOM\n",
        "open stale-path-munmap-1 ret=fd errno=EDOM\n",
        "open stale-path-munmap-2 ret=-1 errno=EFAULT\n",
        "rename bad-new-runsoff ret=-1 errno=EFAULT\n",
        "fstat ok ret=0 errno=EDOM\n",
        "statx/empty null-path ret=0 errno=EDOM\n",
        "realpath ok ret=ptr ",
    };
    for (size_t i = 0; i < sizeof must / sizeof *must; i++)
        if (!strstr(g_ref, must[i]))
            fail_msg("hookprobe without the shim did not print \"%.*s\": the probe is broken",
                     (int)strcspn(must[i], "\n"), must[i]);
    static const char *const never[] = {"setup-failed", "skipped", "signal=", "absent"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++) {
        const char *p = strstr(g_ref, never[i]);
        if (p) {
            while (p > g_ref && p[-1] != '\n')
                p--;
            fail_msg("hookprobe without the shim: \"%.*s\": the probe is broken",
                     (int)strcspn(p, "\n"), p);
        }
    }
}

/* "FUNC CASE" of a line: the first two words. */
static size_t key_len(const char *line)
{
    const char *sp = strchr(line, ' ');
    if (!sp)
        return strcspn(line, "\n");
    const char *sp2 = strchr(sp + 1, ' ');
    size_t nl = strcspn(line, "\n");
    return sp2 && (size_t)(sp2 - line) < nl ? (size_t)(sp2 - line) : nl;
}

static const char *next_line(const char *p)
{
    const char *nl = strchr(p, '\n');
    return nl ? nl + 1 : p + strlen(p);
}

/* The differing cases are listed one a line up to this many, then counted
 * per function. */
#define LIST_MAX 80

struct diffs {
    const char *cfg;
    int n;
    char last_func[64];
    int func_n;
    char summary[4096];
};

static void flush_func(struct diffs *d)
{
    size_t l = strlen(d->summary);
    if (d->func_n && l < sizeof d->summary - 80)
        snprintf(d->summary + l, sizeof d->summary - l, "%s%s %d", l ? ", " : "", d->last_func,
                 d->func_n);
    d->func_n = 0;
}

/* One differing case: line (FUNC CASE ...) of the reference or of got. */
static void differs(struct diffs *d, const char *line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void differs(struct diffs *d, const char *line, const char *fmt, ...)
{
    size_t fl = strcspn(line, " \n");
    if (strlen(d->last_func) != fl || strncmp(d->last_func, line, fl) != 0) {
        flush_func(d);
        snprintf(d->last_func, sizeof d->last_func, "%.*s", (int)fl, line);
    }
    d->func_n++;
    if (d->n++ < LIST_MAX) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        print_message("  %s: %s\n", d->cfg, buf);
    }
}

/* Print the cases of got that differ from the reference, and those missing
 * from got (up to LIST_MAX, then counts per function). Returns how many. */
static int list_differences(const char *got, const char *cfg)
{
    struct diffs d = {.cfg = cfg};
    const char *w = g_ref;
    for (const char *g = got; *g; g = next_line(g)) {
        size_t gk = key_len(g), gl = strcspn(g, "\n");
        /* the same case in the reference, from where we are */
        const char *s = w;
        while (*s && !(key_len(s) == gk && strncmp(s, g, gk) == 0))
            s = next_line(s);
        if (!*s) {
            differs(&d, g, "unexpected line \"%.*s\"", (int)gl, g);
            continue;
        }
        for (; w != s; w = next_line(w))
            differs(&d, w, "%.*s: missing (want %.*s)", (int)key_len(w), w,
                    (int)(strcspn(w, "\n") - key_len(w) - 1), w + key_len(w) + 1);
        size_t wl = strcspn(w, "\n");
        if (wl != gl || strncmp(w, g, gl) != 0)
            differs(&d, g, "%.*s: want %.*s, got %.*s", (int)gk, g, (int)(wl - gk - 1),
                    w + gk + 1, (int)(gl - gk - 1), g + gk + 1);
        w = next_line(w);
    }
    for (; *w; w = next_line(w))
        differs(&d, w, "%.*s: missing", (int)key_len(w), w);
    flush_func(&d);
    if (d.n > LIST_MAX)
        print_message("  %s: ... and %d more; differing cases per function: %s\n", cfg,
                      d.n - LIST_MAX, d.summary);
    return d.n;
}

static int count_cases(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p = next_line(p))
        n++;
    return n;
}

/* The probe under the shim with env in dir: it must exit 0 and print
 * exactly the reference. On failure, the -k run lists every case. */
static void expect_as_reference(const char *cfg, const char *dir, const char *const *env)
{
    char *out, *err;
    int code = run_probe(dir, env, false, &out, &err);
    if (code == 0 && strcmp(out, g_ref) == 0) {
        free(out);
        free(err);
        return;
    }
    char died[320] = "";
    if (code != 0) {
        const char *last = strrchr(out, '\n');
        last = last ? last + 1 : out;
        int ll = (int)strlen(last);
        while (ll > 0 && last[ll - 1] == ' ')
            ll--; /* the unfinished line is "FUNC CASE " */
        if (code > 128)
            snprintf(died, sizeof died, "killed by SIG%s in case \"%.*s\"; ",
                     sigabbrev_np(code - 128) ? sigabbrev_np(code - 128) : "?",
                     ll ? (ll < 200 ? ll : 200) : 23, ll ? last : "(before the first case)");
        else
            snprintf(died, sizeof died, "exit code %d (stderr: %.200s); ", code, err);
    }
    char *kout, *kerr;
    int kcode = run_probe(dir, env, true, &kout, &kerr);
    print_message("%s: every case that differs from the run without the shim (hookprobe -k, "
                  "exit code %d):\n", cfg, kcode);
    int n = list_differences(kout, cfg);
    free(out);
    free(err);
    free(kout);
    free(kerr);
    fail_msg("%s: hookprobe %s%d of %d cases differ from the run without the shim (listed "
             "above)", cfg, died, n, count_cases(g_ref));
}

/* ---- the configurations ------------------------------------------------------ */
static int setup_daemon(void **state)
{
    return h_fix_setup(state);
}

static int setup_nodaemon(void **state)
{
    return h_fix_setup_nodaemon(state);
}

/* The probe's directory inside the prefix (f->src is SHMCACHE_PREFIX). */
static const char *inside(struct h_fix *f)
{
    return h_fmt("%s/hooks", f->src);
}

static const char *const outside_env[] = {"SHMCACHE_PREFIX=/nonexistent", NULL};

static void daemon_still_serves(struct h_fix *f)
{
    if (!h_daemon_alive(&f->d))
        fail_msg("the daemon died during the probe run (exit code %d)", f->d.exit_code);
    assert_true(h_stat(&f->d, "hits") >= 0);
}

static void test_inside_prefix_with_daemon(void **state)
{
    struct h_fix *f = *state;
    reference(f);
    expect_as_reference("inside the prefix, daemon running", inside(f), h_shim_env(f, NULL));
    daemon_still_serves(f);
    H_PASS(f);
}

/* Twice in the same directory: the second run meets the tier's entries for
 * the files it opens read-only (warmed between the runs, and proven served). */
static void test_inside_prefix_with_daemon_second_run(void **state)
{
    struct h_fix *f = *state;
    char dir[H_PATH_MAX];
    struct h_result r;

    snprintf(dir, sizeof dir, "%s", inside(f));
    reference(f);
    expect_as_reference("inside the prefix, daemon running, first run", dir, h_shim_env(f, NULL));
    assert_int_equal(h_shmd_cmd(&f->d, &r, H_ARGV("warm", h_fmt("%s/r", dir),
                                                  h_fmt("%s/ro", dir))), 0);
    h_result_free(&r);
    h_assert_where(f, h_fmt("%s/r", dir), true, "DIR/r after shmd warm");
    h_assert_where(f, h_fmt("%s/ro", dir), true, "DIR/ro after shmd warm");
    long long hits = h_stat(&f->d, "hits");
    expect_as_reference("inside the prefix, daemon running, second run (cached entries)", dir,
                        h_shim_env(f, NULL));
    long long served = h_stat(&f->d, "hits") - hits;
    if (served <= 0)
        fail_msg("the second run was served nothing from the tier (hits %lld): it did not "
                 "meet the cached entries it exists for", served);
    print_message("second run: %lld opens served from the tier\n", served);
    daemon_still_serves(f);
    H_PASS(f);
}

static void test_inside_prefix_no_daemon(void **state)
{
    struct h_fix *f = *state;
    reference(f);
    expect_as_reference("inside the prefix, no daemon", inside(f), h_shim_env(f, NULL));
    H_PASS(f);
}

static void test_outside_prefix_with_daemon(void **state)
{
    struct h_fix *f = *state;
    reference(f);
    expect_as_reference("outside the prefix, daemon running", h_fmt("%s/hooks", f->tmp),
                        h_shim_env(f, outside_env));
    daemon_still_serves(f);
    H_PASS(f);
}

static void test_outside_prefix_no_daemon(void **state)
{
    struct h_fix *f = *state;
    reference(f);
    expect_as_reference("outside the prefix, no daemon", h_fmt("%s/hooks", f->tmp),
                        h_shim_env(f, outside_env));
    H_PASS(f);
}

/* ---- the fleet wait: host A stores the probe's files in a memcached fleet;
 * host B (the fixture's daemon) runs the probe with the wait, so its
 * read-only opens of them miss, wait and are served by dup3 onto the real
 * descriptor */
static struct h_daemon g_host_a;
static struct h_proc g_mc;

static int setup_fleet(void **state)
{
    if (!h_have_memcached()) {
        print_message("    skipped: memcached is not installed (apt-get install memcached)\n");
        *state = NULL;
        return 0;
    }
    struct h_fix *f = h_fix_new(state, NULL, false);
    assert_non_null(f);
    static char sock[H_PATH_MAX], key[H_PATH_MAX];
    snprintf(sock, sizeof sock, "%.3000s/mc.sock", f->tmp);
    snprintf(key, sizeof key, "%.3000s/fleet.key", f->tmp);
    unsigned char secret[32];
    h_fill(secret, sizeof secret, 99, false);
    assert_int_equal(h_write_file(key, secret, sizeof secret), 0);
    assert_int_equal(chmod(key, 0600), 0);
    h_memcached_start(&g_mc, sock);
    static const char *args[] = {"--settle-ms", "0", "--log-level", "debug", "--fleet", NULL,
                                 "--fleet-key", NULL, NULL};
    args[5] = sock;
    args[7] = key;
    h_daemon_init(&g_host_a, h_fmt("%s/shmd-a.log", f->tmp), args);
    assert_int_equal(h_daemon_start(&g_host_a), 0);
    h_daemon_init(&f->d, h_fmt("%s/shmd.log", f->tmp), args);
    assert_int_equal(h_daemon_start(&f->d), 0);
    return 0;
}

static int teardown_fleet(void **state)
{
    if (!*state)
        return 0;
    h_daemon_cleanup(&g_host_a);
    h_memcached_kill(&g_mc);
    return h_fix_teardown(state);
}

static void test_inside_prefix_fleet_wait(void **state)
{
    struct h_fix *f = *state;
    if (!f)
        skip();
    char dir[H_PATH_MAX], pre[H_PATH_MAX + 16], prefix[H_PATH_MAX + 32], inst[300];
    snprintf(dir, sizeof dir, "%s", inside(f));
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", h_lib());
    snprintf(prefix, sizeof prefix, "SHMCACHE_PREFIX=%s", f->src);
    snprintf(inst, sizeof inst, "SHMCACHE_DIR=%s", g_host_a.dir);
    const char *const host_a[] = {pre, prefix, inst, NULL};
    reference(f);
    expect_as_reference("inside the prefix, fleet host A", dir, host_a);
    if (h_wait_stat_ge(&g_host_a, "fleet_stores", 1, 15000) < 1)
        fail_msg("host A stored %lld copies in the fleet", h_stat(&g_host_a, "fleet_stores"));
    expect_as_reference("inside the prefix, fleet host B, waiting for the fleet", dir,
                        h_shim_env(f, H_ENV("SHMCACHE_FLEET_WAIT_MS=10000")));
    long long served = h_stat(&f->d, "fleet_wait_hits");
    if (served <= 0)
        fail_msg("no open on host B was served after waiting for the fleet (fleet_wait_hits "
                 "%lld): the run did not take the path it exists for", served);
    print_message("fleet host B: %lld opens served after waiting\n", served);
    daemon_still_serves(f);
    H_PASS(f);
}

static int group_teardown(void **state)
{
    free(g_ref);
    g_ref = NULL;
    return h_group_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inside_prefix_with_daemon, setup_daemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_inside_prefix_with_daemon_second_run, setup_daemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_inside_prefix_no_daemon, setup_nodaemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_outside_prefix_with_daemon, setup_daemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_outside_prefix_no_daemon, setup_nodaemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_inside_prefix_fleet_wait, setup_fleet,
                                        teardown_fleet),
    };
    return cmocka_run_group_tests_name("integration: the hook contract", tests, h_group_setup,
                                       group_teardown);
}
