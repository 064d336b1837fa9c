/* opts.c - shmd's options and usage text, shared by the daemon and
 * `shmd exec` (which passes the same options to the daemon it starts). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmd/shmd.h"
#include "tier/config.h"
#include "tier/path.h"

void shmd_usage(FILE *f)
{
    fputs("usage: shmd [options]                 run the daemon in the foreground\n"
          "       shmd stats [--json|--prometheus] [--watch [--count N]]\n"
          "                                      counters of the running daemon\n"
          "       shmd ls [--sort hits|size|age|path] [--json]\n"
          "                                      cached files: size, age, hits, path\n"
          "       shmd warm [--from FILE] PATH...  load files and whole trees now\n"
          "       shmd evict PATH...             drop files or trees from the tier\n"
          "       shmd flush                     drop everything\n"
          "       shmd stop                      stop the daemon\n"
          "       shmd exec [options] [-p PREFIX]... -- CMD [ARG]...\n"
          "                                      start a daemon if none runs, then run\n"
          "                                      CMD with libshmcache.so preloaded\n"
          "options:\n"
          "  --name NAME          instance name (default $SHMCACHE_NAME or \"default\")\n"
          "  --dir DIR            instance directory (default $SHMCACHE_DIR or\n"
          "                       /dev/shm/shmcache-UID-NAME)\n"
          "  --capacity SIZE      bytes of tmpfs the tier may use: 512M, 4G (default\n"
          "                       1G, at most half the tmpfs)\n"
          "  --max-file SIZE      largest file admitted (default capacity/4, <= 256M)\n"
          "  --slots N            index entries, rounded up to a power of two (65536)\n"
          "  --revalidate-ms MS   compare every entry with its source this often;\n"
          "                       0: sources are immutable (default 1000)\n"
          "  --settle-ms MS       admit only files unchanged this long (default 1000)\n"
          "  --loaders N          loader threads (default 4)\n"
          "  --log-level LEVEL    error, warning, info or debug (default info)\n",
          f);
}

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
        {"loaders", required_argument, NULL, 'L'},
        {"log-level", required_argument, NULL, 'l'},
        {"prefix", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const levels[] = {"error", "warning", "info", "debug"};
    uint64_t v;
    int c;

    bool dir_given = false;

    memset(o, 0, sizeof *o);
    o->name = getenv("SHMCACHE_NAME");
    o->dir_arg = getenv("SHMCACHE_DIR");
    o->slots = 65536;
    o->revalidate_ms = 1000;
    o->settle_ms = 1000;
    o->loaders = 4;
    o->log_level = LOG_INFO;
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
            o->name = a;
            if (!dir_given)
                o->dir_arg = NULL; /* a name given here beats $SHMCACHE_DIR */
            break;
        case 'd': {
            char norm[PATH_KEY_SIZE];
            if (path_normalize(a, NULL, true, norm, sizeof norm) < 0 || strcmp(norm, "/") == 0)
                return set_err(err, errsz, "--dir", a, "an absolute directory path without \"..\"");
            o->dir_arg = a;
            dir_given = true;
            break;
        }
        case 'c':
            if (config_parse_size(a, &v) < 0 || v < (1u << 20))
                return set_err(err, errsz, "--capacity", a, "a size of at least 1M, like 512M or 4G");
            o->capacity = v;
            break;
        case 'm':
            if (config_parse_size(a, &v) < 0 || v == 0)
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
        case 'L':
            if (config_parse_uint(a, 64, &v) < 0 || v < 1)
                return set_err(err, errsz, "--loaders", a, "a count from 1 to 64");
            o->loaders = (unsigned)v;
            break;
        case 'l':
            o->log_level = -1;
            for (int i = 0; i < 4; i++)
                if (strcmp(a, levels[i]) == 0)
                    o->log_level = i;
            if (o->log_level < 0)
                return set_err(err, errsz, "--log-level", a, "error, warning, info or debug");
            break;
        case 'p':
            if (!extra)
                goto unknown;
            if (a[0] != '/' || strchr(a, ':'))
                return set_err(err, errsz, "--prefix", a, "an absolute path without ':'");
            if (*nextra >= 16)
                return set_err(err, errsz, "--prefix", a, "at most 16 prefixes");
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
    char why[300];
    if (config_instance_dir(o->name, o->dir_arg, geteuid(), o->dir, sizeof o->dir, why, sizeof why) < 0) {
        snprintf(err, errsz, "%s", why);
        return -1;
    }
    return 0;
}

