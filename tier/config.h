/* config.h - parsing of option and environment values, shared by shmd's
 * flags and the shim's environment. Pure functions: no I/O, no allocation. */
#ifndef SHMCACHE_CONFIG_H
#define SHMCACHE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* "512", "64K", "64k", "64KiB", "1.5G" is refused (integers only), "1G",
 * "2T"; binary units. Returns 0, or -1 for empty, negative, junk or overflow. */
int config_parse_size(const char *s, uint64_t *out);

/* Format bytes for people: "512 B", "4.0 KiB", "1.5 GiB" (binary units,
 * the ones config_parse_size reads). Returns buf. */
const char *config_format_size(uint64_t bytes, char *buf, size_t n);

/* A non-negative decimal integer at most max. Returns 0 or -1. */
int config_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Instance names: 1-64 of [A-Za-z0-9._-], not "." or "..". */
bool config_name_valid(const char *name);

/* The instance directory: dir when set (must be absolute and normal),
 * otherwise /dev/shm/shmcache-<uid>-<name> (name NULL or "" means
 * "default"). Returns 0, or -1 with a one-line reason in err. */
int config_instance_dir(const char *name, const char *dir, uid_t uid,
                        char *out, size_t outsz, char *err, size_t errsz);

#endif
