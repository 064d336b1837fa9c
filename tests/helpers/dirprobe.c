/* dirprobe - what a program sees of directory listings, one line per
 * fact, for test_listing (tests/integration/test_listing.c) to compare
 * with and without the shim.
 *
 *   dirprobe list DIR...     for each DIR: opendir and readdir (every
 *                            name, d_ino, d_type, in the stream's order),
 *                            telldir/seekdir back to the middle, rewinddir
 *                            and the same again, readdir_r, scandir with a
 *                            filter and alphasort, scandirat, readdir64
 *                            and scandir64, dirfd (fstat of it, and the
 *                            first regular file read through openat on
 *                            it), fdopendir of a descriptor opened on DIR
 *                            (and of an O_PATH one), or the errno of
 *                            opendir
 *   dirprobe hold DIR MAKE   opendir DIR, read one name, create MAKE (a
 *                            path: through the shim this kills the
 *                            listing), wait 2 s (the daemon tries to
 *                            remove the snapshot meanwhile), read the
 *                            rest: prints how many names and whether
 *                            MAKE's name was among them
 *   dirprobe poll DIR NAME present|absent EVERY_MS MAX_MS
 *                            list DIR every EVERY_MS until NAME is (or is
 *                            not) in it: prints OK or TIMEOUT, and on
 *                            stderr after how long */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *type_name(unsigned char t)
{
    switch (t) {
    case DT_REG: return "reg";
    case DT_DIR: return "dir";
    case DT_LNK: return "lnk";
    case DT_FIFO: return "fifo";
    case DT_SOCK: return "sock";
    case DT_CHR: return "chr";
    case DT_BLK: return "blk";
    default: return "unknown";
    }
}

static int no_dots(const struct dirent *e)
{
    return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

static int no_dots64(const struct dirent64 *e)
{
    return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

static int is_dot(const char *n)
{
    return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* Every name of d from where it is, in order, "." and ".." apart (where
 * a stream lists them is the one thing the shim does not keep: tmpfs
 * lists them first); the count. With mid_pos: the position (telldir)
 * after the mid-th name that is no dot. */
static int dump(DIR *d, const char *tag, long *mid_pos, int mid)
{
    char dots[2][320];
    int n = 0, k = 0, ndots = 0;
    for (struct dirent *e; (e = readdir(d));) {
        n++;
        if (is_dot(e->d_name)) {
            if (ndots < 2)
                snprintf(dots[ndots++], sizeof dots[0], "%s dot %s ino=%llu type=%s\n", tag,
                         e->d_name, (unsigned long long)e->d_ino, type_name(e->d_type));
            continue;
        }
        printf("%s %s ino=%llu type=%s\n", tag, e->d_name, (unsigned long long)e->d_ino,
               type_name(e->d_type));
        if (mid_pos && ++k == mid)
            *mid_pos = telldir(d);
    }
    /* in a fixed order */
    if (ndots == 2 && strcmp(dots[0], dots[1]) > 0)
        printf("%s%s", dots[1], dots[0]);
    else
        for (int i = 0; i < ndots; i++)
            printf("%s", dots[i]);
    return n;
}

static void list(const char *dir)
{
    printf("== %s\n", dir);
    errno = 0;
    DIR *d = opendir(dir);
    if (!d) {
        printf("opendir %s\n", strerrorname_np(errno));
        return;
    }
    long mid_pos = -1;
    /* first pass counts, the second prints and takes the middle */
    int n = 0, names = 0;
    for (struct dirent *e; (e = readdir(d));) {
        n++;
        names += !is_dot(e->d_name);
    }
    rewinddir(d);
    int again = dump(d, "entry", &mid_pos, names / 2);
    printf("count %d again %d\n", n, again);
    if (mid_pos >= 0) {
        seekdir(d, mid_pos);
        struct dirent *e;
        while ((e = readdir(d)) && is_dot(e->d_name))
            ;
        /* the name after the middle: the stream goes on from there */
        printf("after seekdir %s\n", e ? e->d_name : "(end)");
    }
    rewinddir(d);
    struct dirent buf, *res;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    while (readdir_r(d, &buf, &res) == 0 && res)
        if (!is_dot(res->d_name))
            printf("readdir_r %s ino=%llu type=%s\n", res->d_name,
                   (unsigned long long)res->d_ino, type_name(res->d_type));
#pragma GCC diagnostic pop
    int fd = dirfd(d);
    struct stat st, pst;
    if (fd < 0 || fstat(fd, &st) < 0) {
        printf("dirfd fstat %s\n", strerrorname_np(errno));
    } else {
        stat(dir, &pst);
        printf("dirfd fstat ino=%s dev=%s mode=%o nlink=%llu\n",
               st.st_ino == pst.st_ino ? "same" : "DIFFERENT",
               st.st_dev == pst.st_dev ? "same" : "DIFFERENT", (unsigned)st.st_mode,
               (unsigned long long)st.st_nlink);
        /* the first regular file, through the descriptor */
        rewinddir(d);
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_type != DT_REG)
                continue;
            int ffd = openat(fd, e->d_name, O_RDONLY | O_CLOEXEC);
            char text[64] = "";
            ssize_t r = ffd >= 0 ? read(ffd, text, sizeof text - 1) : -1;
            printf("openat(dirfd, %s) read %zd \"%.*s\"\n", e->d_name, r, r > 0 ? (int)r : 0,
                   text);
            if (ffd >= 0)
                close(ffd);
            break;
        }
    }
    closedir(d);

    /* readdir64 on a fresh stream */
    d = opendir(dir);
    if (d) {
        int m = 0;
        for (struct dirent64 *e; (e = readdir64(d));)
            m++;
        printf("readdir64 count %d\n", m);
        closedir(d);
    }
    struct dirent **v;
    int sn = scandir(dir, &v, no_dots, alphasort);
    printf("scandir %d\n", sn);
    for (int i = 0; i < sn; i++) {
        printf("scandir %s ino=%llu type=%s\n", v[i]->d_name, (unsigned long long)v[i]->d_ino,
               type_name(v[i]->d_type));
        free(v[i]);
    }
    if (sn >= 0)
        free(v);
    struct dirent64 **v64;
    sn = scandir64(dir, &v64, no_dots64, alphasort64);
    printf("scandir64 %d", sn);
    for (int i = 0; i < sn; i++) {
        printf(" %s", v64[i]->d_name);
        free(v64[i]);
    }
    printf("\n");
    if (sn >= 0)
        free(v64);
    sn = scandirat(AT_FDCWD, dir, &v, NULL, NULL);
    printf("scandirat %d\n", sn);
    for (int i = 0; i < sn; i++)
        free(v[i]);
    if (sn >= 0)
        free(v);

    /* fdopendir of a descriptor the program opened (os.listdir(fd),
     * os.fwalk, shutil.rmtree): the stream owns it */
    int ofd = open(dir, O_RDONLY | O_DIRECTORY); /* (no O_CLOEXEC: fdopendir sets it) */
    if (ofd < 0) {
        printf("open O_DIRECTORY %s\n", strerrorname_np(errno));
        return;
    }
    d = fdopendir(ofd);
    if (!d) {
        printf("fdopendir %s\n", strerrorname_np(errno));
        close(ofd);
        return;
    }
    /* glibc sets FD_CLOEXEC on it, and takes no descriptor of its own */
    int fdflags = fcntl(ofd, F_GETFD);
    int next = open("/dev/null", O_RDONLY | O_CLOEXEC);
    printf("fdopendir FD_CLOEXEC %d, the next open is the descriptor + %d\n",
           fdflags >= 0 && (fdflags & FD_CLOEXEC), next - ofd);
    if (next >= 0)
        close(next);
    mid_pos = -1;
    int fn = dump(d, "fdopendir", &mid_pos, -1);
    printf("fdopendir count %d dirfd %s\n", fn, dirfd(d) == ofd ? "is the descriptor" : "DIFFERS");
    closedir(d);
    printf("after closedir the descriptor is %s\n",
           fcntl(ofd, F_GETFD) < 0 && errno == EBADF ? "closed" : "OPEN");
    /* and one that cannot be: an O_PATH descriptor (EBADF) */
    ofd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    errno = 0;
    d = ofd >= 0 ? fdopendir(ofd) : NULL;
    printf("fdopendir(O_PATH) %s\n", d ? "a stream" : strerrorname_np(errno));
    if (d)
        closedir(d);
    else if (ofd >= 0)
        close(ofd);
}

static void errno_list(const char *dir)
{
    struct dirent **v;
    errno = 0;
    int n = scandir(dir, &v, NULL, NULL);
    if (n < 0)
        printf("scandir %s\n", strerrorname_np(errno));
    else {
        for (int i = 0; i < n; i++)
            free(v[i]);
        free(v);
    }
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static int has(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    int found = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, name) == 0)
            found = 1;
    closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (argc >= 3 && strcmp(argv[1], "list") == 0) {
        for (int i = 2; i < argc; i++) {
            list(argv[i]);
            errno_list(argv[i]);
        }
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "hold") == 0) {
        DIR *d = opendir(argv[2]);
        if (!d) {
            perror("opendir");
            return 1;
        }
        int n = readdir(d) ? 1 : 0;
        int fd = open(argv[3], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            perror("create");
            return 1;
        }
        close(fd);
        sleep(2);
        const char *made = strrchr(argv[3], '/');
        made = made ? made + 1 : argv[3];
        int saw = 0;
        for (struct dirent *e; (e = readdir(d));) {
            n++;
            saw |= strcmp(e->d_name, made) == 0;
        }
        closedir(d);
        printf("names %d made %s\n", n, saw ? "seen" : "unseen");
        return 0;
    }
    if (argc == 7 && strcmp(argv[1], "poll") == 0) {
        int want = strcmp(argv[4], "present") == 0;
        long every = atol(argv[5]), max = atol(argv[6]), start = now_ms();
        for (;;) {
            if (has(argv[2], argv[3]) == want) {
                printf("OK\n");
                fprintf(stderr, "dirprobe: %s %s after %ld ms\n", argv[3], argv[4],
                        now_ms() - start);
                return 0;
            }
            if (now_ms() - start > max) {
                printf("TIMEOUT\n");
                return 0;
            }
            usleep((useconds_t)every * 1000);
        }
    }
    fprintf(stderr, "usage: dirprobe list DIR... | hold DIR MAKE | "
                    "poll DIR NAME present|absent EVERY_MS MAX_MS\n");
    return 2;
}
