/* instance.c - instance directory trust and socket addresses. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "tier/instance.h"

const char *instance_dir_untrusted(const struct stat *st, uid_t uid, char *buf, size_t bufsz)
{
    if (!S_ISDIR(st->st_mode))
        snprintf(buf, bufsz, "not a directory");
    else if (st->st_uid != uid)
        snprintf(buf, bufsz, "owned by uid %u, not %u", (unsigned)st->st_uid, (unsigned)uid);
    else if ((st->st_mode & 07777) != 0700)
        snprintf(buf, bufsz, "mode %04o, expected 0700", (unsigned)(st->st_mode & 07777));
    else
        return NULL;
    return buf;
}

int instance_sockaddr(struct sockaddr_un *sa, const char *dir, int dirfd, const char *name)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof sa->sun_path, "%s/%s", dir, name);
    if (n > 0 && (size_t)n < sizeof sa->sun_path)
        return 0;
    n = snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/%s", dirfd, name);
    return n > 0 && (size_t)n < sizeof sa->sun_path ? 0 : -1;
}
