/* harness.c - shared helpers for the integration tests (see harness.h).
 *
 * Test programs are single-threaded, so children are made with fork and
 * set up with plain libc calls before exec. Their output goes to memory
 * files (memfd), read after they exit: no pipe can fill up and stall them.
 * Every child gets PR_SET_PDEATHSIG, and every daemon is also remembered in
 * a table that an atexit handler and a SIGTERM/SIGINT handler use, so a
 * crashed or killed test program leaves no daemon behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tier/clock.h"

extern char **environ;

/* ---- the product ------------------------------------------------------- */
static char g_root[H_PATH_MAX], g_shmd[H_PATH_MAX], g_lib[H_PATH_MAX], g_probe[H_PATH_MAX];

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *h_root(void)
{
    if (g_root[0])
        return g_root;
    const char *env = getenv("SHMCACHE_ROOT");
    if (env && env[0] == '/') {
        snprintf(g_root, sizeof g_root, "%s", env);
        return g_root;
    }
    /* walk up from this binary until the tree with preload/ and shmd/ */
    char exe[H_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash;
        while ((slash = strrchr(exe, '/')) && slash != exe) {
            *slash = '\0';
            char cand[H_PATH_MAX + 32];
            snprintf(cand, sizeof cand, "%s/preload/shim.h", exe);
            if (is_file(cand)) {
                snprintf(g_root, sizeof g_root, "%s", exe);
                return g_root;
            }
        }
    }
    snprintf(g_root, sizeof g_root, ".");
    return g_root;
}

/* SHMCACHE_TEST_SHMD and SHMCACHE_TEST_LIB, when set, name another build of
 * the product (a sanitizer build: mk/hardening.mk); unset, the tree's own. */
const char *h_shmd(void)
{
    const char *env = getenv("SHMCACHE_TEST_SHMD");
    if (!g_shmd[0] && env && env[0] == '/')
        snprintf(g_shmd, sizeof g_shmd, "%s", env);
    if (!g_shmd[0])
        snprintf(g_shmd, sizeof g_shmd, "%s/shmd/shmd", h_root());
    return g_shmd;
}

const char *h_lib(void)
{
    const char *env = getenv("SHMCACHE_TEST_LIB");
    if (!g_lib[0] && env && env[0] == '/')
        snprintf(g_lib, sizeof g_lib, "%s", env);
    if (!g_lib[0])
        snprintf(g_lib, sizeof g_lib, "%s/preload/libshmcache.so", h_root());
    return g_lib;
}

const char *h_probe(void)
{
    if (g_probe[0])
        return g_probe;
    char exe[H_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(g_probe, sizeof g_probe, "%.4000s/helpers/probe", exe);
            if (is_file(g_probe))
                return g_probe;
        }
    }
    snprintf(g_probe, sizeof g_probe, "%s/build/tests/helpers/probe", h_root());
    return g_probe;
}

const char *h_python(void)
{
    return is_file("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

/* ---- daemons we must not leave behind ------------------------------------- */
#define MAX_TRACKED 64
static struct {
    pid_t pid;
    char dir[256];
} g_tracked[MAX_TRACKED];

static void track(pid_t pid, const char *dir)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (g_tracked[i].pid == 0) {
            g_tracked[i].pid = pid;
            snprintf(g_tracked[i].dir, sizeof g_tracked[i].dir, "%s", dir);
            return;
        }
}

static void untrack(pid_t pid)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (g_tracked[i].pid == pid)
            g_tracked[i].pid = 0;
}

static void kill_tracked_atexit(void)
{
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (g_tracked[i].pid <= 0)
            continue;
        kill(g_tracked[i].pid, SIGKILL);
        waitpid(g_tracked[i].pid, NULL, 0);
        h_rm_rf(g_tracked[i].dir);
        g_tracked[i].pid = 0;
    }
}

static void on_fatal_signal(int sig)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (g_tracked[i].pid > 0)
            kill(g_tracked[i].pid, SIGTERM); /* they remove their directory */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Hermetic: nothing of the caller's shim setup leaks into what we start.
 * Done on first use rather than in a constructor, because this file is
 * linked into the unit tests too. */
static void harness_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    static const char *const vars[] = {"LD_PRELOAD", "SHMCACHE_PREFIX", "SHMCACHE_NAME",
                                       "SHMCACHE_DIR", "SHMCACHE_LOG", "SHMCACHE_VALIDATE",
                                       "SHMCACHE_DISABLE", "SHMCACHE_LIB"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    umask(022);
    atexit(kill_tracked_atexit);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGINT, on_fatal_signal);
    signal(SIGPIPE, SIG_IGN);
}

/* ---- small things -------------------------------------------------------- */
const char *h_fmt(const char *fmt, ...)
{
    static char bufs[32][H_PATH_MAX];
    static unsigned next;
    char *b = bufs[next++ % 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, H_PATH_MAX, fmt, ap);
    va_end(ap);
    return b;
}

uint64_t h_now_ms(void)
{
    return mono_ns() / NS_PER_MS;
}

void h_sleep_ms(unsigned ms)
{
    struct timespec ts = ns_timespec(ms * NS_PER_MS);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

bool h_wait_until(bool (*pred)(void *), void *arg, unsigned timeout_ms, unsigned interval_ms)
{
    uint64_t end = h_now_ms() + timeout_ms;
    for (;;) {
        if (pred(arg))
            return true;
        if (h_now_ms() >= end)
            return false;
        h_sleep_ms(interval_ms);
    }
}

/* ---- contents and files ------------------------------------------------------ */
static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void h_fill(unsigned char *buf, size_t n, uint32_t seed, bool text)
{
    if (!text) {
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)(splitmix(((uint64_t)seed << 40) ^ (i / 8)) >> (8 * (i % 8)));
        return;
    }
    static const char *const words[] = {"alpha", "bravo", "charlie", "delta", "echo",
                                        "foxtrot", "golf", "hotel", "india", "juliet"};
    char line[160];
    size_t pos = 0;
    for (unsigned ln = 1; pos < n; ln++) {
        int k = snprintf(line, sizeof line, "line %06u:", ln);
        uint64_t r = splitmix(((uint64_t)seed << 32) ^ ln);
        for (int w = 0; w < 6; w++, r >>= 4)
            k += snprintf(line + k, sizeof line - (size_t)k, " %s", words[(r & 15) % 10]);
        line[k++] = '\n';
        size_t take = (size_t)k < n - pos ? (size_t)k : n - pos;
        memcpy(buf + pos, line, take);
        pos += take;
    }
}

uint64_t h_fnv1a(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int write_fd_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_flags(const char *path, const void *data, size_t n, int flags)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0644);
    if (fd < 0)
        return -1;
    int r = write_fd_all(fd, data, n);
    if (close(fd) < 0)
        r = -1;
    return r;
}

int h_write_file(const char *path, const void *data, size_t n)
{
    return write_flags(path, data, n, O_CREAT | O_TRUNC);
}

int h_write_str(const char *path, const char *s)
{
    return h_write_file(path, s, strlen(s));
}

int h_rewrite(const char *path, const void *data, size_t n)
{
    return write_flags(path, data, n, O_TRUNC);
}

static unsigned char *read_fd_all(int fd, size_t *n)
{
    size_t cap = 65536, len = 0;
    unsigned char *buf = malloc(cap + 1);
    while (buf) {
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap * 2 + 1);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r == 0) {
            buf[len] = '\0';
            *n = len;
            return buf;
        }
        len += (size_t)r;
    }
    free(buf);
    return NULL;
}

unsigned char *h_read_file(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    unsigned char *b = read_fd_all(fd, n);
    close(fd);
    return b;
}

int h_mkdirs(const char *path, mode_t mode)
{
    char tmp[H_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP || type == FTW_D || type == FTW_DNR)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

int h_rm_rf(const char *path)
{
    struct stat st;
    if (!path || !path[0] || strcmp(path, "/") == 0)
        return -1;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode))
        chmod(path, 0700);
    nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
    return lstat(path, &st) == 0 ? -1 : 0;
}

int h_mktemp_dir(char *out, size_t outsz, const char *tag)
{
    snprintf(out, outsz, "/tmp/shmcache-it-%s-XXXXXX", tag);
    if (!mkdtemp(out))
        return -1;
    return chmod(out, 0755);
}

const struct h_file h_std_files[] = {
    {"empty", 0, 11, false},
    {"one", 1, 12, false},
    {"page.bin", 4096, 13, false},
    {"k100.bin", 100 * 1024, 14, false},
    {"m3.bin", 3 * 1024 * 1024, 15, false},
    {"sub/dir/nested.bin", 12345, 16, false},
    {"text.txt", 20000, 17, true},
};
const size_t h_std_nfiles = sizeof h_std_files / sizeof *h_std_files;

const struct h_file *h_std(const char *name)
{
    for (size_t i = 0; i < h_std_nfiles; i++)
        if (strcmp(h_std_files[i].name, name) == 0)
            return &h_std_files[i];
    fail_msg("no standard file %s", name);
    return NULL;
}

unsigned char *h_file_bytes(const struct h_file *f)
{
    unsigned char *b = malloc(f->size + 1);
    assert_non_null(b);
    h_fill(b, f->size, f->seed, f->text);
    return b;
}

int h_make_tree(const char *dir, const struct h_file *files, size_t n)
{
    char path[H_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        if (h_mkdirs(path, 0755) < 0)
            return -1;
        *slash = '/';
        unsigned char *b = malloc(files[i].size + 1);
        if (!b)
            return -1;
        h_fill(b, files[i].size, files[i].seed, files[i].text);
        int r = h_write_file(path, b, files[i].size);
        free(b);
        if (r < 0)
            return -1;
    }
    return 0;
}

/* ---- running programs ------------------------------------------------------ */
static void apply_env(const char *const *env)
{
    for (; env && *env; env++) {
        const char *eq = strchr(*env, '=');
        if (!eq) {
            unsetenv(*env);
            continue;
        }
        char name[256];
        size_t n = (size_t)(eq - *env);
        if (n >= sizeof name)
            continue;
        memcpy(name, *env, n);
        name[n] = '\0';
        setenv(name, eq + 1, 1);
    }
}

int h_start(struct h_proc *p, const char *const *env, const char *const *argv)
{
    harness_init();
    p->pid = -1;
    p->out_fd = memfd_create("h-out", MFD_CLOEXEC);
    p->err_fd = memfd_create("h-err", MFD_CLOEXEC);
    if (p->out_fd < 0 || p->err_fd < 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(p->out_fd, 1);
        dup2(p->err_fd, 2);
        apply_env(env);
        execvp(argv[0], (char *const *)argv);
        dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    p->pid = pid;
    return 0;
}

/* Wait for pid up to timeout_ms. Returns true and the status when it exited. */
static bool wait_pid(pid_t pid, int *status, unsigned timeout_ms)
{
    uint64_t end = h_now_ms() + timeout_ms;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) {
            if (pfd >= 0)
                close(pfd);
            return true;
        }
        if (r < 0 && errno != EINTR) {
            if (pfd >= 0)
                close(pfd);
            *status = -1;
            return true; /* not our child (any more) */
        }
        uint64_t now = h_now_ms();
        if (now >= end) {
            if (pfd >= 0)
                close(pfd);
            return false;
        }
        if (pfd >= 0) {
            struct pollfd q = {.fd = pfd, .events = POLLIN};
            poll(&q, 1, (int)(end - now));
        } else {
            h_sleep_ms(2);
        }
    }
}

static int code_of(int status)
{
    if (status == -1)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

static char *slurp_memfd(int fd, size_t *n)
{
    lseek(fd, 0, SEEK_SET);
    char *b = (char *)read_fd_all(fd, n);
    if (!b) {
        b = calloc(1, 1);
        *n = 0;
    }
    return b;
}

int h_finish(struct h_proc *p, struct h_result *r, unsigned timeout_ms)
{
    int status = -1;
    memset(r, 0, sizeof *r);
    if (p->pid > 0 && !wait_pid(p->pid, &status, timeout_ms ? timeout_ms : 60000)) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &status, 0);
        r->status = status;
        r->code = -1;
    } else {
        r->status = p->pid > 0 ? status : -1;
        r->code = code_of(r->status);
    }
    r->out = slurp_memfd(p->out_fd, &r->out_len);
    r->err = slurp_memfd(p->err_fd, &r->err_len);
    close(p->out_fd);
    close(p->err_fd);
    p->pid = -1;
    return r->code;
}

int h_run(struct h_result *r, const char *const *env, const char *const *argv, unsigned timeout_ms)
{
    struct h_proc p;
    if (h_start(&p, env, argv) < 0) {
        memset(r, 0, sizeof *r);
        r->status = r->code = -1;
        r->out = calloc(1, 1);
        r->err = strdup("harness: cannot start");
        r->err_len = strlen(r->err);
        return -1;
    }
    return h_finish(&p, r, timeout_ms);
}

void h_result_free(struct h_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

int h_count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *hit = memmem(line, len, needle, strlen(needle));
        n += hit != NULL;
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

const char *const *h_wrapped(const char *const *wrap, const char *const *argv)
{
    static const char *v[2048];
    int k = 0;
    for (; wrap && *wrap && k < 64; wrap++)
        v[k++] = *wrap;
    for (; *argv; argv++) {
        if (k == 2047) {
            fprintf(stderr, "harness: h_wrapped: more than 2047 arguments\n");
            abort(); /* a test that silently ran a shorter command would lie */
        }
        v[k++] = *argv;
    }
    v[k] = NULL;
    return v;
}

/* ---- daemons -------------------------------------------------------------- */
void h_daemon_init(struct h_daemon *d, const char *logpath, const char *const *args)
{
    static unsigned seq;
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/dev/shm/shmcache-test-%d-%u", (int)getpid(), seq++);
    snprintf(d->log, sizeof d->log, "%s", logpath);
    for (int i = 0; args && args[i] && i < 23; i++)
        d->args[i] = args[i];
}

int h_shmd_cmd(const struct h_daemon *d, struct h_result *r, const char *const *args)
{
    const char *argv[64];
    int k = 0;
    argv[k++] = h_shmd();
    argv[k++] = args[0]; /* the command; options before operands */
    argv[k++] = "--dir";
    argv[k++] = d->dir;
    for (args++; *args && k < 60; args++)
        argv[k++] = *args;
    argv[k] = NULL;
    return h_run(r, NULL, h_wrapped(d->wrap, argv), 30000);
}

static bool answers(const struct h_daemon *d)
{
    struct h_result r;
    int code = h_shmd_cmd(d, &r, H_ARGV("stats", "--json"));
    h_result_free(&r);
    return code == 0;
}

bool h_daemon_alive(struct h_daemon *d)
{
    int status;
    if (d->pid <= 0)
        return false;
    pid_t r = waitpid(d->pid, &status, WNOHANG);
    if (r == d->pid || (r < 0 && errno == ECHILD)) {
        d->exit_code = r == d->pid ? code_of(status) : -1;
        untrack(d->pid);
        d->pid = 0;
        return false;
    }
    return true;
}

int h_daemon_start(struct h_daemon *d)
{
    harness_init();
    const char *argv[40];
    int k = 0;
    argv[k++] = h_shmd();
    argv[k++] = "--dir";
    argv[k++] = d->dir;
    for (int i = 0; d->args[i] && k < 38; i++)
        argv[k++] = d->args[i];
    argv[k] = NULL;
    const char *const *full = h_wrapped(d->wrap, argv);

    int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(log);
        return -1;
    }
    if (pid == 0) {
        /* SIGTERM: a daemon whose test died still removes its directory */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(log, 1);
        dup2(log, 2);
        execvp(full[0], (char *const *)full);
        dprintf(2, "harness: exec %s: %s\n", full[0], strerror(errno));
        _exit(127);
    }
    close(log);
    d->pid = pid;
    track(pid, d->dir);
    uint64_t end = h_now_ms() + 5000;
    while (h_now_ms() < end) {
        if (!h_daemon_alive(d))
            return -1;
        if (answers(d))
            return 0;
        h_sleep_ms(10);
    }
    return -1;
}

int h_daemon_stop(struct h_daemon *d)
{
    int status;
    if (d->pid <= 0)
        return d->exit_code;
    kill(d->pid, SIGTERM);
    if (!wait_pid(d->pid, &status, 5000)) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, &status, 0);
        print_message("harness: daemon %d did not stop on SIGTERM within 5 s\n", (int)d->pid);
    }
    d->exit_code = code_of(status);
    untrack(d->pid);
    d->pid = 0;
    return d->exit_code;
}

void h_daemon_kill9(struct h_daemon *d)
{
    int status;
    if (d->pid <= 0)
        return;
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
    d->exit_code = code_of(status);
    untrack(d->pid);
    d->pid = 0;
}

void h_kill_instance(const char *dir)
{
    char buf[32] = "", comm[64] = "";
    size_t n = 0;
    unsigned char *b = h_read_file(h_fmt("%s/lock", dir), &n);
    if (!b)
        return;
    snprintf(buf, sizeof buf, "%.*s", (int)(n < 31 ? n : 31), (char *)b);
    free(b);
    pid_t pid = (pid_t)atoi(buf);
    if (pid <= 1)
        return;
    b = h_read_file(h_fmt("/proc/%d/comm", (int)pid), &n);
    if (b) {
        snprintf(comm, sizeof comm, "%.*s", (int)(n < 63 ? n : 63), (char *)b);
        free(b);
    }
    if (strncmp(comm, "shmd", 4) != 0)
        return; /* not (or no longer) a daemon */
    kill(pid, SIGTERM);
    for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
        h_sleep_ms(10);
    if (kill(pid, 0) == 0)
        kill(pid, SIGKILL);
}

void h_daemon_cleanup(struct h_daemon *d)
{
    if (d->pid > 0)
        h_daemon_stop(d);
    if (d->dir[0]) {
        h_kill_instance(d->dir);
        h_rm_rf(d->dir);
    }
}

void h_daemon_print_log(const struct h_daemon *d)
{
    size_t n = 0;
    unsigned char *b = h_read_file(d->log, &n);
    print_message("---- daemon log %s (%zu bytes) ----\n", d->log, n);
    if (b) {
        /* the last 8 KiB is what matters */
        const char *s = (const char *)b + (n > 8192 ? n - 8192 : 0);
        print_message("%s%s", s, n && b[n - 1] != '\n' ? "\n" : "");
        free(b);
    }
    print_message("---- end of daemon log ----\n");
}

/* ---- stats ------------------------------------------------------------------ */
long long h_json_num(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    return strtoll(p, NULL, 10);
}

long long h_stat(const struct h_daemon *d, const char *key)
{
    struct h_result r;
    long long v = -1;
    if (h_shmd_cmd(d, &r, H_ARGV("stats", "--json")) == 0)
        v = h_json_num(r.out, key);
    h_result_free(&r);
    return v;
}

int h_stats(const struct h_daemon *d, struct h_stats *s)
{
    struct h_result r;
    int code = h_shmd_cmd(d, &r, H_ARGV("stats", "--json"));
    memset(s, 0xff, sizeof *s);
    if (code == 0) {
        s->hits = h_json_num(r.out, "hits");
        s->misses = h_json_num(r.out, "misses");
        s->entries = h_json_num(r.out, "entries");
        s->bytes = h_json_num(r.out, "bytes");
        s->loads = h_json_num(r.out, "loads");
        s->load_failures = h_json_num(r.out, "load_failures");
        s->invalidations = h_json_num(r.out, "invalidations");
        s->evictions = h_json_num(r.out, "evictions");
        s->misses_received = h_json_num(r.out, "misses_received");
    }
    h_result_free(&r);
    return code == 0 ? 0 : -1;
}

long long h_wait_stat_ge(const struct h_daemon *d, const char *key, long long value,
                         unsigned timeout_ms)
{
    uint64_t end = h_now_ms() + timeout_ms;
    for (;;) {
        long long v = h_stat(d, key);
        if (v >= value || h_now_ms() >= end)
            return v;
        h_sleep_ms(20);
    }
}

/* ---- a test program's group ------------------------------------------------------ */
int h_group_setup(void **state)
{
    (void)state;
    harness_init();
    const char *need[] = {h_shmd(), h_lib(), h_probe()};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (!is_file(need[i])) {
            print_error("harness: %s is missing: run `make all` and build the helpers "
                        "(make test does both); SHMCACHE_ROOT=%s\n", need[i], h_root());
            return -1;
        }
    return 0;
}

int h_group_teardown(void **state)
{
    (void)state;
    char prefix[64];
    int left = 0;
    kill_tracked_atexit();
    snprintf(prefix, sizeof prefix, "shmcache-test-%d-", (int)getpid());
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        const char *path = h_fmt("/dev/shm/%s", e->d_name);
        print_error("harness: instance directory %s was left behind\n", path);
        h_kill_instance(path);
        h_rm_rf(path);
        left++;
    }
    closedir(d);
    return left ? -1 : 0;
}

/* ---- a test's fixture ---------------------------------------------------------- */
static const char *const default_args[] = {"--settle-ms", "0", "--revalidate-ms", "200",
                                           "--capacity", "64M", "--log-level", "debug", NULL};

struct h_fix *h_fix_new(void **state, const char *const *daemon_args, bool start)
{
    harness_init();
    struct h_fix *f = calloc(1, sizeof *f);
    *state = f;
    if (!f)
        return NULL;
    if (h_mktemp_dir(f->tmp, sizeof f->tmp, "t") < 0) {
        print_error("harness: mkdtemp: %s\n", strerror(errno));
        f->tmp[0] = '\0';
        h_fix_teardown(state);
        return NULL;
    }
    snprintf(f->src, sizeof f->src, "%.4000s/src", f->tmp);
    h_daemon_init(&f->d, h_fmt("%s/shmd.log", f->tmp), daemon_args ? daemon_args : default_args);
    if (h_make_tree(f->src, h_std_files, h_std_nfiles) < 0) {
        print_error("harness: cannot create %s: %s\n", f->src, strerror(errno));
        h_fix_teardown(state);
        return NULL;
    }
    if (start && h_daemon_start(&f->d) < 0) {
        print_error("harness: daemon on %s did not come up\n", f->d.dir);
        h_fix_teardown(state);
        return NULL;
    }
    return f;
}

int h_fix_setup(void **state)
{
    return h_fix_new(state, NULL, true) ? 0 : -1;
}

int h_fix_setup_nodaemon(void **state)
{
    return h_fix_new(state, NULL, false) ? 0 : -1;
}

int h_fix_teardown(void **state)
{
    struct h_fix *f = *state;
    if (!f)
        return 0;
    if (!f->passed) {
        print_message("harness: test did not pass; scratch %s, instance %s\n", f->tmp, f->d.dir);
        h_daemon_print_log(&f->d);
    }
    h_daemon_cleanup(&f->d);
    if (f->tmp[0] && !getenv("SHMCACHE_TEST_KEEP"))
        h_rm_rf(f->tmp);
    free(f);
    *state = NULL;
    return 0;
}

const char *h_src(const struct h_fix *f, const char *name)
{
    return h_fmt("%s/%s", f->src, name);
}

const char *const *h_shim_env(struct h_fix *f, const char *const *extra)
{
    static char pre[H_PATH_MAX + 16], prefix[H_PATH_MAX + 32], dir[300];
    static const char *v[40];
    int k = 0;
    /* SHMCACHE_TEST_PRELOAD: libraries that must come before the shim (the
     * sanitizer runtime of a sanitized shim); unset, just the shim */
    const char *first = getenv("SHMCACHE_TEST_PRELOAD");
    if (first && first[0])
        snprintf(pre, sizeof pre, "LD_PRELOAD=%.2000s:%s", first, h_lib());
    else
        snprintf(pre, sizeof pre, "LD_PRELOAD=%s", h_lib());
    snprintf(prefix, sizeof prefix, "SHMCACHE_PREFIX=%s", f->src);
    snprintf(dir, sizeof dir, "SHMCACHE_DIR=%s", f->d.dir);
    v[k++] = pre;
    v[k++] = prefix;
    v[k++] = dir;
    for (; extra && *extra && k < 39; extra++)
        v[k++] = *extra;
    v[k] = NULL;
    return v;
}

int h_shim(struct h_fix *f, struct h_result *r, const char *const *extra, const char *const *argv)
{
    return h_run(r, h_shim_env(f, extra), h_wrapped(f->wrap, argv), 60000);
}

int h_plain(struct h_fix *f, struct h_result *r, const char *const *argv)
{
    return h_run(r, NULL, h_wrapped(f->wrap, argv), 60000);
}

void h_cache(struct h_fix *f, const char *const *paths, long long entries)
{
    const char *argv[128];
    int k = 0;
    argv[k++] = h_probe();
    for (int i = 0; paths[i] && k < 120; i++) {
        if (i)
            argv[k++] = "+";
        argv[k++] = "cat";
        argv[k++] = paths[i];
    }
    argv[k] = NULL;
    struct h_result r;
    h_shim(f, &r, NULL, argv);
    h_assert_ok(&r, "first pass (probe cat)");
    h_result_free(&r);
    long long got = h_wait_stat_ge(&f->d, "entries", entries, 5000);
    if (got < entries)
        fail_msg("entries reached %lld, expected %lld within 5 s after the first pass", got,
                 entries);
}

/* ---- assertions (cmocka) ----------------------------------------------------- */
char *h_xstrdup(const char *s)
{
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

const char *h_line_of(const char *text, int i, char *buf, size_t n)
{
    const char *p = text;
    while (i-- > 0 && p)
        p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
    if (!p || !*p)
        return NULL;
    snprintf(buf, n, "%.*s", (int)strcspn(p, "\n"), p);
    return buf;
}

void h_mkdir_mode(const char *p, mode_t mode)
{
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", p, strerror(errno));
    assert_int_equal(chmod(p, mode), 0);
}

void h_put(const char *p, const char *text)
{
    if (h_write_str(p, text) < 0)
        fail_msg("write %s: %s", p, strerror(errno));
}

void h_put_mode(const char *p, const char *text, mode_t mode)
{
    h_put(p, text);
    assert_int_equal(chmod(p, mode), 0);
}

void h_symlink(const char *target, const char *p)
{
    if (symlink(target, p) < 0)
        fail_msg("symlink %s -> %s: %s", p, target, strerror(errno));
}

void h_assert_bytes(const void *got, size_t got_len, const void *want, size_t want_len,
                    const char *what)
{
    const unsigned char *g = got, *w = want;
    size_t n = got_len < want_len ? got_len : want_len, i = 0;
    while (i < n && g[i] == w[i])
        i++;
    if (i == n && got_len == want_len)
        return;
    if (i < n)
        fail_msg("%s: bytes differ at offset %zu (got 0x%02x, want 0x%02x; lengths %zu and %zu)",
                 what, i, g[i], w[i], got_len, want_len);
    fail_msg("%s: length %zu, want %zu (the common %zu bytes are equal)", what, got_len,
             want_len, n);
}

void h_assert_ok(const struct h_result *r, const char *what)
{
    if (r->code != 0)
        fail_msg("%s: exit code %d%s; stderr:\n%.4000s", what, r->code,
                 r->code == -1 ? " (timed out or could not run)" : "", r->err ? r->err : "");
}

void h_assert_in_tier(const char *where_out, const char *dir, const char *what)
{
    size_t n = strlen(dir);
    if (strncmp(where_out, dir, n) != 0 || where_out[n] != '/')
        fail_msg("%s: descriptor is %s, expected an object in %s", what, where_out, dir);
}

void h_assert_not_in_tier(const char *where_out, const char *dir, const char *what)
{
    size_t n = strlen(dir);
    if (strncmp(where_out, dir, n) == 0)
        fail_msg("%s: descriptor is %s, expected the source, not an object in %s", what,
                 where_out, dir);
}

void h_cache_std(struct h_fix *f)
{
    const char *paths[16];
    size_t i;
    for (i = 0; i < h_std_nfiles; i++)
        paths[i] = h_src(f, h_std_files[i].name);
    paths[i] = NULL;
    h_cache(f, paths, (long long)h_std_nfiles);
}

void h_assert_where(struct h_fix *f, const char *path, bool in_tier, const char *what)
{
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", path));
    h_assert_ok(&r, what);
    r.out[strcspn(r.out, "\n")] = '\0';
    if (in_tier)
        h_assert_in_tier(r.out, f->d.dir, what);
    else
        h_assert_not_in_tier(r.out, f->d.dir, what);
    h_result_free(&r);
}

void h_probe_std_argv(struct h_fix *f, const char *verb, const char **argv)
{
    int k = 0;
    argv[k++] = h_probe();
    for (size_t i = 0; i < h_std_nfiles; i++) {
        if (i)
            argv[k++] = "+";
        argv[k++] = verb;
        argv[k++] = h_src(f, h_std_files[i].name);
    }
    argv[k] = NULL;
}

/* ---- helper programs, root, tallies, objects ---- */
const char *h_helper(const char *name)
{
    static char paths[8][H_PATH_MAX];
    static unsigned next;
    char *p = paths[next++ % 8];
    const char *probe = h_probe();
    const char *slash = strrchr(probe, '/');
    snprintf(p, H_PATH_MAX, "%.*s/%s", slash ? (int)(slash - probe) : 1, slash ? probe : ".", name);
    return p;
}

bool h_is_root(void)
{
    return geteuid() == 0;
}

long long h_word_num(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = text; p && (p = strstr(p, key)); p += n) {
        bool start = p == text || p[-1] == ' ' || p[-1] == '\n';
        if (start && p[n] == ' ' && p[n + 1] >= '0' && p[n + 1] <= '9')
            return strtoll(p + n + 1, NULL, 10);
    }
    return -1;
}

long long h_objects_bytes(const char *dir, int *count)
{
    long long sum = 0;
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (count)
            *count = -1;
        return -1;
    }
    for (struct dirent *e; (e = readdir(d));) {
        struct stat st;
        if (e->d_name[0] != 'o' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        sum += (long long)st.st_blocks * 512;
        n++;
    }
    closedir(d);
    if (count)
        *count = n;
    return sum;
}

/* ---- memcached ------------------------------------------------------------------- */

bool h_have_memcached(void)
{
    struct h_result r;
    int code = h_run(&r, NULL, H_ARGV("memcached", "--version"), 10000);
    h_result_free(&r);
    return code == 0;
}

static bool path_exists(void *arg)
{
    return access(arg, F_OK) == 0;
}

void h_memcached_start(struct h_proc *p, const char *sock)
{
    unlink(sock);
    if (h_is_root())
        assert_int_equal(h_start(p, NULL, H_ARGV("memcached", "-u", "root", "-s", sock,
                                                 "-m", "64", "-U", "0")), 0);
    else
        assert_int_equal(h_start(p, NULL, H_ARGV("memcached", "-s", sock, "-m", "64",
                                                 "-U", "0")), 0);
    if (!h_wait_until(path_exists, (void *)sock, 5000, 10))
        fail_msg("memcached did not create %s", sock);
}

void h_memcached_kill(struct h_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGCONT);
        kill(p->pid, SIGKILL);
        struct h_result r;
        h_finish(p, &r, 5000);
        h_result_free(&r);
        p->pid = 0;
    }
}
