/* access.c - what shmd records of a file's permissions for the shims' hit
 * check (tier/access.h): whether the file has an ACL, and for the
 * directories above it whether each has all three x bits and no ACL, or
 * else which single uid owns those that do not.
 *
 * The walk lstat()s each ancestor of the key (a normalised absolute path,
 * so without "." or ".."). The kernel searches the directories a symlink
 * leads to, so when an ancestor is a symlink the real path of the parent
 * is walked instead. Anything that cannot be checked (an error, a symlink
 * in the real path: a race) records nothing sure, and shims then ask the
 * kernel on every hit: slower, never wrong.
 *
 * Each thread remembers the verdict for the last directory it walked for a
 * second, as long as the tree's epoch has not moved (no directory changed
 * through a shim): loads and revivals come in bursts from one directory.
 * A permission change on a directory made without the shim is seen when
 * the files below are next loaded. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "shmd/access.h"
#include "tier/clock.h"
#include "tier/layout.h"
#include "tier/path.h"

#define ACL_XATTR "system.posix_acl_access"
#define ALL_X (S_IXUSR | S_IXGRP | S_IXOTH)
#define REMEMBER_NS NS_PER_SEC

/* An ACL present (or unknowable) on a file, by descriptor or path. */
static bool has_acl(int fd, const char *path)
{
    ssize_t n = fd >= 0 ? fgetxattr(fd, ACL_XATTR, NULL, 0) : lgetxattr(path, ACL_XATTR, NULL, 0);
    if (n >= 0)
        return n > 0;
    return errno != ENODATA && errno != ENOTSUP && errno != ENOSYS;
}

/* Walk dir (absolute, normalised, modified in place) up to "/". Returns 0
 * with *access and *uid filled, 1 when an ancestor is a symlink, -1 on
 * error. */
static int walk(char *dir, size_t len, uint32_t *access, uint32_t *uid)
{
    bool open = true, owned = true;
    uint32_t owner = TIER_UID_NONE;
    struct stat st;

    for (;;) {
        if (lstat(dir, &st) < 0)
            return -1;
        if (S_ISLNK(st.st_mode))
            return 1;
        if (!S_ISDIR(st.st_mode))
            return -1;
        if ((st.st_mode & ALL_X) != ALL_X || has_acl(-1, dir)) {
            open = false;
            if (!(st.st_mode & S_IXUSR) || (owner != TIER_UID_NONE && owner != st.st_uid))
                owned = false;
            owner = (uint32_t)st.st_uid;
        }
        if (len == 1)
            break;
        while (len > 1 && dir[len - 1] != '/')
            len--;
        if (len > 1)
            len--; /* "/a/b" -> "/a", "/a" -> "/" */
        dir[len] = '\0';
    }
    *access = open ? TIER_ACCESS_DIRS_OPEN : 0;
    *uid = !open && owned ? owner : TIER_UID_NONE;
    return 0;
}

static __thread struct {
    char dir[PATH_KEY_SIZE];
    size_t len;
    uint64_t epoch, at_ns;
    uint32_t access, uid;
} t_last;

/* The verdict for the directories above key (len bytes). */
static void dirs_verdict(const char *key, size_t len, uint64_t epoch, uint32_t *access,
                         uint32_t *uid)
{
    char dir[PATH_KEY_SIZE];
    size_t n = len;

    while (n > 0 && key[n - 1] != '/')
        n--;
    if (n > 1)
        n--; /* the parent, without its trailing '/' (but "/" stays) */
    uint64_t now = mono_ns();
    if (t_last.len == n && t_last.epoch == epoch && now - t_last.at_ns < REMEMBER_NS &&
        memcmp(t_last.dir, key, n) == 0) {
        *access = t_last.access;
        *uid = t_last.uid;
        return;
    }
    *access = 0;
    *uid = TIER_UID_NONE;
    if (n == 0 || n >= sizeof dir)
        return;
    memcpy(dir, key, n);
    dir[n] = '\0';
    int r = walk(dir, n, access, uid);
    if (r == 1) {
        char real[PATH_MAX];
        memcpy(dir, key, n);
        dir[n] = '\0';
        if (!realpath(dir, real) || walk(real, strlen(real), access, uid) != 0)
            r = -1;
        else
            r = 0;
    }
    if (r != 0) {
        *access = 0;
        *uid = TIER_UID_NONE;
        return; /* not remembered: the next load tries again */
    }
    memcpy(t_last.dir, key, n);
    t_last.len = n;
    t_last.epoch = epoch;
    t_last.at_ns = now;
    t_last.access = *access;
    t_last.uid = *uid;
}

/* The filesystem (st_dev) on which this thread last found no extended
 * attributes at all (sshfs, most FUSE filesystems, ext4 mounted noacl),
 * remembered for a second so a burst of loads from it asks once. A remount
 * that turns ACLs on is seen a second later, like a directory change. */
static __thread struct {
    uint64_t dev, at_ns;
    bool set;
} t_noxattr;

/* An ACL on the source file (by descriptor when fd >= 0, else by path). */
static bool file_has_acl(int fd, const char *key, uint64_t dev)
{
    uint64_t now = mono_ns();

    if (fd >= 0 && t_noxattr.set && t_noxattr.dev == dev && now - t_noxattr.at_ns < REMEMBER_NS)
        return false;
    ssize_t n = fd >= 0 ? fgetxattr(fd, ACL_XATTR, NULL, 0) : lgetxattr(key, ACL_XATTR, NULL, 0);
    if (n >= 0)
        return n > 0;
    if (fd >= 0 && (errno == ENOTSUP || errno == ENOSYS)) {
        t_noxattr.dev = dev;
        t_noxattr.at_ns = now;
        t_noxattr.set = true;
    }
    return errno != ENODATA && errno != ENOTSUP && errno != ENOSYS;
}

void shmd_access(const char *key, size_t len, int fd, uint64_t dev, uint32_t mode,
                 uint64_t epoch, uint32_t *access, uint32_t *dirs_uid)
{
    dirs_verdict(key, len, epoch, access, dirs_uid);
    /* the ACL only matters to the "everyone" case (tier/access.h) */
    if ((mode & (S_IRUSR | S_IRGRP | S_IROTH)) == (S_IRUSR | S_IRGRP | S_IROTH) &&
        file_has_acl(fd, key, dev))
        *access |= TIER_ACCESS_FILE_ACL;
}
