/* cli_evict.c - `shmd evict PATH...` (drop files, or whole trees: a path
 * that is no entry drops every entry below it) and `shmd flush` (drop
 * everything). Operands are turned into the keys the shim looks up here;
 * the daemon answers "evicted N", said as "removed N entries" (the
 * evictions counter counts what the CLOCK chose, not what was asked). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "tier/path.h"

int cli_evict(int argc, char **argv, bool all)
{
    const char *cmd = all ? "flush" : "evict";
    struct cli c;
    char line[256];
    char **keys = NULL;
    size_t n = 0;
    int rc = 1;

    int r = cli_opts(cmd, argc, argv, &c, 0);
    if (r)
        return r == 1 ? 0 : r;
    if (all && optind < argc)
        return cli_usage_error(cmd, "takes no operands");
    if (!all && optind >= argc)
        return cli_usage_error(cmd, "expected PATH...");
    if (!all && !(keys = calloc((size_t)(argc - optind), sizeof *keys)))
        return 1;
    for (int i = optind; !all && i < argc; i++) {
        char key[PATH_KEY_SIZE];
        if (cli_operand_key(argv[i], key) < 0) {
            fprintf(stderr, "shmd evict: %s: not a usable path\n", argv[i]);
            goto out;
        }
        if (!(keys[n++] = strdup(key)))
            goto out;
    }
    FILE *f = cli_request(c.dir, cmd, keys, n, false);
    if (!f)
        goto out;
    /* "evicted N" is the daemon's word; an operator reads what left: the
     * entries of every kind (copies, metadata, listings, "absent") */
    while (fgets(line, sizeof line, f)) {
        unsigned long long k;
        if (sscanf(line, "evicted %llu", &k) == 1)
            printf("removed %llu entr%s\n", k, k == 1 ? "y" : "ies");
        else
            fputs(line, stdout);
    }
    fclose(f);
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return rc;
}
