/* test_docs.c - the documentation against the code it describes.
 *
 * - man/shmd.8 and man/libshmcache.7 format without a single warning under
 *   groff -man -ww and mandoc -T lint -W warning (each only when installed);
 * - shmd.8 names every long option of shmd/opts.c in OPTIONS, every option
 *   and command of the client (shmd/cli.c), every SHMCACHE_ variable shmd
 *   reads and every counter `shmd stats` prints (shmd/control.c, with the
 *   fail_ reasons of shmd/load.c); libshmcache.7 names every SHMCACHE_
 *   variable preload/init.c reads. The sources are parsed at run time, so a
 *   new option or counter without documentation fails here;
 * - packaging/shmd@.service and packaging/gunicorn-shmcache.conf say what
 *   packaging/README.md promises (paths, ExecStart, variables), and set no
 *   systemd option that gives a unit its own mount namespace (a shim in
 *   another namespace than the daemon's validates every hit against the
 *   source, preload/attach.c: correct but slower); and they pass
 *   `systemd-analyze verify` when that is installed.
 *
 * CI is a fresh Debian 12 without groff, mandoc or systemd: the parts that
 * need a missing tool skip with the reason printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/harness.h"

#define MAX_NAMES 64

static const char *const pages[] = {"man/shmd.8", "man/libshmcache.7"};

/* ---- helpers ------------------------------------------------------------------ */

/* The file ROOT/rel, NUL-terminated (fails the test when unreadable). */
static char *slurp(const char *rel)
{
    size_t n;
    char *s = (char *)h_read_file(h_fmt("%s/%s", h_root(), rel), &n);
    if (!s) {
        fail_msg("cannot read %s/%s", h_root(), rel);
        return NULL; /* not reached; the compiler does not know fail_msg */
    }
    return s;
}

/* An executable called name in $PATH or the usual system directories, or
 * NULL. The returned string is valid until the next call. */
static const char *find_tool(const char *name)
{
    static char found[H_PATH_MAX];
    const char *env = getenv("PATH");
    char path[H_PATH_MAX * 2];

    snprintf(path, sizeof path, "%s:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
             env ? env : "");
    for (char *dir = strtok(path, ":"); dir; dir = strtok(NULL, ":")) {
        struct stat st;
        if (!*dir)
            continue;
        snprintf(found, sizeof found, "%.4000s/%s", dir, name);
        if (stat(found, &st) == 0 && S_ISREG(st.st_mode) && access(found, X_OK) == 0)
            return found;
    }
    return NULL;
}

static void skip_because(const char *why)
{
    print_message("    skipped: %s\n", why);
    skip();
}

/* The text of section `name` of a man page (from its .SH line to the next
 * .SH), malloc'd; fails the test when the page has no such section. */
static char *section(const char *page, const char *text, const char *name)
{
    char head[64];
    snprintf(head, sizeof head, "\n.SH %s\n", name);
    const char *start = strstr(text, head);
    if (!start) {
        snprintf(head, sizeof head, "\n.SH \"%s\"\n", name);
        start = strstr(text, head);
    }
    if (!start) {
        fail_msg("%s has no section %s", page, name);
        return NULL;
    }
    const char *end = strstr(start + 1, "\n.SH ");
    size_t n = end ? (size_t)(end - start) : strlen(start);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, start, n);
    s[n] = '\0';
    return s;
}

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Does word occur in text with no word character or '-' around it? */
static bool has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        bool left = p == text || (!word_char(p[-1]) && p[-1] != '-');
        bool right = !word_char(p[n]) && p[n] != '-';
        if (left && right)
            return true;
    }
    return false;
}

/* Does roff text name the long option --name (written \-\-max\-file, as
 * roff wants, or --max-file)? "--max" does not count for "--max-file" and
 * the other way round. */
static bool has_option(const char *text, const char *name)
{
    char roff[200] = "\\-\\-";
    size_t k = 4;
    for (const char *c = name; *c && k + 3 < sizeof roff; c++) {
        if (*c == '-')
            roff[k++] = '\\';
        roff[k++] = *c;
    }
    roff[k] = '\0';
    const char *forms[] = {roff, h_fmt("--%s", name)};
    for (int f = 0; f < 2; f++) {
        size_t n = strlen(forms[f]);
        for (const char *p = strstr(text, forms[f]); p; p = strstr(p + 1, forms[f])) {
            const char *q = p + n;
            if (!word_char(*q) && *q != '-' && strncmp(q, "\\-", 2) != 0)
                return true;
        }
    }
    return false;
}

/* The names of a `struct option` table: the first "longopts[] = {" after
 * `after` (NULL: from the start) in src, up to its {NULL, ...} end. Returns
 * the count; fails the test when there is no such table. */
static int parse_longopts(const char *file, const char *src, const char *after,
                          char names[][64])
{
    const char *p = after ? strstr(src, after) : src;
    if (p)
        p = strstr(p, "longopts[] = {");
    if (!p) {
        fail_msg("%s: no \"longopts[] = {\" table%s%s: update test_docs.c", file,
                 after ? " after " : "", after ? after : "");
        return 0;
    }
    const char *end = strstr(p, "{NULL");
    if (!end) {
        fail_msg("%s: the longopts table has no {NULL, ...} end", file);
        return 0;
    }
    int n = 0;
    for (const char *q = strstr(p, "{\""); q && q < end && n < MAX_NAMES; q = strstr(q + 1, "{\"")) {
        const char *close = strchr(q + 2, '"');
        if (!close || close - (q + 2) >= 64)
            fail_msg("%s: cannot read the longopts table", file);
        memcpy(names[n], q + 2, (size_t)(close - (q + 2)));
        names[n][close - (q + 2)] = '\0';
        n++;
    }
    if (n == 0)
        fail_msg("%s: empty longopts table", file);
    return n;
}

/* Every string literal "SHMCACHE_X" after `getenv(` in src, added to names
 * (without duplicates). Returns the new count. */
static int parse_getenv(const char *src, char names[][64], int n)
{
    for (const char *p = strstr(src, "getenv(\"SHMCACHE_"); p; p = strstr(p + 1, "getenv(\"SHMCACHE_")) {
        const char *s = p + 8, *e = strchr(s, '"');
        if (!e || e - s >= 64 || n >= MAX_NAMES)
            continue;
        char name[64];
        memcpy(name, s, (size_t)(e - s));
        name[e - s] = '\0';
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup |= strcmp(names[i], name) == 0;
        if (!dup)
            snprintf(names[n++], 64, "%s", name);
    }
    return n;
}

/* ---- (a) the pages format cleanly ----------------------------------------------- */

static void test_pages_are_ascii_man7(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++) {
        char *s = slurp(pages[i]);
        for (const char *p = s; *p; p++)
            if ((unsigned char)*p >= 0x80)
                fail_msg("%s: a non-ASCII byte at offset %ld: use a roff escape",
                         pages[i], (long)(p - s));
        if (strncmp(s, ".TH ", 4) != 0 && !strstr(s, "\n.TH "))
            fail_msg("%s: no .TH line", pages[i]);
        if (strstr(s, "\n.Dd ") || strstr(s, "\n.Sh "))
            fail_msg("%s: mdoc macros; the pages are man(7)", pages[i]);
        free(s);
    }
}

static void test_groff_no_warnings(void **state)
{
    (void)state;
    const char *t = find_tool("groff");
    if (!t)
        skip_because("groff is not installed (apt-get install groff-base)");
    char groff[H_PATH_MAX];
    snprintf(groff, sizeof groff, "%s", t);
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++) {
        struct h_result r;
        const char *page = h_fmt("%s/%s", h_root(), pages[i]);
        int code = h_run(&r, NULL, H_ARGV(groff, "-man", "-Tutf8", "-ww", "-z", page), 30000);
        if (code != 0 || r.out_len || r.err_len)
            fail_msg("groff -man -Tutf8 -ww -z %s: exit %d\n%s%s", page, code, r.out, r.err);
        h_result_free(&r);
    }
}

/* mandoc -W warning fails on warnings and errors. Its style notices (a level
 * below) are printed but accepted: they are advice on source layout (one
 * sentence per line, ...), do not change what a reader sees, and vary
 * between mandoc versions. */
static void test_mandoc_lint_no_warnings(void **state)
{
    (void)state;
    const char *t = find_tool("mandoc");
    if (!t)
        skip_because("mandoc is not installed (apt-get install mandoc)");
    char mandoc[H_PATH_MAX];
    snprintf(mandoc, sizeof mandoc, "%s", t);
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++) {
        struct h_result r;
        const char *page = h_fmt("%s/%s", h_root(), pages[i]);
        int code = h_run(&r, NULL, H_ARGV(mandoc, "-T", "lint", "-W", "warning", page), 30000);
        if (code != 0 || r.out_len || r.err_len)
            fail_msg("mandoc -T lint -W warning %s: exit %d\n%s%s", page, code, r.out, r.err);
        h_result_free(&r);
        h_run(&r, NULL, H_ARGV(mandoc, "-T", "lint", "-W", "style", page), 30000);
        if (r.out_len || r.err_len)
            print_message("    note: mandoc style notices (accepted):\n%s%s", r.out, r.err);
        h_result_free(&r);
    }
}

/* ---- (b) the pages name what the code has ------------------------------------------ */

static void test_shmd8_names_every_option(void **state)
{
    (void)state;
    char names[MAX_NAMES][64];
    char *page = slurp("man/shmd.8");
    char *options = section("man/shmd.8", page, "OPTIONS");
    char *synopsis = section("man/shmd.8", page, "SYNOPSIS");
    char *commands = section("man/shmd.8", page, "COMMANDS");

    /* the daemon's options (also exec's), each in OPTIONS */
    char *src = slurp("shmd/opts.c");
    int n = parse_longopts("shmd/opts.c", src, "shmd_parse_opts", names);
    for (int i = 0; i < n; i++)
        if (!has_option(options, names[i]))
            fail_msg("shmd/opts.c has --%s; man/shmd.8 OPTIONS does not describe it", names[i]);
    free(src);

    /* the client commands' options, in SYNOPSIS or COMMANDS */
    src = slurp("shmd/cli.c");
    n = parse_longopts("shmd/cli.c", src, NULL, names);
    for (int i = 0; i < n; i++)
        if (!has_option(synopsis, names[i]) && !has_option(commands, names[i]))
            fail_msg("shmd/cli.c has --%s; man/shmd.8 SYNOPSIS and COMMANDS do not name it",
                     names[i]);

    /* the commands: strcmp(cmd, "NAME") in the command table */
    int ncmd = 0;
    for (const char *p = strstr(src, "strcmp(cmd, \""); p; p = strstr(p + 1, "strcmp(cmd, \"")) {
        const char *s = p + 13, *e = strchr(s, '"');
        if (!e || e - s >= 32)
            continue;
        char cmd[32];
        memcpy(cmd, s, (size_t)(e - s));
        cmd[e - s] = '\0';
        if (!strstr(commands, h_fmt("\n.TP\n.B %s\n", cmd)))
            fail_msg("shmd/cli.c has the command \"%s\"; man/shmd.8 COMMANDS has no entry for it",
                     cmd);
        ncmd++;
    }
    if (ncmd < 7)
        fail_msg("shmd/cli.c: found only %d commands (strcmp(cmd, \"...\")): update test_docs.c",
                 ncmd);
    free(src);
    free(options);
    free(synopsis);
    free(commands);
    free(page);
}

static void test_pages_name_every_variable(void **state)
{
    (void)state;
    char names[MAX_NAMES][64];

    /* the library: preload/init.c reads its whole environment */
    char *page = slurp("man/libshmcache.7");
    char *env = section("man/libshmcache.7", page, "ENVIRONMENT");
    char *src = slurp("preload/init.c");
    int n = parse_getenv(src, names, 0);
    if (n < 6)
        fail_msg("preload/init.c: found only %d getenv(\"SHMCACHE_...\"): update test_docs.c", n);
    for (int i = 0; i < n; i++)
        if (!strstr(env, h_fmt("\n.TP\n.B %s", names[i])) &&
            !strstr(env, h_fmt("\n.TP\n.BR %s", names[i])))
            fail_msg("preload/init.c reads %s; man/libshmcache.7 ENVIRONMENT has no entry for it",
                     names[i]);
    free(src);
    free(env);
    free(page);

    /* shmd: every getenv in shmd/ (*.c) */
    DIR *d = opendir(h_fmt("%s/shmd", h_root()));
    assert_non_null(d);
    n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".c") != 0)
            continue;
        src = slurp(h_fmt("shmd/%s", e->d_name));
        n = parse_getenv(src, names, n);
        free(src);
    }
    closedir(d);
    if (n < 3)
        fail_msg("shmd/*.c: found only %d getenv(\"SHMCACHE_...\"): update test_docs.c", n);
    page = slurp("man/shmd.8");
    env = section("man/shmd.8", page, "ENVIRONMENT");
    for (int i = 0; i < n; i++)
        if (!strstr(env, h_fmt("\n.TP\n.B %s\n", names[i])))
            fail_msg("shmd reads %s; man/shmd.8 ENVIRONMENT has no entry for it", names[i]);
    free(env);
    free(page);
}

static void test_shmd8_names_every_counter(void **state)
{
    (void)state;
    char *page = slurp("man/shmd.8");
    char *stats = section("man/shmd.8", page, "STATISTICS");
    char *src = slurp("shmd/control.c");

    /* reply(c, "KEY %..." lines of cmd_stats */
    const char *fn = strstr(src, "static void cmd_stats(");
    if (!fn) {
        fail_msg("shmd/control.c: no cmd_stats(): update test_docs.c");
        return;
    }
    const char *end = strstr(fn + 1, "\nstatic ");
    int n = 0;
    for (const char *p = strstr(fn, "reply(c, \""); p && (!end || p < end); p = strstr(p + 1, "reply(c, \"")) {
        const char *k = p + 10;
        size_t len = strspn(k, "abcdefghijklmnopqrstuvwxyz_");
        if (len == 0 || k[len] != ' ' || len >= 64)
            continue; /* "ok\n" */
        char key[64];
        memcpy(key, k, len);
        key[len] = '\0';
        if (strcmp(key, "fail_") == 0)
            continue; /* the reasons, below */
        if (!has_word(stats, key))
            fail_msg("shmd stats prints \"%s\" (shmd/control.c); man/shmd.8 STATISTICS "
                     "does not describe it", key);
        n++;
    }
    if (n < 15)
        fail_msg("shmd/control.c: found only %d stats keys: update test_docs.c", n);
    free(src);

    /* fail_<reason>: shmd/load.c fail_names, '-' printed as '_' */
    src = slurp("shmd/load.c");
    const char *t = strstr(src, "fail_names[");
    const char *tend = t ? strstr(t, "};") : NULL;
    if (!tend) {
        fail_msg("shmd/load.c: no fail_names[] = {...}; table: update test_docs.c");
        return;
    }
    int reasons = 0;
    for (const char *p = strstr(t, "] = \""); p && p < tend; p = strstr(p + 1, "] = \"")) {
        const char *s = p + 5, *e = strchr(s, '"');
        char key[64] = "fail_";
        if (!e || (size_t)(e - s) > sizeof key - 6)
            continue;
        size_t len = (size_t)(e - s);
        for (size_t i = 0; i < len; i++)
            key[5 + i] = s[i] == '-' ? '_' : s[i];
        key[5 + len] = '\0';
        if (!has_word(stats, key))
            fail_msg("shmd stats prints \"%s\" (shmd/load.c); man/shmd.8 STATISTICS "
                     "does not describe it", key);
        reasons++;
    }
    if (reasons < 5)
        fail_msg("shmd/load.c: found only %d fail reasons: update test_docs.c", reasons);
    free(src);
    free(stats);
    free(page);
}

/* ---- (c) the systemd files ---------------------------------------------------------- */

/* The value of the last "key=" line (commented lines do not match), or
 * NULL. The result is an h_fmt buffer. */
static const char *unit_get(const char *unit, const char *key)
{
    const char *last = NULL;
    size_t klen = strlen(key);
    for (const char *line = unit; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=')
            last = h_fmt("%.*s", (int)(len - klen - 1), line + klen + 1);
        line = nl ? nl + 1 : NULL;
    }
    return last;
}

/* Settings that give a unit a mount namespace of its own (systemd.exec(5)),
 * which would make every hit stat the source first. */
static const char *const mount_ns_keys[] = {
    "PrivateTmp", "ProtectSystem", "ProtectHome", "PrivateDevices", "PrivateNetwork",
    "PrivateIPC", "PrivateMounts", "ProtectKernelTunables", "ProtectKernelModules",
    "ProtectKernelLogs", "ProtectControlGroups", "ProtectProc", "ProcSubset",
    "ReadOnlyPaths", "ReadWritePaths", "InaccessiblePaths", "ExecPaths", "NoExecPaths",
    "TemporaryFileSystem", "BindPaths", "BindReadOnlyPaths", "RootDirectory", "RootImage",
    "MountAPIVFS", "DynamicUser", "NetworkNamespacePath", "IPCNamespacePath", NULL,
};

static void assert_no_mount_namespace(const char *file, const char *unit)
{
    for (int i = 0; mount_ns_keys[i]; i++) {
        const char *v = unit_get(unit, mount_ns_keys[i]);
        if (v && *v && strcmp(v, "no") != 0 && strcmp(v, "false") != 0 && strcmp(v, "0") != 0)
            fail_msg("%s sets %s=%s: a unit with its own mount namespace separates the daemon "
                     "from the application (every hit then stats the source, preload/attach.c)",
                     file, mount_ns_keys[i], v);
    }
}

static void test_unit_files_match_docs(void **state)
{
    (void)state;
    char *unit = slurp("packaging/shmd@.service");
    char *dropin = slurp("packaging/gunicorn-shmcache.conf");
    char *readme = slurp("packaging/README.md");

    /* the unit: what packaging/README.md and shmd.8 describe (--name is
     * checked to be an option by test_shmd8_names_every_option) */
    const char *exec = unit_get(unit, "ExecStart");
    assert_non_null(exec);
    if (strcmp(exec, "/usr/local/bin/shmd --name %i $SHMD_OPTS") != 0)
        fail_msg("packaging/shmd@.service: ExecStart=%s, expected "
                 "/usr/local/bin/shmd --name %%i $SHMD_OPTS", exec);
    const char *envfile = unit_get(unit, "EnvironmentFile");
    assert_non_null(envfile);
    assert_string_equal(envfile, "-/etc/shmcache/%i.env");
    assert_non_null(unit_get(unit, "User"));
    assert_non_null(unit_get(unit, "Restart"));
    const char *nnp = unit_get(unit, "NoNewPrivileges");
    if (!nnp || strcmp(nnp, "yes") != 0)
        fail_msg("packaging/shmd@.service: expected NoNewPrivileges=yes");
    const char *doc = unit_get(unit, "Documentation");
    assert_non_null(doc);
    if (!strstr(doc, "man:shmd(8)") || !strstr(doc, "man:libshmcache(7)"))
        fail_msg("packaging/shmd@.service: Documentation=%s", doc);
    assert_no_mount_namespace("packaging/shmd@.service", unit);

    /* the drop-in */
    const char *want = "shmd@default.service";
    if (!unit_get(dropin, "Wants") || strcmp(unit_get(dropin, "Wants"), want) != 0 ||
        !unit_get(dropin, "After") || strcmp(unit_get(dropin, "After"), want) != 0)
        fail_msg("packaging/gunicorn-shmcache.conf: expected Wants= and After=%s", want);
    if (!strstr(dropin, "\nEnvironment=LD_PRELOAD=/usr/local/lib/libshmcache.so\n") ||
        !strstr(dropin, "\nEnvironment=SHMCACHE_PREFIX=/srv/app/static:/srv/app/templates\n") ||
        !strstr(dropin, "\nEnvironment=SHMCACHE_NAME=default\n"))
        fail_msg("packaging/gunicorn-shmcache.conf: LD_PRELOAD, SHMCACHE_PREFIX or "
                 "SHMCACHE_NAME is not set as documented");
    /* every SHMCACHE_ it sets, commented out or not, is one the library reads */
    char *init = slurp("preload/init.c");
    for (const char *p = strstr(dropin, "Environment=SHMCACHE_"); p;
         p = strstr(p + 1, "Environment=SHMCACHE_")) {
        const char *v = p + 12;
        size_t len = strcspn(v, "=");
        if (!strstr(init, h_fmt("getenv(\"%.*s\")", (int)len, v)))
            fail_msg("packaging/gunicorn-shmcache.conf sets %.*s, which the library does "
                     "not read", (int)len, v);
    }
    free(init);
    assert_no_mount_namespace("packaging/gunicorn-shmcache.conf", dropin);

    /* the install layout the README describes */
    const char *const installed[] = {
        "lib/libshmcache.so", "bin/shmd", "share/man/man8/shmd.8",
        "share/man/man7/libshmcache.7", "lib/systemd/system/shmd@.service",
        "share/doc/shmcache/gunicorn-shmcache.conf",
    };
    for (size_t i = 0; i < sizeof installed / sizeof *installed; i++)
        if (!strstr(readme, installed[i]))
            fail_msg("packaging/README.md does not name the installed %s", installed[i]);
    free(readme);
    free(dropin);
    free(unit);
}

/* systemd-analyze verify on copies: the unit with ExecStart naming the built
 * shmd (verify checks that the binary exists), and a stand-in
 * application unit with the drop-in beside it. verify exits 0 even for
 * unknown keys and bad values, so the test fails on any line that mentions
 * one of these files; other lines (about units of this machine that they
 * pull in) are printed and accepted. When verify itself cannot run here
 * (it fails without naming our files), the test skips with its output. */
static void test_systemd_analyze_verify(void **state)
{
    (void)state;
    const char *t = find_tool("systemd-analyze");
    if (!t)
        skip_because("systemd-analyze is not installed (apt-get install systemd)");
    char analyze[H_PATH_MAX], dir[H_PATH_MAX];
    snprintf(analyze, sizeof analyze, "%s", t);
    if (access(h_shmd(), X_OK) != 0)
        fail_msg("%s is not built (make all)", h_shmd());
    assert_int_equal(h_mktemp_dir(dir, sizeof dir, "docs"), 0);

    /* the unit, with ExecStart on the built binary */
    char *unit = slurp("packaging/shmd@.service");
    const char *from = "\nExecStart=/usr/local/bin/shmd ";
    char *at = strstr(unit, from);
    if (!at) {
        fail_msg("packaging/shmd@.service: no line \"%s\"", from + 1);
        return;
    }
    *at = '\0';
    char *copy = NULL;
    assert_true(asprintf(&copy, "%s\nExecStart=%s %s", unit, h_shmd(), at + strlen(from)) > 0);
    assert_int_equal(h_write_str(h_fmt("%s/shmd@.service", dir), copy), 0);
    free(copy);
    free(unit);

    /* the application and its drop-in; a name of our own, so that drop-ins
     * this machine may have for a real gunicorn.service stay out of it */
    assert_int_equal(h_write_str(h_fmt("%s/shmcache-docs-app.service", dir),
                                 "[Unit]\nDescription=stand-in for an application\n"
                                 "[Service]\nUser=www-data\nExecStart=/bin/sleep 1000\n"
                                 "[Install]\nWantedBy=multi-user.target\n"), 0);
    assert_int_equal(h_mkdirs(h_fmt("%s/shmcache-docs-app.service.d", dir), 0755), 0);
    char *dropin = slurp("packaging/gunicorn-shmcache.conf");
    assert_int_equal(h_write_str(h_fmt("%s/shmcache-docs-app.service.d/shmcache.conf", dir),
                                 dropin), 0);
    free(dropin);

    /* Documentation= is checked by test_unit_files_match_docs; --man=no
     * keeps verify from asking a man that has not installed the pages */
    struct h_result r;
    int code = h_run(&r, NULL,
                     H_ARGV(analyze, "verify", "--man=no", h_fmt("%s/shmd@default.service", dir),
                            h_fmt("%s/shmcache-docs-app.service", dir)),
                     60000);
    int ours = h_count_lines(r.out, "shmd@") + h_count_lines(r.err, "shmd@") +
               h_count_lines(r.out, "shmcache-docs-app") +
               h_count_lines(r.err, "shmcache-docs-app") +
               h_count_lines(r.out, dir) + h_count_lines(r.err, dir);
    h_rm_rf(dir);
    if (ours)
        fail_msg("systemd-analyze verify: exit %d, about our files:\n%s%s", code, r.out, r.err);
    if (code != 0) {
        print_message("    systemd-analyze verify could not run here (exit %d):\n%s%s", code,
                      r.out, r.err);
        h_result_free(&r);
        skip_because("systemd-analyze verify does not work on this machine");
    }
    if (r.out_len || r.err_len)
        print_message("    note: systemd-analyze verify, about other units (accepted):\n%s%s",
                      r.out, r.err);
    h_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages_are_ascii_man7),
        cmocka_unit_test(test_groff_no_warnings),
        cmocka_unit_test(test_mandoc_lint_no_warnings),
        cmocka_unit_test(test_shmd8_names_every_option),
        cmocka_unit_test(test_pages_name_every_variable),
        cmocka_unit_test(test_shmd8_names_every_counter),
        cmocka_unit_test(test_unit_files_match_docs),
        cmocka_unit_test(test_systemd_analyze_verify),
    };
    return cmocka_run_group_tests_name("integration: docs", tests, NULL, NULL);
}
