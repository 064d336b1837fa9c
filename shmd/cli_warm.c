/* cli_warm.c - `shmd warm`: load files and whole trees now, from operands,
 * a manifest (--from) or the fleet's manifest (--from-fleet: the paths
 * other hosts stored there, fetched rather than read from the source),
 * with a progress line on a terminal.
 *
 * Trees are walked here, not in the daemon: the paths sent are the names
 * the program will open (symlinks to files included, not resolved), so the
 * warmed keys are the ones the shim looks up. Directories are sent for
 * their metadata and listing, other paths that are no regular file
 * (symlinks to directories, dangling ones, fifos) for their metadata
 * (control.c: the "L" and "M" tags). The daemon loads them on its loader
 * pool and answers one line per path as each finishes. */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "shmd/units.h"
#include "tier/clock.h"
#include "tier/path.h"

#define PROGRESS_EVERY_MS 100   /* redraw the progress line at most this often */
#define NFTW_FDS 64             /* descriptors nftw may hold open */

static struct {
    char **v;
    size_t n, cap;
} g_files;

/* Queue p for the request, with tag ('\0': a file's copy; 'L', 'M'). */
static int add_path(const char *p, char tag)
{
    char key[PATH_KEY_SIZE + 1];
    if (path_normalize(p, NULL, false, key + 1, PATH_KEY_SIZE) < 0)
        return 0;
    key[0] = tag;
    if (g_files.n == g_files.cap) {
        size_t cap = g_files.cap ? g_files.cap * 2 : 256;
        char **v = realloc(g_files.v, cap * sizeof *v);
        if (!v)
            return -1;
        g_files.v = v;
        g_files.cap = cap;
    }
    if (!(g_files.v[g_files.n] = strdup(tag ? key : key + 1)))
        return -1;
    g_files.n++;
    return 0;
}

static int add_file(const char *p)
{
    return add_path(p, '\0');
}

static int walk_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    struct stat target;
    if (type == FTW_F && S_ISREG(st->st_mode))
        return add_file(p);
    if (type == FTW_SL && stat(p, &target) == 0 && S_ISREG(target.st_mode))
        return add_file(p); /* the program opens it by this name */
    if (type == FTW_D)
        return add_path(p, 'L');
    if (type == FTW_F || type == FTW_SL || type == FTW_SLN)
        return add_path(p, 'M'); /* a fifo, a symlink to a directory, a dangling one */
    return 0;
}

/* One operand: a file, or a tree to walk. Returns 0, or 1 (reported). */
static int add_operand(const char *arg)
{
    char key[PATH_KEY_SIZE];
    struct stat st;

    if (cli_operand_key(arg, key) < 0) {
        fprintf(stderr, "shmd warm: %s: not a usable path (\"..\" is not resolved)\n", arg);
        return 1;
    }
    if (stat(key, &st) < 0) {
        fprintf(stderr, "shmd warm: %s: %s\n", arg, strerror(errno));
        return 1;
    }
    if (S_ISDIR(st.st_mode)) {
        if (nftw(key, walk_one, NFTW_FDS, FTW_PHYS) != 0) {
            fprintf(stderr, "shmd warm: %s: %s\n", arg, strerror(errno));
            return 1;
        }
        return 0;
    }
    return add_file(key) < 0;
}

/* A manifest: one path per line; empty lines and lines starting with '#'
 * are skipped; "-" is standard input. */
static int add_manifest(const char *from)
{
    FILE *f = strcmp(from, "-") == 0 ? stdin : fopen(from, "r");
    char line[TIER_PATH_MAX + 2];
    int bad = 0;

    if (!f) {
        fprintf(stderr, "shmd warm: --from %s: %s\n", from, strerror(errno));
        return 1;
    }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] && line[0] != '#')
            bad |= add_operand(line);
    }
    if (f != stdin)
        fclose(f);
    return bad;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The fleet's manifest, from the daemon (control.c: fleet-manifest), each
 * entry once: "F PATH" a file, loaded as any (shmd fetches it from the
 * fleet when it holds the version this host sees); "M PATH", "L PATH"
 * its metadata, its listing, recorded from this host's own source.
 * Returns 0, or 1 (reported). */
static int add_fleet_manifest(const char *dir, size_t *listed)
{
    char line[TIER_PATH_MAX * 4 + 64], path[TIER_PATH_MAX * 4 + 64];
    size_t first = g_files.n;

    FILE *f = cli_request(dir, "fleet-manifest", NULL, 0, false);
    if (!f)
        return 1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char tag = line[0];
        if ((tag != 'F' && tag != 'M' && tag != 'L') || line[1] != ' ')
            continue;
        cli_unescape(line + 2, path);
        if (path[0] == '/' && add_path(path, tag == 'F' ? '\0' : tag) < 0) {
            fclose(f);
            fprintf(stderr, "shmd warm: out of memory\n");
            return 1;
        }
    }
    fclose(f);
    /* one load per path: the manifest lists a path once per version */
    if (g_files.n > first)
        qsort(g_files.v + first, g_files.n - first, sizeof *g_files.v, cmp_str);
    size_t out = first;
    for (size_t i = first; i < g_files.n; i++) {
        if (out > first && strcmp(g_files.v[out - 1], g_files.v[i]) == 0)
            free(g_files.v[i]);
        else
            g_files.v[out++] = g_files.v[i];
    }
    g_files.n = out;
    *listed = out - first;
    return 0;
}

static uint64_t now_ms(void)
{
    return mono_ns() / NS_PER_MS;
}

struct progress {
    bool tty;
    uint64_t start_ms, last_ms;
    uint64_t done, total, bytes;
};

static void progress_draw(struct progress *p, bool force)
{
    char a[32], b[32];
    uint64_t now = now_ms();

    if (!p->tty || (!force && now - p->last_ms < PROGRESS_EVERY_MS))
        return;
    p->last_ms = now;
    double secs = (double)(now - p->start_ms) / 1000.0;
    uint64_t rate = secs > 0 ? (uint64_t)((double)p->bytes / secs) : 0;
    unsigned width = 24, filled = p->total ? (unsigned)(p->done * width / p->total) : width;
    char bar[32];
    memset(bar, '#', filled);
    memset(bar + filled, ' ', width - filled);
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %llu/%llu paths, %s, %s/s\033[K", bar, (unsigned long long)p->done,
            (unsigned long long)p->total, units_format_size(p->bytes, a, sizeof a),
            units_format_size(rate, b, sizeof b));
}

int cli_warm(int argc, char **argv)
{
    struct cli c;
    char line[TIER_PATH_MAX * 4 + 64], a[32];
    int bad = 0;

    int r = cli_opts("warm", argc, argv, &c, CLI_FROM);
    if (r)
        return r == 1 ? 0 : r;
    if (optind >= argc && !c.from && !c.from_fleet)
        return cli_usage_error("warm", "expected PATH..., --from FILE or --from-fleet");
    size_t listed = 0;
    if (c.from_fleet && add_fleet_manifest(c.dir, &listed))
        return 1;
    if (c.from)
        bad |= add_manifest(c.from);
    for (int i = optind; i < argc; i++)
        bad |= add_operand(argv[i]);
    if (g_files.n == 0) {
        fprintf(stderr, c.from_fleet && optind >= argc && !c.from
                ? "shmd warm: the fleet's manifest is empty: no host has stored a copy yet\n"
                : "shmd warm: no files to load\n");
        return 1;
    }
    FILE *f = cli_request(c.dir, "warm", g_files.v, g_files.n, false);
    if (!f)
        return 1;
    struct progress p = {.tty = isatty(STDERR_FILENO), .start_ms = now_ms(), .total = g_files.n};
    uint64_t loaded = 0, cached = 0, skipped = 0, recorded = 0, fetched = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long size;
        p.done++;
        if (strncmp(line, "skipped ", 8) == 0) {
            skipped++;
            if (p.tty)
                fprintf(stderr, "\r\033[K");
            fprintf(stderr, "shmd warm: %s", line);
        } else if (sscanf(line, "loaded %llu", &size) == 1) {
            loaded++;
            p.bytes += size;
        } else if (sscanf(line, "fetched %llu", &size) == 1) {
            loaded++;
            fetched++;
            p.bytes += size;
        } else if (sscanf(line, "cached %llu", &size) == 1) {
            cached++;
        } else if (strncmp(line, "recorded ", 9) == 0) {
            recorded++;
        }
        progress_draw(&p, false);
    }
    fclose(f);
    if (p.tty)
        fprintf(stderr, "\r\033[K");
    printf("warmed %llu file%s (%s), %llu director%s and other paths, %llu already cached, "
           "%llu skipped\n",
           (unsigned long long)loaded, loaded == 1 ? "" : "s",
           units_format_size(p.bytes, a, sizeof a), (unsigned long long)recorded,
           recorded == 1 ? "y" : "ies", (unsigned long long)cached, (unsigned long long)skipped);
    if (c.from_fleet)
        printf("the fleet's manifest listed %zu path%s; %llu file%s copied from the fleet, "
               "%llu read from the source\n", listed, listed == 1 ? "" : "s",
               (unsigned long long)fetched, fetched == 1 ? "" : "s",
               (unsigned long long)(loaded - fetched));
    else if (fetched)
        printf("%llu of the files copied from the fleet\n", (unsigned long long)fetched);
    for (size_t i = 0; i < g_files.n; i++)
        free(g_files.v[i]);
    free(g_files.v);
    return bad;
}
