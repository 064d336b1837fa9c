/* main.c - shmd's command line: `shmd [options]` runs the daemon in the
 * foreground; `shmd COMMAND ...` talks to a running one (cli.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "shmd/daemon.h"
#include "shmd/opts.h"

/* Found by the shim with dlsym(RTLD_DEFAULT): a shim preloaded into shmd
 * itself stays inert instead of reporting shmd's own opens to shmd. */
__attribute__((visibility("default"), used)) const int shmd_daemon_marker = 1;

int main(int argc, char **argv)
{
    struct shmd_opts o;
    char err[512];

    if (argc > 1 && argv[1][0] != '-')
        return shmd_cli(argc - 1, argv + 1);
    int r = shmd_parse_opts(argc, argv, &o, err, sizeof err, NULL, NULL, NULL);
    if (r == 1) {
        shmd_usage(stdout);
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "shmd: %s\n", err);
        shmd_usage(stderr);
        return 2;
    }
    return shmd_run(&o);
}
