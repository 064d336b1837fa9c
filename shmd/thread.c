/* thread.c - joins with a deadline (see thread.h). */
#include <pthread.h>

#include "shmd/thread.h"
#include "tier/clock.h"

bool shmd_join_until(pthread_t t, uint64_t deadline_ns)
{
    /* pthread_timedjoin_np takes CLOCK_REALTIME: turn what is left of the
     * monotonic deadline into a realtime one (a clock step meanwhile only
     * shortens or lengthens the wait) */
    uint64_t now = mono_ns();
    uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
    struct timespec end = ns_timespec(real_ns() + left);
    return pthread_timedjoin_np(t, NULL, &end) == 0;
}
