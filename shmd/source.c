/* source.c - looking at source files (see source.h).
 *
 * Everything here may be a round trip to a slow or remote filesystem, so
 * each call asks for as little as it can: no atime (source_stat), one
 * statfs per device and ten seconds (source_special), one lease taken and
 * dropped (source_open_for_writing). None of it moves a program's file
 * offset or leaves state on its open file description. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "shmd/source.h"
#include "tier/clock.h"
#include "tier/path.h"
#include "tier/stat.h"

int source_open(const char *path, int given)
{
    /* the program's descriptor itself, not a dup: every close of a
     * descriptor on a FUSE file is a FLUSH request to the filesystem's
     * process, which the program's own requests then queue behind */
    if (given >= 0)
        return given;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) /* O_NOATIME on a file we do not own */
        fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    return fd;
}

int source_stat(int dirfd, const char *path, int flags, struct stat *st)
{
    return source_tstat(dirfd, path, flags, st, NULL);
}

int source_tstat(int dirfd, const char *path, int flags, struct stat *st, struct tier_stat *t)
{
    struct statx x;
    unsigned want = (STATX_BASIC_STATS & ~(unsigned)STATX_ATIME) |
                    (t ? STATX_BTIME | STATX_MNT_ID : 0);

    if (statx(dirfd, path, flags, want, &x) < 0)
        return -1;
    memset(st, 0, sizeof *st);
    st->st_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
    st->st_ino = (ino_t)x.stx_ino;
    st->st_mode = (mode_t)x.stx_mode;
    st->st_nlink = (nlink_t)x.stx_nlink;
    st->st_uid = (uid_t)x.stx_uid;
    st->st_gid = (gid_t)x.stx_gid;
    st->st_rdev = makedev(x.stx_rdev_major, x.stx_rdev_minor);
    st->st_size = (off_t)x.stx_size;
    st->st_blksize = (blksize_t)x.stx_blksize;
    st->st_blocks = (blkcnt_t)x.stx_blocks;
    st->st_atim.tv_sec = (time_t)x.stx_atime.tv_sec;
    st->st_atim.tv_nsec = (long)x.stx_atime.tv_nsec;
    st->st_mtim.tv_sec = (time_t)x.stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = (long)x.stx_mtime.tv_nsec;
    st->st_ctim.tv_sec = (time_t)x.stx_ctime.tv_sec;
    st->st_ctim.tv_nsec = (long)x.stx_ctime.tv_nsec;
    if (t) {
        tier_stat_from(t, st);
        if (x.stx_mask & STATX_BTIME) {
            t->btime_sec = x.stx_btime.tv_sec;
            t->btime_nsec = x.stx_btime.tv_nsec;
        }
        /* what a statx for TIER_STATX_RECORDED would say: atime was not
         * asked for, but the kernel answers it for a request that does */
        t->statx_mask = (x.stx_mask | STATX_ATIME) & TIER_STATX_RECORDED;
        t->mnt_id = x.stx_mnt_id;
        t->attributes = x.stx_attributes;
        t->attributes_mask = x.stx_attributes_mask;
    }
    return 0;
}

/* Filesystems whose files are not plain data: their "regular files" are
 * generated on read (and st_size lies), so copying them is meaningless. */
static bool special_fs(long type)
{
    switch ((unsigned long)type) {
    case PROC_SUPER_MAGIC: case SYSFS_MAGIC: case DEBUGFS_MAGIC: case TRACEFS_MAGIC:
    case SECURITYFS_MAGIC: case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC:
    case DEVPTS_SUPER_MAGIC: case BPF_FS_MAGIC: case PSTOREFS_MAGIC:
    case EFIVARFS_MAGIC: case NSFS_MAGIC: case SELINUX_MAGIC: case SMACK_MAGIC:
    case 0x62656570: /* configfs */
    case 0x65735543: /* fusectl */
        return true;
    default:
        return false;
    }
}

/* special_fs() by device, remembered for FSTYPE_TTL_NS: on a network
 * filesystem statfs is a round trip (sshfs sends an SFTP request) and a
 * device's type does not change while it is mounted; the entries age out
 * because the device numbers of anonymous filesystems (FUSE, NFS, procfs)
 * are reused after an unmount. */
#define FSTYPE_CACHE 16
#define FSTYPE_TTL_NS (10 * NS_PER_SEC)
static struct {
    pthread_mutex_t mu;
    unsigned n, next;
    struct {
        dev_t dev;
        bool special;
        uint64_t until_ns;     /* CLOCK_MONOTONIC */
    } e[FSTYPE_CACHE];
} g_fstype = {.mu = PTHREAD_MUTEX_INITIALIZER};

int source_special(int fd, dev_t dev)
{
    struct statfs sfs;
    int r = -1;

    uint64_t now = mono_ns();
    unsigned slot = FSTYPE_CACHE;

    pthread_mutex_lock(&g_fstype.mu);
    for (unsigned i = 0; i < g_fstype.n; i++) {
        if (g_fstype.e[i].dev != dev)
            continue;
        slot = i;
        if (now < g_fstype.e[i].until_ns)
            r = g_fstype.e[i].special;
    }
    pthread_mutex_unlock(&g_fstype.mu);
    if (r >= 0)
        return r;
    if (fstatfs(fd, &sfs) < 0)
        return -1;
    r = special_fs(sfs.f_type);
    pthread_mutex_lock(&g_fstype.mu);
    if (slot == FSTYPE_CACHE || slot >= g_fstype.n)
        slot = g_fstype.n < FSTYPE_CACHE ? g_fstype.n++ : g_fstype.next++ % FSTYPE_CACHE;
    g_fstype.e[slot].dev = dev;
    g_fstype.e[slot].special = r;
    g_fstype.e[slot].until_ns = now + FSTYPE_TTL_NS;
    pthread_mutex_unlock(&g_fstype.mu);
    return r;
}

/* Is the mount (by mount id, from statx) noexec? There the kernel refuses
 * X_OK to access() for a regular file whatever its mode: such records say
 * so (TIER_KIND_NOEXEC). statvfs is a round trip on a network filesystem
 * and mount flags seldom change, so the answer is remembered for
 * FSTYPE_TTL_NS, like special_fs (mount ids are reused after an unmount). */
static struct {
    pthread_mutex_t mu;
    unsigned n, next;
    struct {
        uint64_t mnt_id;
        bool noexec;
        uint64_t until_ns;
    } e[FSTYPE_CACHE];
} g_mnt = {.mu = PTHREAD_MUTEX_INITIALIZER};

bool source_noexec(const char *path, uint64_t mnt_id)
{
    struct statvfs v;
    uint64_t now = mono_ns();
    int r = -1;
    unsigned slot = FSTYPE_CACHE;

    pthread_mutex_lock(&g_mnt.mu);
    for (unsigned i = 0; i < g_mnt.n && mnt_id; i++) {
        if (g_mnt.e[i].mnt_id != mnt_id)
            continue;
        slot = i;
        if (now < g_mnt.e[i].until_ns)
            r = g_mnt.e[i].noexec;
    }
    pthread_mutex_unlock(&g_mnt.mu);
    if (r >= 0)
        return r;
    if (statvfs(path, &v) < 0)
        return true; /* unknown: X_OK is then asked of the kernel */
    r = (v.f_flag & ST_NOEXEC) != 0;
    if (!mnt_id)
        return r;
    pthread_mutex_lock(&g_mnt.mu);
    if (slot == FSTYPE_CACHE || slot >= g_mnt.n)
        slot = g_mnt.n < FSTYPE_CACHE ? g_mnt.n++ : g_mnt.next++ % FSTYPE_CACHE;
    g_mnt.e[slot].mnt_id = mnt_id;
    g_mnt.e[slot].noexec = r;
    g_mnt.e[slot].until_ns = now + FSTYPE_TTL_NS;
    pthread_mutex_unlock(&g_mnt.mu);
    return r;
}

/* A program that opened the file before a load began (so no generation
 * moved) may write more at any time, and the copy would be stale at once.
 * Asked with a read lease, which the kernel refuses (EAGAIN) while any
 * descriptor or shared mapping can write the file; taken and dropped at
 * once (a writer opening meanwhile waits microseconds; shmd ignores the
 * SIGIO). Unknown, so false, where shmd may not take leases: a file it does
 * not own without CAP_LEASE, NFS. fd may share the program's open file
 * description (the miss path): a lease sets the description's owner (reset
 * to none after) and its removal clears O_ASYNC, so a description with
 * either is left alone. */
bool source_open_for_writing(int fd)
{
    struct f_owner_ex own;
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || (fl & O_ASYNC) || fcntl(fd, F_GETOWN_EX, &own) < 0 || own.pid != 0)
        return false;
    if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
        fcntl(fd, F_SETLEASE, F_UNLCK);
        fcntl(fd, F_SETOWN, 0);
        return false;
    }
    return errno == EAGAIN;
}

int source_real_path(const char *path, int fd, char *out)
{
    char link[32];
    int own = -1;

    if (fd < 0) {
        own = fd = open(path, O_PATH | O_CLOEXEC);
        if (fd < 0)
            return -1;
    }
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, TIER_PATH_MAX - 1);
    if (own >= 0)
        close(own);
    if (n <= 0 || out[0] != '/')
        return -1;
    out[n] = '\0';
    if (n >= 10 && strcmp(out + n - 10, " (deleted)") == 0)
        return -1;
    return path_normalize(out, NULL, false, out, PATH_KEY_SIZE);
}
