/* opts.h - shmd's options: the daemon's own, which `shmd exec` also takes
 * (and passes on to the daemon it starts), the usage text of every
 * command, and the one rule for which instance a command line names,
 * shared with the client commands (cli.c). */
#ifndef SHMCACHE_SHMD_OPTS_H
#define SHMCACHE_SHMD_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tier/layout.h"

#define SHMD_LOADERS_MAX 64    /* --loaders: threads of the loader pool */

/* Which instance a command line names. --dir beats everything; a --name
 * beats $SHMCACHE_DIR (a variable set up for another instance, often the
 * default one) unless --dir is given too; else $SHMCACHE_DIR, else
 * $SHMCACHE_NAME, else "default". config_instance_dir() turns name and dir
 * into the directory. */
struct shmd_instance {
    const char *name;          /* --name, else $SHMCACHE_NAME; NULL: "default" */
    const char *dir;           /* --dir, else $SHMCACHE_DIR unless --name; or NULL */
    bool dir_given;            /* --dir was seen */
};

/* Start from the environment, before the options are read. */
void shmd_instance_from_env(struct shmd_instance *in);
/* A --name option (already checked with config_name_valid). */
void shmd_instance_set_name(struct shmd_instance *in, const char *name);
/* A --dir option. */
void shmd_instance_set_dir(struct shmd_instance *in, const char *dir);

struct shmd_opts {
    struct shmd_instance inst;
    char dir[TIER_PATH_MAX];   /* the resolved instance directory */
    uint64_t capacity;         /* bytes; 0 = default */
    uint64_t max_file;         /* bytes; 0 = default */
    uint32_t slots;            /* power of two */
    uint64_t revalidate_ms;
    uint64_t settle_ms;
    uint64_t negative_ms;      /* --negative-ms: 0 caches no "does not exist" */
    unsigned loaders;          /* threads, 1..SHMD_LOADERS_MAX */
    int log_level;             /* enum shmd_log_level */
    const char *log_file;      /* --log-file: stderr goes there once the
                                  instance is ours; NULL: stays stderr */
    uint64_t idle_exit_s;      /* --idle-exit: stop after this long with no
                                  shimmed process attached; 0: never */
    const char *fleet;         /* --fleet SERVERS (fleet.h); NULL: none */
    const char *fleet_key;     /* --fleet-key FILE */
    const char *fleet_ns;      /* --fleet-namespace NS; NULL: "" */
};

/* Parse daemon options (argv[0] is skipped). extra, when non-NULL, also
 * accepts `-p/--prefix PREFIX` (for exec; at most PATH_PREFIX_MAX) and
 * collects them there, and stops at "--" leaving *next at the command.
 * Returns 0, 1 for --help, or -1 with a message in err (then the caller
 * prints usage and exits 2). */
int shmd_parse_opts(int argc, char **argv, struct shmd_opts *o, char *err, size_t errsz,
                    const char **extra, int *nextra, int *next);

/* The usage text of the daemon and every command. */
void shmd_usage(FILE *f);
/* One command's (false: no such command). */
bool shmd_usage_cmd(FILE *f, const char *cmd);
/* Is word the name of a command (shmd COMMAND ...)? */
bool shmd_is_command(const char *word);

#endif
