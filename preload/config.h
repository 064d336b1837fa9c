/* config.h - the shim's settings, read from the environment once at init
 * (init.c) by a pure parser (config.c, unit-tested without the hooks). */
#ifndef SHMCACHE_PRELOAD_CONFIG_H
#define SHMCACHE_PRELOAD_CONFIG_H

#include <stdbool.h>
#include <sys/types.h>

#include "tier/layout.h"
#include "tier/path.h"

enum shim_log { SHIM_LOG_OFF, SHIM_LOG_MISS, SHIM_LOG_ALL };

struct shim_config {
    bool enabled;               /* false: every hook is just the real call */
    bool validate_open;         /* SHMCACHE_VALIDATE=open */
    enum shim_log log;
    struct path_prefixes prefixes;
    char dir[TIER_PATH_MAX];    /* the instance directory */
};
extern struct shim_config shim_cfg __attribute__((visibility("hidden")));

/* Parse the environment values (NULL = unset) into c. Warnings, one line
 * each, go to warn(msg) for values that are refused; a refused value leaves
 * its setting inert (a bad prefix list or instance disables the shim).
 * Pure apart from warn. */
void shim_config_parse(struct shim_config *c, const char *disable, const char *prefix,
                       const char *name, const char *dir, const char *log,
                       const char *validate, uid_t uid, void (*warn)(const char *));

#endif
