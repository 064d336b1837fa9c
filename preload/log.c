/* log.c - SHMCACHE_LOG lines and one-time warnings, written to stderr with
 * a single writev: async-signal-safe, no stdio, no allocation. */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "preload/shim.h"

static size_t fmt_pid(char *buf, long pid)
{
    char tmp[24];
    size_t n = 0, k = 0;

    do
        tmp[n++] = (char)('0' + pid % 10);
    while ((pid /= 10) > 0);
    while (n)
        buf[k++] = tmp[--n];
    return k;
}

static void emit(const char *what, const char *text)
{
    char head[64] = "shmcache[";
    size_t n = 9;
    int saved = errno;

    n += fmt_pid(head + n, syscall(SYS_getpid));
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
    errno = saved;
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
