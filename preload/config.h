/* config.h - the shim's settings, read from the environment once at init
 * (init.c) by a pure parser (config.c, unit-tested without the hooks). */
#ifndef SHMCACHE_PRELOAD_CONFIG_H
#define SHMCACHE_PRELOAD_CONFIG_H

#include <stdbool.h>
#include <sys/types.h>

#include "tier/layout.h"
#include "tier/path.h"

enum shim_log { SHIM_LOG_OFF, SHIM_LOG_MISS, SHIM_LOG_ALL };

/* A miss waits at most this long for the fleet by default (ms): far above
 * a fleet fetch of a small file on a LAN (README "Many hosts" has the
 * figures), and met only when the fleet answers slowly; one that fails is
 * not waited for at all (tier_header.fleet). */
#define SHIM_FLEET_WAIT_DEFAULT_MS 20u
#define SHIM_FLEET_WAIT_MAX_MS 10000u

struct shim_config {
    bool enabled;               /* false: every hook is just the real call */
    bool validate_open;         /* SHMCACHE_VALIDATE=open */
    enum shim_log log;
    unsigned fleet_wait_ms;     /* SHMCACHE_FLEET_WAIT_MS; 0: never wait */
    struct path_prefixes prefixes;
    char dir[TIER_PATH_MAX];    /* the instance directory */
};
extern struct shim_config shim_cfg __attribute__((visibility("hidden")));

/* The environment values the shim reads, NULL when unset. */
struct shim_env {
    const char *disable;        /* SHMCACHE_DISABLE */
    const char *prefix;         /* SHMCACHE_PREFIX */
    const char *name;           /* SHMCACHE_NAME */
    const char *dir;            /* SHMCACHE_DIR */
    const char *log;            /* SHMCACHE_LOG */
    const char *validate;       /* SHMCACHE_VALIDATE */
    const char *fleet_wait;     /* SHMCACHE_FLEET_WAIT_MS */
};

/* Parse the environment values e into c. Warnings, one line each, go to
 * warn(msg) for values that are refused; a refused value leaves its
 * setting inert (a bad prefix list or instance disables the shim; a bad
 * fleet wait never waits). Pure apart from warn. */
void shim_config_parse(struct shim_config *c, const struct shim_env *e, uid_t uid,
                       void (*warn)(const char *));

#endif
