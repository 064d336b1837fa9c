/* test_config.c - naming an instance, shared by shmd and the shim
 * (tier/config.c), sizes and counts (shmd/units.c), the shim's environment
 * (shim_config_parse, preload/config.c) and shmd's flags (shmd_parse_opts,
 * shmd/opts.c).
 *
 * The rules users rely on: sizes are integers with binary units, a refused
 * value says which setting it was, one warning line per bad environment
 * value, and a bad value never makes the shim less safe than asked
 * (unknown SHMCACHE_DISABLE disables, unknown SHMCACHE_VALIDATE validates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload/config.h"
#include "shmd/log.h"
#include "shmd/opts.h"
#include "shmd/units.h"
#include "tier/config.h"

/* ---- units_parse_size / config_parse_uint ------------------------------- */

static void size_ok(const char *s, uint64_t want)
{
    uint64_t v = 0xdeadbeef;
    if (units_parse_size(s, &v) != 0)
        fail_msg("units_parse_size(\"%s\") refused, want %llu", s, (unsigned long long)want);
    if (v != want)
        fail_msg("units_parse_size(\"%s\") = %llu, want %llu", s, (unsigned long long)v,
                 (unsigned long long)want);
}

static void size_bad(const char *s)
{
    uint64_t v = 0xdeadbeef;
    if (units_parse_size(s, &v) != -1)
        fail_msg("units_parse_size(\"%s\") accepted (%llu)", s, (unsigned long long)v);
    assert_true(v == 0xdeadbeef); /* untouched on failure */
}

/* well formed, beyond 2^64-1 bytes: "too large", not junk */
static void size_big(const char *s)
{
    uint64_t v = 0xdeadbeef;
    if (units_parse_size(s, &v) != -2)
        fail_msg("units_parse_size(\"%s\") is not \"too large\"", s);
    assert_true(v == 0xdeadbeef);
}

static void test_parse_size(void **state)
{
    (void)state;
    size_ok("0", 0);
    size_ok("512", 512);
    size_ok("64K", 64ULL << 10);
    size_ok("64k", 64ULL << 10);
    size_ok("64KiB", 64ULL << 10);
    size_ok("64KB", 64ULL << 10);
    size_ok("1M", 1ULL << 20);
    size_ok("512m", 512ULL << 20);
    size_ok("1G", 1ULL << 30);
    size_ok("4GiB", 4ULL << 30);
    size_ok("2T", 2ULL << 40);
    size_ok("16777215T", 16777215ULL << 40);
    size_ok("18446744073709551615", UINT64_MAX);
    size_ok("007", 7);

    size_bad("");
    size_bad(NULL);
    size_bad("-1");
    size_bad("+1");
    size_bad("1.5G");
    size_bad("12X");
    size_bad("G");
    size_bad("K");
    size_bad(" 1G");
    size_bad("1 G");
    size_bad("1G ");
    size_bad("1GG");
    size_bad("1Gi");
    size_bad("1GiBB");
    size_bad("1P"); /* no unit beyond T */
    size_big("99999999999999999999");
    size_big("18446744073709551616");
    size_big("16777216T");
    size_big("17179869184G");
    size_bad("0x10");
    size_big("99999999999G");
    size_big("123456789012345678901234567890123456789");
    size_bad("99999999999999999999X"); /* junk first, whatever its size */
}

static void age_is(uint64_t ms, const char *want)
{
    char b[32];
    assert_string_equal(units_format_age(ms, b, sizeof b), want);
}

static void test_format_age(void **state)
{
    (void)state;
    age_is(0, "0ms");
    age_is(999, "999ms");
    age_is(1000, "1.0s");
    age_is(4250, "4.2s");
    age_is(10000, "10s");
    age_is(59999, "59s");
    age_is(60000, "1m00s");
    age_is(312000, "5m12s");
    age_is(3600000, "1h00m");
    age_is(3 * 3600000 + 5 * 60000 + 59000, "3h05m");
    age_is(86400000, "1d00h");
    age_is(2 * 86400000ULL + 4 * 3600000, "2d04h");
}

static void uint_ok(const char *s, uint64_t max, uint64_t want)
{
    uint64_t v = 0xdeadbeef;
    if (config_parse_uint(s, max, &v) != 0 || v != want)
        fail_msg("config_parse_uint(\"%s\", %llu) = %llu, want %llu", s,
                 (unsigned long long)max, (unsigned long long)v, (unsigned long long)want);
}

static void uint_bad(const char *s, uint64_t max)
{
    uint64_t v = 0xdeadbeef;
    if (config_parse_uint(s, max, &v) != -1)
        fail_msg("config_parse_uint(\"%s\", max %llu) accepted %llu", s ? s : "NULL",
                 (unsigned long long)max, (unsigned long long)v);
}

static void test_parse_uint(void **state)
{
    (void)state;
    uint_ok("0", 10, 0);
    uint_ok("10", 10, 10);
    uint_ok("64", 64, 64);
    uint_ok("86400000", 86400000, 86400000);
    uint_ok("18446744073709551615", UINT64_MAX, UINT64_MAX);
    uint_bad("11", 10);
    uint_bad("65", 64);
    uint_bad("86400001", 86400000);
    uint_bad("18446744073709551616", UINT64_MAX);
    uint_bad("", 10);
    uint_bad(NULL, 10);
    uint_bad("-1", 10);
    uint_bad("+1", 10);
    uint_bad("1x", 10);
    uint_bad(" 1", 10);
    uint_bad("1 ", 10);
    uint_bad("1K", 1u << 20);
}

/* The bound holds for every max, including single-digit ones. */
static void test_parse_uint_small_max(void **state)
{
    (void)state;
    uint_ok("5", 5, 5);
    uint_ok("0", 0, 0);
    uint_bad("6", 5);
    uint_bad("9", 5);
    uint_bad("1", 0);
    uint_bad("12", 5);
}

static void test_name_valid(void **state)
{
    (void)state;
    char n[80];

    assert_true(config_name_valid("default"));
    assert_true(config_name_valid("a"));
    assert_true(config_name_valid("web-1.prod_A"));
    assert_true(config_name_valid("..."));
    assert_true(config_name_valid(".hidden"));
    memset(n, 'x', 64);
    n[64] = '\0';
    assert_true(config_name_valid(n));
    n[64] = 'x';
    n[65] = '\0';
    assert_false(config_name_valid(n));
    assert_false(config_name_valid(NULL));
    assert_false(config_name_valid(""));
    assert_false(config_name_valid("."));
    assert_false(config_name_valid(".."));
    assert_false(config_name_valid("a/b"));
    assert_false(config_name_valid("/a"));
    assert_false(config_name_valid("a b"));
    assert_false(config_name_valid("a:b"));
    assert_false(config_name_valid("caf\xc3\xa9"));
    assert_false(config_name_valid("a\n"));
}

static void test_instance_dir(void **state)
{
    (void)state;
    char out[TIER_PATH_MAX], err[300];

    assert_int_equal(config_instance_dir(NULL, NULL, 1000, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "/dev/shm/shmcache-1000-default");
    assert_int_equal(config_instance_dir("", "", 0, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "/dev/shm/shmcache-0-default");
    assert_int_equal(config_instance_dir("web", NULL, 4294967294u, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "/dev/shm/shmcache-4294967294-web");

    /* a bad name: error text names the variable and the rule */
    err[0] = '\0';
    assert_int_equal(config_instance_dir("../x", NULL, 1000, out, sizeof out, err, sizeof err), -1);
    assert_non_null(strstr(err, "SHMCACHE_NAME"));
    assert_non_null(strstr(err, "../x"));
    assert_non_null(strstr(err, "1-64"));
    assert_null(strchr(err, '\n'));

    /* SHMCACHE_DIR overrides the name, normalised */
    assert_int_equal(config_instance_dir("web", "/run/shm//mine/", 1000, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "/run/shm/mine");
    assert_int_equal(config_instance_dir("bad/name", "/x/y", 1000, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "/x/y");
    /* relative, "..", or the root: refused */
    static const char *const bad[] = {"rel/dir", "./x", "/a/../b", "/", "//", ".."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (config_instance_dir(NULL, bad[i], 1000, out, sizeof out, err, sizeof err) != -1)
            fail_msg("SHMCACHE_DIR=\"%s\" accepted as \"%s\"", bad[i], out);
        assert_non_null(strstr(err, "SHMCACHE_DIR"));
        assert_null(strchr(err, '\n'));
    }

    /* an output buffer too small is an error, not a truncated path */
    char small[20];
    err[0] = '\0';
    assert_int_equal(config_instance_dir("default", NULL, 1000, small, sizeof small, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    assert_int_equal(config_instance_dir(NULL, "/a/very/long/directory/name", 1000, small,
                                         sizeof small, err, sizeof err), -1);
}

/* ---- shim_config_parse ------------------------------------------------- */

static unsigned nwarn;
static char warned[8][600];

static void warn_cb(const char *msg)
{
    if (nwarn < 8)
        snprintf(warned[nwarn], sizeof warned[nwarn], "%s", msg);
    nwarn++;
}

static int reset_warnings(void **state)
{
    (void)state;
    nwarn = 0;
    memset(warned, 0, sizeof warned);
    return 0;
}

#define env shim_env

static void parse_env(struct shim_config *c, struct env e)
{
    nwarn = 0;
    memset(warned, 0, sizeof warned);
    memset(c, 0x5a, sizeof *c); /* everything must be set by the parser */
    shim_config_parse(c, &e, 1000, warn_cb);
    for (unsigned i = 0; i < nwarn && i < 8; i++) {
        assert_null(strchr(warned[i], '\n')); /* one line each */
        assert_true(strlen(warned[i]) > 0 && strlen(warned[i]) < 512);
    }
}

/* SHMCACHE_FLEET_WAIT_MS: unset or empty is the default; milliseconds up
 * to the maximum are taken; anything else warns once and never waits. */
static void test_shim_fleet_wait(void **state)
{
    (void)state;
    struct shim_config c;

    parse_env(&c, (struct env){.prefix = "/d"});
    assert_int_equal(c.fleet_wait_ms, SHIM_FLEET_WAIT_DEFAULT_MS);
    assert_int_equal(nwarn, 0);
    parse_env(&c, (struct env){.prefix = "/d", .fleet_wait = ""});
    assert_int_equal(c.fleet_wait_ms, SHIM_FLEET_WAIT_DEFAULT_MS);
    static const struct { const char *v; unsigned ms; } good[] = {
        {"0", 0}, {"1", 1}, {"250", 250}, {"0010", 10}, {"10000", SHIM_FLEET_WAIT_MAX_MS}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        parse_env(&c, (struct env){.prefix = "/d", .fleet_wait = good[i].v});
        assert_int_equal(c.fleet_wait_ms, good[i].ms);
        assert_int_equal(nwarn, 0);
        assert_true(c.enabled);
    }
    static const char *const bad[] = {"-1", "10001", "99999999999999999999", "5ms", " 5", "x",
                                      "1.5", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        parse_env(&c, (struct env){.prefix = "/d", .fleet_wait = bad[i]});
        assert_int_equal(c.fleet_wait_ms, 0);
        assert_int_equal(nwarn, 1);
        assert_non_null(strstr(warned[0], "SHMCACHE_FLEET_WAIT_MS"));
        assert_true(c.enabled); /* only that setting is inert */
    }
}

static void test_shim_unset(void **state)
{
    (void)state;
    struct shim_config c;

    parse_env(&c, (struct env){0});
    assert_false(c.enabled);
    assert_false(c.validate_open);
    assert_int_equal(c.log, SHIM_LOG_OFF);
    assert_int_equal(nwarn, 0);

    parse_env(&c, (struct env){.prefix = ""});
    assert_false(c.enabled);
    assert_int_equal(nwarn, 0);
    /* set, yet naming nothing: not silently inert (issue 12) */
    parse_env(&c, (struct env){.prefix = ":::"});
    assert_false(c.enabled);
    assert_int_equal(nwarn, 1);
}

static void test_shim_good_prefix(void **state)
{
    (void)state;
    struct shim_config c;

    parse_env(&c, (struct env){.prefix = "/srv/app/static:/srv/app/templates/"});
    assert_true(c.enabled);
    assert_int_equal(nwarn, 0);
    assert_string_equal(c.dir, "/dev/shm/shmcache-1000-default");
    assert_int_equal(c.prefixes.count, 2);
    assert_string_equal(c.prefixes.buf + c.prefixes.off[0], "/srv/app/static");
    assert_string_equal(c.prefixes.buf + c.prefixes.off[1], "/srv/app/templates");
    assert_false(c.validate_open);
    assert_int_equal(c.log, SHIM_LOG_OFF);

    parse_env(&c, (struct env){.prefix = "/d", .name = "web"});
    assert_true(c.enabled);
    assert_string_equal(c.dir, "/dev/shm/shmcache-1000-web");
    parse_env(&c, (struct env){.prefix = "/d", .name = "web", .dir = "/run/x/"});
    assert_true(c.enabled);
    assert_string_equal(c.dir, "/run/x");
    assert_int_equal(nwarn, 0);

    /* every accepted spelling, no warning */
    static const char *const logs[] = {"off", "", "miss", "all"};
    static const enum shim_log want[] = {SHIM_LOG_OFF, SHIM_LOG_OFF, SHIM_LOG_MISS, SHIM_LOG_ALL};
    for (int i = 0; i < 4; i++) {
        parse_env(&c, (struct env){.prefix = "/d", .log = logs[i]});
        assert_true(c.enabled);
        assert_int_equal(c.log, want[i]);
        assert_int_equal(nwarn, 0);
    }
    static const char *const novalidate[] = {"", "none", "off"};
    for (int i = 0; i < 3; i++) {
        parse_env(&c, (struct env){.prefix = "/d", .validate = novalidate[i]});
        assert_false(c.validate_open);
        assert_int_equal(nwarn, 0);
    }
    static const char *const enabled[] = {"", "0", "false", "no", "off"};
    for (int i = 0; i < 5; i++) {
        parse_env(&c, (struct env){.prefix = "/d", .disable = enabled[i]});
        assert_true(c.enabled);
        assert_int_equal(nwarn, 0);
    }
}

static void test_shim_bad_log(void **state)
{
    (void)state;
    struct shim_config c;

    parse_env(&c, (struct env){.prefix = "/d", .log = "verbose"});
    assert_int_equal(nwarn, 1);
    assert_non_null(strstr(warned[0], "SHMCACHE_LOG"));
    assert_non_null(strstr(warned[0], "verbose"));
    assert_int_equal(c.log, SHIM_LOG_OFF);
    assert_true(c.enabled);
    /* case matters: "ALL" is not "all" */
    parse_env(&c, (struct env){.prefix = "/d", .log = "ALL"});
    assert_int_equal(nwarn, 1);
    assert_int_equal(c.log, SHIM_LOG_OFF);
}

static void test_shim_validate(void **state)
{
    (void)state;
    struct shim_config c;

    parse_env(&c, (struct env){.prefix = "/d", .validate = "open"});
    assert_true(c.validate_open);
    assert_true(c.enabled);
    assert_int_equal(nwarn, 0);

    /* fail safe: an unknown value validates every hit */
    parse_env(&c, (struct env){.prefix = "/d", .validate = "sometimes"});
    assert_int_equal(nwarn, 1);
    assert_non_null(strstr(warned[0], "SHMCACHE_VALIDATE"));
    assert_non_null(strstr(warned[0], "sometimes"));
    assert_true(c.validate_open);
    assert_true(c.enabled);
}

static void test_shim_disable(void **state)
{
    (void)state;
    struct shim_config c;

    static const char *const yes[] = {"1", "true", "yes", "on"};
    for (int i = 0; i < 4; i++) {
        parse_env(&c, (struct env){.prefix = "/d", .disable = yes[i]});
        assert_false(c.enabled);
        assert_int_equal(nwarn, 0);
    }
    /* fail safe: an unknown value disables */
    parse_env(&c, (struct env){.prefix = "/d", .disable = "maybe"});
    assert_false(c.enabled);
    assert_int_equal(nwarn, 1);
    assert_non_null(strstr(warned[0], "SHMCACHE_DISABLE"));
    assert_non_null(strstr(warned[0], "maybe"));
    parse_env(&c, (struct env){.prefix = "/d", .disable = "2"});
    assert_false(c.enabled);
    assert_int_equal(nwarn, 1);
}

static void test_shim_bad_prefix_name_dir(void **state)
{
    (void)state;
    struct shim_config c;

    parse_env(&c, (struct env){.prefix = "srv/app"});
    assert_false(c.enabled);
    assert_int_equal(nwarn, 1);
    assert_non_null(strstr(warned[0], "SHMCACHE_PREFIX"));
    assert_non_null(strstr(warned[0], "srv/app"));

    parse_env(&c, (struct env){.prefix = "/ok:/srv/../etc"});
    assert_false(c.enabled);
    assert_int_equal(nwarn, 1);
    assert_non_null(strstr(warned[0], "SHMCACHE_PREFIX"));

    parse_env(&c, (struct env){.prefix = "/d", .name = "no/slashes"});
    assert_false(c.enabled);
    assert_int_equal(nwarn, 1);
    assert_non_null(strstr(warned[0], "SHMCACHE_NAME"));
    assert_non_null(strstr(warned[0], "no/slashes"));

    parse_env(&c, (struct env){.prefix = "/d", .dir = "relative/dir"});
    assert_false(c.enabled);
    assert_int_equal(nwarn, 1);
    assert_non_null(strstr(warned[0], "SHMCACHE_DIR"));

    /* bad values of independent settings each warn once */
    parse_env(&c, (struct env){.prefix = "/d", .log = "x", .validate = "y"});
    assert_int_equal(nwarn, 2);
    assert_true(c.enabled);
    assert_true(c.validate_open);
    assert_int_equal(c.log, SHIM_LOG_OFF);

    /* a very long bad value: still one bounded line */
    static char big[5000];
    memset(big, 'v', sizeof big - 1);
    parse_env(&c, (struct env){.prefix = "/d", .log = big});
    assert_int_equal(nwarn, 1);
    parse_env(&c, (struct env){.prefix = big});
    assert_int_equal(nwarn, 1);
    assert_false(c.enabled);
}

/* ---- shmd_parse_opts ----------------------------------------------------- */

struct argv {
    int argc;
    char *argv[64];
};

static struct argv *mkargv(const char *first, ...)
{
    static struct argv a;
    va_list ap;

    for (int i = 0; i < a.argc; i++)
        free(a.argv[i]);
    memset(&a, 0, sizeof a);
    a.argv[a.argc++] = strdup("shmd");
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        a.argv[a.argc++] = strdup(s);
    va_end(ap);
    return &a;
}

static char err[512];

static int parse(struct shmd_opts *o, struct argv *a)
{
    err[0] = '\0';
    return shmd_parse_opts(a->argc, a->argv, o, err, sizeof err, NULL, NULL, NULL);
}

static int opts_setup(void **state)
{
    (void)state;
    unsetenv("SHMCACHE_NAME");
    unsetenv("SHMCACHE_DIR");
    return 0;
}

static void default_dir(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "/dev/shm/shmcache-%u-%s", (unsigned)geteuid(), name);
}

static void test_opts_defaults(void **state)
{
    (void)state;
    static struct shmd_opts o;
    char want[128];

    assert_int_equal(parse(&o, mkargv(NULL)), 0);
    assert_int_equal(o.slots, 65536);
    assert_int_equal(o.revalidate_ms, 1000);
    assert_int_equal(o.settle_ms, 1000);
    assert_int_equal(o.loaders, 4);
    assert_int_equal(o.log_level, SHMD_LOG_INFO);
    assert_int_equal(o.capacity, 0);
    assert_int_equal(o.max_file, 0);
    default_dir(want, sizeof want, "default");
    assert_string_equal(o.dir, want);

    /* the environment names the instance */
    setenv("SHMCACHE_NAME", "envname", 1);
    assert_int_equal(parse(&o, mkargv(NULL)), 0);
    default_dir(want, sizeof want, "envname");
    assert_string_equal(o.dir, want);
    setenv("SHMCACHE_DIR", "/run/envdir", 1);
    assert_int_equal(parse(&o, mkargv(NULL)), 0);
    assert_string_equal(o.dir, "/run/envdir");
    /* a flag beats the environment */
    assert_int_equal(parse(&o, mkargv("--dir", "/run/flagdir", NULL)), 0);
    assert_string_equal(o.dir, "/run/flagdir");
    setenv("SHMCACHE_DIR", "relative", 1);
    assert_int_equal(parse(&o, mkargv(NULL)), -1);
    assert_non_null(strstr(err, "SHMCACHE_DIR"));
    unsetenv("SHMCACHE_DIR");
    setenv("SHMCACHE_NAME", "bad/name", 1);
    assert_int_equal(parse(&o, mkargv(NULL)), -1);
    assert_non_null(strstr(err, "SHMCACHE_NAME"));
    unsetenv("SHMCACHE_NAME");
}

static void test_opts_all_flags(void **state)
{
    (void)state;
    static struct shmd_opts o;
    char want[128];

    assert_int_equal(parse(&o, mkargv("--name", "web", "--capacity", "512M", "--max-file", "64M",
                                      "--slots", "1000", "--revalidate-ms", "0", "--settle-ms",
                                      "250", "--loaders", "8", "--log-level", "debug", NULL)), 0);
    assert_string_equal(o.inst.name, "web");
    default_dir(want, sizeof want, "web");
    assert_string_equal(o.dir, want);
    assert_true(o.capacity == 512ULL << 20);
    assert_true(o.max_file == 64ULL << 20);
    assert_int_equal(o.slots, 1024); /* rounded up to a power of two */
    assert_int_equal(o.revalidate_ms, 0);
    assert_int_equal(o.settle_ms, 250);
    assert_int_equal(o.loaders, 8);
    assert_int_equal(o.log_level, SHMD_LOG_DEBUG);

    /* --opt=value, the directory beats the name */
    assert_int_equal(parse(&o, mkargv("--dir=/run/x//y/", "--name=n2", "--capacity=1G",
                                      "--log-level=error", NULL)), 0);
    assert_string_equal(o.dir, "/run/x/y");
    assert_true(o.capacity == 1ULL << 30);
    assert_int_equal(o.log_level, SHMD_LOG_ERROR);
    assert_int_equal(parse(&o, mkargv("--log-level", "warning", NULL)), 0);
    assert_int_equal(o.log_level, SHMD_LOG_WARN);
    assert_int_equal(parse(&o, mkargv("--log-level", "info", NULL)), 0);
    assert_int_equal(o.log_level, SHMD_LOG_INFO);

    /* slot rounding and bounds */
    static const struct { const char *in; uint32_t want; } slots[] = {
        {"1", 64}, {"64", 64}, {"65", 128}, {"1000", 1024}, {"1024", 1024}, {"65536", 65536},
        {"16777216", 16777216}, {"9000000", 16777216},
    };
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        assert_int_equal(parse(&o, mkargv("--slots", slots[i].in, NULL)), 0);
        assert_int_equal(o.slots, slots[i].want);
    }
    assert_int_equal(parse(&o, mkargv("--capacity", "1M", NULL)), 0);
    assert_int_equal(parse(&o, mkargv("--loaders", "1", NULL)), 0);
    assert_int_equal(parse(&o, mkargv("--loaders", "64", NULL)), 0);
    assert_int_equal(o.loaders, 64);
    assert_int_equal(parse(&o, mkargv("--revalidate-ms", "86400000", NULL)), 0);
    assert_int_equal(parse(&o, mkargv("--settle-ms", "0", NULL)), 0);
    assert_int_equal(o.settle_ms, 0);
}

static void bad_flag(const char *flag, const char *value, const char *named)
{
    static struct shmd_opts o;
    int r = parse(&o, value ? mkargv(flag, value, NULL) : mkargv(flag, NULL));
    if (r != -1)
        fail_msg("shmd %s %s: returned %d, want -1", flag, value ? value : "", r);
    if (!strstr(err, named))
        fail_msg("shmd %s %s: message \"%s\" does not name %s", flag, value ? value : "", err, named);
    assert_null(strchr(err, '\n'));
}

static void test_opts_bad_values(void **state)
{
    (void)state;
    bad_flag("--capacity", "abc", "--capacity");
    bad_flag("--capacity", "10K", "--capacity"); /* below 1M */
    bad_flag("--capacity", "1048575", "--capacity");
    bad_flag("--capacity", "1.5G", "--capacity");
    bad_flag("--max-file", "0", "--max-file");
    bad_flag("--max-file", "huge", "--max-file");
    bad_flag("--slots", "0", "--slots");
    bad_flag("--slots", "16777217", "--slots");
    bad_flag("--slots", "-1", "--slots");
    bad_flag("--revalidate-ms", "-5", "--revalidate-ms");
    bad_flag("--revalidate-ms", "86400001", "--revalidate-ms");
    bad_flag("--settle-ms", "3600001", "--settle-ms");
    bad_flag("--settle-ms", "1s", "--settle-ms");
    bad_flag("--loaders", "65", "--loaders");
    bad_flag("--loaders", "0", "--loaders");
    bad_flag("--log-level", "loud", "--log-level");
    bad_flag("--log-level", "DEBUG", "--log-level");
    bad_flag("--name", "a/b", "--name");
    bad_flag("--name", "..", "--name");
    bad_flag("--dir", "relative", "--dir");
    bad_flag("--bogus", NULL, "--bogus");
    bad_flag("-x", NULL, "-x");
    /* -p is only for `shmd exec` */
    bad_flag("-p", "/a", "-p");
    /* the bad value is quoted back */
    bad_flag("--capacity", "abc", "abc");
}

static void test_opts_stray_and_help(void **state)
{
    (void)state;
    static struct shmd_opts o;

    assert_int_equal(parse(&o, mkargv("stray", NULL)), -1);
    assert_non_null(strstr(err, "stray"));
    assert_int_equal(parse(&o, mkargv("--slots", "128", "stray", NULL)), -1);
    assert_non_null(strstr(err, "stray"));
    assert_int_equal(parse(&o, mkargv("--help", NULL)), 1);
    assert_int_equal(parse(&o, mkargv("-h", NULL)), 1);
    assert_int_equal(parse(&o, mkargv("--slots", "128", "--help", NULL)), 1);
    /* parsing again starts from scratch (optind reset) */
    assert_int_equal(parse(&o, mkargv("--slots", "128", NULL)), 0);
    assert_int_equal(o.slots, 128);
    assert_int_equal(parse(&o, mkargv(NULL)), 0);
    assert_int_equal(o.slots, 65536);
}

/* A flag given without its value is reported by its name. */
static void test_opts_missing_value(void **state)
{
    (void)state;
    bad_flag("--capacity", NULL, "--capacity");
    bad_flag("--slots", NULL, "--slots");
}

/* A bad --dir is reported as --dir, not as the environment variable the
 * user never set. */
static void test_opts_dir_error_names_flag(void **state)
{
    (void)state;
    bad_flag("--dir", "/a/../b", "--dir");
    bad_flag("--dir", "/", "--dir");
}

static int parse_exec(struct shmd_opts *o, struct argv *a, const char **extra, int *nextra,
                      int *next)
{
    err[0] = '\0';
    *nextra = -1;
    *next = -1;
    return shmd_parse_opts(a->argc, a->argv, o, err, sizeof err, extra, nextra, next);
}

static void test_opts_exec_prefixes(void **state)
{
    (void)state;
    static struct shmd_opts o;
    const char *extra[17];
    int nextra, next;

    struct argv *a = mkargv("-p", "/a", "-p", "/b", "--", "cmd", "arg", NULL);
    assert_int_equal(parse_exec(&o, a, extra, &nextra, &next), 0);
    assert_int_equal(nextra, 2);
    assert_string_equal(extra[0], "/a");
    assert_string_equal(extra[1], "/b");
    assert_true(next > 0 && next < a->argc);
    assert_string_equal(a->argv[next], "cmd");
    assert_string_equal(a->argv[next + 1], "arg");

    /* daemon options mix in; --prefix is the long form */
    a = mkargv("--capacity", "2G", "--prefix", "/srv/x", "-p/srv/y", "--", "python3", "-c", "x", NULL);
    assert_int_equal(parse_exec(&o, a, extra, &nextra, &next), 0);
    assert_int_equal(nextra, 2);
    assert_string_equal(extra[0], "/srv/x");
    assert_string_equal(extra[1], "/srv/y");
    assert_true(o.capacity == 2ULL << 30);
    assert_string_equal(a->argv[next], "python3");
    /* the command's own options are not parsed as ours */
    assert_string_equal(a->argv[next + 1], "-c");

    /* without "--", the first operand starts the command */
    a = mkargv("-p", "/a", "ls", "-l", NULL);
    assert_int_equal(parse_exec(&o, a, extra, &nextra, &next), 0);
    assert_int_equal(nextra, 1);
    assert_string_equal(a->argv[next], "ls");

    /* no prefixes, no command: next is argc */
    a = mkargv(NULL);
    assert_int_equal(parse_exec(&o, a, extra, &nextra, &next), 0);
    assert_int_equal(nextra, 0);
    assert_int_equal(next, a->argc);

    /* relative prefixes, prefixes with ':' and too many are refused */
    a = mkargv("-p", "rel", "--", "cmd", NULL);
    assert_int_equal(parse_exec(&o, a, extra, &nextra, &next), -1);
    assert_non_null(strstr(err, "rel"));
    assert_non_null(strstr(err, "--prefix"));
    a = mkargv("-p", "/a:/b", "--", "cmd", NULL);
    assert_int_equal(parse_exec(&o, a, extra, &nextra, &next), -1);
    assert_non_null(strstr(err, "--prefix"));

    static char pbuf[17][16];
    a = mkargv(NULL);
    for (int i = 0; i < 17; i++) {
        snprintf(pbuf[i], sizeof pbuf[i], "/p%d", i);
        a->argv[a->argc++] = strdup("-p");
        a->argv[a->argc++] = strdup(pbuf[i]);
    }
    a->argv[a->argc++] = strdup("--");
    a->argv[a->argc++] = strdup("cmd");
    assert_int_equal(parse_exec(&o, a, extra, &nextra, &next), -1);
    assert_non_null(strstr(err, "16"));
    assert_true(nextra <= 16);
}

int main(void)
{
    const struct CMUnitTest values[] = {
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_format_age),
        cmocka_unit_test(test_parse_uint),
        cmocka_unit_test(test_parse_uint_small_max),
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_instance_dir),
    };
    const struct CMUnitTest shim[] = {
        cmocka_unit_test_setup(test_shim_unset, reset_warnings),
        cmocka_unit_test_setup(test_shim_good_prefix, reset_warnings),
        cmocka_unit_test_setup(test_shim_bad_log, reset_warnings),
        cmocka_unit_test_setup(test_shim_validate, reset_warnings),
        cmocka_unit_test_setup(test_shim_disable, reset_warnings),
        cmocka_unit_test_setup(test_shim_bad_prefix_name_dir, reset_warnings),
        cmocka_unit_test_setup(test_shim_fleet_wait, reset_warnings),
    };
    const struct CMUnitTest opts[] = {
        cmocka_unit_test_setup(test_opts_defaults, opts_setup),
        cmocka_unit_test_setup(test_opts_all_flags, opts_setup),
        cmocka_unit_test_setup(test_opts_bad_values, opts_setup),
        cmocka_unit_test_setup(test_opts_stray_and_help, opts_setup),
        cmocka_unit_test_setup(test_opts_missing_value, opts_setup),
        cmocka_unit_test_setup(test_opts_dir_error_names_flag, opts_setup),
        cmocka_unit_test_setup(test_opts_exec_prefixes, opts_setup),
    };
    int failed = 0;
    failed += cmocka_run_group_tests_name("config values", values, NULL, NULL);
    failed += cmocka_run_group_tests_name("shim environment", shim, NULL, NULL);
    failed += cmocka_run_group_tests_name("shmd options", opts, NULL, NULL);
    return failed;
}
