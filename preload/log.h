/* log.h - SHMCACHE_LOG lines and one-time warnings on stderr, and the
 * formatting the hooks need, all async-signal-safe (no stdio, no malloc). */
#ifndef SHMCACHE_PRELOAD_LOG_H
#define SHMCACHE_PRELOAD_LOG_H

#include <stddef.h>

#define SHIM_HIDDEN_LOG __attribute__((visibility("hidden")))

/* One line "shmcache[pid]: WHAT path". */
void shim_log(const char *what, const char *path) SHIM_HIDDEN_LOG;
/* One line "shmcache[pid]: msg". */
void shim_warn(const char *msg) SHIM_HIDDEN_LOG;

/* "/proc/self/fd/N" for fd into buf (at least SHIM_FD_LINK_SIZE bytes).
 * Returns buf. */
#define SHIM_FD_LINK_SIZE 32
char *shim_fd_link(int fd, char *buf) SHIM_HIDDEN_LOG;
/* Decimal digits of v into buf (at least 21 bytes), no NUL. Returns the
 * count. */
size_t shim_utoa(unsigned long v, char *buf) SHIM_HIDDEN_LOG;

#endif
