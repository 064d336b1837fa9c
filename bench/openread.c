/* openread.c - the micro benchmark: ns per file for
 * open + fstat + read to EOF + close, the work a web worker or an importer
 * does per file. It knows nothing of shmcache: run it with and without
 * LD_PRELOAD and compare.
 *
 *   openread [-p PASSES] [-w WARMUP] [-n FILES] LISTFILE
 *   openread -c [-n FILES] LISTFILE
 *
 * LISTFILE has one path per line; -n uses only its first FILES lines. After
 * WARMUP untimed passes, it times PASSES passes over the list and prints one
 * line:
 *   files=N passes=P bytes=B ns_per_file=X min_pass_ns_per_file=Y
 *   max_pass_ns_per_file=Z shim=S
 * where X is the median over passes, Y the fastest and Z the slowest pass,
 * and S is 1 when libshmcache.so is mapped into this process (checked once,
 * before timing, so a benchmark can prove which side of a pair it ran).
 * -c instead reads every file once, untimed, and prints
 *   files=N bytes=B digest=HEX shim=S
 * a 64-bit digest of every byte in list order, to check that a mount or
 * the tier serves exactly the origin's bytes. Exit 1 if any file could not
 * be read whole (read bytes != fstat size), so a broken setup cannot produce
 * a number. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* FNV-1a style mix over bytes; used only in -c mode (untimed). */
static uint64_t digest_add(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* One file: returns bytes read, or -1. With dg, folds the bytes (and the
 * length) into *dg. */
static long long one(const char *path, char *buf, size_t bufsz, uint64_t *dg)
{
    struct stat st;
    long long total = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t n = read(fd, buf, bufsz);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (dg)
            *dg = digest_add(*dg, (unsigned char *)buf, (size_t)n);
        total += n;
    }
    close(fd);
    if (dg)
        *dg = digest_add(*dg, (unsigned char *)&total, sizeof total);
    return total == st.st_size ? total : -1;
}

/* Is libshmcache.so mapped into this process? */
static int shim_loaded(void)
{
    char line[4200];
    int found = 0;
    FILE *m = fopen("/proc/self/maps", "r");

    if (!m)
        return -1;
    while (!found && fgets(line, sizeof line, m))
        found = strstr(line, "/libshmcache.so") != NULL;
    fclose(m);
    return found;
}

int main(int argc, char **argv)
{
    int passes = 20, warmup = 2, c, check = 0;
    long limit = -1;
    char **paths = NULL;
    size_t n = 0, cap = 0;
    char line[4200];

    while ((c = getopt(argc, argv, "p:w:n:c")) != -1) {
        if (c == 'p')
            passes = atoi(optarg);
        else if (c == 'w')
            warmup = atoi(optarg);
        else if (c == 'n')
            limit = atol(optarg);
        else if (c == 'c')
            check = 1;
        else
            return 2;
    }
    if (optind != argc - 1 || passes < 1 || warmup < 0) {
        fprintf(stderr, "usage: openread [-p PASSES] [-w WARMUP] [-n FILES] LISTFILE\n"
                        "       openread -c [-n FILES] LISTFILE\n");
        return 2;
    }
    FILE *f = fopen(argv[optind], "r");
    if (!f) {
        perror(argv[optind]);
        return 2;
    }
    while (fgets(line, sizeof line, f) && (limit < 0 || (long)n < limit)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            paths = realloc(paths, cap * sizeof *paths);
        }
        paths[n++] = strdup(line);
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "openread: empty list\n");
        return 2;
    }
    size_t bufsz = 1 << 20;
    char *buf = malloc(bufsz);
    int shim = shim_loaded();

    if (check) {
        uint64_t dg = 0xcbf29ce484222325ULL;
        long long bytes = 0;
        for (size_t i = 0; i < n; i++) {
            long long r = one(paths[i], buf, bufsz, &dg);
            if (r < 0) {
                fprintf(stderr, "openread: %s: cannot read whole file\n", paths[i]);
                return 1;
            }
            bytes += r;
        }
        printf("files=%zu bytes=%lld digest=%016llx shim=%d\n", n, bytes,
               (unsigned long long)dg, shim);
        return 0;
    }

    uint64_t *per = calloc((size_t)passes, sizeof *per);
    long long bytes = 0;

    for (int p = -warmup; p < passes; p++) {
        uint64_t t0 = now_ns();
        long long b = 0;
        for (size_t i = 0; i < n; i++) {
            long long r = one(paths[i], buf, bufsz, NULL);
            if (r < 0) {
                fprintf(stderr, "openread: %s: cannot read whole file\n", paths[i]);
                return 1;
            }
            b += r;
        }
        uint64_t t = now_ns() - t0;
        if (p >= 0) {
            per[p] = t / n;
            bytes = b;
        }
    }
    qsort(per, (size_t)passes, sizeof *per, cmp_u64);
    printf("files=%zu passes=%d bytes=%lld ns_per_file=%llu min_pass_ns_per_file=%llu "
           "max_pass_ns_per_file=%llu shim=%d\n",
           n, passes, bytes, (unsigned long long)per[passes / 2], (unsigned long long)per[0],
           (unsigned long long)per[passes - 1], shim);
    return 0;
}
