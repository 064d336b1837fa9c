/* revalidate.h - the thread that bounds staleness: it compares entries
 * with their sources and drops or revives them (see revalidate.c). */
#ifndef SHMCACHE_SHMD_REVALIDATE_H
#define SHMCACHE_SHMD_REVALIDATE_H

#include <stdbool.h>
#include <stdint.h>

struct shmd;

/* Start the revalidator for d. Returns 0, or -1 when the thread could not
 * be created. */
int revalidate_start(struct shmd *d);

/* Stop it, waiting at most until deadline_ns (CLOCK_MONOTONIC). Returns
 * false when the thread is still inside a stat of a slow filesystem (then
 * the store must stay mapped). */
bool revalidate_stop(struct shmd *d, uint64_t deadline_ns);

#endif
