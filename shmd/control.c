/* control.c - the server side of ctl.sock: one thread per connection,
 * one request per connection (see tier/proto.h for the framing).
 *
 *   ping                  -> ok
 *   stats                 -> ok, then "key value" lines
 *   ls                    -> ok, then "size age_ms hits kind path" lines
 *                            (kind: file, meta, list or absent)
 *   why PATH              -> ok, then what the tier knows of PATH: its
 *                            entry, and the loads refused (cmd_why)
 *   warm PATH...          -> ok, then "loaded|fetched|cached SIZE PATH",
 *                            "recorded PATH" or "skipped REASON PATH" per
 *                            path as they finish; a PATH with "L" in front
 *                            is a directory whose metadata and listing are
 *                            wanted, with "M" a path whose metadata is
 *                            (paths are absolute: the tag is unambiguous)
 *   evict PATH...         -> ok, then "evicted N" (the entry for each path
 *                            and every entry below it)
 *   flush                 -> ok, then "evicted N"
 *   fleet-manifest        -> ok, then "F|M|L PATH" lines: the fleet's
 *                            manifest (fleet.h: copies, metadata, listings),
 *                            for `shmd warm --from-fleet`
 *   stop                  -> ok; the daemon then shuts down
 *
 * Only the daemon's own user (or root) may connect (SO_PEERCRED); the
 * instance directory's mode already keeps everyone else out. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "shmd/control.h"
#include "shmd/daemon.h"
#include "shmd/fleet.h"
#include "shmd/load.h"
#include "shmd/queue.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/hash.h"
#include "tier/path.h"
#include "tier/proto.h"

#define MAX_CTL_THREADS 32    /* connections served at once */
#define IO_TIMEOUT_SEC 10     /* a client that stops reading or writing */
#define SUBMIT_RETRY_US 1000  /* warm: a full queue is asked again after */

struct conn {
    struct shmd *d;
    int fd;
    FILE *out;               /* buffered writer on fd */
};

static void reply(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
}

/* Paths are printed with '\\' and control characters escaped, so one entry
 * is always one line. */
static void reply_path(struct conn *c, const char *p)
{
    for (; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '\\')
            fputs("\\\\", c->out);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(c->out, "\\x%02x", ch);
        else
            fputc(ch, c->out);
    }
}

static void cmd_stats(struct conn *c)
{
    struct shmd *d = c->d;
    struct store *s = &d->store;
    const struct tier_header *h = s->hdr;
    struct store_counts n;

    store_counts(s, &n);
    reply(c, "ok\n");
    reply(c, "pid %d\n", (int)getpid());
    reply(c, "dir %s\n", d->opt.dir);
    reply(c, "uptime_ms %llu\n", (unsigned long long)((mono_ns() - d->started_mono_ns) / NS_PER_MS));
    reply(c, "hits %llu\n", (unsigned long long)n.hits);
    reply(c, "misses %llu\n", (unsigned long long)n.misses);
    reply(c, "meta_hits %llu\n", (unsigned long long)n.meta_hits);
    reply(c, "negative_hits %llu\n", (unsigned long long)n.negative_hits);
    reply(c, "dir_hits %llu\n", (unsigned long long)n.dir_hits);
    reply(c, "entries %llu\n", (unsigned long long)load_relaxed(&h->entries));
    reply(c, "bytes %llu\n", (unsigned long long)load_relaxed(&h->bytes));
    reply(c, "memory %llu\n", (unsigned long long)load_relaxed(&h->memory));
    reply(c, "meta_entries %llu\n", (unsigned long long)load_relaxed(&h->meta_entries));
    reply(c, "negative_entries %llu\n", (unsigned long long)load_relaxed(&h->negative_entries));
    reply(c, "dir_entries %llu\n", (unsigned long long)load_relaxed(&h->dir_entries));
    reply(c, "capacity %llu\n", (unsigned long long)h->capacity);
    reply(c, "max_file %llu\n", (unsigned long long)h->max_file);
    reply(c, "slots %u\n", h->slot_count);
    reply(c, "revalidate_ms %llu\n", (unsigned long long)h->revalidate_ms);
    reply(c, "settle_ms %llu\n", (unsigned long long)h->settle_ms);
    reply(c, "negative_ms %llu\n", (unsigned long long)h->negative_ms);
    reply(c, "loads %llu\n", (unsigned long long)load_relaxed(&h->loads));
    reply(c, "meta_loads %llu\n", (unsigned long long)load_relaxed(&h->meta_loads));
    reply(c, "load_failures %llu\n", (unsigned long long)load_relaxed(&h->load_failures));
    reply(c, "evictions %llu\n", (unsigned long long)load_relaxed(&h->evictions));
    reply(c, "invalidations %llu\n", (unsigned long long)load_relaxed(&h->invalidations));
    reply(c, "misses_received %llu\n", (unsigned long long)load_relaxed(&h->misses_received));
    reply(c, "misses_unsent %llu\n", (unsigned long long)n.unsent);
    reply(c, "misses_ringed %llu\n", (unsigned long long)load_relaxed(&h->misses_ringed));
    reply(c, "misses_dropped %llu\n", (unsigned long long)load_relaxed(&d->dropped));
    reply(c, "bad_messages %llu\n", (unsigned long long)load_relaxed(&d->bad_messages));
    struct fleet_counts fc;
    fleet_counts(d->fleet, &fc);
    reply(c, "source_loads %llu\n", (unsigned long long)load_relaxed(&d->source_loads));
    reply(c, "fleet_hits %llu\n", (unsigned long long)fc.hits);
    reply(c, "fleet_misses %llu\n", (unsigned long long)fc.misses);
    reply(c, "fleet_stores %llu\n", (unsigned long long)fc.stores);
    reply(c, "fleet_errors %llu\n", (unsigned long long)fc.errors);
    reply(c, "fleet_rejected %llu\n", (unsigned long long)fc.rejected);
    reply(c, "fleet_queue_full %llu\n", (unsigned long long)fc.queue_full);
    reply(c, "fleet_waits %llu\n", (unsigned long long)fc.waits);
    reply(c, "fleet_state %u\n", load_relaxed(&h->fleet));
    reply(c, "fleet_wait_hits %llu\n", (unsigned long long)n.wait_hits);
    reply(c, "fleet_wait_timeouts %llu\n", (unsigned long long)n.wait_timeouts);
    for (int f = 0; f < TIER_FAIL_COUNT; f++) {
        char name[32];
        snprintf(name, sizeof name, "%s", load_fail_name(f));
        for (char *p = name; *p; p++)
            if (*p == '-')
                *p = '_';
        reply(c, "fail_%s %llu\n", name, (unsigned long long)load_relaxed(&h->fail[f]));
    }
}

static void cmd_ls(struct conn *c)
{
    struct store *s = &c->d->store;
    uint64_t now = real_ns();
    char path[PATH_KEY_SIZE];

    reply(c, "ok\n");
    for (uint32_t i = 0; i < store_records_hi(s); i++) {
        if (load_relaxed(&s->records[i].object_id) == 0)
            continue;
        store_lock(s);
        const struct tier_record *t = &s->records[i];
        bool live = t->object_id != 0;
        uint64_t size = t->st.size, loaded = t->loaded_ns;
        uint32_t hits = load_relaxed(&s->view.hits[i]), kind = t->kind & TIER_KIND_MASK;
        bool t_list = t->kind & TIER_KIND_LIST;
        if (live)
            store_path_copy(s, i, path);
        store_unlock(s);
        if (!live)
            continue;
        /* a file's copy, a path known by its metadata (and a directory's
         * listing), one known absent (its size is the directory's: shown
         * as 0) */
        reply(c, "%llu %llu %u %s ", kind == TIER_KIND_NEG ? 0ULL : (unsigned long long)size,
              (unsigned long long)(now > loaded ? (now - loaded) / NS_PER_MS : 0), hits,
              kind == TIER_KIND_FILE ? "file" : kind == TIER_KIND_NEG ? "absent"
              : t_list ? "list" : "meta");
        reply_path(c, path);
        reply(c, "\n");
    }
}

/* Validate a path argument: absolute and normal. */
static int arg_key(const char *arg, char *key)
{
    int n = path_normalize(arg, NULL, true, key, PATH_KEY_SIZE);
    if (n < 0 || strcmp(key, arg) != 0)
        return -1;
    return n;
}

static void cmd_warm(struct conn *c, const char *buf, size_t n, size_t pos)
{
    struct warm_batch *b = warm_batch_new();
    char key[PATH_KEY_SIZE];
    const char *w;
    int bad;

    if (!b) {
        reply(c, "error out of memory\n");
        return;
    }
    reply(c, "ok\n");
    fflush(c->out);
    while ((w = proto_next_word(buf, n, &pos, &bad))) {
        enum queue_what what = w[0] == 'L' ? QUEUE_LIST : w[0] == 'M' ? QUEUE_META : QUEUE_FILE;
        if (what != QUEUE_FILE)
            w++;
        int len = arg_key(w, key);
        if (len < 0) {
            reply(c, "skipped not-absolute-or-normal ");
            reply_path(c, w);
            reply(c, "\n");
            continue;
        }
        /* wait for a queue slot rather than drop: warm is explicit */
        warm_batch_expect(b, 1);
        int r;
        while ((r = queue_submit(c->d->queue, what, key, (size_t)len, -1, -1, b)) < 0 &&
               !load_relaxed(&c->d->stopping))
            usleep(SUBMIT_RETRY_US);
        if (r < 0) {
            warm_batch_expect(b, (size_t)-1);
            break;
        }
    }
    struct load_result res;
    while (warm_batch_next(b, key, &res)) {
        if (res.fail >= 0)
            reply(c, "skipped %s ", load_fail_name(res.fail));
        else if (res.meta && !res.fresh)
            reply(c, "recorded ");
        else
            reply(c, "%s %llu ", res.fresh ? "cached" : res.from_fleet ? "fetched" : "loaded",
                  (unsigned long long)res.size);
        reply_path(c, key);
        reply(c, "\n");
        fflush(c->out);
    }
    warm_batch_free(b);
}

/* One manifest path, escaped as every path in a reply, to a memstream. */
static void manifest_line(void *arg, char tag, const char *path, size_t len)
{
    struct conn *c = arg;
    char key[PATH_KEY_SIZE];

    if (len >= PATH_KEY_SIZE || memchr(path, '\0', len) || (tag != 'F' && tag != 'M' && tag != 'L'))
        return;
    memcpy(key, path, len);
    key[len] = '\0';
    reply(c, "%c ", tag);
    reply_path(c, key);
    reply(c, "\n");
}

/* The fleet's manifest (fleet.h). Collected first: "ok" goes out only
 * when the fleet could be asked. */
static void cmd_fleet_manifest(struct conn *c)
{
    char *text = NULL;
    size_t len = 0;
    struct conn mem = *c;

    if (!c->d->fleet) {
        reply(c, "error no fleet: this shmd runs without --fleet\n");
        return;
    }
    if (!(mem.out = open_memstream(&text, &len))) {
        reply(c, "error out of memory\n");
        return;
    }
    int n = fleet_manifest(c->d->fleet, manifest_line, &mem);
    fclose(mem.out);
    if (n < 0)
        reply(c, "error the fleet does not answer\n");
    else
        reply(c, "ok\n%s", text ? text : "");
    free(text);
}

/* What the tier knows of one path, for `shmd why`:
 *   entry KIND SIZE AGE_MS HITS current|changed   (or "entry none")
 *   failed WHAT REASON AGE_MS                      per kind of load refused
 * (WHAT: copy, metadata, listing). */
static void cmd_why(struct conn *c, const char *buf, size_t n, size_t pos)
{
    struct store *s = &c->d->store;
    char key[PATH_KEY_SIZE];
    const char *w;
    int bad;

    if (!(w = proto_next_word(buf, n, &pos, &bad))) {
        reply(c, "error expected a path\n");
        return;
    }
    int len = arg_key(w, key);
    if (len < 0) {
        reply(c, "error not an absolute, normal path\n");
        return;
    }
    uint64_t now = real_ns();
    uint64_t hash = tier_hash(s->view.hash_seed, key, (size_t)len);
    reply(c, "ok\n");
    store_lock(s);
    int i = store_find(s, key, (size_t)len, hash);
    if (i >= 0) {
        const struct tier_record *t = &s->records[i];
        uint32_t kind = t->kind & TIER_KIND_MASK;
        reply(c, "entry %s %llu %llu %u %s\n",
              kind == TIER_KIND_FILE ? "file" : kind == TIER_KIND_NEG ? "absent"
              : t->kind & TIER_KIND_LIST ? "list" : "meta",
              kind == TIER_KIND_NEG ? 0ULL : (unsigned long long)t->st.size,
              (unsigned long long)(now > t->loaded_ns ? (now - t->loaded_ns) / NS_PER_MS : 0),
              load_relaxed(&s->view.hits[i]),
              store_entry_killed(s, (uint32_t)i) ? "changed" : "current");
    } else {
        reply(c, "entry none\n");
    }
    store_unlock(s);
    static const char *const whats[] = {"copy", "metadata", "listing"};
    for (int q = QUEUE_FILE; q <= QUEUE_LIST; q++) {
        int fail;
        uint64_t at;
        if (queue_last_failure(c->d->queue, (enum queue_what)q, key, (size_t)len, &fail, &at))
            reply(c, "failed %s %s %llu\n", whats[q], load_fail_name(fail),
                  (unsigned long long)(now > at ? (now - at) / NS_PER_MS : 0));
    }
}

/* Remove the entry for key and every entry below it. Returns the count.
 * pre: s->lock held. */
static uint64_t evict_path(struct store *s, const char *key, size_t len)
{
    uint64_t n = 0;
    int i = store_find(s, key, len, tier_hash(s->view.hash_seed, key, len));

    if (i >= 0) {
        bool file = (s->records[i].kind & TIER_KIND_MASK) == TIER_KIND_FILE;
        store_remove(s, (uint32_t)i);
        n++;
        if (file)
            return n; /* nothing is below a file */
    }
    /* a directory (known by its metadata, or not at all): every entry below */
    for (uint32_t r = 0; r < store_records_hi(s); r++) {
        const struct tier_record *t = &s->records[r];
        if (t->object_id && t->path_len > len &&
            path_is_under((const char *)s->arena + t->path_off, t->path_len, key, len)) {
            store_remove(s, r);
            n++;
        }
    }
    return n;
}

static void cmd_evict(struct conn *c, const char *buf, size_t n, size_t pos, bool all)
{
    struct store *s = &c->d->store;
    char key[PATH_KEY_SIZE];
    uint64_t count = 0;
    const char *w;
    int bad;

    if (!all) {
        size_t p = pos;
        while ((w = proto_next_word(buf, n, &p, &bad)))
            if (arg_key(w, key) < 0) {
                reply(c, "error not an absolute normal path: ");
                reply_path(c, w);
                reply(c, "\n");
                return;
            }
    }
    store_lock(s);
    if (all) {
        for (uint32_t r = 0; r < store_records_hi(s); r++)
            if (s->records[r].object_id) {
                store_remove(s, r);
                count++;
            }
    } else {
        while ((w = proto_next_word(buf, n, &pos, &bad))) {
            int len = arg_key(w, key);
            count += evict_path(s, key, (size_t)len);
        }
    }
    store_unlock(s);
    reply(c, "ok\nevicted %llu\n", (unsigned long long)count);
}

/* Read the whole request: until the client shuts down its side. */
static char *read_request(int fd, size_t *n)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);

    while (buf) {
        if (len == cap) {
            if (cap >= PROTO_REQUEST_MAX) {
                free(buf);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    *n = len;
    return buf;
}

void control_serve(struct shmd *d, int fd)
{
    struct conn c = {.d = d, .fd = fd};
    size_t n = 0, pos = 0;
    int bad;
    char *buf = read_request(fd, &n);
    const char *cmd = buf ? proto_next_word(buf, n, &pos, &bad) : NULL;

    c.out = fdopen(fd, "w");
    if (!c.out) {
        close(fd);
        free(buf);
        return;
    }
    if (!cmd) {
        fetch_add_relaxed(&d->bad_messages, 1);
        reply(&c, "error malformed request\n");
    } else if (strcmp(cmd, "ping") == 0) {
        reply(&c, "ok\n");
    } else if (strcmp(cmd, "stats") == 0) {
        cmd_stats(&c);
    } else if (strcmp(cmd, "ls") == 0) {
        cmd_ls(&c);
    } else if (strcmp(cmd, "why") == 0) {
        cmd_why(&c, buf, n, pos);
    } else if (strcmp(cmd, "warm") == 0) {
        cmd_warm(&c, buf, n, pos);
    } else if (strcmp(cmd, "evict") == 0) {
        cmd_evict(&c, buf, n, pos, false);
    } else if (strcmp(cmd, "flush") == 0) {
        cmd_evict(&c, buf, n, pos, true);
    } else if (strcmp(cmd, "fleet-manifest") == 0) {
        cmd_fleet_manifest(&c);
    } else if (strcmp(cmd, "stop") == 0) {
        reply(&c, "ok\n");
        shmd_request_stop(d);
    } else {
        fetch_add_relaxed(&d->bad_messages, 1);
        reply(&c, "error unknown command\n");
    }
    fclose(c.out);
    free(buf);
}

/* A connection's thread: arg is a struct conn (d, fd) to free. */
static void *conn_main(void *arg)
{
    struct conn c = *(struct conn *)arg;

    free(arg);
    control_serve(c.d, c.fd);
    fetch_add_relaxed(&c.d->ctl_threads, -1);
    return NULL;
}

void control_accept(struct shmd *d)
{
    struct ucred cred;
    socklen_t clen = sizeof cred;
    int fd = accept4(d->ctlfd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0)
        return;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
        (cred.uid != geteuid() && cred.uid != 0)) {
        close(fd);
        return;
    }
    /* a client that never finishes its request cannot hold a thread */
    struct timeval tv = {.tv_sec = IO_TIMEOUT_SEC};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (load_relaxed(&d->ctl_threads) >= MAX_CTL_THREADS || load_relaxed(&d->stopping)) {
        static const char busy[] = "error busy\n";
        ssize_t w = write(fd, busy, sizeof busy - 1);
        (void)w;
        close(fd);
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    pthread_t t;
    pthread_attr_t at;
    if (!c) {
        close(fd);
        return;
    }
    c->d = d;
    c->fd = fd;
    fetch_add_relaxed(&d->ctl_threads, 1);
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, conn_main, c) != 0) {
        fetch_add_relaxed(&d->ctl_threads, -1);
        close(fd);
        free(c);
    }
    pthread_attr_destroy(&at);
}

void control_wait_idle(struct shmd *d, uint64_t timeout_ns)
{
    uint64_t end = mono_ns() + timeout_ns;
    while (load_relaxed(&d->ctl_threads) > 0 && mono_ns() < end)
        usleep(1000);
}
