/* init.c - once per process: resolve the real functions, read the
 * environment, decide whether the shim acts at all.
 *
 * Init may be reached from the constructor or, earlier, from a hook called
 * by another library's constructor. The state is set to "initialising"
 * before anything else, so a hook re-entered from inside (dlsym calling
 * malloc calling open) sees it and uses the raw system call instead. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/shim.h"
#include "tier/atomic.h"

struct shim_real shim_real;
struct shim_config shim_cfg;

enum { INIT_NONE, INIT_RUNNING, INIT_DONE };
int shim_init_state; /* enum above; read inline by shim_ready() */
static SHIM_TLS int t_in_init;

pid_t shim_pid SHIM_HIDDEN; /* getpid() of this process, kept across fork */

static void resolve_real(void)
{
#define X(ret, name, args) shim_real.name = (ret(*) args)dlsym(RTLD_NEXT, #name);
    SHIM_REAL_LIST(X)
#undef X
}

static void after_fork_child(void)
{
    shim_pid = (pid_t)syscall(SYS_getpid);
    shim_attach_after_fork();
}

static void shim_init(void)
{
    int expected = INIT_NONE;
    int saved = errno;

    if (!__atomic_compare_exchange_n(&shim_init_state, &expected, INIT_RUNNING, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    t_in_init = 1;
    resolve_real();
    shim_pid = (pid_t)syscall(SYS_getpid);
    if (getauxval(AT_SECURE)) {
        shim_cfg.enabled = false; /* setuid/setgid/capabilities: inert, silent */
    } else if (dlsym(RTLD_DEFAULT, "shmd_daemon_marker")) {
        shim_cfg.enabled = false; /* inside shmd itself */
    } else {
        shim_config_parse(&shim_cfg, getenv("SHMCACHE_DISABLE"), getenv("SHMCACHE_PREFIX"),
                          getenv("SHMCACHE_NAME"), getenv("SHMCACHE_DIR"),
                          getenv("SHMCACHE_LOG"), getenv("SHMCACHE_VALIDATE"),
                          geteuid(), shim_warn);
    }
    if (shim_cfg.enabled) {
        shim_cwd_changed();
        pthread_atfork(NULL, NULL, after_fork_child);
    }
    t_in_init = 0;
    store_release(&shim_init_state, INIT_DONE);
    errno = saved;
}

__attribute__((constructor)) static void shim_constructor(void)
{
    shim_init();
}

bool shim_ready_slow(void)
{
    if (load_acquire(&shim_init_state) == INIT_DONE)
        return load_relaxed(&shim_cfg.enabled);
    if (t_in_init)
        return false;
    shim_init();
    return load_acquire(&shim_init_state) == INIT_DONE && load_relaxed(&shim_cfg.enabled);
}

void shim_disable(void)
{
    store_relaxed(&shim_cfg.enabled, false);
}

void *shim_dlsym_next(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

int shim_sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    long r = syscall(SYS_openat, dirfd, path, flags, mode);
    return (int)r;
}
