/* marks.c - change marks left in flight (see marks.h).
 *
 * A shim adds TIER_CHANGE_BEGIN to a change word before a modifying call
 * and TIER_CHANGE_END after it. A process killed in between (SIGKILL, a
 * fatal signal on the way back from the call) never adds the end: the word
 * stays in flight, and every path of its bucket (every path, for the
 * epoch) passes through from then on. Nothing is served stale, but the
 * tier would be useless for those paths until the next daemon.
 *
 * So shmd, while the shims' hint count of calls in flight is not zero,
 * looks at the words once a second, a slice at a time (the epoch every
 * time), and remembers each one it finds in flight with its value. A word
 * that stays in flight with the very same value (no call began or ended on
 * it) for TIER_CHANGE_STUCK_NS is cleared: its count moves on, its calls in
 * flight go to 0 (CAS: a shim's concurrent add wins and is seen next time).
 * A busy bucket is never cleared under a live call: its value moves. A
 * live call that really takes that long (a hung NFS server) then ends on a
 * cleared word: its END leaves the word "in flight" again (the count of
 * calls wraps), which is cleared again after the same time; meanwhile its
 * paths pass through. The count moved on both times, so no entry published
 * before either survives. */
#include "shmd/log.h"
#include "shmd/marks.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/layout.h"

#define SLICE 65536u            /* words looked at per second */
#define PERIOD_NS NS_PER_SEC

/* Remember word (value v) in flight; forget it when quiet. */
static void note(struct marks_watch *m, uint64_t *word, uint64_t v, uint64_t now)
{
    bool inflight = !tier_change_quiet(v);

    for (unsigned i = 0; i < m->ntracked; i++) {
        if (m->tracked[i].word != word)
            continue;
        if (!inflight)
            m->tracked[i] = m->tracked[--m->ntracked];
        else if (m->tracked[i].value != v)
            m->tracked[i].value = v, m->tracked[i].since_ns = now;
        return;
    }
    if (inflight && m->ntracked < MARKS_TRACKED) {
        m->tracked[m->ntracked].word = word;
        m->tracked[m->ntracked].value = v;
        m->tracked[m->ntracked++].since_ns = now;
    }
}

/* Clear w if it still has value v. */
static bool clear(struct store *s, uint64_t *w, uint64_t v)
{
    uint64_t calls = v >> 48;
    if (!cas_acq_rel(w, &v, (v & TIER_CHANGE_COUNT_MASK) + TIER_CHANGE_ONE))
        return false; /* moved meanwhile: looked at again next time */
    fetch_add_seqcst(&s->view.marks->inflight, -calls);
    return true;
}

unsigned marks_check(struct store *s, struct marks_watch *m, uint64_t now)
{
    unsigned cleared = 0;

    if ((!load_relaxed(&s->view.marks->inflight) && !m->ntracked) || now - m->last_ns < PERIOD_NS)
        return 0;
    m->last_ns = now;
    note(m, &s->view.marks->epoch, load_acquire(&s->view.marks->epoch), now);
    uint32_t buckets = s->view.bucket_mask + 1;
    for (uint32_t n = 0; n < SLICE && n < buckets; n++, m->next = (m->next + 1) & s->view.bucket_mask)
        note(m, &s->view.gens[m->next], load_relaxed(&s->view.gens[m->next]), now);
    for (unsigned i = 0; i < m->ntracked;) {
        __typeof__(&m->tracked[0]) t = &m->tracked[i];
        if (now - t->since_ns < TIER_CHANGE_STUCK_NS || load_acquire(t->word) != t->value) {
            i++; /* young, or moved since seen: the next look decides */
            continue;
        }
        if (clear(s, t->word, t->value)) {
            cleared++;
            if (t->word == &s->view.marks->epoch)
                shmd_log(SHMD_LOG_WARN, "cleared the tree's change mark, in flight for %llu s: a "
                         "process died inside a modifying call", (unsigned long long)
                         (TIER_CHANGE_STUCK_NS / NS_PER_SEC));
            else
                shmd_log(SHMD_LOG_WARN, "cleared the change mark of bucket %u, in flight for "
                         "%llu s: a process died inside a modifying call",
                         (unsigned)(t->word - s->view.gens),
                         (unsigned long long)(TIER_CHANGE_STUCK_NS / NS_PER_SEC));
        }
        *t = m->tracked[--m->ntracked];
    }
    return cleared;
}
