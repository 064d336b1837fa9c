/* fdtab.h - what the shim knows per descriptor number (the word is laid
 * out in fdtag.h). The close and dup hooks keep it right (fdtab.c). */
#ifndef SHMCACHE_FDTAB_H
#define SHMCACHE_FDTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "preload/change.h"

#define SHIM_FD_HIDDEN __attribute__((visibility("hidden")))

/* fd is (or stops being) one of the shim's own descriptors. */
void shim_fd_mark_ours(int fd, bool ours) SHIM_FD_HIDDEN;
/* fd was opened for writing through the shim; tag from shim_change_end
 * (0: no cached path): its close marks that path changed again. Nothing
 * in a vfork child. */
void shim_fd_track_write(int fd, uint64_t tag) SHIM_FD_HIDDEN;
/* The word of fd (fdtag.h), 0 for numbers not tracked. */
uint64_t shim_fd_word(int fd) SHIM_FD_HIDDEN;

/* A descriptor's end, in two steps around the real call that ends it
 * (close, fclose, freopen, dup2 over it): before, the shim forgets its own
 * descriptor the host closes and marks a written path in flight; after,
 * ended says whether fd is gone, and the marks are closed. */
struct shim_fd_end {
    uint64_t word;              /* fd's word, taken at the begin */
    struct shim_mark mark;
    bool marked;
};
void shim_fd_end_begin(int fd, struct shim_fd_end *e) SHIM_FD_HIDDEN;
void shim_fd_end_done(int fd, struct shim_fd_end *e, bool ended) SHIM_FD_HIDDEN;

#endif
