/* sec.c - small probes for the security tests (tests/integration/
 * test_security.c): what a process can reach of an instance, and what the
 * shim does in a secure-execution (setuid) process.
 *
 *   sec connect PATH          connect a stream socket to PATH: "OK" or the
 *                             errno name (EACCES, ENOENT, ...)
 *   sec dgram PATH TEXT       send TEXT as one datagram to the socket PATH
 *   sec open PATH             open O_RDONLY: "OK" or the errno name
 *   sec secure LIB PATH DIR   print "secure A preloaded P", A = getauxval
 *                             (AT_SECURE), P = whether a libshmcache.so is
 *                             loaded; then dlopen LIB (the shim, explicitly:
 *                             allowed in secure mode, unlike LD_PRELOAD),
 *                             open PATH through the shim's own open, print
 *                             "where LINK" (the descriptor's target), the
 *                             file's bytes' length and "maps N": mappings of
 *                             files in DIR (the instance) in this process.
 * Exit 0 when the command ran (whatever it printed), 2 on bad usage. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* In a sanitizer build, no leak check at exit: LeakSanitizer cannot stop
 * the world in a setuid process (it is not dumpable), and this program's
 * leaks do not matter. Unused in a normal build. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}

static void print_result(int ok, int err)
{
    if (ok)
        puts("OK");
    else
        puts(strerrorname_np(err) ? strerrorname_np(err) : "E?");
}

static int unix_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return -1;
    strcpy(sa->sun_path, path);
    return 0;
}

static int cmd_connect(const char *path)
{
    struct sockaddr_un sa;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || unix_addr(&sa, path) < 0)
        return 2;
    int r = connect(s, (struct sockaddr *)&sa, sizeof sa);
    print_result(r == 0, errno);
    close(s);
    return 0;
}

static int cmd_dgram(const char *path, const char *text)
{
    struct sockaddr_un sa;
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || unix_addr(&sa, path) < 0)
        return 2;
    ssize_t r = sendto(s, text, strlen(text), MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof sa);
    print_result(r >= 0, errno);
    close(s);
    return 0;
}

static int has_shim(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, "libshmcache"))
        *(int *)data = 1;
    return 0;
}

static int count_maps(const char *dir)
{
    char line[8192];
    int n = 0;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        n += strstr(line, dir) != NULL;
    fclose(f);
    return n;
}

static int cmd_secure(const char *lib, const char *path, const char *dir)
{
    int preloaded = 0;
    dl_iterate_phdr(has_shim, &preloaded);
    printf("secure %lu preloaded %d\n", getauxval(AT_SECURE), preloaded);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("dlopen failed: %s\n", dlerror());
        return 0;
    }
    int (*shim_open)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(h, "open");
    if (!shim_open) {
        puts("no open in the library");
        return 0;
    }
    int fd = shim_open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("open failed: %s\n", strerror(errno));
        return 0;
    }
    char p[64], link[4096];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(p, link, sizeof link - 1);
    link[n > 0 ? n : 0] = '\0';
    long total = 0;
    char buf[65536];
    for (ssize_t r; (r = read(fd, buf, sizeof buf)) > 0;)
        total += r;
    close(fd);
    printf("where %s\nbytes %ld\nmaps %d\n", link, total, count_maps(dir));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "connect") == 0)
        return cmd_connect(argv[2]);
    if (argc == 4 && strcmp(argv[1], "dgram") == 0)
        return cmd_dgram(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "open") == 0) {
        int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
        print_result(fd >= 0, errno);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "secure") == 0)
        return cmd_secure(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: sec connect PATH | dgram PATH TEXT | open PATH | "
                    "secure LIB PATH DIR\n");
    return 2;
}
