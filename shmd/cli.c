/* cli.c - the client side's common ground: the command table, options,
 * one request over the control socket, JSON strings (see cli.h). Each
 * command is in the file named for it: cli_stats.c, cli_ls.c, cli_warm.c,
 * cli_evict.c (evict and flush), cli_stop.c, cli_exec.c, cli_why.c. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "shmd/fdio.h"
#include "shmd/opts.h"
#include "shmd/units.h"
#include "tier/config.h"
#include "tier/instance.h"
#include "tier/path.h"

int cli_usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "shmd %s: %s\nTry 'shmd %s --help'.\n", cmd, msg, cmd);
    return 2;
}

void cli_unescape(const char *in, char *out)
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

int cli_opts(const char *cmd, int argc, char **argv, struct cli *c, unsigned allowed)
{
    static const struct option longopts[] = {
        {"name", required_argument, NULL, 'n'},
        {"dir", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"prometheus", no_argument, NULL, 'P'},
        {"watch", no_argument, NULL, 'w'},
        {"count", required_argument, NULL, 'c'},
        {"sort", required_argument, NULL, 's'},
        {"from", required_argument, NULL, 'f'},
        {"from-fleet", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        int ch;
        unsigned flag;
    } needs[] = {{'j', CLI_JSON}, {'P', CLI_PROMETHEUS}, {'w', CLI_WATCH}, {'c', CLI_WATCH},
                 {'s', CLI_SORT}, {'f', CLI_FROM}, {'F', CLI_FROM}};
    char err[300];
    uint64_t v;
    int ch;

    memset(c, 0, sizeof *c);
    shmd_instance_from_env(&c->inst);
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        for (size_t i = 0; i < sizeof needs / sizeof *needs; i++) {
            if (needs[i].ch == ch && !(allowed & needs[i].flag)) {
                snprintf(err, sizeof err, "%s: not an option of %s", argv[optind - 1], cmd);
                return cli_usage_error(cmd, err);
            }
        }
        switch (ch) {
        case 'n':
            if (!config_name_valid(optarg))
                return cli_usage_error(cmd, "--name: expected 1-64 of A-Z a-z 0-9 . _ -");
            shmd_instance_set_name(&c->inst, optarg);
            break;
        case 'd':
            shmd_instance_set_dir(&c->inst, optarg);
            break;
        case 'j':
            c->json = true;
            break;
        case 'P':
            c->prometheus = true;
            break;
        case 'w':
            c->watch = true;
            break;
        case 'c':
            if (config_parse_uint(optarg, 1000000, &v) < 0 || v == 0)
                return cli_usage_error(cmd, "--count: expected a number from 1 to 1000000");
            c->count = (long)v;
            c->watch = true;
            break;
        case 's':
            c->sort = optarg;
            break;
        case 'f':
            c->from = optarg;
            break;
        case 'F':
            c->from_fleet = true;
            break;
        case 'h':
            shmd_usage_cmd(stdout, cmd);
            return 1;
        default:
            snprintf(err, sizeof err, "%s: unknown option or missing value", argv[optind - 1]);
            return cli_usage_error(cmd, err);
        }
    }
    if (c->json && c->prometheus)
        return cli_usage_error(cmd, "--json and --prometheus: choose one");
    if (config_instance_dir(c->inst.name, c->inst.dir, geteuid(), c->dir, sizeof c->dir, err, sizeof err) < 0)
        return cli_usage_error(cmd, err);
    return 0;
}

/* What a stale instance still holds: the blocks of its files (nftw's
 * callback has no closure: one CLI thread, one walk at a time). */
static unsigned long long g_held;
static int add_blocks(const char *p, const struct stat *st, int type, struct FTW *f)
{
    (void)p, (void)type, (void)f;
    g_held += (unsigned long long)st->st_blocks * 512;
    return 0;
}

/* The socket refuses: the daemon died (SIGKILL, OOM) without removing it. */
static void say_stale(const char *dir)
{
    char held[32];
    g_held = 0;
    nftw(dir, add_blocks, 16, FTW_PHYS);
    fprintf(stderr,
            "shmd: no daemon for %s (Connection refused): a stale instance, its daemon "
            "died; its index and copies hold %s of memory until a daemon starts on it "
            "or the directory is removed\n",
            dir, units_format_size(g_held, held, sizeof held));
}

int cli_connect(const char *dir, bool quiet)
{
    struct sockaddr_un sa;
    struct stat st;
    char why[64];
    int s = -1;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (dfd < 0) {
        if (!quiet)
            fprintf(stderr, "shmd: no daemon for %s (%s)\n", dir, strerror(errno));
        return -1;
    }
    if (fstat(dfd, &st) < 0) {
        if (!quiet)
            fprintf(stderr, "shmd: instance directory %s: %s\n", dir, strerror(errno));
        close(dfd);
        return -1;
    }
    /* root may talk to any user's daemon (which accepts root), given --dir */
    uid_t owner = geteuid() == 0 ? st.st_uid : geteuid();
    if (instance_dir_untrusted(&st, owner, why, sizeof why)) {
        if (!quiet)
            fprintf(stderr, "shmd: instance directory %s is %s: refusing\n", dir, why);
        close(dfd);
        return -1;
    }
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || instance_sockaddr(&sa, dir, dfd, INSTANCE_CTL_SOCK) < 0 ||
        connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (!quiet && errno == ECONNREFUSED)
            say_stale(dir);
        else if (!quiet)
            fprintf(stderr, "shmd: no daemon for %s (%s)\n", dir, strerror(errno));
        if (s >= 0)
            close(s);
        s = -1;
    }
    close(dfd);
    return s;
}

FILE *cli_request(const char *dir, const char *cmd, char *const *args, size_t nargs, bool quiet)
{
    int s = cli_connect(dir, quiet);
    if (s < 0)
        return NULL;
    signal(SIGPIPE, SIG_IGN);
    bool ok = shmd_write_all(s, cmd, strlen(cmd) + 1) == 0;
    for (size_t i = 0; ok && i < nargs; i++)
        ok = shmd_write_all(s, args[i], strlen(args[i]) + 1) == 0;
    shutdown(s, SHUT_WR);
    FILE *f = fdopen(s, "r");
    if (!f) {
        close(s);
        return NULL;
    }
    char line[512];
    if (!fgets(line, sizeof line, f)) {
        if (!quiet)
            fprintf(stderr, "shmd: the daemon closed the connection\n");
        fclose(f);
        return NULL;
    }
    if (strcmp(line, "ok\n") != 0) {
        if (!quiet)
            fprintf(stderr, "shmd: %s", strncmp(line, "error ", 6) == 0 ? line + 6 : line);
        fclose(f);
        return NULL;
    }
    return f;
}

int cli_operand_key(const char *arg, char *key)
{
    char cwd[TIER_PATH_MAX];
    if (arg[0] == '/')
        return path_normalize(arg, NULL, true, key, PATH_KEY_SIZE);
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    return path_normalize(cwd, arg, true, key, PATH_KEY_SIZE);
}

void cli_json_string(FILE *out, const char *s)
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

int shmd_cli(int argc, char **argv)
{
    const char *cmd = argv[0];

    if (strcmp(cmd, "stats") == 0)
        return cli_stats(argc, argv);
    if (strcmp(cmd, "ls") == 0)
        return cli_ls(argc, argv);
    if (strcmp(cmd, "why") == 0)
        return cli_why(argc, argv);
    if (strcmp(cmd, "warm") == 0)
        return cli_warm(argc, argv);
    if (strcmp(cmd, "evict") == 0)
        return cli_evict(argc, argv, false);
    if (strcmp(cmd, "flush") == 0)
        return cli_evict(argc, argv, true);
    if (strcmp(cmd, "stop") == 0)
        return cli_stop(argc, argv);
    if (strcmp(cmd, "exec") == 0)
        return cli_exec(argc, argv);
    if (strcmp(cmd, "help") == 0) {
        shmd_usage(stdout);
        return 0;
    }
    fprintf(stderr, "shmd: unknown command \"%s\"\nTry 'shmd --help'.\n", cmd);
    return 2;
}
