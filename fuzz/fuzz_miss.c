/* fuzz_miss.c - libFuzzer harness for miss datagrams: everything shmd does
 * with what arrives on miss.sock, from recvmsg to a published object.
 *
 * The receive path is shmd/miss.c's miss_drain (credentials, descriptors
 * passed with SCM_RIGHTS, truncation, proto_miss_parse), linked with the
 * rest of the daemon's objects. The setup is the daemon's own:
 * claim_instance (directory, lock, index, miss.sock with SO_PASSCRED) and
 * queue_start; only the main loop is not run.
 *
 * Each input is up to 16 datagrams sent to miss.sock from a client socket,
 * then miss_drain() receives them. A datagram is a header byte, a length
 * and payload bytes:
 *   header bits 0-3  ancillary descriptors: none, source file a, b, /dev/null,
 *                    the source directory, a pipe, a and b, six descriptors
 *                    (more than the daemon makes room for), a opened
 *                    write-only, a as O_PATH
 *   bits 4-5         payload: raw; "miss " + payload; "miss SRC/" + payload;
 *                    "miss SRC/" + one of the source files (a valid miss)
 *   bit 6            explicit credentials, uid nobody's (must be refused)
 *   bit 7            with descriptors a and b: b replaced by the write end
 *                    of a pipe, a program waiting for the load (proto.h)
 * Sources live in a private directory (files a, b, empty, sub/c) and are
 * never modified, so a published object must hold exactly their bytes.
 *
 * Properties, besides no crash, no out-of-bounds access, no undefined
 * behaviour:
 *  - every datagram sent is either accepted (misses_received) or counted as
 *    bad (bad_messages), none is lost or counted twice;
 *  - a waiting program is told nothing but PROTO_WAIT_SERVED or
 *    PROTO_WAIT_SOURCE, at most once per miss that carried its pipe;
 *  - no descriptor leaks: every descriptor received is closed once the
 *    loader is done (the count returns to what it was before the input);
 *  - never wrong bytes: every entry in the tier holds exactly the bytes of
 *    the file its path names, whatever descriptor came with the miss
 *    (a descriptor of b sent with a miss for a must not publish b as a). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz/fuzz_common.h"
#include "shmd/claim.h"
#include "shmd/daemon.h"
#include "shmd/log.h"
#include "shmd/miss.h"
#include "shmd/queue.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/instance.h"
#include "tier/path.h"
#include "tier/proto.h"

#define MAX_DGRAMS 16

static struct shmd g_d;
static char g_src[64];
static int g_client = -1;
static int g_fd[10];          /* descriptors the inputs pass, by kind */
static int g_wait[2];         /* the pipe of a "waiting program" (bit 7) */
static uint64_t g_checked_loads;

static void teardown(void)
{
    queue_stop(g_d.queue, mono_ns() + 5 * NS_PER_SEC);
    claim_release(&g_d, true);
    static const char *const names[] = {"a", "b", "empty", "sub/c", "sub"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", g_src, names[i]);
        if (unlink(p) < 0)
            rmdir(p);
    }
    rmdir(g_src);
}

static void write_source(const char *name, char fill, size_t n)
{
    char p[128], buf[4096];
    snprintf(p, sizeof p, "%s/%s", g_src, name);
    memset(buf, fill, sizeof buf);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, buf, n) != (ssize_t)n || close(fd) < 0)
        fz_fail("setup: %s", p);
}

static int open_source_fd(const char *name, int flags)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", g_src, name);
    int fd = open(p, flags | O_CLOEXEC);
    if (fd < 0)
        fz_fail("setup: open %s", p);
    return fd;
}

static void setup(void)
{
    struct shmd *d = &g_d;
    struct sockaddr_un sa;
    char inst[64];
    int pipefd[2];

    shmd_log_level = SHMD_LOG_ERROR;
    snprintf(g_src, sizeof g_src, "/tmp/shmcache-fuzz-src-XXXXXX");
    fz_instance_dir(inst, "miss"); /* the parent of the instance directory */
    if (!mkdtemp(g_src) || chmod(g_src, 0755) < 0)
        fz_fail("setup: %s", g_src);
    write_source("a", 'a', 100);
    write_source("b", 'b', 3000);
    write_source("empty", 'e', 0);
    static char sub[128];
    snprintf(sub, sizeof sub, "%s/sub", g_src);
    mkdir(sub, 0755);
    write_source("sub/c", 'c', 1);
    fz_remove_on_crash(g_src);
    fz_remove_on_crash(sub);

    memset(d, 0, sizeof *d);
    d->dirfd = d->lockfd = d->missfd = d->ctlfd = d->wakefd = -1;
    rmdir(inst); /* the daemon creates it */
    snprintf(d->opt.dir, sizeof d->opt.dir, "%s", inst);
    fz_remove_on_crash(d->opt.dir);
    d->opt.capacity = 4u << 20;
    d->opt.max_file = 64u << 10;
    d->opt.slots = 64;
    d->started_mono_ns = mono_ns();
    if (claim_instance(d) < 0)
        fz_fail("setup: instance %s", inst);
    d->queue = queue_start(d, 2);
    if (!d->queue)
        fz_fail("setup: queue_start");

    g_client = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (g_client < 0 || instance_sockaddr(&sa, d->opt.dir, d->dirfd, INSTANCE_MISS_SOCK) < 0 ||
        connect(g_client, (struct sockaddr *)&sa, sizeof sa) < 0)
        fz_fail("setup: connect to miss.sock");
    g_fd[1] = open_source_fd("a", O_RDONLY);
    g_fd[2] = open_source_fd("b", O_RDONLY);
    g_fd[3] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    g_fd[4] = open(g_src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        fz_fail("setup: pipe");
    g_fd[5] = pipefd[0];
    if (pipe2(g_wait, O_CLOEXEC | O_NONBLOCK) < 0)
        fz_fail("setup: pipe");
    g_fd[8] = open_source_fd("a", O_WRONLY);
    g_fd[9] = open_source_fd("a", O_PATH);
    atexit(teardown);
}

/* Every entry holds exactly the bytes its path names now (sources never
 * change here, so there is no legitimate difference). */
static void check_entries(void)
{
    struct store *s = &g_d.store;
    static unsigned char want[1 << 17], got[1 << 17];

    for (uint32_t r = 0; r < store_records_hi(s); r++) {
        char path[PATH_KEY_SIZE], name[TIER_OBJECT_NAME_SIZE];
        store_lock(s);
        const struct tier_record *t = &s->records[r];
        uint64_t id = t->object_id;
        if (id)
            store_path_copy(s, r, path);
        store_unlock(s);
        if (!id)
            continue;
        tier_object_name(s->view.generation, id, r, name);
        int of = openat(g_d.dirfd, name, O_RDONLY | O_CLOEXEC);
        int sf = open(path, O_RDONLY | O_CLOEXEC);
        if (of < 0 || sf < 0) {
            /* evicted meanwhile (the object), or not ours to read */
            if (of >= 0)
                close(of);
            if (sf >= 0)
                close(sf);
            continue;
        }
        ssize_t gn = read(of, got, sizeof got), wn = read(sf, want, sizeof want);
        close(of);
        close(sf);
        if (gn < 0 || wn < 0 || gn != wn || memcmp(got, want, (size_t)gn) != 0)
            fz_fail("the tier serves wrong bytes for %s: %zd bytes in the object, %zd in the file",
                    path, gn, wn);
    }
}

/* Wait until the loader pool has no job queued or running. */
static void loader_wait_idle(void)
{
    for (int i = 0; i < 5000; i++) {
        if (queue_idle(g_d.queue))
            return;
        usleep(200);
    }
    fz_fail("the loader is still busy 1 s after the input");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const valid[] = {"a", "b", "empty", "sub/c"};
    static char payload[8192];
    struct shmd *d = &g_d;
    struct fz_in in = {data, size};

    if (g_client < 0)
        setup();
    int fds0 = fz_count_fds();
    uint64_t recv0 = load_relaxed(&d->store.hdr->misses_received);
    uint64_t bad0 = load_relaxed(&d->bad_messages);
    unsigned sent = 0, waiting = 0;

    for (int k = 0; k < MAX_DGRAMS && in.n; k++) {
        uint8_t hdr = fz_u8(&in);
        size_t n = fz_u16(&in) % 6000;
        const uint8_t *raw = fz_bytes(&in, &n);
        size_t len = 0;
        unsigned mode = (hdr >> 4) & 3;
        if (mode >= 1)
            len += (size_t)snprintf(payload, sizeof payload, "miss ");
        if (mode >= 2)
            len += (size_t)snprintf(payload + len, sizeof payload - len, "%s/", g_src);
        if (mode == 3)
            len += (size_t)snprintf(payload + len, sizeof payload - len, "%s",
                                    valid[(n ? raw[0] : 0) % 4]);
        else {
            if (n > sizeof payload - len)
                n = sizeof payload - len;
            memcpy(payload + len, raw, n);
            len += n;
        }

        int fds[6], nfds = 0;
        switch (hdr % 10) {
        case 0: break;
        case 6:
            fds[nfds++] = g_fd[1];
            fds[nfds++] = hdr & 0x80 ? g_wait[1] : g_fd[2];
            waiting += (hdr & 0x80) != 0;
            break;
        case 7:
            for (int i = 0; i < 6; i++)
                fds[nfds++] = g_fd[1 + i % 2];
            break;
        default: fds[nfds++] = g_fd[hdr % 10]; break;
        }
        union {
            struct cmsghdr h;
            char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof fds)];
        } ctl;
        memset(&ctl, 0, sizeof ctl);
        struct iovec iov = {payload, len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        size_t clen = 0;
        if (hdr & 0x40) {
            struct cmsghdr *cm = (struct cmsghdr *)ctl.space;
            struct ucred cred = {.pid = getpid(), .uid = 65534, .gid = 65534};
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_CREDENTIALS;
            cm->cmsg_len = CMSG_LEN(sizeof cred);
            memcpy(CMSG_DATA(cm), &cred, sizeof cred);
            clen += CMSG_SPACE(sizeof cred);
        }
        if (nfds) {
            struct cmsghdr *cm = (struct cmsghdr *)(ctl.space + clen);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
            memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
            clen += CMSG_SPACE((size_t)nfds * sizeof(int));
        }
        if (clen) {
            mh.msg_control = ctl.space;
            mh.msg_controllen = clen;
        }
        if (sendmsg(g_client, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            sent++;
    }
    miss_drain(d);

    uint64_t recv = load_relaxed(&d->store.hdr->misses_received) - recv0;
    uint64_t bad = load_relaxed(&d->bad_messages) - bad0;
    if (recv + bad != sent)
        fz_fail("%u datagrams sent, %llu received and %llu counted bad", sent,
                (unsigned long long)recv, (unsigned long long)bad);

    /* the loader owns what came with accepted misses: wait until it is done */
    loader_wait_idle();
    char told[64];
    ssize_t nt;
    unsigned words = 0;
    while ((nt = read(g_wait[0], told, sizeof told)) > 0) {
        for (ssize_t i = 0; i < nt; i++)
            if (told[i] != PROTO_WAIT_SERVED && told[i] != PROTO_WAIT_SOURCE)
                fz_fail("a waiting program was told 0x%02x", (unsigned char)told[i]);
        words += (unsigned)nt;
    }
    if (words > waiting)
        fz_fail("%u words told to %u waiting misses", words, waiting);
    int fds = fz_count_fds();
    if (fds != fds0) {
        fz_list_fds();
        fz_fail("%d descriptors open after the input, %d before", fds, fds0);
    }
    uint64_t loads = load_relaxed(&d->store.hdr->loads);
    if (loads != g_checked_loads) {
        check_entries();
        g_checked_loads = loads;
    }
    return 0;
}
