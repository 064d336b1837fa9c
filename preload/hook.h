/* hook.h - the one shape of every hook in libshmcache.so.
 *
 *   SHIM_EXPORT int name(ARGS)
 *   {
 *       struct hook h;
 *       if (!hook_enter(&h))               shim off, or not initialised:
 *           return REAL(name)(ARGS);       just the real call
 *       ... tier work: serve, or prepare ...  (no user pointer is read
 *                                             before shim_path_len or
 *                                             shim_readable says it can be)
 *       hook_call(&h);                     errno back to the caller's
 *       int r = REAL(name)(ARGS);
 *       hook_called(&h);                   errno as the real call left it
 *       ... tier work after the call ...
 *       return hook_leave(&h, r);          errno restored
 *   }
 *
 * errno is saved once, here at the boundary; the helpers the hooks call
 * (attach, lookup, invalidation, logging) may change it freely, and none
 * of them saves it again. So a successful call leaves errno exactly as the
 * real call would have, a failed one exactly as the real call did, and a
 * hit exactly as the caller had it.
 *
 * Hooks are async-signal-safe and fork-safe where the real call is: no
 * malloc, no locks, no stdio on the open/stat/close paths; every
 * descriptor the shim keeps is O_CLOEXEC. Any trouble in the tier means the
 * real call. */
#ifndef SHMCACHE_HOOK_H
#define SHMCACHE_HOOK_H

#include <errno.h>
#include <stdbool.h>

#include "preload/config.h"
#include "preload/real.h"

#define SHIM_HIDDEN __attribute__((visibility("hidden")))
#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_TLS __thread __attribute__((tls_model("initial-exec")))

/* Init states (init.c); shim_init_state is read inline on every call. */
enum shim_init { SHIM_INIT_NONE, SHIM_INIT_RUNNING, SHIM_INIT_DONE };
extern int shim_init_state SHIM_HIDDEN;
bool shim_ready_slow(void) SHIM_HIDDEN;

/* True when the shim may act at all: initialised and enabled. The first
 * call initialises; a call made from inside init (dlsym calling malloc
 * calling open) gets false and makes the real call. */
static inline bool shim_ready(void)
{
    if (__builtin_expect(load_acquire(&shim_init_state) == SHIM_INIT_DONE, 1))
        return load_relaxed(&shim_cfg.enabled);
    return shim_ready_slow();
}

/* True when the shim is initialised and enabled, without initialising it
 * (for hooks that must not start init from inside a memory allocator). */
static inline bool shim_active(void)
{
    return load_acquire(&shim_init_state) == SHIM_INIT_DONE && load_relaxed(&shim_cfg.enabled);
}

/* glibc declares most of the hooked pointers nonnull, which lets the
 * compiler drop a hook's test for NULL; programs pass NULL anyway (the
 * kernel answers EFAULT, or takes a NULL path with AT_EMPTY_PATH, or in
 * utimensat, as "the descriptor itself"). A pointer passed through this is
 * opaque to that assumption: test it, not the parameter. */
#define shim_unknown(p) \
    ({ \
        __typeof__(p) q_ = (p); \
        __asm__("" : "+r"(q_)); \
        q_; \
    })

struct hook {
    int err;                    /* the errno to leave on the way out */
};

/* Enter a hook: false when the shim is off (then make the real call and
 * nothing else). */
static inline bool hook_enter(struct hook *h)
{
    if (!shim_ready())
        return false;
    h->err = errno;
    return true;
}

/* Just before the real call: it sees the caller's errno. */
static inline void hook_call(const struct hook *h)
{
    errno = h->err;
}

/* Just after it: its errno is the one to leave. */
static inline void hook_called(struct hook *h)
{
    h->err = errno;
}

static inline int hook_leave(const struct hook *h, int r)
{
    errno = h->err;
    return r;
}

static inline void *hook_leave_ptr(const struct hook *h, void *p)
{
    errno = h->err;
    return p;
}

#endif
