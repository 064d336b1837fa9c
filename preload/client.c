/* client.c - serving opens from the tier and reporting misses.
 *
 * A hit is: look the key up (lock-free), check that this process may read
 * the file without asking the kernel (tier/access.h) or ask it, openat the
 * object in the instance directory with the caller's O_CLOEXEC and
 * O_NONBLOCK (so a child after exec inherits it exactly as it would the
 * real file's), and re-check the record: a hit is only served if the entry
 * was valid across the open. A miss is one datagram to shmd, never
 * waiting: a full queue drops it (counted), the program was served
 * already. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "preload/attach.h"
#include "preload/client.h"
#include "preload/config.h"
#include "preload/key.h"
#include "preload/log.h"
#include "preload/meta.h"
#include "preload/objtab.h"
#include "preload/open.h"
#include "preload/real.h"
#include "tier/access.h"
#include "tier/hash.h"
#include "tier/proto.h"
#include "tier/ring.h"
#include "tier/stat.h"

/* A hit must stat the source first (SHMCACHE_VALIDATE=open, or shmd in
 * another namespace): is the entry still that file? */
static bool source_unchanged(const char *key, const struct tier_entry *e)
{
    struct stat st;
    struct tier_stat now;

    if (REAL(stat)(key, &st) < 0)
        return false;
    tier_stat_from(&now, &st);
    return tier_stat_same(&now, &e->st);
}

int shim_serve(const char *key, int len, int flags, bool *notify, int *err)
{
    struct tier_entry e;
    char name[TIER_OBJECT_NAME_SIZE];
    int fd = -1;

    *notify = false;
    struct shim_attach *a = shim_enter(false);
    if (!a)
        return -1; /* no live daemon: plain pass-through */
    uint64_t hash = tier_hash_key(a->view.hash_seed, key, (size_t)len);
    enum tier_lookup_result r = tier_lookup(&a->view, key, (size_t)len, hash, &e);
    uint32_t kind = e.kind & TIER_KIND_MASK;
    /* no copy: a recorded "does not exist", of the path or of a directory
     * above it, answers the open, where the directories above decide it
     * for this process as the kernel would */
    int absent = 0;
    if (r == TIER_MISS)
        absent = shim_absent_above(a, key, len, &e);
    else if (r == TIER_HIT && kind == TIER_KIND_NEG && !shim_cfg.validate_open && !a->validate &&
             ((e.access & TIER_ACCESS_DIRS_OPEN) || e.dirs_uid == a->euid))
        absent = (int)(e.kind >> TIER_KIND_ERR_SHIFT);
    if (absent) {
        *err = absent;
        tier_touch(&a->view, e.record);
        tier_count(&a->view, TIER_COUNT_META_HIT);
        tier_count(&a->view, TIER_COUNT_NEGATIVE_HIT);
        shim_leave(a);
        return SHIM_SERVE_NEGATIVE;
    }
    if (r == TIER_HIT && kind != TIER_KIND_FILE) {
        /* a regular file known only by its stat is worth loading */
        *notify = kind == TIER_KIND_META && S_ISREG(e.st.mode);
        shim_leave(a);
        return -1;
    }
    if (r == TIER_HIT && (shim_cfg.validate_open || a->validate) && !source_unchanged(key, &e))
        r = TIER_STALE;
    /* the kernel would check this process's groups and capabilities on the
     * real open: serve only what the recorded bits decide for it, or what
     * the kernel allows it now (tier/access.h) */
    bool denied = r == TIER_HIT && !tier_access_public(&e) &&
                  !tier_access_owner(&e, a->euid) &&
                  REAL(faccessat)(AT_FDCWD, key, R_OK, AT_EACCESS) != 0;
    int dirfd = load_relaxed(&a->dirfd);
    if (r == TIER_HIT && !denied && dirfd >= 0) {
        tier_object_name(a->view.generation, e.object_id, e.record, name);
        fd = REAL(openat)(dirfd, name, O_RDONLY | O_NOFOLLOW | (flags & SHIM_OPEN_PASSED_ON));
        if (fd >= 0 && !tier_entry_unchanged(&a->view, &e)) {
            shim_close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) {
        tier_touch(&a->view, e.record);
        tier_count(&a->view, TIER_COUNT_HIT);
        shim_obj_remember(a->dev, &e);
    } else {
        *notify = !denied; /* a current entry: loading it again would not help */
    }
    shim_leave(a);
    if (fd >= 0 && shim_cfg.log == SHIM_LOG_ALL)
        shim_log("HIT", key);
    return fd;
}

int shim_serve_path(int dirfd, const char *path, int maybe, int flags, char *key, int *len,
                    bool *notify, int *err)
{
    bool raw, changed;
    int fd = -1;

    *notify = false;
    *len = shim_open_key(dirfd, path, maybe, key, &raw);
    if (*len < 0)
        return -1;
    fd = shim_serve(key, *len, flags, notify, err);
    if (fd == -1 && raw && (*len = shim_key_normalize(key, *len, &changed)) >= 0 && changed)
        fd = shim_serve(key, *len, flags, notify, err);
    return fd;
}

/* One notice to shmd: what (0 a content miss, 1 metadata, 2 a listing:
 * its tag in proto.h), key (padded), and fd when not -1. Never blocks. A
 * datagram while the daemon's socket has room; the path alone in the miss
 * ring (tier/ring.h) when it has none; counted unsent only when the ring
 * is full too. pre: a entered. */
static void send_notice(struct shim_attach *a, uint32_t what, const char *key, int len, int fd)
{
    static const char *const tags[] = {PROTO_MISS_TAG, PROTO_STAT_TAG, PROTO_LIST_TAG};
    const char *tag = tags[what];
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    int s = load_relaxed(&a->sockfd);

    if (s < 0)
        return;
    struct iovec iov[2] = {{(void *)tag, PROTO_MISS_TAG_LEN}, {(void *)key, (size_t)len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    if (fd >= 0) {
        memset(&ctl, 0, sizeof ctl);
        mh.msg_control = ctl.space;
        mh.msg_controllen = sizeof ctl.space;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    }
    if (sendmsg(s, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
        ((errno != EAGAIN && errno != ENOBUFS) ||
         !tier_ring_push(a->view.ring, what, key, (size_t)len)))
        tier_count(&a->view, TIER_COUNT_UNSENT);
}

void shim_notify_miss(const char *key, int len, int fd)
{
    struct shim_attach *a = shim_enter(false);

    if (!a)
        return;
    send_notice(a, 0, key, len, fd);
    tier_count(&a->view, TIER_COUNT_MISS);
    shim_leave(a);
    if (shim_cfg.log != SHIM_LOG_OFF)
        shim_log("MISS", key);
}

static void notify_plain(uint32_t kind, const char *what, const char *key, int len)
{
    struct shim_attach *a = shim_enter(false);

    if (!a)
        return;
    send_notice(a, kind, key, len, -1);
    shim_leave(a);
    if (shim_cfg.log != SHIM_LOG_OFF)
        shim_log(what, key);
}

void shim_notify_stat(const char *key, int len)
{
    notify_plain(1, "META-ASKED", key, len);
}

void shim_notify_list(const char *key, int len)
{
    notify_plain(2, "LIST-ASKED", key, len);
}
