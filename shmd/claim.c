/* claim.c - taking an instance and giving it back (see claim.h).
 *
 * Ownership of an instance is an flock on its `lock` file, held for the
 * daemon's lifetime: the kernel releases it when the daemon dies however it
 * dies, so a leftover directory is reclaimed exactly when no live daemon
 * holds the lock. Until the lock is ours nothing in the directory is
 * touched: a second daemon for a served instance leaves without a trace.
 *
 * The directory is trusted only as a 0700 directory of our euid, not a
 * symlink (checked on the opened descriptor): then nobody else can create,
 * replace or read anything in it, and every openat in it is safe. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "shmd/claim.h"
#include "shmd/daemon.h"
#include "shmd/log.h"
#include "shmd/snapshot.h"
#include "shmd/units.h"
#include "tier/atomic.h"
#include "tier/instance.h"

#define CTL_BACKLOG 64                 /* control connections waiting for accept */
#define MISS_RCVBUF (4 << 20)          /* bytes: room for bursts of misses */
#define CAPACITY_DEFAULT (1ULL << 30)  /* bytes, at most half the tmpfs */
#define MAX_FILE_DEFAULT (256ULL << 20) /* bytes, at most a quarter of capacity */

/* Create or open the instance directory and check that it is ours. */
static int open_instance_dir(struct shmd *d)
{
    char why[64];
    struct stat st;
    bool created = mkdir(d->opt.dir, 0700) == 0;

    if (!created && errno != EEXIST) {
        shmd_log(SHMD_LOG_ERROR, "cannot create instance directory %s: %s", d->opt.dir,
                 strerror(errno));
        return -1;
    }
    d->dirfd = open(d->opt.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d->dirfd < 0) {
        shmd_log(SHMD_LOG_ERROR, "%s: %s%s", d->opt.dir, strerror(errno),
                 errno == ELOOP || errno == ENOTDIR ? " (a symlink or not a directory): refusing" : "");
        return -1;
    }
    if (created)
        fchmod(d->dirfd, 0700); /* whatever the umask */
    if (fstat(d->dirfd, &st) < 0) {
        shmd_log(SHMD_LOG_ERROR, "instance directory %s: %s", d->opt.dir, strerror(errno));
        return -1;
    }
    if (instance_dir_untrusted(&st, geteuid(), why, sizeof why)) {
        shmd_log(SHMD_LOG_ERROR, "instance directory %s is %s: refusing (remove it or fix it "
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
        shmd_log(SHMD_LOG_ERROR, "%s/lock: %s: refusing", d->opt.dir,
                 d->lockfd < 0 ? strerror(errno) : "not a regular file of ours");
        return -1;
    }
    if (flock(d->lockfd, LOCK_EX | LOCK_NB) < 0) {
        ssize_t n = pread(d->lockfd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        shmd_log(SHMD_LOG_ERROR, "instance %s is already served by shmd pid %s", d->opt.dir,
                 pid[0] ? pid : "?");
        return -1;
    }
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(d->lockfd, 0) < 0 || pwrite(d->lockfd, pid, (size_t)n, 0) != n)
        shmd_log(SHMD_LOG_WARN, "cannot record pid in %s/lock", d->opt.dir);
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
    unsigned n = 0, busy = 0;
    if (!dir)
        return;
    for (struct dirent *e; (e = readdir(dir));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, "lock") == 0 || strcmp(e->d_name, "log") == 0 ||
            strcmp(e->d_name, "log.1") == 0)
            continue; /* (the log of shmd exec's daemon outlives it) */
        /* a listing's snapshot: its names too, unless a shim still has it
         * open (then it stays until the next start) */
        int r = e->d_type == DT_DIR && snapshot_is_object(e->d_name)
                    ? snapshot_remove(d->dirfd, e->d_name) : -1;
        if (r == 1)
            busy++;
        else if (r == 0 || unlinkat(d->dirfd, e->d_name, 0) == 0 ||
                 unlinkat(d->dirfd, e->d_name, AT_REMOVEDIR) == 0)
            n++;
    }
    closedir(dir);
    if (n)
        shmd_log(SHMD_LOG_INFO, "reclaimed %u leftover files in %s", n, d->opt.dir);
    if (busy)
        shmd_log(SHMD_LOG_INFO, "%u leftover listings in %s are still open; kept", busy,
                 d->opt.dir);
}

static int bind_socket(struct shmd *d, int type, const char *name)
{
    struct sockaddr_un sa;
    int s = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (s < 0 || instance_sockaddr(&sa, d->opt.dir, d->dirfd, name) < 0) {
        shmd_log(SHMD_LOG_ERROR, "socket %s: %s", name, strerror(errno));
        if (s >= 0)
            close(s);
        return -1;
    }
    unlinkat(d->dirfd, name, 0);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        (type == SOCK_STREAM && listen(s, CTL_BACKLOG) < 0)) {
        shmd_log(SHMD_LOG_ERROR, "bind %s/%s: %s", d->opt.dir, name, strerror(errno));
        close(s);
        return -1;
    }
    return s;
}

/* The mount namespace the index is written in, so shims in another one
 * validate every hit (the same path may name another file there). */
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
        d->opt.capacity = CAPACITY_DEFAULT;
        if (fs_total && d->opt.capacity > fs_total / 2)
            d->opt.capacity = fs_total / 2;
    } else if (fs_free && d->opt.capacity > fs_free) {
        shmd_log(SHMD_LOG_WARN, "capacity %s is more than the %s free on the tmpfs of %s; "
                 "loads will fail with no-space when it fills",
                 units_format_size(d->opt.capacity, a, sizeof a),
                 units_format_size(fs_free, b, sizeof b), d->opt.dir);
    }
    if (!d->opt.max_file)
        d->opt.max_file = d->opt.capacity / 4 < MAX_FILE_DEFAULT ? d->opt.capacity / 4
                                                                 : MAX_FILE_DEFAULT;
    if (d->opt.max_file > d->opt.capacity)
        d->opt.max_file = d->opt.capacity;
}

int claim_instance(struct shmd *d)
{
    struct store_params p = {0};
    int one = 1, rcvbuf = MISS_RCVBUF;

    if (open_instance_dir(d) < 0 || take_lock(d) < 0) {
        /* not ours (yet): close, touch nothing inside */
        if (d->lockfd >= 0)
            close(d->lockfd);
        if (d->dirfd >= 0)
            close(d->dirfd);
        d->lockfd = d->dirfd = -1;
        return -1;
    }
    reclaim(d);
    d->list_order = snapshot_probe_order(d->dirfd);
    if (d->list_order == SNAP_ORDER_NONE)
        shmd_log(SHMD_LOG_WARN, "%s lists names in no order a snapshot can keep: "
                 "directory listings are not cached", d->opt.dir);
    size_defaults(d);
    p.slots = d->opt.slots;
    p.capacity = d->opt.capacity;
    p.max_file = d->opt.max_file;
    p.revalidate_ms = d->opt.revalidate_ms;
    p.settle_ms = d->opt.settle_ms;
    p.negative_ms = d->opt.negative_ms;
    namespace_identity(&p);
    if (store_create(&d->store, d->dirfd, &p) < 0) {
        shmd_log(SHMD_LOG_ERROR, "cannot create %s/index: %s", d->opt.dir, strerror(errno));
        claim_release(d, true);
        return -1;
    }
    d->missfd = bind_socket(d, SOCK_DGRAM, INSTANCE_MISS_SOCK);
    d->ctlfd = bind_socket(d, SOCK_STREAM, INSTANCE_CTL_SOCK);
    if (d->missfd < 0 || d->ctlfd < 0 ||
        setsockopt(d->missfd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0) {
        claim_release(d, true);
        return -1;
    }
    /* a full queue drops misses, never blocks a shim: make it deep */
    setsockopt(d->missfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    return 0;
}

void claim_release(struct shmd *d, bool unmap)
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
    d->missfd = d->ctlfd = -1;
    if (d->dirfd >= 0 && rmdir(d->opt.dir) < 0 && errno != ENOENT)
        shmd_log(SHMD_LOG_DEBUG, "rmdir %s: %s", d->opt.dir, strerror(errno));
    if (unmap && d->dirfd >= 0) {
        close(d->dirfd);
        d->dirfd = -1;
    }
    if (d->lockfd >= 0)
        close(d->lockfd); /* releases the instance last */
    d->lockfd = -1;
}
