/* test_pressure.c - capacity pressure: ten times more data than the tier
 * may hold, cycled through it.
 *   - a real daemon with 2 MiB of capacity and 20 MiB of files read over
 *     and over: every read is right, and neither the daemon's accounting
 *     nor the objects really in its directory (sampled while the reads
 *     run) ever exceed the capacity;
 *   - the same daemon under a Zipf workload (s = 1): the hit ratio it
 *     reaches, with loads happening on misses as in production;
 *   - whether the eviction keeps the hot set: shmd's own writer (shmd/
 *     store.c, linked in as it is built for shmd) driven by Zipf
 *     request streams over 10x its capacity, evicting by its CLOCK, by
 *     random choice and by exact LRU, for s = 0.8, 1.0 and 1.2; CLOCK must
 *     beat random eviction and come close to LRU. The numbers are printed
 *     (the README and the hardening report quote them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmd/store.h" /* the daemon's writer, for the eviction simulation */
#include "tests/lib/harness.h"
#include "tier/atomic.h"
#include "tier/hash.h"
#include "tier/index.h"

/* ---- Zipf without libm --------------------------------------------------------------- */
static double ln(double x)
{
    int k = 0;
    while (x >= 2) {
        x /= 2;
        k++;
    }
    while (x < 1) {
        x *= 2;
        k--;
    }
    double y = (x - 1) / (x + 1), y2 = y * y, t = y, sum = 0;
    for (int n = 1; n < 80; n += 2) {
        sum += t / n;
        t *= y2;
    }
    return 2 * sum + k * 0.6931471805599453;
}

static double ex(double x)
{
    int k = 0;
    while (x > 0.5) {
        x -= 0.6931471805599453;
        k++;
    }
    while (x < -0.5) {
        x += 0.6931471805599453;
        k--;
    }
    double term = 1, sum = 1;
    for (int n = 1; n < 40; n++) {
        term *= x / n;
        sum += term;
    }
    for (; k > 0; k--)
        sum *= 2;
    for (; k < 0; k++)
        sum /= 2;
    return sum;
}

struct zipf {
    double *cdf;
    unsigned n;
    uint64_t x;
};

static void zipf_init(struct zipf *z, unsigned n, double s, uint64_t seed)
{
    double sum = 0;
    z->cdf = malloc(sizeof *z->cdf * n);
    assert_non_null(z->cdf);
    z->n = n;
    z->x = seed | 1;
    for (unsigned i = 0; i < n; i++)
        z->cdf[i] = sum += ex(-s * ln(i + 1.0));
    for (unsigned i = 0; i < n; i++)
        z->cdf[i] /= sum;
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static unsigned zipf_next(struct zipf *z)
{
    double u = (double)(xorshift(&z->x) >> 11) / 9007199254740992.0;
    unsigned lo = 0, hi = z->n - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- a real daemon under 10x pressure ------------------------------------------------ */
#define CAPACITY (2u << 20)
#define NFILES 80
#define FILE_SIZE (256u << 10)

static const char *const pressure_args[] = {"--settle-ms", "0", "--revalidate-ms", "1000",
                                            "--capacity", "2M", "--max-file", "256K",
                                            "--log-level", "info", NULL};

static int setup_pressure(void **state)
{
    return h_fix_new(state, pressure_args, true) ? 0 : -1;
}

static void test_capacity_never_exceeded(void **state)
{
    struct h_fix *f = *state;
    static struct h_file files[NFILES];
    static char names[NFILES][32];
    static char paths[NFILES][H_PATH_MAX];
    const char *argv[3 * NFILES + 2];
    int k = 0;

    for (int i = 0; i < NFILES; i++) {
        snprintf(names[i], sizeof names[i], "p/f%02d.bin", i);
        files[i] = (struct h_file){names[i], FILE_SIZE, 500u + (unsigned)i, false};
        snprintf(paths[i], sizeof paths[i], "%s", h_src(f, names[i]));
    }
    assert_int_equal(h_make_tree(f->src, files, NFILES), 0);
    argv[k++] = h_probe();
    for (int i = 0; i < NFILES; i++) {
        if (i)
            argv[k++] = "+";
        argv[k++] = "cat";
        argv[k++] = paths[i];
    }
    argv[k] = NULL;

    long long max_memory = 0, max_objects = 0, samples = 0;
    for (int round = 0; round < 4; round++) {
        struct h_proc p;
        struct h_result r;
        assert_int_equal(h_start(&p, h_shim_env(f, NULL), argv), 0);
        /* sample while the reads (and the loads they cause) run */
        int status = -1;
        for (int i = 0; i < 200000; i++) {
            long long mem = i % 16 ? 0 : h_stat(&f->d, "memory"); /* a command: slower */
            long long obj = h_objects_bytes(f->d.dir, NULL);
            max_memory = mem > max_memory ? mem : max_memory;
            max_objects = obj > max_objects ? obj : max_objects;
            samples++;
            if (waitpid(p.pid, &status, WNOHANG) == p.pid) {
                p.pid = 0; /* reaped: h_finish only collects the output */
                break;
            }
        }
        h_finish(&p, &r, 60000);
        if (status != -1 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            fail_msg("reading 10x the capacity: status 0x%x; stderr:\n%s", status, r.err);
        if (status == -1)
            h_assert_ok(&r, "reading 10x the capacity");
        assert_int_equal(r.out_len, (size_t)NFILES * FILE_SIZE);
        for (int i = 0; i < NFILES; i++) {
            unsigned char *want = h_file_bytes(&files[i]);
            h_assert_bytes(r.out + (size_t)i * FILE_SIZE, FILE_SIZE, want, FILE_SIZE,
                           h_fmt("round %d, %s", round, names[i]));
            free(want);
        }
        h_result_free(&r);
    }
    struct h_stats s;
    assert_int_equal(h_stats(&f->d, &s), 0);
    print_message("    %lld samples: at most %lld bytes accounted, %lld bytes of objects in the "
                  "directory (capacity %u); %lld loads, %lld evictions\n", samples, max_memory,
                  max_objects, CAPACITY, s.loads, s.evictions);
    if (max_memory > CAPACITY || max_objects > CAPACITY)
        fail_msg("the tier held more than its capacity: %lld accounted, %lld in objects",
                 max_memory, max_objects);
    assert_true(s.evictions > 0);
    assert_true(s.loads > NFILES);
    H_PASS(f);
}

/* ---- the daemon's hit ratio under a Zipf workload ---------------------------------------- */
#define ZIPF_FILES 400
#define ZIPF_OPENS 20000

static void test_zipf_hit_ratio_live(void **state)
{
    struct h_fix *f = *state;
    static char dir[H_PATH_MAX], seqfile[H_PATH_MAX]; /* h_fmt's buffers rotate */
    static uint16_t seq[ZIPF_OPENS];
    static char body[48 * 1024];
    struct zipf z;
    struct h_result r;

    snprintf(dir, sizeof dir, "%.4000s/z", f->src);
    snprintf(seqfile, sizeof seqfile, "%.4000s/zipf.seq", f->tmp);
    /* 400 files of 48 KiB (12 pages of tmpfs each) = 18.75 MiB, 9.4x the capacity */
    assert_int_equal(h_mkdirs(dir, 0755), 0);
    for (unsigned i = 0; i < ZIPF_FILES; i++) {
        int n = snprintf(body, sizeof body, "zipf file %04u\n", i);
        memset(body + n, 'a' + (char)(i % 26), sizeof body - (size_t)n);
        assert_int_equal(h_write_file(h_fmt("%s/z%04u", dir, i), body, sizeof body), 0);
    }
    zipf_init(&z, ZIPF_FILES, 1.0, 42);
    for (unsigned i = 0; i < ZIPF_OPENS; i++)
        seq[i] = (uint16_t)zipf_next(&z);
    free(z.cdf);
    assert_int_equal(h_write_file(seqfile, seq, sizeof seq), 0);

    long long tier = 0, opens = 0;
    for (int round = 0; round < 2; round++) { /* the first warms the tier */
        h_shim(f, &r, NULL, H_ARGV(h_helper("zipf"), dir, seqfile, f->d.dir));
        h_assert_ok(&r, "zipf reader");
        assert_int_equal(h_word_num(r.out, "bad"), 0);
        opens = h_word_num(r.out, "opens");
        tier = h_word_num(r.out, "tier");
        h_result_free(&r);
    }
    long long mem = h_stat(&f->d, "memory");
    print_message("    live daemon, Zipf s=1.0 over %u files (%.1fx the capacity): hit ratio %.3f "
                  "(%lld of %lld opens), memory %lld\n", ZIPF_FILES,
                  (double)ZIPF_FILES * sizeof body / CAPACITY, (double)tier / (double)opens, tier,
                  opens, mem);
    assert_true(mem <= CAPACITY);
    assert_true(tier > 0);
    H_PASS(f);
}

/* ---- CLOCK, random and LRU eviction over shmd's own writer ---------------------------------- */
enum policy { CLOCK, RANDOM, LRU };

#define SIM_FILES 2000
#define SIM_CAP 200          /* files (pages) of capacity: 10x less than the data */
#define SIM_REQUESTS 300000
#define SIM_WARMUP 30000

static double simulate(enum policy pol, double s, uint64_t seed)
{
    char dir[] = "/dev/shm/shmcache-sim-XXXXXX";
    struct store st;
    struct store_params p = {.slots = 4096, .capacity = SIM_CAP * (uint64_t)TIER_PAGE,
                             .max_file = TIER_PAGE, .revalidate_ms = 0, .settle_ms = 0};
    static char keys[SIM_FILES][32];
    static uint64_t hashes[SIM_FILES];
    static uint64_t last_use[4096];
    struct zipf z;
    uint64_t x = seed * 7 + 1, hits = 0, counted = 0;

    assert_non_null(mkdtemp(dir));
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    assert_int_equal(store_create(&st, dirfd, &p), 0);
    for (unsigned i = 0; i < SIM_FILES; i++) {
        memset(keys[i], 0, sizeof keys[i]);
        snprintf(keys[i], sizeof keys[i], "/sim/file-%05u", i);
        hashes[i] = tier_hash(st.view.hash_seed, keys[i], strlen(keys[i]));
    }
    memset(last_use, 0, sizeof last_use);
    zipf_init(&z, SIM_FILES, s, seed);
    for (uint64_t t = 1; t <= SIM_REQUESTS; t++) {
        unsigned i = zipf_next(&z);
        size_t len = strlen(keys[i]);
        struct tier_entry e;
        if (tier_lookup(&st.view, keys[i], len, hashes[i], &e) == TIER_HIT) {
            tier_touch(&st.view, e.record); /* what a shim does on a hit */
            last_use[e.record] = t;
            hits += t > SIM_WARMUP;
        } else {
            /* a miss: the daemon loads the file, evicting as its policy says */
            while (pol != CLOCK && st.hdr->memory + TIER_PAGE > st.hdr->capacity) {
                uint32_t n = store_records_hi(&st), victim = UINT32_MAX;
                if (pol == RANDOM) {
                    for (uint32_t r = (uint32_t)(xorshift(&x) % n), k = 0; k < n; k++, r = (r + 1) % n)
                        if (st.records[r].object_id) {
                            victim = r;
                            break;
                        }
                } else {
                    for (uint32_t r = 0; r < n; r++)
                        if (st.records[r].object_id &&
                            (victim == UINT32_MAX || last_use[r] < last_use[victim]))
                            victim = r;
                }
                store_remove(&st, victim);
            }
            int rec = store_reserve(&st, TIER_PAGE);
            assert_true(rec >= 0);
            struct store_obj o = {
                .record = (uint32_t)rec, .id = store_new_id(&st),
                .epoch = load_acquire(&st.view.marks->epoch),
                .gen = load_acquire(&st.view.gens[hashes[i] & st.view.bucket_mask]),
                .st = {.size = TIER_PAGE, .mode = 0100644},
            };
            assert_true(store_put(&st, keys[i], len, hashes[i], &o) >= 0);
            last_use[rec] = t;
        }
        counted += t > SIM_WARMUP;
        if (st.hdr->memory > st.hdr->capacity)
            fail_msg("the simulated tier holds %llu bytes, above its capacity",
                     (unsigned long long)st.hdr->memory);
    }
    assert_null(store_validate(&st));
    store_destroy(&st, true);
    close(dirfd);
    rmdir(dir);
    free(z.cdf);
    return (double)hits / (double)counted;
}

static void test_clock_keeps_hot_set(void **state)
{
    (void)state;
    static const double skews[] = {0.8, 1.0, 1.2};
    print_message("    %u files, capacity %u (10%%), %u requests after %u of warm-up:\n", SIM_FILES,
                  SIM_CAP, SIM_REQUESTS - SIM_WARMUP, SIM_WARMUP);
    print_message("    zipf s   CLOCK (shmd)   random    LRU     best static\n");
    for (size_t k = 0; k < sizeof skews / sizeof *skews; k++) {
        double s = skews[k];
        double clock = simulate(CLOCK, s, 1000 + k);
        double rnd = simulate(RANDOM, s, 1000 + k);
        double lru = simulate(LRU, s, 1000 + k);
        struct zipf z;
        zipf_init(&z, SIM_FILES, s, 1);
        double best = z.cdf[SIM_CAP - 1];
        free(z.cdf);
        print_message("    %.1f      %.4f         %.4f    %.4f    %.4f\n", s, clock, rnd, lru, best);
        if (clock < rnd + 0.01)
            fail_msg("s=%.1f: CLOCK's hit ratio %.4f is not above random eviction's %.4f", s, clock,
                     rnd);
        if (clock < lru - 0.03)
            fail_msg("s=%.1f: CLOCK's hit ratio %.4f is far below LRU's %.4f", s, clock, lru);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_capacity_never_exceeded, setup_pressure,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_zipf_hit_ratio_live, setup_pressure, h_fix_teardown),
        cmocka_unit_test(test_clock_keeps_hot_set),
    };
    return cmocka_run_group_tests_name("integration: capacity pressure", tests, h_group_setup,
                                       h_group_teardown);
}
