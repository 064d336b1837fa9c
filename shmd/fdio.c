/* fdio.c - see fdio.h. */
#include <errno.h>
#include <unistd.h>

#include "shmd/fdio.h"

int shmd_write_all(int fd, const void *p, size_t n)
{
    for (const char *c = p; n;) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}
