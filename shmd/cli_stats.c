/* cli_stats.c - what an operator reads: `shmd stats` (an aligned table,
 * --json, --prometheus for a textfile collector, --watch refreshing once a
 * second) and `shmd ls` (size, age, hits, path; --sort; --json).
 *
 * The daemon answers "key value" lines (stats) and "size age_ms hits path"
 * lines (ls, paths with '\\' and control bytes escaped as \\\\ and \\xNN);
 * all presentation is here. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "tier/config.h"
#include "tier/path.h"

#define KV_MAX 64

struct kv {
    char key[64];
    char val[TIER_PATH_MAX];
};

struct snapshot {
    struct kv kv[KV_MAX];
    int n;
};

static int fetch(const char *dir, struct snapshot *s)
{
    char line[TIER_PATH_MAX + 80];
    FILE *f = cli_request(dir, "stats", NULL, 0, false);

    if (!f)
        return -1;
    s->n = 0;
    while (s->n < KV_MAX && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (!sp || sp - line >= (long)sizeof s->kv[0].key)
            continue;
        size_t klen = (size_t)(sp - line), vlen = strlen(sp + 1);
        if (vlen >= sizeof s->kv[0].val)
            continue;
        memcpy(s->kv[s->n].key, line, klen);
        s->kv[s->n].key[klen] = '\0';
        memcpy(s->kv[s->n].val, sp + 1, vlen + 1);
        s->n++;
    }
    fclose(f);
    return 0;
}

static const char *str(const struct snapshot *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->kv[i].key, key) == 0)
            return s->kv[i].val;
    return "";
}

static uint64_t num(const struct snapshot *s, const char *key)
{
    return strtoull(str(s, key), NULL, 10);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void print_json(const struct snapshot *s)
{
    printf("{");
    for (int i = 0; i < s->n; i++) {
        printf("%s", i ? ", " : "");
        json_string(stdout, s->kv[i].key);
        printf(": ");
        if (all_digits(s->kv[i].val))
            printf("%s", s->kv[i].val);
        else
            json_string(stdout, s->kv[i].val);
    }
    printf("}\n");
}

/* The Prometheus text exposition format, for node_exporter's textfile
 * collector: one family per counter, the instance directory as a label. */
static void print_prometheus(const struct snapshot *s)
{
    static const struct {
        const char *key, *name, *type, *help;
    } m[] = {
        {"hits", "hits_total", "counter", "Opens served from the tier."},
        {"misses", "misses_total", "counter", "Opens under a prefix served by the source."},
        {"entries", "entries", "gauge", "Files in the tier."},
        {"bytes", "bytes", "gauge", "Sum of the sizes of the files in the tier."},
        {"memory", "memory_bytes", "gauge", "tmpfs memory the copies occupy."},
        {"capacity", "capacity_bytes", "gauge", "Most memory the copies may occupy."},
        {"loads", "loads_total", "counter", "Files copied into the tier."},
        {"evictions", "evictions_total", "counter", "Entries dropped to make room."},
        {"invalidations", "invalidations_total", "counter", "Entries dropped because the source changed."},
        {"misses_received", "misses_received_total", "counter", "Miss notices received by the daemon."},
        {"misses_unsent", "misses_unsent_total", "counter", "Miss notices the socket queue refused."},
        {"misses_dropped", "misses_dropped_total", "counter", "Miss notices dropped with the load queue full."},
        {"bad_messages", "bad_messages_total", "counter", "Malformed notices and requests."},
    };
    char label[TIER_PATH_MAX * 2 + 16];
    const char *dir = str(s, "dir");
    size_t k = 0;

    /* label values escape \, " and newline */
    for (const char *p = dir; *p && k + 3 < sizeof label; p++) {
        if (*p == '\\' || *p == '"')
            label[k++] = '\\';
        if (*p == '\n') {
            label[k++] = '\\';
            label[k++] = 'n';
            continue;
        }
        label[k++] = *p;
    }
    label[k] = '\0';
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        printf("# HELP shmcache_%s %s\n# TYPE shmcache_%s %s\nshmcache_%s{dir=\"%s\"} %llu\n",
               m[i].name, m[i].help, m[i].name, m[i].type, m[i].name, label,
               (unsigned long long)num(s, m[i].key));
    printf("# HELP shmcache_load_failures_total Files not admitted, by reason.\n"
           "# TYPE shmcache_load_failures_total counter\n");
    for (int i = 0; i < s->n; i++)
        if (strncmp(s->kv[i].key, "fail_", 5) == 0)
            printf("shmcache_load_failures_total{dir=\"%s\",reason=\"%s\"} %s\n", label,
                   s->kv[i].key + 5, s->kv[i].val);
    printf("# HELP shmcache_uptime_seconds Seconds since the daemon started.\n"
           "# TYPE shmcache_uptime_seconds gauge\nshmcache_uptime_seconds{dir=\"%s\"} %llu\n",
           label, (unsigned long long)(num(s, "uptime_ms") / 1000));
}

static void print_ratio(const char *label, uint64_t hits, uint64_t misses)
{
    if (hits + misses)
        printf("%-15s %.1f%%\n", label, 100.0 * (double)hits / (double)(hits + misses));
    else
        printf("%-15s -\n", label);
}

/* The table. prev, when given, is the snapshot a second ago: rates. */
static void print_table(const struct snapshot *s, const struct snapshot *prev)
{
    char a[32], b[32];
    uint64_t hits = num(s, "hits"), misses = num(s, "misses");
    uint64_t mem = num(s, "memory"), cap = num(s, "capacity");
    uint64_t up = num(s, "uptime_ms") / 1000;

    printf("%-15s %s (pid %s, up %lluh%02llum%02llus)\n", "instance", str(s, "dir"), str(s, "pid"),
           (unsigned long long)(up / 3600), (unsigned long long)(up / 60 % 60),
           (unsigned long long)(up % 60));
    printf("%-15s %llu\n", "entries", (unsigned long long)num(s, "entries"));
    printf("%-15s %s of %s (%.1f%%)\n", "memory", config_format_size(mem, a, sizeof a),
           config_format_size(cap, b, sizeof b), cap ? 100.0 * (double)mem / (double)cap : 0.0);
    printf("%-15s %s\n", "bytes", config_format_size(num(s, "bytes"), a, sizeof a));
    printf("%-15s %llu\n", "hits", (unsigned long long)hits);
    printf("%-15s %llu\n", "misses", (unsigned long long)misses);
    print_ratio("hit ratio", hits, misses);
    if (prev) {
        uint64_t dh = hits - num(prev, "hits"), dm = misses - num(prev, "misses");
        printf("%-15s %llu hits/s, %llu misses/s\n", "last second", (unsigned long long)dh,
               (unsigned long long)dm);
        print_ratio("  hit ratio", dh, dm);
    }
    printf("%-15s %llu\n", "loads", (unsigned long long)num(s, "loads"));
    printf("%-15s %llu\n", "load failures", (unsigned long long)num(s, "load_failures"));
    for (int i = 0; i < s->n; i++)
        if (strncmp(s->kv[i].key, "fail_", 5) == 0 && strcmp(s->kv[i].val, "0") != 0)
            printf("  %-13s %s\n", s->kv[i].key + 5, s->kv[i].val);
    printf("%-15s %llu\n", "evictions", (unsigned long long)num(s, "evictions"));
    printf("%-15s %llu\n", "invalidations", (unsigned long long)num(s, "invalidations"));
    if (num(s, "misses_unsent") || num(s, "misses_dropped"))
        printf("%-15s %llu unsent, %llu dropped\n", "lost notices",
               (unsigned long long)num(s, "misses_unsent"),
               (unsigned long long)num(s, "misses_dropped"));
}

int cli_stats(int argc, char **argv)
{
    struct cli c;
    static struct snapshot cur, prev;
    bool tty = isatty(STDOUT_FILENO);

    int r = cli_opts("stats", argc, argv, &c, CLI_JSON | CLI_PROMETHEUS | CLI_WATCH);
    if (r)
        return r == 1 ? 0 : r;
    if (optind < argc)
        return cli_usage_error("stats", "takes no operands");
    for (long i = 0; !c.count || i < c.count; i++) {
        if (i) {
            struct timespec second = {1, 0};
            nanosleep(&second, NULL);
            prev = cur;
        }
        if (fetch(c.dir, &cur) < 0)
            return 1;
        if (c.json) {
            print_json(&cur);
        } else if (c.prometheus) {
            print_prometheus(&cur);
        } else {
            if (c.watch && tty)
                printf("\033[H\033[J"); /* home, clear: redraw in place */
            else if (i)
                printf("\n");
            print_table(&cur, i ? &prev : NULL);
        }
        fflush(stdout);
        if (!c.watch)
            break;
    }
    return 0;
}

/* ---- ls -------------------------------------------------------------------- */

struct entry {
    uint64_t size, age_ms, hits;
    char *path;                 /* as the daemon escaped it */
};

static const char *g_sort;

static int by_key(const void *pa, const void *pb)
{
    const struct entry *a = pa, *b = pb;
    uint64_t x, y;

    if (strcmp(g_sort, "path") == 0)
        return strcmp(a->path, b->path);
    if (strcmp(g_sort, "size") == 0)
        x = a->size, y = b->size;
    else if (strcmp(g_sort, "age") == 0)
        x = a->age_ms, y = b->age_ms;
    else
        x = a->hits, y = b->hits;
    return x < y ? 1 : x > y ? -1 : strcmp(a->path, b->path); /* biggest first */
}

/* Undo the daemon's escapes (\\\\, \\xNN) for JSON output. */
static void unescape(const char *in, char *out)
{
    while (*in) {
        if (in[0] == '\\' && in[1] == '\\') {
            *out++ = '\\';
            in += 2;
        } else if (in[0] == '\\' && in[1] == 'x' && in[2] && in[3]) {
            char hex[3] = {in[2], in[3], 0};
            *out++ = (char)strtol(hex, NULL, 16);
            in += 4;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
}

int cli_ls(int argc, char **argv)
{
    struct cli c;
    char line[TIER_PATH_MAX * 4 + 64], a[32];
    struct entry *e = NULL;
    size_t n = 0, cap = 0;
    int rc = 1;

    int r = cli_opts("ls", argc, argv, &c, CLI_JSON | CLI_SORT);
    if (r)
        return r == 1 ? 0 : r;
    if (optind < argc)
        return cli_usage_error("ls", "takes no operands");
    g_sort = c.sort ? c.sort : "hits";
    if (strcmp(g_sort, "hits") && strcmp(g_sort, "size") && strcmp(g_sort, "age") &&
        strcmp(g_sort, "path"))
        return cli_usage_error("ls", "--sort: expected hits, size, age or path");
    FILE *f = cli_request(c.dir, "ls", NULL, 0, false);
    if (!f)
        return 1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long size, age, hits;
        int off = 0;
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%llu %llu %llu %n", &size, &age, &hits, &off) != 3 || !off)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            struct entry *ne = realloc(e, cap * sizeof *e);
            if (!ne)
                goto out;
            e = ne;
        }
        e[n] = (struct entry){size, age, hits, strdup(line + off)};
        if (!e[n].path)
            goto out;
        n++;
    }
    qsort(e, n, sizeof *e, by_key);
    if (c.json) {
        char path[TIER_PATH_MAX * 4];
        printf("[");
        for (size_t i = 0; i < n; i++) {
            unescape(e[i].path, path);
            printf("%s{\"path\": ", i ? ",\n " : "");
            json_string(stdout, path);
            printf(", \"size\": %llu, \"age_ms\": %llu, \"hits\": %llu}",
                   (unsigned long long)e[i].size, (unsigned long long)e[i].age_ms,
                   (unsigned long long)e[i].hits);
        }
        printf("]\n");
    } else {
        printf("%10s %8s %10s  %s\n", "SIZE", "AGE", "HITS", "PATH");
        for (size_t i = 0; i < n; i++)
            printf("%10s %7llus %10llu  %s\n", config_format_size(e[i].size, a, sizeof a),
                   (unsigned long long)(e[i].age_ms / 1000), (unsigned long long)e[i].hits,
                   e[i].path);
    }
    rc = 0;
out:
    fclose(f);
    for (size_t i = 0; i < n; i++)
        free(e[i].path);
    free(e);
    return rc;
}
