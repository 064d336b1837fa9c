/* cli_ls.c - `shmd ls`: the cached files, one line each (size, age, hits,
 * path), sorted by --sort (hits, size, age: biggest first; path), or
 * --json.
 *
 * The daemon answers "size age_ms hits path" lines, with '\\' and control
 * bytes in paths escaped as \\\\ and \\xNN so that one entry is one line;
 * the table prints them escaped, --json undoes the escapes and escapes for
 * JSON instead. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "shmd/units.h"
#include "tier/path.h"

struct entry {
    uint64_t size, age_ms, hits;
    char *path;                 /* as the daemon escaped it */
    char kind[8];              /* file, meta, list, absent */
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

int cli_ls(int argc, char **argv)
{
    struct cli c;
    char line[TIER_PATH_MAX * 4 + 64], a[32], b[32];
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
        char kind[8];
        int off = 0;
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%llu %llu %llu %7s %n", &size, &age, &hits, kind, &off) != 4 || !off)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            struct entry *ne = realloc(e, cap * sizeof *e);
            if (!ne)
                goto out;
            e = ne;
        }
        e[n] = (struct entry){size, age, hits, strdup(line + off), ""};
        snprintf(e[n].kind, sizeof e[n].kind, "%s", kind);
        if (!e[n].path)
            goto out;
        n++;
    }
    if (n > 1) /* qsort wants a valid array even for none */
        qsort(e, n, sizeof *e, by_key);
    if (c.json) {
        char path[TIER_PATH_MAX * 4];
        printf("[");
        for (size_t i = 0; i < n; i++) {
            cli_unescape(e[i].path, path);
            printf("%s{\"path\": ", i ? ",\n " : "");
            cli_json_string(stdout, path);
            printf(", \"kind\": \"%s\", \"size\": %llu, \"age_ms\": %llu, \"hits\": %llu}",
                   e[i].kind, (unsigned long long)e[i].size, (unsigned long long)e[i].age_ms,
                   (unsigned long long)e[i].hits);
        }
        printf("]\n");
    } else {
        printf("%10s %8s %10s  %-6s  %s\n", "SIZE", "AGE", "HITS", "KIND", "PATH");
        for (size_t i = 0; i < n; i++)
            printf("%10s %8s %10llu  %-6s  %s\n", units_format_size(e[i].size, a, sizeof a),
                   units_format_age(e[i].age_ms, b, sizeof b), (unsigned long long)e[i].hits,
                   e[i].kind, e[i].path);
    }
    rc = 0;
out:
    fclose(f);
    for (size_t i = 0; i < n; i++)
        free(e[i].path);
    free(e);
    return rc;
}
