/* client.c - serving opens from the tier and reporting misses.
 *
 * A hit is: look the key up (lock-free), check that this process may read
 * the file without asking the kernel (tier/access.h) or ask it, openat the
 * object in the instance directory with the caller's O_CLOEXEC and
 * O_NONBLOCK (so a child after exec inherits it exactly as it would the
 * real file's), and re-check the record: a hit is only served if the entry
 * was valid across the open. A miss is one datagram to shmd, never
 * blocking: a full queue drops it (counted), the program was served
 * already.
 *
 * The fleet wait (SHMCACHE_FLEET_WAIT_MS, tier/proto.h): while the
 * daemon's fleet answers, a content miss carries a pipe, and the program
 * waits on it, at most the bound, for the daemon to fetch the copy from
 * the fleet. Told it is served, the shim opens the copy and puts it in
 * place of the real descriptor (dup3: the same number, offset 0, the
 * caller's O_CLOEXEC), so the program's first open reads from the tier.
 * Told the copy comes from the source, or told nothing in time, it keeps
 * the real descriptor: exactly the open it would have had without a
 * fleet. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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
#include "preload/sys.h"
#include "tier/access.h"
#include "tier/clock.h"
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

/* shim_serve, and with want not NULL only a copy of that very version of
 * the source (the fleet wait: the file the program has open). */
static int serve_key(const char *key, int len, int flags, const struct tier_stat *want,
                     bool *notify, int *err)
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
    if (r == TIER_HIT && want && !tier_stat_same(&e.st, want))
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

int shim_serve(const char *key, int len, int flags, bool *notify, int *err)
{
    return serve_key(key, len, flags, NULL, notify, err);
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
 * its tag in proto.h), key (padded), and fd and waiter when not -1 (the
 * program's open, the pipe it waits on). Never blocks. A datagram while
 * the daemon's socket has room; the path alone in the miss ring
 * (tier/ring.h) when it has none; counted unsent only when the ring is
 * full too. Returns true when the datagram, with its descriptors, went.
 * pre: a entered. */
static bool send_notice(struct shim_attach *a, uint32_t what, const char *key, int len, int fd,
                        int waiter)
{
    static const char *const tags[] = {PROTO_MISS_TAG, PROTO_STAT_TAG, PROTO_LIST_TAG};
    const char *tag = tags[what];
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(2 * sizeof(int))];
    } ctl;
    int fds[2] = {fd, waiter};
    int s = load_relaxed(&a->sockfd);

    if (s < 0)
        return false;
    struct iovec iov[2] = {{(void *)tag, PROTO_MISS_TAG_LEN}, {(void *)key, (size_t)len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    if (fd >= 0) {
        size_t n = waiter >= 0 ? 2 : 1;
        memset(&ctl, 0, sizeof ctl);
        mh.msg_control = ctl.space;
        mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
    }
    if (sendmsg(s, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
        return true;
    if ((errno != EAGAIN && errno != ENOBUFS) ||
        !tier_ring_push(a->view.ring, what, key, (size_t)len))
        tier_count(&a->view, TIER_COUNT_UNSENT);
    return false;
}

bool shim_put_in_place(int obj, int fd, int flags)
{
    bool done = REAL(dup3)(obj, fd, flags & O_CLOEXEC) == fd;
    shim_close(obj);
    return done;
}

/* Wait on the pipe rd for shmd's word (proto.h), at most ms. ppoll by
 * system call: no cancellation point inside the program's open, and no
 * other library's poll in between. Returns 1 served, 0 not (the source,
 * or a daemon that closed the pipe), -1 the bound passed. */
static int wait_word(int rd, unsigned ms)
{
    uint64_t deadline = mono_ns() + (uint64_t)ms * NS_PER_MS;
    struct pollfd pfd = {.fd = rd, .events = POLLIN};
    char word = 0;

    for (;;) {
        uint64_t now = mono_ns();
        if (now >= deadline)
            return -1;
        struct timespec left = ns_timespec(deadline - now);
        long r = shim_sys6(SYS_ppoll, (long)&pfd, 1, (long)&left, 0, 8, 0);
        if (r == -EINTR)
            continue;
        if (r < 0)
            return 0;
        if (r == 0)
            return -1;
        long n = shim_sys3(SYS_read, rd, &word, 1);
        return n == 1 && word == PROTO_WAIT_SERVED;
    }
}

/* Served after the wait: the copy in place of fd (its number, the
 * caller's O_CLOEXEC), if it is a copy of the very file fd is (not one of
 * a version the path named before). The copy is opened O_CLOEXEC: until
 * dup3 it is the shim's own descriptor, which no child may inherit. True
 * when fd now reads from the tier. */
static bool serve_in_place(const char *key, int len, int fd, int flags)
{
    struct stat st;
    struct tier_stat want;
    bool notify;
    int err;

    if (REAL(fstat)(fd, &st) < 0)
        return false;
    tier_stat_from(&want, &st);
    int obj = serve_key(key, len, flags | O_CLOEXEC, &want, &notify, &err);
    return obj >= 0 && shim_put_in_place(obj, fd, flags);
}

void shim_notify_miss(const char *key, int len, int fd, int flags)
{
    struct shim_attach *a = shim_enter(false);
    int p[2] = {-1, -1};

    if (!a)
        return;
    if (shim_cfg.fleet_wait_ms && fd >= 0 &&
        load_acquire(&a->view.hdr->fleet) == TIER_FLEET_ANSWERING &&
        pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        p[0] = p[1] = -1;
    bool sent = send_notice(a, 0, key, len, fd, p[1]);
    if (p[1] >= 0)
        shim_close(p[1]); /* shmd holds its own: its close is our hangup */
    tier_count(&a->view, TIER_COUNT_MISS);
    shim_leave(a);
    if (shim_cfg.log != SHIM_LOG_OFF)
        shim_log("MISS", key);
    if (p[0] < 0)
        return;
    int got = sent ? wait_word(p[0], shim_cfg.fleet_wait_ms) : 0;
    shim_close(p[0]);
    bool served = got > 0 && serve_in_place(key, len, fd, flags);
    if ((served || got < 0) && (a = shim_enter(false))) {
        tier_count(&a->view, served ? TIER_COUNT_WAIT_HIT : TIER_COUNT_WAIT_TIMEOUT);
        shim_leave(a);
    }
}

static void notify_plain(uint32_t kind, const char *what, const char *key, int len)
{
    struct shim_attach *a = shim_enter(false);

    if (!a)
        return;
    send_notice(a, kind, key, len, -1, -1);
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
