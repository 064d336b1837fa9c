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
 *   sysaccess PATH MODE FLAGS
 *                           the same through syscall(): SYS_faccessat2, or
 *                           SYS_faccessat when FLAGS is "-"
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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    } else if (!strcmp(c, "access") || !strcmp(c, "sysaccess")) {
        NEED(3);
        int mode = (int)strtol(a[2], NULL, 0), flags = (int)strtol(a[3], NULL, 0);
        bool plain = !strcmp(a[3], "-");
        if (c[0] == 'a')
            result(plain ? access(a[1], mode) : faccessat(AT_FDCWD, a[1], mode, flags));
        else if (plain)
            result((int)syscall(SYS_faccessat, AT_FDCWD, a[1], mode));
        else
            result((int)syscall(SYS_faccessat2, AT_FDCWD, a[1], mode, flags));
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
