/* cli_stats.c - `shmd stats`, the counters an operator reads: an aligned
 * table, --json, --prometheus (for node_exporter's textfile collector), and
 * --watch, refreshing once a second with rates.
 *
 * The daemon answers "key value" lines; all presentation is here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "shmd/units.h"
#include "tier/path.h"

#define KV_MAX 96

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

static void print_json(const struct snapshot *s)
{
    printf("{");
    for (int i = 0; i < s->n; i++) {
        printf("%s", i ? ", " : "");
        cli_json_string(stdout, s->kv[i].key);
        printf(": ");
        if (all_digits(s->kv[i].val))
            printf("%s", s->kv[i].val);
        else
            cli_json_string(stdout, s->kv[i].val);
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
        {"meta_hits", "meta_hits_total", "counter", "stat, access and readlink answered from the tier."},
        {"negative_hits", "negative_hits_total", "counter", "... of them, that a path does not exist."},
        {"dir_hits", "dir_hits_total", "counter", "Directory listings served from the tier."},
        {"entries", "entries", "gauge", "Entries in the tier: files, metadata, negative."},
        {"meta_entries", "meta_entries", "gauge", "Entries with a path's metadata and no copy."},
        {"negative_entries", "negative_entries", "gauge", "Entries saying a path does not exist."},
        {"dir_entries", "dir_entries", "gauge", "Directory listings in the tier."},
        {"meta_loads", "meta_loads_total", "counter", "Metadata entries recorded."},
        {"bytes", "bytes", "gauge", "Sum of the sizes of the files in the tier."},
        {"memory", "memory_bytes", "gauge", "tmpfs memory the copies occupy."},
        {"capacity", "capacity_bytes", "gauge", "Most memory the copies may occupy."},
        {"loads", "loads_total", "counter", "Files copied into the tier."},
        {"evictions", "evictions_total", "counter", "Entries dropped to make room."},
        {"invalidations", "invalidations_total", "counter", "Entries dropped because the source changed."},
        {"misses_received", "misses_received_total", "counter", "Miss notices received by the daemon."},
        {"misses_unsent", "misses_unsent_total", "counter", "Miss notices neither the socket nor the miss ring took."},
        {"misses_ringed", "misses_ringed_total", "counter", "Miss notices taken from the miss ring (the socket was full)."},
        {"misses_dropped", "misses_dropped_total", "counter", "Miss notices dropped with the load queue full."},
        {"bad_messages", "bad_messages_total", "counter", "Malformed notices and requests."},
        {"source_loads", "source_loads_total", "counter", "Copies whose bytes came from the source."},
        {"fleet_hits", "fleet_hits_total", "counter", "Copies whose bytes came from the fleet (memcached)."},
        {"fleet_misses", "fleet_misses_total", "counter", "Copies asked of the fleet, not there."},
        {"fleet_stores", "fleet_stores_total", "counter", "Copies this host stored in the fleet."},
        {"fleet_errors", "fleet_errors_total", "counter", "Fleet operations failed: timeouts, servers down."},
        {"fleet_rejected", "fleet_rejected_total", "counter", "Fleet copies refused: bad MAC, short or missing parts."},
        {"fleet_queue_full", "fleet_queue_full_total", "counter", "Copies not offered to the fleet: its queue was full."},
        {"fleet_waits", "fleet_waits_total", "counter", "Misses that waited for another host's copy."},
        {"fleet_state", "fleet_state", "gauge", "0 no fleet, 1 answering, 2 down (the last operation failed), 3 cold (held none of the last 16 files asked)."},
        {"fleet_wait_hits", "fleet_wait_hits_total", "counter", "Opens served after the program waited for the fleet."},
        {"fleet_wait_timeouts", "fleet_wait_timeouts_total", "counter", "Program waits for the fleet that reached SHMCACHE_FLEET_WAIT_MS."},
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

    printf("%-15s %s (pid %s, up %s)\n", "instance", str(s, "dir"), str(s, "pid"),
           units_format_age(num(s, "uptime_ms"), a, sizeof a));
    printf("%-15s %llu (%llu metadata, %llu negative, %llu listings)\n", "entries",
           (unsigned long long)num(s, "entries"), (unsigned long long)num(s, "meta_entries"),
           (unsigned long long)num(s, "negative_entries"), (unsigned long long)num(s, "dir_entries"));
    printf("%-15s %s of %s (%.1f%%)\n", "memory", units_format_size(mem, a, sizeof a),
           units_format_size(cap, b, sizeof b), cap ? 100.0 * (double)mem / (double)cap : 0.0);
    printf("%-15s %s\n", "bytes", units_format_size(num(s, "bytes"), a, sizeof a));
    printf("%-15s %llu\n", "hits", (unsigned long long)hits);
    printf("%-15s %llu\n", "misses", (unsigned long long)misses);
    print_ratio("hit ratio", hits, misses);
    printf("%-15s %llu (%llu negative)\n", "metadata hits", (unsigned long long)num(s, "meta_hits"),
           (unsigned long long)num(s, "negative_hits"));
    printf("%-15s %llu\n", "listing hits", (unsigned long long)num(s, "dir_hits"));
    if (prev) {
        uint64_t dh = hits - num(prev, "hits"), dm = misses - num(prev, "misses");
        printf("%-15s %llu hits/s, %llu misses/s\n", "last second", (unsigned long long)dh,
               (unsigned long long)dm);
        print_ratio("  hit ratio", dh, dm);
    }
    printf("%-15s %llu\n", "loads", (unsigned long long)num(s, "loads"));
    static const char *const states[] = {"none", "answering", "down", "cold"};
    unsigned long long state = num(s, "fleet_state");
    if (state)
        printf("%-15s %s\n", "fleet state", state < 4 ? states[state] : "?");
    if (num(s, "fleet_hits") || num(s, "fleet_misses") || num(s, "fleet_stores") ||
        num(s, "fleet_errors") || num(s, "fleet_rejected"))
        printf("%-15s %llu from the fleet, %llu from the source; %llu stored, %llu not there, "
               "%llu refused, %llu errors\n", "fleet", (unsigned long long)num(s, "fleet_hits"),
               (unsigned long long)num(s, "source_loads"), (unsigned long long)num(s, "fleet_stores"),
               (unsigned long long)num(s, "fleet_misses"), (unsigned long long)num(s, "fleet_rejected"),
               (unsigned long long)num(s, "fleet_errors"));
    if (num(s, "fleet_wait_hits") || num(s, "fleet_wait_timeouts"))
        printf("%-15s %llu opens served after waiting, %llu waits reached the bound\n",
               "fleet waits", (unsigned long long)num(s, "fleet_wait_hits"),
               (unsigned long long)num(s, "fleet_wait_timeouts"));
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
