/* cli.h - shmd's client commands (stats, ls, warm, evict, flush, stop,
 * exec). argv[0] is the command name. Returns the process exit code. */
#ifndef SHMCACHE_CLI_H
#define SHMCACHE_CLI_H

int shmd_cli(int argc, char **argv);

#endif
