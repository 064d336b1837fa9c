/* key.c - building index keys from the paths programs pass (see key.h).
 *
 * A key is lexically normal (no "//", ".", trailing "/"); ".." is never
 * resolved lexically, because a symlink before it would make that wrong:
 * a servable open with ".." passes through, and a modifying call asks the
 * kernel where the parent is (open it O_PATH, read /proc/self/fd). Every
 * path is checked readable (readable.h) before it is read. */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/key.h"
#include "preload/log.h"
#include "preload/real.h"
#include "tier/atomic.h"

int shim_cwd_is_relevant = 1;

/* The cwd into buf (TIER_PATH_MAX bytes): > 0, or <= 0 when unknown. */
static long get_cwd(char *buf)
{
    return REAL(syscall)(SYS_getcwd, buf, TIER_PATH_MAX);
}

void shim_cwd_changed(void)
{
    char cwd[PATH_KEY_SIZE];
    int relevant = 1;

    if (get_cwd(cwd) > 0) {
        int n = path_normalize(cwd, NULL, true, cwd, sizeof cwd);
        if (n > 0)
            relevant = path_prefixes_match(&shim_cfg.prefixes, cwd, (size_t)n) ||
                       path_prefixes_below(&shim_cfg.prefixes, cwd, (size_t)n);
    }
    store_relaxed(&shim_cwd_is_relevant, relevant);
}

int shim_open_key(int dirfd, const char *path, int maybe, char *key, bool *raw)
{
    int len = shim_path_len(path);
    int n;

    *raw = false;
    if (len <= 0)
        return -1;
    if (path[0] == '/') {
        if (maybe == 1 && (size_t)len + 8 < PATH_KEY_SIZE) {
            /* the common case inside: the key, if it is normal */
            memcpy(key, path, (size_t)len);
            memset(key + len, 0, 8 - ((size_t)len & 7));
            *raw = true;
            return len;
        }
        n = path_normalize(path, NULL, false, key, PATH_KEY_SIZE);
    } else {
        if (dirfd != AT_FDCWD || get_cwd(key) <= 0)
            return -1;
        n = path_normalize(key, path, false, key, PATH_KEY_SIZE);
    }
    if (n < 0 || !path_prefixes_match(&shim_cfg.prefixes, key, (size_t)n))
        return -1;
    return n;
}

int shim_key_normalize(char *key, int len, bool *changed)
{
    *changed = false;
    if (path_is_normal(key))
        return len;
    *changed = true;
    int n = path_normalize(key, NULL, false, key, PATH_KEY_SIZE);
    if (n < 0 || !path_prefixes_match(&shim_cfg.prefixes, key, (size_t)n))
        return -1;
    return n;
}

bool shim_has_dotdot(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
            return true;
    return false;
}

/* The absolute path of an open descriptor, from /proc, into buf
 * (TIER_PATH_MAX bytes), not normalised. */
static int fd_path(int fd, char *buf)
{
    char link[SHIM_FD_LINK_SIZE];

    if (fd < 0)
        return -1;
    ssize_t r = REAL(readlink)(shim_fd_link(fd, link), buf, TIER_PATH_MAX - 1);
    if (r <= 0 || buf[0] != '/')
        return -1;
    buf[r] = '\0';
    return 0;
}

int shim_fd_resolve(int fd, char *out)
{
    if (fd_path(fd, out) < 0)
        return -1;
    /* a deleted file reads "/path (deleted)": not a path to invalidate */
    return path_normalize(out, NULL, true, out, PATH_KEY_SIZE);
}

/* A path with "..": open its parent for real and ask /proc where it is.
 * out is the only path-sized buffer: it holds the parent's name until the
 * open, then its resolved path, then the result. */
static int resolve_parent(int dirfd, const char *path, char *out, bool allow_dir)
{
    char base[NAME_MAX + 1];
    size_t n = strlen(path);

    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n >= TIER_PATH_MAX)
        return -1;
    memcpy(out, path, n);
    out[n] = '\0';
    char *slash = strrchr(out, '/');
    const char *b = slash ? slash + 1 : out;
    if (!*b || strcmp(b, ".") == 0 || strcmp(b, "..") == 0 || strlen(b) > NAME_MAX)
        return -1;
    strcpy(base, b);
    const char *parent = !slash ? "." : slash == out ? "/" : out;
    if (slash && slash != out)
        *slash = '\0';
    int pfd = REAL(openat)(dirfd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return -1;
    int r = fd_path(pfd, out);
    REAL(close)(pfd);
    if (r < 0)
        return -1;
    return path_normalize(out, base, allow_dir, out, PATH_KEY_SIZE);
}

int shim_resolve(int dirfd, const char *path, char *out, bool allow_dir)
{
    if (shim_path_len(path) <= 0)
        return -1;
    if (shim_has_dotdot(path))
        return resolve_parent(dirfd, path, out, allow_dir);
    if (path[0] == '/')
        return path_normalize(path, NULL, allow_dir, out, PATH_KEY_SIZE);
    if (dirfd == AT_FDCWD)
        return get_cwd(out) > 0 ? path_normalize(out, path, allow_dir, out, PATH_KEY_SIZE) : -1;
    if (fd_path(dirfd, out) == 0)
        return path_normalize(out, path, allow_dir, out, PATH_KEY_SIZE);
    return -1;
}
