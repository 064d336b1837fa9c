/* meta.c - recording what a path is, for stat, lstat, access and readlink
 * from the tier (see meta.h and the record kinds in tier/layout.h).
 *
 * A path's metadata is recorded only when all of these hold:
 *   - lstat(path) succeeds, and for a symlink readlink and stat(path)
 *     succeed too (a META record: st is stat(path), lst and the target are
 *     kept for a link); or lstat fails with ENOENT or ENOTDIR and the
 *     parent directory can be stat'ed (a NEG record, its st the parent's:
 *     how the revalidator re-checks it), and --negative-ms is not 0. Other
 *     errors (EACCES, ELOOP, ENAMETOOLONG) depend on who asks or are rare:
 *     not recorded, the shims ask the kernel;
 *   - the path (for a NEG record, its parent) is not in the tier's own
 *     directory, and its ctime (the parent's) is at least --settle-ms old;
 *   - no shim changed the path, the tree, or the path with its symlinks
 *     resolved (real_bucket1) since this began (the change words, as for
 *     content).
 * A current entry of any kind for the path is left alone, so a stat miss
 * never pushes out a copied file. The path with its symlinks resolved is
 * asked of the kernel (open O_PATH, /proc/self/fd): a change made through
 * that name kills the record too. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmd/access.h"
#include "shmd/daemon.h"
#include "shmd/log.h"
#include "shmd/meta.h"
#include "shmd/source.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/hash.h"
#include "tier/path.h"
#include "tier/stat.h"

static void fail(struct shmd *d, struct load_result *r, int why)
{
    r->fail = why;
    fetch_add_relaxed(&d->store.hdr->fail[why], 1);
    fetch_add_relaxed(&d->store.hdr->load_failures, 1);
}

/* The parent directory of key (len bytes) into out; "/" has none. */
static int parent_of(const char *key, size_t len, char *out)
{
    size_t n = len;
    while (n > 0 && key[n - 1] != '/')
        n--;
    if (n == 0 || len == 1)
        return -1;
    n = n > 1 ? n - 1 : 1; /* "/a/b" -> "/a", "/a" -> "/" */
    memcpy(out, key, n);
    memset(out + n, 0, 8 - (n & 7)); /* a padded key */
    return (int)n;
}

/* Is there a current entry for key whose kind and stat are exactly these? */
static bool entry_current(struct store *s, const char *key, size_t len, uint64_t hash)
{
    store_lock(s);
    int i = store_find(s, key, len, hash);
    bool cur = i >= 0 && !store_entry_killed(s, (uint32_t)i);
    store_unlock(s);
    return cur;
}

void load_meta(struct shmd *d, const char *key, size_t len, struct load_result *r)
{
    struct store *s = &d->store;
    struct stat lst, st;
    struct tier_stat tst, tlst;
    char parent[PATH_KEY_SIZE], real[PATH_KEY_SIZE], target[TIER_PATH_MAX];
    uint32_t kind = TIER_KIND_META;
    ssize_t tlen = 0;
    int rec = -1;

    memset(r, 0, sizeof *r);
    r->fail = -1;
    uint64_t hash = tier_hash(s->view.hash_seed, key, len);
    uint64_t gen = load_acquire(&s->view.gens[hash & s->view.bucket_mask]);
    uint64_t epoch = load_acquire(&s->view.marks->epoch);
    if (!tier_change_quiet(gen) || !tier_change_quiet(epoch)) {
        fail(d, r, TIER_FAIL_CHANGED);
        goto out;
    }
    if (entry_current(s, key, len, hash)) {
        r->fresh = true;
        goto out;
    }
    int plen = parent_of(key, len, parent);
    const char *checked = key; /* whose ctime must be settled, whose real path is kept */
    if (source_tstat(AT_FDCWD, key, AT_SYMLINK_NOFOLLOW, &lst, &tlst) < 0) {
        int e = errno;
        if ((e != ENOENT && e != ENOTDIR) || !s->hdr->negative_ms || plen < 0 ||
            source_tstat(AT_FDCWD, parent, 0, &st, &tst) < 0) {
            fail(d, r, TIER_FAIL_NOENT);
            goto out;
        }
        kind = TIER_KIND_NEG | TIER_KIND_PLAIN | (uint32_t)e << TIER_KIND_ERR_SHIFT;
        checked = parent;
    } else if (S_ISLNK(lst.st_mode)) {
        tlen = readlink(key, target, sizeof target - 1);
        if (tlen < 0 || source_tstat(AT_FDCWD, key, 0, &st, &tst) < 0) {
            fail(d, r, TIER_FAIL_NOENT); /* changing, or dangling: ask the kernel */
            goto out;
        }
        kind |= TIER_KIND_LINK;
    } else {
        st = lst;
        tst = tlst;
        kind |= TIER_KIND_PLAIN;
    }
    if ((uint64_t)st.st_dev == d->tier_dev &&
        path_is_under(key, len, d->opt.dir, strlen(d->opt.dir))) {
        fail(d, r, TIER_FAIL_NOT_REGULAR);
        goto out;
    }
    uint64_t changed_ns = timespec_ns(&st.st_ctim);
    if (kind & TIER_KIND_LINK && timespec_ns(&lst.st_ctim) > changed_ns)
        changed_ns = timespec_ns(&lst.st_ctim);
    uint64_t settle_ns = s->hdr->settle_ms * NS_PER_MS;
    uint64_t checked_ns = real_ns();
    if ((int64_t)(checked_ns - changed_ns) < (int64_t)settle_ns) {
        r->retry_ns = changed_ns + settle_ns;
        fail(d, r, TIER_FAIL_UNSETTLED);
        goto out;
    }

    /* the same path with every symlink resolved, if it is another one: its
     * change through a shim must kill this record too */
    uint32_t real_bucket1 = 0;
    uint64_t real_gen = 0;
    int rn = source_real_path(checked, -1, real);
    if (rn >= 0 && (kind & TIER_KIND_MASK) == TIER_KIND_NEG) {
        size_t base = len - (size_t)plen - (plen > 1); /* the missing name */
        rn = (size_t)rn + 1 + base + 8 < sizeof real
                 ? path_normalize(real, key + len - base, false, real, sizeof real) : -1;
    }
    if (rn < 0) {
        fail(d, r, TIER_FAIL_CHANGED);
        goto out;
    }
    if ((size_t)rn != len || memcmp(real, key, len) != 0) {
        uint64_t rh = tier_hash(s->view.hash_seed, real, (size_t)rn);
        real_bucket1 = (uint32_t)(rh & s->view.bucket_mask) + 1;
        real_gen = load_acquire(&s->view.gens[real_bucket1 - 1]);
        if (!tier_change_quiet(real_gen)) {
            fail(d, r, TIER_FAIL_CHANGED);
            goto out;
        }
    }

    /* who may be told: search permission on the directories above; for
     * ENOTDIR the kernel stops at the parent, which is no directory, so
     * the directories that count are the parent's */
    uint32_t access, dirs_uid;
    bool notdir = (kind & TIER_KIND_MASK) == TIER_KIND_NEG &&
                  (kind >> TIER_KIND_ERR_SHIFT) == ENOTDIR;
    shmd_access(notdir ? parent : key, notdir ? (size_t)plen : len, -1, (uint64_t)st.st_dev,
                (kind & TIER_KIND_MASK) == TIER_KIND_NEG ? 0 : (uint32_t)st.st_mode, epoch,
                &access, &dirs_uid);
    store_lock(s);
    rec = store_reserve(s, 0);
    uint64_t id = store_new_id(s);
    store_unlock(s);
    if (rec < 0) {
        fail(d, r, rec == -2 ? TIER_FAIL_NOSPACE : TIER_FAIL_INDEX_FULL);
        goto out;
    }
    struct store_obj obj = {
        .record = (uint32_t)rec, .id = id, .epoch = epoch, .gen = gen, .checked_ns = checked_ns,
        .access = access, .dirs_uid = dirs_uid, .kind = kind, .target = target,
        .target_len = (uint32_t)tlen, .real_bucket1 = real_bucket1, .real_gen = real_gen,
    };
    obj.st = tst;
    if (kind & TIER_KIND_LINK)
        obj.lst = tlst;
    store_lock(s);
    if (load_acquire(&s->view.gens[hash & s->view.bucket_mask]) != gen ||
        load_acquire(&s->view.marks->epoch) != epoch ||
        (real_bucket1 && load_acquire(&s->view.gens[real_bucket1 - 1]) != real_gen)) {
        store_unreserve(s, 0, (uint32_t)rec);
        store_unlock(s);
        rec = -1;
        fail(d, r, TIER_FAIL_CHANGED);
        goto out;
    }
    int put = store_put(s, key, len, hash, &obj);
    rec = -1;
    if (put >= 0)
        fetch_add_relaxed(&s->hdr->meta_loads, 1);
    store_unlock(s);
    if (put < 0)
        fail(d, r, put == -2 ? TIER_FAIL_NOSPACE : TIER_FAIL_INDEX_FULL);
    else
        shmd_log(SHMD_LOG_DEBUG, "recorded %s (%s)", key,
                 (kind & TIER_KIND_MASK) == TIER_KIND_NEG ? "does not exist" : "metadata");
out:
    if (rec >= 0) {
        store_lock(s);
        store_unreserve(s, 0, (uint32_t)rec);
        store_unlock(s);
    }
    if (r->fail >= 0)
        shmd_log(SHMD_LOG_DEBUG, "not recorded: %s: %s", key, load_fail_name(r->fail));
}
