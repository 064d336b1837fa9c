/* fleet.c - copies shared through memcached (see fleet.h).
 *
 * Each thread that fetches has its own memcached_st, a clone of the
 * master's configuration (libmemcached's handles are not thread-safe),
 * made on its first fetch and freed when the thread ends. The publishing
 * thread has its own. Nothing here holds the store's lock.
 *
 * A value is trusted only through the MAC: the header's fields are read,
 * checked against the version this host sees, and every chunk is fed to
 * the MAC as it is written; only a MAC equal to the header's (compared in
 * constant time) makes the copy good. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmemcached/memcached.h>
#include <sodium.h>

#include "shmd/fleet.h"
#include "shmd/log.h"
#include "tier/atomic.h"
#include "tier/layout.h"

#define FLEET_CHUNK (1020u * 1024) /* bytes per item: within memcached's 1 MiB
                                      default (-I), with room for its header */
#define FLEET_QUEUE 256u           /* publishes waiting at most */
#define FLEET_SECRET_MIN 16
#define FLEET_SECRET_MAX 4096
#define FLEET_KEY_MAX 64           /* "shmc1:" + 32 hex + ":" + a chunk number */
#define FLEET_LEASE_S 10u          /* a lease lives at most this long */
#define FLEET_WAIT_MS 1000u        /* a host waits this long for another's copy */
#define FLEET_POLL_MS 20u
#define FLEET_COLD_MISSES 16u      /* misses in a row that make the fleet cold */
#define FLEET_MAGIC "SHMF"
#define FLEET_VERSION 1u
/* A manifest item holds the batches whose end falls in its MANIFEST_ITEM
 * bytes of the count: at most MANIFEST_ITEM + MANIFEST_BATCH bytes, within
 * memcached's default item (1 MiB, with its own header). */
#define MANIFEST_ITEM 800000u      /* bytes of the count per manifest item */
#define MANIFEST_BATCH 200000u     /* entries waiting to be appended, at most */
#define MANIFEST_MAC 16            /* bytes of an entry's MAC (32 hex digits) */

/* The header item, little-endian as the hosts this builds for. */
struct fleet_hdr {
    char magic[4];
    uint32_t version;
    uint64_t size;
    int64_t mtime_ns;
    uint32_t chunk;
    uint32_t nchunks;
    unsigned char mac[crypto_generichash_BYTES];
};
_Static_assert(sizeof(struct fleet_hdr) == 64, "fleet_hdr is the wire format");
_Static_assert(MANIFEST_ITEM + MANIFEST_BATCH <= 1000000, "a manifest item fits memcached's");

struct job {
    char *key;
    size_t len;
    uint64_t size;
    int64_t mtime_ns;
    int fd;
};

struct fleet {
    memcached_st *master;
    unsigned char secret[crypto_generichash_KEYBYTES];
    char *ns;
    pthread_key_t handle;      /* this thread's clone of master */
    pthread_mutex_t lock;      /* the queue */
    pthread_cond_t wake;
    struct job queue[FLEET_QUEUE];
    unsigned head, count;
    char mbuf[MANIFEST_BATCH]; /* manifest entries not appended yet (lock) */
    size_t mlen;
    bool stopping;
    pthread_t publisher;
    int down;                  /* atomic: the last operation failed (logged once) */
    unsigned cold;             /* atomic: fetches in a row that found no copy */
    uint32_t *shown;           /* the index's tier_header.fleet (enum tier_fleet) */
    struct fleet_counts n;     /* atomics */
};

/* ---- keys and the MAC -------------------------------------------------------------- */

/* The identity a key and a MAC are of: namespace, path, size, mtime. */
/* Every hash of the fleet: keyed by the secret (outlen bytes), then the
 * domain it is for and the namespace, each with its NUL. */
static void keyed_begin(const struct fleet *f, crypto_generichash_state *st, size_t outlen,
                        const char *domain)
{
    crypto_generichash_init(st, f->secret, sizeof f->secret, outlen);
    crypto_generichash_update(st, (const unsigned char *)domain, strlen(domain) + 1);
    crypto_generichash_update(st, (const unsigned char *)f->ns, strlen(f->ns) + 1);
}

/* An item name from a keyed hash: "shmc1:<32 hex>" into out
 * (FLEET_KEY_MAX). Returns its length. */
static size_t item_name(crypto_generichash_state *st, char *out)
{
    unsigned char h[16];
    crypto_generichash_final(st, h, sizeof h);
    memcpy(out, "shmc1:", 6);
    sodium_bin2hex(out + 6, 33, h, sizeof h);
    return 6 + 32;
}

static void identity(const struct fleet *f, const char *key, size_t len, uint64_t size,
                     int64_t mtime_ns, crypto_generichash_state *st, size_t outlen)
{
    keyed_begin(f, st, outlen, "shmcache fleet v1");
    crypto_generichash_update(st, (const unsigned char *)key, len);
    crypto_generichash_update(st, (const unsigned char *)"", 1);
    crypto_generichash_update(st, (const unsigned char *)&size, sizeof size);
    crypto_generichash_update(st, (const unsigned char *)&mtime_ns, sizeof mtime_ns);
}

/* "shmc1:<32 hex>" into out (FLEET_KEY_MAX): the version's name in the
 * fleet, under the secret (another fleet's keys never collide, and names
 * say nothing of paths). Returns its length. */
static size_t item_base(const struct fleet *f, const char *key, size_t len, uint64_t size,
                        int64_t mtime_ns, char *out)
{
    crypto_generichash_state st;
    identity(f, key, len, size, mtime_ns, &st, 16);
    return item_name(&st, out);
}

static void mac_begin(const struct fleet *f, const char *key, size_t len, const struct fleet_hdr *h,
                      crypto_generichash_state *st)
{
    identity(f, key, len, h->size, h->mtime_ns, st, crypto_generichash_BYTES);
    crypto_generichash_update(st, (const unsigned char *)h, offsetof(struct fleet_hdr, mac));
}

static uint32_t chunks_of(uint64_t size)
{
    return (uint32_t)((size + FLEET_CHUNK - 1) / FLEET_CHUNK);
}

/* ---- handles and health -------------------------------------------------------------- */

static void handle_free(void *p)
{
    memcached_free(p);
}

static memcached_st *handle(struct fleet *f)
{
    memcached_st *m = pthread_getspecific(f->handle);
    if (!m && (m = memcached_clone(NULL, f->master)))
        pthread_setspecific(f->handle, m);
    return m;
}

/* What the shims see (tier_header.fleet): down after a failed operation;
 * else cold after FLEET_COLD_MISSES fetches in a row found no copy (a
 * program's wait would only cost it a round trip), until one finds one. */
static void show(struct fleet *f, bool bad)
{
    uint32_t want = bad ? TIER_FLEET_DOWN
                  : load_relaxed(&f->cold) >= FLEET_COLD_MISSES ? TIER_FLEET_COLD
                  : TIER_FLEET_ANSWERING;
    if (load_relaxed(f->shown) != want)
        store_release(f->shown, want);
}

/* An operation's outcome for the log and the shims: say when the fleet
 * goes, and when it comes back, once each; and show the shims whether to
 * wait for it (each outcome stores its own verdict, so the word follows
 * the last operation even when threads race). */
static void health(struct fleet *f, memcached_st *m, memcached_return_t rc)
{
    bool bad = rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTFOUND && rc != MEMCACHED_NOTSTORED &&
               rc != MEMCACHED_DATA_EXISTS;
    show(f, bad);
    if (bad) {
        fetch_add_relaxed(&f->n.errors, 1);
        if (!exchange_relaxed(&f->down, 1))
            shmd_log(SHMD_LOG_WARN, "fleet: %s: loads read the source until it answers",
                     memcached_strerror(m, rc));
    } else if (load_relaxed(&f->down) && exchange_relaxed(&f->down, 0)) {
        shmd_log(SHMD_LOG_INFO, "fleet: answering again");
    }
}

/* ---- fetch --------------------------------------------------------------------------- */

/* A header item's value v (vlen bytes) into *h: true when it is a header
 * of this version (size, mtime, chunking), to be checked by its MAC. */
static bool header_of(const char *v, size_t vlen, uint64_t size, int64_t mtime_ns,
                      struct fleet_hdr *h)
{
    if (vlen != sizeof *h)
        return false;
    memcpy(h, v, sizeof *h);
    return memcmp(h->magic, FLEET_MAGIC, 4) == 0 && h->version == FLEET_VERSION &&
           h->size == size && h->mtime_ns == mtime_ns && h->chunk == FLEET_CHUNK &&
           h->nchunks == chunks_of(size);
}

/* The header item of the version: 1 read (into *h; ok says whether it is
 * this version's), 0 not there, -1 could not ask. */
static int get_header(struct fleet *f, memcached_st *m, char *name, size_t base, uint64_t size,
                      int64_t mtime_ns, struct fleet_hdr *h, bool *ok)
{
    memcached_return_t rc;
    size_t vlen;
    uint32_t flags;

    memcpy(name + base, ":h", 3);
    char *v = memcached_get(m, name, base + 2, &vlen, &flags, &rc);
    health(f, m, rc);
    if (!v)
        return rc == MEMCACHED_NOTFOUND ? 0 : -1;
    *ok = header_of(v, vlen, size, mtime_ns, h);
    free(v);
    return 1;
}

/* The header item and the first chunk in one round trip (a multi-get):
 * get_header's answer, and chunk 0's value into *c0 (malloc'd, *c0len
 * bytes; NULL when it is not there). Most files are one chunk: a fetch is
 * then one round trip to memcached. */
static int get_first(struct fleet *f, memcached_st *m, char *name, size_t base, uint64_t size,
                     int64_t mtime_ns, struct fleet_hdr *h, bool *ok, char **c0, size_t *c0len)
{
    char hname[FLEET_KEY_MAX], cname[FLEET_KEY_MAX];
    memcpy(hname, name, base);
    memcpy(hname + base, ":h", 3);
    memcpy(cname, name, base);
    memcpy(cname + base, ":0", 3);
    const char *keys[2] = {hname, cname};
    size_t lens[2] = {base + 2, base + 2};
    memcached_return_t rc = memcached_mget(m, keys, lens, 2);
    int r = 0;

    *c0 = NULL;
    health(f, m, rc);
    if (rc != MEMCACHED_SUCCESS)
        return -1;
    memcached_result_st *res;
    while ((res = memcached_fetch_result(m, NULL, &rc))) {
        size_t klen = memcached_result_key_length(res);
        const char *k = memcached_result_key_value(res);
        size_t vlen = memcached_result_length(res);
        if (klen == base + 2 && memcmp(k, hname, klen) == 0) {
            r = 1;
            *ok = header_of(memcached_result_value(res), vlen, size, mtime_ns, h);
        } else if (klen == base + 2 && memcmp(k, cname, klen) == 0 && !*c0) {
            *c0len = vlen;
            *c0 = memcached_result_take_value(res);
        }
        memcached_result_free(res);
    }
    /* the end of the results is no error; a timeout or a dead server is,
     * but the fetch loop reports most of those as the end (NOTFOUND): the
     * handle's last error says (mget cleared it), also for a dead server
     * mget skipped while another answered */
    if (rc == MEMCACHED_END || rc == MEMCACHED_NOTFOUND || rc == MEMCACHED_SUCCESS) {
        memcached_return_t last = memcached_last_error(m);
        rc = last == MEMCACHED_NOTFOUND || last == MEMCACHED_END ? MEMCACHED_SUCCESS : last;
    }
    health(f, m, rc);
    if (rc != MEMCACHED_SUCCESS) {
        free(*c0);
        *c0 = NULL;
        return -1;
    }
    return r;
}

/* No copy yet: one host per version loads it from the source. The lease
 * ("...:l", add, FLEET_LEASE_S) names that host; a host that cannot take
 * it waits for the holder's copy (the header), at most FLEET_WAIT_MS, then
 * loads from the source itself. Returns get_header's answer after the
 * wait, 0 when this host is to load. */
static int wait_for_holder(struct fleet *f, memcached_st *m, char *name, size_t base,
                           uint64_t size, int64_t mtime_ns, struct fleet_hdr *h, bool *ok)
{
    memcpy(name + base, ":l", 3);
    memcached_return_t rc = memcached_add(m, name, base + 2, "1", 1, FLEET_LEASE_S, 0);
    health(f, m, rc);
    if (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_DATA_EXISTS)
        return 0; /* ours (or the fleet is not answering): load */
    fetch_add_relaxed(&f->n.waits, 1);
    for (unsigned waited = 0; waited < FLEET_WAIT_MS; waited += FLEET_POLL_MS) {
        usleep(FLEET_POLL_MS * 1000);
        int r = get_header(f, m, name, base, size, mtime_ns, h, ok);
        if (r != 0)
            return r;
    }
    return 0;
}

int fleet_fetch(struct fleet *f, const char *key, size_t len, uint64_t size, int64_t mtime_ns,
                int fd, void (*absent)(void *), void *arg)
{
    char name[FLEET_KEY_MAX];
    memcached_return_t rc;
    size_t vlen;
    uint32_t flags;
    memcached_st *m = handle(f);
    struct fleet_hdr h;
    bool ok = false;
    char *v, *c0 = NULL;
    size_t c0len = 0;

    if (!m) {
        fetch_add_relaxed(&f->n.errors, 1);
        return -1;
    }
    size_t base = item_base(f, key, len, size, mtime_ns, name);
    int r = get_first(f, m, name, base, size, mtime_ns, &h, &ok, &c0, &c0len);
    bool have_c0 = r == 1;
    if (r == 0 && absent)
        absent(arg); /* whatever the lease says: not a copy to wait for */
    if (r == 0) {
        free(c0); /* a copy being stored: its header comes last */
        c0 = NULL;
        r = wait_for_holder(f, m, name, base, size, mtime_ns, &h, &ok);
    }
    if (r <= 0) {
        if (r == 0) {
            /* a miss (unless the lease could not be asked either: down) */
            if (!load_relaxed(&f->down) &&
                fetch_add_relaxed(&f->cold, 1) + 1 == FLEET_COLD_MISSES)
                show(f, false);
            fetch_add_relaxed(&f->n.misses, 1);
        }
        return r;
    }
    crypto_generichash_state st;
    if (ok)
        mac_begin(f, key, len, &h, &st);
    for (uint32_t i = 0; ok && i < h.nchunks; i++) {
        uint64_t off = (uint64_t)i * FLEET_CHUNK;
        size_t want = size - off < FLEET_CHUNK ? (size_t)(size - off) : FLEET_CHUNK;
        if (i == 0 && have_c0) {
            v = c0; /* asked with the header */
            vlen = c0len;
            c0 = NULL;
        } else {
            int k = snprintf(name + base, FLEET_KEY_MAX - base, ":%u", i);
            v = memcached_get(m, name, base + (size_t)k, &vlen, &flags, &rc);
            health(f, m, rc);
            if (!v && rc != MEMCACHED_NOTFOUND) {
                free(c0);
                return -1; /* could not ask: an error, counted */
            }
        }
        ok = v && vlen == want && pwrite(fd, v, want, (off_t)off) == (ssize_t)want;
        if (ok)
            crypto_generichash_update(&st, (const unsigned char *)v, want);
        free(v);
    }
    free(c0); /* not used: the header was refused */
    unsigned char mac[crypto_generichash_BYTES];
    if (ok) {
        crypto_generichash_final(&st, mac, sizeof mac);
        ok = sodium_memcmp(mac, h.mac, sizeof mac) == 0;
    }
    if (!ok) {
        fetch_add_relaxed(&f->n.rejected, 1);
        shmd_log(SHMD_LOG_WARN, "fleet: refused the copy of %s (%llu bytes): a bad MAC, or "
                 "a missing or short part", key, (unsigned long long)size);
        return -1;
    }
    if (exchange_relaxed(&f->cold, 0) >= FLEET_COLD_MISSES)
        show(f, load_relaxed(&f->down));
    fetch_add_relaxed(&f->n.hits, 1); /* after the state: what stats show is settled */
    return 1;
}

/* ---- the manifest -------------------------------------------------------------------- */

/* The manifest names what hosts looked up, newest last, so that a new host
 * can have it before it takes traffic (shmd warm --from-fleet): the paths
 * whose copies hosts stored ('F'), and those whose metadata ('M': a stat,
 * or "does not exist") or listing ('L') a host recorded on a miss. Entries
 * are "<32 hex MAC><tag><path>\0", the MAC keyed by the secret over the
 * namespace, the tag and the path: a forged entry is skipped (counted in
 * rejected). Hosts batch their entries (fleet_note) and the publishing
 * thread appends each batch. A counter item ("...:n", incr) numbers the
 * bytes ever appended; a batch goes, by append, to the item ("...:m<i>")
 * its end falls in, so each item holds at most MANIFEST_ITEM +
 * MANIFEST_BATCH bytes (and memcached refuses an append past its item
 * size, which bounds a counter reset by eviction too: those entries are
 * lost, not the bound), and a reader takes the newest two: a bounded
 * manifest of what was looked up most recently. Older items are left to
 * memcached's LRU. */

static size_t manifest_base(const struct fleet *f, char *out)
{
    crypto_generichash_state st;
    keyed_begin(f, &st, 16, "shmcache fleet manifest v1");
    return item_name(&st, out);
}

/* An entry's MAC over tag and path, as 32 hex digits and a NUL, into hex. */
static void entry_mac(const struct fleet *f, char tag, const char *path, size_t len, char *hex)
{
    crypto_generichash_state st;
    unsigned char h[MANIFEST_MAC];
    keyed_begin(f, &st, sizeof h, "shmcache manifest entry v1");
    crypto_generichash_update(&st, (const unsigned char *)&tag, 1);
    crypto_generichash_update(&st, (const unsigned char *)path, len);
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(hex, 2 * MANIFEST_MAC + 1, h, sizeof h);
}

void fleet_note(struct fleet *f, char tag, const char *key, size_t len)
{
    size_t rlen = 2 * MANIFEST_MAC + 1 + len + 1;
    char hex[2 * MANIFEST_MAC + 1];
    bool taken = false;

    entry_mac(f, tag, key, len, hex);
    pthread_mutex_lock(&f->lock);
    if (f->mlen + rlen <= MANIFEST_BATCH && !f->stopping) {
        char *e = f->mbuf + f->mlen;
        memcpy(e, hex, 2 * MANIFEST_MAC);
        e[2 * MANIFEST_MAC] = tag;
        memcpy(e + 2 * MANIFEST_MAC + 1, key, len);
        e[rlen - 1] = '\0';
        f->mlen += rlen;
        taken = true;
        pthread_cond_signal(&f->wake);
    }
    pthread_mutex_unlock(&f->lock);
    if (!taken)
        fetch_add_relaxed(&f->n.queue_full, 1);
}

/* Append one batch of entries (len bytes) to the manifest: best effort. */
static void manifest_append(struct fleet *f, memcached_st *m, const char *batch, size_t len)
{
    char name[FLEET_KEY_MAX];
    uint64_t total = 0;

    size_t base = manifest_base(f, name);
    memcpy(name + base, ":n", 3);
    memcached_return_t rc = memcached_increment(m, name, base + 2, (uint32_t)len, &total);
    if (rc == MEMCACHED_NOTFOUND) {
        /* the first batch (or the counter was evicted): start it; a host
         * that started it meanwhile wins, and ours counts on */
        memcached_add(m, name, base + 2, "0", 1, 0, 0);
        rc = memcached_increment(m, name, base + 2, (uint32_t)len, &total);
    }
    health(f, m, rc);
    if (rc != MEMCACHED_SUCCESS || total < len)
        return;
    int k = snprintf(name + base, FLEET_KEY_MAX - base, ":m%llu",
                     (unsigned long long)((total - 1) / MANIFEST_ITEM));
    size_t nlen = base + (size_t)k;
    rc = memcached_append(m, name, nlen, batch, len, 0, 0);
    if (rc == MEMCACHED_NOTSTORED) { /* no such item yet */
        rc = memcached_add(m, name, nlen, batch, len, 0, 0);
        if (rc == MEMCACHED_NOTSTORED) /* another host made it first */
            rc = memcached_append(m, name, nlen, batch, len, 0, 0);
    }
    health(f, m, rc);
}

/* The entries of one manifest item, each checked, to each(). Returns how
 * many were good. */
static size_t manifest_item(struct fleet *f, memcached_st *m, char *name, size_t base,
                            uint64_t item, fleet_entry_fn *each, void *arg)
{
    memcached_return_t rc;
    size_t vlen, good = 0;
    uint32_t flags;
    char hex[2 * MANIFEST_MAC + 1];

    int k = snprintf(name + base, FLEET_KEY_MAX - base, ":m%llu", (unsigned long long)item);
    char *v = memcached_get(m, name, base + (size_t)k, &vlen, &flags, &rc);
    health(f, m, rc);
    for (size_t at = 0; v && at < vlen;) {
        char *end = memchr(v + at, '\0', vlen - at);
        if (!end)
            break; /* a torn tail: not an entry */
        size_t elen = (size_t)(end - (v + at));
        if (elen > 2 * MANIFEST_MAC + 1) {
            char tag = v[at + 2 * MANIFEST_MAC];
            const char *path = v + at + 2 * MANIFEST_MAC + 1;
            size_t plen = elen - 2 * MANIFEST_MAC - 1;
            entry_mac(f, tag, path, plen, hex);
            if (sodium_memcmp(hex, v + at, 2 * MANIFEST_MAC) == 0) {
                each(arg, tag, path, plen);
                good++;
            } else {
                fetch_add_relaxed(&f->n.rejected, 1);
            }
        }
        at += elen + 1;
    }
    free(v);
    return good;
}

int fleet_manifest(struct fleet *f, fleet_entry_fn *each, void *arg)
{
    char name[FLEET_KEY_MAX], num[32];
    memcached_return_t rc;
    size_t vlen;
    uint32_t flags;
    memcached_st *m = handle(f);

    if (!m)
        return -1;
    size_t base = manifest_base(f, name);
    memcpy(name + base, ":n", 3);
    char *v = memcached_get(m, name, base + 2, &vlen, &flags, &rc);
    health(f, m, rc);
    if (!v)
        return rc == MEMCACHED_NOTFOUND ? 0 : -1;
    snprintf(num, sizeof num, "%.*s", (int)(vlen < sizeof num ? vlen : sizeof num - 1), v);
    free(v);
    char *end;
    unsigned long long total = strtoull(num, &end, 10);
    if (end == num || !total)
        return 0;
    uint64_t last = (total - 1) / MANIFEST_ITEM;
    size_t good = 0;
    for (uint64_t i = last ? last - 1 : 0; i <= last; i++)
        good += manifest_item(f, m, name, base, i, each, arg);
    return good > INT32_MAX ? INT32_MAX : (int)good;
}

/* ---- publish ------------------------------------------------------------------------- */

/* Store one copy: the chunks, then the header (add: what is there stays). */
static void store_copy(struct fleet *f, memcached_st *m, const struct job *j)
{
    char name[FLEET_KEY_MAX];
    struct fleet_hdr h = {.version = FLEET_VERSION, .size = j->size, .mtime_ns = j->mtime_ns,
                          .chunk = FLEET_CHUNK, .nchunks = chunks_of(j->size)};
    memcpy(h.magic, FLEET_MAGIC, 4);
    char *buf = malloc(FLEET_CHUNK);
    crypto_generichash_state st;
    memcached_return_t rc = MEMCACHED_SUCCESS;

    if (!buf)
        return;
    size_t base = item_base(f, j->key, j->len, j->size, j->mtime_ns, name);
    mac_begin(f, j->key, j->len, &h, &st);
    for (uint32_t i = 0; i < h.nchunks; i++) {
        uint64_t off = (uint64_t)i * FLEET_CHUNK;
        size_t want = j->size - off < FLEET_CHUNK ? (size_t)(j->size - off) : FLEET_CHUNK;
        if (pread(j->fd, buf, want, (off_t)off) != (ssize_t)want)
            goto out; /* the object is immutable: cannot happen but on I/O error */
        crypto_generichash_update(&st, (unsigned char *)buf, want);
        int k = snprintf(name + base, FLEET_KEY_MAX - base, ":%u", i);
        rc = memcached_add(m, name, base + (size_t)k, buf, want, 0, 0);
        health(f, m, rc);
        if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_DATA_EXISTS)
            goto out;
    }
    crypto_generichash_final(&st, h.mac, sizeof h.mac);
    memcpy(name + base, ":h", 3);
    rc = memcached_add(m, name, base + 2, (const char *)&h, sizeof h, 0, 0);
    health(f, m, rc);
    if (rc == MEMCACHED_SUCCESS) {
        fetch_add_relaxed(&f->n.stores, 1);
        fleet_note(f, 'F', j->key, j->len); /* a new copy in the fleet */
    }
    memcpy(name + base, ":l", 3);
    memcached_delete(m, name, base + 2, 0); /* the lease, if this host held it */
out:
    free(buf);
}

static void *publisher(void *arg)
{
    struct fleet *f = arg;
    memcached_st *m = memcached_clone(NULL, f->master);

    char *batch = malloc(MANIFEST_BATCH);

    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (!f->count && !f->mlen && !f->stopping)
            pthread_cond_wait(&f->wake, &f->lock);
        if (f->stopping)
            break;
        if (f->mlen && (!f->count || f->mlen > MANIFEST_BATCH / 2)) {
            /* a batch of entries: after the copies they may name, or when
             * the buffer fills */
            size_t len = f->mlen;
            if (batch)
                memcpy(batch, f->mbuf, len);
            f->mlen = 0;
            pthread_mutex_unlock(&f->lock);
            if (m && batch)
                manifest_append(f, m, batch, len);
            pthread_mutex_lock(&f->lock);
            continue;
        }
        if (!f->count)
            continue;
        struct job j = f->queue[f->head];
        f->head = (f->head + 1) % FLEET_QUEUE;
        f->count--;
        pthread_mutex_unlock(&f->lock);
        if (m)
            store_copy(f, m, &j);
        close(j.fd);
        free(j.key);
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
    free(batch);
    memcached_free(m);
    return NULL;
}

void fleet_publish(struct fleet *f, const char *key, size_t len, uint64_t size, int64_t mtime_ns,
                   int fd)
{
    char *k = malloc(len + 1);
    bool queued = false;

    if (k) {
        memcpy(k, key, len);
        k[len] = '\0';
        pthread_mutex_lock(&f->lock);
        if (f->count < FLEET_QUEUE && !f->stopping) {
            f->queue[(f->head + f->count) % FLEET_QUEUE] =
                (struct job){.key = k, .len = len, .size = size, .mtime_ns = mtime_ns, .fd = fd};
            f->count++;
            queued = true;
            pthread_cond_signal(&f->wake);
        }
        pthread_mutex_unlock(&f->lock);
    }
    if (!queued) {
        fetch_add_relaxed(&f->n.queue_full, 1);
        free(k);
        close(fd);
    }
}

/* ---- setup --------------------------------------------------------------------------- */

static int read_secret(const char *path, unsigned char *out, char *err, size_t errsz)
{
    unsigned char buf[FLEET_SECRET_MAX + 1];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        snprintf(err, errsz, "--fleet-key %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof buf) : -1;
    close(fd);
    if (n < 0) {
        snprintf(err, errsz, "--fleet-key %s: not a readable regular file", path);
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errsz, "--fleet-key %s: readable by others (mode %03o): chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
        return -1;
    }
    if (n < FLEET_SECRET_MIN || n > FLEET_SECRET_MAX) {
        snprintf(err, errsz, "--fleet-key %s: %zd bytes; a secret of %d to %d bytes is needed "
                 "(head -c 32 /dev/urandom > FILE)", path, n, FLEET_SECRET_MIN, FLEET_SECRET_MAX);
        return -1;
    }
    crypto_generichash(out, crypto_generichash_KEYBYTES, buf, (size_t)n, NULL, 0);
    sodium_memzero(buf, sizeof buf);
    return 0;
}

/* servers: "host:port,/path/to/socket,..." */
static int add_servers(memcached_st *m, const char *servers, char *err, size_t errsz)
{
    char *list = strdup(servers), *save = NULL;
    int n = 0;

    if (!list)
        return -1;
    for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        memcached_return_t rc;
        if (s[0] == '/') {
            rc = memcached_server_add_unix_socket(m, s);
        } else {
            char *colon = strrchr(s, ':');
            char *end = NULL;
            long port = colon ? strtol(colon + 1, &end, 10) : 0;
            if (!colon || colon == s || !end || *end || port < 1 || port > 65535) {
                snprintf(err, errsz, "--fleet: \"%.100s\": expected host:port or an absolute "
                         "unix socket path", s);
                free(list);
                return -1;
            }
            *colon = '\0';
            rc = memcached_server_add(m, s, (in_port_t)port);
        }
        if (rc != MEMCACHED_SUCCESS) {
            snprintf(err, errsz, "--fleet: %.100s: %s", s, memcached_strerror(m, rc));
            free(list);
            return -1;
        }
        n++;
    }
    free(list);
    if (!n) {
        snprintf(err, errsz, "--fleet: no server");
        return -1;
    }
    return 0;
}

struct fleet *fleet_open(const char *servers, const char *keyfile, const char *ns,
                         uint32_t *shown, char *err, size_t errsz)
{
    struct fleet *f = calloc(1, sizeof *f);

    if (!f || sodium_init() < 0) {
        snprintf(err, errsz, "fleet: cannot initialise (libsodium)");
        free(f);
        return NULL;
    }
    if (read_secret(keyfile, f->secret, err, errsz) < 0 || !(f->ns = strdup(ns ? ns : "")) ||
        !(f->master = memcached_create(NULL)) || add_servers(f->master, servers, err, errsz) < 0)
        goto fail;
    /* consistent hashing; bounded waits; a failed server is left out for
     * a while, then tried again */
    memcached_behavior_set(f->master, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                           MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    memcached_behavior_set(f->master, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 200);
    memcached_behavior_set(f->master, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 200);
    memcached_behavior_set(f->master, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 2);
    memcached_behavior_set(f->master, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 2);
    memcached_behavior_set(f->master, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 1);
    memcached_behavior_set(f->master, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    if (pthread_key_create(&f->handle, handle_free) != 0)
        goto fail;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->wake, NULL);
    f->shown = shown;
    store_release(shown, TIER_FLEET_ANSWERING); /* until an operation fails */
    if (pthread_create(&f->publisher, NULL, publisher, f) != 0) {
        snprintf(err, errsz, "fleet: cannot start its thread");
        pthread_key_delete(f->handle);
        goto fail;
    }
    return f;
fail:
    if (f->master)
        memcached_free(f->master);
    free(f->ns);
    sodium_memzero(f->secret, sizeof f->secret);
    free(f);
    return NULL;
}

void fleet_close(struct fleet *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    pthread_cond_signal(&f->wake);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->publisher, NULL);
    for (; f->count; f->count--, f->head = (f->head + 1) % FLEET_QUEUE) {
        close(f->queue[f->head].fd);
        free(f->queue[f->head].key);
    }
    memcached_st *m = pthread_getspecific(f->handle);
    if (m) {
        pthread_setspecific(f->handle, NULL);
        memcached_free(m);
    }
    pthread_key_delete(f->handle);
    memcached_free(f->master);
    free(f->ns);
    sodium_memzero(f->secret, sizeof f->secret);
    free(f);
}

void fleet_counts(const struct fleet *f, struct fleet_counts *c)
{
    memset(c, 0, sizeof *c);
    if (!f)
        return;
    c->hits = load_relaxed(&f->n.hits);
    c->misses = load_relaxed(&f->n.misses);
    c->stores = load_relaxed(&f->n.stores);
    c->errors = load_relaxed(&f->n.errors);
    c->rejected = load_relaxed(&f->n.rejected);
    c->queue_full = load_relaxed(&f->n.queue_full);
    c->waits = load_relaxed(&f->n.waits);
}
