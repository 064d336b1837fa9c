/* attach.h - the shim's view of the instance: the mapped index, the
 * instance directory and the miss socket, entered lock-free by hooks. */
#ifndef SHMCACHE_ATTACH_H
#define SHMCACHE_ATTACH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tier/index.h"

/* One attached index: the mapping and the descriptors that go with it. */
struct shim_attach {
    struct tier_view view;
    void *ro;                   /* read-only mapping: header, slots, arena */
    size_t ro_len;
    void *rw;                   /* read-write mapping: marks */
    size_t rw_len;
    int dirfd;                  /* the instance directory, O_CLOEXEC */
    int sockfd;                 /* datagram socket connected to miss.sock */
    uint64_t index_dev, index_ino; /* which index file this is */
    int active;                 /* hooks inside this attachment (seq_cst) */
    int broken;                 /* one of our fds was closed behind our back */
    int in_use;                 /* slot of the attach pool taken */
    uint32_t seq;               /* attach number (fdtag.h), to tell indexes apart */
    bool validate;              /* stat the source on every hit: the daemon
                                   sees paths through another namespace */
    uint64_t dev;               /* st_dev of the instance directory */
    uint32_t euid;              /* geteuid() at attach (the instance's owner):
                                   for the owner case of tier/access.h. If the
                                   process changes uid later, the kernel still
                                   checks the 0700 instance directory on every
                                   openat of an object, so a stale value can
                                   only make a hit fail, not grant one. */
    bool ids_differ;            /* getuid() != geteuid() or getgid() !=
                                   getegid() at attach: access() without
                                   AT_EACCESS checks the real ids, which the
                                   owner case does not know, so the kernel
                                   answers it (meta.c). Stale too after a
                                   change of ids (a seteuid after the first
                                   call under a prefix): both values are
                                   then those of the attach, and a metadata
                                   answer, which no kernel check follows,
                                   may be decided for ids the process no
                                   longer has, until it attaches again. */
};

extern pid_t shim_pid __attribute__((visibility("hidden"))); /* updated at fork */

/* Enter the current attached index (attaching or re-attaching, rate
 * limited to once a second, when there is none or it went stale). Returns
 * NULL when nothing is usable; otherwise the caller must shim_leave() it.
 * force skips the rate limit (modifying calls must be able to invalidate).
 * May change errno. */
struct shim_attach *shim_enter(bool force) __attribute__((visibility("hidden")));

/* With SHMCACHE_LOG set: the first time a path under a prefix finds no
 * usable tier, one line saying why (no daemon for the directory, and one
 * of another user's if there is; not trusted; not running). */
void shim_explain_idle(void) __attribute__((visibility("hidden")));
void shim_leave(struct shim_attach *a) __attribute__((visibility("hidden")));

/* Enter an index to mark changes in (change.c): the current one even when
 * its daemon is not live or one of its descriptors was lost (a mark there
 * is harmless, a missing one is stale data), after attaching to a new one
 * if a daemon came up, and waiting for a thread that is attaching right
 * now. NULL only when there is no index at all. */
struct shim_attach *shim_enter_marks(void) __attribute__((visibility("hidden")));

/* True in a child that shares this process's memory but not its
 * descriptors or cwd (vfork, a raw clone): its calls must not change the
 * parent's bookkeeping. One system call. */
bool shim_in_vfork_child(void) __attribute__((visibility("hidden")));

/* fd, one of an attachment's descriptors, is being closed by the host:
 * never use or close that number again. */
void shim_attach_fd_lost(int fd) __attribute__((visibility("hidden")));
/* In the child after fork. */
void shim_attach_after_fork(void) __attribute__((visibility("hidden")));

/* At init, while the process is most likely single-threaded: fix where
 * the shim's own descriptors will go (at or above half the descriptor
 * limit, at most 1024, as the limit is now: a program that raises it
 * later, as node does, keeps them there), and grow the kernel's
 * descriptor table to hold them now, by a dup there closed at once. The
 * kernel never shrinks the table; growing it once the program runs
 * threads makes it wait for an RCU grace period (expand_fdtable calls
 * synchronize_rcu when the table is shared): 10-20 ms at node's first
 * open under a prefix, measured. */
void shim_attach_prepare(void) __attribute__((visibility("hidden")));

/* Move a descriptor the shim keeps out of the low numbers POSIX gives the
 * program (at or above the base shim_attach_prepare fixed, or half the
 * limit now if the program has lowered it since); the low one is kept
 * where that fails. Returns the descriptor to use (fd itself on failure). */
int shim_park_fd(int fd) __attribute__((visibility("hidden")));

/* The same for a vfork child (shim_in_vfork_child): it serves nothing
 * until it execs or exits, and the parent is not affected. */
void shim_disable_vfork_child(void) __attribute__((visibility("hidden")));

/* Turn the shim off for the rest of the process (chroot, new mount
 * namespace: paths no longer mean what they mean to shmd). */
void shim_disable(void) __attribute__((visibility("hidden")));

#endif
