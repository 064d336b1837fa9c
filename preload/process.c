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

/* The call, then (when it worked) the cwd's relevance again. */
#define CWD_CHANGE(call) \
    do { \
        struct hook h_; \
        if (!hook_enter(&h_)) \
            return call; \
        int r_ = call; \
        hook_called(&h_); \
        if (r_ == 0) \
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

SHIM_EXPORT int chroot(const char *p)
{
    int r = REAL(chroot)(p);
    if (r == 0)
        shim_disable();
    return r;
}

SHIM_EXPORT int unshare(int flags)
{
    int r = REAL(unshare)(flags);
    if (r == 0 && (flags & CLONE_NEWNS))
        shim_disable();
    return r;
}

SHIM_EXPORT int setns(int fd, int nstype)
{
    int r = REAL(setns)(fd, nstype);
    if (r == 0 && (nstype == 0 || (nstype & CLONE_NEWNS)))
        shim_disable();
    return r;
}
