/* queue.c - the loader pool (see queue.h): a queue of jobs, each a path
 * and maybe a program's descriptor of it, and threads that take them in
 * order and run load_file().
 *
 * Invariants: a path is at most once in the queue or being loaded
 * (de-duplicated by hash, the in-flight set); a path that failed is not
 * retried before its retry time (the negative cache), so a stream of misses
 * on a huge or special file costs one stat per second, not one load per
 * miss. A load that lost a race with a change ("changed") is retried at the
 * next miss. Warm requests bypass both (an operator asked for exactly these
 * paths) and are never dropped for a full queue: the control thread waits
 * for room.
 *
 * Programs waiting for a load (the fleet wait, SHMCACHE_FLEET_WAIT_MS) are
 * the write ends of their pipes, kept with the job they wait for, a miss
 * de-duplicated onto a job loading (or about to) joining it. A program is
 * blocked meanwhile, so its job goes to the front of the queue, and only
 * when a loader is idle to take it at once (q->idle > q->front); with
 * every loader busy it is told to read the source straight away, so no
 * program waits behind other loads. Each is told once, one byte, then
 * closed: PROTO_WAIT_SERVED when the load put a current copy in the tier
 * for it, PROTO_WAIT_SOURCE when it will not, as soon as that is known
 * (the fleet has no copy: the load now reads the source, and the program
 * had better do the same at once). A pipe closed untold means the same as
 * PROTO_WAIT_SOURCE: a daemon that dies never keeps a program waiting. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmd/daemon.h"
#include "shmd/fleet.h"
#include "shmd/meta.h"
#include "shmd/opts.h"
#include "shmd/queue.h"
#include "shmd/thread.h"
#include "tier/clock.h"
#include "tier/hash.h"
#include "tier/proto.h"

#define QUEUE_MAX 4096         /* jobs waiting */
#define INFLIGHT_MAX (QUEUE_MAX + SHMD_LOADERS_MAX) /* waiting or loading */
#define NEG_SLOTS 4096         /* negative cache entries, by hash */
#define NEG_RETRY_NS NS_PER_SEC   /* failed loads: retry after 1 s */
#define JOB_WAITERS 8          /* programs waiting on one load; more are
                                  told to read the source at once */

struct queue_job {
    struct queue_job *next;
    struct queue *q;
    struct warm_batch *batch;  /* NULL for a miss */
    enum queue_what what;
    int fd;                    /* the program's descriptor, or -1; owned */
    uint64_t hash;             /* daemon-local dedup hash */
    int waiters[JOB_WAITERS];  /* pipes of programs waiting (q->mu); owned */
    unsigned nwaiters;
    char told;                 /* 0, or what the waiters were told (q->mu) */
    bool front;                /* queued at the front for its waiter (q->mu) */
    size_t len;
    char key[];                /* len bytes, NUL, zero padding */
};

struct neg {
    uint64_t hash;
    uint64_t until_ns;         /* CLOCK_REALTIME */
    uint64_t at_ns;            /* when it failed (CLOCK_REALTIME), for `shmd why` */
    int fail;                  /* enum tier_fail */
};

struct queue {
    struct shmd *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct queue_job *head, *tail;
    size_t queued;
    uint64_t inflight[INFLIGHT_MAX]; /* hashes queued or loading */
    size_t ninflight;
    struct neg neg[NEG_SLOTS];
    struct queue_job *loading[SHMD_LOADERS_MAX]; /* by thread: the job it loads */
    unsigned idle;             /* loaders waiting for a job */
    unsigned front;            /* jobs queued at the front, not yet taken */
    bool stop;
    unsigned nthreads;
    pthread_t threads[SHMD_LOADERS_MAX];
};

struct loader {
    struct queue *q;
    unsigned index;            /* in q->loading */
};

struct warm_done {
    struct warm_done *next;
    struct load_result r;
    size_t len;
    char key[];
};

struct warm_batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;            /* submitted, not yet taken by warm_batch_next */
    struct warm_done *head, *tail;
};

/* The de-duplication hash: any fixed seed (it never leaves the process;
 * a collision only delays one path's load to the next miss). */
#define DEDUP_SEED 0x5348u

static uint64_t key_hash(enum queue_what what, const char *key, size_t len)
{
    return tier_hash(DEDUP_SEED + what, key, len);
}

/* pre (both): q->mu held */
static bool inflight_has(const struct queue *q, uint64_t h)
{
    for (size_t i = 0; i < q->ninflight; i++)
        if (q->inflight[i] == h)
            return true;
    return false;
}

static void inflight_del(struct queue *q, uint64_t h)
{
    for (size_t i = 0; i < q->ninflight; i++)
        if (q->inflight[i] == h) {
            q->inflight[i] = q->inflight[--q->ninflight];
            return;
        }
}

/* Tell one waiting program (queue.c's header) and close its pipe. */
static void tell(int pipe, char what)
{
    if (write(pipe, &what, 1) < 0) {
        /* it stopped waiting (EPIPE: SIGPIPE is ignored): nothing to tell */
    }
    close(pipe);
}

/* The job of a miss on hash h that is loading or queued at the front, or
 * NULL (one queued behind others is no job to wait for). pre: q->mu */
static struct queue_job *job_of(struct queue *q, uint64_t h)
{
    for (unsigned i = 0; i < SHMD_LOADERS_MAX; i++)
        if (q->loading[i] && q->loading[i]->hash == h && !q->loading[i]->batch)
            return q->loading[i];
    for (struct queue_job *j = q->head; j && j->front; j = j->next)
        if (j->hash == h && !j->batch)
            return j;
    return NULL;
}

/* A de-duplicated miss that waits joins the job it waits for; if that job
 * has told already, it is told the same at once. Returns true when taken.
 * pre: q->mu */
static bool join_job(struct queue *q, uint64_t h, int waiter)
{
    struct queue_job *j = job_of(q, h);

    if (!j || (!j->told && j->nwaiters == JOB_WAITERS))
        return false;
    if (j->told)
        tell(waiter, j->told);
    else
        j->waiters[j->nwaiters++] = waiter;
    return true;
}

void queue_answer(struct queue_job *j, bool served)
{
    struct queue *q = j->q;

    pthread_mutex_lock(&q->mu);
    if (!j->told) {
        j->told = served ? PROTO_WAIT_SERVED : PROTO_WAIT_SOURCE;
        for (unsigned i = 0; i < j->nwaiters; i++)
            tell(j->waiters[i], j->told);
        j->nwaiters = 0;
    }
    pthread_mutex_unlock(&q->mu);
}

int queue_submit(struct queue *q, enum queue_what what, const char *key, size_t len, int fd,
                 int waiter, struct warm_batch *b)
{
    uint64_t h = key_hash(what, key, len);
    int ret = 0;

    if (what != QUEUE_FILE && waiter >= 0) {
        close(waiter); /* only a file's load is waited for */
        waiter = -1;
    }
    pthread_mutex_lock(&q->mu);
    struct neg *n = &q->neg[h % NEG_SLOTS];
    if (!b && (inflight_has(q, h) || (n->hash == h && real_ns() < n->until_ns))) {
        ret = 1;
        if (waiter >= 0 && inflight_has(q, h) && join_job(q, h, waiter))
            waiter = -1;
    } else if (q->queued >= QUEUE_MAX || q->ninflight >= INFLIGHT_MAX || q->stop) {
        ret = -1;
    } else {
        struct queue_job *j = malloc(sizeof *j + len + 8);
        if (!j) {
            ret = -1;
        } else {
            j->next = NULL;
            j->q = q;
            j->batch = b;
            j->what = what;
            j->fd = fd;
            fd = -1; /* the job owns it now */
            j->nwaiters = 0;
            j->told = 0;
            j->front = waiter >= 0 && q->idle > q->front;
            if (j->front) {
                j->waiters[j->nwaiters++] = waiter;
                waiter = -1;
            }
            j->hash = h;
            j->len = len;
            memset(j->key + len, 0, 8);
            memcpy(j->key, key, len);
            if (j->front) {
                /* a program waits: first in the queue, for an idle loader */
                j->next = q->head;
                q->head = j;
                if (!q->tail)
                    q->tail = j;
                q->front++;
            } else {
                if (q->tail)
                    q->tail->next = j;
                else
                    q->head = j;
                q->tail = j;
            }
            q->queued++;
            if (!inflight_has(q, h))
                q->inflight[q->ninflight++] = h;
            pthread_cond_signal(&q->cv);
        }
    }
    pthread_mutex_unlock(&q->mu);
    if (fd >= 0)
        close(fd);
    if (waiter >= 0)
        close(waiter); /* not waited for: told by the hangup */
    return ret;
}

static void batch_finish(struct warm_batch *b, const struct queue_job *j, const struct load_result *r)
{
    struct warm_done *w = malloc(sizeof *w + j->len + 8);

    pthread_mutex_lock(&b->mu);
    if (w) {
        w->next = NULL;
        w->r = *r;
        w->len = j->len;
        memcpy(w->key, j->key, j->len + 1);
        if (b->tail)
            b->tail->next = w;
        else
            b->head = w;
        b->tail = w;
    } else {
        b->pending--; /* lost the result, not the count */
    }
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void *loader_main(void *arg)
{
    struct loader *self = arg;
    struct queue *q = self->q;
    unsigned me = self->index;
    struct load_result r;

    free(self);
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stop) {
            q->idle++;
            pthread_cond_wait(&q->cv, &q->mu);
            q->idle--;
        }
        if (q->stop)
            break;
        struct queue_job *j = q->head;
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        q->queued--;
        if (j->front)
            q->front--;
        q->loading[me] = j;
        pthread_mutex_unlock(&q->mu);

        if (j->what != QUEUE_FILE)
            load_meta(q->d, j->key, j->len, j->what == QUEUE_LIST, &r);
        else
            load_file(q->d, j->key, j->len, j->fd, j, &r);
        if (j->fd >= 0)
            close(j->fd);
        /* a copy loaded, or current already: the waiters find it now */
        queue_answer(j, r.fail < 0);
        /* a program's miss recorded: in the fleet's manifest, for the next
         * host (copies are noted when stored in the fleet) */
        if (q->d->fleet && !j->batch && j->what != QUEUE_FILE && r.fail < 0 && !r.fresh)
            fleet_note(q->d->fleet, j->what == QUEUE_LIST ? 'L' : 'M', j->key, j->len);

        pthread_mutex_lock(&q->mu);
        q->loading[me] = NULL;
        inflight_del(q, j->hash);
        if (r.fail >= 0 && r.fail != TIER_FAIL_CHANGED) {
            struct neg *n = &q->neg[j->hash % NEG_SLOTS];
            n->hash = j->hash;
            n->until_ns = r.fail == TIER_FAIL_UNSETTLED ? r.retry_ns : real_ns() + NEG_RETRY_NS;
            n->at_ns = real_ns();
            n->fail = r.fail;
        }
        pthread_mutex_unlock(&q->mu);
        if (j->batch)
            batch_finish(j->batch, j, &r);
        free(j);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

bool queue_last_failure(struct queue *q, enum queue_what what, const char *key, size_t len,
                        int *fail, uint64_t *at_ns)
{
    uint64_t h = key_hash(what, key, len);
    pthread_mutex_lock(&q->mu);
    const struct neg *n = &q->neg[h % NEG_SLOTS];
    bool found = n->hash == h && n->at_ns;
    if (found) {
        *fail = n->fail;
        *at_ns = n->at_ns;
    }
    pthread_mutex_unlock(&q->mu);
    return found;
}

struct queue *queue_start(struct shmd *d, unsigned threads)
{
    struct queue *q = calloc(1, sizeof *q);

    if (!q)
        return NULL;
    q->d = d;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    if (threads > SHMD_LOADERS_MAX)
        threads = SHMD_LOADERS_MAX;
    for (unsigned i = 0; i < threads; i++) {
        struct loader *l = malloc(sizeof *l);
        if (!l)
            break;
        *l = (struct loader){.q = q, .index = i};
        if (pthread_create(&q->threads[i], NULL, loader_main, l) != 0) {
            free(l);
            break;
        }
        q->nthreads++;
    }
    if (q->nthreads == 0) {
        free(q);
        return NULL;
    }
    return q;
}

/* Loads in progress see d->stopping and give up between chunks. */
bool queue_stop(struct queue *q, uint64_t deadline_ns)
{
    bool all = true;

    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (unsigned i = 0; i < q->nthreads; i++)
        all &= shmd_join_until(q->threads[i], deadline_ns);
    struct load_result r = {.fail = TIER_FAIL_IO};
    pthread_mutex_lock(&q->mu);
    struct queue_job *j = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->mu);
    while (j) {
        struct queue_job *next = j->next;
        if (j->batch)
            batch_finish(j->batch, j, &r);
        if (j->fd >= 0)
            close(j->fd);
        for (unsigned i = 0; i < j->nwaiters; i++)
            close(j->waiters[i]);
        free(j);
        j = next;
    }
    if (!all)
        return false; /* a thread is stuck in the filesystem: keep q */
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
    return true;
}

struct warm_batch *warm_batch_new(void)
{
    struct warm_batch *b = calloc(1, sizeof *b);
    if (b) {
        pthread_mutex_init(&b->mu, NULL);
        pthread_cond_init(&b->cv, NULL);
    }
    return b;
}

void warm_batch_expect(struct warm_batch *b, size_t n)
{
    pthread_mutex_lock(&b->mu);
    b->pending += n;
    pthread_mutex_unlock(&b->mu);
}

bool warm_batch_next(struct warm_batch *b, char *key, struct load_result *r)
{
    pthread_mutex_lock(&b->mu);
    while (b->pending && !b->head)
        pthread_cond_wait(&b->cv, &b->mu);
    struct warm_done *w = b->head;
    if (w) {
        b->head = w->next;
        if (!b->head)
            b->tail = NULL;
        b->pending--;
    }
    pthread_mutex_unlock(&b->mu);
    if (!w)
        return false;
    memcpy(key, w->key, w->len + 1);
    *r = w->r;
    free(w);
    return true;
}

void warm_batch_free(struct warm_batch *b)
{
    struct warm_done *w = b->head;
    while (w) {
        struct warm_done *next = w->next;
        free(w);
        w = next;
    }
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}

bool queue_idle(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    bool idle = !q->head && q->ninflight == 0;
    pthread_mutex_unlock(&q->mu);
    return idle;
}
