/* revalidate.c - bounding staleness: one thread walks the table, paced so
 * that every entry is compared with its source once per --revalidate-ms,
 * and drops entries whose source changed or vanished (stat of the path:
 * dev, ino, size, mtime and ctime must all be as when copied; for a
 * symlink, its lstat too). Negative entries ("does not exist") are checked
 * once per --negative-ms through their parent directory: one stat of it
 * per pass for all its missing names, as NFS's lookup cache does; the
 * directory changes (mtime, ctime) when a name is created in it. A
 * directory's listing is checked on the same passes (one stat of it): a
 * name created or removed behind the cache shows within --negative-ms
 * either way.
 *
 * Entries a shim killed (their generation or the epoch moved: a change
 * through the shim, maybe to a whole tree) are checked the same way, also
 * when revalidation is off (--revalidate-ms 0): unchanged ones are revived
 * in place, the rest dropped. Reviving needs the source's ctime to have
 * been at least REVIVE_AGE_NS old when it was checked for the copy: then a
 * write after the copy has a later ctime even on a filesystem with 1 s
 * timestamps (with a short --settle-ms the entry is dropped instead). gen
 * and epoch are read before the stat, so a change after the stat kills the
 * entry again. An entry killed by its own generation is not revived while
 * the file is open for writing (a program opened it since the copy and may
 * write yet), nor are permissions carried over: they are classified again.
 *
 * The stat runs without the store lock (a slow filesystem must not stall
 * loads or control requests); the entry is removed only if its slot still
 * holds the same object afterwards. Records never move, so each entry is
 * visited exactly once per pass. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shmd/access.h"
#include "shmd/daemon.h"
#include "shmd/log.h"
#include "shmd/revalidate.h"
#include "shmd/source.h"
#include "shmd/thread.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/hash.h"
#include "tier/path.h"
#include "tier/stat.h"

#define CHUNK 64                /* records checked between two pacing sleeps */
#define IDLE_PASS_NS NS_PER_SEC /* sweep for killed entries when not revalidating */
#define REVIVE_AGE_NS NS_PER_SEC

static pthread_t g_thread;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv;
static bool g_stop;

/* Sleep until CLOCK_MONOTONIC deadline or stop. Returns false on stop. */
static bool sleep_until(uint64_t deadline_ns)
{
    struct timespec ts = ns_timespec(deadline_ns);
    pthread_mutex_lock(&g_mu);
    while (!g_stop && mono_ns() < deadline_ns)
        if (pthread_cond_timedwait(&g_cv, &g_mu, &ts) == ETIMEDOUT)
            break;
    bool go = !g_stop;
    pthread_mutex_unlock(&g_mu);
    return go;
}

/* Drop the entry in record i if it still holds object id. */
static void drop(struct store *s, uint32_t i, uint64_t id, const char *path, const char *why)
{
    store_lock(s);
    bool same = s->records[i].object_id == id;
    if (same) {
        store_remove(s, i);
        fetch_add_relaxed(&s->hdr->invalidations, 1);
    }
    store_unlock(s);
    if (same)
        shmd_log(SHMD_LOG_INFO, "dropped %s: %s", path, why);
}

static bool writing(const char *path)
{
    int fd = source_open(path, -1);
    if (fd < 0)
        return true; /* cannot tell: do not revive */
    bool w = source_open_for_writing(fd);
    close(fd);
    return w;
}

/* Verdicts on parent directories: the negative entries of one directory
 * cost one stat of it per pass, not one per missing name. A verdict is
 * used for at most an eighth of --negative-ms, and the passes for negative
 * entries come every 7/8 of it, so no entry goes longer than --negative-ms
 * unchecked. An entry a shim killed (a create may have been that change)
 * always asks afresh. */
#define PARENTS 256u

struct parent_verdict {
    uint64_t hash;              /* of the parent's path */
    uint64_t at_ns;             /* CLOCK_MONOTONIC of the stat; 0: empty */
    bool ok;                    /* stat(parent) succeeded */
    struct tier_stat st;
};

static struct parent_verdict g_parents[PARENTS];
static uint64_t *g_checked_ns;  /* per record: when last revalidated (CLOCK_MONOTONIC) */
static uint32_t g_checked_n;

/* The parent directory's stat for a negative entry: a recent verdict, or
 * a fresh stat when fresh or none is recent. */
static bool parent_stat(const char *path, bool fresh, uint64_t window_ns, struct tier_stat *out)
{
    char parent[PATH_KEY_SIZE];
    size_t n = strlen(path);

    while (n > 0 && path[n - 1] != '/')
        n--;
    if (n == 0 || !path[1])
        return false;
    n = n > 1 ? n - 1 : 1;
    memcpy(parent, path, n);
    parent[n] = '\0';
    uint64_t h = tier_hash(0, parent, n);
    struct parent_verdict *v = &g_parents[h % PARENTS];
    uint64_t now = mono_ns();
    if (fresh || v->at_ns == 0 || v->hash != h || now - v->at_ns >= window_ns) {
        struct stat st;
        v->hash = h;
        v->at_ns = now;
        v->ok = source_stat(AT_FDCWD, parent, 0, &st) == 0;
        if (v->ok)
            tier_stat_from(&v->st, &st);
    }
    *out = v->st;
    return v->ok;
}

/* Is the entry (kind, st, lst) still what its source is? why: what to
 * log when not. */
static bool source_same(const struct store *s, const char *path, uint32_t kind, bool killed,
                        const struct tier_stat *was, const struct tier_stat *was_l,
                        const char **why)
{
    struct stat st;
    struct tier_stat now;

    if ((kind & TIER_KIND_MASK) == TIER_KIND_NEG) {
        *why = "created, or its directory changed";
        return parent_stat(path, killed, s->hdr->negative_ms * NS_PER_MS / 8, &now) &&
               tier_stat_same(was, &now);
    }
    *why = "source gone";
    if (source_stat(AT_FDCWD, path, 0, &st) < 0)
        return false;
    *why = "source changed";
    tier_stat_from(&now, &st);
    if (!tier_stat_same(was, &now))
        return false;
    if (kind & TIER_KIND_LINK) {
        if (source_stat(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, &st) < 0)
            return false;
        tier_stat_from(&now, &st);
        return tier_stat_same(was_l, &now);
    }
    return true;
}

static void check_record(struct shmd *d, uint32_t i, uint64_t now_ns, uint64_t every_ns,
                         bool negatives)
{
    struct store *s = &d->store;
    char path[PATH_KEY_SIZE];
    struct tier_stat was, was_l;
    const char *why;

    if (load_relaxed(&s->records[i].object_id) == 0)
        return;
    store_lock(s);
    const struct tier_record *t = &s->records[i];
    uint64_t id = t->object_id, hash = t->hash, checked = t->loaded_ns;
    uint64_t was_gen = t->gen;
    uint32_t kind = t->kind, real_bucket1 = t->real_bucket1;
    bool killed = id && store_entry_killed(s, i);
    if (id) {
        store_path_copy(s, i, path);
        was = t->st;
        was_l = t->lst;
    }
    store_unlock(s);
    bool neg = (kind & TIER_KIND_MASK) == TIER_KIND_NEG;
    /* due: negative entries and listings on every pass that is for them,
     * the others once per --revalidate-ms */
    bool due = neg || (kind & TIER_KIND_LIST) ? negatives
                   : every_ns && i < g_checked_n && now_ns - g_checked_ns[i] >= every_ns - every_ns / 8;
    if (!id || (!killed && !due))
        return;
    if (!neg && !(kind & TIER_KIND_LIST) && i < g_checked_n)
        g_checked_ns[i] = now_ns;
    uint64_t gen = load_acquire(&s->view.gens[hash & s->view.bucket_mask]);
    uint64_t epoch = load_acquire(&s->view.marks->epoch);
    uint64_t real_gen = real_bucket1 && real_bucket1 - 1 <= s->view.bucket_mask
                            ? load_acquire(&s->view.gens[real_bucket1 - 1]) : 0;
    if (killed && (!tier_change_quiet(gen) || !tier_change_quiet(epoch) ||
                   !tier_change_quiet(real_gen))) {
        drop(s, i, id, path, "being changed through the shim");
        return;
    }
    if (!source_same(s, path, kind, killed, &was, &was_l, &why)) {
        drop(s, i, id, path, killed ? "changed through the shim" : why);
        return;
    }
    if (!killed)
        return;
    uint64_t ctime_ns = (uint64_t)was.ctime_sec * NS_PER_SEC + (uint64_t)was.ctime_nsec;
    if ((int64_t)(checked - ctime_ns) < (int64_t)REVIVE_AGE_NS) {
        drop(s, i, id, path, "changed through the shim");
        return;
    }
    /* a file killed by its own generation: a program may hold it open for
     * writing (opened since the copy, not written yet) */
    if ((kind & TIER_KIND_MASK) == TIER_KIND_FILE && gen != was_gen && writing(path)) {
        drop(s, i, id, path, "open for writing");
        return;
    }
    uint32_t access, dirs_uid;
    size_t plen = strlen(path);
    if (neg && (kind >> TIER_KIND_ERR_SHIFT) == ENOTDIR) {
        /* the parent is no directory: the directories above it count */
        while (plen > 1 && path[plen - 1] != '/')
            plen--;
        if (plen > 1)
            plen--;
        path[plen] = '\0';
    }
    shmd_access(path, plen, -1, was.dev, neg ? 0 : was.mode, epoch, &access, &dirs_uid);
    store_lock(s);
    bool revived = store_revive(s, i, id, gen, epoch, real_gen, access, dirs_uid);
    store_unlock(s);
    if (revived)
        shmd_log(SHMD_LOG_DEBUG, "revived %s: unchanged", path);
}

/* The pace of a pass: --revalidate-ms for the entries with sources, and
 * --negative-ms when negative entries or listings exist (the shorter one); 0 when
 * neither applies (then only killed entries are looked at, once a second). */
static uint64_t pass_period(const struct store *s, bool *negatives)
{
    uint64_t rp = s->hdr->revalidate_ms * NS_PER_MS, np = s->hdr->negative_ms * NS_PER_MS;

    *negatives = np && (load_relaxed(&s->hdr->negative_entries) ||
                        load_relaxed(&s->hdr->dir_entries));
    if (!*negatives)
        return rp;
    np -= np / 8; /* with the verdicts' age, at most --negative-ms */
    return rp && rp < np ? rp : np;
}

/* Sleep until deadline_ns, but look again every quarter of --negative-ms:
 * when negative entries appear during a long (or idle) pass, the pass that
 * is due for them starts at once. */
enum nap { NAP_DONE, NAP_RESTART, NAP_STOP };

static enum nap nap_until(const struct store *s, uint64_t deadline_ns, uint64_t period_ns)
{
    uint64_t step = s->hdr->negative_ms * NS_PER_MS / 4;

    for (;;) {
        uint64_t now = mono_ns();
        if (now >= deadline_ns)
            return NAP_DONE;
        if (!sleep_until(step && deadline_ns - now > step ? now + step : deadline_ns))
            return NAP_STOP;
        bool negatives;
        uint64_t p = pass_period(s, &negatives);
        if (p && (!period_ns || p < period_ns))
            return NAP_RESTART;
    }
}

static void *revalidate_main(void *arg)
{
    struct shmd *d = arg;
    struct store *s = &d->store;
    for (;;) {
        uint32_t n = store_records_hi(s);
        bool negatives;
        uint64_t period_ns = pass_period(s, &negatives);
        uint64_t every_ns = s->hdr->revalidate_ms * NS_PER_MS;
        bool paced = period_ns > 0;
        uint64_t start = mono_ns();
        enum nap r = NAP_DONE;
        if (n == 0)
            r = nap_until(s, start + (paced ? period_ns : IDLE_PASS_NS) / 10 + NS_PER_MS, period_ns);
        for (uint32_t base = 0; base < n && r == NAP_DONE; base += CHUNK) {
            for (uint32_t i = base; i < base + CHUNK && i < n; i++)
                check_record(d, i, mono_ns(), every_ns, negatives);
            if (paced) {
                uint64_t done = base + CHUNK < n ? base + CHUNK : n;
                r = nap_until(s, start + period_ns / n * done + period_ns % n * done / n, period_ns);
            } else if (load_relaxed(&d->stopping)) {
                return NULL;
            }
        }
        if (r == NAP_DONE && !paced && n > 0)
            r = nap_until(s, start + IDLE_PASS_NS, 0);
        if (r == NAP_STOP)
            return NULL;
    }
}

int revalidate_start(struct shmd *d)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g_cv, &ca);
    pthread_condattr_destroy(&ca);
    g_stop = false;
    g_checked_n = d->store.view.record_count;
    g_checked_ns = calloc(g_checked_n, sizeof *g_checked_ns);
    if (!g_checked_ns)
        return -1;
    return pthread_create(&g_thread, NULL, revalidate_main, d) == 0 ? 0 : -1;
}

bool revalidate_stop(struct shmd *d, uint64_t deadline_ns)
{
    (void)d;
    pthread_mutex_lock(&g_mu);
    g_stop = true;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    if (!shmd_join_until(g_thread, deadline_ns))
        return false; /* still inside a stat: the array stays */
    free(g_checked_ns);
    g_checked_ns = NULL;
    g_checked_n = 0;
    return true;
}
