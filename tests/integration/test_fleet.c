/* test_fleet.c - the fleet tier (shmd/fleet.h) on a real memcached: two
 * "hosts" (two instance directories, two daemons) over one source tree and
 * one memcached on a unix socket, all started here.
 *
 *   - host A's first pass loads from the source and stores every copy in
 *     the fleet; host B's first pass is served the right bytes with every
 *     load from the fleet (source_loads 0: no byte read from the source),
 *     a file larger than one memcached item among them;
 *   - values forged in memcached (a chunk's bytes changed, a chunk cut
 *     short, a chunk deleted, a header of the right size with a wrong MAC)
 *     are refused and counted, and the host reads the source: right bytes;
 *   - the source changed between hosts (new size or mtime): the new
 *     version, never the fleet's old one;
 *   - memcached SIGSTOPped, then SIGKILLed: right bytes from the source,
 *     errors counted, the daemon's loads go on; and once memcached answers
 *     again, copies flow again;
 *   - two servers, one SIGKILLed: the right bytes of every file, copies
 *     from the live one, the rest from the source, the dead one noticed;
 *   - three hosts missing the same files at once: each read from the source
 *     once in all (the lease), the rest from the fleet;
 *   - the program's wait (SHMCACHE_FLEET_WAIT_MS): its own first open on
 *     host B is the tier's copy, put in place of the source's descriptor;
 *     a file the fleet lacks is not waited for; the bound holds with
 *     memcached stopped, and a failed fleet is not waited for at all, nor
 *     a cold one (it held none of the last 16 files asked); 0, or no
 *     --fleet, never waits;
 *   - `shmd warm --from-fleet` on a new host: what the fleet's manifest
 *     lists, fetched from the fleet; a forged entry refused;
 *   - bad options: --fleet without --fleet-key, a key file readable by
 *     others or too short: one line, the right exit code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libmemcached/memcached.h>
#include <sodium.h>

#include "tests/lib/harness.h"

#define NFILES 12

struct fleet_fix {
    struct h_fix *f;           /* host A: f->d */
    struct h_daemon b;         /* host B */
    struct h_daemon c;         /* host C (test_one_load_per_fleet) */
    struct h_proc mc;
    char sock[H_PATH_MAX], key[H_PATH_MAX];
    const char *args[24];
};

static void mc_start(struct fleet_fix *x)
{
    h_memcached_start(&x->mc, x->sock);
}

/* A daemon without a fleet, started. */
static void plain_start(const struct fleet_fix *x, struct h_daemon *d)
{
    static const char *const args[] = {"--settle-ms", "0", NULL};
    h_daemon_init(d, h_fmt("%s/shmd-plain.log", x->f->tmp), args);
    assert_int_equal(h_daemon_start(d), 0);
}

static void mc_kill(struct fleet_fix *x)
{
    h_memcached_kill(&x->mc);
}

static int setup(void **state)
{
    if (!h_have_memcached()) {
        print_message("    skipped: memcached is not installed (apt-get install memcached)\n");
        *state = NULL;
        return 0;
    }
    struct fleet_fix *x = calloc(1, sizeof *x);
    assert_non_null(x);
    struct h_fix *f = h_fix_new(state, NULL, false); /* scratch and tree only */
    assert_non_null(f);
    x->f = f;
    snprintf(x->sock, sizeof x->sock, "%.3000s/mc.sock", f->tmp);
    snprintf(x->key, sizeof x->key, "%.3000s/fleet.key", f->tmp);
    unsigned char secret[32];
    h_fill(secret, sizeof secret, 4711, false);
    assert_int_equal(h_write_file(x->key, secret, sizeof secret), 0);
    assert_int_equal(chmod(x->key, 0600), 0);
    mc_start(x);
    static const char *const common[] = {"--settle-ms", "0", "--revalidate-ms", "200",
                                         "--capacity", "64M", "--log-level", "debug"};
    int k = 0;
    for (size_t i = 0; i < sizeof common / sizeof *common; i++)
        x->args[k++] = common[i];
    x->args[k++] = "--fleet";
    x->args[k++] = x->sock;
    x->args[k++] = "--fleet-key";
    x->args[k++] = x->key;
    x->args[k] = NULL;
    h_daemon_init(&f->d, h_fmt("%s/shmd-a.log", f->tmp), x->args);
    h_daemon_init(&x->b, h_fmt("%s/shmd-b.log", f->tmp), x->args);
    h_daemon_init(&x->c, h_fmt("%s/shmd-c.log", f->tmp), x->args);
    assert_int_equal(h_daemon_start(&f->d), 0);
    assert_int_equal(h_daemon_start(&x->b), 0);
    assert_int_equal(h_daemon_start(&x->c), 0);
    /* the fixture's teardown takes the h_fix; ours wraps it */
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        return 0;
    if (!x->f->passed) {
        h_daemon_print_log(&x->b);
        h_daemon_print_log(&x->c);
    }
    h_daemon_cleanup(&x->b);
    h_daemon_cleanup(&x->c);
    mc_kill(x);
    void *fs = x->f;
    free(x);
    return h_fix_teardown(&fs);
}

/* Host h's shim environment; wait, when not NULL, SHMCACHE_FLEET_WAIT_MS. */
static const char *const *env_wait(const struct fleet_fix *x, const struct h_daemon *h,
                                   const char *wait)
{
    static char pre[H_PATH_MAX + 16], prefix[H_PATH_MAX + 32], dir[300], ms[64];
    static const char *env[5];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", h_lib());
    snprintf(prefix, sizeof prefix, "SHMCACHE_PREFIX=%s", x->f->src);
    snprintf(dir, sizeof dir, "SHMCACHE_DIR=%s", h->dir);
    snprintf(ms, sizeof ms, "SHMCACHE_FLEET_WAIT_MS=%s", wait ? wait : "");
    env[0] = pre;
    env[1] = prefix;
    env[2] = dir;
    env[3] = wait ? ms : NULL;
    env[4] = NULL;
    return env;
}

/* ... with the default wait (SHMCACHE_FLEET_WAIT_MS unset). */
static const char *const *env_for(const struct fleet_fix *x, const struct h_daemon *h)
{
    return env_wait(x, h, NULL);
}

/* The fleet's files: NFILES of assorted sizes, one larger than a
 * memcached item (1 MiB), all settled. */
static const char *fleet_file(const struct fleet_fix *x, int i)
{
    return h_fmt("%s/fl/f%02d.bin", x->f->src, i);
}

static size_t fleet_size(int i)
{
    return i == 0 ? 2500000 + 17 : i == 1 ? 1 : (size_t)(1000 + i * 7919);
}

static void make_files(struct fleet_fix *x)
{
    assert_int_equal(h_mkdirs(h_fmt("%s/fl", x->f->src), 0755), 0);
    for (int i = 0; i < NFILES; i++) {
        size_t n = fleet_size(i);
        unsigned char *b = malloc(n);
        h_fill(b, n, (uint32_t)(100 + i), false);
        assert_int_equal(h_write_file(fleet_file(x, i), b, n), 0);
        free(b);
    }
}

/* Read file i on host h (shimmed cat) and check its bytes against the
 * source's. */
static void read_check(struct fleet_fix *x, const struct h_daemon *h, int i, const char *what)
{
    struct h_result r;
    size_t n;
    unsigned char *want = h_read_file(fleet_file(x, i), &n);
    assert_non_null(want);
    h_run(&r, env_for(x, h), H_ARGV("cat", fleet_file(x, i)), 30000);
    h_assert_ok(&r, what);
    h_assert_bytes(r.out, r.out_len, want, n, h_fmt("%s: %s", what, fleet_file(x, i)));
    h_result_free(&r);
    free(want);
}

static void pass(struct fleet_fix *x, const struct h_daemon *h, const char *what)
{
    for (int i = 0; i < NFILES; i++)
        read_check(x, h, i, what);
}

/* Host A loads everything from the source and stores it in the fleet. */
static void fill_fleet(struct fleet_fix *x)
{
    make_files(x);
    pass(x, &x->f->d, "host A, first pass");
    if (h_wait_stat_ge(&x->f->d, "fleet_stores", NFILES, 15000) < NFILES)
        fail_msg("host A stored %lld of %d copies in the fleet",
                 h_stat(&x->f->d, "fleet_stores"), NFILES);
    assert_int_equal(h_stat(&x->f->d, "source_loads"), NFILES);
}

/* A program on host h opens file i (sh's `exec 3<`): what its descriptor
 * is a link to (/proc/PID/fd/3), and then its bytes, checked. */
static char *open_path(struct fleet_fix *x, const struct h_daemon *h, const char *path,
                       const char *wait)
{
    struct h_result r;
    size_t n;
    unsigned char *want = h_read_file(path, &n);
    assert_non_null(want);
    h_run(&r, env_wait(x, h, wait), H_ARGV("sh", "-c", "exec 3<\"$1\" && readlink /proc/$$/fd/3 "
                                           "&& cat <&3", "sh", path), 30000);
    h_assert_ok(&r, "sh: exec 3<FILE");
    char *nl = memchr(r.out, '\n', r.out_len);
    assert_non_null(nl);
    *nl = '\0';
    char *link = h_xstrdup(r.out);
    size_t skip = (size_t)(nl + 1 - r.out);
    h_assert_bytes(r.out + skip, r.out_len - skip, want, n, h_fmt("read through %s", link));
    h_result_free(&r);
    free(want);
    return link;
}

/* ... of fleet file i */
static char *open_check(struct fleet_fix *x, const struct h_daemon *h, int i, const char *wait)
{
    return open_path(x, h, fleet_file(x, i), wait);
}

static bool in_tier(const char *link, const struct h_daemon *h)
{
    size_t n = strlen(h->dir);
    return strncmp(link, h->dir, n) == 0 && link[n] == '/';
}

/* SHMCACHE_FLEET_WAIT_MS: on host B, whose fleet holds every file, the
 * program's own first open is a hit: its descriptor is the tier's copy
 * (put in place of the source's) and no byte comes from the source. */
static void test_first_open_served_after_wait(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    fill_fleet(x);
    for (int i = 0; i < NFILES; i++) {
        /* a bound no loaded machine reaches: this test is about serving */
        char *link = open_check(x, &x->b, i, "10000");
        if (!in_tier(link, &x->b))
            fail_msg("first open of %s on host B: a descriptor of %s, not of the tier (%s)",
                     fleet_file(x, i), link, x->b.dir);
        free(link);
    }
    assert_int_equal(h_stat(&x->b, "fleet_wait_hits"), NFILES);
    assert_int_equal(h_stat(&x->b, "fleet_wait_timeouts"), 0);
    assert_int_equal(h_stat(&x->b, "fleet_hits"), NFILES);
    assert_int_equal(h_stat(&x->b, "source_loads"), 0);
    assert_int_equal(h_stat(&x->b, "misses"), NFILES);
    assert_int_equal(h_stat(&x->b, "hits"), NFILES);
    /* a file the fleet does not have: the daemon says so at once and the
     * program keeps the source's descriptor (it would wait 10 s for
     * nothing otherwise: the timeout counter proves it did not) */
    char *fresh = h_xstrdup(h_fmt("%s/fl/new.txt", x->f->src));
    assert_int_equal(h_write_str(fresh, "new\n"), 0);
    char *link = open_path(x, &x->b, fresh, "10000");
    assert_string_equal(link, fresh);
    free(link);
    free(fresh);
    assert_int_equal(h_stat(&x->b, "fleet_wait_timeouts"), 0);
    assert_int_equal(h_stat(&x->b, "fleet_wait_hits"), NFILES);
    H_PASS(x->f);
}

/* The bound: memcached SIGSTOPped, a program waits at most
 * SHMCACHE_FLEET_WAIT_MS for the fleet (counted as a timeout) and reads
 * the source; once the daemon's fleet has failed, misses do not wait at
 * all (tier_header.fleet) until it answers again. And SHMCACHE_FLEET_WAIT_MS=0
 * never waits. */
static void test_wait_bounded(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    make_files(x);
    kill(x->mc.pid, SIGSTOP);
    /* memcached's poll timeout is 200 ms: a 50 ms bound is reached */
    char *link = open_check(x, &x->b, 2, "50");
    assert_string_equal(link, fleet_file(x, 2));
    free(link);
    assert_int_equal(h_stat(&x->b, "fleet_wait_timeouts"), 1);
    if (h_wait_stat_ge(&x->b, "fleet_errors", 1, 15000) < 1)
        fail_msg("no fleet error counted with memcached stopped");
    assert_int_equal(h_stat(&x->b, "fleet_state"), 2);
    if (h_wait_stat_ge(&x->b, "loads", 1, 15000) < 1)
        fail_msg("host B did not load the file from the source");
    /* the fleet failed: the next misses do not wait, though allowed 10 s */
    for (int i = 3; i < 8; i++) {
        link = open_check(x, &x->b, i, "10000");
        assert_string_equal(link, fleet_file(x, i));
        free(link);
    }
    assert_int_equal(h_stat(&x->b, "fleet_wait_timeouts"), 1);
    assert_int_equal(h_stat(&x->b, "fleet_wait_hits"), 0);
    kill(x->mc.pid, SIGCONT);
    /* 0: never waits, even with the files in the fleet (files 8 and on:
     * B's copies of the others may still reach the fleet, late) */
    for (int i = 8; i < NFILES; i++)
        read_check(x, &x->f->d, i, "host A, files 8 and on");
    if (h_wait_stat_ge(&x->f->d, "fleet_stores", NFILES - 8, 15000) < NFILES - 8)
        fail_msg("host A stored %lld of %d copies in the fleet",
                 h_stat(&x->f->d, "fleet_stores"), NFILES - 8);
    for (int i = 8; i < NFILES; i++) {
        link = open_check(x, &x->c, i, "0");
        assert_string_equal(link, fleet_file(x, i));
        free(link);
    }
    assert_int_equal(h_stat(&x->c, "fleet_wait_hits") + h_stat(&x->c, "fleet_wait_timeouts"), 0);
    H_PASS(x->f);
}

/* A fleet that held none of the last 16 files a host asked for (the first
 * host of a fleet) is cold: its programs do not wait (each wait would only
 * cost them a round trip to memcached) until a fetch finds a copy again. */
static void test_cold_fleet_not_waited(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    fill_fleet(x); /* host A: 12 copies in the fleet */
    assert_int_equal(h_stat(&x->c, "fleet_state"), 1);
    assert_int_equal(h_mkdirs(h_fmt("%s/cold", x->f->src), 0755), 0);
    const char *argv[19];
    argv[0] = "cat";
    for (int i = 0; i < 17; i++) {
        const char *p = h_fmt("%s/cold/c%02d.txt", x->f->src, i);
        assert_int_equal(h_write_str(p, h_fmt("cold %d\n", i)), 0);
        argv[i + 1] = h_xstrdup(p);
    }
    argv[18] = NULL;
    /* host C: 17 files the fleet does not hold, one open each */
    struct h_result r;
    h_run(&r, env_wait(x, &x->c, "10000"), argv, 30000);
    h_assert_ok(&r, "host C: 17 files not in the fleet");
    h_result_free(&r);
    for (int i = 0; i < 17; i++)
        free((char *)argv[i + 1]);
    if (h_wait_stat_ge(&x->c, "fleet_misses", 17, 15000) < 17)
        fail_msg("host C asked the fleet for %lld of 17 files (misses %lld, loads %lld)", h_stat(&x->c, "fleet_misses"), h_stat(&x->c, "misses"), h_stat(&x->c, "loads"));
    assert_int_equal(h_stat(&x->c, "fleet_state"), 3);
    /* cold: a file the fleet does hold is not waited for (the daemon still
     * fetches it from the fleet: that copy makes the fleet answering) */
    char *link = open_check(x, &x->c, 0, "10000");
    assert_string_equal(link, fleet_file(x, 0));
    free(link);
    if (h_wait_stat_ge(&x->c, "fleet_hits", 1, 15000) < 1)
        fail_msg("host C did not fetch file 0 from the fleet");
    assert_int_equal(h_stat(&x->c, "fleet_wait_hits"), 0);
    assert_int_equal(h_stat(&x->c, "fleet_state"), 1);
    /* answering again: the next first open waits and is served */
    link = open_check(x, &x->c, 1, "10000");
    if (!in_tier(link, &x->c))
        fail_msg("host C, fleet answering again: file 1 opened as %s, not from the tier", link);
    free(link);
    assert_int_equal(h_stat(&x->c, "fleet_wait_hits"), 1);
    assert_int_equal(h_stat(&x->c, "source_loads"), 17);
    H_PASS(x->f);
}

/* Without --fleet nothing changes on the miss path: no wait, whatever
 * SHMCACHE_FLEET_WAIT_MS says. */
static void test_no_fleet_no_wait(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    make_files(x);
    struct h_daemon plain;
    plain_start(x, &plain);
    for (int i = 0; i < 4; i++) {
        char *link = open_check(x, &plain, i, "10000");
        assert_string_equal(link, fleet_file(x, i));
        free(link);
    }
    if (h_wait_stat_ge(&plain, "loads", 4, 15000) < 4)
        fail_msg("the plain host loaded %lld of 4 files", h_stat(&plain, "loads"));
    assert_int_equal(h_stat(&plain, "fleet_wait_hits"), 0);
    assert_int_equal(h_stat(&plain, "fleet_wait_timeouts"), 0);
    assert_int_equal(h_stat(&plain, "misses"), 4);
    assert_int_equal(h_stat(&plain, "fleet_state"), 0);
    h_daemon_cleanup(&plain);
    H_PASS(x->f);
}

static void test_second_host_served_from_fleet(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    fill_fleet(x);
    /* host B: misses, loaded from the fleet, no byte from the source */
    pass(x, &x->b, "host B, first pass");
    if (h_wait_stat_ge(&x->b, "loads", NFILES, 15000) < NFILES)
        fail_msg("host B loaded %lld of %d files", h_stat(&x->b, "loads"), NFILES);
    assert_int_equal(h_stat(&x->b, "fleet_hits"), NFILES);
    assert_int_equal(h_stat(&x->b, "source_loads"), 0);
    assert_int_equal(h_stat(&x->b, "fleet_rejected"), 0);
    assert_int_equal(h_stat(&x->b, "fleet_errors"), 0); /* a healthy fleet reads healthy */
    assert_int_equal(h_stat(&x->b, "fleet_state"), 1);
    /* and its hits serve those copies, byte for byte */
    long long hits = h_stat(&x->b, "hits");
    pass(x, &x->b, "host B, second pass (hits)");
    assert_int_equal(h_stat(&x->b, "hits"), hits + NFILES);
    H_PASS(x->f);
}

/* memcached's own client, to forge what a host would fetch. */
static memcached_st *mc_client(const struct fleet_fix *x)
{
    memcached_st *m = memcached_create(NULL);
    assert_non_null(m);
    assert_int_equal(memcached_server_add_unix_socket(m, x->sock), MEMCACHED_SUCCESS);
    return m;
}

/* The fleet's secret as shmd/fleet.c derives it from the key file. */
static void fleet_secret(const struct fleet_fix *x, unsigned char *secret)
{
    size_t n;
    unsigned char *k = h_read_file(x->key, &n);
    assert_non_null(k);
    crypto_generichash(secret, crypto_generichash_KEYBYTES, k, n, NULL, 0);
    free(k);
}

/* The fleet's item names for file i, as shmd/fleet.c makes them (the test
 * derives them independently: the same construction, from the key file). */
static size_t item_base(const struct fleet_fix *x, int i, char *out)
{
    unsigned char secret[crypto_generichash_KEYBYTES], h[16];
    fleet_secret(x, secret);
    struct stat st;
    assert_int_equal(stat(fleet_file(x, i), &st), 0);
    uint64_t size = (uint64_t)st.st_size;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    crypto_generichash_state s;
    crypto_generichash_init(&s, secret, sizeof secret, sizeof h);
    static const char domain[] = "shmcache fleet v1";
    crypto_generichash_update(&s, (const unsigned char *)domain, sizeof domain);
    crypto_generichash_update(&s, (const unsigned char *)"", 1); /* the empty namespace */
    const char *path = fleet_file(x, i);
    crypto_generichash_update(&s, (const unsigned char *)path, strlen(path));
    crypto_generichash_update(&s, (const unsigned char *)"", 1);
    crypto_generichash_update(&s, (const unsigned char *)&size, sizeof size);
    crypto_generichash_update(&s, (const unsigned char *)&mtime, sizeof mtime);
    crypto_generichash_final(&s, h, sizeof h);
    memcpy(out, "shmc1:", 6);
    sodium_bin2hex(out + 6, 33, h, sizeof h);
    return 38;
}

static void test_forged_values_refused(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    fill_fleet(x);
    memcached_st *m = mc_client(x);
    char name[64];
    size_t vlen;
    uint32_t flags;
    memcached_return_t rc;

    /* file 2: a chunk's bytes changed, same length */
    size_t b = item_base(x, 2, name);
    strcpy(name + b, ":0");
    char *v = memcached_get(m, name, b + 2, &vlen, &flags, &rc);
    assert_non_null(v);
    v[vlen / 2] ^= 0x5a;
    assert_int_equal(memcached_set(m, name, b + 2, v, vlen, 0, 0), MEMCACHED_SUCCESS);
    free(v);
    /* file 3: a chunk cut short */
    b = item_base(x, 3, name);
    strcpy(name + b, ":0");
    v = memcached_get(m, name, b + 2, &vlen, &flags, &rc);
    assert_non_null(v);
    assert_int_equal(memcached_set(m, name, b + 2, v, vlen - 1, 0, 0), MEMCACHED_SUCCESS);
    free(v);
    /* file 0 (3 chunks): its middle chunk gone */
    b = item_base(x, 0, name);
    strcpy(name + b, ":1");
    assert_int_equal(memcached_delete(m, name, b + 2, 0), MEMCACHED_SUCCESS);
    /* file 4: a header of the right shape, its MAC forged */
    b = item_base(x, 4, name);
    strcpy(name + b, ":h");
    v = memcached_get(m, name, b + 2, &vlen, &flags, &rc);
    assert_non_null(v);
    assert_int_equal(vlen, 64);
    v[40] ^= 1;
    assert_int_equal(memcached_set(m, name, b + 2, v, vlen, 0, 0), MEMCACHED_SUCCESS);
    free(v);
    /* file 5: its header replaced by garbage */
    b = item_base(x, 5, name);
    strcpy(name + b, ":h");
    assert_int_equal(memcached_set(m, name, b + 2, "not a header", 12, 0, 0), MEMCACHED_SUCCESS);
    memcached_free(m);

    pass(x, &x->b, "host B over forged values");
    if (h_wait_stat_ge(&x->b, "loads", NFILES, 15000) < NFILES)
        fail_msg("host B loaded %lld of %d files", h_stat(&x->b, "loads"), NFILES);
    assert_int_equal(h_stat(&x->b, "fleet_rejected"), 5);
    assert_int_equal(h_stat(&x->b, "source_loads"), 5);
    assert_int_equal(h_stat(&x->b, "fleet_hits"), NFILES - 5);
    /* the copies it made itself are the source's bytes */
    pass(x, &x->b, "host B, hits after the forged values");
    H_PASS(x->f);
}

static void test_changed_source_new_version(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    fill_fleet(x);
    /* file 6 rewritten with the same size (a new mtime), file 7 with
     * another size and its old mtime put back: both are new versions */
    size_t n = fleet_size(6);
    unsigned char *buf = malloc(n);
    h_fill(buf, n, 9999, false);
    assert_int_equal(h_rewrite(fleet_file(x, 6), buf, n), 0);
    free(buf);
    struct stat st;
    assert_int_equal(stat(fleet_file(x, 7), &st), 0);
    assert_int_equal(h_write_str(fleet_file(x, 7), "shorter now\n"), 0);
    struct timespec t[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, fleet_file(x, 7), t, 0), 0);
    h_sleep_ms(20);
    pass(x, &x->b, "host B after the changes");
    if (h_wait_stat_ge(&x->b, "loads", NFILES, 15000) < NFILES)
        fail_msg("host B loaded %lld of %d files", h_stat(&x->b, "loads"), NFILES);
    assert_int_equal(h_stat(&x->b, "source_loads"), 2);
    assert_int_equal(h_stat(&x->b, "fleet_hits"), NFILES - 2);
    pass(x, &x->b, "host B, hits after the changes");
    H_PASS(x->f);
}

static void test_memcached_stopped_then_killed(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    make_files(x);
    /* stopped: every fetch and store times out; the bytes are the source's */
    kill(x->mc.pid, SIGSTOP);
    pass(x, &x->b, "host B, memcached SIGSTOPped");
    if (h_wait_stat_ge(&x->b, "loads", NFILES, 30000) < NFILES)
        fail_msg("host B loaded %lld of %d files with memcached stopped",
                 h_stat(&x->b, "loads"), NFILES);
    assert_int_equal(h_stat(&x->b, "source_loads"), NFILES);
    assert_true(h_stat(&x->b, "fleet_errors") > 0);
    pass(x, &x->b, "host B, hits while memcached is stopped");
    /* killed: connection refused, the same */
    mc_kill(x);
    pass(x, &x->f->d, "host A, memcached killed");
    if (h_wait_stat_ge(&x->f->d, "loads", NFILES, 30000) < NFILES)
        fail_msg("host A loaded %lld of %d files with memcached dead",
                 h_stat(&x->f->d, "loads"), NFILES);
    assert_int_equal(h_stat(&x->f->d, "source_loads"), NFILES);
    assert_int_equal(h_stat(&x->f->d, "fleet_hits"), 0);
    /* back: a new file reaches the fleet again (failed servers are tried
     * again after the retry timeout, 2 s) */
    mc_start(x);
    assert_int_equal(h_write_str(h_fmt("%s/fl/late.txt", x->f->src), "late\n"), 0);
    long long stores = h_stat(&x->f->d, "fleet_stores");
    uint64_t end = h_now_ms() + 20000;
    while (h_stat(&x->f->d, "fleet_stores") <= stores && h_now_ms() < end) {
        struct h_result r;
        h_sleep_ms(500);
        assert_int_equal(h_shmd_cmd(&x->f->d, &r, H_ARGV("evict", h_fmt("%s/fl/late.txt",
                                                                         x->f->src))), 0);
        h_result_free(&r);
        h_run(&r, env_for(x, &x->f->d), H_ARGV("cat", h_fmt("%s/fl/late.txt", x->f->src)),
              10000);
        h_assert_ok(&r, "host A reading late.txt");
        assert_string_equal(r.out, "late\n");
        h_result_free(&r);
        h_sleep_ms(300);
    }
    if (h_stat(&x->f->d, "fleet_stores") <= stores)
        fail_msg("no copy reached the fleet within 20 s of memcached's restart");
    H_PASS(x->f);
}

/* Three hosts miss the same files at once: each file is read from the
 * source by one of them (the one holding its lease); the others wait for
 * that copy. */
static void test_one_load_per_fleet(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    make_files(x);
    struct h_daemon *hosts[3] = {&x->f->d, &x->b, &x->c};
    const char *argv[NFILES + 2];
    argv[0] = "cat";
    for (int i = 0; i < NFILES; i++)
        argv[i + 1] = h_xstrdup(fleet_file(x, i));
    argv[NFILES + 1] = NULL;
    struct h_proc p[3];
    for (int h = 0; h < 3; h++)
        assert_int_equal(h_start(&p[h], env_for(x, hosts[h]), argv), 0);
    for (int h = 0; h < 3; h++) {
        struct h_result r;
        assert_int_equal(h_finish(&p[h], &r, 30000), 0);
        h_result_free(&r);
    }
    long long source = 0, fleet = 0, waits = 0;
    for (int h = 0; h < 3; h++) {
        if (h_wait_stat_ge(hosts[h], "loads", NFILES, 15000) < NFILES)
            fail_msg("host %d loaded %lld of %d files", h, h_stat(hosts[h], "loads"), NFILES);
        source += h_stat(hosts[h], "source_loads");
        fleet += h_stat(hosts[h], "fleet_hits");
        waits += h_stat(hosts[h], "fleet_waits");
    }
    print_message("    3 hosts, %d files missed at once: %lld loads from the source, %lld from "
                  "the fleet, %lld waits for another host's copy\n", NFILES, source, fleet, waits);
    /* each file once from the source, the other two copies from the fleet
     * (without the lease: up to 3 times each). A waiter whose 1 s ran out
     * reads the source: allowed twice, for a loaded machine */
    if (source < NFILES || source > NFILES + 2 || source + fleet != 3 * NFILES)
        fail_msg("%lld loads from the source and %lld from the fleet for %d files on 3 hosts",
                 source, fleet, NFILES);
    for (int h = 0; h < 3; h++)
        pass(x, hosts[h], "every host after the stampede");
    for (int i = 0; i < NFILES; i++)
        free((char *)argv[i + 1]);
    H_PASS(x->f);
}

/* A fleet of two servers, one of them SIGKILLed after host A stored every
 * copy: the keys are spread over both (ketama), so host B finds some
 * copies, loses others with the dead server (an error, or a part missing
 * once the server is left out), and serves the right bytes of every file;
 * nothing in between is counted a copy. */
static void test_two_servers_one_dies(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    char sock2[H_PATH_MAX];
    snprintf(sock2, sizeof sock2, "%.3000s/mc2.sock", x->f->tmp);
    struct h_proc mc2;
    h_memcached_start(&mc2, sock2);
    const char *servers = h_xstrdup(h_fmt("%s,%s", x->sock, sock2));
    const char *args[] = {"--settle-ms", "0", "--capacity", "64M", "--log-level", "debug",
                          "--fleet", servers, "--fleet-key", x->key, NULL};
    struct h_daemon a2, b2;
    h_daemon_init(&a2, h_fmt("%s/shmd-a2.log", x->f->tmp), args);
    h_daemon_init(&b2, h_fmt("%s/shmd-b2.log", x->f->tmp), args);
    assert_int_equal(h_daemon_start(&a2), 0);
    assert_int_equal(h_daemon_start(&b2), 0);
    make_files(x);
    pass(x, &a2, "host A over two servers");
    if (h_wait_stat_ge(&a2, "fleet_stores", NFILES, 15000) < NFILES)
        fail_msg("host A stored %lld of %d copies over two servers", h_stat(&a2, "fleet_stores"),
                 NFILES);
    h_memcached_kill(&mc2);
    pass(x, &b2, "host B, one of two servers dead");
    if (h_wait_stat_ge(&b2, "loads", NFILES, 30000) < NFILES)
        fail_msg("host B loaded %lld of %d files", h_stat(&b2, "loads"), NFILES);
    long long hits = h_stat(&b2, "fleet_hits"), src = h_stat(&b2, "source_loads");
    print_message("    one of two servers dead: %lld copies from the fleet, %lld from the source, "
                  "%lld errors, %lld refused\n", hits, src, h_stat(&b2, "fleet_errors"),
                  h_stat(&b2, "fleet_rejected"));
    assert_int_equal(hits + src, NFILES);
    assert_true(h_stat(&b2, "fleet_errors") > 0); /* the dead server was noticed */
    assert_true(src > 0);
    pass(x, &b2, "host B, hits");
    h_daemon_cleanup(&a2);
    h_daemon_cleanup(&b2);
    free((char *)servers);
    H_PASS(x->f);
}

/* A host joining the fleet warms from its manifest before it takes
 * traffic: every file host A stored is fetched from the fleet (no byte
 * from the source), a forged manifest entry is refused and counted, a
 * listed file gone from the source is skipped; and the program's opens
 * after that are hits. */
static void test_warm_from_fleet(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    struct h_result r;
    /* before any copy: an empty manifest, said so, exit 1 */
    int code = h_shmd_cmd(&x->c, &r, H_ARGV("warm", "--from-fleet"));
    if (code != 1 || !strstr(r.err, "manifest is empty"))
        fail_msg("warm --from-fleet on an empty fleet: exit %d: %s%s", code, r.out, r.err);
    h_result_free(&r);
    fill_fleet(x);
    /* host A's program also lists fl/ and looks for a file that is not
     * there: recorded on A, noted in the manifest ('L', 'M') */
    const char *absent = h_fmt("%s/fl/absent.txt", x->f->src);
    char *absent_path = h_xstrdup(absent);
    for (int round = 0; round < 2; round++) {
        h_run(&r, env_for(x, &x->f->d), H_ARGV("sh", "-c", "ls \"$1\" >/dev/null; "
                                               "test -e \"$2\" || echo none", "sh",
                                               h_fmt("%s/fl", x->f->src), absent_path), 30000);
        h_assert_ok(&r, "host A: ls and test -e");
        assert_string_equal(r.out, "none\n");
        h_result_free(&r);
        if (h_wait_stat_ge(&x->f->d, "meta_loads", 2, 15000) < 2)
            fail_msg("host A recorded %lld metadata entries", h_stat(&x->f->d, "meta_loads"));
    }
    /* a forged entry: a path with a MAC made without the secret */
    memcached_st *m = mc_client(x);
    char name[64], junk[200];
    unsigned char secret[crypto_generichash_KEYBYTES], h[16];
    fleet_secret(x, secret);
    crypto_generichash_state st;
    static const char domain[] = "shmcache fleet manifest v1";
    crypto_generichash_init(&st, secret, sizeof secret, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)domain, sizeof domain);
    crypto_generichash_update(&st, (const unsigned char *)"", 1);
    crypto_generichash_final(&st, h, sizeof h);
    memcpy(name, "shmc1:", 6);
    sodium_bin2hex(name + 6, 33, h, sizeof h);
    strcpy(name + 38, ":m0");
    int jl = snprintf(junk, sizeof junk, "%032d%s/fl/forged.bin", 0, x->f->src);
    assert_int_equal(h_write_str(h_fmt("%s/fl/forged.bin", x->f->src), "forged\n"), 0);
    assert_int_equal(memcached_append(m, name, strlen(name), junk, (size_t)jl + 1, 0, 0),
                     MEMCACHED_SUCCESS);
    memcached_free(m);
    /* a listed file removed from the source since */
    assert_int_equal(unlink(fleet_file(x, 5)), 0);

    h_sleep_ms(300); /* host A's manifest batch (appended in the background) */
    assert_int_equal(h_shmd_cmd(&x->c, &r, H_ARGV("warm", "--from-fleet")), 0);
    /* listed: the 12 copies, and at least fl/'s listing and absent.txt */
    const char *said = strstr(r.out, "manifest listed ");
    if (!said || atoi(said + 16) < NFILES + 2 ||
        !strstr(said, "paths; 11 files copied from the fleet, 0 read from the source"))
        fail_msg("warm --from-fleet said:\n%s%s", r.out, r.err);
    assert_non_null(strstr(r.err, "skipped unreadable"));
    h_result_free(&r);
    assert_int_equal(h_stat(&x->c, "fleet_hits"), NFILES - 1);
    assert_int_equal(h_stat(&x->c, "source_loads"), 0);
    assert_int_equal(h_stat(&x->c, "fleet_rejected"), 1); /* the forged entry */
    assert_int_equal(h_stat(&x->c, "misses"), 0);
    /* host C now serves the program's first opens from its tier */
    for (int i = 0; i < NFILES; i++)
        if (i != 5)
            read_check(x, &x->c, i, "host C after warm --from-fleet");
    assert_int_equal(h_stat(&x->c, "hits"), NFILES - 1);
    assert_int_equal(h_stat(&x->c, "misses"), 0);
    /* and its listing and "does not exist", recorded from C's own source */
    h_run(&r, env_for(x, &x->c), H_ARGV("sh", "-c", "ls \"$1\" | wc -l; test -e \"$2\" || "
                                        "echo none", "sh", h_fmt("%s/fl", x->f->src),
                                        absent_path), 30000);
    h_assert_ok(&r, "host C: ls and test -e");
    assert_string_equal(r.out, h_fmt("%d\nnone\n", NFILES));
    h_result_free(&r);
    assert_int_equal(h_stat(&x->c, "dir_hits"), 1);
    assert_int_equal(h_stat(&x->c, "negative_hits"), 1);
    free(absent_path);
    /* a daemon without a fleet says so */
    struct h_daemon plain;
    plain_start(x, &plain);
    code = h_shmd_cmd(&plain, &r, H_ARGV("warm", "--from-fleet"));
    if (code != 1 || !strstr(r.err, "without --fleet"))
        fail_msg("warm --from-fleet without a fleet: exit %d: %s%s", code, r.out, r.err);
    h_result_free(&r);
    h_daemon_cleanup(&plain);
    H_PASS(x->f);
}

static void expect_bad(const char *const *argv, int want_code, const char *want)
{
    struct h_result r;
    int code = h_run(&r, NULL, argv, 10000);
    if (code != want_code || !strstr(r.err, want))
        fail_msg("%s %s: exit %d, expected %d with \"%s\":\n%s", argv[1], argv[2], code,
                 want_code, want, r.err);
    h_result_free(&r);
}

static void test_bad_fleet_options(void **state)
{
    struct fleet_fix *x = *state;
    if (!x)
        skip();
    char d[64];
    const char *s = h_shmd();
    snprintf(d, sizeof d, "/dev/shm/shmcache-test-fleetbad-%d", (int)getpid());
    expect_bad(H_ARGV(s, "--dir", d, "--fleet", x->sock), 2, "--fleet needs --fleet-key");
    expect_bad(H_ARGV(s, "--dir", d, "--fleet-key", x->key), 2, "without --fleet");
    expect_bad(H_ARGV(s, "--dir", d, "--fleet", "nohost", "--fleet-key", x->key), 1,
               "expected host:port");
    const char *weak = h_fmt("%s/weak.key", x->f->tmp);
    assert_int_equal(h_write_str(weak, "0123456789abcdef0123\n"), 0);
    assert_int_equal(chmod(weak, 0644), 0);
    expect_bad(H_ARGV(s, "--dir", d, "--fleet", x->sock, "--fleet-key", weak), 1,
               "readable by others");
    assert_int_equal(chmod(weak, 0600), 0);
    assert_int_equal(h_write_str(weak, "short\n"), 0);
    expect_bad(H_ARGV(s, "--dir", d, "--fleet", x->sock, "--fleet-key", weak), 1, "bytes");
    h_kill_instance(d);
    h_rm_rf(d);
    H_PASS(x->f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_second_host_served_from_fleet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_values_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_source_new_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memcached_stopped_then_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_load_per_fleet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_open_served_after_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cold_fleet_not_waited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_fleet_no_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warm_from_fleet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_servers_one_dies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_fleet_options, setup, teardown),
    };
    return cmocka_run_group_tests_name("integration: the fleet tier on memcached", tests,
                                       h_group_setup, h_group_teardown);
}
