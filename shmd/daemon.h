/* daemon.h - one running instance: the state every part of the daemon
 * shares, and running it.
 *
 * Threads: the main loop (daemon.c: heartbeat, miss datagrams, accepting
 * control connections, signals), the loader pool (queue.c), one
 * revalidator (revalidate.c) and one short-lived thread per control
 * connection (control.c). All index writes happen under store.lock. */
#ifndef SHMCACHE_SHMD_DAEMON_H
#define SHMCACHE_SHMD_DAEMON_H

#include <stdint.h>
#include <sys/types.h>

#include "shmd/opts.h"
#include "shmd/store.h"

struct queue;

struct shmd {
    struct shmd_opts opt;
    int dirfd;                 /* the instance directory */
    int lockfd;                /* its lock file, flock'ed while we run */
    int missfd;                /* miss.sock */
    int ctlfd;                 /* ctl.sock */
    int wakefd;                /* eventfd: wakes the main loop to stop */
    uint64_t tier_dev;         /* st_dev of the instance directory */
    int list_order;            /* enum snap_order: how tmpfs lists a
                                  snapshot (probed at start) */
    uint64_t ring_head;        /* the miss ring's next position (main loop) */
    int idle_fd;               /* --idle-exit: the instance directory, to lock */
    uint64_t idle_since_ns;    /* CLOCK_MONOTONIC since no shim is attached; 0 */
    uint64_t idle_checked_ns;
    uint64_t ring_stuck_ns;    /* since when its slot is claimed, unpublished */
    uid_t uid;                 /* the daemon's euid, fixed at start */
    mode_t umask;              /* the process umask, read once at start */
    struct store store;
    struct queue *queue;       /* the loader pool */
    int stopping;              /* atomic: set once, read by every thread */
    int ctl_threads;           /* atomic: control connections being served */
    uint64_t started_mono_ns;
    uint64_t dropped;          /* atomic: misses dropped, queue full */
    uint64_t bad_messages;     /* atomic: malformed datagrams or requests */
    struct fleet *fleet;       /* --fleet (fleet.h), or NULL */
    uint64_t source_loads;     /* atomic: copies whose bytes came from the source */
};

/* Run the daemon for the instance o names until a signal or a stop
 * request. Returns the process exit code: 0 after a clean stop, 1 when
 * the instance could not be claimed or the daemon not started. */
int shmd_run(struct shmd_opts *o);

/* Ask the main loop to stop (any thread). */
void shmd_request_stop(struct shmd *d);

#endif
