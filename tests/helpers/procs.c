/* procs.c - opens under the shim from the places where a preloaded library
 * is most easily wrong: a signal handler interrupting opens, a vfork child,
 * posix_spawn, and fork while other threads are opening.
 *
 *   procs PATH FNV   (FNV = FNV-1a 64 of the file's bytes, in hex)
 *
 * Prints one line per situation with counts of reads that returned the
 * file's exact bytes (ok) and others (bad). Exit 0 when nothing was bad and
 * the signal handler really opened files. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *g_path;
static uint64_t g_want;
static volatile sig_atomic_t g_sig_ok, g_sig_bad;

static uint64_t fnv_update(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Read fd to EOF: FNV-1a of the bytes (async-signal-safe). */
static uint64_t fnv_fd(int fd)
{
    unsigned char buf[8192];
    uint64_t h = 0xcbf29ce484222325ULL;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        h = fnv_update(h, buf, (size_t)n);
    }
    return h;
}

static int right(void)
{
    int fd = open(g_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint64_t h = fnv_fd(fd);
    close(fd);
    return h == g_want;
}

static void on_alarm(int sig)
{
    int saved = errno;
    (void)sig;
    if (right())
        g_sig_ok++;
    else
        g_sig_bad++;
    errno = saved;
}

static void *reader(void *arg)
{
    long *bad = arg;
    for (int i = 0; i < 300; i++)
        if (!right())
            (*bad)++;
    return NULL;
}

int main(int argc, char **argv)
{
    long ok = 0, bad = 0;
    int status, failed = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: procs PATH FNV\n");
        return 2;
    }
    g_path = argv[1];
    g_want = strtoull(argv[2], NULL, 16);

    /* 1. a signal handler opening while the main loop opens. One open
     * first: a handler that interrupts the very first open, while the shim
     * attaches, passes through (hooks never wait), by design. */
    if (!right())
        return 1;
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 500}, {0, 500}};
    setitimer(ITIMER_REAL, &it, NULL);
    for (int i = 0; i < 3000; i++) {
        if (right())
            ok++;
        else
            bad++;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("main ok=%ld bad=%ld\nsignal ok=%ld bad=%ld\n", ok, bad, (long)g_sig_ok, (long)g_sig_bad);
    failed |= bad || g_sig_bad || g_sig_ok == 0;

    /* 2. a vfork child opens (memory shared with us, descriptors not) */
    pid_t p = vfork();
    if (p == 0)
        _exit(right() ? 0 : 1);
    waitpid(p, &status, 0);
    int after = right();
    printf("vfork child=%s parent-after=%s\n", WIFEXITED(status) && !WEXITSTATUS(status) ? "ok" : "bad",
           after ? "ok" : "bad");
    failed |= !(WIFEXITED(status) && !WEXITSTATUS(status)) || !after;

    /* 3. posix_spawn of cat into a pipe */
    int pfd[2];
    pid_t sp;
    posix_spawn_file_actions_t fa;
    char *cav[] = {"cat", (char *)g_path, NULL};
    if (pipe(pfd) < 0)
        return 1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    int r = posix_spawnp(&sp, "cat", &fa, NULL, cav, environ);
    close(pfd[1]);
    uint64_t h = r == 0 ? fnv_fd(pfd[0]) : 0;
    close(pfd[0]);
    if (r == 0)
        waitpid(sp, &status, 0);
    int spawn_ok = r == 0 && h == g_want && WIFEXITED(status) && !WEXITSTATUS(status);
    printf("spawn %s\n", spawn_ok ? "ok" : "bad");
    failed |= !spawn_ok;

    /* 4. fork while threads are opening: children open too */
    pthread_t t[4];
    long tbad[4] = {0};
    long fbad = 0;
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, reader, &tbad[i]);
    for (int i = 0; i < 20; i++) {
        pid_t c = fork();
        if (c == 0)
            _exit(right() && right() ? 0 : 1);
        waitpid(c, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status))
            fbad++;
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    long threads_bad = tbad[0] + tbad[1] + tbad[2] + tbad[3];
    printf("fork children bad=%ld threads bad=%ld\n", fbad, threads_bad);
    failed |= fbad || threads_bad;
    return failed ? 1 : 0;
}
