/* lockappend.c - one writer of the lock-file + rename pattern (git's refs
 * and index, npm, many tools), for tests/integration/test_lostupdate.c.
 *
 *   lockappend DIR TAG N [US]
 *
 * appends N lines "TAG i" (i = 0..N-1) to DIR/list, each as:
 *   1. take the lock: open(DIR/list.lock, O_CREAT|O_EXCL|O_WRONLY, 0644),
 *      retried on EEXIST (sched_yield, then a sleep of a few microseconds);
 *   2. read DIR/list completely with open(O_RDONLY) and read(2): the read
 *      a shim may serve from its tier. With US: sleep US microseconds and
 *      read it again, only to compare (nobody can change DIR/list while the
 *      lock is held, so both reads must agree). The pause lets a cache load
 *      the version the first read asked for and serve it to the second:
 *      without it each version is read once, by the next holder, before
 *      anything could have cached it, and a correct cache serves nothing;
 *   3. write the contents of the first read and the new line to the lock
 *      file, close it;
 *   4. rename(DIR/list.lock, DIR/list): the new version and the unlock in
 *      one step.
 * While every writer goes through the lock, no line can be lost: each
 * reads the version the previous holder renamed into place.
 *
 * Prints "tries N differ M" on success: lock attempts in all, and how often
 * the two reads under the lock differed (each also on stderr). Exit 1 when
 * a call fails (the reason on stderr), 2 on bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *what)
{
    fprintf(stderr, "lockappend: %s: %s\n", what, strerror(errno));
    exit(1);
}

static char *read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail("open list");
    size_t cap = 8192, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b)
            fail("malloc");
        if (n + 512 > cap) {
            cap *= 2;
            b = realloc(b, cap);
            continue;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fail("read list");
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    return b;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fail("write lock file");
        p += w;
        n -= (size_t)w;
    }
}

int main(int argc, char **argv)
{
    if ((argc != 4 && argc != 5) || atoi(argv[3]) < 0) {
        fprintf(stderr, "usage: lockappend DIR TAG N [US]\n");
        return 2;
    }
    char list[4096], lock[4200];
    snprintf(list, sizeof list, "%s/list", argv[1]);
    snprintf(lock, sizeof lock, "%s.lock", list);
    int n = atoi(argv[3]);
    unsigned seed = (unsigned)getpid();
    long pause_us = argc == 5 ? atol(argv[4]) : 0;
    long tries = 0, differ = 0;

    for (int i = 0; i < n; i++) {
        int fd;
        for (int t = 0;; t++) {
            tries++;
            fd = open(lock, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
            if (fd >= 0)
                break;
            if (errno != EEXIST)
                fail("open lock file");
            if (t < 4) {
                sched_yield();
            } else {
                struct timespec ts = {0, 2000 + (long)(rand_r(&seed) % 20000)};
                nanosleep(&ts, NULL);
            }
        }
        size_t len;
        char *old = read_all(list, &len);
        if (pause_us > 0) {
            struct timespec ts = {pause_us / 1000000, (pause_us % 1000000) * 1000};
            nanosleep(&ts, NULL);
            size_t len2;
            char *again = read_all(list, &len2);
            if (len2 != len || memcmp(again, old, len) != 0) {
                differ++;
                fprintf(stderr, "lockappend %s %d: list read twice under the lock: %zu bytes, "
                        "then %zu bytes\n", argv[2], i, len, len2);
            }
            free(again);
        }
        char line[256];
        int k = snprintf(line, sizeof line, "%s %d\n", argv[2], i);
        write_all(fd, old, len);
        write_all(fd, line, (size_t)k);
        free(old);
        if (close(fd) < 0)
            fail("close lock file");
        if (rename(lock, list) < 0)
            fail("rename");
    }
    printf("tries %ld differ %ld\n", tries, differ);
    return 0;
}
