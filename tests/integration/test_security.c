/* test_security.c - the tier is private to its user and never widens what a
 * process may read:
 *   - another uid (nobody) running the same program with the same prefix
 *     and instance gets no hits and can open, connect to or send to
 *     nothing in the instance directory;
 *   - an instance directory owned by another uid or with a wrong mode, a
 *     lock file that is not the daemon's own or a symlink: the daemon
 *     refuses with a message naming the problem and the shim passes
 *     through; an index made by another uid is not used by the shim, and a
 *     daemon starting there replaces it with its own; an object replaced
 *     by a symlink is not followed;
 *   - a setuid program under LD_PRELOAD: the loader drops the library and,
 *     loaded anyway (dlopen), the shim is inert in secure-execution mode;
 *   - a file the program cannot read is never served from the tier, even
 *     when the daemon could read it and cached it: without the capabilities
 *     the daemon has, or without the supplementary group that lets the
 *     daemon read it, the program gets EACCES exactly as without the shim.
 * (test_failures.c covers EACCES with daemon and program as the same
 * nobody; test_daemon.c a 0755 directory and a symlinked one.)
 * Tests that need other uids skip themselves when not run as root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/harness.h"

#define NOBODY 65534
#define GROUP 6 /* a group nobody is not in: "disk" on Debian */

static const char *const as_nobody[] = {"setpriv", "--reuid=65534", "--regid=65534",
                                        "--clear-groups", NULL};
static const char *const as_nobody_in_group[] = {"setpriv", "--reuid=65534", "--regid=65534",
                                                 "--groups=6", NULL};
/* root without any capability: permissions apply to it as to anyone */
static const char *const without_caps[] = {"setpriv", "--bounding-set=-all", "--inh-caps=-all",
                                           NULL};

#define SKIP_UNLESS_ROOT(f) \
    do { \
        if (!h_is_root()) { \
            print_message("    skipped: needs root\n"); \
            H_PASS(f); \
            skip(); \
        } \
    } while (0)

/* Run argv under the shim with wrap in front (not f->wrap). */
static int shim_as(struct h_fix *f, struct h_result *r, const char *const *wrap,
                   const char *const *extra, const char *const *argv)
{
    return h_run(r, h_shim_env(f, extra), h_wrapped(wrap, argv), 60000);
}

static int plain_as(struct h_result *r, const char *const *wrap, const char *const *argv)
{
    return h_run(r, NULL, h_wrapped(wrap, argv), 60000);
}

/* The first line of r's stdout, for messages. */
static const char *first_line(const struct h_result *r)
{
    return h_fmt("%.*s", (int)strcspn(r->out, "\n"), r->out);
}

/* ---- another uid ------------------------------------------------------------- */
static void test_other_uid_gets_nothing(void **state)
{
    struct h_fix *f = *state;
    SKIP_UNLESS_ROOT(f);
    const char *p = h_src(f, "k100.bin");
    struct h_result r;
    h_cache_std(f);
    h_assert_where(f, p, true, "the daemon's own user gets hits");
    long long hits = h_stat(&f->d, "hits");

    /* nobody, same program, same prefix, same instance directory: the files
     * are readable by all, and read right, from the source */
    const char *argv[40];
    h_probe_std_argv(f, "cat", argv);
    shim_as(f, &r, as_nobody, H_ENV("SHMCACHE_LOG=all"), argv);
    h_assert_ok(&r, "nobody reading the tree under the shim");
    assert_int_equal(h_count_lines(r.err, "HIT "), 0);
    h_result_free(&r);
    shim_as(f, &r, as_nobody, NULL, H_ARGV(h_probe(), "where", p, "+", "maps-has", f->d.dir));
    h_assert_ok(&r, "nobody: probe where");
    assert_string_equal(r.out, h_fmt("%s\nmaps 0 fds 0\n", p));
    h_result_free(&r);
    assert_int_equal(h_stat(&f->d, "hits"), hits);

    /* and nothing in the instance directory is reachable */
    char object[H_PATH_MAX] = "";
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", p));
    snprintf(object, sizeof object, "%.*s", (int)strcspn(r.out, "\n"), r.out);
    h_result_free(&r);
    h_assert_in_tier(object, f->d.dir, "an object to try");
    const char *const opens[] = {f->d.dir, h_fmt("%s/index", f->d.dir), object,
                                 h_fmt("%s/lock", f->d.dir)};
    for (size_t i = 0; i < sizeof opens / sizeof *opens; i++) {
        plain_as(&r, as_nobody, H_ARGV(h_helper("sec"), "open", opens[i]));
        h_assert_ok(&r, "sec open");
        if (strcmp(r.out, "EACCES\n") != 0)
            fail_msg("nobody opening %s: %s, expected EACCES", opens[i], first_line(&r));
        h_result_free(&r);
    }
    plain_as(&r, as_nobody, H_ARGV(h_helper("sec"), "connect", h_fmt("%s/ctl.sock", f->d.dir)));
    assert_string_equal(r.out, "EACCES\n");
    h_result_free(&r);
    plain_as(&r, as_nobody, H_ARGV(h_helper("sec"), "dgram", h_fmt("%s/miss.sock", f->d.dir),
                                   h_fmt("miss %s", h_src(f, "one"))));
    assert_string_equal(r.out, "EACCES\n");
    h_result_free(&r);
    /* the shmd commands as nobody cannot talk to root's daemon */
    h_run(&r, NULL, h_wrapped(as_nobody, H_ARGV(h_shmd(), "stats", "--dir", f->d.dir)), 10000);
    assert_int_not_equal(r.code, 0);
    h_result_free(&r);
    /* nobody's own default instance is another directory altogether */
    assert_true(h_stat(&f->d, "misses_received") >= 0);
    H_PASS(f);
}

/* ---- instances that are not ours -------------------------------------------------- */
/* The daemon on dir exits 1 and says why (want in its stderr); the shim
 * passes through, with one line containing shim_warn (SHMCACHE_LOG=all:
 * why it is idle; NULL: silent). */
static void refused(struct h_fix *f, const char *dir, const char *want, const char *shim_warn)
{
    struct h_result r;
    h_run(&r, NULL, H_ARGV(h_shmd(), "--dir", dir, "--settle-ms", "0"), 10000);
    if (r.code != 1 || !strstr(r.err, want) || !strstr(r.err, "refusing"))
        fail_msg("daemon on %s: exit %d, said \"%s\"; expected exit 1 and \"%s\" ... refusing",
                 dir, r.code, r.err, want);
    h_result_free(&r);

    const char *p = h_src(f, "text.txt");
    struct h_file file = *h_std("text.txt");
    unsigned char *want_bytes = h_file_bytes(&file);
    const char *const *env = h_shim_env(f, H_ENV("SHMCACHE_LOG=all", h_fmt("SHMCACHE_DIR=%s", dir)));
    h_run(&r, env, H_ARGV(h_probe(), "cat", p, "+", "where", p), 30000);
    h_assert_ok(&r, "a shimmed read beside a refused instance");
    h_assert_bytes(r.out, file.size, want_bytes, file.size, "bytes beside a refused instance");
    assert_string_equal(r.out + file.size, h_fmt("%s\n", p));
    assert_int_equal(h_count_lines(r.err, "HIT "), 0);
    if (shim_warn && (h_count_lines(r.err, "") != 1 || !strstr(r.err, shim_warn)))
        fail_msg("the shim said \"%s\", expected one warning with \"%s\"", r.err, shim_warn);
    if (!shim_warn && r.err_len)
        fail_msg("the shim said \"%s\", expected nothing", r.err);
    free(want_bytes);
    h_result_free(&r);
}

static void test_foreign_instance_dir(void **state)
{
    struct h_fix *f = *state;
    SKIP_UNLESS_ROOT(f);
    const char *dir = f->d.dir;

    /* another uid's private directory, where ours would be */
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chown(dir, NOBODY, NOBODY), 0);
    refused(f, dir, "owned by uid 65534", "not trusted");
    assert_int_equal(access(h_fmt("%s/index", dir), F_OK), -1);

    /* ours, but searchable or listable by others */
    assert_int_equal(chown(dir, 0, 0), 0);
    static const mode_t modes[] = {0711, 0770, 0750};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        assert_int_equal(chmod(dir, modes[i]), 0);
        refused(f, dir, "mode", "not trusted");
    }
    assert_int_equal(rmdir(dir), 0);
    H_PASS(f);
}

static void test_foreign_lock(void **state)
{
    struct h_fix *f = *state;
    SKIP_UNLESS_ROOT(f);
    const char *dir = f->d.dir, *lock = h_fmt("%s/lock", f->d.dir);

    /* our directory, but its lock file is another uid's */
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(h_write_str(lock, ""), 0);
    assert_int_equal(chown(lock, NOBODY, NOBODY), 0);
    refused(f, dir, "lock", "not caching: no index");
    /* a symlink in place of the lock file is not followed */
    assert_int_equal(unlink(lock), 0);
    const char *target = h_fmt("%s/elsewhere", f->tmp);
    assert_int_equal(symlink(target, lock), 0);
    refused(f, dir, "lock", "not caching: no index");
    assert_int_equal(access(target, F_OK), -1);
    assert_int_equal(unlink(lock), 0);
    assert_int_equal(rmdir(dir), 0);
    H_PASS(f);
}

/* An index that another uid made (in a directory that is ours): the shim
 * does not map it; a daemon starting there replaces it with its own. */
static void test_foreign_index(void **state)
{
    struct h_fix *f = *state;
    SKIP_UNLESS_ROOT(f);
    const char *index = h_fmt("%s/index", f->d.dir);
    const char *p = h_src(f, "k100.bin");
    struct h_result r;

    /* a real index, from a daemon that ran here and was killed */
    assert_int_equal(h_daemon_start(&f->d), 0);
    h_cache_std(f);
    h_daemon_kill9(&f->d);
    assert_int_equal(chown(index, NOBODY, NOBODY), 0);
    h_shim(f, &r, H_ENV("SHMCACHE_LOG=all"), H_ARGV(h_probe(), "where", p, "+", "maps-has",
                                                  f->d.dir));
    h_assert_ok(&r, "the shim beside another uid's index");
    assert_string_equal(r.out, h_fmt("%s\nmaps 0 fds 0\n", p));
    if (!strstr(r.err, "not a shmcache index of this user"))
        fail_msg("the shim said \"%s\", expected a warning about the index", r.err);
    h_result_free(&r);

    assert_int_equal(h_daemon_start(&f->d), 0);
    struct stat st;
    assert_int_equal(stat(index, &st), 0);
    assert_int_equal(st.st_uid, geteuid());
    h_cache_std(f);
    h_assert_where(f, p, true, "a daemon that replaced another uid's index");
    H_PASS(f);
}

/* An object replaced by a symlink (only root could do it: the directory is
 * private) is not followed: the shim falls back to the source. */
static void test_object_symlink_not_followed(void **state)
{
    struct h_fix *f = *state;
    const struct h_file *file = h_std("k100.bin");
    const char *p = h_src(f, file->name);
    const char *decoy = h_fmt("%s/decoy", f->tmp);
    struct h_result r;

    h_cache_std(f);
    assert_int_equal(h_write_str(decoy, "decoy bytes, not the file's\n"), 0);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", p));
    char object[H_PATH_MAX];
    snprintf(object, sizeof object, "%.*s", (int)strcspn(r.out, "\n"), r.out);
    h_result_free(&r);
    h_assert_in_tier(object, f->d.dir, "the object");
    assert_int_equal(unlink(object), 0);
    assert_int_equal(symlink(decoy, object), 0);

    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", p, "+", "where", p));
    h_assert_ok(&r, "reading a file whose object is a symlink");
    unsigned char *want = h_file_bytes(file);
    h_assert_bytes(r.out, file->size, want, file->size, "bytes when the object is a symlink");
    assert_string_equal(r.out + file->size, h_fmt("%s\n", p));
    free(want);
    h_result_free(&r);
    H_PASS(f);
}

/* ---- setuid ------------------------------------------------------------------- */
static int setup_nobody_daemon(void **state)
{
    struct h_fix *f = h_fix_new(state, NULL, false);
    if (!f)
        return -1;
    if (!h_is_root())
        return 0; /* the test skips itself */
    f->wrap = as_nobody;
    f->d.wrap = as_nobody;
    if (h_daemon_start(&f->d) < 0) {
        print_error("daemon as nobody did not come up\n");
        return -1;
    }
    return 0;
}

static void test_setuid_program_inert(void **state)
{
    struct h_fix *f = *state;
    SKIP_UNLESS_ROOT(f);
    const char *p = h_src(f, "k100.bin");
    const char *suid = h_fmt("%s/sec-setuid", f->tmp);
    struct h_result r;

    /* the daemon and its user's programs run as nobody; the tree is cached */
    h_cache_std(f);
    /* the control: not setuid, as nobody, the shim loaded with dlopen serves */
    h_run(&r, h_shim_env(f, NULL),
          h_wrapped(as_nobody, H_ARGV(h_helper("sec"), "secure", h_lib(), p, f->d.dir)), 30000);
    h_assert_ok(&r, "sec secure as nobody");
    if (!strstr(r.out, "secure 0") || !strstr(r.out, h_fmt("where %s/", f->d.dir)))
        fail_msg("control run (not setuid): expected a hit through the shim, got:\n%s", r.out);
    h_result_free(&r);

    /* a setuid-nobody copy run by root: euid nobody (the instance's owner),
     * ruid root: secure-execution mode */
    unsigned char *exe;
    size_t n;
    assert_non_null(exe = h_read_file(h_helper("sec"), &n));
    assert_int_equal(h_write_file(suid, exe, n), 0);
    free(exe);
    assert_int_equal(chown(suid, NOBODY, NOBODY), 0);
    assert_int_equal(chmod(suid, 04755), 0);

    h_run(&r, h_shim_env(f, H_ENV("SHMCACHE_LOG=all")), H_ARGV(suid, "secure", h_lib(), p, f->d.dir),
          30000);
    h_assert_ok(&r, "the setuid program");
    if (!strstr(r.out, "secure 1"))
        fail_msg("the setuid copy did not run in secure mode (nosuid mount?):\n%s", r.out);
    /* the loader dropped LD_PRELOAD; dlopen'ed anyway, the shim is inert */
    if (!strstr(r.out, "preloaded 0"))
        fail_msg("the shim was preloaded into a setuid program:\n%s", r.out);
    if (!strstr(r.out, h_fmt("where %s\n", p)) || !strstr(r.out, "maps 0"))
        fail_msg("the shim acted in a setuid program:\n%s", r.out);
    if (h_count_lines(r.err, "HIT ") || h_count_lines(r.err, "MISS "))
        fail_msg("the shim logged in a setuid program:\n%s", r.err);
    assert_true(strstr(r.out, h_fmt("bytes %zu", h_std("k100.bin")->size)) != NULL);
    h_result_free(&r);
    H_PASS(f);
}

/* ---- unreadable files --------------------------------------------------------------- */
/* open(path) by argv's program with and without the shim: both want. */
static void same_errno_as(struct h_fix *f, const char *const *wrap, const char *path,
                          const char *want, const char *who)
{
    struct h_result plain, shim;
    plain_as(&plain, wrap, H_ARGV(h_probe(), "errno", path, "r"));
    shim_as(f, &shim, wrap, H_ENV("SHMCACHE_LOG=all"), H_ARGV(h_probe(), "errno", path, "r"));
    h_assert_ok(&plain, "probe errno without the shim");
    h_assert_ok(&shim, "probe errno with the shim");
    if (strcmp(plain.out, h_fmt("%s\n", want)) != 0)
        fail_msg("%s: open(%s) without the shim: %s, the test expected %s", who, path,
                 first_line(&plain), want);
    if (strcmp(plain.out, shim.out) != 0)
        fail_msg("%s: open(%s) is %s without the shim but %s with it (%s): the tier served "
                 "a file this program cannot read", who, path, first_line(&plain),
                 first_line(&shim), strstr(shim.err, "HIT ") ? "a hit" : "no hit");
    h_result_free(&plain);
    h_result_free(&shim);
}

/* Root's daemon cached a file only root's capabilities can read; root
 * without capabilities (same uid: the same instance) must get EACCES. */
static void test_unreadable_without_caps(void **state)
{
    struct h_fix *f = *state;
    SKIP_UNLESS_ROOT(f);
    const char *secret = h_src(f, "secret");
    struct h_result r;

    assert_int_equal(h_write_str(secret, "only for nobody\n"), 0);
    assert_int_equal(chown(secret, NOBODY, NOBODY), 0);
    assert_int_equal(chmod(secret, 0600), 0);
    h_shmd_cmd(&f->d, &r, H_ARGV("warm", secret));
    h_assert_ok(&r, "shmd warm (the daemon can read it)");
    h_result_free(&r);
    h_assert_where(f, secret, true, "the daemon's own user reads the file from the tier");

    same_errno_as(f, without_caps, secret, "EACCES", "root without capabilities");
    shim_as(f, &r, without_caps, NULL, H_ARGV(h_probe(), "cat", secret));
    if (r.code == 0)
        fail_msg("root without capabilities read \"%.*s\" from the tier", (int)r.out_len, r.out);
    h_result_free(&r);
    H_PASS(f);
}

/* A daemon in a supplementary group cached a file of that group; the same
 * user started without the group must get EACCES. */
static int setup_group_daemon(void **state)
{
    struct h_fix *f = h_fix_new(state, NULL, false);
    if (!f)
        return -1;
    if (!h_is_root())
        return 0;
    f->d.wrap = as_nobody_in_group;
    f->wrap = as_nobody_in_group;
    if (h_daemon_start(&f->d) < 0) {
        print_error("daemon as nobody in group %d did not come up\n", GROUP);
        return -1;
    }
    return 0;
}

static void test_unreadable_without_group(void **state)
{
    struct h_fix *f = *state;
    SKIP_UNLESS_ROOT(f);
    const char *secret = h_src(f, "group-secret");
    struct h_result r;

    assert_int_equal(h_write_str(secret, "only for the group\n"), 0);
    assert_int_equal(chown(secret, 0, GROUP), 0);
    assert_int_equal(chmod(secret, 0640), 0);
    h_shmd_cmd(&f->d, &r, H_ARGV("warm", secret));
    h_assert_ok(&r, "shmd warm as nobody in the group");
    h_result_free(&r);
    h_assert_where(f, secret, true, "nobody in the group reads the file from the tier");

    same_errno_as(f, as_nobody, secret, "EACCES", "nobody without the group");
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_other_uid_gets_nothing, h_fix_setup, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_instance_dir, h_fix_setup_nodaemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_lock, h_fix_setup_nodaemon, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_index, h_fix_setup_nodaemon, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_object_symlink_not_followed, h_fix_setup,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_setuid_program_inert, setup_nobody_daemon,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_without_caps, h_fix_setup,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_without_group, setup_group_daemon,
                                        h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: security", tests, h_group_setup,
                                       h_group_teardown);
}
