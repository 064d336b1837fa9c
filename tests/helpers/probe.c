/* probe.c - a small client program for the integration tests. It runs one
 * or more file operations in one process, usually under the shim, and
 * prints what it saw, so a test can compare it with what the source holds.
 *
 *   probe CMD [ARG]... [+ CMD [ARG]...]...
 *
 * Commands run in order in the same process ("+" separates them), so a test
 * can check that a write through the shim is seen by this process's next
 * open. The first failing command ends the run with exit status 1 (the
 * reason on stderr); bad usage exits 2.
 *
 *   cat PATH              open O_RDONLY, read(2) all of it to stdout
 *   fcat PATH             fopen "r", fread all of it to stdout
 *   pread PATH            open, pread(2) 4 KiB blocks from the end backwards
 *   mmap PATH             open, fstat, mmap the descriptor, write the bytes
 *   sendfile PATH         open, sendfile(2) to stdout
 *   fstat PATH            open, then print one line each for fstat, fstatat
 *                         (AT_EMPTY_PATH) and statx (AT_EMPTY_PATH) of the
 *                         descriptor and stat(PATH):
 *                         "NAME dev ino size mode nlink uid gid mtime_sec
 *                          mtime_nsec ctime_sec ctime_nsec blksize blocks"
 *   where PATH            open, print readlink(/proc/self/fd/N)
 *   execfd PATH           open without O_CLOEXEC, print "where LINK" on
 *                         stderr, fork, exec this program as `probe readfd N`
 *   readfd N              read descriptor N to stdout
 *   execfd-fstat PATH     as execfd, the child runs `probe fstatfd N`
 *   fstatfd N             print fstat of descriptor N (format of fstat)
 *   dup-fstat PATH        open, dup to >= 100, close the first, fstat the dup
 *   fork-fstat PATH       open, fork, fstat in the child
 *   errno PATH [MODE]     open (MODE r: O_RDONLY, the default; w: O_WRONLY;
 *                         dir: O_RDONLY|O_DIRECTORY; f: fopen "r"), print
 *                         "OK" or the errno name (E...); "OK errno-changed"
 *                         when a successful open modified errno
 *   hammer PROCS THREADS ITER DIR PATH LEN HASH [PATH LEN HASH]...
 *                         verify every file once, then fork PROCS processes
 *                         (0: none, run in this one) of THREADS threads, each
 *                         reading every file ITER times (rotating read,
 *                         pread, mmap and fopen); a read is good when it has
 *                         LEN bytes of FNV-1a 64 hash HASH (hex); a PATH
 *                         given more than once accepts any of its versions.
 *                         Prints
 *                         "ops N ok N bad N tier N failed N" where tier
 *                         counts opens whose descriptor is in DIR ("-": none)
 *   maps-has DIR          print "maps N fds N": lines of /proc/self/maps and
 *                         descriptors that name DIR or something in it
 *   trunc-write PATH TEXT open O_WRONLY|O_CREAT|O_TRUNC, write TEXT, close
 *   append PATH TEXT      open O_WRONLY|O_APPEND, write TEXT, close
 *   pwrite PATH OFF TEXT  open O_WRONLY (no truncation), pwrite at OFF, close
 *   openat-write DIR NAME TEXT
 *                         openat(dirfd of DIR, NAME, O_WRONLY|O_CREAT|O_TRUNC)
 *   fwrite PATH MODE TEXT fopen(PATH, MODE), fputs TEXT, fclose
 *   unlinkat DIR NAME     unlinkat(dirfd of DIR, NAME, 0)
 *   cd DIR                chdir(2)
 *   mkdir DIR             mkdir(2)
 *   closefds              close(2) every descriptor from 3 to 1023, as
 *                         daemonising programs do
 *   rename OLD NEW        rename(2)
 *   unlink PATH           unlink(2)
 *   truncate PATH LEN     truncate(2)
 *   chmod PATH OCTAL      chmod(2)
 *   chown-empty PATH GID  open PATH O_PATH, fchownat(fd, "", -1, GID,
 *                         AT_EMPTY_PATH): the group of the file itself
 *   utime-empty PATH SEC  open PATH O_RDONLY|O_NOFOLLOW (which the shim
 *                         passes through: the descriptor is the source's
 *                         even when PATH is cached), utimensat(fd, "",
 *                         {SEC, 0} twice, AT_EMPTY_PATH): atime and mtime
 *   vfork-chroot          vfork; the child chroot("/") and _exit; fails
 *                         unless the child's chroot worked
 *   sleep MS              sleep
 *   wait-file PATH MS     wait until PATH exists (fail after MS)
 *   wait-tier PATH DIR MS open PATH every 20 ms until the descriptor is in
 *                         DIR, print "tier after N ms" (fail after MS)
 *   flip PATH N A B       N times: write A (odd turns) or B (even turns) to
 *                         PATH.tmp and rename it over PATH
 *   touch PATH            create PATH (a signal back to the test)
 *   echo TEXT             print TEXT and a newline */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

static int g_fail_status = 1;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("probe: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(g_fail_status);
}

static void usage(const char *why)
{
    fprintf(stderr, "probe: %s\nusage: probe CMD [ARG]... [+ CMD [ARG]...]...\n", why);
    exit(2);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

static void write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

static int open_ro(const char *path, int extra)
{
    int fd = open(path, O_RDONLY | extra);
    if (fd < 0)
        die("open %s: %s", path, strerror(errno));
    return fd;
}

static void copy_fd(int fd, const char *what)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("read %s: %s", what, strerror(errno));
        if (n == 0)
            break;
        fflush(stdout);
        write_all(1, buf, (size_t)n);
    }
}

static int fd_link(int fd, char *buf, size_t n)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t r = readlink(link, buf, n - 1);
    if (r < 0)
        return -1;
    buf[r] = '\0';
    return 0;
}

static bool link_in_dir(const char *link, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(link, dir, n) == 0 && link[n] == '/';
}

static void cmd_cat(const char *path)
{
    int fd = open_ro(path, 0);
    copy_fd(fd, path);
    close(fd);
}

static void cmd_fcat(const char *path)
{
    char buf[65536];
    size_t n;
    FILE *f = fopen(path, "r");
    if (!f)
        die("fopen %s: %s", path, strerror(errno));
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stdout);
    if (ferror(f))
        die("fread %s: %s", path, strerror(errno));
    fclose(f);
    fflush(stdout);
}

/* Reads the blocks last to first and writes them in file order. */
static void cmd_pread(const char *path)
{
    struct stat st;
    int fd = open_ro(path, 0);
    if (fstat(fd, &st) < 0)
        die("fstat %s: %s", path, strerror(errno));
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size ? size : 1);
    if (!buf)
        die("out of memory");
    size_t blocks = (size + 4095) / 4096;
    for (size_t b = blocks; b-- > 0;) {
        size_t off = b * 4096, want = size - off < 4096 ? size - off : 4096;
        ssize_t r = pread(fd, buf + off, want, (off_t)off);
        if (r != (ssize_t)want)
            die("pread %s at %zu: %zd (%s)", path, off, r, r < 0 ? strerror(errno) : "short");
    }
    char extra;
    if (pread(fd, &extra, 1, (off_t)size) != 0)
        die("pread %s: data beyond st_size %zu", path, size);
    fflush(stdout);
    write_all(1, buf, size);
    free(buf);
    close(fd);
}

static void cmd_mmap(const char *path)
{
    struct stat st;
    int fd = open_ro(path, 0);
    if (fstat(fd, &st) < 0)
        die("fstat %s: %s", path, strerror(errno));
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            die("mmap %s: %s", path, strerror(errno));
        fflush(stdout);
        write_all(1, p, (size_t)st.st_size);
        munmap(p, (size_t)st.st_size);
    }
    close(fd);
}

static void cmd_sendfile(const char *path)
{
    int fd = open_ro(path, 0);
    fflush(stdout);
    for (;;) {
        ssize_t n = sendfile(1, fd, NULL, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("sendfile %s: %s", path, strerror(errno));
        if (n == 0)
            break;
    }
    close(fd);
}

static void print_stat(const char *name, const struct stat *st)
{
    printf("%s %llu %llu %lld %o %llu %u %u %lld %ld %lld %ld %ld %lld\n", name,
           (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
           (long long)st->st_size, (unsigned)st->st_mode, (unsigned long long)st->st_nlink,
           (unsigned)st->st_uid, (unsigned)st->st_gid, (long long)st->st_mtim.tv_sec,
           st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec,
           (long)st->st_blksize, (long long)st->st_blocks);
}

static void cmd_fstat(const char *path)
{
    struct stat st;
    struct statx x;
    int fd = open_ro(path, 0);

    if (fstat(fd, &st) < 0)
        die("fstat %s: %s", path, strerror(errno));
    print_stat("fstat", &st);
    if (fstatat(fd, "", &st, AT_EMPTY_PATH) < 0)
        die("fstatat %s: %s", path, strerror(errno));
    print_stat("fstatat", &st);
    if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &x) < 0)
        die("statx %s: %s", path, strerror(errno));
    memset(&st, 0, sizeof st);
    st.st_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
    st.st_ino = x.stx_ino;
    st.st_size = (off_t)x.stx_size;
    st.st_mode = x.stx_mode;
    st.st_nlink = x.stx_nlink;
    st.st_uid = x.stx_uid;
    st.st_gid = x.stx_gid;
    st.st_mtim.tv_sec = x.stx_mtime.tv_sec;
    st.st_mtim.tv_nsec = x.stx_mtime.tv_nsec;
    st.st_ctim.tv_sec = x.stx_ctime.tv_sec;
    st.st_ctim.tv_nsec = x.stx_ctime.tv_nsec;
    st.st_blksize = (blksize_t)x.stx_blksize;
    st.st_blocks = (blkcnt_t)x.stx_blocks;
    print_stat("statx", &st);
    if (stat(path, &st) < 0)
        die("stat %s: %s", path, strerror(errno));
    print_stat("stat", &st);
    fflush(stdout);
    close(fd);
}

static void cmd_where(const char *path)
{
    char link[4096];
    int fd = open_ro(path, 0);
    if (fd_link(fd, link, sizeof link) < 0)
        die("readlink of fd %d: %s", fd, strerror(errno));
    printf("%s\n", link);
    fflush(stdout);
    close(fd);
}

static void cmd_execfd(const char *path, const char *child_cmd)
{
    char link[4096], num[16];
    int fd = open_ro(path, 0);
    if (fd_link(fd, link, sizeof link) < 0)
        die("readlink of fd %d: %s", fd, strerror(errno));
    fprintf(stderr, "where %s\n", link);
    snprintf(num, sizeof num, "%d", fd);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        execl("/proc/self/exe", "probe", child_cmd, num, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("readfd child failed (status %#x)", status);
    close(fd);
}

/* fstat of an inherited descriptor, printed like the fstat command. */
static void cmd_fstatfd(const char *num)
{
    struct stat st;
    if (fstat(atoi(num), &st) < 0)
        die("fstat %s: %s", num, strerror(errno));
    print_stat("fstat", &st);
    fflush(stdout);
}

static void cmd_readfd(const char *num)
{
    int fd = atoi(num);
    copy_fd(fd, num);
}

static const char *errno_name(int e)
{
    static char buf[16];
    switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EISDIR: return "EISDIR";
    case ENOTDIR: return "ENOTDIR";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case EINVAL: return "EINVAL";
    case EEXIST: return "EEXIST";
    case EMFILE: return "EMFILE";
    case ENXIO: return "ENXIO";
    case EROFS: return "EROFS";
    case ETXTBSY: return "ETXTBSY";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    default:
        snprintf(buf, sizeof buf, "E%d", e);
        return buf;
    }
}

static void cmd_errno(const char *path, const char *mode)
{
    const int sentinel = EDOM;
    int fd = -1;
    FILE *f = NULL;
    bool ok = false;

    errno = sentinel;
    if (strcmp(mode, "r") == 0) {
        fd = open(path, O_RDONLY);
        ok = fd >= 0;
    } else if (strcmp(mode, "w") == 0) {
        fd = open(path, O_WRONLY);
        ok = fd >= 0;
    } else if (strcmp(mode, "dir") == 0) {
        fd = open(path, O_RDONLY | O_DIRECTORY);
        ok = fd >= 0;
    } else if (strcmp(mode, "f") == 0) {
        f = fopen(path, "r");
        ok = f != NULL;
    } else {
        usage("errno: MODE is r, w, dir or f");
    }
    int e = errno;
    if (ok)
        printf(e == sentinel ? "OK\n" : "OK errno-changed\n");
    else
        printf("%s\n", errno_name(e));
    fflush(stdout);
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
}

/* ---- hammer --------------------------------------------------------------- */
struct hfile {
    const char *path;
    size_t len;
    uint64_t hash;
};

struct hcount {
    uint64_t ops, ok, bad, tier;
};

static struct {
    struct hfile *files;
    int nfiles;
    int iter;
    size_t maxlen;
    const char *dir;
    struct hcount *shared; /* MAP_SHARED: summed over processes and threads */
} g_h;

/* One read of file f by method m. Returns true when the bytes are right. */
static bool hammer_one(const struct hfile *f, int m, unsigned char *buf, bool *in_tier)
{
    char link[4096];
    size_t got = 0;
    bool good = true;
    int fd = -1;
    FILE *fp = NULL;

    *in_tier = false;
    if (m == 3) {
        fp = fopen(f->path, "re");
        if (!fp)
            return false;
        fd = fileno(fp);
    } else {
        fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return false;
    }
    if (g_h.dir && fd_link(fd, link, sizeof link) == 0)
        *in_tier = link_in_dir(link, g_h.dir);
    switch (m) {
    case 0:
        for (;;) {
            size_t room = g_h.maxlen + 1 - got; /* one more byte proves too long */
            ssize_t n = read(fd, buf + got, room ? room : 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                good = n == 0;
                break;
            }
            got += (size_t)n;
            if (got > g_h.maxlen)
                break;
        }
        break;
    case 1:
        while (got <= g_h.maxlen) {
            ssize_t n = pread(fd, buf + got, g_h.maxlen + 1 - got, (off_t)got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                good = n == 0;
                break;
            }
            got += (size_t)n;
        }
        break;
    case 2: {
        struct stat st;
        if (fstat(fd, &st) < 0 || (size_t)st.st_size > g_h.maxlen) {
            good = false;
            break;
        }
        got = (size_t)st.st_size;
        if (got) {
            void *p = mmap(NULL, got, PROT_READ, MAP_SHARED, fd, 0);
            if (p == MAP_FAILED) {
                good = false;
                break;
            }
            memcpy(buf, p, got);
            munmap(p, got);
        }
        break;
    }
    case 3:
        got = fread(buf, 1, g_h.maxlen + 1, fp);
        good = !ferror(fp);
        break;
    }
    if (fp)
        fclose(fp);
    else
        close(fd);
    if (!good)
        return false;
    /* several specs for one path: any of them is a right answer */
    uint64_t h = fnv1a(FNV_INIT, buf, got);
    for (int i = 0; i < g_h.nfiles; i++)
        if (strcmp(g_h.files[i].path, f->path) == 0 && g_h.files[i].len == got &&
            g_h.files[i].hash == h)
            return true;
    return false;
}

static void hammer_pass(int start, unsigned char *buf, struct hcount *c, int method_base)
{
    for (int k = 0; k < g_h.nfiles; k++) {
        const struct hfile *f = &g_h.files[(start + k) % g_h.nfiles];
        bool tier;
        bool good = hammer_one(f, (method_base + k) % 4, buf, &tier);
        c->ops++;
        c->ok += good;
        c->bad += !good;
        c->tier += tier;
        if (!good)
            fprintf(stderr, "probe: hammer: wrong bytes from %s (pid %d)\n", f->path,
                    (int)getpid());
    }
}

static size_t hammer_buf_size(void)
{
    return g_h.maxlen + 2;
}

static void hammer_add(const struct hcount *c)
{
    __atomic_fetch_add(&g_h.shared->ops, c->ops, __ATOMIC_RELAXED);
    __atomic_fetch_add(&g_h.shared->ok, c->ok, __ATOMIC_RELAXED);
    __atomic_fetch_add(&g_h.shared->bad, c->bad, __ATOMIC_RELAXED);
    __atomic_fetch_add(&g_h.shared->tier, c->tier, __ATOMIC_RELAXED);
}

static void *hammer_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct hcount c = {0};
    unsigned char *buf = malloc(hammer_buf_size());
    if (!buf)
        return (void *)1;
    for (int i = 0; i < g_h.iter; i++)
        hammer_pass(id + i, buf, &c, id + i);
    free(buf);
    hammer_add(&c);
    return NULL;
}

static int hammer_threads(int nthreads, int base)
{
    pthread_t t[256];
    int failed = 0;
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&t[i], NULL, hammer_thread, (void *)(intptr_t)(base + i)) != 0)
            die("pthread_create: %s", strerror(errno));
    for (int i = 0; i < nthreads; i++) {
        void *r;
        pthread_join(t[i], &r);
        failed += r != NULL;
    }
    return failed;
}

static int cmd_hammer(char **a, int n)
{
    if (n < 7 || (n - 4) % 3 != 0)
        usage("hammer PROCS THREADS ITER DIR PATH LEN HASH...");
    int procs = atoi(a[0]), threads = atoi(a[1]);
    g_h.iter = atoi(a[2]);
    g_h.dir = strcmp(a[3], "-") == 0 ? NULL : a[3];
    if (procs < 0 || procs > 64 || threads < 1 || threads > 256 || g_h.iter < 1)
        usage("hammer: PROCS 0-64, THREADS 1-256, ITER >= 1");
    g_h.nfiles = (n - 4) / 3;
    g_h.files = calloc((size_t)g_h.nfiles, sizeof *g_h.files);
    for (int i = 0; i < g_h.nfiles; i++) {
        g_h.files[i].path = a[4 + 3 * i];
        g_h.files[i].len = strtoull(a[5 + 3 * i], NULL, 10);
        g_h.files[i].hash = strtoull(a[6 + 3 * i], NULL, 16);
        if (g_h.files[i].len > g_h.maxlen)
            g_h.maxlen = g_h.files[i].len;
    }
    g_h.shared = mmap(NULL, sizeof *g_h.shared, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_h.shared == MAP_FAILED)
        die("mmap: %s", strerror(errno));

    /* one pass first, so forked children inherit an attached shim */
    struct hcount c = {0};
    unsigned char *buf = malloc(hammer_buf_size());
    hammer_pass(0, buf, &c, 0);
    free(buf);
    hammer_add(&c);

    int failed = 0;
    if (procs == 0) {
        failed = hammer_threads(threads, 0);
    } else {
        pid_t pids[64];
        fflush(stdout);
        fflush(stderr);
        for (int p = 0; p < procs; p++) {
            pids[p] = fork();
            if (pids[p] < 0)
                die("fork: %s", strerror(errno));
            if (pids[p] == 0)
                _exit(hammer_threads(threads, p * threads) ? 3 : 0);
        }
        for (int p = 0; p < procs; p++) {
            int status;
            while (waitpid(pids[p], &status, 0) < 0 && errno == EINTR)
                ;
            failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
    }
    printf("ops %llu ok %llu bad %llu tier %llu failed %d\n",
           (unsigned long long)g_h.shared->ops, (unsigned long long)g_h.shared->ok,
           (unsigned long long)g_h.shared->bad, (unsigned long long)g_h.shared->tier, failed);
    fflush(stdout);
    return 0;
}

/* ---- the rest ------------------------------------------------------------- */
static void cmd_maps_has(const char *dir)
{
    char line[8192], link[4096], p[300];
    size_t n = strlen(dir);
    int maps = 0, fds = 0;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        die("/proc/self/maps: %s", strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *s = strstr(line, dir);
        if (s && (s[n] == '/' || s[n] == '\n' || s[n] == '\0' || s[n] == ' '))
            maps++;
    }
    fclose(f);
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        die("/proc/self/fd: %s", strerror(errno));
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t r = readlink(p, link, sizeof link - 1);
        if (r <= 0)
            continue;
        link[r] = '\0';
        if (strncmp(link, dir, n) == 0 && (link[n] == '/' || link[n] == '\0'))
            fds++;
    }
    closedir(d);
    printf("maps %d fds %d\n", maps, fds);
    fflush(stdout);
}

static void cmd_write(const char *path, const char *text, int flags)
{
    int fd = open(path, O_WRONLY | flags, 0644);
    if (fd < 0)
        die("open %s for writing: %s", path, strerror(errno));
    write_all(fd, text, strlen(text));
    if (close(fd) < 0)
        die("close %s: %s", path, strerror(errno));
}

static void cmd_wait_tier(const char *path, const char *dir, const char *ms)
{
    uint64_t start = now_ms(), limit = strtoull(ms, NULL, 10);
    char link[4096];
    for (;;) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            bool in = fd_link(fd, link, sizeof link) == 0 && link_in_dir(link, dir);
            close(fd);
            if (in) {
                printf("tier after %llu ms\n", (unsigned long long)(now_ms() - start));
                fflush(stdout);
                return;
            }
        }
        if (now_ms() - start > limit)
            die("wait-tier %s: not served from %s within %s ms", path, dir, ms);
        sleep_ms(20);
    }
}

/* Replace path n times, alternately with text a and b, each time by writing
 * PATH.tmp and renaming it over PATH (readers see one version or the other,
 * whole); the last version written is b when n is even. */
static void cmd_flip(const char *path, int n, const char *a, const char *b)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    for (int i = 1; i <= n; i++) {
        cmd_write(tmp, i % 2 ? a : b, O_CREAT | O_TRUNC);
        if (rename(tmp, path) < 0)
            die("rename %s %s: %s", tmp, path, strerror(errno));
        sleep_ms(2);
    }
}

/* Write text at offset off of an existing file, without truncating. */
static void cmd_pwrite(const char *path, long long off, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        die("open %s for writing: %s", path, strerror(errno));
    if (pwrite(fd, text, strlen(text), (off_t)off) != (ssize_t)strlen(text))
        die("pwrite %s: %s", path, strerror(errno));
    if (close(fd) < 0)
        die("close %s: %s", path, strerror(errno));
}

/* openat(open(dir), name, O_WRONLY|O_CREAT|O_TRUNC), as tar or rsync do. */
static void cmd_openat_write(const char *dir, const char *name, const char *text)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        die("open %s: %s", dir, strerror(errno));
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("openat %s %s: %s", dir, name, strerror(errno));
    write_all(fd, text, strlen(text));
    if (close(fd) < 0)
        die("close: %s", strerror(errno));
    close(dfd);
}

static void cmd_fwrite(const char *path, const char *mode, const char *text)
{
    FILE *f = fopen(path, mode);
    if (!f)
        die("fopen %s %s: %s", path, mode, strerror(errno));
    if (fputs(text, f) < 0 || fclose(f) != 0)
        die("fwrite %s: %s", path, strerror(errno));
}

static void cmd_unlinkat(const char *dir, const char *name)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        die("open %s: %s", dir, strerror(errno));
    if (unlinkat(dfd, name, 0) < 0)
        die("unlinkat %s %s: %s", dir, name, strerror(errno));
    close(dfd);
}

/* A path call on the descriptor itself (AT_EMPTY_PATH and ""). */
static void cmd_chown_empty(const char *path, const char *gid)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        die("open %s O_PATH: %s", path, strerror(errno));
    if (fchownat(fd, "", (uid_t)-1, (gid_t)strtoul(gid, NULL, 10), AT_EMPTY_PATH) < 0)
        die("fchownat %s AT_EMPTY_PATH: %s", path, strerror(errno));
    close(fd);
}

static void cmd_utime_empty(const char *path, const char *sec)
{
    struct timespec t[2] = {{.tv_sec = (time_t)strtoll(sec, NULL, 10)},
                            {.tv_sec = (time_t)strtoll(sec, NULL, 10)}};
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        die("open %s: %s", path, strerror(errno));
    if (utimensat(fd, "", t, AT_EMPTY_PATH) < 0)
        die("utimensat %s AT_EMPTY_PATH: %s", path, strerror(errno));
    close(fd);
}

/* A vfork child that changes its root and exits: its memory is ours. */
static void cmd_vfork_chroot(void)
{
    int status;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = vfork();
    if (pid < 0)
        die("vfork: %s", strerror(errno));
    if (pid == 0)
        _exit(chroot("/") == 0 ? 0 : 1);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("vfork-chroot: the child's chroot failed (status %#x)", status);
}

/* Run the command at a[0] with its n-1 arguments. */
static void run(char **a, int n)
{
    const char *c = a[0];
#define NEED(k) \
    do { \
        if (n - 1 != (k)) \
            usage("wrong number of arguments"); \
    } while (0)
    if (strcmp(c, "cat") == 0) {
        NEED(1);
        cmd_cat(a[1]);
    } else if (strcmp(c, "fcat") == 0) {
        NEED(1);
        cmd_fcat(a[1]);
    } else if (strcmp(c, "pread") == 0) {
        NEED(1);
        cmd_pread(a[1]);
    } else if (strcmp(c, "mmap") == 0) {
        NEED(1);
        cmd_mmap(a[1]);
    } else if (strcmp(c, "sendfile") == 0) {
        NEED(1);
        cmd_sendfile(a[1]);
    } else if (strcmp(c, "fstat") == 0) {
        NEED(1);
        cmd_fstat(a[1]);
    } else if (strcmp(c, "where") == 0) {
        NEED(1);
        cmd_where(a[1]);
    } else if (strcmp(c, "execfd") == 0) {
        NEED(1);
        cmd_execfd(a[1], "readfd");
    } else if (strcmp(c, "execfd-fstat") == 0) {
        NEED(1);
        cmd_execfd(a[1], "fstatfd");
    } else if (strcmp(c, "fstatfd") == 0) {
        NEED(1);
        cmd_fstatfd(a[1]);
    } else if (strcmp(c, "dup-fstat") == 0) {
        NEED(1);
        int fd = open_ro(a[1], 0);
        int d2 = fcntl(fd, F_DUPFD_CLOEXEC, 100);
        close(fd);
        struct stat st;
        if (d2 < 0 || fstat(d2, &st) < 0)
            die("dup/fstat %s: %s", a[1], strerror(errno));
        print_stat("fstat", &st);
        fflush(stdout);
        close(d2);
    } else if (strcmp(c, "fork-fstat") == 0) {
        NEED(1);
        int fd = open_ro(a[1], 0);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            struct stat st;
            if (fstat(fd, &st) < 0)
                _exit(1);
            print_stat("fstat", &st);
            fflush(stdout);
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status))
            die("fork-fstat child failed");
        close(fd);
    } else if (strcmp(c, "readfd") == 0) {
        NEED(1);
        cmd_readfd(a[1]);
    } else if (strcmp(c, "errno") == 0) {
        if (n != 2 && n != 3)
            usage("errno PATH [MODE]");
        cmd_errno(a[1], n == 3 ? a[2] : "r");
    } else if (strcmp(c, "hammer") == 0) {
        cmd_hammer(a + 1, n - 1);
    } else if (strcmp(c, "maps-has") == 0) {
        NEED(1);
        cmd_maps_has(a[1]);
    } else if (strcmp(c, "trunc-write") == 0) {
        NEED(2);
        cmd_write(a[1], a[2], O_CREAT | O_TRUNC);
    } else if (strcmp(c, "append") == 0) {
        NEED(2);
        cmd_write(a[1], a[2], O_APPEND);
    } else if (strcmp(c, "rename") == 0) {
        NEED(2);
        if (rename(a[1], a[2]) < 0)
            die("rename %s %s: %s", a[1], a[2], strerror(errno));
    } else if (strcmp(c, "unlink") == 0) {
        NEED(1);
        if (unlink(a[1]) < 0)
            die("unlink %s: %s", a[1], strerror(errno));
    } else if (strcmp(c, "truncate") == 0) {
        NEED(2);
        if (truncate(a[1], (off_t)strtoll(a[2], NULL, 10)) < 0)
            die("truncate %s: %s", a[1], strerror(errno));
    } else if (strcmp(c, "chmod") == 0) {
        NEED(2);
        if (chmod(a[1], (mode_t)strtoul(a[2], NULL, 8)) < 0)
            die("chmod %s: %s", a[1], strerror(errno));
    } else if (strcmp(c, "chown-empty") == 0) {
        NEED(2);
        cmd_chown_empty(a[1], a[2]);
    } else if (strcmp(c, "utime-empty") == 0) {
        NEED(2);
        cmd_utime_empty(a[1], a[2]);
    } else if (strcmp(c, "vfork-chroot") == 0) {
        NEED(0);
        cmd_vfork_chroot();
    } else if (strcmp(c, "sleep") == 0) {
        NEED(1);
        sleep_ms((unsigned)atoi(a[1]));
    } else if (strcmp(c, "wait-file") == 0) {
        NEED(2);
        uint64_t start = now_ms(), limit = strtoull(a[2], NULL, 10);
        while (access(a[1], F_OK) < 0) {
            if (now_ms() - start > limit)
                die("wait-file %s: not there after %s ms", a[1], a[2]);
            sleep_ms(10);
        }
    } else if (strcmp(c, "wait-tier") == 0) {
        NEED(3);
        cmd_wait_tier(a[1], a[2], a[3]);
    } else if (strcmp(c, "pwrite") == 0) {
        NEED(3);
        cmd_pwrite(a[1], strtoll(a[2], NULL, 10), a[3]);
    } else if (strcmp(c, "openat-write") == 0) {
        NEED(3);
        cmd_openat_write(a[1], a[2], a[3]);
    } else if (strcmp(c, "fwrite") == 0) {
        NEED(3);
        cmd_fwrite(a[1], a[2], a[3]);
    } else if (strcmp(c, "unlinkat") == 0) {
        NEED(2);
        cmd_unlinkat(a[1], a[2]);
    } else if (strcmp(c, "cd") == 0) {
        NEED(1);
        if (chdir(a[1]) < 0)
            die("chdir %s: %s", a[1], strerror(errno));
    } else if (strcmp(c, "closefds") == 0) {
        NEED(0);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    } else if (strcmp(c, "mkdir") == 0) {
        NEED(1);
        if (mkdir(a[1], 0755) < 0)
            die("mkdir %s: %s", a[1], strerror(errno));
    } else if (strcmp(c, "flip") == 0) {
        NEED(4);
        cmd_flip(a[1], atoi(a[2]), a[3], a[4]);
    } else if (strcmp(c, "touch") == 0) {
        NEED(1);
        cmd_write(a[1], "", O_CREAT);
    } else if (strcmp(c, "echo") == 0) {
        NEED(1);
        printf("%s\n", a[1]);
        fflush(stdout);
    } else {
        usage("unknown command");
    }
#undef NEED
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage("no command");
    int i = 1;
    while (i < argc) {
        int j = i;
        while (j < argc && strcmp(argv[j], "+") != 0)
            j++;
        if (j == i)
            usage("empty command");
        run(argv + i, j - i);
        i = j + 1;
    }
    fflush(stdout);
    return 0;
}
