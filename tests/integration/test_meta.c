/* test_meta.c - path metadata from the tier (DESIGN.md "Metadata and
 * negative entries", issue 11): stat, lstat, fstatat, statx, the pre-2.33
 * names, access, readlink and the generic syscall() answer exactly as the
 * kernel does, and every change is seen when it must be.
 *
 *   - parity: metaprobe (tests/helpers/metaprobe.c: every hooked call on
 *     each path, one line per call) over a tree of every kind of path
 *     (files, directories, symlinks relative, absolute, dangling, looping,
 *     to a directory, out of the prefix, to a device; ENOENT, ENOTDIR,
 *     ELOOP, ENAMETOOLONG, trailing slashes, "." and "..", paths relative
 *     to the cwd and ones whose absolute form is longer than PATH_MAX)
 *     without the shim, then under it three times: byte-identical output
 *     every time, and the third run answered from the tier (meta_hits and
 *     negative_hits grew). As nobody too, with a 0700 directory of root's
 *     (EACCES, which is never recorded);
 *   - a path created through the shim (open O_CREAT, mkdir, symlink,
 *     rename onto it, link) while its "does not exist" is being served is
 *     seen at once by the same process and by a fresh one, and its parent
 *     directory's stat is the real one (nlink, mtime, ctime); also through
 *     a symlinked directory, and a remove through the shim;
 *   - the same for creates glibc makes through its internal calls:
 *     mkfifo, mkfifoat, bind(2) of a Unix socket, the mkstemp family and
 *     mkdtemp (their directory's stat);
 *   - a path created behind the cache (no shim) is found within
 *     --negative-ms (bound asserted generously: 5 s), also when a long
 *     --revalidate-ms paces the revalidator;
 *   - the symlink case: a file replaced by rename is seen through a
 *     symlink to it and through a symlinked directory, though the name
 *     read was served from the tier just before; and the other way round
 *     (the real name served, changed through the symlinked directory);
 *   - a change through a symlink that names the file itself (truncate,
 *     utimes, an open for writing; through a chain, into a symlinked
 *     directory; O_CREAT through a dangling one) reaches the file's own
 *     entries, also at the close of a descriptor written through it;
 *   - link(2) through the shim: the old name's stat (nlink, ctime);
 *   - ENOTDIR negative entries are answered from the tier, as ENOENT ones;
 *   - a path below a missing directory (or below a file) is answered by
 *     the highest missing name on its way, in the parity tree, created
 *     through the shim (mkdir of that name) and behind the cache;
 *   - access and faccessat with a mode or flags the kernel refuses answer
 *     its EINVAL, not what the tier knows of the path;
 *   - access() in a process whose real uid is not its effective one is
 *     the kernel's (it checks the real ids);
 *   - syscall() makes the system call asked for when the tier has no
 *     answer (under a seccomp filter that refuses the others);
 *   - real programs: python3 importing a package tree, node requiring an
 *     npm-like tree and php including a code base through an autoloader
 *     and include_path print the same with and without the shim, and their
 *     second run is answered from the tier.
 *
 * statx's stx_mask, stx_attributes(_mask), stx_mnt_id and the DIOALIGN
 * fields are compared in the parity tests only; the other tests compare
 * metaprobe's output with those taken out (normalised), so that each test
 * fails for what it is about. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/harness.h"

#define NOBODY 65534

static const char *const as_nobody[] = {"setpriv", "--reuid=65534", "--regid=65534",
                                        "--clear-groups", NULL};

/* Only the shim's own change marks (and, for negative entries, the
 * --negative-ms re-check through the parent) can reveal a change. */
static const char *const parity_args[] = {"--settle-ms", "0", "--revalidate-ms", "0",
                                          "--negative-ms", "1000", "--capacity", "64M",
                                          "--log-level", "debug", NULL};
/* A negative entry outlives every test: only the shim can kill it. */
static const char *const shim_only_args[] = {"--settle-ms", "0", "--revalidate-ms", "0",
                                             "--negative-ms", "3600000", "--capacity", "64M",
                                             "--log-level", "debug", NULL};
static const char *const behind_args[] = {"--settle-ms", "0", "--revalidate-ms", "0",
                                          "--negative-ms", "500", "--capacity", "64M",
                                          "--log-level", "debug", NULL};

static char g_metaprobe[H_PATH_MAX], g_metaops[H_PATH_MAX];

static int group_setup(void **state)
{
    if (h_group_setup(state) < 0)
        return -1;
    snprintf(g_metaprobe, sizeof g_metaprobe, "%s", h_helper("metaprobe"));
    snprintf(g_metaops, sizeof g_metaops, "%s", h_helper("metaops"));
    const char *need[] = {g_metaprobe, g_metaops};
    for (size_t i = 0; i < 2; i++)
        if (access(need[i], X_OK) < 0) {
            print_error("test_meta: %s is missing: make build/tests/helpers/metaprobe "
                        "build/tests/helpers/metaops\n", need[i]);
            return -1;
        }
    return 0;
}

static int setup_parity(void **state)
{
    return h_fix_new(state, parity_args, true) ? 0 : -1;
}

static int setup_shim_only(void **state)
{
    return h_fix_new(state, shim_only_args, true) ? 0 : -1;
}

static int setup_behind(void **state)
{
    return h_fix_new(state, behind_args, true) ? 0 : -1;
}

/* ---- small things ---------------------------------------------------------------- */
/* A NULL-terminated list of owned strings. */
struct plist {
    const char *v[96];
    int n;
};

static void pl_add(struct plist *l, const char *s)
{
    assert_true(l->n < 95);
    l->v[l->n++] = h_xstrdup(s);
    l->v[l->n] = NULL;
}

static void pl_free(struct plist *l)
{
    for (int i = 0; i < l->n; i++)
        free((char *)l->v[i]);
    l->n = 0;
    l->v[0] = NULL;
}

/* Append s to the malloc'd text *t. */
static void cat_text(char **t, const char *s)
{
    size_t a = *t ? strlen(*t) : 0, b = strlen(s);
    char *n = realloc(*t, a + b + 1);
    assert_non_null(n);
    memcpy(n + a, s, b + 1);
    *t = n;
}

/* ---- counters ---------------------------------------------------------------------- */
struct counters {
    long long hits, meta_hits, negative_hits, entries, meta_entries, negative_entries,
        misses_received, loads, meta_loads;
};

static void counters(const struct h_fix *f, struct counters *c)
{
    struct h_result r;
    int code = h_shmd_cmd(&f->d, &r, H_ARGV("stats", "--json"));
    if (code != 0)
        fail_msg("shmd stats failed (%d): %s", code, r.err);
    c->hits = h_json_num(r.out, "hits");
    c->meta_hits = h_json_num(r.out, "meta_hits");
    c->negative_hits = h_json_num(r.out, "negative_hits");
    c->entries = h_json_num(r.out, "entries");
    c->meta_entries = h_json_num(r.out, "meta_entries");
    c->negative_entries = h_json_num(r.out, "negative_entries");
    c->misses_received = h_json_num(r.out, "misses_received");
    c->loads = h_json_num(r.out, "loads");
    c->meta_loads = h_json_num(r.out, "meta_loads");
    h_result_free(&r);
    if (c->meta_hits < 0 || c->negative_hits < 0 || c->meta_entries < 0 ||
        c->negative_entries < 0)
        fail_msg("shmd stats --json lacks meta_hits, negative_hits, meta_entries or "
                 "negative_entries");
}

/* Wait until the daemon has recorded what it was asked: the entry counts,
 * loads and notices received unchanged over three polls 150 ms apart. */
static void wait_quiet(const struct h_fix *f, const char *what)
{
    struct counters a, b;
    int stable = 0;
    uint64_t end = h_now_ms() + 15000;
    counters(f, &a);
    while (stable < 3) {
        if (h_now_ms() > end)
            fail_msg("%s: the daemon's entries did not settle within 15 s", what);
        h_sleep_ms(150);
        counters(f, &b);
        bool same = a.entries == b.entries && a.meta_entries == b.meta_entries &&
                    a.negative_entries == b.negative_entries &&
                    a.misses_received == b.misses_received && a.loads == b.loads &&
                    a.meta_loads == b.meta_loads;
        stable = same ? stable + 1 : 0;
        a = b;
    }
}

/* ---- metaprobe runs and their comparison --------------------------------------------- */
/* metaprobe [-C cwd] paths... with or without the shim (f->wrap in front).
 * Returns its stdout (malloc'd); asserts it ran. */
static char *metaprobe(struct h_fix *f, bool shim, const char *cwd, const char *const *paths,
                       const char *what)
{
    const char *argv[100];
    int k = 0;
    argv[k++] = g_metaprobe;
    if (cwd) {
        argv[k++] = "-C";
        argv[k++] = cwd;
    }
    for (int i = 0; paths[i]; i++) {
        assert_true(k < 98);
        argv[k++] = paths[i];
    }
    argv[k] = NULL;
    struct h_result r;
    if (shim)
        h_shim(f, &r, NULL, argv);
    else
        h_plain(f, &r, argv);
    if (r.code != 0)
        fail_msg("%s: metaprobe %s the shim exited %d: %s", what, shim ? "with" : "without",
                 r.code, r.err);
    char *out = r.out;
    r.out = NULL;
    h_result_free(&r);
    return out;
}

/* The text with statx's stx_mask ("mask=HEX") and what follows "attr="
 * (stx_attributes, stx_attributes_mask, stx_mnt_id, the DIOALIGN fields)
 * taken out. malloc'd. */
static char *normalised(const char *t)
{
    char *out = malloc(strlen(t) + 1), *o = out;
    assert_non_null(out);
    while (*t) {
        if (!strncmp(t, " mask=", 6)) {
            t += 6;
            while (*t && *t != ' ' && *t != '\n')
                t++;
        } else if (!strncmp(t, " attr=", 6)) {
            while (*t && *t != '\n')
                t++;
        } else {
            *o++ = *t++;
        }
    }
    *o = '\0';
    return out;
}

/* Line-by-line comparison: the number of lines that differ; the first max
 * of them appended to *report (the path metaprobe was on, want and got,
 * each cut to 400 bytes). */
static int diff_lines(const char *want, const char *got, char **report, int max)
{
    int n = 0, line = 0;
    const char *a = want, *b = got, *path = "", *shown = NULL;
    size_t path_len = 0;
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        line++;
        if (!strncmp(a, "== ", 3)) {
            path = a + 3;
            path_len = la - 3;
        }
        if (la != lb || memcmp(a, b, la) != 0) {
            if (n < max && report) {
                char buf[1400];
                if (shown != path)
                    cat_text(report, h_fmt("    on \"%.*s%s\":\n", (int)(path_len > 300 ? 300 : path_len),
                                           path, path_len > 300 ? "..." : ""));
                shown = path;
                snprintf(buf, sizeof buf, "      line %d without the shim: %.*s%s\n"
                         "      line %d with the shim:    %.*s%s\n", line,
                         (int)(la > 400 ? 400 : la), a, la > 400 ? "..." : "", line,
                         (int)(lb > 400 ? 400 : lb), b, lb > 400 ? "..." : "");
                cat_text(report, buf);
            }
            n++;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    return n;
}

/* Compare got with want: 0 when identical; else the count of differing
 * lines, described in *report (with how many remain once statx's mask,
 * attributes and mount id are left out, when strict). */
static int compare(const char *want, const char *got, bool strict, const char *what,
                   char **report)
{
    char *w = strict ? NULL : normalised(want), *g = strict ? NULL : normalised(got);
    int n = diff_lines(strict ? want : w, strict ? got : g, NULL, 0);
    if (n) {
        char head[512];
        int rest = 0;
        if (strict) {
            char *nw = normalised(want), *ng = normalised(got);
            rest = diff_lines(nw, ng, NULL, 0);
            snprintf(head, sizeof head,
                     "  %s: %d lines differ; %d of them also with statx's mask, attributes "
                     "and mount id left out%s\n", what, n, rest,
                     rest ? " (those first)" : "");
            cat_text(report, head);
            if (rest)
                diff_lines(nw, ng, report, 12);
            free(nw);
            free(ng);
        } else {
            snprintf(head, sizeof head, "  %s: %d lines differ\n", what, n);
            cat_text(report, head);
        }
        if (!rest)
            diff_lines(strict ? want : w, strict ? got : g, report, 6);
    }
    free(w);
    free(g);
    return n;
}

/* Fail with the report when there is one (printed a line at a time:
 * cmocka's messages have a bounded buffer). */
static void assert_no_report(char *report, const char *what)
{
    if (report) {
        print_error("%s:\n", what);
        for (char *l = report; *l;) {
            size_t n = strcspn(l, "\n");
            print_error("%.*s\n", (int)n, l);
            l += n + (l[n] == '\n');
        }
        free(report);
        fail_msg("%s (details above)", what);
    }
}

/* ---- the log of a shimmed run ----------------------------------------------------------- */
/* Does the SHMCACHE_LOG=all stderr say TAG for exactly the key path? */
static bool logged(const char *err, const char *tag, const char *path)
{
    char needle[H_PATH_MAX + 32];
    snprintf(needle, sizeof needle, "]: %s %s\n", tag, path);
    return strstr(err, needle) != NULL;
}

/* Shimmed `metaops stat P` for every path of neg and pos, again every 50
 * ms, until one run has them all from the tier: "does not exist" for neg,
 * a stat for pos (SHMCACHE_LOG=all's META-ERROR and META lines). */
static void prime(struct h_fix *f, const char *const *neg, const char *const *pos,
                  const char *what)
{
    const char *argv[128];
    int k = 0;
    argv[k++] = g_metaops;
    for (int pass = 0; pass < 2; pass++)
        for (const char *const *p = pass ? pos : neg; p && *p; p++) {
            if (k > 1)
                argv[k++] = "+";
            argv[k++] = "stat";
            argv[k++] = *p;
            assert_true(k < 124);
        }
    argv[k] = NULL;
    uint64_t end = h_now_ms() + 10000;
    for (;;) {
        struct h_result r;
        h_shim(f, &r, H_ENV("SHMCACHE_LOG=all"), argv);
        h_assert_ok(&r, what);
        bool all = true;
        for (const char *const *p = neg; p && *p; p++)
            all = all && logged(r.err, "META-ERROR", *p);
        for (const char *const *p = pos; p && *p; p++)
            all = all && logged(r.err, "META", *p);
        if (all) {
            h_result_free(&r);
            return;
        }
        if (h_now_ms() > end) {
            print_error("last run:\n%s%s", r.out, r.err);
            h_result_free(&r);
            fail_msg("%s: the paths were not all answered from the tier within 10 s", what);
        }
        h_result_free(&r);
        h_sleep_ms(50);
    }
}

/* ---- a. parity --------------------------------------------------------------------- */
/* The tree under src/m (and a file outside the prefix). */
static void make_meta_tree(struct h_fix *f)
{
    char m[H_PATH_MAX];
    snprintf(m, sizeof m, "%.4000s/m", f->src);
#define M(name) h_fmt("%s/%s", m, name)
    h_mkdir_mode(m, 0755);
    h_put_mode(M("file"), "hello, metadata\n", 0644);
    h_put_mode(M("empty"), "", 0644);
    h_put_mode(M("exec"), "#!/bin/sh\necho hi\n", 0755);
    h_put_mode(M("x100"), "x\n", 0100);
    h_put_mode(M("noperm"), "secret\n", 0);
    h_put_mode(M("private"), "mine\n", 0600);
    assert_int_equal(link(M("file"), M("hardlink")), 0);
    h_mkdir_mode(M("dir"), 0755);
    h_mkdir_mode(M("dir/nested"), 0755);
    h_put_mode(M("dir/nested/deep"), "deep\n", 0644);
    h_mkdir_mode(M("dir711"), 0711);
    h_put_mode(M("dir711/f"), "in a 0711 directory\n", 0644);
    h_mkdir_mode(M("secret"), 0700);
    h_put_mode(M("secret/file"), "root's\n", 0644);
    h_mkdir_mode(M("secret/sub"), 0755);
    h_symlink("file", M("lfile"));
    h_symlink("lfile", M("lchain"));
    h_symlink("dir", M("ldir"));
    h_symlink("../file", M("dir/lup"));
    h_symlink(M("file"), M("labs"));
    h_symlink(M("dir"), M("labsdir"));
    h_symlink(h_fmt("%s/outside", f->tmp), M("lout"));
    h_put_mode(h_fmt("%s/outside", f->tmp), "out of the prefix\n", 0644);
    h_symlink("/dev/null", M("lnull"));
    h_symlink("nowhere", M("dangling"));
    h_symlink("loop2", M("loop1"));
    h_symlink("loop1", M("loop2"));
    h_symlink("lself", M("lself"));
    h_symlink("secret/file", M("lsecret"));
    /* a symlink whose target is longer than the small readlink buffer and
     * one of exactly three bytes */
    h_symlink("abc", M("l3"));
#undef M
}

/* The three sets of paths: absolute, relative to src/m, relative to
 * src/m/dir. */
static void parity_paths(struct h_fix *f, struct plist *abs, struct plist *rel,
                         struct plist *rel2, char *m, char *mdir)
{
    snprintf(m, H_PATH_MAX, "%.4000s/m", f->src);
    snprintf(mdir, H_PATH_MAX, "%.4000s/m/dir", f->src);
    static const char *const names[] = {
        "file", "empty", "exec", "x100", "noperm", "private", "hardlink", "dir", "dir/nested",
        "dir/nested/deep", "dir711", "dir711/f", "secret", "secret/file", "secret/sub",
        "secret/missing", "secret/sub/x", "lfile", "lchain", "ldir", "dir/lup", "labs",
        "labsdir", "lout", "lnull", "dangling", "loop1", "lself", "lsecret", "l3",
        /* ENOENT, ENOTDIR, ELOOP on the way */
        "missing", "missingdir/x", "file/x", "lfile/x", "loop1/x", "dangling/x",
        /* below a missing directory, or below a file: answered by the
         * highest missing name (shim_absent_above) */
        "missingdir/x/y", "missingdir/x/", "missingdir/y/z/w", "file/x/y", "lfile/x/y",
        "secret/missing/x", "dangling/x/y",
        /* trailing slashes: a file, a symlink to one, to a directory */
        "file/", "dir/", "lfile/", "ldir/", "dangling/", "missing/",
        /* through symlinked directories, odd spellings */
        "ldir/nested/deep", "labsdir/nested", "ldir/lup", "dir//nested", "dir/./nested",
        "dir/../file", "./file", "dir/nested/../../file", NULL};
    for (int i = 0; names[i]; i++)
        pl_add(abs, h_fmt("%s/%s", m, names[i]));
    pl_add(abs, m);
    pl_add(abs, h_fmt("%s/", m));
    pl_add(abs, h_fmt("%s//file", m));
    pl_add(abs, "");
    /* a name longer than NAME_MAX, and a path longer than PATH_MAX */
    char big[4300];
    memset(big, 'n', 300);
    big[300] = '\0';
    pl_add(abs, h_fmt("%s/%s", m, big));
    pl_add(abs, h_fmt("%s/missingdir/%s", m, big)); /* ENOENT first, at missingdir */
    int k = snprintf(big, sizeof big, "%s/", m);
    while (k < 4200)
        k += snprintf(big + k, sizeof big - (size_t)k, "x/");
    pl_add(abs, big);

    static const char *const rnames[] = {"file", "dir/nested", "lfile", "ldir/nested/deep",
                                         "missing", "file/x", "../m/file", ".", "dir/..",
                                         "secret/file", "lsecret", "dangling", "loop1", NULL};
    for (int i = 0; rnames[i]; i++)
        pl_add(rel, rnames[i]);
    /* relative paths short enough for the kernel whose absolute form is
     * longer than PATH_MAX: a missing one and an existing one */
    k = snprintf(big, sizeof big, "missingdir/");
    while (k < 4070)
        k += snprintf(big + k, sizeof big - (size_t)k, "z/");
    pl_add(rel, big);
    k = snprintf(big, sizeof big, "dir/nested/");
    while (k < 4070)
        k += snprintf(big + k, sizeof big - (size_t)k, "./");
    snprintf(big + k, sizeof big - (size_t)k, "deep");
    pl_add(rel, big);

    static const char *const r2names[] = {"../file", "nested/deep", "lup", "../missing",
                                          "nested", "../ldir/nested", NULL};
    for (int i = 0; r2names[i]; i++)
        pl_add(rel2, r2names[i]);
}

/* One pass of metaprobe over the three sets, as one text. */
static char *parity_pass(struct h_fix *f, bool shim, const struct plist *abs,
                         const struct plist *rel, const struct plist *rel2, const char *m,
                         const char *mdir, const char *what)
{
    char *t = NULL;
    char *o = metaprobe(f, shim, NULL, abs->v, what);
    cat_text(&t, "### absolute\n");
    cat_text(&t, o);
    free(o);
    o = metaprobe(f, shim, m, rel->v, what);
    cat_text(&t, "### relative to m\n");
    cat_text(&t, o);
    free(o);
    o = metaprobe(f, shim, mdir, rel2->v, what);
    cat_text(&t, "### relative to m/dir\n");
    cat_text(&t, o);
    free(o);
    return t;
}

/* The reference says what the kernel says: every errno the tree is for
 * (a tree that lost a case would make the comparison weaker). */
static void check_reference(const char *ref, bool nobody)
{
    static const char *const want[] = {"errno=ENOENT", "errno=ENOTDIR", "errno=ELOOP",
                                       "errno=ENAMETOOLONG", "errno=EINVAL", "errno=EACCES",
                                       "readlink/3 ret=3", NULL};
    for (int i = 0; want[i]; i++)
        if (!strstr(ref, want[i]))
            fail_msg("the reference run has no %s: the tree is not what the test expects",
                     want[i]);
    if (nobody && !strstr(ref, "secret/file\nstat ret=-1 errno=EACCES"))
        fail_msg("as nobody, stat of secret/file did not fail with EACCES");
    if (!nobody && !strstr(ref, "secret/file\nstat ret=0 "))
        fail_msg("as root, stat of secret/file failed");
}

static void parity(struct h_fix *f, bool nobody)
{
    struct plist abs = {0}, rel = {0}, rel2 = {0};
    char m[H_PATH_MAX], mdir[H_PATH_MAX];
    char *report = NULL;
    struct counters c0, c2, c3;

    parity_paths(f, &abs, &rel, &rel2, m, mdir);
    char *ref = parity_pass(f, false, &abs, &rel, &rel2, m, mdir, "reference");
    check_reference(ref, nobody);
    char *run[3];
    counters(f, &c0);
    for (int i = 0; i < 3; i++) {
        if (i == 2)
            counters(f, &c2);
        run[i] = parity_pass(f, true, &abs, &rel, &rel2, m, mdir, "shimmed");
        if (i < 2)
            wait_quiet(f, h_fmt("after shimmed run %d", i + 1));
    }
    counters(f, &c3);
    print_message("    recorded: %lld entries, %lld metadata, %lld negative; third run: "
                  "%lld metadata hits (%lld negative), %lld content hits\n",
                  c3.entries, c3.meta_entries, c3.negative_entries, c3.meta_hits - c2.meta_hits,
                  c3.negative_hits - c2.negative_hits, c3.hits - c2.hits);
    for (int i = 0; i < 3; i++)
        compare(ref, run[i], true, h_fmt("shimmed run %d", i + 1), &report);
    if (c2.meta_entries <= c0.meta_entries || c2.negative_entries <= c0.negative_entries)
        cat_text(&report, h_fmt("  the first runs recorded no metadata (%lld) or no negative "
                                "(%lld) entries\n", c2.meta_entries, c2.negative_entries));
    if (c3.meta_hits <= c2.meta_hits || c3.negative_hits <= c2.negative_hits)
        cat_text(&report, h_fmt("  the third run was not answered from the tier: meta_hits "
                                "%lld -> %lld, negative_hits %lld -> %lld\n", c2.meta_hits,
                                c3.meta_hits, c2.negative_hits, c3.negative_hits));
    free(ref);
    for (int i = 0; i < 3; i++)
        free(run[i]);
    pl_free(&abs);
    pl_free(&rel);
    pl_free(&rel2);
    assert_no_report(report, nobody ? "metadata parity as nobody" : "metadata parity");
    H_PASS(f);
}

static void test_parity(void **state)
{
    struct h_fix *f = *state;
    make_meta_tree(f);
    parity(f, false);
}

/* As nobody (daemon and programs): secret/ is root's 0700 directory, so
 * everything in it is EACCES for nobody, which the tier never records
 * and never answers; the rest as for root, with nobody's access bits. */
static int setup_parity_nobody(void **state)
{
    if (!h_is_root()) {
        *state = NULL;
        return 0; /* the test skips itself */
    }
    struct h_fix *f = h_fix_new(state, parity_args, false);
    if (!f)
        return -1;
    f->wrap = as_nobody;
    f->d.wrap = as_nobody;
    return 0;
}

static void test_parity_as_nobody(void **state)
{
    struct h_fix *f = *state;
    if (!f) {
        print_message("    skipped: needs root to run as nobody\n");
        skip();
    }
    make_meta_tree(f);
    if (h_daemon_start(&f->d) < 0)
        fail_msg("the daemon did not start as nobody");
    parity(f, true);
}

/* ---- b. created through the shim: seen at once ------------------------------------------ */
/* Run metaops under the shim; its stdout (malloc'd). */
static char *metaops(struct h_fix *f, const char *const *argv_tail, const char *what)
{
    const char *argv[64];
    int k = 0;
    argv[k++] = g_metaops;
    for (int i = 0; argv_tail[i]; i++) {
        assert_true(k < 62);
        argv[k++] = argv_tail[i];
    }
    argv[k] = NULL;
    struct h_result r;
    h_shim(f, &r, NULL, argv);
    h_assert_ok(&r, what);
    char *out = r.out;
    r.out = NULL;
    h_result_free(&r);
    return out;
}

/* metaprobe over paths in a fresh shimmed process against one without the
 * shim (normalised: test a compares statx's extra fields). */
static void fresh_same(struct h_fix *f, const char *const *paths, const char *what,
                       char **report)
{
    char *ref = metaprobe(f, false, NULL, paths, what);
    char *got = metaprobe(f, true, NULL, paths, what);
    compare(ref, got, false, what, report);
    free(ref);
    free(got);
}

struct create_case {
    const char *name;
    /* the metaops command and its arguments, paths relative to src/b
     * (symlink's target and creat's text as they are) */
    const char *op, *a1, *a2;
    const char *pre_file;       /* made before (without the shim) in the
                                   directory of the new name */
    const char *const neg[3];   /* primed as missing (relative to src/b) */
    const char *const pos[4];   /* primed as existing (relative to src/b) */
    const char *const check[6]; /* compared after (relative to src/b) */
    const char *const want_ok[3]; /* must exist for the same process right after */
};

static const char *b_path(struct h_fix *f, const char *rel)
{
    return h_fmt("%s/b/%s", f->src, rel);
}

static void test_created_through_shim(void **state)
{
    struct h_fix *f = *state;
    static const struct create_case cases[] = {
        {"creat", "creat", "creat/new", "created", NULL,
         {"creat/new"}, {"creat"}, {"creat/new", "creat"}, {"creat/new"}},
        {"mkdir", "mkdir", "mkdir/new", NULL, NULL,
         {"mkdir/new"}, {"mkdir"}, {"mkdir/new", "mkdir/new/x", "mkdir"},
         {"mkdir/new"}},
        {"symlink", "symlink", "orig", "symlink/new", "orig",
         {"symlink/new"}, {"symlink", "symlink/orig"},
         {"symlink/new", "symlink", "symlink/orig"}, {"symlink/new"}},
        {"rename (same directory)", "rename", "rename/tmp", "rename/new", "tmp",
         {"rename/new"}, {"rename", "rename/tmp"}, {"rename/new", "rename/tmp", "rename"},
         {"rename/new"}},
        {"rename (from another directory)", "rename", "from/tmp", "rename2/new", NULL,
         {"rename2/new"}, {"rename2", "from", "from/tmp"},
         {"rename2/new", "rename2", "from", "from/tmp"}, {"rename2/new"}},
        /* a missing subtree, answered by its top name, made to exist */
        {"mkdir above a missing subtree", "mkdir", "deep", NULL, NULL,
         {"deep/a/b", "deep/x"}, {"mkdir"}, {"deep", "deep/a/b", "deep/x", "deep/a"}, {"deep"}},
        /* (what a link does to the old name's stat: test_link_old_name) */
        {"link", "link", "link/orig", "link/new", "orig",
         {"link/new"}, {"link"}, {"link/new", "link"}, {"link/new"}},
        /* the missing name asked through a symlinked directory, created
         * through the real one (the other way round:
         * test_change_through_symlinked_name) */
        {"creat real, asked through a symlinked directory", "creat", "real/a", "x", NULL,
         {"alias/a"}, {"alias", "real"}, {"alias/a", "real/a", "alias", "real"}, {"alias/a"}},
    };
    char *report = NULL;

    assert_int_equal(h_mkdirs(h_fmt("%s/b", f->src), 0755), 0);
    static const char *const dirs[] = {"creat", "mkdir", "symlink", "rename", "rename2", "from",
                                       "link", "real", NULL};
    for (int i = 0; dirs[i]; i++)
        h_mkdir_mode(b_path(f, dirs[i]), 0755);
    h_put_mode(b_path(f, "from/tmp"), "moved in\n", 0644);
    h_symlink("real", b_path(f, "alias"));
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct create_case *c = &cases[i];
        struct plist neg = {0}, pos = {0}, check = {0}, ops = {0};
        char dir[H_PATH_MAX];
        snprintf(dir, sizeof dir, "%s", b_path(f, c->a2 && strchr(c->a2, '/') ? c->a2 : c->a1));
        *strrchr(dir, '/') = '\0';
        if (c->pre_file)
            h_put_mode(h_fmt("%s/%s", dir, c->pre_file), "the original\n", 0644);
        for (int j = 0; j < 3 && c->neg[j]; j++)
            pl_add(&neg, b_path(f, c->neg[j]));
        for (int j = 0; j < 4 && c->pos[j]; j++)
            pl_add(&pos, b_path(f, c->pos[j]));
        for (int j = 0; j < 6 && c->check[j]; j++)
            pl_add(&check, b_path(f, c->check[j]));

        /* its "does not exist" and its directory's stat come from the tier */
        struct counters before, after;
        counters(f, &before);
        prime(f, neg.v, pos.v, h_fmt("%s: priming", c->name));
        counters(f, &after);
        assert_true(after.negative_hits > before.negative_hits);

        /* create it through the shim, then ask in the same process */
        pl_add(&ops, c->op);
        if (!strcmp(c->op, "symlink"))
            pl_add(&ops, c->a1); /* the target, as written */
        else
            pl_add(&ops, b_path(f, c->a1));
        if (c->a2)
            pl_add(&ops, strcmp(c->op, "creat") ? b_path(f, c->a2) : c->a2);
        for (int j = 0; j < 3 && c->want_ok[j]; j++) {
            pl_add(&ops, "+");
            pl_add(&ops, "stat");
            pl_add(&ops, b_path(f, c->want_ok[j]));
        }
        char *out = metaops(f, ops.v, h_fmt("%s: the create", c->name));
        const char *first_nl = strchr(out, '\n');
        bool op_ok = first_nl && first_nl - out >= 3 && !memcmp(first_nl - 3, " OK", 3);
        int bad = 0;
        for (const char *l = first_nl ? first_nl + 1 : ""; *l; l = strchr(l, '\n') + 1) {
            size_t n = strcspn(l, "\n");
            if (!strstr(h_fmt("%.*s", (int)n, l), " OK"))
                bad++;
            if (!l[n])
                break;
        }
        if (!op_ok || bad)
            cat_text(&report, h_fmt("  %s: in the creating process:\n%s", c->name, out));
        free(out);

        /* and a fresh process sees the new path and the real directories */
        fresh_same(f, check.v, h_fmt("%s: a fresh process", c->name), &report);
        /* again once the daemon recorded what it was asked since */
        wait_quiet(f, c->name);
        fresh_same(f, check.v, h_fmt("%s: a fresh process, later", c->name), &report);
        pl_free(&neg);
        pl_free(&pos);
        pl_free(&check);
        pl_free(&ops);
    }

    /* a remove through the shim, of a path whose stat is served */
    const char *gone = b_path(f, "creat/new");
    const char *pos_gone[] = {h_xstrdup(gone), h_xstrdup(b_path(f, "creat")), NULL};
    prime(f, NULL, pos_gone, "unlink: priming");
    char *out = metaops(f, H_ARGV("unlink", pos_gone[0], "+", "stat", pos_gone[0]), "unlink");
    if (!strstr(out, h_fmt("stat %s ENOENT\n", pos_gone[0])))
        cat_text(&report, h_fmt("  unlink: in the removing process:\n%s", out));
    free(out);
    fresh_same(f, pos_gone, "unlink: a fresh process", &report);
    free((char *)pos_gone[0]);
    free((char *)pos_gone[1]);
    assert_no_report(report, "created (or removed) through the shim, not seen at once");
    H_PASS(f);
}

/* Creates the shim sees only by hooking them for themselves: mkfifo and
 * mkfifoat (glibc calls its internal __mknodat), bind(2) of a Unix socket
 * to a path, and the temp-name family (glibc's internal __open and
 * __mkdir). The new name's "does not exist" (where it can be known before:
 * not for a temp name) and its directory's stat are served first; after
 * the create, the creating process and a fresh one see the kernel's
 * answers. (metaops' stat, not metaprobe, for a FIFO: metaprobe's open
 * would wait for a writer.) */
static void test_created_by_other_calls(void **state)
{
    struct h_fix *f = *state;
    static const char *const named[] = {"mkfifo", "mkfifoat", "bind", NULL};
    static const char *const temps[] = {"mkstemp", "mkstemp64", "mkostemp", "mkostemp64",
                                        "mkstemps", "mkstemps64", "mkostemps", "mkostemps64",
                                        "mkdtemp", NULL};
    char *report = NULL;

    assert_int_equal(h_mkdirs(h_fmt("%s/g", f->src), 0755), 0);
    for (int i = 0; named[i]; i++) {
        const char *dir = h_xstrdup(h_fmt("%s/g/%s", f->src, named[i]));
        const char *name = h_xstrdup(h_fmt("%s/new", dir));
        h_mkdir_mode(dir, 0755);
        const char *neg[] = {name, NULL}, *pos[] = {dir, NULL};
        prime(f, neg, pos, h_fmt("%s: priming", named[i]));
        char *out = metaops(f, H_ARGV(named[i], name, "+", "stat", name), named[i]);
        const char *want = h_fmt("%s %s OK\nstat %s OK other\n", named[i], name, name);
        if (strcmp(out, want) != 0)
            cat_text(&report, h_fmt("  %s: in the creating process:\n%s", named[i], out));
        free(out);
        out = metaops(f, H_ARGV("stat", name), named[i]);
        if (strcmp(out, h_fmt("stat %s OK other\n", name)) != 0)
            cat_text(&report, h_fmt("  %s: a fresh process: %s", named[i], out));
        free(out);
        fresh_same(f, pos, h_fmt("%s: its directory, a fresh process", named[i]), &report);
        free((char *)dir);
        free((char *)name);
    }
    for (int i = 0; temps[i]; i++) {
        const char *dir = h_xstrdup(h_fmt("%s/g/%s", f->src, temps[i]));
        h_mkdir_mode(dir, 0755);
        const char *pos[] = {dir, NULL};
        prime(f, NULL, pos, h_fmt("%s: priming", temps[i]));
        const char *tmpl = h_fmt("%s/tmpXXXXXX%s", dir, strstr(temps[i], "temps") ? ".tmp" : "");
        char *out = metaops(f, H_ARGV(temps[i], tmpl), temps[i]);
        if (!strstr(out, " OK\n"))
            cat_text(&report, h_fmt("  %s: %s", temps[i], out));
        free(out);
        fresh_same(f, pos, h_fmt("%s: its directory, a fresh process", temps[i]), &report);
        free((char *)dir);
    }
    assert_no_report(report, "created through a call glibc makes internally, not seen at once");
    H_PASS(f);
}

/* A name recorded as missing (it answers for every path below it) is made
 * behind the cache, then a file created below it through the shim: the
 * create proves the name exists, so the file is there at once, for the
 * creating process and a fresh one, though --negative-ms is an hour. */
static void test_create_below_absent_name(void **state)
{
    struct h_fix *f = *state;
    const char *deep = h_xstrdup(h_fmt("%s/nb/a/b", f->src));
    const char *file = h_xstrdup(h_fmt("%s/nb/a/f", f->src));
    const char *neg[] = {deep, file, NULL};
    prime(f, neg, NULL, "paths below a missing name");
    assert_int_equal(h_mkdirs(h_fmt("%s/nb/a", f->src), 0755), 0); /* no shim */
    char *out = metaops(f, H_ARGV("creat", file, "made", "+", "stat", file), "creat below");
    if (!strstr(out, h_fmt("stat %s OK", file)))
        fail_msg("a file created through the shim below a name recorded as missing is not "
                 "there for its creator:\n%s", out);
    free(out);
    out = metaops(f, H_ARGV("stat", file), "a fresh process");
    if (!strstr(out, h_fmt("stat %s OK", file)))
        fail_msg("... nor for a fresh process:\n%s", out);
    free(out);
    free((char *)deep);
    free((char *)file);
    H_PASS(f);
}

/* ---- c. created behind the cache: found within --negative-ms --------------------------- */
static void test_created_behind_cache(void **state)
{
    struct h_fix *f = *state;
    char c[H_PATH_MAX];
    snprintf(c, sizeof c, "%.4000s/c", f->src);
    h_mkdir_mode(c, 0755);
    h_mkdir_mode(h_fmt("%s/sub", c), 0755);
    h_mkdir_mode(h_fmt("%s/real", c), 0755);
    h_symlink("real", h_fmt("%s/alias", c));
    /* each: the path primed as missing, how it comes to exist */
    enum { FILE_, DIR_, LINK_, SUB_, ALIAS_, OPEN_, DEEP_, N_ };
    const char *p[N_] = {
        h_xstrdup(h_fmt("%s/file", c)),  h_xstrdup(h_fmt("%s/dir", c)),
        h_xstrdup(h_fmt("%s/link", c)),  h_xstrdup(h_fmt("%s/sub/x", c)),
        h_xstrdup(h_fmt("%s/alias/x", c)), h_xstrdup(h_fmt("%s/opened", c)),
        h_xstrdup(h_fmt("%s/deep/a/b", c)), /* its parents missing too */
    };
    const char *neg[N_ + 1];
    for (int i = 0; i < N_; i++)
        neg[i] = p[i];
    neg[N_] = NULL;
    struct counters before, after;
    counters(f, &before);
    prime(f, neg, NULL, "priming the missing paths");
    counters(f, &after);
    assert_true(after.negative_hits > before.negative_hits);
    /* the open of a path recorded as missing fails from the tier too */
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(g_metaops, "open", p[OPEN_]));
    h_assert_ok(&r, "open of a missing path");
    assert_string_equal(r.out, h_fmt("open %s ENOENT\n", p[OPEN_]));
    h_result_free(&r);
    counters(f, &before);
    if (before.negative_hits <= after.negative_hits)
        fail_msg("the open of a path recorded as missing was not answered from the tier");

    /* create them all without the shim */
    assert_int_equal(h_write_str(p[FILE_], "made behind the cache\n"), 0);
    assert_int_equal(mkdir(p[DIR_], 0755), 0);
    assert_int_equal(symlink("sub", p[LINK_]), 0);
    assert_int_equal(h_write_str(p[SUB_], "x\n"), 0);
    assert_int_equal(h_write_str(h_fmt("%s/real/x", c), "x\n"), 0);
    assert_int_equal(h_write_str(p[OPEN_], "opened\n"), 0);
    assert_int_equal(h_mkdirs(h_fmt("%s/deep/a", c), 0755), 0);
    assert_int_equal(h_write_str(p[DEEP_], "deep\n"), 0);
    uint64_t t0 = h_now_ms();

    /* each found by a shimmed process polling every 50 ms, within 5 s */
    char *report = NULL;
    for (int i = 0; i < N_; i++) {
        h_shim(f, &r, NULL, H_ARGV(g_metaops, i == OPEN_ ? "poll-open" : "poll-stat", p[i], "50",
                                   "5000"));
        h_assert_ok(&r, "poll");
        if (!strstr(r.out, " OK\n"))
            cat_text(&report, h_fmt("  %s: %s", p[i], r.out));
        else
            print_message("    %s found %llu ms after the creates (%.*s)\n",
                          strrchr(p[i], '/') + 1, (unsigned long long)(h_now_ms() - t0),
                          (int)strcspn(r.err, "\n"), r.err);
        h_result_free(&r);
    }
    /* and then a fresh process's answers are the kernel's */
    fresh_same(f, neg, "a fresh process after the creates", &report);
    for (int i = 0; i < N_; i++)
        free((char *)p[i]);
    assert_no_report(report, "created behind the cache, not found within 5 s");
    H_PASS(f);
}

/* The same bound when --revalidate-ms is long (a slow source whose files
 * rarely change, the case negative entries have their own bound for): a
 * negative entry recorded while the revalidator sleeps through a pass
 * paced by --revalidate-ms (one that began with no negative entries) must
 * still be re-checked within --negative-ms. */
static const char *const long_revalidate_args[] = {"--settle-ms", "0", "--revalidate-ms", "20000",
                                                   "--negative-ms", "500", "--capacity", "64M",
                                                   "--log-level", "debug", NULL};

static int setup_long_revalidate(void **state)
{
    return h_fix_new(state, long_revalidate_args, true) ? 0 : -1;
}

static void test_negative_bound_long_revalidate(void **state)
{
    struct h_fix *f = *state;
    struct h_result r;
    char c[H_PATH_MAX];
    snprintf(c, sizeof c, "%.4000s/c", f->src);
    h_mkdir_mode(c, 0755);
    /* an entry, so that the revalidator's next pass is paced by
     * --revalidate-ms (with none it looks every --revalidate-ms / 10) */
    const char *const one[] = {h_src(f, "one"), NULL};
    h_cache(f, one, 1);
    h_sleep_ms(3000);
    const char *neg[] = {h_xstrdup(h_fmt("%s/later", c)), NULL};
    prime(f, neg, NULL, "priming the missing path");
    assert_int_equal(h_write_str(neg[0], "made behind the cache\n"), 0);
    h_shim(f, &r, NULL, H_ARGV(g_metaops, "poll-stat", neg[0], "50", "5000"));
    h_assert_ok(&r, "poll");
    bool found = strstr(r.out, " OK\n") != NULL;
    print_message("    %.*s\n", (int)strcspn(r.err, "\n"), r.err);
    h_result_free(&r);
    if (!found)
        fail_msg("a file created behind the cache was still \"missing\" 5 s later with "
                 "--negative-ms 500 (--revalidate-ms 20000)");
    free((char *)neg[0]);
    H_PASS(f);
}

/* ---- d. the symlink case -------------------------------------------------------- */
/* `sh -c SCRIPT` under the shim in dir; its stdout (malloc'd). */
static char *shim_sh(struct h_fix *f, const char *dir, const char *script, char **err)
{
    struct h_result r;
    h_shim(f, &r, H_ENV("SHMCACHE_LOG=all"),
           H_ARGV("/bin/sh", "-c", h_fmt("cd \"$1\" && %s", script), "sh", dir));
    if (r.code != 0)
        fail_msg("sh -c '%s' under the shim exited %d: %s", script, r.code, r.err);
    char *out = r.out;
    r.out = NULL;
    if (err) {
        *err = r.err;
        r.err = NULL;
    }
    h_result_free(&r);
    return out;
}

/* `cat NAME` under the shim in dir until it is a hit (SHMCACHE_LOG=all's
 * HIT line for the key, and the hits counter); asserts it prints want. */
static void cat_until_hit(struct h_fix *f, const char *dir, const char *name, const char *want)
{
    uint64_t end = h_now_ms() + 10000;
    const char *key = h_xstrdup(h_fmt("%s/%s", dir, name));
    for (;;) {
        long long hits = h_stat(&f->d, "hits");
        char *err;
        char *out = shim_sh(f, dir, h_fmt("cat %s", name), &err);
        if (strcmp(out, want) != 0)
            fail_msg("cat %s printed \"%s\", expected \"%s\"", name, out, want);
        bool hit = logged(err, "HIT", key);
        free(out);
        free(err);
        if (hit && h_stat(&f->d, "hits") > hits)
            break;
        if (h_now_ms() > end)
            fail_msg("cat %s was no hit within 10 s", key);
        h_sleep_ms(50);
    }
    free((char *)key);
}

static void expect_sh(struct h_fix *f, const char *dir, const char *script, const char *want,
                      const char *what, char **report)
{
    char *out = shim_sh(f, dir, script, NULL);
    if (strcmp(out, want) != 0)
        cat_text(report, h_fmt("  %s: `%s` printed \"%s\", expected \"%s\"\n", what, script, out,
                               want));
    free(out);
}

static void test_symlink_target_replaced(void **state)
{
    struct h_fix *f = *state;
    char d[H_PATH_MAX];
    char *report = NULL;
    snprintf(d, sizeof d, "%.4000s/d", f->src);
    h_mkdir_mode(d, 0755);

    /* the issue's own lines, all under the shim */
    char *out = shim_sh(f, d, "printf old >target; ln -s target link; cat link", NULL);
    assert_string_equal(out, "old");
    free(out);
    cat_until_hit(f, d, "link", "old"); /* the second `cat link`: a hit */
    expect_sh(f, d, "printf new >target.lock; mv target.lock target; cat link", "new",
              "through a symlink to the file", &report);
    expect_sh(f, d, "cat link", "new", "through a symlink to the file, a fresh process",
              &report);

    /* its metadata too: the link's stat is the new file's */
    out = shim_sh(f, d, "printf older >t2; ln -s t2 l2; cat l2", NULL);
    assert_string_equal(out, "older");
    free(out);
    cat_until_hit(f, d, "l2", "older");
    const char *const stat_paths[] = {h_xstrdup(h_fmt("%s/l2", d)), h_xstrdup(h_fmt("%s/t2", d)),
                                      NULL};
    prime(f, NULL, stat_paths, "the link's stat");
    expect_sh(f, d, "printf newest! >t2.lock; mv t2.lock t2; cat l2", "newest!",
              "through a symlink, metadata", &report);
    fresh_same(f, stat_paths, "the link's and target's metadata after the rename", &report);
    free((char *)stat_paths[0]);
    free((char *)stat_paths[1]);

    /* through a symlinked directory */
    h_mkdir_mode(h_fmt("%s/realdir", d), 0755);
    out = shim_sh(f, d, "ln -s realdir dirlink; printf old >realdir/f; cat dirlink/f", NULL);
    assert_string_equal(out, "old");
    free(out);
    cat_until_hit(f, d, "dirlink/f", "old");
    expect_sh(f, d, "printf new >realdir/f.new; mv realdir/f.new realdir/f; cat dirlink/f", "new",
              "through a symlinked directory", &report);
    expect_sh(f, d, "cat dirlink/f", "new", "through a symlinked directory, a fresh process",
              &report);
    assert_no_report(report, "a file replaced behind a symlink was not seen through it");
    H_PASS(f);
}

/* src/NAME (its path into d, H_PATH_MAX bytes) with a directory realdir
 * and a symlink dirlink -> realdir in it. */
static void dir_with_dirlink(struct h_fix *f, const char *name, char *d)
{
    snprintf(d, H_PATH_MAX, "%.4000s/%s", f->src, name);
    h_mkdir_mode(d, 0755);
    h_mkdir_mode(h_fmt("%s/realdir", d), 0755);
    h_symlink("realdir", h_fmt("%s/dirlink", d));
}

/* The other way round: the real name is what the tier serves, the change
 * is made through a symlinked directory's name for it (both under the
 * prefix, both through the shim). Issue 11: "every create, remove,
 * rename, link, symlink, mkdir, rmdir, chmod, chown and utime of a path
 * under a prefix kills the affected positive and negative entries". With
 * --revalidate-ms 0 and --negative-ms 3600000 only the shim's marks can
 * reveal these. */
static void test_change_through_symlinked_name(void **state)
{
    struct h_fix *f = *state;
    char d[H_PATH_MAX];
    char *report = NULL;
    dir_with_dirlink(f, "s", d);

    /* content: realdir/g served, replaced by a rename through dirlink/ */
    char *out = shim_sh(f, d, "printf old >realdir/g; cat realdir/g", NULL);
    assert_string_equal(out, "old");
    free(out);
    cat_until_hit(f, d, "realdir/g", "old");
    expect_sh(f, d, "printf new >dirlink/g.new; mv dirlink/g.new dirlink/g; cat realdir/g", "new",
              "realdir/g (served), replaced by a rename through dirlink/g", &report);

    /* a negative entry: realdir/b served as missing, created as dirlink/b */
    const char *neg[] = {h_xstrdup(h_fmt("%s/realdir/b", d)), NULL};
    const char *pos[] = {h_xstrdup(h_fmt("%s/realdir", d)), NULL};
    prime(f, neg, pos, "realdir/b missing");
    out = metaops(f, H_ARGV("creat", h_fmt("%s/dirlink/b", d), "x", "+", "stat", neg[0]),
                  "creat dirlink/b");
    if (!strstr(out, h_fmt("stat %s OK", neg[0])))
        cat_text(&report, h_fmt("  realdir/b (served as missing), created as dirlink/b: the "
                                "creating process then says:\n%s", out));
    free(out);
    const char *both[] = {neg[0], pos[0], NULL};
    fresh_same(f, both, "realdir/b created as dirlink/b: a fresh process", &report);

    /* metadata: realdir/h's stat served, chmod through dirlink/h */
    assert_int_equal(h_write_str(h_fmt("%s/realdir/h", d), "h\n"), 0);
    const char *hpos[] = {h_xstrdup(h_fmt("%s/realdir/h", d)), NULL};
    prime(f, NULL, hpos, "realdir/h's stat");
    expect_sh(f, d, "chmod 600 dirlink/h; stat -c %a realdir/h", "600\n",
              "realdir/h (stat served), chmod 600 through dirlink/h", &report);
    fresh_same(f, hpos, "realdir/h after a chmod through dirlink/h: a fresh process", &report);
    free((char *)neg[0]);
    free((char *)pos[0]);
    free((char *)hpos[0]);
    assert_no_report(report, "a change through a symlinked directory's name left the real "
                             "name's entries served");
    H_PASS(f);
}

/* A change through a symlink that names the file itself (l -> t) changes
 * t, whose own entries recorded nothing of l: truncate, utimes and an open
 * for writing through l, also through a chain of symlinks and through one
 * into a symlinked directory, and an O_CREAT open through a dangling one,
 * which makes its target. Each: the names' stat (or "does not exist")
 * served, the change made through the link, then a fresh process sees
 * them as the kernel does. Last, a descriptor opened for writing through
 * l: t's stat recorded while it is open must not outlive its close. */
struct final_link_case {
    const char *name;
    const char *file;           /* the real file (relative to src/fs) */
    const char *links[2][2];    /* symlinks made: name, target as written */
    const char *op, *via, *arg; /* metaops OP VIA ARG, VIA a link */
};

static void test_change_through_final_symlink(void **state)
{
    struct h_fix *f = *state;
    static const struct final_link_case cases[] = {
        {"truncate", "t1", {{"l1", "t1"}}, "truncate", "l1", "2"},
        {"utimes", "t2", {{"l2", "t2"}}, "utimes", "l2", "1500000000"},
        {"open for writing", "t3", {{"l3", "t3"}}, "write", "l3", "rewritten through l3\n"},
        {"truncate through a chain", "t4", {{"l4", "t4"}, {"l4b", "l4"}}, "truncate", "l4b", "1"},
        {"truncate into a symlinked directory", "realdir/t5", {{"l5", "dirlink/t5"}}, "truncate",
         "l5", "3"},
    };
    char d[H_PATH_MAX];
    char *report = NULL;
    dir_with_dirlink(f, "fs", d);

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct final_link_case *c = &cases[i];
        struct plist pos = {0};
        h_put_mode(h_fmt("%s/%s", d, c->file), "hello\n", 0644);
        pl_add(&pos, h_fmt("%s/%s", d, c->file));
        for (int j = 0; j < 2 && c->links[j][0]; j++) {
            h_symlink(c->links[j][1], h_fmt("%s/%s", d, c->links[j][0]));
            pl_add(&pos, h_fmt("%s/%s", d, c->links[j][0]));
        }
        prime(f, NULL, pos.v, h_fmt("%s: priming", c->name));
        char *out = metaops(f, H_ARGV(c->op, h_fmt("%s/%s", d, c->via), c->arg), c->name);
        if (!strstr(out, " OK\n"))
            cat_text(&report, h_fmt("  %s: %s", c->name, out));
        free(out);
        fresh_same(f, pos.v, h_fmt("%s: a fresh process", c->name), &report);
        pl_free(&pos);
    }

    /* O_CREAT through a dangling symlink: its target was served as missing */
    const char *dangling[] = {h_xstrdup(h_fmt("%s/nt", d)), h_xstrdup(h_fmt("%s/dl", d)), NULL};
    const char *nt[] = {dangling[0], NULL}; /* (no negative entry is kept for
                                                a dangling symlink itself) */
    h_symlink("nt", dangling[1]);
    prime(f, nt, NULL, "dangling: priming");
    char *out = metaops(f, H_ARGV("write", dangling[1], "made through dl\n"), "dangling");
    if (!strstr(out, " OK\n"))
        cat_text(&report, h_fmt("  O_CREAT through a dangling symlink: %s", out));
    free(out);
    fresh_same(f, dangling, "O_CREAT through a dangling symlink: a fresh process", &report);

    /* the close of a descriptor written through l6: t6's stat is not
     * recorded while the descriptor is open (the daemon's read lease says
     * it is open for writing: fail_writing), and is the new one after the
     * close (where no lease can tell, as on NFS, the close's marks on the
     * resolved name kill what was recorded meanwhile) */
    const char *six[] = {h_xstrdup(h_fmt("%s/t6", d)), h_xstrdup(h_fmt("%s/l6", d)), NULL};
    const char *go = h_xstrdup(h_fmt("%s/go-t6", f->tmp));
    h_put_mode(six[0], "hello\n", 0644);
    h_symlink("t6", six[1]);
    struct h_proc w;
    assert_int_equal(h_start(&w, h_shim_env(f, NULL),
                             h_wrapped(f->wrap, H_ARGV(g_metaops, "openw", six[1], "+", "writefd",
                                                       "abc", "+", "wait-file", go, "20000", "+",
                                                       "writefd", "defg", "+", "closefd"))),
                     0);
    struct stat st;
    uint64_t end = h_now_ms() + 10000;
    while (stat(six[0], &st) < 0 || st.st_size != 3) {
        if (h_now_ms() > end)
            fail_msg("the writer did not write 3 bytes to t6 within 10 s");
        h_sleep_ms(20);
    }
    const char *t6[] = {six[0], NULL};
    long long refused = h_stat(&f->d, "fail_writing");
    for (int i = 0; i < 5 && h_stat(&f->d, "fail_writing") == refused; i++) {
        free(metaops(f, H_ARGV("stat", t6[0]), "t6 while written"));
        h_sleep_ms(200);
    }
    if (h_stat(&f->d, "fail_writing") == refused)
        cat_text(&report, "  t6's stat was not refused while t6 was open for writing\n");
    assert_int_equal(h_write_str(go, "go\n"), 0);
    struct h_result r;
    h_finish(&w, &r, 20000);
    h_assert_ok(&r, "the writer through l6");
    if (strstr(r.out, "closefd OK\n") == NULL)
        cat_text(&report, h_fmt("  the writer through l6: %s", r.out));
    h_result_free(&r);
    fresh_same(f, six, "t6 after the close of a descriptor written through l6", &report);
    for (int i = 0; i < 2; i++) {
        free((char *)dangling[i]);
        free((char *)six[i]);
    }
    free((char *)go);
    assert_no_report(report, "a change through a symlink to the file left the file's entries "
                             "served");
    H_PASS(f);
}

/* link(2) changes the old name's stat too (st_nlink, st_ctime): both
 * names are the call's arguments. (Unlinking one name of a file with
 * several changes the others' stat as well; the shim cannot know them:
 * preload/change.c leaves that to revalidation, not tested here.) */
static void test_link_old_name(void **state)
{
    struct h_fix *f = *state;
    char *report = NULL;
    char dir[H_PATH_MAX];
    snprintf(dir, sizeof dir, "%.4000s/l", f->src);
    h_mkdir_mode(dir, 0755);
    const char *orig = h_xstrdup(h_fmt("%s/orig", dir)), *new = h_xstrdup(h_fmt("%s/new", dir));
    h_put_mode(orig, "the original\n", 0644);
    const char *pos[] = {orig, NULL};
    const char *both[] = {orig, new, NULL};

    prime(f, NULL, pos, "orig's stat");
    char *out = metaops(f, H_ARGV("link", orig, new), "link orig new");
    free(out);
    fresh_same(f, both, "orig and new after link(orig, new) through the shim", &report);
    free((char *)orig);
    free((char *)new);
    assert_no_report(report, "the old name's stat after a link through the shim");
    H_PASS(f);
}

/* metaops argv without the shim, then with it (between the counters'
 * snapshots *a and *b, when given): the same lines, else the difference in
 * *report. Returns the run without the shim's stdout (malloc'd), for what
 * the kernel said. */
static char *kernel_lines(struct h_fix *f, const char *const *argv, const char *what,
                          struct counters *a, struct counters *b, char **report)
{
    struct h_result want, got;
    h_plain(f, &want, argv);
    h_assert_ok(&want, h_fmt("%s, without the shim", what));
    if (a)
        counters(f, a);
    h_shim(f, &got, NULL, argv);
    h_assert_ok(&got, h_fmt("%s, with the shim", what));
    if (b)
        counters(f, b);
    compare(want.out, got.out, true, what, report);
    char *out = want.out;
    want.out = NULL;
    h_result_free(&want);
    h_result_free(&got);
    return out;
}

/* access and faccessat answer EINVAL for a mode outside R_OK|W_OK|X_OK
 * or an unknown flag before they look at the path: so must the shim, for
 * a path whose "does not exist" (or stat) it has. Every call, shimmed and
 * not: the same lines. */
static void test_access_refused_arguments(void **state)
{
    struct h_fix *f = *state;
    char dir[H_PATH_MAX];
    snprintf(dir, sizeof dir, "%.4000s/acc", f->src);
    h_mkdir_mode(dir, 0755);
    const char *file = h_xstrdup(h_fmt("%s/file", dir)), *nope = h_xstrdup(h_fmt("%s/nope", dir));
    h_put_mode(file, "readable\n", 0644);
    const char *neg[] = {nope, NULL}, *pos[] = {file, NULL};
    prime(f, neg, pos, "priming");
    /* the metaops command, the path, then its arguments (NULL: none) */
    static const char *const calls[][4] = {
        {"access", NULL, "0x10", "-"},  {"access", NULL, "0x8", "-"},
        {"access", NULL, "-1", "-"},    {"access", NULL, "0x14", "-"},
        {"access", NULL, "0", "-"},     {"access", NULL, "4", "-"},
        {"access", NULL, "0x10", "0"},  {"access", NULL, "0x10", "0x200"},
        {"access", NULL, "0", "0x8000"}, {"access", NULL, "4", "0x1"},
        {"sys", "faccessat", "0x10", NULL}, {"sys", "faccessat2", "0x10", "0x200"},
        {"sys", "faccessat2", "0", "0x8000"}, {"sys", "faccessat", "0", NULL},
    };
    const char *argv[160];
    int k = 0;
    argv[k++] = g_metaops;
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
            if (k > 1)
                argv[k++] = "+";
            for (int j = 0; j < 4; j++) {
                if (j == 2)
                    argv[k++] = p ? file : nope;
                if (calls[i][j])
                    argv[k++] = calls[i][j];
            }
        }
    argv[k] = NULL;
    struct counters a, b;
    char *report = NULL;
    free(kernel_lines(f, argv, "access calls", &a, &b, &report));
    if (b.negative_hits <= a.negative_hits)
        cat_text(&report, "  the valid calls on the missing path were not answered from the tier\n");
    free((char *)file);
    free((char *)nope);
    assert_no_report(report, "access with a mode or flags the kernel refuses");
    H_PASS(f);
}

/* access() and faccessat without AT_EACCESS check the real ids. A root
 * process that made nobody its real uid (setreuid(65534, 0), before its
 * first call under the prefix) must not be told by the tier that a file
 * in root's 0700 directory exists: the owner case of the directories
 * above is decided for the effective uid. With AT_EACCESS, and stat, the
 * effective ids ask: those are still answered. */
static void test_access_real_ids(void **state)
{
    struct h_fix *f = *state;
    if (!h_is_root()) {
        print_message("    skipped: needs root to run with a real uid of nobody\n");
        H_PASS(f);
        skip();
    }
    char dir[H_PATH_MAX];
    snprintf(dir, sizeof dir, "%.4000s/ids", f->src);
    h_mkdir_mode(dir, 0755);
    h_mkdir_mode(h_fmt("%s/secret", dir), 0700);
    const char *file = h_xstrdup(h_fmt("%s/secret/file", dir));
    h_put_mode(file, "root's\n", 0644);
    const char *pos[] = {file, NULL};
    prime(f, NULL, pos, "priming");
    const char *argv[] = {g_metaops, "setreuid", "65534", "0", "+", "access", file, "0", "-",
                          "+", "access", file, "4", "-", "+", "access", file, "0", "0",
                          "+", "sys", "faccessat", file, "0", "+", "access", file, "0", "0x200",
                          "+", "stat", file, NULL};
    char *report = NULL;
    char *want = kernel_lines(f, argv, "access with a real uid of nobody", NULL, NULL, &report);
    if (!strstr(want, " 0 - EACCES\n"))
        fail_msg("without the shim, access() with a real uid of nobody did not fail: %s", want);
    free(want);
    free((char *)file);
    assert_no_report(report, "access() answered from the tier for the effective uid");
    H_PASS(f);
}

/* A metadata system call made through syscall() that the tier cannot
 * answer is made as asked: not newfstatat, stat or lstat as statx, access
 * or faccessat2 as faccessat, readlink as readlinkat, which a seccomp
 * profile may refuse while it allows the call the program made. Under a
 * filter that refuses statx, faccessat and readlinkat (ENOSYS), the same
 * lines as without the shim, on paths the tier has never seen. */
static void test_syscall_miss_as_asked(void **state)
{
    struct h_fix *f = *state;
    char dir[H_PATH_MAX];
    snprintf(dir, sizeof dir, "%.4000s/sc", f->src);
    h_mkdir_mode(dir, 0755);
    const char *file = h_xstrdup(h_fmt("%s/file", dir)), *link = h_xstrdup(h_fmt("%s/link", dir));
    h_put_mode(file, "hello\n", 0644);
    h_symlink("file", link);
    const char *argv[] = {g_metaops, "deny", "statx,faccessat,readlinkat",
                          "+", "sys", "newfstatat", file, "0",
                          "+", "sys", "newfstatat", link, "0x100",
                          "+", "sys", "faccessat2", file, "4", "0",
                          "+", "sys", "faccessat2", link, "0", "0x200",
#ifdef __x86_64__
                          "+", "sys", "stat", link, "+", "sys", "lstat", link,
                          "+", "sys", "access", file, "4", "+", "sys", "readlink", link,
#endif
                          NULL};
    char *report = NULL;
    char *want = kernel_lines(f, argv, "system calls under seccomp", NULL, NULL, &report);
    if (strstr(want, "ENOSYS") || !strstr(want, "deny statx,faccessat,readlinkat OK\n"))
        fail_msg("without the shim, under the filter: %s", want);
    free(want);
    free((char *)file);
    free((char *)link);
    assert_no_report(report, "syscall() made another system call than the one asked for");
    H_PASS(f);
}

/* ENOTDIR is recorded as a negative entry (DESIGN.md, tier/layout.h) and
 * so should be answered from the tier like ENOENT. */
static void test_enotdir_answered(void **state)
{
    struct h_fix *f = *state;
    char dir[H_PATH_MAX];
    snprintf(dir, sizeof dir, "%.4000s/e", f->src);
    h_mkdir_mode(dir, 0755);
    h_put_mode(h_fmt("%s/file", dir), "a regular file\n", 0644);
    const char *neg[] = {h_xstrdup(h_fmt("%s/file/x", dir)), h_xstrdup(h_fmt("%s/file/y/z", dir)),
                         NULL};
    struct counters a, b;
    counters(f, &a);
    prime(f, neg, NULL, "file/x and file/y/z (ENOTDIR)");
    counters(f, &b);
    assert_true(b.negative_hits > a.negative_hits);
    free((char *)neg[0]);
    free((char *)neg[1]);
    H_PASS(f);
}

/* On a noexec mount the kernel refuses access(X_OK) to a regular file
 * whatever its mode: the tier must not grant it from the mode bits (a
 * tmpfs mounted noexec under the prefix; root only). */
static void test_noexec_mount(void **state)
{
    struct h_fix *f = *state;
    if (!h_is_root()) {
        print_message("    skipped: needs root to mount\n");
        H_PASS(f);
        skip();
    }
    char nx[H_PATH_MAX];
    snprintf(nx, sizeof nx, "%.4000s/nx", f->src);
    h_mkdir_mode(nx, 0755);
    struct h_result r;
    h_run(&r, NULL, H_ARGV("mount", "-t", "tmpfs", "-o", "noexec,size=1m", "tmpfs", nx), 10000);
    if (r.code != 0) {
        print_message("    skipped: cannot mount a tmpfs here: %s", r.err);
        h_result_free(&r);
        H_PASS(f);
        skip();
    }
    h_result_free(&r);
    h_put_mode(h_fmt("%s/run.sh", nx), "#!/bin/sh\n", 0755);
    const char *const paths[] = {h_xstrdup(h_fmt("%s/run.sh", nx)), NULL};
    char *plain = metaprobe(f, false, NULL, paths, "noexec");
    if (!strstr(plain, "access/X_OK ret=-1 errno=EACCES"))
        fail_msg("the kernel granted X_OK on a noexec mount?\n%s", plain);
    prime(f, NULL, paths, "a file on a noexec mount");
    char *shim = metaprobe(f, true, NULL, paths, "noexec");
    char *a = normalised(plain), *b = normalised(shim);
    h_run(&r, NULL, H_ARGV("umount", nx), 10000);
    h_result_free(&r);
    if (strcmp(a, b) != 0)
        fail_msg("on a noexec mount the shim answers differently:\n--- kernel\n%s--- shim\n%s", a,
                 b);
    free(a);
    free(b);
    free(plain);
    free(shim);
    free((char *)paths[0]);
    H_PASS(f);
}

/* ---- e. real programs --------------------------------------------------------------------- */
static void write_tree(const char *base, const char *const *files)
{
    for (int i = 0; files[i]; i += 2) {
        const char *p = h_fmt("%s/%s", base, files[i]);
        char dir[H_PATH_MAX];
        snprintf(dir, sizeof dir, "%s", p);
        *strrchr(dir, '/') = '\0';
        assert_int_equal(h_mkdirs(dir, 0755), 0);
        if (h_write_str(p, files[i + 1]) < 0)
            fail_msg("write %s: %s", p, strerror(errno));
    }
}

/* Run argv in dir (via sh -c cd) with or without the shim; asserts it
 * exited 0; its stdout (malloc'd). */
static char *run_in(struct h_fix *f, bool shim, const char *dir, const char *const *argv,
                    const char *what)
{
    const char *v[32];
    int k = 0;
    v[k++] = "/bin/sh";
    v[k++] = "-c";
    v[k++] = "cd \"$1\" && shift && exec \"$@\"";
    v[k++] = "sh";
    v[k++] = dir;
    for (int i = 0; argv[i]; i++)
        v[k++] = argv[i];
    v[k] = NULL;
    struct h_result r;
    if (shim)
        h_shim(f, &r, NULL, v);
    else
        h_plain(f, &r, v);
    if (r.code != 0)
        fail_msg("%s %s the shim exited %d:\n%s%s", what, shim ? "with" : "without", r.code,
                 r.out, r.err);
    char *out = r.out;
    r.out = NULL;
    h_result_free(&r);
    return out;
}

/* The program's output without the shim, then twice with it: the same
 * every time; the second shimmed run answered from the tier. */
static void program_parity(struct h_fix *f, const char *dir, const char *const *argv,
                           const char *what, bool want_negative)
{
    char *ref = run_in(f, false, dir, argv, what);
    char *one = run_in(f, true, dir, argv, what);
    wait_quiet(f, what);
    struct counters a, b;
    counters(f, &a);
    char *two = run_in(f, true, dir, argv, what);
    counters(f, &b);
    print_message("    %s: second run %lld metadata hits (%lld negative), %lld content hits; "
                  "%lld metadata and %lld negative entries\n", what, b.meta_hits - a.meta_hits,
                  b.negative_hits - a.negative_hits, b.hits - a.hits, b.meta_entries,
                  b.negative_entries);
    char *report = NULL;
    if (strcmp(ref, one) != 0)
        cat_text(&report, h_fmt("  first shimmed run:\n%s\n  without the shim:\n%s", one, ref));
    if (strcmp(ref, two) != 0)
        cat_text(&report, h_fmt("  second shimmed run:\n%s\n  without the shim:\n%s", two, ref));
    if (b.meta_hits <= a.meta_hits)
        cat_text(&report, "  the second run had no metadata hits\n");
    if (want_negative && b.negative_hits <= a.negative_hits)
        cat_text(&report, "  the second run had no negative hits\n");
    free(ref);
    free(one);
    free(two);
    assert_no_report(report, h_fmt("%s under the shim", what));
}

static void test_python_imports(void **state)
{
    struct h_fix *f = *state;
    const char *py = h_python();
    char base[H_PATH_MAX];
    snprintf(base, sizeof base, "%.4000s/py", f->src);
    static const char *const files[] = {
        "main.py",
        "import sys, os, importlib, importlib.util\n"
        "base = os.path.dirname(os.path.abspath(__file__))\n"
        "sys.path.insert(1, os.path.join(base, 'no_such_entry'))\n"
        "sys.path.insert(2, os.path.join(base, 'libs'))\n"
        "import alpha\n"
        "from alpha import beta\n"
        "from alpha.sub import gamma\n"
        "import delta.epsilon as eps\n"
        "import nsp.mod\n"
        "import zeta\n"
        "print(alpha.NAME, beta.value(), gamma.VALUE, eps.X, nsp.mod.Y, zeta.Z)\n"
        "for name in ('nope', 'alpha.nope', 'alpha.sub.nope2', 'nsp.nope3', 'delta.nope4'):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError as e:\n"
        "        print('missing', e.name)\n"
        "for m in (alpha, beta, gamma, eps, nsp.mod, zeta):\n"
        "    print(m.__name__, os.path.relpath(m.__file__, base), m.__spec__.cached and "
        "os.path.relpath(m.__spec__.cached, base))\n"
        "print(importlib.util.find_spec('nothere'))\n"
        "print(os.path.exists(os.path.join(base, 'alpha', 'data.txt')), "
        "os.path.isdir(os.path.join(base, 'alpha', 'sub')), "
        "os.path.exists(os.path.join(base, 'alpha', 'absent')), "
        "os.path.islink(os.path.join(base, 'libs')), os.access(os.path.join(base, 'main.py'), "
        "os.R_OK))\n"
        "print(open(os.path.join(base, 'alpha', 'data.txt')).read().strip())\n"
        "print(sorted(os.listdir(os.path.join(base, 'alpha'))))\n",
        "alpha/__init__.py", "NAME = 'alpha'\n",
        "alpha/beta.py", "def value():\n    return 'beta'\n",
        "alpha/data.txt", "some data\n",
        "alpha/sub/__init__.py", "",
        "alpha/sub/gamma.py", "from .. import beta\nVALUE = 'gamma+' + beta.value()\n",
        "delta/__init__.py", "",
        "delta/epsilon.py", "import json\nX = json.dumps({'e': 1})\n",
        "nsp/mod.py", "Y = 'namespace'\n",
        "real_libs/zeta.py", "Z = 'zeta via a symlinked path entry'\n",
        NULL};
    write_tree(base, files);
    h_symlink("real_libs", h_fmt("%s/libs", base));
    /* bytecode written once, without the shim: every run reads it (and
     * none writes any: -B) */
    struct h_result r;
    h_plain(f, &r, H_ARGV(py, "-m", "compileall", "-q", base));
    h_assert_ok(&r, "compileall");
    h_result_free(&r);
    program_parity(f, base, H_ARGV(py, "-B", "-E", "-s", "main.py"), "python3 importing a tree",
                   true);
    H_PASS(f);
}

/* Is the program installed (prog --version runs)? */
static bool have(const char *prog)
{
    struct h_result r;
    int code = h_run(&r, NULL, H_ARGV(prog, "--version"), 20000);
    h_result_free(&r);
    return code == 0;
}

static void test_node_requires(void **state)
{
    struct h_fix *f = *state;
    if (!have("node")) {
        print_message("    skipped: node is not installed (apt-get install nodejs)\n");
        H_PASS(f);
        skip();
    }
    char base[H_PATH_MAX];
    snprintf(base, sizeof base, "%.4000s/js", f->src);
    static const char *const files[] = {
        "app/index.js",
        "const path = require('path');\n"
        "const fs = require('fs');\n"
        "const rel = (p) => path.relative(__dirname, p);\n"
        "const a = require('a');\n"
        "const b = require('b');\n"
        "const c = require('c');\n"
        "const d = require('@scope/d');\n"
        "const linked = require('linked');\n"
        "console.log(a.name, a.b, b.name, c.name, d.name, linked.name, require('./data.json').k);\n"
        "for (const m of ['missing-mod', 'a/missing-file', './nope', '@scope/none']) {\n"
        "  try { require(m); } catch (e) { console.log('missing', m, e.code); }\n"
        "}\n"
        "for (const m of ['a', 'b', 'c', '@scope/d', 'linked', './data.json', 'a/lib/util'])\n"
        "  console.log(m, rel(require.resolve(m)));\n"
        "console.log(fs.existsSync(path.join(__dirname, 'nope')),\n"
        "  fs.statSync(path.join(__dirname, 'node_modules', 'a')).isDirectory(),\n"
        "  fs.lstatSync(path.join(__dirname, 'node_modules', 'linked')).isSymbolicLink(),\n"
        "  fs.statSync(path.join(__dirname, 'data.json')).size,\n"
        "  fs.readlinkSync(path.join(__dirname, 'node_modules', 'linked')),\n"
        "  rel(fs.realpathSync(path.join(__dirname, 'node_modules', 'linked'))));\n"
        "try { fs.statSync(path.join(__dirname, 'absent')); } catch (e) { console.log(e.code); }\n"
        "try { fs.accessSync(path.join(__dirname, 'absent')); } catch (e) { console.log(e.code); }\n",
        "app/data.json", "{\"k\": \"json\"}\n",
        "app/node_modules/a/package.json", "{\"name\": \"a\", \"main\": \"lib/main.js\"}\n",
        "app/node_modules/a/lib/main.js",
        "const u = require('./util');\nmodule.exports = {name: 'a' + u.x, b: require('b').name};\n",
        "app/node_modules/a/lib/util.js", "exports.x = '+util';\n",
        "app/node_modules/a/node_modules/b/package.json",
        "{\"name\": \"b\", \"version\": \"1.0.0\", \"main\": \"index\"}\n",
        "app/node_modules/a/node_modules/b/index.js", "exports.name = 'b@1 (nested)';\n",
        "app/node_modules/b/package.json",
        "{\"name\": \"b\", \"version\": \"2.0.0\", \"main\": \"./dist/b.js\"}\n",
        "app/node_modules/b/dist/b.js", "exports.name = 'b@2';\n",
        "app/node_modules/c/index.js", "exports.name = 'c (no package.json)';\n",
        "app/node_modules/@scope/d/package.json", "{\"name\": \"@scope/d\", \"main\": \"d.js\"}\n",
        "app/node_modules/@scope/d/d.js", "exports.name = '@scope/d';\n",
        "linked-pkg/package.json", "{\"name\": \"linked\", \"main\": \"main\"}\n",
        "linked-pkg/main.js", "exports.name = 'linked (a symlinked package)';\n",
        NULL};
    write_tree(base, files);
    h_symlink("../../linked-pkg", h_fmt("%s/app/node_modules/linked", base));
    program_parity(f, h_fmt("%s/app", base), H_ARGV("node", "-e", "require('./index.js')"),
                   "node requiring a tree", false);
    H_PASS(f);
}

/* php including a code base: a PSR-4 autoloader, include_path probes
 * (through missing directories, the pattern the start-up benchmark found
 * phpunit's autoloaders make), require_once, file_exists, is_dir,
 * scandir, realpath. */
static void test_php_includes(void **state)
{
    struct h_fix *f = *state;
    if (!have("php")) {
        print_message("    skipped: php is not installed (apt-get install php-cli)\n");
        H_PASS(f);
        skip();
    }
    char base[H_PATH_MAX];
    snprintf(base, sizeof base, "%.4000s/php", f->src);
    static const char *const files[] = {
        "main.php",
        "<?php\n"
        "spl_autoload_register(function ($c) {\n"
        "    $f = __DIR__ . '/src/' . str_replace('\\\\', '/', $c) . '.php';\n"
        "    if (file_exists($f)) require $f;\n"
        "});\n"
        "foreach (['Vendor/Missing/autoload.php', 'Other/autoload.php', 'helpers.php'] as $p)\n"
        "    echo $p, ': ', (@include_once $p) ? 'included' : 'absent', \"\\n\";\n"
        "$cart = new App\\Cart(new App\\Model\\Item('tea', 3), new App\\Model\\Item('cake', 4));\n"
        "echo $cart->total(), ' ', helper(), \"\\n\";\n"
        "var_dump(class_exists('App\\Nope'), file_exists(__DIR__ . '/src/App/Nope.php'),\n"
        "         is_dir(__DIR__ . '/src/App/Model'), is_file(__DIR__ . '/lib/helpers.php'),\n"
        "         file_exists(__DIR__ . '/no/such/dir/x.php'));\n"
        "$names = scandir(__DIR__ . '/src/App');\n"
        "echo implode(' ', $names), \"\\n\";\n"
        "echo str_replace(__DIR__, 'DIR', realpath(__DIR__ . '/src/App/../App/Cart.php')), \"\\n\";\n"
        "echo str_replace(__DIR__, 'DIR', implode(' ', get_included_files())), \"\\n\";\n",
        "lib/helpers.php", "<?php\nfunction helper() { return 'helped'; }\n",
        "src/App/Cart.php",
        "<?php\nnamespace App;\nclass Cart {\n    private $items;\n"
        "    function __construct(...$items) { $this->items = $items; }\n"
        "    function total() { $t = 0; foreach ($this->items as $i) $t += $i->price; return $t; }\n"
        "}\n",
        "src/App/Model/Item.php",
        "<?php\nnamespace App\\Model;\nclass Item {\n"
        "    function __construct(public $name, public $price) {}\n}\n",
        NULL};
    write_tree(base, files);
    const char *ipath = h_fmt("include_path=.:%s/vendor-missing:%s/lib", base, base);
    program_parity(f, base, H_ARGV("php", "-n", "-d", ipath, "main.php"),
                   "php including a code base", true);
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parity, setup_parity, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_parity_as_nobody, setup_parity_nobody,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_created_through_shim, setup_shim_only,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_create_below_absent_name, setup_shim_only,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_created_by_other_calls, setup_shim_only,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_created_behind_cache, setup_behind, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_negative_bound_long_revalidate,
                                        setup_long_revalidate, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_symlink_target_replaced, setup_parity,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_change_through_symlinked_name, setup_shim_only,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_change_through_final_symlink, setup_shim_only,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_link_old_name, setup_shim_only, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_noexec_mount, setup_parity, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_enotdir_answered, setup_parity, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_access_refused_arguments, setup_shim_only,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_access_real_ids, setup_shim_only, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_syscall_miss_as_asked, setup_shim_only,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_python_imports, setup_parity, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_node_requires, setup_parity, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_php_includes, setup_parity, h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: metadata from the tier", tests, group_setup,
                                       h_group_teardown);
}
