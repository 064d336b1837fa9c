/* churn.c - a writer that keeps changing a tree of files and readers that
 * check every byte they read against the versions the writer made, for the
 * fault-injection tests (tests/integration/test_fault.c).
 *
 *   churn init STATE DIR NFILES        create STATE and version 0 of every file
 *   churn write STATE SEED MS_MIN MS_MAX
 *                                      until STATE says stop: pick a file of
 *                                      the churned ones, change it, sleep
 *   churn read STATE INSTDIR [MS]      until stop (or MS ms): open and read
 *                                      every file in turn, check each read;
 *                                      print a tally line
 *   churn stop STATE                   tell writer and readers to finish
 *   churn holdwrite PATH TEXT1 READY1 GO TEXT2 READY2 DONE
 *                                      open PATH O_WRONLY|O_TRUNC, write TEXT1,
 *                                      create READY1, wait for GO to exist,
 *                                      write TEXT2, create READY2, wait for DONE,
 *                                      close: a writer that keeps its
 *                                      descriptor open across a pause
 *
 * STATE is a small file every process maps MAP_SHARED: for every file, a
 * phase counter and the last 64 versions. The writer makes version v+1 of
 * file f as: record version v+1 (kind, length, seed), phase = 2v+1 (odd:
 * changing), make the change, phase = 2v+2 (even: version v+1 complete).
 * Changes: rewrite in place (O_TRUNC, one write), replace (write NAME.new,
 * rename over), truncate to a shorter length, delete; a deleted file comes
 * back by replacement. Files below NFILES/3 are never changed (stable).
 *
 * A reader reads phase p0 before its open and p1 after its close. The read
 * is right when it equals one complete version that existed during the
 * read: some version v in [p0/2, (p1+1)/2], byte for byte (a deleted
 * version: the open failed with ENOENT). When a change overlapped the read
 * (p0 odd or p1 != p0), the file also passes through the intermediate
 * states of an in-place rewrite or a truncation: empty, or a prefix of a
 * version in the window; a read from the tier may return those (a copy
 * of the file as it was during the change), and so may a read of the file
 * itself, which can also mix old and new bytes (read(2) is not atomic
 * against a concurrent write). Those reads are counted apart ("torn"), as
 * they are what a program sees without the shim too. Anything else is
 * "bad", and described on stderr: from the tier, a version outside the
 * window (stale), a mix, another file's bytes. A read whose versions the
 * ring has already forgotten is "unverifiable" (the reader was too slow;
 * tests keep that at 0).
 *
 * Tally: "reads N ok N tier N enoent N torn N unverifiable N bad N errors N"
 * where tier counts opens whose descriptor is an object in INSTDIR and
 * errors counts failures other than ENOENT (open or read). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 64
#define RING 64
#define MAX_LEN (192 * 1024)

enum kind { K_FULL = 1, K_TRUNC = 2, K_GONE = 3 };

struct version {
    uint32_t ver;
    uint32_t kind;
    uint32_t len;           /* bytes */
    uint32_t base;          /* K_TRUNC: the full version this is a prefix of */
    uint32_t base_len;      /* and that version's length */
};

struct file_state {
    uint64_t phase;         /* 2v: version v complete; 2v+1: making v+1 */
    struct version ring[RING];
};

struct state {
    uint32_t nfiles;
    uint32_t stop;
    char dir[1024];
    uint64_t changes;
    struct file_state f[MAX_FILES];
};

static struct state *g_st;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "churn: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The bytes of full version ver of file f: a header line naming them, then
 * pseudo-random bytes. Every version differs from every other one. */
static void version_bytes(unsigned f, uint32_t ver, uint32_t len, unsigned char *out)
{
    char head[64];
    int h = snprintf(head, sizeof head, "churn file %03u version %08u length %08u\n", f, ver, len);
    for (uint32_t i = 0; i < len; i++)
        out[i] = i < (uint32_t)h ? (unsigned char)head[i]
                                 : (unsigned char)(mix(((uint64_t)f << 48) ^ ((uint64_t)ver << 20) ^ (i / 8)) >> (8 * (i % 8)));
}

/* The bytes file f holds as version w (len), or false for a deleted one. */
static bool expected(unsigned f, const struct version *w, unsigned char *out)
{
    static unsigned char base[MAX_LEN];
    if (w->kind == K_GONE)
        return false;
    if (w->kind == K_FULL) {
        version_bytes(f, w->ver, w->len, out);
        return true;
    }
    /* truncated: a prefix of a full version (whose header names its length) */
    version_bytes(f, w->base, w->base_len, base);
    memcpy(out, base, w->len);
    return true;
}

static void map_state(const char *path, bool create)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0644);
    if (fd < 0)
        die("%s: %s", path, strerror(errno));
    if (create && ftruncate(fd, sizeof(struct state)) < 0)
        die("ftruncate %s: %s", path, strerror(errno));
    g_st = mmap(NULL, sizeof(struct state), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (g_st == MAP_FAILED)
        die("mmap %s: %s", path, strerror(errno));
    close(fd);
}

static void file_path(unsigned f, char *out, size_t n, const char *suffix)
{
    snprintf(out, n, "%s/d%u/f%03u.dat%s", g_st->dir, f % 4, f, suffix);
}

static void write_all(int fd, const unsigned char *b, size_t n, const char *what)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write %s: %s", what, strerror(errno));
        b += w;
        n -= (size_t)w;
    }
}

static void write_file(const char *path, const unsigned char *b, size_t n, int flags)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0644);
    if (fd < 0)
        die("open %s: %s", path, strerror(errno));
    write_all(fd, b, n, path);
    if (close(fd) < 0)
        die("close %s: %s", path, strerror(errno));
}

static uint32_t pick_len(uint64_t r)
{
    static const uint32_t sizes[] = {0, 1, 100, 4000, 4096, 20000, 65536, 150000};
    uint32_t base = sizes[r % 8];
    return base > 200 ? base - (uint32_t)((r >> 8) % 100) : base;
}

static int cmd_init(char **a)
{
    static unsigned char buf[MAX_LEN];
    map_state(a[0], true);
    snprintf(g_st->dir, sizeof g_st->dir, "%s", a[1]);
    g_st->nfiles = (uint32_t)atoi(a[2]);
    if (g_st->nfiles < 3 || g_st->nfiles > MAX_FILES)
        die("NFILES must be 3-%d", MAX_FILES);
    for (unsigned d = 0; d < 4; d++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/d%u", g_st->dir, d);
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            die("mkdir %s: %s", p, strerror(errno));
    }
    for (unsigned f = 0; f < g_st->nfiles; f++) {
        struct version v = {0, K_FULL, pick_len(mix(f) >> 3), 0, 0};
        char p[1100];
        g_st->f[f].ring[0] = v;
        version_bytes(f, 0, v.len, buf);
        file_path(f, p, sizeof p, "");
        write_file(p, buf, v.len, O_CREAT | O_TRUNC);
    }
    return 0;
}

static int cmd_write(char **a)
{
    static unsigned char buf[MAX_LEN];
    map_state(a[0], false);
    uint64_t x = strtoull(a[1], NULL, 10) | 1;
    unsigned lo = (unsigned)atoi(a[2]), hi = (unsigned)atoi(a[3]);
    unsigned stable = g_st->nfiles / 3;

    while (!__atomic_load_n(&g_st->stop, __ATOMIC_ACQUIRE)) {
        x = mix(x);
        unsigned f = stable + (unsigned)(x % (g_st->nfiles - stable));
        struct file_state *fs = &g_st->f[f];
        uint32_t v = (uint32_t)(fs->phase / 2);
        const struct version *cur = &fs->ring[v % RING];
        struct version next = {v + 1, K_FULL, pick_len(x >> 16), 0, 0};
        unsigned op = (unsigned)((x >> 40) % 8);
        char p[1100], tmp[1100];
        file_path(f, p, sizeof p, "");
        file_path(f, tmp, sizeof tmp, ".new");

        if (cur->kind == K_GONE)
            op = 2; /* comes back by replacement */
        else if (op == 5 && cur->len < 2)
            op = 0;
        if (op == 5) { /* truncate to a shorter length */
            next.kind = K_TRUNC;
            next.len = (uint32_t)((x >> 8) % cur->len);
            next.base = cur->kind == K_TRUNC ? cur->base : cur->ver;
            next.base_len = cur->kind == K_TRUNC ? cur->base_len : cur->len;
        } else if (op == 6) {
            next.kind = K_GONE;
            next.len = 0;
        }
        fs->ring[next.ver % RING] = next;
        __atomic_store_n(&fs->phase, 2 * (uint64_t)v + 1, __ATOMIC_SEQ_CST);
        if (next.kind == K_FULL)
            version_bytes(f, next.ver, next.len, buf);
        if (op == 5) {
            if (truncate(p, (off_t)next.len) < 0)
                die("truncate %s: %s", p, strerror(errno));
        } else if (op == 6) {
            if (unlink(p) < 0)
                die("unlink %s: %s", p, strerror(errno));
        } else if (op <= 1 || op == 7) { /* in place: the same inode */
            write_file(p, buf, next.len, O_TRUNC);
        } else { /* a new inode renamed over the name */
            write_file(tmp, buf, next.len, O_CREAT | O_TRUNC);
            if (rename(tmp, p) < 0)
                die("rename %s: %s", tmp, strerror(errno));
        }
        __atomic_store_n(&fs->phase, 2 * (uint64_t)v + 2, __ATOMIC_SEQ_CST);
        __atomic_fetch_add(&g_st->changes, 1, __ATOMIC_RELAXED);
        unsigned ms = lo + (hi > lo ? (unsigned)((x >> 20) % (hi - lo + 1)) : 0);
        usleep(ms * 1000);
    }
    printf("changes %llu\n", (unsigned long long)g_st->changes);
    return 0;
}

struct tally {
    unsigned long long reads, ok, tier, enoent, torn, unverifiable, bad, errors;
};

static char g_link[4096]; /* what the last descriptor checked was */

static bool in_dir(int fd, const char *dir)
{
    char p[64];
    char *link = g_link;
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(p, link, sizeof g_link - 1);
    if (n <= 0)
        return false;
    link[n] = '\0';
    size_t dn = strlen(dir);
    return strncmp(link, dir, dn) == 0 && link[dn] == '/';
}

static void report_bad(struct tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_bad(struct tally *t, const char *fmt, ...)
{
    if (t->bad++ < 10) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "churn read[%d]: BAD ", (int)getpid());
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
    }
}

/* Check one read of file f: n bytes in got (n < 0: open failed with err),
 * from an object of the tier or from the file itself. */
static void check(struct tally *t, unsigned f, uint64_t p0, uint64_t p1, const unsigned char *got,
                  ssize_t n, int err, bool tier)
{
    static unsigned char want[MAX_LEN];
    const struct file_state *fs = &g_st->f[f];
    uint32_t vmin = (uint32_t)(p0 / 2), vmax = (uint32_t)((p1 + 1) / 2);
    bool overlap = (p0 & 1) || p1 != p0;

    if (n < 0 && err != ENOENT) {
        t->errors++;
        report_bad(t, "file %u: %s (phases %llu..%llu)", f, strerror(err),
                   (unsigned long long)p0, (unsigned long long)p1);
        return;
    }
    if (vmax - vmin >= RING - 2) {
        t->unverifiable++;
        return;
    }
    for (uint32_t v = vmin; v <= vmax; v++) {
        const struct version *w = &fs->ring[v % RING];
        if (w->ver != v) {
            t->unverifiable++;
            return;
        }
        if (n < 0) {
            if (w->kind == K_GONE) {
                t->enoent++;
                t->ok++;
                return;
            }
            continue;
        }
        if (!expected(f, w, want))
            continue;
        if ((size_t)n == w->len && memcmp(got, want, (size_t)n) == 0) {
            t->ok++;
            return;
        }
        /* a change in progress: the file passes through an empty or partly
         * written state, and an object can be a copy of that state too */
        if (overlap && (size_t)n <= w->len && memcmp(got, want, (size_t)n) == 0) {
            t->torn++;
            t->ok++;
            return;
        }
    }
    if (n >= 0 && !tier && overlap) {
        /* a read(2) of the real file racing an in-place rewrite can mix the
         * old and the new bytes: what a program sees without the shim too */
        t->torn++;
        t->ok++;
        return;
    }
    if (n < 0) {
        report_bad(t, "file %u: ENOENT, no deleted version in %u..%u (phases %llu..%llu)", f, vmin,
                   vmax, (unsigned long long)p0, (unsigned long long)p1);
        return;
    }
    char head[48] = "";
    memcpy(head, got, n < 47 ? (size_t)n : 47);
    for (char *c = head; *c; c++)
        if (*c == '\n')
            *c = ' ';
    report_bad(t, "file %u: %zd bytes \"%s\" from %s, none of the versions %u..%u (phases "
               "%llu..%llu)", f, n, head, tier ? g_link : "the file", vmin, vmax,
               (unsigned long long)p0, (unsigned long long)p1);
}

static int cmd_read(char **a, int n)
{
    static unsigned char buf[MAX_LEN + 1];
    struct tally t = {0};
    map_state(a[0], false);
    const char *inst = a[1];
    uint64_t end = n > 2 ? now_ms() + strtoull(a[2], NULL, 10) : UINT64_MAX;

    while (!__atomic_load_n(&g_st->stop, __ATOMIC_ACQUIRE) && now_ms() < end) {
        for (unsigned f = 0; f < g_st->nfiles; f++) {
            char p[1100];
            file_path(f, p, sizeof p, "");
            uint64_t p0 = __atomic_load_n(&g_st->f[f].phase, __ATOMIC_SEQ_CST);
            int fd = open(p, O_RDONLY | O_CLOEXEC);
            int err = errno;
            ssize_t got = -1;
            bool tier = false;
            if (fd >= 0) {
                tier = in_dir(fd, inst);
                t.tier += tier;
                got = 0;
                for (;;) {
                    ssize_t r = read(fd, buf + got, sizeof buf - (size_t)got);
                    if (r < 0 && errno == EINTR)
                        continue;
                    if (r < 0) {
                        err = errno;
                        got = -1;
                        break;
                    }
                    if (r == 0)
                        break;
                    got += r;
                }
                close(fd);
                if (got < 0) {
                    uint64_t p1 = __atomic_load_n(&g_st->f[f].phase, __ATOMIC_SEQ_CST);
                    t.reads++;
                    t.errors++;
                    report_bad(&t, "file %u: read: %s (phases %llu..%llu)", f, strerror(err),
                               (unsigned long long)p0, (unsigned long long)p1);
                    continue;
                }
            }
            uint64_t p1 = __atomic_load_n(&g_st->f[f].phase, __ATOMIC_SEQ_CST);
            t.reads++;
            check(&t, f, p0, p1, buf, got, err, tier);
        }
    }
    printf("reads %llu ok %llu tier %llu enoent %llu torn %llu unverifiable %llu bad %llu errors %llu\n",
           t.reads, t.ok, t.tier, t.enoent, t.torn, t.unverifiable, t.bad, t.errors);
    return 0;
}

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        die("create %s: %s", path, strerror(errno));
    close(fd);
}

static void wait_for(const char *path)
{
    uint64_t end = now_ms() + 30000;
    while (access(path, F_OK) < 0) {
        if (now_ms() > end)
            die("%s did not appear within 30 s", path);
        usleep(2000);
    }
}

static int cmd_holdwrite(char **a)
{
    int fd = open(a[0], O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        die("open %s: %s", a[0], strerror(errno));
    write_all(fd, (const unsigned char *)a[1], strlen(a[1]), a[0]);
    touch(a[2]);
    wait_for(a[3]);
    write_all(fd, (const unsigned char *)a[4], strlen(a[4]), a[0]);
    touch(a[5]);
    wait_for(a[6]);
    if (close(fd) < 0)
        die("close %s: %s", a[0], strerror(errno));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 9 && strcmp(argv[1], "holdwrite") == 0)
        return cmd_holdwrite(argv + 2);
    if (argc >= 5 && strcmp(argv[1], "init") == 0)
        return cmd_init(argv + 2);
    if (argc >= 6 && strcmp(argv[1], "write") == 0)
        return cmd_write(argv + 2);
    if (argc >= 4 && strcmp(argv[1], "read") == 0)
        return cmd_read(argv + 2, argc - 2);
    if (argc >= 3 && strcmp(argv[1], "stop") == 0) {
        map_state(argv[2], false);
        __atomic_store_n(&g_st->stop, 1, __ATOMIC_RELEASE);
        return 0;
    }
    fprintf(stderr, "usage: churn init STATE DIR NFILES | write STATE SEED MS_MIN MS_MAX |\n"
                    "       read STATE INSTDIR [MS] | stop STATE\n");
    return 2;
}
