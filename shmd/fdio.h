/* fdio.h - writing a whole buffer to a descriptor, through short writes
 * and EINTR (a socket to the daemon, a snapshot's map file). */
#ifndef SHMCACHE_SHMD_FDIO_H
#define SHMCACHE_SHMD_FDIO_H

#include <stddef.h>

/* Write n bytes of p to fd. Returns 0, or -1 with errno (a write of 0
 * bytes counts as failure, errno unchanged). */
int shmd_write_all(int fd, const void *p, size_t n);

#endif
