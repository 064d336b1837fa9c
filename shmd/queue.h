/* queue.h - the loader pool: a queue of paths to load, the threads that
 * run load_file() on them, and warm batches, through which a control
 * thread waits for its own paths (see queue.c for the invariants). */
#ifndef SHMCACHE_SHMD_QUEUE_H
#define SHMCACHE_SHMD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shmd/load.h"

struct shmd;
struct queue;
struct queue_job;
struct warm_batch;

/* Start threads (at most SHMD_LOADERS_MAX) loaders for d. Returns the
 * queue, or NULL when not even one thread could start. */
struct queue *queue_start(struct shmd *d, unsigned threads);

/* Stop the pool, waiting at most until deadline_ns (CLOCK_MONOTONIC) for
 * threads stuck in a slow filesystem; jobs still queued are answered as
 * failed (io-error), so warm batches waiting on them return. Returns false
 * when some thread did not finish: then q stays allocated and the store
 * must stay mapped. */
bool queue_stop(struct queue *q, uint64_t deadline_ns);

/* What a job loads: a file's bytes (load_file), a path's metadata, or a
 * directory's metadata and listing (load_meta). */
enum queue_what { QUEUE_FILE, QUEUE_META, QUEUE_LIST };

/* Queue a load of key (len bytes, padded as path_normalize leaves it). fd,
 * when not -1, is a program's read-only descriptor of that path (from a
 * miss): the queue owns it from here and closes it, whatever the outcome.
 * waiter, when not -1, is the write end of the pipe of a program waiting
 * for this load (the fleet wait, tier/proto.h); owned likewise, and told
 * once (queue.c). Without a batch (a miss) a path already queued or
 * loading, or refused less than a retry time ago, is suppressed (a waiter
 * then waits for the load in flight); with one (warm) it is always queued
 * and its result delivered to b. Returns 0 queued, 1 suppressed, -1 queue
 * full or stopping. Any thread. */
int queue_submit(struct queue *q, enum queue_what what, const char *key, size_t len, int fd,
                 int waiter, struct warm_batch *b);

/* Tell the programs waiting for job j whether it put a current copy in
 * the tier (served) or will not (the load reads the source: they had
 * better do the same now). Once per job: later calls change nothing; the
 * queue calls it with the outcome when the load ends. Any thread. */
void queue_answer(struct queue_job *j, bool served);

/* The last refusal of a load of key (as what), while the queue still
 * remembers it (a slot per hash, overwritten by other paths): its reason
 * (enum tier_fail) and time (CLOCK_REALTIME ns). For `shmd why`. */
bool queue_last_failure(struct queue *q, enum queue_what what, const char *key, size_t len,
                        int *fail, uint64_t *at_ns);

/* True when no job is queued or loading (for tests and fuzzers: a point
 * where every descriptor that came with a miss has been closed). */
bool queue_idle(struct queue *q);

/* Warm batches: the results of the loads one control thread submitted. */
struct warm_batch *warm_batch_new(void);
void warm_batch_free(struct warm_batch *b);
/* Announce n more results to wait for (before submitting them; (size_t)-1
 * takes one back after a submit that failed). */
void warm_batch_expect(struct warm_batch *b, size_t n);
/* Wait for the next finished path; copies it into key (PATH_KEY_SIZE
 * bytes) and its outcome into r. Returns false when no result is pending
 * any more. */
bool warm_batch_next(struct warm_batch *b, char *key, struct load_result *r);

#endif
