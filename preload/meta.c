/* meta.c - answering path metadata from the tier (see meta.h).
 *
 * The key is built as for an open (key.c): an absolute path, or one
 * relative to the cwd; relative to another directory descriptor, or with
 * "..", is not answered. An entry answers only when it is current (its
 * change words unchanged, also its symlink target's) and when the
 * directories above it decide search permission for this process the
 * way the kernel would (all three x bits everywhere, no ACL; or this euid
 * owning the ones that are not): otherwise the kernel is asked, as it
 * would be without the shim. A question for the real ids (access()) in a
 * process whose real and effective ids differ is always the kernel's. A file's entry answers stat; lstat only when
 * it is known whether the path itself is a symlink (TIER_KIND_LINK or
 * TIER_KIND_PLAIN). With SHMCACHE_VALIDATE=open, or a daemon in another
 * namespace, the kernel answers every metadata question. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "preload/attach.h"
#include "preload/client.h"
#include "preload/config.h"
#include "preload/key.h"
#include "preload/log.h"
#include "preload/meta.h"
#include "preload/readable.h"
#include "tier/hash.h"

/* The entry for m->key (m->len bytes), also after normalising a raw key. */
static enum tier_lookup_result look(const struct shim_attach *a, struct shim_meta *m, bool raw,
                                    struct tier_entry *e)
{
    bool changed;
    enum tier_lookup_result r =
        tier_lookup(&a->view, m->key, (size_t)m->len,
                    tier_hash_key(a->view.hash_seed, m->key, (size_t)m->len), e);
    if (r != TIER_MISS || !raw)
        return r;
    m->len = shim_key_normalize(m->key, m->len, &changed);
    if (m->len < 0 || !changed)
        return TIER_MISS;
    return tier_lookup(&a->view, m->key, (size_t)m->len,
                       tier_hash_key(a->view.hash_seed, m->key, (size_t)m->len), e);
}

/* May this process be told about the entry without asking the kernel?
 * Search permission on every directory above (tier/access.h's cases). */
static bool dirs_decide(const struct tier_entry *e, uint32_t euid)
{
    return (e->access & TIER_ACCESS_DIRS_OPEN) || e->dirs_uid == euid;
}

/* The walk of shim_absent_above: the length of the first ancestor of key
 * under the prefix with an entry, when that entry is a current "does not
 * exist" (*e), else 0. */
static size_t absent_walk(const struct shim_attach *a, const char *key, int len,
                          struct tier_entry *e)
{
    char up[PATH_KEY_SIZE];

    for (size_t n = (size_t)len; n > 1;) {
        while (n > 0 && key[n - 1] != '/')
            n--;
        if (n > 1)
            n--; /* "/a/b/c" -> "/a/b" */
        if (n <= 1 || !path_prefixes_match(&shim_cfg.prefixes, key, n))
            return 0;
        memcpy(up, key, n);
        memset(up + n, 0, 8 - (n & 7)); /* a padded key (tier/hash.h) */
        enum tier_lookup_result r =
            tier_lookup(&a->view, up, n, tier_hash_key(a->view.hash_seed, up, n), e);
        if (r == TIER_MISS)
            continue;
        return r == TIER_HIT && (e->kind & TIER_KIND_MASK) == TIER_KIND_NEG ? n : 0;
    }
    return 0;
}

int shim_absent_above(const struct shim_attach *a, const char *key, int len, struct tier_entry *e)
{
    if (shim_cfg.validate_open || a->validate || !absent_walk(a, key, len, e) ||
        !dirs_decide(e, a->euid))
        return 0; /* it exists, or the kernel must say */
    return (int)(e->kind >> TIER_KIND_ERR_SHIFT);
}

int shim_absent_top(const struct shim_attach *a, const char *key, int len)
{
    struct tier_entry e;
    return (int)absent_walk(a, key, len, &e);
}

void shim_meta_lookup(int dirfd, const char *path, int maybe, unsigned how, char *link,
                      size_t linksz, struct shim_meta *m)
{
    struct tier_entry e;
    bool raw;
    bool nofollow = how & SHIM_META_NOFOLLOW;

    m->found = SHIM_META_MISS;
    m->notify = false;
    m->link_len = -1;
    m->len = -1;
    if (!maybe || (m->len = shim_open_key(dirfd, path, maybe, m->key, &raw)) < 0)
        return;
    struct shim_attach *a = shim_enter(false);
    if (!a)
        return;
    if ((how & SHIM_META_REAL_IDS) && a->ids_differ)
        goto out; /* dirs_decide knows the effective uid only */
    enum tier_lookup_result r = look(a, m, raw, &e);
    if (m->len < 0)
        goto out;
    if (r == TIER_MISS && (m->err = shim_absent_above(a, m->key, m->len, &e))) {
        m->found = SHIM_META_ERROR; /* readlink too: the path is not there */
        goto counted;
    }
    m->notify = r != TIER_HIT;
    if (r != TIER_HIT || shim_cfg.validate_open || a->validate || !dirs_decide(&e, a->euid))
        goto out;
    uint32_t kind = e.kind & TIER_KIND_MASK;
    bool is_link = e.kind & TIER_KIND_LINK;
    if (nofollow && !is_link && !(e.kind & TIER_KIND_PLAIN))
        goto out; /* not known whether the path itself is a symlink */
    m->link = is_link;
    m->access = e.access;
    m->file_mode = e.st.mode;
    m->noexec = e.kind & TIER_KIND_NOEXEC;
    if (link) {
        /* readlink: the target; EINVAL for what is known to be no symlink */
        if (is_link) {
            size_t n = e.target_len < linksz ? e.target_len : linksz;
            if (!shim_writable(link, n ? n : 1) ||
                (m->link_len = tier_entry_target(&a->view, &e, link, n)) < 0)
                goto out;
            m->found = SHIM_META_STAT;
        } else {
            m->found = SHIM_META_ERROR;
            m->err = kind == TIER_KIND_NEG ? (int)(e.kind >> TIER_KIND_ERR_SHIFT) : EINVAL;
        }
        goto counted;
    }
    if (nofollow && is_link) {
        m->found = SHIM_META_STAT;
        m->st = e.lst;
    } else if (kind == TIER_KIND_NEG) {
        m->found = SHIM_META_ERROR;
        m->err = (int)(e.kind >> TIER_KIND_ERR_SHIFT);
    } else {
        m->found = SHIM_META_STAT;
        m->st = e.st;
    }
counted:
    tier_touch(&a->view, e.record);
    tier_count(&a->view, TIER_COUNT_META_HIT);
    if (m->found == SHIM_META_ERROR && m->err != EINVAL)
        tier_count(&a->view, TIER_COUNT_NEGATIVE_HIT);
out:
    shim_leave(a);
    if (m->found != SHIM_META_MISS && shim_cfg.log == SHIM_LOG_ALL)
        shim_log(m->found == SHIM_META_STAT ? "META" : "META-ERROR", m->key);
}

void shim_meta_notify(const struct shim_meta *m, int r, int e)
{
    if (m->notify && m->len >= 0 && (r >= 0 || e == ENOENT || e == ENOTDIR))
        shim_notify_stat(m->key, m->len);
}
