/* config.c - the shim's settings from the environment (see config.h).
 *
 * Rules for bad values: one warning line each; the value is refused and its
 * setting stays inert, except where inert would be less safe than the user
 * asked for: an unrecognised SHMCACHE_DISABLE disables the shim and an
 * unrecognised SHMCACHE_VALIDATE validates every hit. */
#include <stdio.h>
#include <string.h>

#include "preload/config.h"
#include "tier/config.h"

static bool word_in(const char *v, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(v, *words) == 0)
            return true;
    return false;
}

/* SHMCACHE_FLEET_WAIT_MS: decimal milliseconds, 0 to SHIM_FLEET_WAIT_MAX_MS. */
static unsigned parse_wait(const char *v, void (*warn)(const char *))
{
    char msg[512];
    uint64_t ms;

    if (!v || !*v)
        return SHIM_FLEET_WAIT_DEFAULT_MS;
    if (config_parse_uint(v, SHIM_FLEET_WAIT_MAX_MS, &ms) < 0) {
        snprintf(msg, sizeof msg, "SHMCACHE_FLEET_WAIT_MS=\"%.80s\": expected milliseconds "
                 "from 0 to %u; misses do not wait for the fleet", v, SHIM_FLEET_WAIT_MAX_MS);
        warn(msg);
        return 0;
    }
    return (unsigned)ms;
}

void shim_config_parse(struct shim_config *c, const struct shim_env *e, uid_t uid,
                       void (*warn)(const char *))
{
    static const char *const yes[] = {"1", "true", "yes", "on", NULL};
    static const char *const no[] = {"", "0", "false", "no", "off", NULL};
    const char *disable = e->disable, *prefix = e->prefix, *log = e->log;
    const char *validate = e->validate;
    char msg[512];
    char err[300];

    memset(c, 0, sizeof *c);

    if (log && !word_in(log, (const char *const[]){"", "off", NULL})) {
        if (strcmp(log, "miss") == 0) {
            c->log = SHIM_LOG_MISS;
        } else if (strcmp(log, "all") == 0) {
            c->log = SHIM_LOG_ALL;
        } else {
            snprintf(msg, sizeof msg, "SHMCACHE_LOG=\"%.80s\": expected off, miss "
                     "or all; logging stays off", log);
            warn(msg);
        }
    }
    if (validate && !word_in(validate, (const char *const[]){"", "none", "off", NULL})) {
        c->validate_open = true;
        if (strcmp(validate, "open") != 0) {
            snprintf(msg, sizeof msg, "SHMCACHE_VALIDATE=\"%.80s\": expected open "
                     "or none; validating every hit (open)", validate);
            warn(msg);
        }
    }
    c->fleet_wait_ms = parse_wait(e->fleet_wait, warn);
    if (disable && !word_in(disable, no)) {
        if (!word_in(disable, yes)) {
            snprintf(msg, sizeof msg, "SHMCACHE_DISABLE=\"%.80s\": expected 1, true, yes, "
                     "on, or 0, false, no, off; disabled", disable);
            warn(msg);
        } else if (c->log) {
            snprintf(msg, sizeof msg, "off: SHMCACHE_DISABLE=%.80s", disable);
            warn(msg);
        }
        return;
    }
    if (!prefix || !*prefix) {
        if (c->log)
            warn("off: SHMCACHE_PREFIX is not set, so no path is cached");
        return;
    }
    if (path_prefixes_parse(prefix, &c->prefixes, err, sizeof err) < 0) {
        snprintf(msg, sizeof msg, "SHMCACHE_PREFIX: %s; shim disabled", err);
        warn(msg);
        return;
    }
    if (c->prefixes.count == 0) {
        snprintf(msg, sizeof msg, "SHMCACHE_PREFIX=\"%.80s\" names no directory; shim disabled",
                 prefix);
        warn(msg);
        return;
    }
    if (config_instance_dir(e->name, e->dir, uid, c->dir, sizeof c->dir, err, sizeof err) < 0) {
        snprintf(msg, sizeof msg, "%s; shim disabled", err);
        warn(msg);
        return;
    }
    c->enabled = true;
}
