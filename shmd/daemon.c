/* daemon.c - running one instance: the process set-up (descriptor limit,
 * signals), claiming the instance (claim.c), the threads, the main loop
 * (heartbeat, miss datagrams, control connections, signals) and a clean
 * shutdown in an order shims can rely on: the index is marked stopped
 * first, so no shim serves from it while its objects go away. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "shmd/claim.h"
#include "shmd/control.h"
#include "shmd/daemon.h"
#include "shmd/fleet.h"
#include "shmd/log.h"
#include "shmd/marks.h"
#include "shmd/miss.h"
#include "shmd/queue.h"
#include "shmd/revalidate.h"
#include "shmd/units.h"
#include "tier/atomic.h"
#include "tier/clock.h"

#define THREADS_STOP_NS (5 * NS_PER_SEC)  /* loaders and revalidator, at shutdown */
#define CONTROL_STOP_NS (3 * NS_PER_SEC)  /* control connections, at shutdown */
#define SUMMARY_NS (60 * NS_PER_SEC)      /* the "last minute" log line */

void shmd_request_stop(struct shmd *d)
{
    uint64_t one = 1;
    store_relaxed(&d->stopping, 1);
    ssize_t w = write(d->wakefd, &one, sizeof one);
    (void)w;
}

/* Once a minute, one line summing up what changed the tier without anyone
 * asking: evictions (capacity pressure) and invalidations. */
struct minute {
    uint64_t at_ns;            /* CLOCK_MONOTONIC ns of the last summary */
    uint64_t evictions, invalidations;
};

static void log_minute(struct shmd *d, struct minute *m)
{
    const struct tier_header *h = d->store.hdr;
    uint64_t now = mono_ns();
    char a[32], b[32];

    if (now - m->at_ns < SUMMARY_NS)
        return;
    uint64_t ev = load_relaxed(&h->evictions), inv = load_relaxed(&h->invalidations);
    if (ev != m->evictions || inv != m->invalidations)
        shmd_log(SHMD_LOG_INFO, "last minute: %llu evictions, %llu invalidations; %llu entries, "
                 "memory %s of %s", (unsigned long long)(ev - m->evictions),
                 (unsigned long long)(inv - m->invalidations),
                 (unsigned long long)load_relaxed(&h->entries),
                 units_format_size(load_relaxed(&h->memory), a, sizeof a),
                 units_format_size(h->capacity, b, sizeof b));
    m->at_ns = now;
    m->evictions = ev;
    m->invalidations = inv;
}

/* --idle-exit: every shim attached holds a shared lock of the instance
 * directory (preload/attach.c); an exclusive one, taken and dropped at
 * once, says none is. True once that has been so for idle_exit_s. */
static bool idle_over(struct shmd *d, uint64_t now)
{
    if (!d->opt.idle_exit_s || now - d->idle_checked_ns < NS_PER_SEC)
        return false;
    d->idle_checked_ns = now;
    if (d->idle_fd < 0 || flock(d->idle_fd, LOCK_EX | LOCK_NB) < 0) {
        d->idle_since_ns = 0; /* a shim is attached */
        return false;
    }
    flock(d->idle_fd, LOCK_UN);
    if (!d->idle_since_ns)
        d->idle_since_ns = now;
    return now - d->idle_since_ns >= d->opt.idle_exit_s * NS_PER_SEC;
}

static void heartbeat(struct shmd *d)
{
    store_release(&d->store.hdr->heartbeat_ns, mono_ns());
}

/* Descriptors handed over with misses wait in the load queue: allow as
 * many as the hard limit does. */
static void raise_nofile(void)
{
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
}

/* Serve until a signal, a stop request or a failed poll. Returns why. */
static const char *main_loop(struct shmd *d, int sigfd)
{
    struct pollfd pfd[4] = {
        {.fd = d->missfd, .events = POLLIN},
        {.fd = d->ctlfd, .events = POLLIN},
        {.fd = sigfd, .events = POLLIN},
        {.fd = d->wakefd, .events = POLLIN},
    };
    struct minute m = {.at_ns = mono_ns()};
    static struct marks_watch watch; /* main loop only */

    while (!load_relaxed(&d->stopping)) {
        heartbeat(d);
        log_minute(d, &m);
        shmd_log_rotate();
        marks_check(&d->store, &watch, mono_ns());
        store_reap(&d->store);
        if (idle_over(d, mono_ns()))
            return "idle";
        int n = poll(pfd, 4, (int)(TIER_HEARTBEAT_NS / NS_PER_MS));
        if (n < 0 && errno != EINTR) {
            shmd_log(SHMD_LOG_ERROR, "poll: %s", strerror(errno));
            return "poll failed";
        }
        if (pfd[0].revents & POLLIN)
            miss_drain(d);
        miss_ring_drain(d); /* what the socket had no room for */
        if (pfd[1].revents & POLLIN)
            control_accept(d);
        if (pfd[2].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
                return si.ssi_signo == SIGINT ? "SIGINT" : si.ssi_signo == SIGHUP ? "SIGHUP" : "SIGTERM";
        }
    }
    return "stop requested";
}

int shmd_run(struct shmd_opts *o)
{
    static struct shmd dd;
    struct shmd *d = &dd;
    sigset_t mask;
    char a[32], b[32];

    memset(d, 0, sizeof *d);
    d->opt = *o;
    d->dirfd = d->lockfd = d->missfd = d->ctlfd = d->wakefd = d->idle_fd = -1;
    shmd_log_level = o->log_level;
    d->started_mono_ns = mono_ns();
    raise_nofile();

    /* signals are handled by the main loop only, through a signalfd */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGIO, SIG_IGN); /* lease breaks (source.c, source_open_for_writing) */
    int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    d->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sigfd < 0 || d->wakefd < 0) {
        shmd_log(SHMD_LOG_ERROR, "signalfd/eventfd: %s", strerror(errno));
        return 1;
    }

    if (claim_instance(d) < 0)
        return 1;
    if (d->opt.log_file && shmd_log_to_file(d->opt.log_file) < 0)
        shmd_log(SHMD_LOG_WARN, "--log-file %s: %s: logging to stderr", d->opt.log_file,
                 strerror(errno));
    d->idle_fd = d->opt.idle_exit_s ? openat(d->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (d->opt.fleet) {
        char err[400];
        if (!(d->fleet = fleet_open(d->opt.fleet, d->opt.fleet_key, d->opt.fleet_ns,
                                    &d->store.hdr->fleet, err, sizeof err))) {
            shmd_log(SHMD_LOG_ERROR, "%s", err);
            claim_release(d, true);
            return 1;
        }
        shmd_log(SHMD_LOG_INFO, "fleet: %s, namespace \"%s\"", d->opt.fleet,
                 d->opt.fleet_ns ? d->opt.fleet_ns : "");
    }
    d->queue = queue_start(d, d->opt.loaders);
    if (!d->queue || revalidate_start(d) < 0) {
        shmd_log(SHMD_LOG_ERROR, "cannot start threads");
        if (d->queue)
            queue_stop(d->queue, mono_ns() + THREADS_STOP_NS);
        fleet_close(d->fleet);
        claim_release(d, true);
        return 1;
    }
    shmd_log(SHMD_LOG_INFO, "serving %s: capacity %s, max-file %s, %u slots, revalidate %llu ms, "
             "settle %llu ms, %u loaders", d->opt.dir, units_format_size(d->opt.capacity, a, sizeof a),
             units_format_size(d->opt.max_file, b, sizeof b), d->opt.slots,
             (unsigned long long)d->opt.revalidate_ms, (unsigned long long)d->opt.settle_ms,
             d->opt.loaders);

    const char *why = main_loop(d, sigfd);
    store_relaxed(&d->stopping, 1);
    shmd_log(SHMD_LOG_INFO, "stopping (%s)", why);
    /* shims stop serving from this index at once */
    store_release(&d->store.hdr->state, TIER_STATE_STOPPED);
    /* threads stuck in a hung filesystem must not keep the daemon from
     * stopping: wait a bounded time, then leave the memory mapped */
    uint64_t deadline = mono_ns() + THREADS_STOP_NS;
    bool idle = queue_stop(d->queue, deadline);
    idle &= revalidate_stop(d, deadline);
    control_wait_idle(d, CONTROL_STOP_NS);
    if (!idle)
        shmd_log(SHMD_LOG_WARN, "a thread is stuck in the filesystem; exiting without it");
    /* read once: the fleet's threads write the index, so it stays mapped
     * unless the fleet is closed */
    idle &= load_relaxed(&d->ctl_threads) == 0;
    if (idle)
        fleet_close(d->fleet); /* no loader or control thread uses it any more */
    store_lock(&d->store);
    claim_release(d, idle);
    if (d->idle_fd >= 0)
        close(d->idle_fd);
    close(sigfd);
    close(d->wakefd);
    return 0;
}
