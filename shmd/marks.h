/* marks.h - clearing change marks left in flight (tier/layout.h, "Change
 * words") by a process that died inside a modifying call. */
#ifndef SHMCACHE_SHMD_MARKS_H
#define SHMCACHE_SHMD_MARKS_H

#include <stdint.h>

#include "shmd/store.h"

#define MARKS_TRACKED 256u      /* words in flight remembered at once */

/* What the watcher remembers between looks (zero-initialised). */
struct marks_watch {
    struct {
        uint64_t *word;
        uint64_t value;         /* as last seen */
        uint64_t since_ns;      /* since when it has had that value */
    } tracked[MARKS_TRACKED];
    unsigned ntracked;
    uint32_t next;              /* next bucket to look at */
    uint64_t last_ns;           /* CLOCK_MONOTONIC ns of the last look */
};

/* Called from the main loop about every heartbeat: while shims say calls
 * are in flight, look (once a second) at a slice of the change words, and
 * clear each one that has stayed in flight with the same value for
 * TIER_CHANGE_STUCK_NS. Returns how many it cleared. One caller per w. */
unsigned marks_check(struct store *s, struct marks_watch *w, uint64_t now_ns);

#endif
