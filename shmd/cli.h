/* cli.h - shmd's client commands: stats, ls, warm, evict, flush, stop,
 * exec, talking to a running daemon over its control socket.
 *
 * Exit codes of every command: 0 done; 1 the operation failed (no daemon,
 * the daemon refused, nothing to warm); 2 bad usage (with the usage text). */
#ifndef SHMCACHE_CLI_H
#define SHMCACHE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "shmd/opts.h"
#include "tier/layout.h"

/* argv[0] is the command name. Returns the process exit code. */
int shmd_cli(int argc, char **argv);

/* ---- shared by the cli*.c files ---------------------------------------- */

/* Options a command accepts besides --name, --dir and --help. */
enum cli_flag {
    CLI_JSON = 1,        /* --json */
    CLI_PROMETHEUS = 2,  /* --prometheus */
    CLI_WATCH = 4,       /* --watch, --count N */
    CLI_SORT = 8,        /* --sort KEY */
    CLI_FROM = 16,       /* --from FILE, --from-fleet */
};

struct cli {
    struct shmd_instance inst; /* --name, --dir and the environment */
    char dir[TIER_PATH_MAX];   /* the instance directory they name */
    bool json, prometheus, watch;
    long count;                /* --count: snapshots to print; 0 = forever */
    const char *sort;          /* --sort */
    const char *from;          /* --from */
    bool from_fleet;           /* --from-fleet */
};

/* Parse the options of cmd (those in allowed, plus --name, --dir, --help),
 * in any order with the operands. Leaves optind at the first operand.
 * Returns 0, 1 after printing help, or the exit code 2 after a usage error. */
int cli_opts(const char *cmd, int argc, char **argv, struct cli *c, unsigned allowed);

/* Print "shmd CMD: msg" and the usage to stderr. Returns 2. */
int cli_usage_error(const char *cmd, const char *msg);

/* Connect to the control socket of the instance in dir (checked to be a
 * 0700 directory of ours). Returns the socket or -1, with a message on
 * stderr unless quiet. */
int cli_connect(const char *dir, bool quiet);

/* Send one request (cmd, then args) and return the reply stream after its
 * "ok" line, or NULL with the daemon's error on stderr unless quiet. */
FILE *cli_request(const char *dir, const char *cmd, char *const *args, size_t nargs, bool quiet);

/* Undo the daemon's escapes of a path in a reply (\\\\, \\xNN; control.c)
 * into out, which has room for in. */
void cli_unescape(const char *in, char *out);

/* An operand as the key the shim looks up: absolute (relative ones are
 * taken from the cwd) and lexically normal. Returns the length or -1. */
int cli_operand_key(const char *arg, char *key);

/* Print s as a JSON string: quoted, with '"', '\\' and control bytes
 * escaped. */
void cli_json_string(FILE *out, const char *s);

/* The commands, each in its own file (cli_NAME.c). */
int cli_stats(int argc, char **argv);
int cli_ls(int argc, char **argv);
int cli_why(int argc, char **argv);
int cli_warm(int argc, char **argv);
int cli_evict(int argc, char **argv, bool all);
int cli_stop(int argc, char **argv);
int cli_exec(int argc, char **argv);

#endif
