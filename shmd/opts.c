/* opts.c - shmd's options and usage text, shared by the daemon and
 * `shmd exec` (which passes the same options to the daemon it starts), and
 * which instance a command line names (see opts.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmd/log.h"
#include "shmd/opts.h"
#include "shmd/units.h"
#include "tier/config.h"
#include "tier/path.h"

void shmd_instance_from_env(struct shmd_instance *in)
{
    in->name = getenv("SHMCACHE_NAME");
    in->dir = getenv("SHMCACHE_DIR");
    in->dir_given = false;
}

void shmd_instance_set_name(struct shmd_instance *in, const char *name)
{
    in->name = name;
    if (!in->dir_given)
        in->dir = NULL;
}

void shmd_instance_set_dir(struct shmd_instance *in, const char *dir)
{
    in->dir = dir;
    in->dir_given = true;
}

/* Every command: its synopsis and what it does (the usage text). */
static const struct {
    const char *cmd, *synopsis, *what;
} g_cmds[] = {
    {"stats", "shmd stats [--json|--prometheus] [--watch [--count N]]",
     "counters of the running daemon"},
    {"ls", "shmd ls [--sort hits|size|age|path] [--json]", "entries: size, age, hits, kind, path"},
    {"why", "shmd why PATH", "is PATH served from the tier, and if not, why"},
    {"warm", "shmd warm [--from FILE] [--from-fleet] PATH...", "load files and whole trees now (--from-fleet: what other hosts stored in the fleet)"},
    {"evict", "shmd evict PATH...", "drop files or trees from the tier"},
    {"flush", "shmd flush", "drop everything"},
    {"stop", "shmd stop", "stop the daemon"},
    {"exec", "shmd exec [options] [-p PREFIX]... -- CMD [ARG]...",
     "start a daemon if none runs, then run CMD with libshmcache.so preloaded"},
};

static const char g_daemon_opts[] =
    "daemon options (the daemon's and exec's):\n"
    "  --capacity SIZE      bytes of tmpfs the tier may use: 512M, 4G (default\n"
    "                       1G, at most half the tmpfs)\n"
    "  --max-file SIZE      largest file admitted (default capacity/4, <= 256M)\n"
    "  --slots N            index entries, rounded up to a power of two (65536)\n"
    "  --revalidate-ms MS   compare every entry with its source this often;\n"
    "                       0: sources are immutable (default 1000)\n"
    "  --settle-ms MS       admit only files unchanged this long (default 1000)\n"
    "  --negative-ms MS     a cached \"does not exist\" is re-checked (through its\n"
    "                       directory) this often; 0: not cached (default 1000)\n"
    "  --loaders N          loader threads (default 4)\n"
    "  --log-level LEVEL    error, warning, info or debug (default info)\n"
    "  --log-file PATH      log there (appending; kept below 1 MiB, the older half\n"
    "                       in PATH.1) once the instance is claimed; default stderr\n"
    "  --idle-exit SECONDS  stop once no shimmed process has been attached for this\n"
    "                       long (default 0: never; shmd exec's daemon: 600)\n"
    "  --fleet SERVERS      share copies with other hosts through memcached:\n"
    "                       host:port and unix socket paths, comma-separated\n"
    "  --fleet-key FILE     the fleet's secret (16+ bytes, mode 600); with --fleet\n"
    "  --fleet-namespace NS fleet keys' namespace (default empty)\n";

static const char g_instance_opts[] =
    "instance options (every command's):\n"
    "  --name NAME          instance name (default $SHMCACHE_NAME or \"default\")\n"
    "  --dir DIR            instance directory (default $SHMCACHE_DIR or\n"
    "                       /dev/shm/shmcache-UID-NAME)\n";

void shmd_usage(FILE *f)
{
    fputs("usage: shmd [options]           run the daemon in the foreground\n"
          "       shmd COMMAND [ARG]...    talk to it; shmd COMMAND --help for one\n"
          "commands:\n", f);
    for (size_t i = 0; i < sizeof g_cmds / sizeof *g_cmds; i++)
        fprintf(f, "  %-7s %s\n", g_cmds[i].cmd, g_cmds[i].what);
    fputs(g_instance_opts, f);
    fputs(g_daemon_opts, f);
    fputs("  --version            print the version and exit\n", f);
}

bool shmd_usage_cmd(FILE *f, const char *cmd)
{
    for (size_t i = 0; i < sizeof g_cmds / sizeof *g_cmds; i++) {
        if (strcmp(g_cmds[i].cmd, cmd) != 0)
            continue;
        fprintf(f, "usage: %s\n  %s\n", g_cmds[i].synopsis, g_cmds[i].what);
        fputs(g_instance_opts, f);
        if (strcmp(cmd, "exec") == 0)
            fputs(g_daemon_opts, f);
        return true;
    }
    return false;
}

bool shmd_is_command(const char *word)
{
    for (size_t i = 0; i < sizeof g_cmds / sizeof *g_cmds; i++)
        if (strcmp(g_cmds[i].cmd, word) == 0)
            return true;
    return strcmp(word, "help") == 0;
}

/* A constant's value in a message: "at most " STR(PATH_PREFIX_MAX) */
#define STR_(x) #x
#define STR(x) STR_(x)

static int set_err(char *err, size_t errsz, const char *opt, const char *val, const char *what)
{
    snprintf(err, errsz, "%s \"%.100s\": expected %s", opt, val, what);
    return -1;
}

int shmd_parse_opts(int argc, char **argv, struct shmd_opts *o, char *err, size_t errsz,
                    const char **extra, int *nextra, int *next)
{
    static const struct option longopts[] = {
        {"name", required_argument, NULL, 'n'},
        {"dir", required_argument, NULL, 'd'},
        {"capacity", required_argument, NULL, 'c'},
        {"max-file", required_argument, NULL, 'm'},
        {"slots", required_argument, NULL, 's'},
        {"revalidate-ms", required_argument, NULL, 'r'},
        {"settle-ms", required_argument, NULL, 'S'},
        {"negative-ms", required_argument, NULL, 'N'},
        {"loaders", required_argument, NULL, 'L'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-file", required_argument, NULL, 'F'},
        {"idle-exit", required_argument, NULL, 'I'},
        {"fleet", required_argument, NULL, 'f'},
        {"fleet-key", required_argument, NULL, 'k'},
        {"fleet-namespace", required_argument, NULL, 'a'},
        {"prefix", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t v;
    int r;
    int c;

    memset(o, 0, sizeof *o);
    shmd_instance_from_env(&o->inst);
    o->slots = 65536;
    o->revalidate_ms = 1000;
    o->settle_ms = 1000;
    o->negative_ms = 1000;
    o->loaders = 4;
    o->log_level = SHMD_LOG_INFO;
    if (nextra)
        *nextra = 0;
    optind = 0; /* full reset: callable more than once */
    opterr = 0;
    while ((c = getopt_long(argc, argv, extra ? "+p:h" : "+h", longopts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case 'n':
            if (!config_name_valid(a))
                return set_err(err, errsz, "--name", a, "1-64 of A-Z a-z 0-9 . _ -");
            shmd_instance_set_name(&o->inst, a);
            break;
        case 'd': {
            char norm[PATH_KEY_SIZE];
            if (path_normalize(a, NULL, true, norm, sizeof norm) < 0 || strcmp(norm, "/") == 0)
                return set_err(err, errsz, "--dir", a, "an absolute directory path without \"..\"");
            shmd_instance_set_dir(&o->inst, a);
            break;
        }
        case 'c':
            if ((r = units_parse_size(a, &v)) == -2)
                return set_err(err, errsz, "--capacity", a, "a size that fits in 64 bits: too large");
            if (r < 0 || v < (1u << 20))
                return set_err(err, errsz, "--capacity", a, "a size of at least 1M, like 512M or 4G");
            o->capacity = v;
            break;
        case 'm':
            if ((r = units_parse_size(a, &v)) == -2)
                return set_err(err, errsz, "--max-file", a, "a size that fits in 64 bits: too large");
            if (r < 0 || v == 0)
                return set_err(err, errsz, "--max-file", a, "a size like 64M");
            o->max_file = v;
            break;
        case 's':
            if (config_parse_uint(a, TIER_SLOTS_MAX, &v) < 0 || v < 1)
                return set_err(err, errsz, "--slots", a, "a count from 1 to 16777216");
            o->slots = TIER_SLOTS_MIN;
            while (o->slots < v)
                o->slots <<= 1;
            break;
        case 'r':
            if (config_parse_uint(a, 86400000, &v) < 0)
                return set_err(err, errsz, "--revalidate-ms", a, "milliseconds from 0 to 86400000");
            o->revalidate_ms = v;
            break;
        case 'S':
            if (config_parse_uint(a, 3600000, &v) < 0)
                return set_err(err, errsz, "--settle-ms", a, "milliseconds from 0 to 3600000");
            o->settle_ms = v;
            break;
        case 'N':
            if (config_parse_uint(a, 3600000, &v) < 0)
                return set_err(err, errsz, "--negative-ms", a, "milliseconds from 0 to 3600000");
            o->negative_ms = v;
            break;
        case 'L':
            if (config_parse_uint(a, SHMD_LOADERS_MAX, &v) < 0 || v < 1)
                return set_err(err, errsz, "--loaders", a,
                               "a count from 1 to " STR(SHMD_LOADERS_MAX));
            o->loaders = (unsigned)v;
            break;
        case 'l':
            if ((o->log_level = shmd_log_level_parse(a)) < 0)
                return set_err(err, errsz, "--log-level", a, "error, warning, info or debug");
            break;
        case 'F':
            if (a[0] != '/')
                return set_err(err, errsz, "--log-file", a, "an absolute path");
            o->log_file = a;
            break;
        case 'I':
            if (config_parse_uint(a, 31536000, &v) < 0)
                return set_err(err, errsz, "--idle-exit", a, "seconds from 0 to 31536000");
            o->idle_exit_s = v;
            break;
        case 'f':
            if (!*a)
                return set_err(err, errsz, "--fleet", a, "host:port or unix socket paths, "
                               "comma-separated");
            o->fleet = a;
            break;
        case 'k':
            if (a[0] != '/')
                return set_err(err, errsz, "--fleet-key", a, "an absolute path");
            o->fleet_key = a;
            break;
        case 'a':
            if (strlen(a) > 255)
                return set_err(err, errsz, "--fleet-namespace", a, "at most 255 bytes");
            o->fleet_ns = a;
            break;
        case 'p':
            if (!extra)
                goto unknown;
            if (a[0] != '/' || strchr(a, ':'))
                return set_err(err, errsz, "--prefix", a, "an absolute path without ':'");
            if (*nextra >= PATH_PREFIX_MAX)
                return set_err(err, errsz, "--prefix", a,
                               "at most " STR(PATH_PREFIX_MAX) " prefixes");
            extra[(*nextra)++] = a;
            break;
        case 'h':
            return 1;
        default:
        unknown:
            /* for a long option glibc sets optopt to its internal letter */
            if (optopt && strncmp(argv[optind - 1], "--", 2) != 0)
                snprintf(err, errsz, "option -%c: unknown or missing its value", optopt);
            else
                snprintf(err, errsz, "option %s: unknown or missing its value", argv[optind - 1]);
            return -1;
        }
    }
    if (next)
        *next = optind;
    else if (optind < argc) {
        snprintf(err, errsz, "unexpected argument \"%.100s\"", argv[optind]);
        return -1;
    }
    if (!o->fleet != !o->fleet_key) {
        snprintf(err, errsz, "%s", o->fleet ? "--fleet needs --fleet-key FILE (the fleet's secret)"
                                            : "--fleet-key without --fleet SERVERS");
        return -1;
    }
    char why[300];
    if (config_instance_dir(o->inst.name, o->inst.dir, geteuid(), o->dir, sizeof o->dir, why, sizeof why) < 0) {
        snprintf(err, errsz, "%s", why);
        return -1;
    }
    return 0;
}

