/* miss.c - miss datagrams: what a shim says when it opened a file under a
 * prefix that the tier did not have (see tier/proto.h and miss.h).
 *
 * A datagram is trusted no further than its sender: the kernel-checked
 * credentials (SO_PASSCRED) must be our uid or root, the path must be
 * absolute and normal, and the descriptor that came with it is only a hint
 * of where to read, checked by the load against the path (load.c). A
 * truncated datagram, a foreign sender or a malformed path is counted and
 * dropped; the program was served by the source already. */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmd/daemon.h"
#include "shmd/miss.h"
#include "shmd/queue.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/path.h"
#include "tier/proto.h"
#include "tier/ring.h"

/* Datagrams taken per call: the main loop goes back to its heartbeat and
 * the control socket between batches, so a flood of misses delays them by
 * one batch at most. */
#define MISS_BATCH 1024
/* Descriptors a datagram has room for: a shim sends one; more are closed. */
#define MISS_FDS_MAX 4

/* The credentials and the descriptors of a miss datagram's ancillary data:
 * the program's open of the path, and the pipe it waits on (proto.h), -1
 * when absent. Every descriptor beyond these two, and a waiter that is no
 * pipe, is closed. */
static void take_ancillary(struct msghdr *mh, struct ucred *cred, int *fd, int *waiter)
{
    *fd = *waiter = -1;
    cred->uid = (uid_t)-1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET)
            continue;
        if (cm->cmsg_type == SCM_CREDENTIALS && cm->cmsg_len >= CMSG_LEN(sizeof *cred)) {
            memcpy(cred, CMSG_DATA(cm), sizeof *cred);
        } else if (cm->cmsg_type == SCM_RIGHTS) {
            size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < n; i++) {
                int f;
                memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof f);
                if (*fd < 0)
                    *fd = f;
                else if (*waiter < 0)
                    *waiter = f;
                else
                    close(f);
            }
        }
    }
    /* a pipe, written without blocking: a sender could pass a full one
     * that blocks, and it is told under the queue's lock */
    struct stat st;
    if (*waiter >= 0 && (fstat(*waiter, &st) < 0 || !S_ISFIFO(st.st_mode) ||
                         fcntl(*waiter, F_SETFL, O_NONBLOCK) < 0)) {
        close(*waiter);
        *waiter = -1;
    }
}

void miss_ring_drain(struct shmd *d)
{
    struct tier_ring_miss m;
    char key[PATH_KEY_SIZE];
    uint64_t now = mono_ns();

    for (int i = 0; i < MISS_BATCH; i++) {
        int r = tier_ring_take(d->store.view.ring, &d->ring_head, now, &d->ring_stuck_ns, &m);
        if (r == 0)
            return;
        if (r < 0 || proto_path_parse(m.key, m.len, key) < 0) {
            fetch_add_relaxed(&d->bad_messages, 1);
            continue;
        }
        fetch_add_relaxed(&d->store.hdr->misses_received, 1);
        fetch_add_relaxed(&d->store.hdr->misses_ringed, 1);
        enum queue_what job = m.what == 0 ? QUEUE_FILE : m.what == 1 ? QUEUE_META : QUEUE_LIST;
        if (queue_submit(d->queue, job, key, m.len, -1, -1, NULL) < 0)
            fetch_add_relaxed(&d->dropped, 1);
    }
}

void miss_drain(struct shmd *d)
{
    char buf[TIER_PATH_MAX + 64];
    char key[PATH_KEY_SIZE];
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(MISS_FDS_MAX * sizeof(int))];
    } ctl;
    uid_t me = d->uid;

    for (int i = 0; i < MISS_BATCH; i++) {
        struct iovec iov = {buf, sizeof buf};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = &ctl, .msg_controllen = sizeof ctl};
        struct ucred cred;
        int fd, waiter;
        ssize_t n = recvmsg(d->missfd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
            return;
        take_ancillary(&mh, &cred, &fd, &waiter);
        size_t len;
        int what = -1;
        if ((cred.uid != me && cred.uid != 0) || (mh.msg_flags & MSG_TRUNC) ||
            (what = proto_miss_parse(buf, (size_t)n, key, &len)) < 0) {
            fetch_add_relaxed(&d->bad_messages, 1);
            if (fd >= 0)
                close(fd);
            if (waiter >= 0)
                close(waiter);
            continue;
        }
        fetch_add_relaxed(&d->store.hdr->misses_received, 1);
        if (what != 0 && fd >= 0) {
            close(fd); /* a metadata or listing miss carries no descriptor */
            fd = -1;
        }
        enum queue_what job = what == 0 ? QUEUE_FILE : what == 1 ? QUEUE_META : QUEUE_LIST;
        if (queue_submit(d->queue, job, key, len, fd, waiter, NULL) < 0)
            fetch_add_relaxed(&d->dropped, 1);
    }
}
