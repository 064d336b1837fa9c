/* test_proto.c - the socket messages (tier/proto.c) and the index hash
 * (tier/hash.c).
 *
 * Miss datagrams and control requests come from other processes: the
 * parsers must refuse anything that is not exactly well formed. The hash
 * places every path in the index; shims and shmd must agree on it, it must
 * depend on the seed, and it must never read past the bytes it is given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tier/hash.h"
#include "tier/path.h"
#include "tier/proto.h"

/* ---- proto_miss_parse ------------------------------------------------------ */

static int miss(const char *buf, size_t n, char *key, size_t *len)
{
    memset(key, 0x77, PATH_KEY_SIZE);
    *len = 12345;
    return proto_miss_parse(buf, n, key, len);
}

static void miss_ok(const char *path)
{
    char buf[TIER_PATH_MAX + 16];
    char key[PATH_KEY_SIZE];
    size_t len;
    size_t n = strlen(path);

    for (int meta = 0; meta < 2; meta++) {
        memcpy(buf, meta ? "stat " : "miss ", 5);
        memcpy(buf + 5, path, n);
        if (miss(buf, 5 + n, key, &len) != meta)
            fail_msg("\"%.5s%s\" refused or misread", buf, path);
        assert_int_equal(len, n);
        assert_memory_equal(key, path, n);
        /* NUL and zero padding, as path_normalize leaves a key */
        size_t end = (n + 8) & ~(size_t)7;
        for (size_t i = n; i < end; i++)
            assert_int_equal(key[i], 0);
    }
}

static void miss_bad_n(const char *buf, size_t n)
{
    char key[PATH_KEY_SIZE];
    size_t len;
    if (miss(buf, n, key, &len) != -1)
        fail_msg("datagram \"%.*s\" (%zu bytes) accepted", (int)n, buf, n);
}

static void miss_bad(const char *s)
{
    miss_bad_n(s, strlen(s));
}

static void test_miss_accepts(void **state)
{
    (void)state;
    miss_ok("/a/b");
    miss_ok("/a");
    miss_ok("/srv/app/static/a.css");
    miss_ok("/a/.../b");
    miss_ok("/a/..b/.c");
    miss_ok("/with space/and\ttab");
    miss_ok("/1234567");  /* path + NUL exactly one word */
    miss_ok("/12345678"); /* one byte more */
    miss_ok("/a\n");       /* a newline is part of the name, not stripped */

    /* the datagram is not NUL-terminated: only n bytes are read */
    char buf[32] = "miss /a/bXXXXXXXX";
    char key[PATH_KEY_SIZE];
    size_t len;
    assert_int_equal(miss(buf, 9, key, &len), 0);
    assert_int_equal(len, 4);
    assert_string_equal(key, "/a/b");
}

static void test_miss_refuses(void **state)
{
    (void)state;
    miss_bad_n("", 0);
    miss_bad("miss");
    miss_bad("miss ");          /* tag only */
    miss_bad("/a/b");           /* no tag */
    miss_bad("MISS /a/b");
    miss_bad("stat ");          /* the metadata tag only */
    miss_bad("stat a/b");       /* relative */
    miss_bad("stax /a/b");
    miss_bad("miss  /a/b");     /* two spaces: relative after the tag */
    miss_bad("missx/a/b");
    miss_bad("hit /a/b");
    miss_bad("miss a/b");       /* relative */
    miss_bad("miss ./a");
    miss_bad("miss //a");
    miss_bad("miss /a//b");
    miss_bad("miss /a/./b");
    miss_bad("miss /./a");
    miss_bad("miss /a/.");
    miss_bad("miss /a/../b");
    miss_bad("miss /..");
    miss_bad("miss /a/..");
    miss_bad("miss /a/b/");     /* trailing slash: a directory */
    miss_bad("miss /");         /* the root is a directory */

    /* an embedded NUL anywhere in the path */
    miss_bad_n("miss /a\0b", 9);
    miss_bad_n("miss /ab\0", 9);
    miss_bad_n("miss \0/ab", 9);
}

static void test_miss_length(void **state)
{
    (void)state;
    static char buf[TIER_PATH_MAX + 64];
    char key[PATH_KEY_SIZE];
    size_t len;

    memcpy(buf, "miss /", 6);
    /* the longest path: TIER_PATH_MAX - 1 bytes */
    memset(buf + 6, 'a', TIER_PATH_MAX - 2);
    assert_int_equal(miss(buf, 5 + TIER_PATH_MAX - 1, key, &len), 0);
    assert_int_equal(len, TIER_PATH_MAX - 1);
    assert_int_equal(key[TIER_PATH_MAX - 1], 0);
    /* one more byte, and far more: refused */
    memset(buf + 6, 'a', TIER_PATH_MAX + 10);
    miss_bad_n(buf, 5 + TIER_PATH_MAX);
    miss_bad_n(buf, 5 + TIER_PATH_MAX + 10);
}

/* ---- proto_next_word -------------------------------------------------------- */

static void test_next_word(void **state)
{
    (void)state;
    static const char req[] = "warm\0/a/b\0/c\0"; /* sizeof includes the final NUL */
    size_t n = sizeof req - 1;                    /* 13 bytes, ends with NUL */
    size_t pos = 0;
    int bad = -1;

    const char *w = proto_next_word(req, n, &pos, &bad);
    assert_non_null(w);
    assert_string_equal(w, "warm");
    assert_int_equal(bad, 0);
    w = proto_next_word(req, n, &pos, &bad);
    assert_string_equal(w, "/a/b");
    w = proto_next_word(req, n, &pos, &bad);
    assert_string_equal(w, "/c");
    assert_int_equal(pos, n);
    assert_null(proto_next_word(req, n, &pos, &bad));
    assert_int_equal(bad, 0);
    assert_null(proto_next_word(req, n, &pos, &bad)); /* stays at the end */
    assert_int_equal(bad, 0);

    /* one word */
    pos = 0;
    w = proto_next_word("stats", 6, &pos, &bad);
    assert_string_equal(w, "stats");
    assert_null(proto_next_word("stats", 6, &pos, &bad));
    assert_int_equal(bad, 0);

    /* empty request: no words, not malformed */
    pos = 0;
    bad = -1;
    assert_null(proto_next_word("", 0, &pos, &bad));
    assert_int_equal(bad, 0);

    /* empty words between NULs are words */
    pos = 0;
    assert_string_equal(proto_next_word("a\0\0b\0", 5, &pos, &bad), "a");
    assert_string_equal(proto_next_word("a\0\0b\0", 5, &pos, &bad), "");
    assert_string_equal(proto_next_word("a\0\0b\0", 5, &pos, &bad), "b");
    assert_null(proto_next_word("a\0\0b\0", 5, &pos, &bad));
}

static void test_next_word_unterminated(void **state)
{
    (void)state;
    size_t pos = 0;
    int bad = 0;

    /* a request not ending in NUL is malformed, from the first call */
    assert_null(proto_next_word("stats", 5, &pos, &bad));
    assert_int_equal(bad, 1);
    pos = 0;
    bad = 0;
    assert_null(proto_next_word("warm\0/a", 7, &pos, &bad));
    assert_int_equal(bad, 1);

    /* a word never runs past n: the last word ends at the last NUL even
     * when the buffer goes on */
    static const char longer[] = "evict\0/x\0JUNK";
    pos = 0;
    assert_string_equal(proto_next_word(longer, 9, &pos, &bad), "evict");
    assert_int_equal(bad, 0);
    assert_string_equal(proto_next_word(longer, 9, &pos, &bad), "/x");
    assert_null(proto_next_word(longer, 9, &pos, &bad));
    assert_int_equal(bad, 0);
}

/* ---- tier_hash ----------------------------------------------------------------- */

static void test_hash_deterministic(void **state)
{
    (void)state;
    const char *p = "/srv/app/static/a.css";
    size_t n = strlen(p);
    char copy[64];

    uint64_t h = tier_hash(42, p, n);
    assert_true(h == tier_hash(42, p, n));
    /* depends on the bytes, not on where they are (alignment) */
    for (size_t off = 0; off < 8; off++) {
        memcpy(copy + off, p, n);
        assert_true(tier_hash(42, copy + off, n) == h);
    }
    /* the seed changes the value */
    assert_true(tier_hash(43, p, n) != h);
    assert_true(tier_hash(0, p, n) != h);
    assert_true(tier_hash(0, p, n) != tier_hash(1ULL << 63, p, n));
    assert_true(tier_hash(0, "", 0) != tier_hash(1, "", 0));
    /* a one-bit change of the input changes it */
    memcpy(copy, p, n);
    copy[n - 1] ^= 1;
    assert_true(tier_hash(42, copy, n) != h);

    /* pinned values: a shim and a daemon from different builds share the
     * index, so the function itself is part of the ABI */
    assert_true(tier_hash(0x0123456789abcdefULL, "/a", 2) == 0x807bd79d1dc12e3bULL);
    assert_true(tier_hash(0x0123456789abcdefULL, "/srv/app/static/a.css", 21) ==
                0xd69d0b449ff2b4e8ULL);
}

static void test_hash_lengths(void **state)
{
    (void)state;
    unsigned char buf[64];
    uint64_t h[41];

    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= 40; n++)
        h[n] = tier_hash(7, buf, n);
    for (size_t a = 0; a <= 40; a++)
        for (size_t b = a + 1; b <= 40; b++)
            if (h[a] == h[b])
                fail_msg("tier_hash of %zu and %zu bytes collide", a, b);

    /* zero bytes of different lengths too (a zero-padded key) */
    memset(buf, 0, sizeof buf);
    for (size_t n = 0; n <= 40; n++)
        h[n] = tier_hash(7, buf, n);
    for (size_t a = 0; a <= 40; a++)
        for (size_t b = a + 1; b <= 40; b++)
            if (h[a] == h[b])
                fail_msg("tier_hash of %zu and %zu zero bytes collide", a, b);

    /* the low bits (the home slot) spread: 4096 paths over 256 buckets */
    unsigned count[256] = {0};
    for (unsigned i = 0; i < 4096; i++) {
        char p[32];
        int n = snprintf(p, sizeof p, "/srv/app/file%u.css", i);
        count[tier_hash(99, p, (size_t)n) & 255]++;
    }
    for (unsigned i = 0; i < 256; i++)
        assert_true(count[i] > 0 && count[i] < 48); /* mean 16 */
}

/* tier_hash reads exactly n bytes: a buffer that ends at a page followed by
 * an inaccessible page must hash without faulting, for every length. */
static void test_hash_reads_only_n(void **state)
{
    (void)state;
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    assert_true(m != MAP_FAILED);
    assert_int_equal(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
    unsigned char *end = m + pg;
    for (size_t i = 0; i < 64; i++)
        end[-1 - (long)i] = (unsigned char)(0xa0 + i);
    for (size_t n = 0; n <= 64; n++) {
        uint64_t h = tier_hash(5, end - n, n);
        /* same value as the same bytes elsewhere */
        unsigned char copy[64];
        memcpy(copy, end - n, n);
        assert_true(h == tier_hash(5, copy, n));
    }
    /* a key exactly as long as the longest path */
    memset(end - (TIER_PATH_MAX - 1), 'k', TIER_PATH_MAX - 1);
    (void)tier_hash(5, end - (TIER_PATH_MAX - 1), TIER_PATH_MAX - 1);
    munmap(m, (size_t)pg * 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_miss_accepts),
        cmocka_unit_test(test_miss_refuses),
        cmocka_unit_test(test_miss_length),
        cmocka_unit_test(test_next_word),
        cmocka_unit_test(test_next_word_unterminated),
        cmocka_unit_test(test_hash_deterministic),
        cmocka_unit_test(test_hash_lengths),
        cmocka_unit_test(test_hash_reads_only_n),
    };
    return cmocka_run_group_tests_name("proto and hash", tests, NULL, NULL);
}
