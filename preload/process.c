/* process.c - calls that change what a path means to this process: chdir
 * and fchdir (relative paths may become cacheable or stop being so), and
 * chroot, unshare(CLONE_NEWNS) and setns into a mount namespace, after
 * which paths no longer name what they name for shmd: the shim turns
 * itself off for the rest of the process. The kernel reads the path
 * arguments here; the shim acts only after a successful call. */
#include <sched.h>
#include <unistd.h>

#include "preload/attach.h"
#include "preload/hook.h"
#include "preload/key.h"

/* The cwd's relevance is set to "yes" (always safe) before the call, so
 * another thread's relative change meanwhile is marked, and decided again
 * after it; not in a vfork child, whose cwd is its own but whose memory is
 * the parent's: there it stays "yes". */
#define CWD_CHANGE(call) \
    do { \
        struct hook h_; \
        if (!hook_enter(&h_)) \
            return call; \
        store_relaxed(&shim_cwd_is_relevant, 1); \
        hook_call(&h_); \
        int r_ = call; \
        hook_called(&h_); \
        if (r_ == 0 && !shim_in_vfork_child()) \
            shim_cwd_changed(); \
        return hook_leave(&h_, r_); \
    } while (0)

SHIM_EXPORT int chdir(const char *p)
{
    CWD_CHANGE(REAL(chdir)(p));
}

SHIM_EXPORT int fchdir(int fd)
{
    CWD_CHANGE(REAL(fchdir)(fd));
}

/* After a successful call that left the daemon's root or mount namespace:
 * off for this process, or in a vfork child for the child only. */
#define NAMESPACE_CHANGE(left, call) \
    do { \
        struct hook h_; \
        if (!hook_enter(&h_)) \
            return call; \
        int r_ = call; \
        if (r_ == 0 && (left)) { \
            if (shim_in_vfork_child()) \
                shim_disable_vfork_child(); \
            else \
                shim_disable(); \
        } \
        return r_; /* nothing above touches errno */ \
    } while (0)

SHIM_EXPORT int chroot(const char *p)
{
    NAMESPACE_CHANGE(true, REAL(chroot)(p));
}

SHIM_EXPORT int unshare(int flags)
{
    NAMESPACE_CHANGE(flags & CLONE_NEWNS, REAL(unshare)(flags));
}

SHIM_EXPORT int setns(int fd, int nstype)
{
    NAMESPACE_CHANGE(nstype == 0 || (nstype & CLONE_NEWNS), REAL(setns)(fd, nstype));
}
