/* clock.h - time in nanoseconds, the unit of every time field and deadline
 * in shmcache, from the clocks it uses: CLOCK_MONOTONIC for heartbeats,
 * deadlines and pacing, CLOCK_MONOTONIC_COARSE where a hook only needs a
 * rate limit (no vDSO clock read beyond a memory load), CLOCK_REALTIME for
 * what is compared with file timestamps. clock_gettime is
 * async-signal-safe; these never fail on Linux. */
#ifndef SHMCACHE_CLOCK_H
#define SHMCACHE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_SEC 1000000000ULL
#define NS_PER_MS  1000000ULL

static inline uint64_t timespec_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * NS_PER_SEC + (uint64_t)ts->tv_nsec;
}

static inline struct timespec ns_timespec(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / NS_PER_SEC), .tv_nsec = (long)(ns % NS_PER_SEC)};
    return ts;
}

/* ns of clock id (CLOCK_MONOTONIC, _COARSE, CLOCK_REALTIME). */
static inline uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return timespec_ns(&ts);
}

static inline uint64_t mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static inline uint64_t real_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

#endif
