/* ring.c - the miss ring (see ring.h and struct tier_ring in layout.h). */
#include <string.h>

#include "tier/atomic.h"
#include "tier/hash.h"
#include "tier/ring.h"

#define MASK (TIER_RING_SLOTS - 1)
#define PUSH_TRIES 64          /* CAS attempts of a producer before it drops */
#define CHECK_SEED 0x72696e67u /* "ring" */

static uint64_t check_of(uint32_t what, const char *path, size_t len)
{
    return tier_hash_key(CHECK_SEED + what, path, len) | 1; /* never 0 */
}

void tier_ring_init(struct tier_ring *r)
{
    store_relaxed(&r->tail, 0);
    store_relaxed(&r->head, 0);
    for (uint32_t i = 0; i < TIER_RING_SLOTS; i++)
        store_release(&r->slot[i].seq, i);
}

bool tier_ring_push(struct tier_ring *r, uint32_t what, const char *key, size_t len)
{
    if (len == 0 || len >= TIER_RING_PATH)
        return false;
    uint64_t pos = load_relaxed(&r->tail);
    for (int tries = 0; tries < PUSH_TRIES; tries++) {
        struct tier_ring_slot *s = &r->slot[pos & MASK];
        int64_t diff = (int64_t)(load_acquire(&s->seq) - pos);
        if (diff < 0)
            return false; /* full: shmd has not taken this slot's last miss */
        if (diff > 0 || !cas_relaxed(&r->tail, &pos, pos + 1)) {
            if (diff > 0)
                pos = load_relaxed(&r->tail); /* another producer took pos */
            continue;
        }
        /* pos is ours: the slot's words, then its publication */
        uint64_t words[TIER_RING_PATH / 8];
        size_t n = (len + 8) / 8;
        memcpy(words, key, n * 8);
        words_store_relaxed((uint64_t *)s->path, words, n);
        store_relaxed(&s->len, (uint32_t)len);
        store_relaxed(&s->what, what);
        store_relaxed(&s->check, check_of(what, key, len));
        uint64_t expect = pos;
        return cas_acq_rel(&s->seq, &expect, pos + 1); /* false: shmd gave up on it */
    }
    return false;
}

int tier_ring_take(struct tier_ring *r, uint64_t *head, uint64_t now_ns, uint64_t *stuck_since_ns,
                   struct tier_ring_miss *out)
{
    struct tier_ring_slot *s = &r->slot[*head & MASK];
    uint64_t seq = load_acquire(&s->seq);

    if (seq == *head + 1) {
        uint32_t len = load_relaxed(&s->len), what = load_relaxed(&s->what);
        uint64_t check = load_relaxed(&s->check);
        memset(out->key, 0, sizeof out->key);
        if (len < TIER_RING_PATH)
            words_load_relaxed((uint64_t *)out->key, (const uint64_t *)s->path, (len + 8) / 8);
        store_release(&s->seq, *head + TIER_RING_SLOTS);
        store_relaxed(&r->head, ++*head);
        *stuck_since_ns = 0;
        out->what = what;
        out->len = len;
        if (len == 0 || len >= TIER_RING_PATH || what > 2 || out->key[len] != '\0' ||
            memchr(out->key, '\0', len) || check != check_of(what, out->key, len))
            return -1;
        memset(out->key + len, 0, sizeof out->key - len);
        return 1;
    }
    uint64_t tail = load_relaxed(&r->tail);
    if (seq == *head && (int64_t)(tail - *head) <= 0) {
        *stuck_since_ns = 0;
        return 0; /* empty */
    }
    if ((int64_t)(tail - *head) > (int64_t)TIER_RING_SLOTS) {
        /* no producer can be that far ahead: a wrong value */
        uint64_t t = tail;
        cas_relaxed(&r->tail, &t, *head);
    }
    /* claimed and not published yet (or a wrong value): wait a while */
    if (!*stuck_since_ns) {
        *stuck_since_ns = now_ns ? now_ns : 1;
        return 0;
    }
    if (now_ns - *stuck_since_ns < TIER_RING_STUCK_NS)
        return 0;
    uint64_t expect = seq;
    if (!cas_acq_rel(&s->seq, &expect, *head + TIER_RING_SLOTS))
        return 0; /* published just now: taken on the next call */
    store_relaxed(&r->head, ++*head);
    *stuck_since_ns = 0;
    return -1;
}
