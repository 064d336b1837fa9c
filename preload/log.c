/* log.c - SHMCACHE_LOG lines and one-time warnings, written to stderr with
 * a single writev, and the number formatting hooks need: async-signal-safe,
 * no stdio, no allocation. They may change errno, as every helper of the
 * hooks (the hook, or init, restores it). */
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "preload/log.h"
#include "preload/sys.h"

size_t shim_utoa(unsigned long v, char *buf)
{
    char tmp[24];
    size_t n = 0, k = 0;

    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    while (n)
        buf[k++] = tmp[--n];
    return k;
}

char *shim_fd_link(int fd, char *buf)
{
    memcpy(buf, "/proc/self/fd/", 14);
    buf[14 + shim_utoa((unsigned long)(fd < 0 ? 0 : fd), buf + 14)] = '\0';
    return buf;
}

static void emit(const char *what, const char *text)
{
    char head[64] = "shmcache[";
    size_t n = 9;

    n += shim_utoa((unsigned long)shim_sys3(SYS_getpid, 0, 0, 0), head + n);
    memcpy(head + n, "]: ", 3);
    n += 3;
    struct iovec iov[4] = {
        {head, n},
        {(void *)what, strlen(what)},
        {(void *)text, strlen(text)},
        {"\n", 1},
    };
    ssize_t r = writev(2, iov, 4);
    (void)r;
}

void shim_log(const char *what, const char *path)
{
    char w[16];
    size_t n = strlen(what);

    if (n > sizeof w - 2)
        n = sizeof w - 2;
    memcpy(w, what, n);
    w[n] = ' ';
    w[n + 1] = '\0';
    emit(w, path);
}

void shim_warn(const char *msg)
{
    emit("", msg);
}
