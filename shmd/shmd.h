/* shmd.h - the daemon's state and the interfaces between its files.
 *
 * Threads: the main loop (daemon.c: heartbeat, miss datagrams, accepting
 * control connections, signals), a pool of loaders (loader.c), one
 * revalidator (revalidate.c) and one short-lived thread per control
 * connection (control.c). All index writes happen under store.lock. */
#ifndef SHMCACHE_SHMD_H
#define SHMCACHE_SHMD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "shmd/store.h"
#include "tier/layout.h"

enum shmd_log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

struct shmd_opts {
    const char *name;          /* --name, else $SHMCACHE_NAME, else "default" */
    const char *dir_arg;       /* --dir, else $SHMCACHE_DIR */
    char dir[TIER_PATH_MAX];   /* resolved instance directory */
    uint64_t capacity;         /* bytes; 0 = default */
    uint64_t max_file;         /* bytes; 0 = default */
    uint32_t slots;            /* power of two */
    uint64_t revalidate_ms;
    uint64_t settle_ms;
    unsigned loaders;          /* threads */
    int log_level;
};

/* Parse daemon options (argv[0] is skipped). extra, when non-NULL, also
 * accepts `-p/--prefix PREFIX` (for exec) and collects them there, and stops
 * at "--" leaving *next at the command. Returns 0, 1 for --help, or -1 with
 * a message in err (then the caller prints usage and exits 2). */
int shmd_parse_opts(int argc, char **argv, struct shmd_opts *o, char *err, size_t errsz,
                    const char **extra, int *nextra, int *next);
void shmd_usage(FILE *f);

struct loader;

struct shmd {
    struct shmd_opts opt;
    int dirfd;
    int lockfd;
    int missfd;
    int ctlfd;
    int wakefd;                /* eventfd: wakes the main loop to stop */
    uint64_t tier_dev;         /* st_dev of the instance directory */
    uid_t uid;                 /* the daemon's euid, fixed at start */
    mode_t umask;              /* the process umask, read once at start */
    struct store store;
    struct loader *loader;
    int stopping;              /* atomic: set once, read by every thread */
    int ctl_threads;           /* atomic: control connections being served */
    uint64_t started_mono_ns;
    uint64_t dropped;          /* atomic: misses dropped, queue full */
    uint64_t bad_messages;     /* atomic: malformed datagrams or requests */
};

void shmd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern int shmd_log_level;


/* daemon.c */
int shmd_run(struct shmd_opts *o);
void shmd_request_stop(struct shmd *d);

/* loader.c: fill the tier. */
struct load_result {
    int fail;                  /* -1: loaded or already fresh; else enum tier_fail */
    bool fresh;                /* already in the tier and current */
    uint64_t size;             /* bytes of the source */
    uint64_t retry_ns;         /* unsettled: CLOCK_REALTIME ns when it may be */
};
struct warm_batch;
struct loader *loader_start(struct shmd *d, unsigned threads);
/* Stop the pool, waiting at most until deadline_ns (CLOCK_MONOTONIC) for
 * threads stuck in a slow filesystem. Returns false when some did not
 * finish: then l stays allocated and the store must stay mapped. */
bool loader_stop(struct loader *l, uint64_t deadline_ns);
/* Queue a load of key (padded as path_normalize leaves it). fd, when not
 * -1, is a program's read-only descriptor of that path (from a miss): the
 * loader owns it from here and closes it, whatever the outcome. Returns 0
 * queued, 1 suppressed (in flight, or failed recently), -1 queue full. */
int loader_submit(struct loader *l, const char *key, size_t len, int fd, struct warm_batch *b);
/* Load key now, through fd when it is the file key names (else it opens
 * key itself). Does not close fd. */
/* access.c: the TIER_ACCESS_* flags and dirs_uid of the file at key (a
 * normalised absolute path of len bytes) whose mode is mode; fd, when not
 * -1, is open on it and dev is its st_dev; epoch is the tree's epoch read
 * before the file was checked. */
void shmd_access(const char *key, size_t len, int fd, uint64_t dev, uint32_t mode,
                 uint64_t epoch, uint32_t *access, uint32_t *dirs_uid);

/* loader.c: true when the file open on fd is open for writing on this host
 * (as far as a read lease can tell). */
bool shmd_open_for_writing(int fd);

void shmd_load(struct shmd *d, const char *key, size_t len, int fd, struct load_result *r);
const char *shmd_fail_name(int fail);

/* Warm batches: a control thread waits for its paths to load. */
struct warm_batch *warm_batch_new(void);
void warm_batch_free(struct warm_batch *b);
/* Wait for the next finished path; copies it into key. Returns false when
 * none is pending any more. */
bool warm_batch_next(struct warm_batch *b, char *key, struct load_result *r);
void warm_batch_expect(struct warm_batch *b, size_t n);

/* revalidate.c */
int revalidate_start(struct shmd *d);
/* As loader_stop: false when the thread is still inside a stat. */
bool revalidate_stop(struct shmd *d, uint64_t deadline_ns);

/* pthread_join with a CLOCK_MONOTONIC deadline. Returns true when joined. */
bool shmd_join_until(pthread_t t, uint64_t deadline_ns);

/* control.c */
void control_accept(struct shmd *d);
void control_wait_idle(struct shmd *d, uint64_t timeout_ns);

#endif
