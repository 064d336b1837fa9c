/* hookprobe.c - the hook contract, case by case, for every function the shim
 * interposes (and the path readers a later change will interpose).
 *
 *   hookprobe [-k] DIR
 *
 * DIR must be an absolute path to a directory; the probe creates its own
 * files there (r, ro (0444), w, lnk -> r, sub/{a,b}) unless they already are
 * as it wants them, so a second run in the same DIR leaves the files, and a
 * tier's entries for them, alone. Every case first makes what it needs and
 * afterwards removes what it made, so DIR is in the same state after every
 * case. The probe knows nothing of the shim: it calls the functions by
 * their public names, so whatever is interposed is what it measures.
 *
 * It prints one line per case:
 *
 *   FUNC CASE ret=R errno=NAME
 *
 * R is the return value normalised: an integer as it is (0, -1, a count), a
 * descriptor >= 0 as "fd", a pointer as "ptr" or "null", "void". errno is set
 * to EDOM just before every call and printed by name right after it: after a
 * successful call it must still read EDOM. No path is ever printed, so the
 * output of two runs in different directories is comparable byte for byte.
 *
 * FUNC is the function, with "/variant" when one function is called in more
 * than one way (open/creat is open(O_WRONLY|O_CREAT|O_EXCL)). CASE is
 *   ok (or a variant name: badfd, invalid, ...)
 *                      the call with valid arguments (or the named invalid one)
 *   bad-SLOT-KIND      the pointer argument SLOT (path, old, new, target,
 *                      name, value, times, buf) replaced by an unreadable
 *                      one: unmapped (a page the probe munmapped), deadc0de
 *                      (the literal address 0xdeadc0de), protnone (a
 *                      PROT_NONE page), runsoff (the valid string without its
 *                      NUL, ending where a PROT_NONE page begins; for a
 *                      struct, its last bytes in that page), readonly (an
 *                      output buffer in a PROT_READ page)
 *   null-SLOT          NULL for that argument
 *   stale-SLOT-KIND-1/2
 *                      the valid string in a page of its own (call 1, which
 *                      succeeds), then the page munmapped, made PROT_NONE or
 *                      mremapped away (KIND munmap, mprotect, mremap), the
 *                      same state prepared again and the same pointer passed
 *                      (call 2: the kernel answers EFAULT)
 * Pointer arguments that glibc itself reads in user space get no bad-pointer
 * cases, as the program would crash without any shim: the fopen mode, the
 * path of realpath and the times of utime, utimes, lutimes and futimesat
 * (their NULL cases remain), the path of opendir and scandir and the
 * template of the mkstemp family and mkdtemp (not even NULL).
 * The pre-2.33 stat ABI (__fxstat, ...; ver 1) is called through
 * dlsym(RTLD_DEFAULT), which finds an interposed definition first, as an old
 * binary's reference would.
 *
 * Before each call the probe writes "FUNC CASE " and flushes, so a run that
 * dies shows the case it died in as the last, unfinished line. With -k every
 * case runs in a child process of its own and a case that kills it prints
 * "FUNC CASE signal=SIGNAME": one run lists every crashing case.
 *
 * chroot, unshare and setns are only called in ways that fail for everyone,
 * root included (an unreadable path, invalid flags, a descriptor that is not
 * a namespace): they must never change the probe's process.
 *
 * Exit status 0 when every case ran, 2 on bad usage or when DIR cannot be
 * prepared. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

/* The fortified opens, called directly as fortified code does (glibc's
 * headers declare them only under _FORTIFY_SOURCE). */
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);

#define PAGE 4096
#define XNAME "user.shmcache-probe"

/* ---- the directory ---------------------------------------------------------- */
static char g_dir[PATH_MAX];
static struct {
    int dfd;       /* DIR, O_DIRECTORY (the dirfd of every *at call) */
    int fdr;       /* DIR/r, O_RDONLY */
    int fdro;      /* DIR/ro (mode 0444), O_RDONLY */
    int fdw;       /* DIR/w, O_RDWR */
    int subfd;     /* DIR/sub, O_DIRECTORY */
    FILE *stream;  /* fopen(DIR/r, "r") */
} g;

static const char *const temp_files[] = {"n", "u", "ra", "rb", "hl", "sl", "nd", "sk"};
static const char *const temp_dirs[] = {"d", "md"};

static void die(const char *what)
{
    fprintf(stderr, "hookprobe: %s: %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno)
                                                                          : "?");
    exit(2);
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* name (relative to DIR) is a regular file holding text with mode: leave it
 * alone if it already is (a warm tier keeps its entry), else make it so. */
static void ensure_file(const char *name, const char *text, mode_t mode)
{
    size_t n = strlen(text);
    struct stat st;
    bool same = false;

    int have = fstatat(g.dfd, name, &st, AT_SYMLINK_NOFOLLOW);
    if (have == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == n) {
        char buf[256];
        int fd = openat(g.dfd, name, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            same = read(fd, buf, sizeof buf) == (ssize_t)n && memcmp(buf, text, n) == 0;
            close(fd);
        }
    } else if (have == 0 && !S_ISREG(st.st_mode)) {
        unlinkat(g.dfd, name, 0);
    }
    if (!same) {
        fchmodat(g.dfd, name, 0644, 0);
        int fd = openat(g.dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, text, n) < 0 || close(fd) < 0)
            die(name);
    }
    if (fstatat(g.dfd, name, &st, 0) < 0)
        die(name);
    if ((st.st_mode & 07777) != mode && fchmodat(g.dfd, name, mode, 0) < 0)
        die(name);
}

static void ensure_base(void)
{
    char buf[16];
    struct stat st;

    if (mkdirat(g.dfd, "sub", 0755) < 0 && errno != EEXIST)
        die("sub");
    if (fstatat(g.dfd, "sub", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        die("sub is not a directory");
    ensure_file("r", "hello from the hook probe\n", 0644);
    ensure_file("ro", "read only\n", 0444);
    ensure_file("w", "data\n", 0644);
    ensure_file("sub/a", "a\n", 0644);
    ensure_file("sub/b", "b\n", 0644);
    ssize_t n = readlinkat(g.dfd, "lnk", buf, sizeof buf);
    if (n != 1 || buf[0] != 'r') {
        unlinkat(g.dfd, "lnk", 0);
        if (symlinkat("r", g.dfd, "lnk") < 0)
            die("lnk");
    }
    /* what a run that died may have left */
    char w[PATH_MAX + 8];
    snprintf(w, sizeof w, "%s/w", g_dir);
    removexattr(w, XNAME);
    for (size_t i = 0; i < sizeof temp_files / sizeof *temp_files; i++)
        unlinkat(g.dfd, temp_files[i], 0);
    for (size_t i = 0; i < sizeof temp_dirs / sizeof *temp_dirs; i++)
        unlinkat(g.dfd, temp_dirs[i], AT_REMOVEDIR);
}

/* DIR/name in one of 8 rotating buffers. */
static const char *at(const char *name)
{
    static char bufs[8][PATH_MAX + 64];
    static unsigned next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
    return b;
}

/* ---- unreadable memory ------------------------------------------------------- */
/* A reservation of 16 pages, far from where the kernel places mappings of
 * its own choosing (so nothing the program or a library maps later lands in
 * a hole of it; also outside AddressSanitizer's shadow). Page 0: unmapped;
 * 1: PROT_NONE; 2: read-write, followed by 3: PROT_NONE (the "runs off"
 * strings end at the boundary); 4: PROT_READ; 5: the stale page; 6: where
 * the stale page is mremapped to; the rest PROT_NONE. */
static char *g_region;
static int g_pipe[2]; /* to ask the kernel whether an address is readable */
#define REGION_PAGES 16
#define PG(i) (g_region + (size_t)(i) * PAGE)

static bool is_mapped(const void *p)
{
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)(PAGE - 1));
    return msync(page, PAGE, MS_ASYNC) == 0 || errno != ENOMEM;
}

static bool is_readable(const void *p)
{
    char c;
    if (write(g_pipe[1], p, 1) != 1)
        return false;
    if (read(g_pipe[0], &c, 1) != 1)
        die("read pipe");
    return true;
}

static void setup_region(void)
{
    void *hint = (void *)(uintptr_t)0x3f0000000000ULL;
    if (pipe2(g_pipe, O_CLOEXEC) < 0)
        die("pipe");
    g_region = mmap(hint, REGION_PAGES * PAGE, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (g_region == MAP_FAILED)
        die("mmap");
    if (munmap(PG(0), PAGE) < 0 || mprotect(PG(2), PAGE, PROT_READ | PROT_WRITE) < 0 ||
        mprotect(PG(4), PAGE, PROT_READ) < 0)
        die("mprotect");
    if (is_mapped(PG(0)))
        die("page 0 of the region is still mapped");
}

static void *map_fixed(void *at_page, int prot)
{
    void *p = mmap(at_page, PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED)
        die("mmap MAP_FIXED");
    return p;
}

/* ---- the table ---------------------------------------------------------------- */
enum ret_kind { R_INT, R_FD, R_PTR, R_VOID };
enum slot_kind {
    S_NONE,
    S_STR,   /* a string the kernel reads: bad, null and stale cases */
    S_USTR,  /* a string glibc reads itself: only the null case */
    S_FIXED, /* a string glibc reads and does not accept NULL for: no cases */
    S_IN,    /* a struct the kernel reads: bad and null cases */
    S_UIN,   /* a struct glibc reads itself: only the null case */
    S_OUT,   /* a buffer the kernel writes: bad (and readonly) and null cases */
};

/* what a case needs before the call and cleans after it */
#define F_FDR    0x001u  /* g.fdr */
#define F_FDRO   0x002u  /* g.fdro */
#define F_FDW    0x004u  /* g.fdw */
#define F_SUB    0x008u  /* g.subfd */
#define F_STREAM 0x010u  /* g.stream */
#define F_W      0x020u  /* restore DIR/w (contents, mode, xattr) after */
#define F_CWD    0x040u  /* back to DIR after */
#define F_NOOK   0x080u  /* never call with valid arguments (chroot) */
#define F_STREAMN 0x100u /* g.stream = fopen(DIR/n, "w") (freopen(NULL, "w") truncates it) */

struct slot {
    const char *name;
    enum slot_kind kind;
    size_t size;       /* S_IN, S_UIN, S_OUT */
    const void *arg;   /* the valid value; strings: a leading '@' is "DIR" */
};

struct row {
    const char *func;   /* printed name */
    const char *okname; /* NULL: "ok" */
    enum ret_kind ret;
    long (*call)(void *const *p, int *err);
    void (*release)(long r); /* R_PTR */
    unsigned flags;
    const char *pre;    /* made before each case: "x" xattr on w, "d/" dir, else a file */
    const char *made;   /* removed after each case */
    struct slot slot[3];
};

#define P0 ((const char *)p[0])
#define P1 ((const char *)p[1])
#define P2 ((const char *)p[2])
#define W(fn, expr) \
    static long fn(void *const *p, int *err) \
    { \
        (void)p; \
        errno = EDOM; \
        long r_ = (long)(expr); \
        *err = errno; \
        return r_; \
    }
#define WP(fn, expr) \
    static long fn(void *const *p, int *err) \
    { \
        (void)p; \
        errno = EDOM; \
        long r_ = (long)(intptr_t)(expr); \
        *err = errno; \
        return r_; \
    }

static struct stat o_st;
static struct stat64 o_st64;
static struct statx o_stx;
static char o_link[64];
static const struct timespec i_ts[2] = {{1600000000, 5}, {1600000001, 6}};
static const struct timeval i_tv[2] = {{1600000000, 5}, {1600000001, 6}};
static const struct utimbuf i_ut = {1600000000, 1600000001};
static const char i_val[2] = {'v', '1'};

#define CREAT_FL (O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC)

W(w_open, open(P0, O_RDONLY))
W(w_open_creat, open(P0, CREAT_FL, 0644))
W(w_open64, open64(P0, O_RDONLY))
W(w_open64_creat, open64(P0, CREAT_FL, 0644))
W(w_openat, openat(g.dfd, P0, O_RDONLY))
W(w_openat_cwd, openat(AT_FDCWD, P0, O_RDONLY))
W(w_openat_creat, openat(g.dfd, P0, CREAT_FL, 0644))
W(w_openat64, openat64(g.dfd, P0, O_RDONLY))
W(w_openat64_creat, openat64(g.dfd, P0, CREAT_FL, 0644))
W(w_open_2, __open_2(P0, O_RDONLY))
W(w_open_2_wr, __open_2(P0, O_WRONLY))
W(w_open64_2, __open64_2(P0, O_RDONLY))
W(w_open64_2_wr, __open64_2(P0, O_WRONLY))
W(w_openat_2, __openat_2(g.dfd, P0, O_RDONLY))
W(w_openat_2_wr, __openat_2(g.dfd, P0, O_WRONLY))
W(w_openat64_2, __openat64_2(g.dfd, P0, O_RDONLY))
W(w_openat64_2_wr, __openat64_2(g.dfd, P0, O_WRONLY))
W(w_creat, creat(P0, 0644))
W(w_creat64, creat64(P0, 0644))
WP(w_fopen, fopen(P0, "r"))
WP(w_fopen_w, fopen(P0, "w"))
WP(w_fopen64, fopen64(P0, "r"))
WP(w_fopen64_w, fopen64(P0, "w"))

static long freopen_any(void *const *p, int *err, bool large, const char *mode)
{
    FILE *s = g.stream; /* the call consumes it: closed, even when it fails */
    g.stream = NULL;
    errno = EDOM;
    FILE *r = large ? freopen64(P0, mode, s) : freopen(P0, mode, s);
    *err = errno;
    return (long)(intptr_t)r;
}
static long w_freopen(void *const *p, int *err) { return freopen_any(p, err, false, "r"); }
static long w_freopen_w(void *const *p, int *err) { return freopen_any(p, err, false, "w"); }
static long w_freopen64(void *const *p, int *err) { return freopen_any(p, err, true, "r"); }
static long w_freopen64_w(void *const *p, int *err) { return freopen_any(p, err, true, "w"); }

static long w_fclose(void *const *p, int *err)
{
    (void)p;
    FILE *s = g.stream;
    g.stream = NULL;
    errno = EDOM;
    long r = fclose(s);
    *err = errno;
    return r;
}

static long w_fclose_w(void *const *p, int *err)
{
    (void)p;
    FILE *s = fopen(at("n"), "w");
    if (!s) {
        *err = errno;
        return -100; /* "setup" */
    }
    fputs("written\n", s);
    errno = EDOM;
    long r = fclose(s);
    *err = errno;
    return r;
}

/* the pre-2.33 stat ABI, as old binaries reach it: by the unversioned name */
static int (*p_fxstat)(int, int, struct stat *);
static int (*p_fxstat64)(int, int, struct stat64 *);
static int (*p_fxstatat)(int, int, const char *, struct stat *, int);
static int (*p_fxstatat64)(int, int, const char *, struct stat64 *, int);
#define ABSENT LONG_MIN
#define WF(fn, ptr, expr) \
    static long fn(void *const *p, int *err) \
    { \
        if (!ptr) { \
            *err = 0; \
            return ABSENT; \
        } \
        errno = EDOM; \
        long r_ = (long)(expr); \
        *err = errno; \
        return r_; \
    }

W(w_fstat, fstat(g.fdro, (struct stat *)p[0]))
W(w_fstat_r, fstat(g.fdr, &o_st))
W(w_fstat_badfd, fstat(-1, &o_st))
W(w_fstat64, fstat64(g.fdro, (struct stat64 *)p[0]))
W(w_fstatat, fstatat(g.dfd, P0, (struct stat *)p[1], 0))
W(w_fstatat_empty, fstatat(g.fdro, P0, (struct stat *)p[1], AT_EMPTY_PATH))
W(w_fstatat64, fstatat64(g.dfd, P0, (struct stat64 *)p[1], 0))
W(w_fstatat64_empty, fstatat64(g.fdro, P0, (struct stat64 *)p[1], AT_EMPTY_PATH))
WF(w_fxstat, p_fxstat, p_fxstat(1, g.fdro, (struct stat *)p[0]))
WF(w_fxstat64, p_fxstat64, p_fxstat64(1, g.fdro, (struct stat64 *)p[0]))
WF(w_fxstatat, p_fxstatat, p_fxstatat(1, g.dfd, P0, (struct stat *)p[1], 0))
WF(w_fxstatat_empty, p_fxstatat, p_fxstatat(1, g.fdro, P0, (struct stat *)p[1], AT_EMPTY_PATH))
WF(w_fxstatat64, p_fxstatat64, p_fxstatat64(1, g.dfd, P0, (struct stat64 *)p[1], 0))
WF(w_fxstatat64_empty, p_fxstatat64,
   p_fxstatat64(1, g.fdro, P0, (struct stat64 *)p[1], AT_EMPTY_PATH))
W(w_statx, statx(g.dfd, P0, 0, STATX_BASIC_STATS, (struct statx *)p[1]))
W(w_statx_empty, statx(g.fdro, P0, AT_EMPTY_PATH, STATX_BASIC_STATS, (struct statx *)p[1]))
W(w_statx_badfd, statx(-1, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &o_stx))

static long w_close(void *const *p, int *err)
{
    (void)p;
    int fd = g.fdr;
    g.fdr = -1;
    errno = EDOM;
    long r = close(fd);
    *err = errno;
    return r;
}
W(w_close_badfd, close(-1))
W(w_close_bigfd, close(70000))

static long w_close_range(void *const *p, int *err)
{
    (void)p;
    if (dup2(g.fdr, 700) != 700) {
        *err = errno;
        return -100;
    }
    errno = EDOM;
    long r = close_range(700, 700, 0);
    *err = errno;
    return r;
}

static long w_close_range_cloexec(void *const *p, int *err)
{
    (void)p;
    if (dup2(g.fdr, 701) != 701) {
        *err = errno;
        return -100;
    }
    errno = EDOM;
    long r = close_range(701, 701, CLOSE_RANGE_CLOEXEC);
    *err = errno;
    close(701);
    return r;
}
W(w_close_range_invalid, close_range(10, 5, 0))

static long w_closefrom(void *const *p, int *err)
{
    (void)p;
    if (dup2(g.fdr, 900) != 900) {
        *err = errno;
        return -100;
    }
    errno = EDOM;
    closefrom(900);
    *err = errno;
    return 0;
}

W(w_dup2, dup2(g.fdr, 800))
W(w_dup2_badfd, dup2(-1, 800))
W(w_dup2_bigfd, dup2(g.fdr, 70000))
W(w_dup2_same, dup2(g.fdr, g.fdr) == g.fdr ? 0 : -1)
W(w_dup3, dup3(g.fdr, 801, O_CLOEXEC))
W(w_dup3_same, dup3(g.fdr, g.fdr, 0))
W(w_dup3_badflags, dup3(g.fdr, 801, 1))

W(w_truncate, truncate(P0, 2))
W(w_truncate64, truncate64(P0, 2))
W(w_ftruncate, ftruncate(g.fdw, 2))
W(w_ftruncate_badfd, ftruncate(-1, 0))
W(w_ftruncate_rdonly, ftruncate(g.fdr, 0))
W(w_ftruncate64, ftruncate64(g.fdw, 2))

W(w_rename, rename(P0, P1))
W(w_renameat, renameat(g.dfd, P0, g.dfd, P1))
W(w_renameat2, renameat2(g.dfd, P0, g.dfd, P1, 0))
W(w_renameat2_noreplace, renameat2(g.dfd, "ra", g.dfd, "w", RENAME_NOREPLACE))
W(w_unlink, unlink(P0))
W(w_unlinkat, unlinkat(g.dfd, P0, 0))
W(w_unlinkat_dir, unlinkat(g.dfd, P0, AT_REMOVEDIR))
W(w_rmdir, rmdir(P0))
W(w_remove, remove(P0))
W(w_link, link(P0, P1))
W(w_linkat, linkat(g.dfd, P0, g.dfd, P1, 0))
W(w_symlink, symlink(P0, P1))
W(w_symlinkat, symlinkat(P0, g.dfd, P1))
W(w_chmod, chmod(P0, 0600))
W(w_fchmodat, fchmodat(g.dfd, P0, 0600, 0))
W(w_chown, chown(P0, getuid(), getgid()))
W(w_lchown, lchown(P0, getuid(), getgid()))
W(w_fchownat, fchownat(g.dfd, P0, getuid(), getgid(), 0))
W(w_utime, utime(P0, (const struct utimbuf *)p[1]))
W(w_utimes, utimes(P0, (const struct timeval *)p[1]))
W(w_lutimes, lutimes(P0, (const struct timeval *)p[1]))
W(w_futimesat, futimesat(g.dfd, P0, (const struct timeval *)p[1]))
W(w_utimensat, utimensat(g.dfd, P0, (const struct timespec *)p[1], 0))
W(w_futimens, futimens(g.fdw, (const struct timespec *)p[0]))
W(w_futimens_badfd, futimens(-1, i_ts))
W(w_chdir, chdir(P0))
W(w_fchdir, fchdir(g.subfd))
W(w_fchdir_badfd, fchdir(-1))
W(w_fchdir_notdir, fchdir(g.fdr))

/* bind of a new socket of the address's family (a Unix path, absolute
 * (DIR/sk, filled in at start) or relative to DIR, an abstract name, or
 * 127.0.0.1 port 0), closed after */
static struct sockaddr_un i_sun_abs = {.sun_family = AF_UNIX};
static const struct sockaddr_un i_sun_rel = {.sun_family = AF_UNIX, .sun_path = "sk"};
static const struct sockaddr_un i_sun_abstract = {.sun_family = AF_UNIX,
                                                  .sun_path = "\0shmcache-hookprobe"};
static struct sockaddr_in i_sin = {.sin_family = AF_INET};

static long w_bind(void *const *p, int *err)
{
    int family = p[0] == (void *)&i_sin ? AF_INET : AF_UNIX;
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    errno = EDOM;
    long r = bind(s, (const struct sockaddr *)p[0],
                  family == AF_INET ? sizeof i_sin : sizeof(struct sockaddr_un));
    *err = errno;
    close(s);
    return r;
}

/* The temp-name family, on a copy of the template (they write the name
 * made into it); what they made is removed at once. */
#define WT(fn, expr) \
    static long fn(void *const *p, int *err) \
    { \
        char t[PATH_MAX + 64]; \
        snprintf(t, sizeof t, "%s", P0); \
        errno = EDOM; \
        long r_ = (long)(expr); \
        *err = errno; \
        if (r_ != -1 && r_ != 0) /* a descriptor (stdin is open) or the name */ \
            remove(t); \
        return r_; \
    }
WT(w_mkstemp, mkstemp(t))
WT(w_mkstemp64, mkstemp64(t))
WT(w_mkostemp, mkostemp(t, O_CLOEXEC))
WT(w_mkostemp64, mkostemp64(t, O_CLOEXEC))
WT(w_mkstemps, mkstemps(t, 4))
WT(w_mkstemps64, mkstemps64(t, 4))
WT(w_mkostemps, mkostemps(t, 4, O_CLOEXEC))
WT(w_mkostemps64, mkostemps64(t, 4, O_CLOEXEC))
WT(w_mkdtemp, (intptr_t)mkdtemp(t))

W(w_mkfifo, mkfifo(P0, 0644))
W(w_mkfifoat, mkfifoat(g.dfd, P0, 0644))
W(w_mkdir, mkdir(P0, 0755))
W(w_mkdirat, mkdirat(g.dfd, P0, 0755))
W(w_mknod, mknod(P0, S_IFIFO | 0644, 0))
W(w_mknodat, mknodat(g.dfd, P0, S_IFIFO | 0644, 0))
W(w_setxattr, setxattr(P0, P1, p[2], sizeof i_val, 0))
W(w_lsetxattr, lsetxattr(P0, P1, p[2], sizeof i_val, 0))
W(w_removexattr, removexattr(P0, P1))
W(w_lremovexattr, lremovexattr(P0, P1))
W(w_fchmod, fchmod(g.fdw, 0600))
W(w_fchmod_badfd, fchmod(-1, 0600))
W(w_fchown, fchown(g.fdw, getuid(), getgid()))
W(w_fchown_badfd, fchown(-1, getuid(), getgid()))
W(w_fsetxattr, fsetxattr(g.fdw, P0, p[1], sizeof i_val, 0))
W(w_fsetxattr_badfd, fsetxattr(-1, XNAME, i_val, sizeof i_val, 0))
W(w_fremovexattr, fremovexattr(g.fdw, P0))
W(w_fremovexattr_badfd, fremovexattr(-1, XNAME))
W(w_chroot, chroot(P0))
W(w_chroot_missing, chroot(at("no-such-root")))
W(w_unshare_invalid, unshare(CLONE_NEWNS | 1))
W(w_setns_badfd, setns(-1, CLONE_NEWNS))
W(w_setns_notns, setns(g.dfd, CLONE_NEWNS))

W(w_stat, stat(P0, (struct stat *)p[1]))
W(w_stat64, stat64(P0, (struct stat64 *)p[1]))
W(w_lstat, lstat(P0, (struct stat *)p[1]))
W(w_lstat64, lstat64(P0, (struct stat64 *)p[1]))
W(w_access, access(P0, R_OK))
W(w_faccessat, faccessat(g.dfd, P0, R_OK, 0))
W(w_faccessat_eaccess, faccessat(g.dfd, P0, R_OK, AT_EACCESS))
W(w_readlink, readlink(P0, (char *)p[1], sizeof o_link))
W(w_readlinkat, readlinkat(g.dfd, P0, (char *)p[1], sizeof o_link))
WP(w_opendir, opendir(P0))
WP(w_realpath, realpath(P0, NULL))

static long w_scandir(void *const *p, int *err)
{
    struct dirent **list = NULL;
    errno = EDOM;
    int n = scandir(P0, &list, NULL, alphasort);
    *err = errno;
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return n;
}

WP(w_fdopendir_badfd, fdopendir(-1))

/* fdopendir of a fresh descriptor of sub (the warm run serves it): the
 * stream owns it, closedir (the release) closes it */
static long w_fdopendir(void *const *p, int *err)
{
    (void)p;
    int fd = openat(g.dfd, "sub", O_RDONLY | O_DIRECTORY);
    errno = EDOM;
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    *err = errno;
    if (!d && fd >= 0)
        close(fd);
    return (long)(intptr_t)d;
}

static void rel_fclose(long r) { fclose((FILE *)(intptr_t)r); }
static void rel_closedir(long r) { closedir((DIR *)(intptr_t)r); }
static void rel_free(long r) { free((void *)(intptr_t)r); }

#define STR(n, v) {n, S_STR, 0, v}
#define USTR(n, v) {n, S_USTR, 0, v}
#define FIXED(n, v) {n, S_FIXED, 0, v}
#define IN(n, o) {n, S_IN, sizeof(o), &(o)}
#define UIN(n, o) {n, S_UIN, sizeof(o), &(o)}
#define OUT(n, o) {n, S_OUT, sizeof(o), &(o)}

static const struct row rows[] = {
    /* the open family: read-only opens (served from the tier under a
     * prefix) and opens for writing (they invalidate) */
    {.func = "open", .ret = R_FD, .call = w_open, .slot = {STR("path", "@/r")}},
    {.func = "open/rel", .ret = R_FD, .call = w_open, .slot = {STR("path", "r")}},
    {.func = "open/creat", .ret = R_FD, .call = w_open_creat, .made = "n",
     .slot = {STR("path", "@/n")}},
    {.func = "open64", .ret = R_FD, .call = w_open64, .slot = {STR("path", "@/r")}},
    {.func = "open64/creat", .ret = R_FD, .call = w_open64_creat, .made = "n",
     .slot = {STR("path", "@/n")}},
    {.func = "openat", .ret = R_FD, .call = w_openat, .slot = {STR("path", "r")}},
    {.func = "openat/cwd", .ret = R_FD, .call = w_openat_cwd, .slot = {STR("path", "@/r")}},
    {.func = "openat/creat", .ret = R_FD, .call = w_openat_creat, .made = "n",
     .slot = {STR("path", "n")}},
    {.func = "openat64", .ret = R_FD, .call = w_openat64, .slot = {STR("path", "r")}},
    {.func = "openat64/creat", .ret = R_FD, .call = w_openat64_creat, .made = "n",
     .slot = {STR("path", "n")}},
    {.func = "__open_2", .ret = R_FD, .call = w_open_2, .slot = {STR("path", "@/r")}},
    {.func = "__open_2/wr", .ret = R_FD, .call = w_open_2_wr, .slot = {STR("path", "@/w")}},
    {.func = "__open64_2", .ret = R_FD, .call = w_open64_2, .slot = {STR("path", "@/r")}},
    {.func = "__open64_2/wr", .ret = R_FD, .call = w_open64_2_wr, .slot = {STR("path", "@/w")}},
    {.func = "__openat_2", .ret = R_FD, .call = w_openat_2, .slot = {STR("path", "r")}},
    {.func = "__openat_2/wr", .ret = R_FD, .call = w_openat_2_wr, .slot = {STR("path", "w")}},
    {.func = "__openat64_2", .ret = R_FD, .call = w_openat64_2, .slot = {STR("path", "r")}},
    {.func = "__openat64_2/wr", .ret = R_FD, .call = w_openat64_2_wr,
     .slot = {STR("path", "w")}},
    {.func = "creat", .ret = R_FD, .call = w_creat, .made = "n", .slot = {STR("path", "@/n")}},
    {.func = "creat64", .ret = R_FD, .call = w_creat64, .made = "n",
     .slot = {STR("path", "@/n")}},
    {.func = "fopen", .ret = R_PTR, .call = w_fopen, .release = rel_fclose,
     .slot = {STR("path", "@/r")}},
    {.func = "fopen/rel", .ret = R_PTR, .call = w_fopen, .release = rel_fclose,
     .slot = {STR("path", "r")}},
    {.func = "fopen/w", .ret = R_PTR, .call = w_fopen_w, .release = rel_fclose, .made = "n",
     .slot = {STR("path", "@/n")}},
    {.func = "fopen64", .ret = R_PTR, .call = w_fopen64, .release = rel_fclose,
     .slot = {STR("path", "@/r")}},
    {.func = "fopen64/w", .ret = R_PTR, .call = w_fopen64_w, .release = rel_fclose,
     .made = "n", .slot = {STR("path", "@/n")}},
    {.func = "freopen", .ret = R_PTR, .call = w_freopen, .release = rel_fclose,
     .flags = F_STREAM, .slot = {STR("path", "@/r")}},
    {.func = "freopen/w", .ret = R_PTR, .call = w_freopen_w, .release = rel_fclose,
     .flags = F_STREAMN, .made = "n", .slot = {STR("path", "@/n")}},
    {.func = "freopen64", .ret = R_PTR, .call = w_freopen64, .release = rel_fclose,
     .flags = F_STREAM, .slot = {STR("path", "@/r")}},
    {.func = "freopen64/w", .ret = R_PTR, .call = w_freopen64_w, .release = rel_fclose,
     .flags = F_STREAMN, .made = "n", .slot = {STR("path", "@/n")}},
    {.func = "fclose", .ret = R_INT, .call = w_fclose, .flags = F_STREAM},
    {.func = "fclose/w", .ret = R_INT, .call = w_fclose_w, .made = "n"},

    /* the stat family on descriptors (the shim reports the source's stat
     * for its objects), and with paths */
    {.func = "fstat", .ret = R_INT, .call = w_fstat, .flags = F_FDRO, .slot = {OUT("buf", o_st)}},
    {.func = "fstat/r", .ret = R_INT, .call = w_fstat_r, .flags = F_FDR},
    {.func = "fstat", .okname = "badfd", .ret = R_INT, .call = w_fstat_badfd},
    {.func = "fstat64", .ret = R_INT, .call = w_fstat64, .flags = F_FDRO,
     .slot = {OUT("buf", o_st64)}},
    {.func = "fstatat", .ret = R_INT, .call = w_fstatat,
     .slot = {STR("path", "r"), OUT("buf", o_st)}},
    {.func = "fstatat/empty", .ret = R_INT, .call = w_fstatat_empty, .flags = F_FDRO,
     .slot = {STR("path", ""), OUT("buf", o_st)}},
    {.func = "fstatat64", .ret = R_INT, .call = w_fstatat64,
     .slot = {STR("path", "r"), OUT("buf", o_st64)}},
    {.func = "fstatat64/empty", .ret = R_INT, .call = w_fstatat64_empty, .flags = F_FDRO,
     .slot = {STR("path", ""), OUT("buf", o_st64)}},
    {.func = "__fxstat", .ret = R_INT, .call = w_fxstat, .flags = F_FDRO,
     .slot = {OUT("buf", o_st)}},
    {.func = "__fxstat64", .ret = R_INT, .call = w_fxstat64, .flags = F_FDRO,
     .slot = {OUT("buf", o_st64)}},
    {.func = "__fxstatat", .ret = R_INT, .call = w_fxstatat,
     .slot = {STR("path", "r"), OUT("buf", o_st)}},
    {.func = "__fxstatat/empty", .ret = R_INT, .call = w_fxstatat_empty, .flags = F_FDRO,
     .slot = {STR("path", ""), OUT("buf", o_st)}},
    {.func = "__fxstatat64", .ret = R_INT, .call = w_fxstatat64,
     .slot = {STR("path", "r"), OUT("buf", o_st64)}},
    {.func = "__fxstatat64/empty", .ret = R_INT, .call = w_fxstatat64_empty, .flags = F_FDRO,
     .slot = {STR("path", ""), OUT("buf", o_st64)}},
    {.func = "statx", .ret = R_INT, .call = w_statx,
     .slot = {STR("path", "r"), OUT("buf", o_stx)}},
    {.func = "statx/empty", .ret = R_INT, .call = w_statx_empty, .flags = F_FDRO,
     .slot = {STR("path", ""), OUT("buf", o_stx)}},
    {.func = "statx", .okname = "badfd", .ret = R_INT, .call = w_statx_badfd},

    /* descriptors going away */
    {.func = "close", .ret = R_INT, .call = w_close, .flags = F_FDR},
    {.func = "close", .okname = "badfd", .ret = R_INT, .call = w_close_badfd},
    {.func = "close", .okname = "bigfd", .ret = R_INT, .call = w_close_bigfd},
    {.func = "close_range", .ret = R_INT, .call = w_close_range, .flags = F_FDR},
    {.func = "close_range/cloexec", .ret = R_INT, .call = w_close_range_cloexec,
     .flags = F_FDR},
    {.func = "close_range", .okname = "invalid", .ret = R_INT, .call = w_close_range_invalid},
    {.func = "closefrom", .ret = R_VOID, .call = w_closefrom, .flags = F_FDR},
    {.func = "dup2", .ret = R_FD, .call = w_dup2, .flags = F_FDR},
    {.func = "dup2", .okname = "badfd", .ret = R_FD, .call = w_dup2_badfd},
    {.func = "dup2", .okname = "bigfd", .ret = R_FD, .call = w_dup2_bigfd, .flags = F_FDR},
    {.func = "dup2/same", .ret = R_INT, .call = w_dup2_same, .flags = F_FDR},
    {.func = "dup3", .ret = R_FD, .call = w_dup3, .flags = F_FDR},
    {.func = "dup3", .okname = "same", .ret = R_FD, .call = w_dup3_same, .flags = F_FDR},
    {.func = "dup3", .okname = "badflags", .ret = R_FD, .call = w_dup3_badflags,
     .flags = F_FDR},

    /* modifying calls */
    {.func = "truncate", .ret = R_INT, .call = w_truncate, .flags = F_W,
     .slot = {STR("path", "@/w")}},
    {.func = "truncate/rel", .ret = R_INT, .call = w_truncate, .flags = F_W,
     .slot = {STR("path", "w")}},
    {.func = "truncate64", .ret = R_INT, .call = w_truncate64, .flags = F_W,
     .slot = {STR("path", "@/w")}},
    {.func = "ftruncate", .ret = R_INT, .call = w_ftruncate, .flags = F_FDW | F_W},
    {.func = "ftruncate", .okname = "badfd", .ret = R_INT, .call = w_ftruncate_badfd},
    {.func = "ftruncate", .okname = "rdonly", .ret = R_INT, .call = w_ftruncate_rdonly,
     .flags = F_FDR},
    {.func = "ftruncate64", .ret = R_INT, .call = w_ftruncate64, .flags = F_FDW | F_W},
    {.func = "rename", .ret = R_INT, .call = w_rename, .pre = "ra", .made = "ra rb",
     .slot = {STR("old", "@/ra"), STR("new", "@/rb")}},
    {.func = "rename/over", .ret = R_INT, .call = w_rename, .flags = F_W, .pre = "ra",
     .made = "ra", .slot = {STR("old", "@/ra"), STR("new", "@/w")}},
    {.func = "rename/rel", .ret = R_INT, .call = w_rename, .pre = "ra", .made = "ra rb",
     .slot = {STR("old", "ra"), STR("new", "rb")}},
    {.func = "renameat", .ret = R_INT, .call = w_renameat, .pre = "ra", .made = "ra rb",
     .slot = {STR("old", "ra"), STR("new", "rb")}},
    {.func = "renameat2", .ret = R_INT, .call = w_renameat2, .pre = "ra", .made = "ra rb",
     .slot = {STR("old", "ra"), STR("new", "rb")}},
    {.func = "renameat2/noreplace", .okname = "exists", .ret = R_INT,
     .call = w_renameat2_noreplace, .pre = "ra", .made = "ra"},
    {.func = "unlink", .ret = R_INT, .call = w_unlink, .pre = "u", .made = "u",
     .slot = {STR("path", "@/u")}},
    {.func = "unlink/rel", .ret = R_INT, .call = w_unlink, .pre = "u", .made = "u",
     .slot = {STR("path", "u")}},
    {.func = "unlinkat", .ret = R_INT, .call = w_unlinkat, .pre = "u", .made = "u",
     .slot = {STR("path", "u")}},
    {.func = "unlinkat/dir", .ret = R_INT, .call = w_unlinkat_dir, .pre = "d/", .made = "d",
     .slot = {STR("path", "d")}},
    {.func = "rmdir", .ret = R_INT, .call = w_rmdir, .pre = "d/", .made = "d",
     .slot = {STR("path", "@/d")}},
    {.func = "remove", .ret = R_INT, .call = w_remove, .pre = "u", .made = "u",
     .slot = {STR("path", "@/u")}},
    {.func = "remove/dir", .ret = R_INT, .call = w_remove, .pre = "d/", .made = "d",
     .slot = {STR("path", "@/d")}},
    {.func = "link", .ret = R_INT, .call = w_link, .made = "hl",
     .slot = {STR("old", "@/w"), STR("new", "@/hl")}},
    {.func = "linkat", .ret = R_INT, .call = w_linkat, .made = "hl",
     .slot = {STR("old", "w"), STR("new", "hl")}},
    {.func = "symlink", .ret = R_INT, .call = w_symlink, .made = "sl",
     .slot = {STR("target", "r"), STR("new", "@/sl")}},
    {.func = "symlinkat", .ret = R_INT, .call = w_symlinkat, .made = "sl",
     .slot = {STR("target", "r"), STR("new", "sl")}},
    {.func = "chmod", .ret = R_INT, .call = w_chmod, .flags = F_W, .slot = {STR("path", "@/w")}},
    {.func = "fchmodat", .ret = R_INT, .call = w_fchmodat, .flags = F_W,
     .slot = {STR("path", "w")}},
    {.func = "chown", .ret = R_INT, .call = w_chown, .slot = {STR("path", "@/w")}},
    {.func = "lchown", .ret = R_INT, .call = w_lchown, .slot = {STR("path", "@/lnk")}},
    {.func = "fchownat", .ret = R_INT, .call = w_fchownat, .slot = {STR("path", "w")}},
    {.func = "utime", .ret = R_INT, .call = w_utime,
     .slot = {STR("path", "@/w"), UIN("times", i_ut)}},
    {.func = "utimes", .ret = R_INT, .call = w_utimes,
     .slot = {STR("path", "@/w"), UIN("times", i_tv)}},
    {.func = "lutimes", .ret = R_INT, .call = w_lutimes,
     .slot = {STR("path", "@/lnk"), UIN("times", i_tv)}},
    {.func = "futimesat", .ret = R_INT, .call = w_futimesat,
     .slot = {STR("path", "w"), UIN("times", i_tv)}},
    {.func = "utimensat", .ret = R_INT, .call = w_utimensat,
     .slot = {STR("path", "w"), IN("times", i_ts)}},
    {.func = "futimens", .ret = R_INT, .call = w_futimens, .flags = F_FDW,
     .slot = {IN("times", i_ts)}},
    {.func = "futimens", .okname = "badfd", .ret = R_INT, .call = w_futimens_badfd},
    {.func = "chdir", .ret = R_INT, .call = w_chdir, .flags = F_CWD,
     .slot = {STR("path", "@/sub")}},
    {.func = "fchdir", .ret = R_INT, .call = w_fchdir, .flags = F_SUB | F_CWD},
    {.func = "fchdir", .okname = "badfd", .ret = R_INT, .call = w_fchdir_badfd},
    {.func = "fchdir", .okname = "notdir", .ret = R_INT, .call = w_fchdir_notdir,
     .flags = F_FDR},

    /* modifying calls the shim does not hook yet */
    {.func = "mkdir", .ret = R_INT, .call = w_mkdir, .made = "md", .slot = {STR("path", "@/md")}},
    {.func = "mkdirat", .ret = R_INT, .call = w_mkdirat, .made = "md",
     .slot = {STR("path", "md")}},
    {.func = "mknod", .ret = R_INT, .call = w_mknod, .made = "nd", .slot = {STR("path", "@/nd")}},
    {.func = "mknodat", .ret = R_INT, .call = w_mknodat, .made = "nd",
     .slot = {STR("path", "nd")}},
    {.func = "mkfifo", .ret = R_INT, .call = w_mkfifo, .made = "nd", .slot = {STR("path", "@/nd")}},
    {.func = "mkfifoat", .ret = R_INT, .call = w_mkfifoat, .made = "nd",
     .slot = {STR("path", "nd")}},
    {.func = "bind", .ret = R_INT, .call = w_bind, .made = "sk", .slot = {IN("addr", i_sun_abs)}},
    {.func = "bind/rel", .ret = R_INT, .call = w_bind, .made = "sk",
     .slot = {IN("addr", i_sun_rel)}},
    {.func = "bind/abstract", .ret = R_INT, .call = w_bind, .slot = {IN("addr", i_sun_abstract)}},
    {.func = "bind/inet", .ret = R_INT, .call = w_bind, .slot = {IN("addr", i_sin)}},
    /* the template is glibc's to read and write: no pointer cases */
    {.func = "mkstemp", .ret = R_FD, .call = w_mkstemp, .slot = {FIXED("template", "@/tXXXXXX")}},
    {.func = "mkstemp/rel", .ret = R_FD, .call = w_mkstemp,
     .slot = {FIXED("template", "tXXXXXX")}},
    {.func = "mkstemp", .okname = "invalid", .ret = R_FD, .call = w_mkstemp,
     .slot = {FIXED("template", "@/tXXXX")}},
    {.func = "mkstemp", .okname = "nodir", .ret = R_FD, .call = w_mkstemp,
     .slot = {FIXED("template", "@/no-such-dir/tXXXXXX")}},
    {.func = "mkstemp64", .ret = R_FD, .call = w_mkstemp64,
     .slot = {FIXED("template", "@/tXXXXXX")}},
    {.func = "mkostemp", .ret = R_FD, .call = w_mkostemp,
     .slot = {FIXED("template", "@/tXXXXXX")}},
    {.func = "mkostemp64", .ret = R_FD, .call = w_mkostemp64,
     .slot = {FIXED("template", "@/tXXXXXX")}},
    {.func = "mkstemps", .ret = R_FD, .call = w_mkstemps,
     .slot = {FIXED("template", "@/tXXXXXX.tmp")}},
    {.func = "mkstemps", .okname = "invalid", .ret = R_FD, .call = w_mkstemps,
     .slot = {FIXED("template", "@/tXXXXXX")}},
    {.func = "mkstemps64", .ret = R_FD, .call = w_mkstemps64,
     .slot = {FIXED("template", "@/tXXXXXX.tmp")}},
    {.func = "mkostemps", .ret = R_FD, .call = w_mkostemps,
     .slot = {FIXED("template", "@/tXXXXXX.tmp")}},
    {.func = "mkostemps64", .ret = R_FD, .call = w_mkostemps64,
     .slot = {FIXED("template", "@/tXXXXXX.tmp")}},
    {.func = "mkdtemp", .ret = R_PTR, .call = w_mkdtemp, .slot = {FIXED("template", "@/tXXXXXX")}},
    {.func = "mkdtemp", .okname = "invalid", .ret = R_PTR, .call = w_mkdtemp,
     .slot = {FIXED("template", "@/tXX")}},
    {.func = "setxattr", .ret = R_INT, .call = w_setxattr, .flags = F_W,
     .slot = {STR("path", "@/w"), STR("name", XNAME), IN("value", i_val)}},
    {.func = "lsetxattr", .ret = R_INT, .call = w_lsetxattr, .flags = F_W,
     .slot = {STR("path", "@/w"), STR("name", XNAME), IN("value", i_val)}},
    {.func = "removexattr", .ret = R_INT, .call = w_removexattr, .flags = F_W, .pre = "x",
     .slot = {STR("path", "@/w"), STR("name", XNAME)}},
    {.func = "lremovexattr", .ret = R_INT, .call = w_lremovexattr, .flags = F_W, .pre = "x",
     .slot = {STR("path", "@/w"), STR("name", XNAME)}},
    {.func = "fchmod", .ret = R_INT, .call = w_fchmod, .flags = F_FDW | F_W},
    {.func = "fchmod", .okname = "badfd", .ret = R_INT, .call = w_fchmod_badfd},
    {.func = "fchown", .ret = R_INT, .call = w_fchown, .flags = F_FDW},
    {.func = "fchown", .okname = "badfd", .ret = R_INT, .call = w_fchown_badfd},
    {.func = "fsetxattr", .ret = R_INT, .call = w_fsetxattr, .flags = F_FDW | F_W,
     .slot = {STR("name", XNAME), IN("value", i_val)}},
    {.func = "fsetxattr", .okname = "badfd", .ret = R_INT, .call = w_fsetxattr_badfd},
    {.func = "fremovexattr", .ret = R_INT, .call = w_fremovexattr, .flags = F_FDW | F_W,
     .pre = "x", .slot = {STR("name", XNAME)}},
    {.func = "fremovexattr", .okname = "badfd", .ret = R_INT, .call = w_fremovexattr_badfd},

    /* calls that change what paths mean: only ever failing ones */
    {.func = "chroot", .ret = R_INT, .call = w_chroot, .flags = F_NOOK,
     .slot = {STR("path", "@/no-such-root")}},
    {.func = "chroot", .okname = "missing", .ret = R_INT, .call = w_chroot_missing},
    {.func = "unshare", .okname = "invalid", .ret = R_INT, .call = w_unshare_invalid},
    {.func = "setns", .okname = "badfd", .ret = R_INT, .call = w_setns_badfd},
    {.func = "setns", .okname = "notns", .ret = R_INT, .call = w_setns_notns},

    /* path readers a later change hooks */
    {.func = "stat", .ret = R_INT, .call = w_stat, .slot = {STR("path", "@/r"), OUT("buf", o_st)}},
    {.func = "stat/rel", .ret = R_INT, .call = w_stat,
     .slot = {STR("path", "r"), OUT("buf", o_st)}},
    {.func = "stat64", .ret = R_INT, .call = w_stat64,
     .slot = {STR("path", "@/r"), OUT("buf", o_st64)}},
    {.func = "lstat", .ret = R_INT, .call = w_lstat,
     .slot = {STR("path", "@/lnk"), OUT("buf", o_st)}},
    {.func = "lstat64", .ret = R_INT, .call = w_lstat64,
     .slot = {STR("path", "@/lnk"), OUT("buf", o_st64)}},
    {.func = "access", .ret = R_INT, .call = w_access, .slot = {STR("path", "@/r")}},
    {.func = "faccessat", .ret = R_INT, .call = w_faccessat, .slot = {STR("path", "r")}},
    {.func = "faccessat/eaccess", .ret = R_INT, .call = w_faccessat_eaccess,
     .slot = {STR("path", "r")}},
    {.func = "readlink", .ret = R_INT, .call = w_readlink,
     .slot = {STR("path", "@/lnk"), OUT("buf", o_link)}},
    {.func = "readlinkat", .ret = R_INT, .call = w_readlinkat,
     .slot = {STR("path", "lnk"), OUT("buf", o_link)}},
    {.func = "opendir", .ret = R_PTR, .call = w_opendir, .release = rel_closedir,
     .slot = {FIXED("path", "@/sub")}},
    {.func = "scandir", .ret = R_INT, .call = w_scandir, .slot = {FIXED("path", "@/sub")}},
    {.func = "fdopendir", .ret = R_PTR, .call = w_fdopendir, .release = rel_closedir},
    {.func = "fdopendir", .okname = "badfd", .ret = R_PTR, .call = w_fdopendir_badfd},
    {.func = "realpath", .ret = R_PTR, .call = w_realpath, .release = rel_free,
     .slot = {USTR("path", "@/lnk")}},
};
#define NROWS (sizeof rows / sizeof *rows)

/* ---- running a case ------------------------------------------------------------- */
static bool g_fork;       /* -k: every case in a child of its own */
static char *g_cur;       /* "FUNC CASE" of the call in progress (shared with children) */
#define CUR_SIZE 256

static const char *errno_name(int e)
{
    static char buf[16];
    if (e == 0)
        return "0";
    const char *n = strerrorname_np(e);
    if (n)
        return n;
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

/* The next space-separated word of *list into buf; false at the end. */
static bool next_word(const char **list, char *buf, size_t n)
{
    const char *s = *list;
    if (!s)
        return false;
    while (*s == ' ')
        s++;
    size_t k = strcspn(s, " ");
    if (!k)
        return false;
    snprintf(buf, n, "%.*s", (int)k, s);
    *list = s + k;
    return true;
}

static int open_need(const char *name, int flags)
{
    return openat(g.dfd, name, flags | O_CLOEXEC);
}

/* Make what the row needs. Returns NULL or what failed. */
static const char *setup(const struct row *r)
{
    char w[32];
    if ((r->flags & F_FDR) && (g.fdr = open_need("r", O_RDONLY)) < 0)
        return "open-r";
    if ((r->flags & F_FDRO) && (g.fdro = open_need("ro", O_RDONLY)) < 0)
        return "open-ro";
    if ((r->flags & F_FDW) && (g.fdw = open_need("w", O_RDWR)) < 0)
        return "open-w";
    if ((r->flags & F_SUB) && (g.subfd = open_need("sub", O_RDONLY | O_DIRECTORY)) < 0)
        return "open-sub";
    if ((r->flags & F_STREAM) && !(g.stream = fopen(at("r"), "r")))
        return "fopen-r";
    if ((r->flags & F_STREAMN) && !(g.stream = fopen(at("n"), "w")))
        return "fopen-n";
    for (const char *l = r->pre; next_word(&l, w, sizeof w);) {
        size_t n = strlen(w);
        if (strcmp(w, "x") == 0) {
            if (setxattr(at("w"), XNAME, "v0", 2, 0) < 0)
                return "setxattr";
        } else if (w[n - 1] == '/') {
            w[n - 1] = '\0';
            if (mkdirat(g.dfd, w, 0755) < 0)
                return "mkdir";
        } else {
            int fd = openat(g.dfd, w, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0)
                return "create";
            if (write_all(fd, "pre\n", 4) < 0 || close(fd) < 0)
                return "write";
        }
    }
    return NULL;
}

static void close_need(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Undo what the row and its call may have made: DIR is as before. */
static void cleanup(const struct row *r)
{
    char w[32];
    struct stat st;
    int saved = errno;

    close_need(&g.fdr);
    close_need(&g.fdro);
    close_need(&g.fdw);
    close_need(&g.subfd);
    if (g.stream)
        fclose(g.stream);
    g.stream = NULL;
    for (const char *l = r->made; next_word(&l, w, sizeof w);)
        if (unlinkat(g.dfd, w, 0) < 0 && (errno == EISDIR || errno == EPERM))
            unlinkat(g.dfd, w, AT_REMOVEDIR);
    if (r->flags & F_W) {
        if (fstatat(g.dfd, "w", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            st.st_size != 5) {
            unlinkat(g.dfd, "w", 0);
            int fd = openat(g.dfd, "w", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd >= 0) {
                write_all(fd, "data\n", 5);
                close(fd);
            }
        } else if ((st.st_mode & 07777) != 0644) {
            fchmodat(g.dfd, "w", 0644, 0);
        }
        removexattr(at("w"), XNAME);
    }
    if (r->flags & F_CWD)
        fchdir(g.dfd);
    errno = saved;
}

static void release(const struct row *r, long ret)
{
    if (ret == ABSENT || ret == -100)
        return;
    if (r->ret == R_FD && ret >= 0)
        close((int)ret);
    else if (r->ret == R_PTR && ret && r->release)
        r->release(ret);
}

static void format_ret(const struct row *r, long ret, char *buf, size_t n)
{
    if (ret == ABSENT)
        snprintf(buf, n, "absent");
    else if (r->ret == R_VOID)
        snprintf(buf, n, "void");
    else if (r->ret == R_PTR)
        snprintf(buf, n, "%s", ret ? "ptr" : "null");
    else if (r->ret == R_FD && ret >= 0)
        snprintf(buf, n, "fd");
    else
        snprintf(buf, n, "%ld", ret);
}

/* One call of row r with arguments p, as case cname: one line. */
static void one_call(const struct row *r, const char *cname, void *const *p)
{
    char rs[32];
    const char *why = setup(r);

    snprintf(g_cur, CUR_SIZE, "%s %s", r->func, cname);
    if (why) {
        printf("%s setup-failed:%s errno=%s\n", g_cur, why, errno_name(errno));
    } else {
        if (!g_fork) {
            printf("%s ", g_cur);
            fflush(stdout);
        }
        int e = 0;
        long ret = r->call(p, &e);
        if (ret == -100)
            snprintf(rs, sizeof rs, "setup-failed");
        else
            format_ret(r, ret, rs, sizeof rs);
        if (g_fork)
            printf("%s ", g_cur);
        printf("ret=%s errno=%s\n", rs, errno_name(e));
        release(r, ret);
    }
    if (g_fork)
        fflush(stdout);
    cleanup(r);
}

/* The valid arguments of r (strings expanded into bufs). */
static void valid_args(const struct row *r, char bufs[3][PATH_MAX + 64], void *p[3])
{
    for (int k = 0; k < 3; k++) {
        const struct slot *s = &r->slot[k];
        p[k] = NULL;
        if (s->kind == S_STR || s->kind == S_USTR || s->kind == S_FIXED) {
            const char *v = s->arg;
            if (v[0] == '@')
                snprintf(bufs[k], sizeof bufs[k], "%s%s", g_dir, v + 1);
            else
                snprintf(bufs[k], sizeof bufs[k], "%s", v);
            p[k] = bufs[k];
        } else if (s->kind != S_NONE) {
            p[k] = (void *)s->arg;
        }
    }
}

enum bad { B_UNMAPPED, B_DEADC0DE, B_PROTNONE, B_RUNSOFF, B_READONLY, B_NULL };
static const char *const bad_names[] = {"unmapped", "deadc0de", "protnone", "runsoff",
                                        "readonly", "null"};
enum stale { ST_MUNMAP, ST_MPROTECT, ST_MREMAP };
static const char *const stale_names[] = {"munmap", "mprotect", "mremap"};

struct job {
    const struct row *r;
    int slot;           /* -1: the valid call */
    int bad;            /* enum bad, or -1 */
    int stale;          /* enum stale, or -1 */
};

/* The unreadable pointer of kind b standing for slot s (valid value v). */
static void *bad_pointer(const struct slot *s, int b, const void *v)
{
    size_t size = s->kind == S_STR ? strlen(v) : s->size;
    size_t tail = size > 8 ? 8 : (size + 1) / 2; /* bytes beyond the boundary */
    switch (b) {
    case B_UNMAPPED: return PG(0);
    case B_DEADC0DE: return (void *)(uintptr_t)0xdeadc0de;
    case B_PROTNONE: return PG(1);
    case B_READONLY: return PG(4);
    case B_RUNSOFF:
        if (s->kind == S_STR) {
            memcpy(PG(3) - size, v, size); /* no NUL: the next byte is PROT_NONE */
            return PG(3) - size;
        }
        if (s->kind == S_IN)
            memcpy(PG(3) - (size - tail), v, size - tail);
        return PG(3) - (size - tail);
    default: return NULL;
    }
}

static void do_job(const struct job *j)
{
    char bufs[3][PATH_MAX + 64];
    char cname[96];
    void *p[3];
    const struct row *r = j->r;

    valid_args(r, bufs, p);
    if (j->slot < 0) {
        one_call(r, r->okname ? r->okname : "ok", p);
        return;
    }
    const struct slot *s = &r->slot[j->slot];
    if (j->bad >= 0) {
        const void *v = p[j->slot];
        snprintf(cname, sizeof cname, j->bad == B_NULL ? "null-%s" : "bad-%s-%s", s->name,
                 bad_names[j->bad]);
        if (j->bad == B_NULL)
            snprintf(cname, sizeof cname, "null-%s", s->name);
        /* 0xdeadc0de may be mapped PROT_NONE (AddressSanitizer's shadow gap):
         * just as good; readable it is no bad pointer */
        if ((j->bad == B_DEADC0DE && is_readable((void *)(uintptr_t)0xdeadc0de)) ||
            (j->bad == B_UNMAPPED && is_mapped(PG(0)))) {
            printf("%s %s skipped (mapped)\n", r->func, cname);
            return;
        }
        p[j->slot] = bad_pointer(s, j->bad, v);
        one_call(r, cname, p);
        return;
    }
    /* stale: the string in a page of its own, valid for call 1 */
    char *page = map_fixed(PG(5), PROT_READ | PROT_WRITE);
    strcpy(page, p[j->slot]);
    p[j->slot] = page;
    snprintf(cname, sizeof cname, "stale-%s-%s-1", s->name, stale_names[j->stale]);
    one_call(r, cname, p);
    switch (j->stale) {
    case ST_MUNMAP:
        munmap(page, PAGE);
        break;
    case ST_MPROTECT:
        mprotect(page, PAGE, PROT_NONE);
        break;
    case ST_MREMAP:
        if (mremap(page, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, PG(6)) == MAP_FAILED)
            die("mremap");
        break;
    }
    snprintf(cname, sizeof cname, "stale-%s-%s-2", s->name, stale_names[j->stale]);
    one_call(r, cname, p);
    map_fixed(PG(5), PROT_NONE);
    map_fixed(PG(6), PROT_NONE);
}

static void run_job(const struct job *j)
{
    if (!g_fork) {
        do_job(j);
        return;
    }
    fflush(stdout);
    g_cur[0] = '\0';
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        do_job(j);
        fflush(stdout);
        _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid");
    if (WIFSIGNALED(st)) {
        const char *sig = sigabbrev_np(WTERMSIG(st));
        printf("%s signal=SIG%s\n", g_cur[0] ? g_cur : j->r->func, sig ? sig : "?");
    } else if (WEXITSTATUS(st) != 0) {
        printf("%s exit=%d\n", g_cur[0] ? g_cur : j->r->func, WEXITSTATUS(st));
    }
    cleanup(j->r); /* what a child that died left */
}

static void run_row(const struct row *r)
{
    if (!(r->flags & F_NOOK))
        run_job(&(struct job){r, -1, -1, -1});
    for (int k = 0; k < 3; k++) {
        enum slot_kind kind = r->slot[k].kind;
        if (kind == S_NONE || kind == S_FIXED)
            continue;
        if (kind == S_STR || kind == S_IN || kind == S_OUT)
            for (int b = B_UNMAPPED; b <= B_RUNSOFF; b++)
                run_job(&(struct job){r, k, b, -1});
        if (kind == S_OUT)
            run_job(&(struct job){r, k, B_READONLY, -1});
        run_job(&(struct job){r, k, B_NULL, -1});
        if (kind == S_STR && !(r->flags & F_NOOK))
            for (int st = ST_MUNMAP; st <= ST_MREMAP; st++)
                run_job(&(struct job){r, k, -1, st});
    }
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a < argc && strcmp(argv[a], "-k") == 0) {
        g_fork = true;
        a++;
    }
    if (a + 1 != argc || argv[a][0] != '/') {
        fprintf(stderr, "usage: hookprobe [-k] DIR (absolute)\n");
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "%s", argv[a]);
    umask(022);
    g.fdr = g.fdro = g.fdw = g.subfd = -1;
    g.dfd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (g.dfd < 0 || chdir(g_dir) < 0)
        die(g_dir);
    ensure_base();
    setup_region();
    snprintf(i_sun_abs.sun_path, sizeof i_sun_abs.sun_path, "%.100s/sk", g_dir);
    i_sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_cur = mmap(NULL, CUR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_cur == MAP_FAILED)
        die("mmap");
    *(void **)&p_fxstat = dlsym(RTLD_DEFAULT, "__fxstat");
    *(void **)&p_fxstat64 = dlsym(RTLD_DEFAULT, "__fxstat64");
    *(void **)&p_fxstatat = dlsym(RTLD_DEFAULT, "__fxstatat");
    *(void **)&p_fxstatat64 = dlsym(RTLD_DEFAULT, "__fxstatat64");

    for (size_t i = 0; i < NROWS; i++)
        run_row(&rows[i]);
    fflush(stdout);
    return 0;
}
