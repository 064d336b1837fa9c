/* daemon.c - running one instance: claiming the instance directory,
 * reclaiming what a crashed daemon left, the main loop (heartbeat, miss
 * datagrams, control connections, signals) and a clean shutdown.
 *
 * Ownership of an instance is an flock on its `lock` file, held for the
 * daemon's lifetime: the kernel releases it when the daemon dies however it
 * dies, so a leftover directory is reclaimed exactly when no live daemon
 * holds the lock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "shmd/shmd.h"
#include "tier/atomic.h"
#include "tier/config.h"
#include "tier/instance.h"
#include "tier/path.h"
#include "tier/proto.h"
#include "tier/clock.h"

int shmd_log_level = LOG_INFO;

void shmd_log(int level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char msg[1024];
    va_list ap;

    if (level > shmd_log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "shmd[%d]: %s: %s\n", (int)getpid(), names[level], msg);
}

bool shmd_join_until(pthread_t t, uint64_t deadline_ns)
{
    uint64_t now = mono_ns();
    uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
    struct timespec end = ns_timespec(real_ns() + left); /* pthread_timedjoin_np's clock */
    return pthread_timedjoin_np(t, NULL, &end) == 0;
}

void shmd_request_stop(struct shmd *d)
{
    uint64_t one = 1;
    store_relaxed(&d->stopping, 1);
    ssize_t w = write(d->wakefd, &one, sizeof one);
    (void)w;
}

/* Create or open the instance directory and check that it is ours. */
static int open_instance_dir(struct shmd *d)
{
    char why[64];
    struct stat st;
    bool created = mkdir(d->opt.dir, 0700) == 0;

    if (!created && errno != EEXIST) {
        shmd_log(LOG_ERROR, "cannot create instance directory %s: %s", d->opt.dir, strerror(errno));
        return -1;
    }
    d->dirfd = open(d->opt.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d->dirfd < 0) {
        shmd_log(LOG_ERROR, "%s: %s%s", d->opt.dir, strerror(errno),
                 errno == ELOOP || errno == ENOTDIR ? " (a symlink or not a directory): refusing" : "");
        return -1;
    }
    if (created)
        fchmod(d->dirfd, 0700); /* whatever the umask */
    if (fstat(d->dirfd, &st) < 0 || instance_dir_untrusted(&st, geteuid(), why, sizeof why)) {
        shmd_log(LOG_ERROR, "instance directory %s is %s: refusing (remove it or fix it "
                 "with chown/chmod 700)", d->opt.dir, why);
        return -1;
    }
    d->tier_dev = (uint64_t)st.st_dev;
    d->uid = geteuid();
    d->umask = umask(0); /* single-threaded here: read it, put it back */
    umask(d->umask);
    return 0;
}

static int take_lock(struct shmd *d)
{
    char pid[32] = "";
    struct stat st;

    d->lockfd = openat(d->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (d->lockfd < 0 || fstat(d->lockfd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        shmd_log(LOG_ERROR, "%s/lock: %s: refusing", d->opt.dir,
                 d->lockfd < 0 ? strerror(errno) : "not a regular file of ours");
        return -1;
    }
    if (flock(d->lockfd, LOCK_EX | LOCK_NB) < 0) {
        ssize_t n = pread(d->lockfd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        shmd_log(LOG_ERROR, "instance %s is already served by shmd pid %s", d->opt.dir,
                 pid[0] ? pid : "?");
        return -1;
    }
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(d->lockfd, 0) < 0 || pwrite(d->lockfd, pid, (size_t)n, 0) != n)
        shmd_log(LOG_WARN, "cannot record pid in %s/lock", d->opt.dir);
    return 0;
}

/* A crashed daemon's leftovers: tell shims still mapping its index to stop
 * serving from it, then remove everything but our lock. */
static void reclaim(struct shmd *d)
{
    int fd = openat(d->dirfd, "index", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)TIER_HEADER_SIZE) {
            struct tier_header *h = mmap(NULL, TIER_HEADER_SIZE, PROT_READ | PROT_WRITE,
                                         MAP_SHARED, fd, 0);
            if (h != MAP_FAILED) {
                if (load_acquire(&h->magic) == TIER_MAGIC)
                    store_release(&h->state, TIER_STATE_STOPPED);
                munmap(h, TIER_HEADER_SIZE);
            }
        }
        close(fd);
    }
    int dfd = dup(d->dirfd);
    DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
    unsigned n = 0;
    if (!dir)
        return;
    for (struct dirent *e; (e = readdir(dir));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, "lock") == 0)
            continue;
        if (unlinkat(d->dirfd, e->d_name, 0) == 0 ||
            unlinkat(d->dirfd, e->d_name, AT_REMOVEDIR) == 0)
            n++;
    }
    closedir(dir);
    if (n)
        shmd_log(LOG_INFO, "reclaimed %u leftover files in %s", n, d->opt.dir);
}

static int bind_socket(struct shmd *d, int type, const char *name)
{
    struct sockaddr_un sa;
    int s = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (s < 0 || instance_sockaddr(&sa, d->opt.dir, d->dirfd, name) < 0) {
        shmd_log(LOG_ERROR, "socket %s: %s", name, strerror(errno));
        return -1;
    }
    unlinkat(d->dirfd, name, 0);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        (type == SOCK_STREAM && listen(s, 64) < 0)) {
        shmd_log(LOG_ERROR, "bind %s/%s: %s", d->opt.dir, name, strerror(errno));
        close(s);
        return -1;
    }
    return s;
}

static void namespace_identity(struct store_params *p)
{
    struct stat st;
    if (stat("/", &st) == 0) {
        p->root_dev = (uint64_t)st.st_dev;
        p->root_ino = (uint64_t)st.st_ino;
    }
    if (stat("/proc/self/ns/mnt", &st) == 0)
        p->mntns_ino = (uint64_t)st.st_ino;
}

/* The credentials and the descriptor of a miss datagram's ancillary data.
 * Every descriptor received beyond the first is closed. */
static void take_ancillary(struct msghdr *mh, struct ucred *cred, int *fd)
{
    *fd = -1;
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
                else
                    close(f);
            }
        }
    }
}

/* Receive miss datagrams until the queue is empty (at most a batch, so the
 * heartbeat keeps its pace under a flood). */
static void drain_misses(struct shmd *d)
{
    char buf[TIER_PATH_MAX + 64];
    char key[PATH_KEY_SIZE];
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    uid_t me = d->uid;

    for (int i = 0; i < 1024; i++) {
        struct iovec iov = {buf, sizeof buf};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = &ctl, .msg_controllen = sizeof ctl};
        struct ucred cred;
        int fd;
        ssize_t n = recvmsg(d->missfd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
            return;
        take_ancillary(&mh, &cred, &fd);
        size_t len;
        if ((cred.uid != me && cred.uid != 0) || (mh.msg_flags & MSG_TRUNC) ||
            proto_miss_parse(buf, (size_t)n, key, &len) < 0) {
            fetch_add_relaxed(&d->bad_messages, 1);
            if (fd >= 0)
                close(fd);
            continue;
        }
        fetch_add_relaxed(&d->store.hdr->misses_received, 1);
        if (loader_submit(d->loader, key, len, fd, NULL) < 0)
            fetch_add_relaxed(&d->dropped, 1);
    }
}

/* Once a minute, one line summing up what changed the tier without anyone
 * asking: evictions (capacity pressure) and invalidations. */
struct minute {
    uint64_t at_ns;            /* CLOCK_MONOTONIC ns of the last summary */
    uint64_t evictions, invalidations;
};

static void log_minute(struct shmd *d, struct minute *m)
{
    const struct tier_header *h = d->store.hdr;
    uint64_t now = mono_ns();
    char a[32], b[32];

    if (now - m->at_ns < 60 * NS_PER_SEC)
        return;
    uint64_t ev = load_relaxed(&h->evictions), inv = load_relaxed(&h->invalidations);
    if (ev != m->evictions || inv != m->invalidations)
        shmd_log(LOG_INFO, "last minute: %llu evictions, %llu invalidations; %llu entries, "
                 "memory %s of %s", (unsigned long long)(ev - m->evictions),
                 (unsigned long long)(inv - m->invalidations),
                 (unsigned long long)load_relaxed(&h->entries),
                 config_format_size(load_relaxed(&h->memory), a, sizeof a),
                 config_format_size(h->capacity, b, sizeof b));
    m->at_ns = now;
    m->evictions = ev;
    m->invalidations = inv;
}

static void heartbeat(struct shmd *d)
{
    store_release(&d->store.hdr->heartbeat_ns, mono_ns());
}

/* Defaults that depend on the tmpfs: capacity at most half of it. */
static void size_defaults(struct shmd *d)
{
    struct statvfs vfs;
    uint64_t fs_total = 0, fs_free = 0;
    char a[32], b[32];

    if (fstatvfs(d->dirfd, &vfs) == 0) {
        fs_total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        fs_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    }
    if (!d->opt.capacity) {
        d->opt.capacity = 1ULL << 30;
        if (fs_total && d->opt.capacity > fs_total / 2)
            d->opt.capacity = fs_total / 2;
    } else if (fs_free && d->opt.capacity > fs_free) {
        shmd_log(LOG_WARN, "capacity %s is more than the %s free on the tmpfs of %s; "
                 "loads will fail with no-space when it fills",
                 config_format_size(d->opt.capacity, a, sizeof a), config_format_size(fs_free, b, sizeof b), d->opt.dir);
    }
    if (!d->opt.max_file)
        d->opt.max_file = d->opt.capacity / 4 < (256ULL << 20) ? d->opt.capacity / 4 : 256ULL << 20;
    if (d->opt.max_file > d->opt.capacity)
        d->opt.max_file = d->opt.capacity;
}

static void cleanup(struct shmd *d, bool unmap)
{
    if (d->store.map)
        store_destroy(&d->store, unmap);
    if (d->dirfd >= 0) {
        unlinkat(d->dirfd, INSTANCE_MISS_SOCK, 0);
        unlinkat(d->dirfd, INSTANCE_CTL_SOCK, 0);
        unlinkat(d->dirfd, "lock", 0);
    }
    if (d->missfd >= 0)
        close(d->missfd);
    if (d->ctlfd >= 0)
        close(d->ctlfd);
    if (d->dirfd >= 0 && rmdir(d->opt.dir) < 0 && errno != ENOENT)
        shmd_log(LOG_DEBUG, "rmdir %s: %s", d->opt.dir, strerror(errno));
    if (d->lockfd >= 0)
        close(d->lockfd); /* releases the instance last */
}

int shmd_run(struct shmd_opts *o)
{
    static struct shmd dd;
    struct shmd *d = &dd;
    struct store_params p = {0};
    sigset_t mask;
    char a[32], b[32];
    int one = 1;

    memset(d, 0, sizeof *d);
    d->opt = *o;
    d->dirfd = d->lockfd = d->missfd = d->ctlfd = d->wakefd = -1;
    shmd_log_level = o->log_level;
    d->started_mono_ns = mono_ns();

    /* descriptors handed over with misses wait in the load queue */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    /* signals are handled by the main loop only, through a signalfd */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGIO, SIG_IGN); /* lease breaks (loader.c, open_for_writing) */
    int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    d->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sigfd < 0 || d->wakefd < 0) {
        shmd_log(LOG_ERROR, "signalfd/eventfd: %s", strerror(errno));
        return 1;
    }

    if (open_instance_dir(d) < 0 || take_lock(d) < 0) {
        if (d->lockfd >= 0)
            close(d->lockfd);
        if (d->dirfd >= 0)
            close(d->dirfd);
        return 1;
    }
    reclaim(d);
    size_defaults(d);
    p.slots = d->opt.slots;
    p.capacity = d->opt.capacity;
    p.max_file = d->opt.max_file;
    p.revalidate_ms = d->opt.revalidate_ms;
    p.settle_ms = d->opt.settle_ms;
    namespace_identity(&p);
    if (store_create(&d->store, d->dirfd, &p) < 0) {
        shmd_log(LOG_ERROR, "cannot create %s/index: %s", d->opt.dir, strerror(errno));
        cleanup(d, true);
        return 1;
    }
    d->missfd = bind_socket(d, SOCK_DGRAM, INSTANCE_MISS_SOCK);
    d->ctlfd = bind_socket(d, SOCK_STREAM, INSTANCE_CTL_SOCK);
    if (d->missfd < 0 || d->ctlfd < 0 ||
        setsockopt(d->missfd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0) {
        cleanup(d, true);
        return 1;
    }
    /* room for bursts of misses: a full queue drops, never blocks a shim */
    int rcvbuf = 4 << 20;
    setsockopt(d->missfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    d->loader = loader_start(d, d->opt.loaders);
    if (!d->loader || revalidate_start(d) < 0) {
        shmd_log(LOG_ERROR, "cannot start threads");
        if (d->loader)
            loader_stop(d->loader, mono_ns() + 5 * NS_PER_SEC);
        cleanup(d, true);
        return 1;
    }
    shmd_log(LOG_INFO, "serving %s: capacity %s, max-file %s, %u slots, revalidate %llu ms, "
             "settle %llu ms, %u loaders", d->opt.dir, config_format_size(d->opt.capacity, a, sizeof a),
             config_format_size(d->opt.max_file, b, sizeof b), d->opt.slots,
             (unsigned long long)d->opt.revalidate_ms, (unsigned long long)d->opt.settle_ms,
             d->opt.loaders);

    struct pollfd pfd[4] = {
        {.fd = d->missfd, .events = POLLIN},
        {.fd = d->ctlfd, .events = POLLIN},
        {.fd = sigfd, .events = POLLIN},
        {.fd = d->wakefd, .events = POLLIN},
    };
    const char *why = "stop requested";
    struct minute m = {.at_ns = mono_ns()};
    while (!load_relaxed(&d->stopping)) {
        heartbeat(d);
        log_minute(d, &m);
        int n = poll(pfd, 4, (int)(TIER_HEARTBEAT_NS / 1000000));
        if (n < 0 && errno != EINTR) {
            shmd_log(LOG_ERROR, "poll: %s", strerror(errno));
            why = "poll failed";
            break;
        }
        if (pfd[0].revents & POLLIN)
            drain_misses(d);
        if (pfd[1].revents & POLLIN)
            control_accept(d);
        if (pfd[2].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                why = si.ssi_signo == SIGINT ? "SIGINT" : si.ssi_signo == SIGHUP ? "SIGHUP" : "SIGTERM";
                break;
            }
        }
    }
    store_relaxed(&d->stopping, 1);
    shmd_log(LOG_INFO, "stopping (%s)", why);
    /* shims stop serving from this index at once */
    store_release(&d->store.hdr->state, TIER_STATE_STOPPED);
    /* threads stuck in a hung filesystem must not keep the daemon from
     * stopping: wait a bounded time, then leave the memory mapped */
    uint64_t deadline = mono_ns() + 5 * NS_PER_SEC;
    bool idle = loader_stop(d->loader, deadline);
    idle &= revalidate_stop(d, deadline);
    control_wait_idle(d, 3 * NS_PER_SEC);
    if (!idle)
        shmd_log(LOG_WARN, "a thread is stuck in the filesystem; exiting without it");
    store_lock(&d->store);
    idle &= load_relaxed(&d->ctl_threads) == 0;
    cleanup(d, idle);
    close(sigfd);
    close(d->wakefd);
    return 0;
}
