/* test_path.c - lexical normalisation and prefix matching (tier/path.c).
 *
 * These functions decide which opens the shim may serve and build the keys
 * of the index: a path normalised two ways, or a prefix matched on a string
 * boundary instead of a directory boundary, would serve the wrong file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "tier/path.h"

/* Normalise and compare; checks the returned length and the zero padding
 * after the NUL up to the next multiple of 8. */
static void check_norm(const char *a, const char *b, bool trailing, const char *want)
{
    char out[PATH_KEY_SIZE];

    memset(out, 'x', sizeof out);
    int n = path_normalize(a, b, trailing, out, sizeof out);
    if (!want) {
        if (n != -1)
            fail_msg("path_normalize(\"%s\", %s%s%s) = %d \"%s\", expected -1", a,
                     b ? "\"" : "", b ? b : "NULL", b ? "\"" : "", n, out);
        return;
    }
    if (n < 0)
        fail_msg("path_normalize(\"%s\", %s) refused, expected \"%s\"", a, b ? b : "NULL", want);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    size_t end = ((size_t)n + 8) & ~(size_t)7;
    for (size_t i = (size_t)n; i < end; i++)
        assert_int_equal(out[i], 0);
    assert_true(path_is_normal(out));
}

static void test_normalize_absolute(void **state)
{
    (void)state;
    check_norm("/a/b/c", NULL, false, "/a/b/c");
    check_norm("/a", NULL, false, "/a");
    check_norm("//a//b///c", NULL, false, "/a/b/c");
    check_norm("/./a/./b/.//c", NULL, false, "/a/b/c");
    check_norm("/srv/app/static/a.css", NULL, false, "/srv/app/static/a.css");
    /* names that only look like dots are ordinary names */
    check_norm("/a/.../b", NULL, false, "/a/.../b");
    check_norm("/a/..b/.c/c.", NULL, false, "/a/..b/.c/c.");
    check_norm("/.hidden", NULL, false, "/.hidden");
    /* relative or empty input is not a key */
    check_norm("a/b", NULL, false, NULL);
    check_norm("", NULL, false, NULL);
    check_norm("./a", NULL, false, NULL);
}

static void test_normalize_trailing(void **state)
{
    (void)state;
    /* a directory name syntactically: refused unless allowed */
    check_norm("/a/b/", NULL, false, NULL);
    check_norm("/a/b//", NULL, false, NULL);
    check_norm("/a/b/.", NULL, false, NULL);
    check_norm("/a/b/./", NULL, false, NULL);
    check_norm("/a/b/", NULL, true, "/a/b");
    check_norm("/a/b/.", NULL, true, "/a/b");
    check_norm("/a/b/./", NULL, true, "/a/b");
    /* the root */
    check_norm("/", NULL, true, "/");
    check_norm("//", NULL, true, "/");
    check_norm("/.", NULL, true, "/");
    check_norm("/./", NULL, true, "/");
    check_norm("/", NULL, false, NULL);
    check_norm("/.", NULL, false, NULL);
}

static void test_normalize_dotdot(void **state)
{
    (void)state;
    check_norm("/..", NULL, true, NULL);
    check_norm("/a/..", NULL, true, NULL);
    check_norm("/a/../b", NULL, false, NULL);
    check_norm("/../a", NULL, false, NULL);
    check_norm("/a/b/..", NULL, true, NULL);
    check_norm("/a/b/../", NULL, true, NULL);
    check_norm("/cwd", "../x", false, NULL);
    check_norm("/cwd", "x/..", true, NULL);
    check_norm("/cwd/..", "x", false, NULL);
    check_norm("/cwd", "x/../y", false, NULL);
}

static void test_normalize_join(void **state)
{
    (void)state;
    check_norm("/home/u", "a/b", false, "/home/u/a/b");
    check_norm("/home/u", "./a//b", false, "/home/u/a/b");
    check_norm("/home/u/", "a", false, "/home/u/a");
    check_norm("/home//u/.", "a", false, "/home/u/a");
    check_norm("/", "a", false, "/a");
    check_norm("/", ".", true, "/");
    check_norm("/home/u", ".", true, "/home/u");
    /* the trailing rule applies to b, not to the directory a */
    check_norm("/home/u/", "a/", false, NULL);
    check_norm("/home/u", "a/.", false, NULL);
    check_norm("/home/u", "a/", true, "/home/u/a");
    /* an empty relative part names nothing */
    check_norm("/home/u", "", false, NULL);
    check_norm("/home/u", "", true, NULL);
    /* the directory must be absolute */
    check_norm("home/u", "a", false, NULL);
}

static void test_normalize_overflow(void **state)
{
    (void)state;
    static char in[3 * TIER_PATH_MAX];
    char out[PATH_KEY_SIZE];

    /* the longest key is TIER_PATH_MAX - 1 bytes, as with PATH_MAX */
    in[0] = '/';
    memset(in + 1, 'a', TIER_PATH_MAX - 2);
    in[TIER_PATH_MAX - 1] = '\0';
    assert_int_equal(path_normalize(in, NULL, false, out, sizeof out), TIER_PATH_MAX - 1);
    assert_memory_equal(out, in, TIER_PATH_MAX);
    assert_int_equal(out[TIER_PATH_MAX - 1], 0); /* NUL ends a whole word */

    /* one more byte does not fit */
    memset(in + 1, 'a', TIER_PATH_MAX - 1);
    in[TIER_PATH_MAX] = '\0';
    assert_int_equal(path_normalize(in, NULL, false, out, sizeof out), -1);

    /* a long raw path that normalises short enough is fine */
    memset(in, '/', 2 * TIER_PATH_MAX);
    strcpy(in + 2 * TIER_PATH_MAX, "x");
    assert_int_equal(path_normalize(in, NULL, false, out, sizeof out), 2);
    assert_string_equal(out, "/x");

    /* a join that only overflows because of the relative part */
    char dir[TIER_PATH_MAX];
    dir[0] = '/';
    memset(dir + 1, 'd', TIER_PATH_MAX - 12);
    dir[TIER_PATH_MAX - 11] = '\0'; /* length 4085 */
    assert_int_equal(path_normalize(dir, "123456789", false, out, sizeof out), 4095);
    assert_int_equal(path_normalize(dir, "1234567890", false, out, sizeof out), -1);

    /* small output buffers: padding must fit, never write past outsz */
    char small[32];
    memset(small, 'x', sizeof small);
    assert_int_equal(path_normalize("/abcdefghijklmnopqrstuvwxyz", NULL, false, small, 24), -1);
    for (size_t i = 24; i < sizeof small; i++)
        assert_int_equal(small[i], 'x');
    memset(small, 'x', sizeof small);
    assert_int_equal(path_normalize("/abcdefghijklmn", NULL, false, small, 24), 15);
    assert_string_equal(small, "/abcdefghijklmn");
    for (size_t i = 24; i < sizeof small; i++)
        assert_int_equal(small[i], 'x');
    assert_int_equal(path_normalize("/a", NULL, false, small, 15), -1);
}

static void test_normalize_padding(void **state)
{
    (void)state;
    char out[PATH_KEY_SIZE];
    char path[64];

    /* every length modulo 8: NUL then zeros up to the next multiple of 8 */
    for (size_t len = 2; len < 30; len++) {
        path[0] = '/';
        memset(path + 1, 'q', len - 1);
        path[len] = '\0';
        memset(out, 0x55, sizeof out);
        assert_int_equal(path_normalize(path, NULL, false, out, sizeof out), len);
        size_t end = (len + 8) & ~(size_t)7;
        assert_true(end > len && end % 8 == 0 && end - len <= 8);
        for (size_t i = len; i < end; i++)
            assert_int_equal(out[i], 0);
        /* normalising the same path twice gives the same key bytes */
        char again[PATH_KEY_SIZE];
        memset(again, 0x66, sizeof again);
        assert_int_equal(path_normalize(path, NULL, false, again, sizeof again), len);
        assert_memory_equal(out, again, end);
    }
}

static void test_is_normal(void **state)
{
    (void)state;
    assert_true(path_is_normal("/"));
    assert_true(path_is_normal("/a"));
    assert_true(path_is_normal("/a/b.c/d"));
    assert_true(path_is_normal("/a/.../b"));
    assert_true(path_is_normal("/a/..b"));
    assert_true(path_is_normal("/.a"));
    assert_false(path_is_normal(""));
    assert_false(path_is_normal("a/b"));
    assert_false(path_is_normal("//"));
    assert_false(path_is_normal("//a"));
    assert_false(path_is_normal("/a//b"));
    assert_false(path_is_normal("/a/"));
    assert_false(path_is_normal("/a/./b"));
    assert_false(path_is_normal("/a/."));
    assert_false(path_is_normal("/."));
    assert_false(path_is_normal("/a/../b"));
    assert_false(path_is_normal("/a/.."));
    assert_false(path_is_normal("/.."));
}

static void check_prefixes(const struct path_prefixes *pp, unsigned n, const char *const *want)
{
    assert_int_equal(pp->count, n);
    for (unsigned i = 0; i < n; i++) {
        const char *p = pp->buf + pp->off[i];
        assert_string_equal(p, want[i]);
        assert_int_equal(pp->len[i], strlen(want[i]));
    }
}

static void test_prefixes_parse(void **state)
{
    (void)state;
    struct path_prefixes pp;
    char err[256];

    err[0] = '\0';
    assert_int_equal(path_prefixes_parse("/srv/app/static:/srv/app/templates", &pp, err, sizeof err), 0);
    check_prefixes(&pp, 2, (const char *const[]){"/srv/app/static", "/srv/app/templates"});
    assert_string_equal(err, "");

    /* empty entries skipped; trailing slash, "//" and "/./" normalised */
    assert_int_equal(path_prefixes_parse("::/a/::/b//c/./d/.::", &pp, err, sizeof err), 0);
    check_prefixes(&pp, 2, (const char *const[]){"/a", "/b/c/d"});
    assert_int_equal(path_prefixes_parse("", &pp, err, sizeof err), 0);
    assert_int_equal(pp.count, 0);
    assert_int_equal(path_prefixes_parse(":::", &pp, err, sizeof err), 0);
    assert_int_equal(pp.count, 0);
    assert_int_equal(path_prefixes_parse(NULL, &pp, err, sizeof err), 0);
    assert_int_equal(pp.count, 0);

    /* the root is a valid prefix */
    assert_int_equal(path_prefixes_parse("/", &pp, err, sizeof err), 0);
    check_prefixes(&pp, 1, (const char *const[]){"/"});
    assert_int_equal(path_prefixes_parse("//", &pp, err, sizeof err), 0);
    check_prefixes(&pp, 1, (const char *const[]){"/"});
}

static void test_prefixes_parse_errors(void **state)
{
    (void)state;
    struct path_prefixes pp;
    char err[256];

    /* a relative entry: error naming it, and nothing half-parsed kept */
    err[0] = '\0';
    assert_int_equal(path_prefixes_parse("/ok:srv/app", &pp, err, sizeof err), -1);
    assert_int_equal(pp.count, 0);
    assert_non_null(strstr(err, "srv/app"));
    assert_non_null(strstr(err, "absolute"));
    assert_null(strchr(err, '\n'));

    err[0] = '\0';
    assert_int_equal(path_prefixes_parse("./x", &pp, err, sizeof err), -1);
    assert_int_equal(pp.count, 0);
    assert_true(strlen(err) > 0);

    err[0] = '\0';
    assert_int_equal(path_prefixes_parse("/srv/../etc", &pp, err, sizeof err), -1);
    assert_int_equal(pp.count, 0);
    assert_non_null(strstr(err, "/srv/../etc"));
    assert_non_null(strstr(err, ".."));

    err[0] = '\0';
    assert_int_equal(path_prefixes_parse("/a:/b/..", &pp, err, sizeof err), -1);
    assert_int_equal(pp.count, 0);
    assert_true(strlen(err) > 0);

    /* 16 prefixes are fine, 17 are not */
    char list[400] = "";
    for (int i = 0; i < 16; i++) {
        char one[16];
        snprintf(one, sizeof one, "%s/p%d", i ? ":" : "", i);
        strcat(list, one);
    }
    assert_int_equal(path_prefixes_parse(list, &pp, err, sizeof err), 0);
    assert_int_equal(pp.count, 16);
    assert_string_equal(pp.buf + pp.off[15], "/p15");
    strcat(list, ":/p16");
    err[0] = '\0';
    assert_int_equal(path_prefixes_parse(list, &pp, err, sizeof err), -1);
    assert_int_equal(pp.count, 0);
    assert_non_null(strstr(err, "16"));
    /* empty entries do not count towards the limit */
    char list2[420] = ":::";
    for (int i = 0; i < 16; i++) {
        char one[16];
        snprintf(one, sizeof one, "/q%d::", i);
        strcat(list2, one);
    }
    assert_int_equal(path_prefixes_parse(list2, &pp, err, sizeof err), 0);
    assert_int_equal(pp.count, 16);

    /* an entry too long for a path */
    static char big[TIER_PATH_MAX + 16];
    big[0] = '/';
    memset(big + 1, 'l', TIER_PATH_MAX + 2);
    big[TIER_PATH_MAX + 3] = '\0';
    err[0] = '\0';
    assert_int_equal(path_prefixes_parse(big, &pp, err, sizeof err), -1);
    assert_int_equal(pp.count, 0);
    assert_true(strlen(err) > 0 && strlen(err) < 300);

    /* err may be NULL */
    assert_int_equal(path_prefixes_parse("rel", &pp, NULL, 0), -1);
    assert_int_equal(pp.count, 0);
}

static void parse_ok(struct path_prefixes *pp, const char *list)
{
    char err[256];
    if (path_prefixes_parse(list, pp, err, sizeof err) != 0)
        fail_msg("path_prefixes_parse(\"%s\"): %s", list, err);
}

static bool match(const struct path_prefixes *pp, const char *p)
{
    return path_prefixes_match(pp, p, strlen(p));
}

static void test_prefixes_match(void **state)
{
    (void)state;
    struct path_prefixes pp;

    parse_ok(&pp, "/srv/a:/data/x/");
    assert_true(match(&pp, "/srv/a"));       /* the prefix itself */
    assert_true(match(&pp, "/srv/a/f"));
    assert_true(match(&pp, "/srv/a/b/c/d"));
    assert_true(match(&pp, "/data/x/y"));
    assert_true(match(&pp, "/data/x"));
    /* a string prefix is not a directory prefix */
    assert_false(match(&pp, "/srv/ab/x"));
    assert_false(match(&pp, "/srv/ab"));
    assert_false(match(&pp, "/srv/a.txt"));
    assert_false(match(&pp, "/data/xy"));
    assert_false(match(&pp, "/srv"));
    assert_false(match(&pp, "/"));
    assert_false(match(&pp, "/etc/passwd"));
    assert_false(match(&pp, "/srvx/a/b"));

    /* the root prefix covers every absolute path */
    parse_ok(&pp, "/");
    assert_true(match(&pp, "/"));
    assert_true(match(&pp, "/etc/passwd"));
    assert_true(match(&pp, "/a"));

    /* no prefixes: nothing matches */
    parse_ok(&pp, "");
    assert_false(match(&pp, "/a"));
    assert_false(match(&pp, "/"));
}

/* The byte-at-a-time meaning of path_prefixes_match_raw, to check the
 * word-at-a-time one against. */
static int match_raw_bytes(const struct path_prefixes *pp, const char *p)
{
    int r = 0;
    for (unsigned k = 0; k < pp->count; k++) {
        const char *d = pp->buf + pp->off[k];
        size_t dn = pp->len[k], i = 0;
        while (i < dn && p[i] == d[i])
            i++;
        if (i == dn) {
            if (dn == 1 || p[i] == '/' || p[i] == '\0')
                return 1;
        } else if (i > 0 && p[i - 1] == '/' && (p[i] == '/' || p[i] == '.')) {
            r = -1;
        }
    }
    return r;
}

/* Every alignment of the path, strings that end anywhere relative to the
 * prefixes (shorter, equal, diverging in the first word, in the last one,
 * at a "/" or "."), the last byte of the string at the end of a page
 * followed by one that cannot be read: the words never reach it. */
static void test_prefixes_match_raw_words(void **state)
{
    (void)state;
    struct path_prefixes pp;
    static const char *const lists[] = {"/srv/app/static", "/a", "/srv/app/static:/data/x/y/z/w",
                                        "/", "/abcdefgh/ijklmnop"};
    static const char *const paths[] = {
        "/srv/app/static", "/srv/app/static/f", "/srv/app/stati", "/srv/app/staticx",
        "/srv/app//static", "/srv/app/./static", "/srv/ap", "/", "/a", "/a/", "/ab", "//a",
        "/data/x/y/z/w/q", "/data/x/y/z/", "/abcdefgh/ijklmnop", "/abcdefgh/ijklmnoq",
        "/abcdefgh", "/abcdefgh/ijklmnop/.", "", "/srv/app/static/" "a-long-enough-name.css"};
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(mprotect(m + page, (size_t)page, PROT_NONE), 0);
    char buf[128];

    for (size_t l = 0; l < sizeof lists / sizeof *lists; l++) {
        parse_ok(&pp, lists[l]);
        for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
            size_t n = strlen(paths[i]);
            for (size_t a = 0; a < 16; a++) {
                memcpy(buf + a, paths[i], n + 1);
                assert_int_equal(path_prefixes_match_raw(&pp, buf + a), match_raw_bytes(&pp, buf + a));
            }
            /* the NUL is the page's last byte */
            char *q = m + page - (long)(n + 1);
            memcpy(q, paths[i], n + 1);
            assert_int_equal(path_prefixes_match_raw(&pp, q), match_raw_bytes(&pp, q));
        }
    }
    munmap(m, (size_t)page * 2);
}

static void test_prefixes_match_raw(void **state)
{
    (void)state;
    struct path_prefixes pp;

    parse_ok(&pp, "/srv/a");
    /* under the prefix as written */
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv/a/x"), 1);
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv/a"), 1);
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv/a/"), 1);
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv/a//x"), 1);
    /* cannot be under it even once normalised */
    assert_int_equal(path_prefixes_match_raw(&pp, "/etc/x"), 0);
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv/ab/x"), 0);
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv/ab"), 0);
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv/b/x"), 0);
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv"), 0);
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv/a.x"), 0);
    assert_int_equal(path_prefixes_match_raw(&pp, "/"), 0);
    /* only normalising can tell */
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv//a/x"), -1);
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv/./a/x"), -1);
    assert_int_equal(path_prefixes_match_raw(&pp, "//srv/a/x"), -1);
    assert_int_equal(path_prefixes_match_raw(&pp, "/./srv/a/x"), -1);
    /* and a -1 must never hide a real 0/1 answer: check against the
     * normalised form for all of them */
    static const char *const raw[] = {"/srv//a/x", "/srv/./a/x", "//srv/a/x", "/./srv/a/x",
                                      "/srv/a/x", "/srv/ab/x", "/etc/x", "/srv/a/./x"};
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        char key[PATH_KEY_SIZE];
        int n = path_normalize(raw[i], NULL, false, key, sizeof key);
        assert_true(n > 0);
        int r = path_prefixes_match_raw(&pp, raw[i]);
        bool under = path_prefixes_match(&pp, key, (size_t)n);
        if (r == 1 && !under)
            fail_msg("%s: raw 1 but not under once normalised", raw[i]);
        if (r == 0 && under)
            fail_msg("%s: raw 0 but under once normalised", raw[i]);
    }

    /* several prefixes: 1 wins over -1, -1 over 0 */
    parse_ok(&pp, "/x/y:/srv/a");
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv/a/f"), 1);
    assert_int_equal(path_prefixes_match_raw(&pp, "/x/y/f"), 1);
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv//a/f"), -1);
    assert_int_equal(path_prefixes_match_raw(&pp, "/q"), 0);

    /* the root prefix */
    parse_ok(&pp, "/");
    assert_int_equal(path_prefixes_match_raw(&pp, "/etc/x"), 1);
    assert_int_equal(path_prefixes_match_raw(&pp, "//etc/x"), 1);

    /* no prefixes */
    parse_ok(&pp, "");
    assert_int_equal(path_prefixes_match_raw(&pp, "/srv/a/x"), 0);
}

static bool below(const struct path_prefixes *pp, const char *p)
{
    return path_prefixes_below(pp, p, strlen(p));
}

static void test_prefixes_below(void **state)
{
    (void)state;
    struct path_prefixes pp;

    parse_ok(&pp, "/srv/app/static:/data");
    /* proper ancestors of a prefix: a rename of them moves the tree */
    assert_true(below(&pp, "/"));
    assert_true(below(&pp, "/srv"));
    assert_true(below(&pp, "/srv/app"));
    /* the prefix itself, things below it and unrelated paths are not */
    assert_false(below(&pp, "/srv/app/static"));
    assert_false(below(&pp, "/srv/app/static/x"));
    assert_false(below(&pp, "/data"));
    assert_false(below(&pp, "/etc"));
    /* string prefix, not a directory prefix */
    assert_false(below(&pp, "/sr"));
    assert_false(below(&pp, "/srv/ap"));
    assert_false(below(&pp, "/srv/app/stat"));
    assert_false(below(&pp, "/da"));

    parse_ok(&pp, "/");
    assert_false(below(&pp, "/"));
    assert_false(below(&pp, "/a"));
}

static bool under(const char *p, const char *d)
{
    return path_is_under(p, strlen(p), d, strlen(d));
}

static void test_is_under(void **state)
{
    (void)state;
    assert_true(under("/a/b", "/a"));
    assert_true(under("/a/b/c", "/a/b"));
    assert_true(under("/a", "/a"));
    assert_true(under("/a", "/"));
    assert_true(under("/", "/"));
    assert_false(under("/ab", "/a"));
    assert_false(under("/a", "/a/b"));
    assert_false(under("/b/a", "/a"));
    assert_false(under("/", "/a"));
    /* lengths are honoured, not NULs: a longer buffer cut at n */
    const char *p = "/a/bc";
    assert_true(path_is_under(p, 4, "/a/b", 4));
    assert_false(path_is_under(p, 2, "/a/b", 4));
}

/* Hooks normalise in place (out == a) to keep one path buffer on the
 * stack: the result must equal the out-of-place one, for every shape. */
static void test_normalize_in_place(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "/a/b", "//a//b", "/./a/./b/.", "/a/b/", "///", "/", "/a/../b", "/x/./y//z",
        "/aaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb//ccc/./d",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        for (int trailing = 0; trailing < 2; trailing++) {
            char want[PATH_KEY_SIZE], buf[PATH_KEY_SIZE];
            int n1 = path_normalize(cases[i], NULL, trailing, want, sizeof want);
            strcpy(buf, cases[i]);
            int n2 = path_normalize(buf, NULL, trailing, buf, sizeof buf);
            assert_int_equal(n1, n2);
            if (n1 >= 0)
                assert_memory_equal(want, buf, (size_t)n1 + 1 + (7 - ((size_t)n1 + 1 + 7) % 8));
            /* and as the cwd of a relative path */
            n1 = path_normalize(cases[i], "x/./y", trailing, want, sizeof want);
            strcpy(buf, cases[i]);
            n2 = path_normalize(buf, "x/./y", trailing, buf, sizeof buf);
            assert_int_equal(n1, n2);
            if (n1 >= 0)
                assert_string_equal(want, buf);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_in_place),
        cmocka_unit_test(test_normalize_absolute),
        cmocka_unit_test(test_normalize_trailing),
        cmocka_unit_test(test_normalize_dotdot),
        cmocka_unit_test(test_normalize_join),
        cmocka_unit_test(test_normalize_overflow),
        cmocka_unit_test(test_normalize_padding),
        cmocka_unit_test(test_is_normal),
        cmocka_unit_test(test_prefixes_parse),
        cmocka_unit_test(test_prefixes_parse_errors),
        cmocka_unit_test(test_prefixes_match),
        cmocka_unit_test(test_prefixes_match_raw),
        cmocka_unit_test(test_prefixes_match_raw_words),
        cmocka_unit_test(test_prefixes_below),
        cmocka_unit_test(test_is_under),
    };
    return cmocka_run_group_tests_name("path", tests, NULL, NULL);
}
