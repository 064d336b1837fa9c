/* cli_why.c - `shmd why PATH`: what stands between a path and the tier, as
 * the program that opens it would meet it: is it under a prefix of this
 * environment (SHMCACHE_PREFIX, SHMCACHE_DISABLE), which instance serves
 * it and does a daemon answer there, what the tier holds for it (a copy,
 * metadata, a listing, "does not exist"; current or changed since), and
 * why its last loads were refused. Exit 0 when the path is served from the
 * tier, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "shmd/units.h"
#include "tier/path.h"

static void age(uint64_t ms, char *buf, size_t n)
{
    if (ms < 1000)
        snprintf(buf, n, "%llu ms", (unsigned long long)ms);
    else if (ms < 120000)
        snprintf(buf, n, "%llu s", (unsigned long long)(ms / 1000));
    else if (ms < 7200000)
        snprintf(buf, n, "%llu min", (unsigned long long)(ms / 60000));
    else
        snprintf(buf, n, "%llu h", (unsigned long long)(ms / 3600000));
}

/* Is key under a prefix of the environment? Prints why not. */
static bool under_prefix(const char *key)
{
    const char *disable = getenv("SHMCACHE_DISABLE"), *list = getenv("SHMCACHE_PREFIX");
    struct path_prefixes pp;
    char err[300];

    if (disable && *disable && strcmp(disable, "0") && strcmp(disable, "no") &&
        strcmp(disable, "false") && strcmp(disable, "off")) {
        printf("prefix     the shim is off here: SHMCACHE_DISABLE=%s\n", disable);
        return false;
    }
    if (!list || !*list) {
        printf("prefix     SHMCACHE_PREFIX is not set here: no path is cached\n");
        return false;
    }
    if (path_prefixes_parse(list, &pp, err, sizeof err) < 0) {
        printf("prefix     SHMCACHE_PREFIX is refused by the shim: %s\n", err);
        return false;
    }
    for (unsigned i = 0; i < pp.count; i++) {
        const char *d = pp.buf + pp.off[i];
        if (path_is_under(key, strlen(key), d, pp.len[i])) {
            printf("prefix     under %s\n", d);
            return true;
        }
    }
    printf("prefix     not under SHMCACHE_PREFIX (%s): the shim passes it through\n", list);
    return false;
}

int cli_why(int argc, char **argv)
{
    struct cli c;
    char key[PATH_KEY_SIZE], line[512], a[32], b[32];

    int r = cli_opts("why", argc, argv, &c, 0);
    if (r)
        return r == 1 ? 0 : r;
    if (optind + 1 != argc)
        return cli_usage_error("why", "expected one PATH");
    if (cli_operand_key(argv[optind], key) < 0) {
        fprintf(stderr, "shmd why: %s: not a usable path (\"..\" is not resolved)\n",
                argv[optind]);
        return 1;
    }
    printf("path       %s\n", key);
    bool prefixed = under_prefix(key);
    printf("instance   %s\n", c.dir);
    char *args[] = {key};
    FILE *f = cli_request(c.dir, "why", args, 1, true);
    if (!f) {
        printf("daemon     none answers there: nothing is cached (start one: shmd, or shmd exec)\n");
        return 1;
    }
    bool served = false;
    while (fgets(line, sizeof line, f)) {
        char kind[16], state[16], what[16], reason[32];
        unsigned long long size, ms, hits;
        if (sscanf(line, "entry %15s %llu %llu %llu %15s", kind, &size, &ms, &hits, state) == 5) {
            age(ms, a, sizeof a);
            bool current = strcmp(state, "current") == 0;
            if (strcmp(kind, "file") == 0)
                printf("tier       a copy, %s, made %s ago, %llu hits", units_format_size(size, b, sizeof b),
                       a, hits);
            else if (strcmp(kind, "absent") == 0)
                printf("tier       known not to exist, since %s ago", a);
            else
                printf("tier       its metadata%s, recorded %s ago", strcmp(kind, "list") == 0 ?
                       " and its directory listing" : "", a);
            printf("%s\n", current ? "" : "; changed through a shim since: not served until "
                                          "the daemon checks it again");
            served = current;
        } else if (strncmp(line, "entry none", 10) == 0) {
            printf("tier       nothing for this path yet (a program's first open or stat asks "
                   "the daemon to load it)\n");
        } else if (sscanf(line, "failed %15s %31s %llu", what, reason, &ms) == 3) {
            age(ms, a, sizeof a);
            printf("refused    its %s, %s ago: %s\n", what, a, reason);
        }
    }
    fclose(f);
    return served && prefixed ? 0 : 1;
}
