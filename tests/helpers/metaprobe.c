/* metaprobe.c - every path-metadata call the shim answers, on each path
 * given, one line per call, so that a run without the shim and runs with
 * it can be compared byte for byte.
 *
 *   metaprobe [-C DIR] PATH...
 *
 * -C DIR: chdir there first (for paths relative to the cwd). For each
 * PATH a line "== PATH", then one line per call:
 *
 *   NAME ret=R errno=E [what it answered]
 *
 * errno is set to EDOM just before every call and printed by name right
 * after it: a successful call must leave EDOM. R is the return value (a
 * descriptor >= 0 is "fd": the shim keeps descriptors of its own, so the
 * numbers may differ). A stat is printed as
 *
 *   dev=MAJ:MIN ino= mode= nlink= uid= gid= rdev=MAJ:MIN size= blksize= blocks=
 *   mtime=SEC.NSEC ctime=SEC.NSEC
 *
 * and a statx the same after mask=HEX (stx_mask, what the call says it
 * filled), with btime=SEC.NSEC when STATX_BTIME is in the mask, then
 * attr=ATTRIBUTES/ATTRIBUTES_MASK mnt_id=N (what statx fills whatever the
 * mask, as the kernel does; STATX_MNT_ID comes unasked). atime is
 * never printed: the tier answers with the atime the source had when it
 * was recorded (and its own reads of the file, and those of the reference
 * run, move the real one), so it differs by design, not by mistake.
 *
 * The calls, in order: stat, lstat, fstatat (flags 0, AT_SYMLINK_NOFOLLOW,
 * AT_NO_AUTOMOUNT), statx (flags 0, AT_SYMLINK_NOFOLLOW,
 * AT_STATX_DONT_SYNC, AT_STATX_FORCE_SYNC; mask STATX_BASIC_STATS |
 * STATX_BTIME; and flags 0 with STATX_MNT_ID and STATX_DIOALIGN asked
 * too, printing "dio=MEM/OFFSET" when the mask has it), syscall(SYS_statx)
 * (flags 0 and AT_SYMLINK_NOFOLLOW),
 * syscall(SYS_newfstatat) (flags 0 and AT_SYMLINK_NOFOLLOW), on x86_64
 * syscall(SYS_stat) and syscall(SYS_lstat), the pre-2.33 __xstat, __lxstat
 * and __fxstatat (ver 1 on x86_64, looked up with dlvsym at their compat
 * version, else dlsym: what a binary linked against an older glibc
 * calls), access (F_OK R_OK W_OK X_OK), faccessat (AT_EACCESS, each mode;
 * F_OK with AT_SYMLINK_NOFOLLOW), euidaccess and eaccess (each mode),
 * syscall(SYS_access), syscall(SYS_faccessat), syscall(SYS_faccessat2)
 * with AT_EACCESS, readlink and readlinkat (a 256-byte buffer and a 3-byte
 * one: truncation; the bytes after what was written must be untouched),
 * syscall(SYS_readlinkat) and syscall(SYS_readlink), then open(O_RDONLY):
 * its result, and for a descriptor its fstat and the size and FNV-1a of
 * its first 64 KiB (a directory: EISDIR from read), then closed. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifdef __x86_64__
#define XSTAT_VER 1
#define XSTAT_COMPAT "GLIBC_2.2.5"
#else
#define XSTAT_VER 0
#define XSTAT_COMPAT "GLIBC_2.17"
#endif

static const char *ename(int e)
{
    const char *n = strerrorname_np(e);
    static char buf[32];
    if (n)
        return n;
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

/* The call's head: name, result, errno. */
static void head(const char *name, long r, int e)
{
    printf("%s ret=%ld errno=%s", name, r, ename(e));
}

static void print_stat(const struct stat *st)
{
    printf(" dev=%u:%u ino=%llu mode=%o nlink=%llu uid=%u gid=%u rdev=%u:%u size=%lld blksize=%ld"
           " blocks=%lld mtime=%lld.%09ld ctime=%lld.%09ld",
           major(st->st_dev), minor(st->st_dev), (unsigned long long)st->st_ino,
           (unsigned)st->st_mode, (unsigned long long)st->st_nlink, (unsigned)st->st_uid,
           (unsigned)st->st_gid, major(st->st_rdev), minor(st->st_rdev), (long long)st->st_size,
           (long)st->st_blksize, (long long)st->st_blocks, (long long)st->st_mtim.tv_sec,
           st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

static void print_statx(const struct statx *x)
{
    printf(" mask=%x dev=%u:%u ino=%llu mode=%o nlink=%u uid=%u gid=%u rdev=%u:%u size=%llu"
           " blksize=%u blocks=%llu mtime=%lld.%09u ctime=%lld.%09u",
           x->stx_mask, x->stx_dev_major, x->stx_dev_minor, (unsigned long long)x->stx_ino,
           (unsigned)x->stx_mode, x->stx_nlink, x->stx_uid, x->stx_gid, x->stx_rdev_major,
           x->stx_rdev_minor, (unsigned long long)x->stx_size, x->stx_blksize,
           (unsigned long long)x->stx_blocks, (long long)x->stx_mtime.tv_sec,
           x->stx_mtime.tv_nsec, (long long)x->stx_ctime.tv_sec, x->stx_ctime.tv_nsec);
    if (x->stx_mask & STATX_BTIME)
        printf(" btime=%lld.%09u", (long long)x->stx_btime.tv_sec, x->stx_btime.tv_nsec);
    /* filled whatever the mask asked (the kernel sets STATX_MNT_ID in
     * stx_mask unasked, since Linux 5.8) */
    printf(" attr=%llx/%llx mnt_id=%llu", (unsigned long long)x->stx_attributes,
           (unsigned long long)x->stx_attributes_mask, (unsigned long long)x->stx_mnt_id);
}

/* A stat-shaped result: r, errno, and the stat when r == 0. */
static void stat_line(const char *name, long r, int e, const struct stat *st)
{
    head(name, r, e);
    if (r == 0)
        print_stat(st);
    putchar('\n');
}

static void statx_line(const char *name, long r, int e, const struct statx *x)
{
    head(name, r, e);
    if (r == 0)
        print_statx(x);
    putchar('\n');
}

/* STATX_DIOALIGN (Linux 6.1): glibc 2.36's struct statx has no names for
 * its fields yet, they are in its padding (the kernel's layout, uapi
 * linux/stat.h: stx_dio_mem_align at 0x98, stx_dio_offset_align at 0x9c). */
#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x2000U
#endif

static void statx_dio_line(const char *name, long r, int e, const struct statx *x)
{
    uint32_t mem, off;
    head(name, r, e);
    if (r == 0) {
        print_statx(x);
        memcpy(&mem, (const char *)x + 0x98, 4);
        memcpy(&off, (const char *)x + 0x9c, 4);
        if (x->stx_mask & STATX_DIOALIGN)
            printf(" dio=%u/%u", mem, off);
    }
    putchar('\n');
}

/* Bytes as text, non-printable ones (and '\\') as \xHH. */
static void print_bytes(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
}

/* A readlink-shaped result into buf (room bytes, bufsz offered): what was
 * written, and whether the rest is untouched ('#'). */
static void link_line(const char *name, long r, int e, const char *buf, size_t room)
{
    head(name, r, e);
    if (r >= 0) {
        printf(" target=\"");
        print_bytes(buf, (size_t)r < room ? (size_t)r : room);
        printf("\"");
    }
    size_t from = r > 0 ? (size_t)r : 0, bad = 0;
    for (size_t i = from; i < room; i++)
        bad += buf[i] != '#';
    if (bad)
        printf(" CLOBBERED=%zu", bad);
    putchar('\n');
}

#define CALL(expr) (errno = EDOM, r = (long)(expr), e = errno)

typedef int (*xstat_fn)(int, const char *, struct stat *);
typedef int (*fxstatat_fn)(int, int, const char *, struct stat *, int);

static void *old_symbol(const char *name)
{
    void *p = dlvsym(RTLD_DEFAULT, name, XSTAT_COMPAT);
    return p ? p : dlsym(RTLD_DEFAULT, name);
}

static const struct {
    const char *name;
    int mode;
} modes[] = {{"F_OK", F_OK}, {"R_OK", R_OK}, {"W_OK", W_OK}, {"X_OK", X_OK}};
#define NMODES (sizeof modes / sizeof *modes)

static void probe(const char *p)
{
    struct stat st;
    struct statx x;
    char name[64];
    long r;
    int e;

    printf("== %s\n", p);
    memset(&st, 0, sizeof st);
    CALL(stat(p, &st));
    stat_line("stat", r, e, &st);
    CALL(lstat(p, &st));
    stat_line("lstat", r, e, &st);
    CALL(fstatat(AT_FDCWD, p, &st, 0));
    stat_line("fstatat/0", r, e, &st);
    CALL(fstatat(AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW));
    stat_line("fstatat/nofollow", r, e, &st);
    CALL(fstatat(AT_FDCWD, p, &st, AT_NO_AUTOMOUNT));
    stat_line("fstatat/noautomount", r, e, &st);

    static const struct {
        const char *name;
        int flags;
    } xflags[] = {{"0", 0},
                  {"nofollow", AT_SYMLINK_NOFOLLOW},
                  {"dontsync", AT_STATX_DONT_SYNC},
                  {"forcesync", AT_STATX_FORCE_SYNC}};
    const unsigned mask = STATX_BASIC_STATS | STATX_BTIME;
    for (size_t i = 0; i < sizeof xflags / sizeof *xflags; i++) {
        memset(&x, 0, sizeof x);
        CALL(statx(AT_FDCWD, p, xflags[i].flags, mask, &x));
        snprintf(name, sizeof name, "statx/%s", xflags[i].name);
        statx_line(name, r, e, &x);
    }
    /* fields beyond the basic ones, asked for: what the tier cannot know */
    _Static_assert(sizeof(struct statx) >= 0xa0, "struct statx is the kernel's 256 bytes");
    memset(&x, 0, sizeof x);
    CALL(statx(AT_FDCWD, p, 0, mask | STATX_MNT_ID | STATX_DIOALIGN, &x));
    statx_dio_line("statx/mntid+dioalign", r, e, &x);
    memset(&x, 0, sizeof x);
    CALL(syscall(SYS_statx, AT_FDCWD, p, 0, mask, &x));
    statx_line("syscall-statx/0", r, e, &x);
    memset(&x, 0, sizeof x);
    CALL(syscall(SYS_statx, AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, mask, &x));
    statx_line("syscall-statx/nofollow", r, e, &x);
    memset(&st, 0, sizeof st);
    CALL(syscall(SYS_newfstatat, AT_FDCWD, p, &st, 0));
    stat_line("syscall-newfstatat/0", r, e, &st);
    memset(&st, 0, sizeof st);
    CALL(syscall(SYS_newfstatat, AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW));
    stat_line("syscall-newfstatat/nofollow", r, e, &st);
#ifdef SYS_stat
    memset(&st, 0, sizeof st);
    CALL(syscall(SYS_stat, p, &st));
    stat_line("syscall-stat", r, e, &st);
    memset(&st, 0, sizeof st);
    CALL(syscall(SYS_lstat, p, &st));
    stat_line("syscall-lstat", r, e, &st);
#endif

    xstat_fn xs = (xstat_fn)old_symbol("__xstat");
    xstat_fn lxs = (xstat_fn)old_symbol("__lxstat");
    fxstatat_fn fxs = (fxstatat_fn)old_symbol("__fxstatat");
    if (xs) {
        memset(&st, 0, sizeof st);
        CALL(xs(XSTAT_VER, p, &st));
        stat_line("__xstat", r, e, &st);
    } else {
        printf("__xstat unavailable\n");
    }
    if (lxs) {
        memset(&st, 0, sizeof st);
        CALL(lxs(XSTAT_VER, p, &st));
        stat_line("__lxstat", r, e, &st);
    } else {
        printf("__lxstat unavailable\n");
    }
    if (fxs) {
        memset(&st, 0, sizeof st);
        CALL(fxs(XSTAT_VER, AT_FDCWD, p, &st, 0));
        stat_line("__fxstatat/0", r, e, &st);
        memset(&st, 0, sizeof st);
        CALL(fxs(XSTAT_VER, AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW));
        stat_line("__fxstatat/nofollow", r, e, &st);
    } else {
        printf("__fxstatat unavailable\n");
    }

    for (size_t i = 0; i < NMODES; i++) {
        int m = modes[i].mode;
        snprintf(name, sizeof name, "access/%s", modes[i].name);
        CALL(access(p, m));
        head(name, r, e), putchar('\n');
        snprintf(name, sizeof name, "faccessat-eaccess/%s", modes[i].name);
        CALL(faccessat(AT_FDCWD, p, m, AT_EACCESS));
        head(name, r, e), putchar('\n');
        snprintf(name, sizeof name, "faccessat-0/%s", modes[i].name);
        CALL(faccessat(AT_FDCWD, p, m, 0));
        head(name, r, e), putchar('\n');
        snprintf(name, sizeof name, "euidaccess/%s", modes[i].name);
        CALL(euidaccess(p, m));
        head(name, r, e), putchar('\n');
        snprintf(name, sizeof name, "eaccess/%s", modes[i].name);
        CALL(eaccess(p, m));
        head(name, r, e), putchar('\n');
#ifdef SYS_access
        snprintf(name, sizeof name, "syscall-access/%s", modes[i].name);
        CALL(syscall(SYS_access, p, m));
        head(name, r, e), putchar('\n');
#endif
        snprintf(name, sizeof name, "syscall-faccessat/%s", modes[i].name);
        CALL(syscall(SYS_faccessat, AT_FDCWD, p, m));
        head(name, r, e), putchar('\n');
        snprintf(name, sizeof name, "syscall-faccessat2-eaccess/%s", modes[i].name);
        CALL(syscall(SYS_faccessat2, AT_FDCWD, p, m, AT_EACCESS));
        head(name, r, e), putchar('\n');
    }
    CALL(faccessat(AT_FDCWD, p, F_OK, AT_SYMLINK_NOFOLLOW));
    head("faccessat-nofollow/F_OK", r, e), putchar('\n');

    /* readlink: the buffer is filled with '#' first; room is how much of it
     * is checked (the offered size, and 5 bytes past the small one) */
    char buf[300];
    static const size_t sizes[] = {256, 3};
    for (size_t i = 0; i < 2; i++) {
        size_t n = sizes[i], room = n == 256 ? n : n + 5;
        memset(buf, '#', sizeof buf);
        CALL(readlink(p, buf, n));
        snprintf(name, sizeof name, "readlink/%zu", n);
        link_line(name, r, e, buf, room);
        memset(buf, '#', sizeof buf);
        CALL(readlinkat(AT_FDCWD, p, buf, n));
        snprintf(name, sizeof name, "readlinkat/%zu", n);
        link_line(name, r, e, buf, room);
        memset(buf, '#', sizeof buf);
        CALL(syscall(SYS_readlinkat, AT_FDCWD, p, buf, n));
        snprintf(name, sizeof name, "syscall-readlinkat/%zu", n);
        link_line(name, r, e, buf, room);
#ifdef SYS_readlink
        memset(buf, '#', sizeof buf);
        CALL(syscall(SYS_readlink, p, buf, n));
        snprintf(name, sizeof name, "syscall-readlink/%zu", n);
        link_line(name, r, e, buf, room);
#endif
    }

    CALL(open(p, O_RDONLY));
    int fd = (int)r;
    printf("open ret=%s errno=%s", fd >= 0 ? "fd" : "-1", ename(e));
    if (fd >= 0) {
        static char data[65536];
        memset(&st, 0, sizeof st);
        errno = EDOM;
        r = fstat(fd, &st);
        e = errno;
        printf(" fstat ret=%ld errno=%s", r, ename(e));
        if (r == 0)
            print_stat(&st);
        errno = EDOM;
        ssize_t got = read(fd, data, sizeof data);
        e = errno;
        if (got < 0) {
            printf(" read ret=-1 errno=%s", ename(e));
        } else {
            uint64_t h = 0xcbf29ce484222325ULL;
            for (ssize_t i = 0; i < got; i++)
                h = (h ^ (unsigned char)data[i]) * 0x100000001b3ULL;
            printf(" read ret=%zd errno=%s fnv=%016llx", got, ename(e), (unsigned long long)h);
        }
        errno = EDOM;
        r = close(fd);
        e = errno;
        printf(" close ret=%ld errno=%s", r, ename(e));
    }
    putchar('\n');
}

int main(int argc, char **argv)
{
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-C") == 0) {
        if (chdir(argv[i + 1]) < 0) {
            fprintf(stderr, "metaprobe: chdir %s: %s\n", argv[i + 1], strerror(errno));
            return 2;
        }
        i += 2;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: metaprobe [-C DIR] PATH...\n");
        return 2;
    }
    for (; i < argc; i++)
        probe(argv[i]);
    return fflush(stdout) == 0 ? 0 : 1;
}
