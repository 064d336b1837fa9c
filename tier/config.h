/* config.h - naming an instance, the same way for shmd's --name and --dir
 * and the shim's SHMCACHE_NAME and SHMCACHE_DIR: which names are valid and
 * which directory a name or a directory option means; and the decimal
 * numbers both read. Pure functions: no I/O, no allocation. (Sizes, which
 * only shmd reads, are in shmd/units.h.) */
#ifndef SHMCACHE_CONFIG_H
#define SHMCACHE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Instance names: 1-64 of [A-Za-z0-9._-], not "." or "..". */
bool config_name_valid(const char *name);

/* The instance directory: dir when set (must be absolute and normal),
 * otherwise /dev/shm/shmcache-<uid>-<name> (name NULL or "" means
 * "default"). Returns 0, or -1 with a one-line reason in err. */
int config_instance_dir(const char *name, const char *dir, uid_t uid,
                        char *out, size_t outsz, char *err, size_t errsz);

/* A non-negative decimal integer at most max (digits only). Returns 0 or
 * -1. */
int config_parse_uint(const char *s, uint64_t max, uint64_t *out);

#endif
