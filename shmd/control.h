/* control.h - the server side of ctl.sock (the requests are listed at the
 * top of control.c). */
#ifndef SHMCACHE_SHMD_CONTROL_H
#define SHMCACHE_SHMD_CONTROL_H

#include <stdint.h>

struct shmd;

/* Accept one connection on d->ctlfd and serve it on a thread of its own,
 * if the peer is our uid or root and fewer than MAX_CTL_THREADS are being
 * served (else it is answered "error busy"). pre: the main loop. */
void control_accept(struct shmd *d);

/* Serve one request on the connected descriptor fd: read it to EOF, answer,
 * close fd. Blocks for as long as the request takes (warm waits for its
 * loads). Any thread. */
void control_serve(struct shmd *d, int fd);

/* Wait at most timeout_ns for every connection being served to finish. */
void control_wait_idle(struct shmd *d, uint64_t timeout_ns);

#endif
