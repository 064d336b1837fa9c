/* attach.c - finding, checking and mapping the instance's index, and
 * re-attaching when its daemon goes away or is replaced.
 *
 * Readers never block and never wait for each other: hooks enter the current
 * attachment by incrementing its `active` count, then re-check that it is
 * still current (Dekker-style, both sides sequentially consistent). A
 * replaced attachment is unmapped only once no hook is inside it. Attaching
 * is done by whichever hook gets the `attaching` flag; the others pass
 * through meanwhile. Attempts are rate-limited to one a second. Like every
 * helper of the hooks, these may change errno (hook.h restores it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "preload/attach.h"
#include "preload/config.h"
#include "preload/fdtab.h"
#include "preload/fdtag.h"
#include "preload/hook.h"
#include "preload/log.h"
#include "preload/real.h"
#include "preload/sys.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/instance.h"

#define POOL 8                 /* attachments: the current one and those
                                  replaced while hooks were still inside */
#define RETRY_NS NS_PER_SEC    /* between attach attempts */
#define FD_PARK_MAX 1024       /* the shim's descriptors go at most this high */
#define FD_PARKED 7             /* room above the base shim_attach_prepare makes */

static struct shim_attach g_pool[POOL];
static struct shim_attach *g_cur;
static int g_attaching;
static uint64_t g_next_try_ns;
static uint32_t g_attach_seq;
static int g_warned;

pid_t shim_pid;

static uint64_t now_coarse_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC_COARSE);
}

/* Why the last attach failed, for shim_explain_idle. Written by attach()
 * only (g_attaching held), read under g_attaching too. */
static char g_idle_why[400];
static int g_idle_said;

static void idle_reason(const char *msg)
{
    size_t n = strnlen(msg, sizeof g_idle_why - 1);
    memcpy(g_idle_why, msg, n);
    g_idle_why[n] = '\0';
}

/* A refusal said at once, whatever SHMCACHE_LOG (a foreign or tampered
 * instance): it is also the reason shim_explain_idle would give, so that
 * says nothing more. One line per process either way. */
static void warn_refused(const char *msg)
{
    if (!exchange_relaxed(&g_warned, 1))
        shim_warn(msg);
    idle_reason(msg);
    store_relaxed(&g_idle_said, 1);
}

/* For "no daemon for DIR": the instance of the same name another user
 * runs, when the directory is the default one (/dev/shm/shmcache-UID-NAME):
 * the README's first trap (the app and its daemon as different users). */
static void no_daemon_reason(uid_t uid)
{
    char want[64], *name;
    const char *base = strrchr(shim_cfg.dir, '/');
    int n = snprintf(want, sizeof want, "shmcache-%u-", (unsigned)uid);

    snprintf(g_idle_why, sizeof g_idle_why, "no daemon for %.300s (start one: shmd, or shmd exec)",
             shim_cfg.dir);
    if (!base || strncmp(base + 1, want, (size_t)n) != 0)
        return;
    name = (char *)base + 1 + n;
    DIR *d = REAL(opendir)("/dev/shm");
    if (!d)
        return;
    for (struct dirent *e; (e = REAL(readdir)(d));) {
        unsigned other;
        int used = 0;
        if (sscanf(e->d_name, "shmcache-%u-%n", &other, &used) == 1 && used > 0 &&
            other != (unsigned)uid && strcmp(e->d_name + used, name) == 0) {
            snprintf(g_idle_why, sizeof g_idle_why,
                     "no daemon for %.200s; one runs as uid %u (/dev/shm/%.100s): run the daemon "
                     "as the app's user (uid %u)", shim_cfg.dir, other, e->d_name, (unsigned)uid);
            break;
        }
    }
    REAL(closedir)(d);
}

static void release(struct shim_attach *a)
{
    if (a->ro)
        REAL(munmap)(a->ro, a->ro_len);
    if (a->rw)
        REAL(munmap)(a->rw, a->rw_len);
    if (a->dirfd >= 0) {
        shim_fd_mark_ours(a->dirfd, false);
        shim_close(a->dirfd);
    }
    if (a->sockfd >= 0) {
        shim_fd_mark_ours(a->sockfd, false);
        shim_close(a->sockfd);
    }
    a->ro = a->rw = NULL;
    a->dirfd = a->sockfd = -1;
    store_release(&a->in_use, 0);
}

/* Free every replaced attachment no hook is inside of. pre: g_attaching. */
static void reclaim(void)
{
    struct shim_attach *cur = load_seqcst(&g_cur);
    for (int i = 0; i < POOL; i++) {
        struct shim_attach *a = &g_pool[i];
        if (a != cur && load_acquire(&a->in_use) && load_seqcst(&a->active) == 0)
            release(a);
    }
}

/* Our own root and mount namespace, to compare with the daemon's. */
static bool same_namespace(const struct tier_header *h)
{
    struct stat st;
    if (REAL(stat)("/", &st) < 0 || (uint64_t)st.st_dev != h->root_dev ||
        (uint64_t)st.st_ino != h->root_ino)
        return false;
    if (h->mntns_ino && REAL(stat)("/proc/self/ns/mnt", &st) == 0 &&
        (uint64_t)st.st_ino != h->mntns_ino)
        return false;
    return true;
}

/* Move a descriptor the shim keeps out of the low numbers. POSIX gives a
 * program the lowest free number on every open, and programs count on it
 * (close(0) then open gives 0; two dups in a row are consecutive: CPython's
 * test_os relies on that). An attach can happen in the middle of the
 * program's own calls, so its descriptors go to F_DUPFD's first free number
 * at or above half the descriptor limit (at most 1024: the kernel's table
 * grows to the highest number in use). Where that fails, the low number is
 * kept: a surprise in numbering, never a lost descriptor. */
static long g_park_base = -1; /* set by shim_attach_prepare */

static long park_base(void)
{
    struct rlimit rl;
    long base = FD_PARK_MAX / 2;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        base = rl.rlim_cur / 2 < FD_PARK_MAX ? (long)(rl.rlim_cur / 2) : FD_PARK_MAX;
    return base;
}

void shim_attach_prepare(void)
{
    long base = park_base();

    store_relaxed(&g_park_base, base);
    /* a descriptor of our own, never one of the program's: closing a
     * duplicate of its descriptor would drop its POSIX record locks on
     * that file (and flush a FUSE or NFS file) */
    long fd = shim_sys6(SYS_openat, AT_FDCWD, (long)"/", O_PATH | O_CLOEXEC, 0, 0, 0);
    if (fd < 0)
        return;
    long hi = shim_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base + FD_PARKED);
    if (hi >= 0)
        shim_sys3(SYS_close, hi, 0, 0);
    shim_sys3(SYS_close, fd, 0, 0); /* (the limit is lower: park_fd keeps low numbers) */
}

int shim_park_fd(int fd)
{
    long base = load_relaxed(&g_park_base);

    if (fd < 0)
        return fd;
    if (base < 0)
        base = park_base();
    if (fd >= base)
        return fd;
    long hi = shim_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base);
    if (hi == -EINVAL) {
        /* the program lowered its limit below the base fixed at init */
        base = park_base();
        hi = fd >= base ? -EINVAL : shim_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base);
    }
    if (hi < 0)
        return fd;
    shim_close(fd);
    return (int)hi;
}

static int connect_miss_socket(int dirfd)
{
    struct sockaddr_un sa;
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (s < 0)
        return -1;
    if (instance_sockaddr(&sa, shim_cfg.dir, dirfd, INSTANCE_MISS_SOCK) < 0 ||
        connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        shim_close(s);
        return -1;
    }
    return s;
}

/* Attach to the index in the instance directory, unless it is the one we
 * already have. Returns true when g_cur changed. pre: g_attaching. */
static bool attach(struct shim_attach *cur)
{
    struct stat st;
    struct tier_header h;
    char msg[512]; /* warnings only: long directory names are cut */
    int ifd = -1;
    struct shim_attach *a = NULL;
    void *hmap;
    uid_t uid = geteuid();

    int dirfd = shim_park_fd(REAL(open)(shim_cfg.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dirfd < 0) {
        /* no daemon (yet): quietly pass through (SHMCACHE_LOG says why) */
        if (errno == ENOENT)
            no_daemon_reason(uid);
        else
            snprintf(g_idle_why, sizeof g_idle_why, "cannot open %.300s: %s", shim_cfg.dir,
                     strerror(errno));
        return false;
    }
    if (REAL(fstat)(dirfd, &st) < 0)
        goto fail;
    char why_dir[64];
    if (instance_dir_untrusted(&st, uid, why_dir, sizeof why_dir)) {
        snprintf(msg, sizeof msg, "instance %.300s is not trusted (%s): passing through",
                 shim_cfg.dir, why_dir);
        warn_refused(msg);
        goto fail;
    }
    uint64_t dev = (uint64_t)st.st_dev;
    /* attached while this descriptor lives: the daemon's --idle-exit
     * asks for an exclusive lock of the directory to see that none is
     * (never waiting: the daemon holds its own for an instant only) */
    flock(dirfd, LOCK_SH | LOCK_NB);
    ifd = REAL(openat)(dirfd, "index", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (ifd < 0 || REAL(fstat)(ifd, &st) < 0) {
        snprintf(g_idle_why, sizeof g_idle_why, "no index in %.300s: its daemon is starting, "
                 "or stopped", shim_cfg.dir);
        goto fail;
    }
    if (cur && !cur->broken && cur->index_ino == (uint64_t)st.st_ino &&
        cur->index_dev == (uint64_t)st.st_dev) {
        snprintf(g_idle_why, sizeof g_idle_why, "the daemon of %.300s is not running (no "
                 "heartbeat for 2 s: stopped, killed, or suspended)", shim_cfg.dir);
        goto fail; /* the same index: its daemon is just not live */
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != uid || st.st_size < (off_t)TIER_HEADER_SIZE) {
        snprintf(msg, sizeof msg, "%.300s/index is not a shmcache index of this user: "
                 "passing through", shim_cfg.dir);
        warn_refused(msg);
        goto fail;
    }
    hmap = REAL(mmap)(NULL, TIER_HEADER_SIZE, PROT_READ, MAP_SHARED, ifd, 0);
    if (hmap == MAP_FAILED)
        goto fail;
    memcpy(&h, hmap, sizeof h);
    h.magic = load_acquire(&((const struct tier_header *)hmap)->magic);
    REAL(munmap)(hmap, TIER_HEADER_SIZE);
    const char *why = tier_header_check(&h, (uint64_t)st.st_size, uid);
    if (why) {
        snprintf(msg, sizeof msg, "%.300s/index: %s: passing through", shim_cfg.dir, why);
        warn_refused(msg);
        goto fail;
    }
    /* A daemon in another root or mount namespace may see other files at
     * the same paths (a private /tmp, a container's root): then every hit
     * is checked against the source first, so only the very same file is
     * ever served (and shmd admits a copy only if its own view agrees). */
    bool validate = !same_namespace(&h);

    for (int i = 0; i < POOL && !a; i++) {
        int zero = 0;
        if (cas_acq_rel(&g_pool[i].in_use, &zero, 1))
            a = &g_pool[i];
    }
    if (!a) {
        idle_reason("every index slot holds a replaced index still in use: passing through");
        goto fail; /* replaced indexes still in use by hooks */
    }
    a->ro_len = h.marks_offset;
    a->rw_len = h.marks_size;
    a->ro = REAL(mmap)(NULL, a->ro_len, PROT_READ, MAP_SHARED, ifd, 0);
    a->rw = REAL(mmap)(NULL, a->rw_len, PROT_READ | PROT_WRITE, MAP_SHARED, ifd, (off_t)h.marks_offset);
    if (a->ro == MAP_FAILED || a->rw == MAP_FAILED ||
        load_relaxed(&((struct tier_marks *)a->rw)->magic) != TIER_MARKS_MAGIC) {
        if (a->ro == MAP_FAILED)
            a->ro = NULL;
        if (a->rw == MAP_FAILED)
            a->rw = NULL;
        a->dirfd = a->sockfd = -1;
        release(a);
        goto fail;
    }
    tier_view_init(&a->view, &h, a->ro, a->rw);
    a->dirfd = dirfd;
    a->sockfd = shim_park_fd(connect_miss_socket(dirfd));
    a->index_dev = (uint64_t)st.st_dev;
    a->index_ino = (uint64_t)st.st_ino;
    a->dev = dev;
    a->seq = ++g_attach_seq & FDTAG_ATTACH_MASK;
    a->validate = validate;
    a->euid = (uint32_t)uid;
    a->ids_differ = getuid() != uid || getgid() != getegid();
    if (validate && shim_cfg.log != SHIM_LOG_OFF)
        shim_log("NOTE", "shmd runs in another root or mount namespace: every hit is "
                         "validated against the source");
    store_relaxed(&a->broken, 0);
    shim_fd_mark_ours(dirfd, true);
    if (a->sockfd >= 0)
        shim_fd_mark_ours(a->sockfd, true);
    shim_close(ifd);
    store_seqcst(&g_cur, a);
    reclaim();
    g_idle_why[0] = '\0';
    return true;

fail:
    if (ifd >= 0)
        shim_close(ifd);
    shim_close(dirfd);
    return false;
}

static SHIM_TLS int t_attaching; /* this thread is inside attach() */

static bool try_attach(bool force, struct shim_attach *cur)
{
    uint64_t now = now_coarse_ns();
    int zero = 0;
    bool ok = false;

    if (!force && now < load_relaxed(&g_next_try_ns))
        return false;
    if (!cas_acquire(&g_attaching, &zero, 1))
        return false;
    store_relaxed(&g_next_try_ns, now + RETRY_NS);
    /* In a vfork child, or a child made by a raw clone, memory is shared
     * with the parent but descriptors are not: never create any there. */
    if (!shim_in_vfork_child()) {
        t_attaching = 1;
        ok = attach(cur);
        t_attaching = 0;
    }
    store_release(&g_attaching, 0);
    return ok;
}

/* A vfork child that left the parent's root or mount namespace (chroot,
 * unshare, setns) cannot turn the shim off for itself alone: its memory is
 * the parent's. It records its pid here instead, and serves nothing while
 * it runs; the first call from any other process clears the record. */
static pid_t g_off_pid;

void shim_disable_vfork_child(void)
{
    store_relaxed(&g_off_pid, (pid_t)shim_sys3(SYS_getpid, 0, 0, 0));
}

static bool off_here(void)
{
    pid_t off = load_relaxed(&g_off_pid);
    if (!off)
        return false;
    if ((pid_t)shim_sys3(SYS_getpid, 0, 0, 0) == off)
        return true;
    cas_relaxed(&g_off_pid, &off, 0);
    return false;
}

/* Enter the current attachment if it is still current (and, with
 * serving, intact and live). Returns it entered, or NULL. */
static struct shim_attach *enter_current(bool serving)
{
    struct shim_attach *a = load_seqcst(&g_cur);

    if (!a || (serving && off_here()))
        return NULL;
    fetch_add_seqcst(&a->active, 1);
    if (load_seqcst(&g_cur) == a &&
        (!serving || (!load_relaxed(&a->broken) && tier_view_live(&a->view, now_coarse_ns()))))
        return a;
    fetch_sub_release(&a->active, 1);
    return NULL;
}

void shim_explain_idle(void)
{
    char msg[sizeof g_idle_why + 32];
    int zero = 0;

    if (shim_cfg.log == SHIM_LOG_OFF || load_relaxed(&g_idle_said) ||
        !cas_acquire(&g_attaching, &zero, 1))
        return;
    struct shim_attach *cur = load_seqcst(&g_cur);
    if (!g_idle_why[0] && cur && !tier_view_live(&cur->view, now_coarse_ns()))
        snprintf(g_idle_why, sizeof g_idle_why, "the daemon of %.300s is not running (no "
                 "heartbeat for 2 s: stopped, killed, or suspended)", shim_cfg.dir);
    bool say = g_idle_why[0] && !exchange_relaxed(&g_idle_said, 1);
    if (say)
        snprintf(msg, sizeof msg, "not caching: %s", g_idle_why);
    store_release(&g_attaching, 0);
    if (say)
        shim_warn(msg);
}

struct shim_attach *shim_enter(bool force)
{
    struct shim_attach *a = enter_current(true);

    if (!a && try_attach(force, load_seqcst(&g_cur)))
        a = enter_current(true);
    if (__builtin_expect(!a, 0) && shim_cfg.log != SHIM_LOG_OFF)
        shim_explain_idle();
    return a;
}

/* Another thread is attaching: wait for it (attach is a few system
 * calls), never in the attaching thread itself (a signal handler there). */
#define ATTACH_WAIT_SPINS 100000

static void wait_attach(void)
{
    for (int i = 0; i < ATTACH_WAIT_SPINS && !t_attaching && load_acquire(&g_attaching); i++)
        shim_sys3(SYS_sched_yield, 0, 0, 0);
}

struct shim_attach *shim_enter_marks(void)
{
    struct shim_attach *a = enter_current(true);

    if (a)
        return a;
    /* a daemon may have come up with a new index: attach to it first, so
     * the marks reach the index that serves (or waiting for the thread
     * that attaches now) */
    if (!try_attach(true, load_seqcst(&g_cur)))
        wait_attach();
    return enter_current(false);
}

bool shim_in_vfork_child(void)
{
    return (pid_t)shim_sys3(SYS_getpid, 0, 0, 0) != load_relaxed(&shim_pid);
}

void shim_leave(struct shim_attach *a)
{
    fetch_sub_release(&a->active, 1);
}

void shim_attach_fd_lost(int fd)
{
    for (int i = 0; i < POOL; i++) {
        struct shim_attach *a = &g_pool[i];
        if (!load_acquire(&a->in_use))
            continue;
        /* the number is the host's now: never use or close it again */
        if (load_relaxed(&a->dirfd) == fd) {
            store_relaxed(&a->dirfd, -1);
            store_relaxed(&a->broken, 1);
        }
        if (load_relaxed(&a->sockfd) == fd) {
            store_relaxed(&a->sockfd, -1);
            store_relaxed(&a->broken, 1);
        }
    }
}

void shim_attach_after_fork(void)
{
    store_relaxed(&g_attaching, 0);
}

void shim_disable(void)
{
    store_relaxed(&shim_cfg.enabled, false);
}
