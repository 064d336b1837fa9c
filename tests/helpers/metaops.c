/* metaops.c - path operations one after another in one process, for the
 * metadata tests (test_meta.c): ask about paths, create them the ways a
 * program can, and wait for one to appear.
 *
 *   metaops CMD [ARG]... [+ CMD [ARG]...]...
 *
 * Every command prints one line, "CMD ARG... RESULT", RESULT being "OK" or
 * the errno name (the stat commands add the file type and size: "OK reg 5",
 * "OK dir", "OK lnk"); a command's failure does not stop the run (the test
 * compares the lines). Bad usage exits 2.
 *
 *   stat PATH               stat(2)
 *   lstat PATH              lstat(2)
 *   open PATH               open O_RDONLY, read it all, close: "OK N" (bytes)
 *   creat PATH TEXT         open O_WRONLY|O_CREAT|O_EXCL 0644, write TEXT, close
 *   mkdir PATH              mkdir 0755
 *   symlink TARGET PATH     symlink(2)
 *   rename OLD NEW          rename(2)
 *   link OLD NEW            link(2)
 *   unlink PATH             unlink(2)
 *   mkfifo PATH             mkfifo 0644
 *   mkfifoat PATH           mkfifoat 0644, relative to PATH's directory opened
 *   bind PATH               bind(2) a new AF_UNIX socket to PATH (left open)
 *   FN TEMPLATE             FN one of mkstemp, mkstemp64, mkostemp,
 *                           mkostemp64 (O_CLOEXEC), mkstemps, mkstemps64,
 *                           mkostemps, mkostemps64 (a 4-byte suffix, as in
 *                           "XXXXXX.tmp"), mkdtemp: the name made goes to
 *                           stderr, the descriptor is closed
 *   truncate PATH LEN       truncate(2)
 *   utimes PATH SEC         utimes(2), both times SEC
 *   write PATH TEXT         open O_WRONLY|O_CREAT|O_TRUNC 0644, write, close
 *   openw PATH              open O_WRONLY|O_TRUNC, kept for the next two
 *   writefd TEXT            write TEXT to it
 *   closefd                 close it
 *   wait-file PATH MS       until PATH (outside the prefixes) exists, at
 *                           most MS
 *   access PATH MODE FLAGS  faccessat(AT_FDCWD, PATH, MODE, FLAGS), or
 *                           access(PATH, MODE) when FLAGS is "-" (numbers as
 *                           strtol reads them: 0x10)
 *   sys CALL PATH [ARG]     syscall(SYS_CALL, ...): stat, lstat (x86_64),
 *                           newfstatat PATH FLAGS, statx PATH, access PATH
 *                           MODE (x86_64), faccessat PATH MODE, faccessat2
 *                           PATH MODE FLAGS, readlink PATH (x86_64),
 *                           readlinkat PATH (numbers as strtol reads them)
 *   deny CALL[,CALL]...     from now on, those system calls fail with ENOSYS
 *                           (seccomp; CALL as for sys)
 *   setreuid RUID EUID      setreuid(2), for the commands after it
 *   sleep MS
 *   poll-stat PATH EVERY_MS TIMEOUT_MS
 *   poll-open PATH EVERY_MS TIMEOUT_MS
 *                           stat PATH (open O_RDONLY and close it) every
 *                           EVERY_MS until that succeeds: "OK" (the time it
 *                           took goes to stderr, "after N ms"), else the last
 *                           errno after TIMEOUT_MS */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int g_wfd = -1; /* openw's descriptor */

static const char *ename(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void result(int r)
{
    if (r < 0)
        printf(" %s\n", ename(errno));
    else
        printf(" OK\n");
}

static void stat_result(int r, const struct stat *st)
{
    if (r < 0) {
        printf(" %s\n", ename(errno));
        return;
    }
    if (S_ISREG(st->st_mode))
        printf(" OK reg %lld\n", (long long)st->st_size);
    else if (S_ISDIR(st->st_mode))
        printf(" OK dir\n");
    else if (S_ISLNK(st->st_mode))
        printf(" OK lnk\n");
    else
        printf(" OK other\n");
}

/* open path O_WRONLY|O_CREAT|flags 0644, write text, close: 0, or -1 with
 * errno. */
static int write_new(const char *path, int flags, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int e = errno;
    close(fd);
    errno = e;
    return w == (ssize_t)len ? 0 : -1;
}

/* The system calls sys and deny know, by name. */
static const struct {
    const char *name;
    long nr;
    int args;   /* after the path */
    bool stats; /* prints as the stat command does */
} sys_calls[] = {
#ifdef SYS_stat
    {"stat", SYS_stat, 0, true},
    {"lstat", SYS_lstat, 0, true},
    {"access", SYS_access, 1, false},
    {"readlink", SYS_readlink, 0, false},
#endif
    {"newfstatat", SYS_newfstatat, 1, true},
    {"statx", SYS_statx, 0, true},
    {"faccessat", SYS_faccessat, 1, false},
    {"faccessat2", SYS_faccessat2, 2, false},
    {"readlinkat", SYS_readlinkat, 0, false},
};
#define N_SYS_CALLS (sizeof sys_calls / sizeof *sys_calls)

static int sys_index(const char *name, size_t len)
{
    for (size_t i = 0; i < N_SYS_CALLS; i++)
        if (strlen(sys_calls[i].name) == len && !strncmp(sys_calls[i].name, name, len))
            return (int)i;
    return -1;
}

/* sys CALL PATH [ARG]... (a[0] is CALL): one result line, a stat's as
 * stat's. Returns 0, or 2 for bad usage. */
static int sys(char **a, int n)
{
    int i = sys_index(a[0], strlen(a[0]));
    if (i < 0 || n != 2 + sys_calls[i].args) {
        fprintf(stderr, "\nmetaops: sys %s: unknown, or not %d argument(s)\n", a[0],
                i < 0 ? 0 : 1 + sys_calls[i].args);
        return 2;
    }
    long nr = sys_calls[i].nr, x = n > 2 ? strtol(a[2], NULL, 0) : 0;
    long y = n > 3 ? strtol(a[3], NULL, 0) : 0;
    struct stat st;
    struct statx stx;
    char buf[256];
    long r;
    if (nr == SYS_newfstatat)
        r = syscall(nr, AT_FDCWD, a[1], &st, x);
    else if (nr == SYS_statx)
        r = syscall(nr, AT_FDCWD, a[1], 0, STATX_BASIC_STATS, &stx);
    else if (nr == SYS_faccessat || nr == SYS_faccessat2)
        r = syscall(nr, AT_FDCWD, a[1], x, y);
    else if (nr == SYS_readlinkat)
        r = syscall(nr, AT_FDCWD, a[1], buf, sizeof buf);
    else if (sys_calls[i].args) /* access */
        r = syscall(nr, a[1], x);
    else if (sys_calls[i].stats) /* stat, lstat */
        r = syscall(nr, a[1], &st);
    else /* readlink */
        r = syscall(nr, a[1], buf, sizeof buf);
    if (r >= 0 && nr == SYS_statx)
        st.st_mode = stx.stx_mode, st.st_size = (off_t)stx.stx_size;
    if (sys_calls[i].stats)
        stat_result(r < 0 ? -1 : 0, &st);
    else
        result(r < 0 ? -1 : 0);
    return 0;
}

/* Make the system calls named in list (comma separated) fail with ENOSYS
 * from now on, as a seccomp profile that lacks them does. 0 or -1. */
static int deny(const char *list)
{
    struct sock_filter f[2 + 2 * N_SYS_CALLS];
    unsigned k = 0;
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, nr));
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        int i = sys_index(p, len);
        if (i < 0) {
            errno = EINVAL;
            return -1;
        }
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                              (unsigned)sys_calls[i].nr, 0, 1);
        f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
        p += len + (p[len] == ',');
    }
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = (unsigned short)k, .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Run one command (argv[0..n)). Returns 0, or 2 for bad usage. */
static int run(char **a, int n)
{
    struct stat st;
    const char *c = a[0];

#define NEED(k) \
    do { \
        if (n != (k) + 1) { \
            fprintf(stderr, "metaops: %s takes %d argument(s)\n", c, (k)); \
            return 2; \
        } \
    } while (0)
    for (int i = 0; i < n; i++)
        printf(i ? " %s" : "%s", a[i]);
    if (!strcmp(c, "stat")) {
        NEED(1);
        stat_result(stat(a[1], &st), &st);
    } else if (!strcmp(c, "lstat")) {
        NEED(1);
        stat_result(lstat(a[1], &st), &st);
    } else if (!strcmp(c, "open")) {
        NEED(1);
        int fd = open(a[1], O_RDONLY);
        if (fd < 0) {
            result(-1);
        } else {
            char buf[65536];
            long long total = 0;
            ssize_t got;
            while ((got = read(fd, buf, sizeof buf)) > 0)
                total += got;
            int e = errno;
            close(fd);
            if (got < 0)
                printf(" read %s\n", ename(e));
            else
                printf(" OK %lld\n", total);
        }
    } else if (!strcmp(c, "creat")) {
        NEED(2);
        result(write_new(a[1], O_EXCL, a[2]));
    } else if (!strcmp(c, "mkdir")) {
        NEED(1);
        result(mkdir(a[1], 0755));
    } else if (!strcmp(c, "symlink")) {
        NEED(2);
        result(symlink(a[1], a[2]));
    } else if (!strcmp(c, "rename")) {
        NEED(2);
        result(rename(a[1], a[2]));
    } else if (!strcmp(c, "link")) {
        NEED(2);
        result(link(a[1], a[2]));
    } else if (!strcmp(c, "unlink")) {
        NEED(1);
        result(unlink(a[1]));
    } else if (!strcmp(c, "mkfifo")) {
        NEED(1);
        result(mkfifo(a[1], 0644));
    } else if (!strcmp(c, "mkfifoat")) {
        NEED(1);
        char dir[4096];
        const char *slash = strrchr(a[1], '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - a[1]) + 1 : 1, slash ? a[1] : ".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        int r = dfd < 0 ? -1 : mkfifoat(dfd, slash ? slash + 1 : a[1], 0644);
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        errno = e;
        result(r);
    } else if (!strcmp(c, "bind")) {
        NEED(1);
        struct sockaddr_un u = {.sun_family = AF_UNIX};
        snprintf(u.sun_path, sizeof u.sun_path, "%s", a[1]);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        result(s < 0 ? -1 : bind(s, (struct sockaddr *)&u, sizeof u));
    } else if (!strncmp(c, "mk", 2) && strstr(c, "temp")) {
        NEED(1);
        char t[4096];
        snprintf(t, sizeof t, "%s", a[1]);
        int fd = -2;
        char *d = NULL;
        if (!strcmp(c, "mkstemp"))
            fd = mkstemp(t);
        else if (!strcmp(c, "mkstemp64"))
            fd = mkstemp64(t);
        else if (!strcmp(c, "mkostemp"))
            fd = mkostemp(t, O_CLOEXEC);
        else if (!strcmp(c, "mkostemp64"))
            fd = mkostemp64(t, O_CLOEXEC);
        else if (!strcmp(c, "mkstemps"))
            fd = mkstemps(t, 4);
        else if (!strcmp(c, "mkstemps64"))
            fd = mkstemps64(t, 4);
        else if (!strcmp(c, "mkostemps"))
            fd = mkostemps(t, 4, O_CLOEXEC);
        else if (!strcmp(c, "mkostemps64"))
            fd = mkostemps64(t, 4, O_CLOEXEC);
        else if (!strcmp(c, "mkdtemp"))
            fd = (d = mkdtemp(t)) ? 0 : -1;
        if (fd == -2) {
            fprintf(stderr, "\nmetaops: unknown command %s\n", c);
            return 2;
        }
        int e = errno;
        if (fd >= 0 && !d)
            close(fd);
        if (fd >= 0)
            fprintf(stderr, "metaops: %s made %s\n", c, t);
        errno = e;
        result(fd);
    } else if (!strcmp(c, "truncate")) {
        NEED(2);
        result(truncate(a[1], atol(a[2])));
    } else if (!strcmp(c, "utimes")) {
        NEED(2);
        struct timeval tv[2] = {{atol(a[2]), 0}, {atol(a[2]), 0}};
        result(utimes(a[1], tv));
    } else if (!strcmp(c, "write")) {
        NEED(2);
        result(write_new(a[1], O_TRUNC, a[2]));
    } else if (!strcmp(c, "openw")) {
        NEED(1);
        result(g_wfd = open(a[1], O_WRONLY | O_TRUNC));
    } else if (!strcmp(c, "writefd")) {
        NEED(1);
        size_t len = strlen(a[1]);
        result(write(g_wfd, a[1], len) == (ssize_t)len ? 0 : -1);
    } else if (!strcmp(c, "closefd")) {
        NEED(0);
        result(close(g_wfd));
        g_wfd = -1;
    } else if (!strcmp(c, "wait-file")) {
        NEED(2);
        long long start = now_ms();
        while (stat(a[1], &st) < 0 && now_ms() - start < atol(a[2]))
            sleep_ms(10);
        result(stat(a[1], &st));
    } else if (!strcmp(c, "access")) {
        NEED(3);
        int mode = (int)strtol(a[2], NULL, 0);
        if (!strcmp(a[3], "-"))
            result(access(a[1], mode));
        else
            result(faccessat(AT_FDCWD, a[1], mode, (int)strtol(a[3], NULL, 0)));
    } else if (!strcmp(c, "sys")) {
        if (n < 3)
            NEED(2);
        return sys(a + 1, n - 1);
    } else if (!strcmp(c, "deny")) {
        NEED(1);
        result(deny(a[1]));
    } else if (!strcmp(c, "setreuid")) {
        NEED(2);
        result(setreuid((uid_t)atol(a[1]), (uid_t)atol(a[2])));
    } else if (!strcmp(c, "sleep")) {
        NEED(1);
        sleep_ms(atol(a[1]));
        printf(" OK\n");
    } else if (!strcmp(c, "poll-stat") || !strcmp(c, "poll-open")) {
        NEED(3);
        long every = atol(a[2]), timeout = atol(a[3]);
        long long start = now_ms();
        int r;
        for (;;) {
            if (c[5] == 's') {
                r = stat(a[1], &st);
            } else if ((r = open(a[1], O_RDONLY)) >= 0) {
                close(r);
                r = 0;
            }
            if (r == 0 || now_ms() - start >= timeout)
                break;
            sleep_ms(every);
        }
        int e = errno;
        fprintf(stderr, "metaops: %s %s: %s after %lld ms\n", c, a[1],
                r == 0 ? "found" : "not found", now_ms() - start);
        errno = e;
        result(r);
    } else {
        fprintf(stderr, "metaops: unknown command %s\n", c);
        return 2;
    }
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: metaops CMD [ARG]... [+ CMD [ARG]...]...\n");
        return 2;
    }
    int i = 1;
    while (i < argc) {
        int j = i;
        while (j < argc && strcmp(argv[j], "+") != 0)
            j++;
        if (j == i || run(argv + i, j - i) != 0)
            return 2;
        i = j + 1;
    }
    return 0;
}
