/* shim.h - internals of libshmcache.so shared by its files.
 *
 * Hook shape (every interposed function): check -> serve from the tier or
 * fall through -> return. Any trouble in the tier means the real call. No
 * malloc, locks or stdio on the open/fstat/close paths; errno on success is
 * what it was on entry; every descriptor the shim keeps is O_CLOEXEC. */
#ifndef SHMCACHE_SHIM_H
#define SHMCACHE_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <utime.h>

#include "tier/index.h"
#include "tier/path.h"

#define SHIM_HIDDEN __attribute__((visibility("hidden")))
#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_TLS __thread __attribute__((tls_model("initial-exec")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

struct stat64;
struct statx;

/* Every real function the shim calls, resolved with dlsym(RTLD_NEXT) once.
 * X(return type, name, parameter list) */
#define SHIM_REAL_LIST(X) \
    X(int, open, (const char *, int, ...)) \
    X(int, open64, (const char *, int, ...)) \
    X(int, openat, (int, const char *, int, ...)) \
    X(int, openat64, (int, const char *, int, ...)) \
    X(int, __open_2, (const char *, int)) \
    X(int, __open64_2, (const char *, int)) \
    X(int, __openat_2, (int, const char *, int)) \
    X(int, __openat64_2, (int, const char *, int)) \
    X(int, creat, (const char *, mode_t)) \
    X(int, creat64, (const char *, mode_t)) \
    X(FILE *, fopen, (const char *, const char *)) \
    X(FILE *, fopen64, (const char *, const char *)) \
    X(FILE *, freopen, (const char *, const char *, FILE *)) \
    X(FILE *, freopen64, (const char *, const char *, FILE *)) \
    X(int, fclose, (FILE *)) \
    X(int, fstat, (int, struct stat *)) \
    X(int, fstat64, (int, struct stat64 *)) \
    X(int, __fxstat, (int, int, struct stat *)) \
    X(int, __fxstat64, (int, int, struct stat64 *)) \
    X(int, fstatat, (int, const char *, struct stat *, int)) \
    X(int, fstatat64, (int, const char *, struct stat64 *, int)) \
    X(int, __fxstatat, (int, int, const char *, struct stat *, int)) \
    X(int, __fxstatat64, (int, int, const char *, struct stat64 *, int)) \
    X(int, statx, (int, const char *, int, unsigned, struct statx *)) \
    X(int, close, (int)) \
    X(int, close_range, (unsigned, unsigned, int)) \
    X(void, closefrom, (int)) \
    X(int, dup2, (int, int)) \
    X(int, dup3, (int, int, int)) \
    X(int, truncate, (const char *, off_t)) \
    X(int, truncate64, (const char *, off64_t)) \
    X(int, ftruncate, (int, off_t)) \
    X(int, ftruncate64, (int, off64_t)) \
    X(int, rename, (const char *, const char *)) \
    X(int, renameat, (int, const char *, int, const char *)) \
    X(int, renameat2, (int, const char *, int, const char *, unsigned)) \
    X(int, unlink, (const char *)) \
    X(int, unlinkat, (int, const char *, int)) \
    X(int, rmdir, (const char *)) \
    X(int, remove, (const char *)) \
    X(int, link, (const char *, const char *)) \
    X(int, linkat, (int, const char *, int, const char *, int)) \
    X(int, symlink, (const char *, const char *)) \
    X(int, symlinkat, (const char *, int, const char *)) \
    X(int, chmod, (const char *, mode_t)) \
    X(int, fchmodat, (int, const char *, mode_t, int)) \
    X(int, chown, (const char *, uid_t, gid_t)) \
    X(int, lchown, (const char *, uid_t, gid_t)) \
    X(int, fchownat, (int, const char *, uid_t, gid_t, int)) \
    X(int, utime, (const char *, const struct utimbuf *)) \
    X(int, utimes, (const char *, const struct timeval *)) \
    X(int, lutimes, (const char *, const struct timeval *)) \
    X(int, futimesat, (int, const char *, const struct timeval *)) \
    X(int, utimensat, (int, const char *, const struct timespec *, int)) \
    X(int, futimens, (int, const struct timespec *)) \
    X(int, chdir, (const char *)) \
    X(int, fchdir, (int)) \
    X(int, chroot, (const char *)) \
    X(int, unshare, (int)) \
    X(int, setns, (int, int))

struct shim_real {
#define X(ret, name, args) ret (*name) args;
    SHIM_REAL_LIST(X)
#undef X
};
extern struct shim_real shim_real SHIM_HIDDEN;

/* The real function, resolved on first use if a hook runs before init. */
void *shim_dlsym_next(const char *name) SHIM_HIDDEN;
#define REAL(name) \
    ({ \
        __typeof__(shim_real.name) f_ = __atomic_load_n(&shim_real.name, __ATOMIC_RELAXED); \
        if (!f_) { \
            f_ = (__typeof__(shim_real.name))shim_dlsym_next(#name); \
            __atomic_store_n(&shim_real.name, f_, __ATOMIC_RELAXED); \
        } \
        f_; \
    })

/* Hooks glibc's headers do not declare (fortify and pre-2.33 stat ABI). */
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);
int __fxstat(int, int, struct stat *);
int __fxstat64(int, int, struct stat64 *);
int __fxstatat(int, int, const char *, struct stat *, int);
int __fxstatat64(int, int, const char *, struct stat64 *, int);

/* Configuration from the environment, parsed once at init. */
enum shim_log { SHIM_LOG_OFF, SHIM_LOG_MISS, SHIM_LOG_ALL };

struct shim_config {
    bool enabled;               /* false: every hook is just the real call */
    bool validate_open;         /* SHMCACHE_VALIDATE=open */
    enum shim_log log;
    struct path_prefixes prefixes;
    char dir[TIER_PATH_MAX];    /* the instance directory */
};
extern struct shim_config shim_cfg SHIM_HIDDEN;

/* Called first by every hook: true when the shim may act at all. The
 * fast path (initialised) is inline; the first call initialises. */
extern int shim_init_state SHIM_HIDDEN;   /* 2 once initialised */
bool shim_ready_slow(void) SHIM_HIDDEN;
static inline bool shim_ready(void)
{
    if (__builtin_expect(__atomic_load_n(&shim_init_state, __ATOMIC_ACQUIRE) == 2, 1))
        return __atomic_load_n(&shim_cfg.enabled, __ATOMIC_RELAXED);
    return shim_ready_slow();
}

/* Parse the environment values (NULL = unset) into c. Warnings, one line
 * each, go to warn(msg) for values that are refused; a refused value leaves
 * its setting inert (a bad prefix list or instance disables the shim).
 * Pure apart from warn: unit-tested. */
void shim_config_parse(struct shim_config *c, const char *disable, const char *prefix,
                       const char *name, const char *dir, const char *log,
                       const char *validate, uid_t uid, void (*warn)(const char *));

/* One attached index: the mapping and the descriptors that go with it. */
struct shim_attach {
    struct tier_view view;
    void *ro;                   /* read-only mapping: header, slots, arena */
    size_t ro_len;
    void *rw;                   /* read-write mapping: marks */
    size_t rw_len;
    int dirfd;                  /* the instance directory, O_CLOEXEC */
    int sockfd;                 /* datagram socket connected to miss.sock */
    uint64_t index_dev, index_ino; /* which index file this is */
    int active;                 /* threads inside a lookup on this mapping */
    int broken;                 /* one of our fds was closed behind our back */
    int in_use;                 /* slot of the attach pool taken */
    uint32_t seq;               /* attach number, to tell indexes apart */
    bool validate;              /* stat the source on every hit: the daemon
                                   sees paths through another namespace */
    uint64_t dev;               /* st_dev of the instance directory */
    uint32_t euid;              /* geteuid() at attach (the instance's owner):
                                   for the owner case of tier/access.h. If the
                                   process changes uid later, the kernel still
                                   checks the 0700 instance directory on every
                                   openat of an object, so a stale value can
                                   only make a hit fail, not grant one. */
};


/* Turn the shim off for the rest of the process (chroot, new mount
 * namespace: paths no longer mean what they mean to shmd). */
void shim_disable(void) SHIM_HIDDEN;

extern pid_t shim_pid SHIM_HIDDEN;          /* this process, updated at fork */
void shim_attach_after_fork(void) SHIM_HIDDEN;
/* fd, one of an attachment's descriptors, is being closed by the host. */
void shim_attach_fd_lost(int fd) SHIM_HIDDEN;

/* Enter the current attached index (attaching or re-attaching, rate
 * limited, when there is none or it went stale). Returns NULL when nothing
 * is usable; otherwise the caller must shim_leave() it. force skips the rate
 * limit (modifying calls must be able to invalidate). */
struct shim_attach *shim_enter(bool force) SHIM_HIDDEN;
void shim_leave(struct shim_attach *a) SHIM_HIDDEN;

/* The fd table: per descriptor, whether it is one of the shim's own and
 * which invalidation bucket to bump when a write descriptor closes. */
void shim_fd_mark_ours(int fd, bool ours) SHIM_HIDDEN;
void shim_fd_track_write(int fd, uint32_t bucket) SHIM_HIDDEN;
void shim_fd_closing(int fd) SHIM_HIDDEN;       /* before a close of fd */
void shim_fd_closed(int fd) SHIM_HIDDEN;        /* after: bump if it wrote */
void shim_fd_closing_range(unsigned lo, unsigned hi) SHIM_HIDDEN;
void shim_fd_closed_range(unsigned lo, unsigned hi) SHIM_HIDDEN;
void shim_fd_written(int fd) SHIM_HIDDEN;      /* ftruncate through fd */

/* Objects handed out: remember (object dev, ino, ctime) -> source stat so
 * fstat of the descriptor reports the source (see stat.c). */
void shim_obj_remember(uint64_t dev, const struct tier_entry *e) SHIM_HIDDEN;
void shim_fix_stat(int fd, struct stat *st) SHIM_HIDDEN;
void shim_fix_statx(int fd, struct statx *stx) SHIM_HIDDEN;

/* The cache key of an open: path (absolute, or relative to the current
 * directory when dirfd is AT_FDCWD) normalised, if it lies under a prefix.
 * Returns the key length, or -1 (not under a prefix, not cacheable). Paths
 * outside every prefix cost one prefix comparison and no system call. */
int shim_key(int dirfd, const char *path, char *key) SHIM_HIDDEN;

/* Normalise any path for a modifying call: absolute, relative to the
 * current directory, or relative to a directory descriptor (resolved
 * through /proc/self/fd). allow_dir keeps names like "d/" valid. Returns the
 * length or -1 when it cannot be resolved. */
int shim_resolve(int dirfd, const char *path, char *out, bool allow_dir) SHIM_HIDDEN;
void shim_cwd_changed(void) SHIM_HIDDEN;   /* after chdir, fchdir */
bool shim_cwd_relevant(void) SHIM_HIDDEN;  /* cwd under or above a prefix */

/* Open through the tier. Returns a descriptor on a hit, -1 on a miss (then
 * *notify says whether shmd should be told after the real open). errno is
 * unchanged either way. */
int shim_serve(const char *key, int len, int flags, bool *notify) SHIM_HIDDEN;
/* Tell shmd about a miss on key, handing it fd, the descriptor the real
 * open just returned (read-only), so it can copy through the same open file
 * (page cache, no second open on the slow filesystem). Never blocks. */
void shim_notify_miss(const char *key, int len, int fd) SHIM_HIDDEN;

/* One path a modifying call touches (modify.c). prepare resolves it
 * before the call (a rename or unlink removes the name): absolute, relative
 * to the cwd or to a directory descriptor, through ".." (via /proc), and
 * decides whether it is under or above a prefix; check_type also looks for
 * a directory or symlink there (a tree-wide change). commit, after the
 * call, invalidates; it returns the tag for shim_fd_track_write. */
struct shim_change {
    bool relevant;      /* under or above a prefix (or could not tell) */
    bool tree;          /* bump the epoch */
    int len;            /* key length, -1: no single cached path */
    char key[PATH_KEY_SIZE];
};
void shim_change_prepare(struct shim_change *c, int dirfd, const char *path,
                         bool check_type) SHIM_HIDDEN;
uint32_t shim_change_commit(const struct shim_change *c) SHIM_HIDDEN;

/* Invalidation through the shim (modify.c): bump the path's generation
 * (len < 0: no single path), and the epoch when tree is set. Returns a tag
 * for shim_fd_track_write (0 when no index is attached). */
uint32_t shim_invalidate(const char *key, int len, bool tree) SHIM_HIDDEN;
/* Bump the bucket a tag names (the epoch if the index changed since). */
void shim_bump_tag(uint32_t tag) SHIM_HIDDEN;

/* "/proc/self/fd/N" for fd into buf (at least 32 bytes), without stdio:
 * async-signal-safe. Returns buf. */
char *shim_fd_link(int fd, char *buf) SHIM_HIDDEN;
/* Decimal digits of v into buf (at least 21 bytes), no NUL. Returns the count. */
size_t shim_utoa(unsigned long v, char *buf) SHIM_HIDDEN;

/* SHMCACHE_LOG: one line "shmcache[pid]: WHAT path" on stderr. */
void shim_log(const char *what, const char *path) SHIM_HIDDEN;
void shim_warn(const char *msg) SHIM_HIDDEN;

/* Raw-syscall stand-ins used only while the real symbols are not resolved
 * yet (a hook called from inside dlsym during init). */
int shim_sys_openat(int dirfd, const char *path, int flags, mode_t mode) SHIM_HIDDEN;

#endif
