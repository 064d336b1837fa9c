/* main.c - shmd's command line: `shmd [options]` runs the daemon in the
 * foreground; `shmd COMMAND ...` talks to a running one (cli.c). The
 * instance options may come before the command too (`shmd --name x stats`,
 * as git and systemctl take theirs): they are moved after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "shmd/daemon.h"
#include "shmd/opts.h"
#include "version.h"

/* Found by the shim with dlsym(RTLD_DEFAULT): a shim preloaded into shmd
 * itself stays inert instead of reporting shmd's own opens to shmd. */
__attribute__((visibility("default"), used)) const int shmd_daemon_marker = 1;

/* Is argv[i] an instance option, and how many words does it take? */
static int instance_opt(char **argv, int i)
{
    const char *a = argv[i];
    if (strcmp(a, "--name") == 0 || strcmp(a, "--dir") == 0)
        return argv[i + 1] ? 2 : 0;
    if (strncmp(a, "--name=", 7) == 0 || strncmp(a, "--dir=", 6) == 0)
        return 1;
    return 0;
}

/* `shmd --name x stats ...` -> `stats --name x ...`: the index of the
 * command when only instance options come before it, else 0. */
static int command_after_options(int argc, char **argv)
{
    int i = 1, n;
    while (i < argc && (n = instance_opt(argv, i)) > 0)
        i += n;
    return i > 1 && i < argc && shmd_is_command(argv[i]) ? i : 0;
}

int main(int argc, char **argv)
{
    struct shmd_opts o;
    char err[512];

    if (argc > 1 && argv[1][0] != '-')
        return shmd_cli(argc - 1, argv + 1);
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("shmd %s\n", SHMCACHE_VERSION);
        return 0;
    }
    int k = command_after_options(argc, argv);
    if (k) {
        char **v = malloc((size_t)(argc + 1) * sizeof *v);
        if (!v)
            return 1;
        int m = 0;
        v[m++] = argv[k];
        for (int i = 1; i < k; i++)
            v[m++] = argv[i];
        for (int i = k + 1; i < argc; i++)
            v[m++] = argv[i];
        v[m] = NULL;
        int rc = shmd_cli(m, v);
        free(v);
        return rc;
    }
    int r = shmd_parse_opts(argc, argv, &o, err, sizeof err, NULL, NULL, NULL);
    if (r == 1) {
        shmd_usage(stdout);
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "shmd: %s\nTry 'shmd --help'.\n", err);
        return 2;
    }
    return shmd_run(&o);
}
