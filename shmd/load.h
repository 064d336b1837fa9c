/* load.h - one load: admitting a source file into the tier and copying it
 * (the rules are at the top of load.c). The queue (queue.c) runs loads on
 * its threads. */
#ifndef SHMCACHE_SHMD_LOAD_H
#define SHMCACHE_SHMD_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shmd;
struct queue_job;

struct load_result {
    int fail;                  /* -1: loaded or already fresh; else enum tier_fail */
    bool fresh;                /* already in the tier and current */
    uint64_t size;             /* bytes of the source */
    uint64_t retry_ns;         /* unsettled: CLOCK_REALTIME ns when it may be */
    bool meta;                 /* a metadata (or listing) load, no copy */
    bool from_fleet;           /* the copy's bytes came from the fleet */
};

/* Load key (a normalised absolute path of len bytes, padded as
 * path_normalize leaves it) into the tier, reading through fd when fd is
 * not -1 and names the file key names (else key is opened anew). fd stays
 * the caller's to close. job, when not NULL, is the queue's job: programs
 * waiting for it are told the moment the copy is known to come from the
 * source (queue_answer). A refusal is counted in the header (fail[],
 * load_failures) and logged at its level; r tells the outcome.
 * pre: d's store is created; any thread. */
void load_file(struct shmd *d, const char *key, size_t len, int fd, struct queue_job *job,
               struct load_result *r);

/* The reason's name as `shmd stats` and `shmd warm` print it ("too-large"),
 * or "?" for a value that is no enum tier_fail. */
const char *load_fail_name(int fail);

#endif
