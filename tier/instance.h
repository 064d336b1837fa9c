/* instance.h - the instance directory: who may trust it, and the addresses
 * of the sockets inside it. Shared by the shim, shmd and its CLI. */
#ifndef SHMCACHE_INSTANCE_H
#define SHMCACHE_INSTANCE_H

#include <sys/stat.h>
#include <sys/un.h>

#define INSTANCE_MISS_SOCK "miss.sock"
#define INSTANCE_CTL_SOCK "ctl.sock"

/* NULL when st (from fstat of the opened directory) is a directory owned by
 * uid with mode exactly 0700; otherwise the reason, e.g. "mode 0755". The
 * reason points to buf (at least 64 bytes). */
const char *instance_dir_untrusted(const struct stat *st, uid_t uid, char *buf, size_t bufsz);

/* Fill sa with the address of socket `name` in the instance directory dir
 * (open as dirfd). When dir/name does not fit in sun_path, the address goes
 * through /proc/self/fd/<dirfd>. Returns 0, or -1 when even that does not fit. */
int instance_sockaddr(struct sockaddr_un *sa, const char *dir, int dirfd, const char *name);

#endif
