/* init.c - once per process: resolve the real functions, read the
 * environment, decide whether the shim acts at all.
 *
 * Init may be reached from the constructor or, earlier, from a hook called
 * by another library's constructor. The state is set to "initialising"
 * before anything else, so a hook re-entered from inside (dlsym calling
 * malloc calling open) sees it and makes the real call (or the raw system
 * call, sys.h) instead. The shim is inert in secure-execution mode
 * (setuid, setgid, capabilities), inside shmd itself, and when the
 * environment says so (config.c). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/attach.h"
#include "preload/config.h"
#include "preload/hook.h"
#include "preload/key.h"
#include "preload/log.h"
#include "preload/readable.h"
#include "preload/real.h"
#include "preload/sys.h"
#include "tier/atomic.h"

struct shim_real shim_real;
struct shim_config shim_cfg;
int shim_init_state; /* enum shim_init; read inline by shim_ready() */
static SHIM_TLS int t_in_init;

void shim_real_resolve(void)
{
#define X(ret, name, args) store_relaxed(&shim_real.name, (ret(*) args)dlsym(RTLD_NEXT, #name));
    SHIM_HOOKS(X)
    SHIM_CALLS(X)
#undef X
}

static void after_fork_child(void)
{
    store_relaxed(&shim_pid, (pid_t)shim_sys3(SYS_getpid, 0, 0, 0));
    shim_attach_after_fork();
    shim_readable_forget(); /* MADV_DONTFORK memory is not in the child */
}

static void shim_init(void)
{
    int expected = SHIM_INIT_NONE;
    int saved = errno; /* the boundary here is the constructor, or the hook
                          that started init: leave it as found */

    if (!cas_acq_rel(&shim_init_state, &expected, SHIM_INIT_RUNNING))
        return;
    t_in_init = 1;
    shim_real_resolve();
    shim_pid = (pid_t)shim_sys3(SYS_getpid, 0, 0, 0);
    if (getauxval(AT_SECURE)) {
        shim_cfg.enabled = false; /* setuid/setgid/capabilities: inert, silent */
    } else if (dlsym(RTLD_DEFAULT, "shmd_daemon_marker")) {
        shim_cfg.enabled = false; /* inside shmd itself */
    } else {
        struct shim_env env = {
            .disable = getenv("SHMCACHE_DISABLE"), .prefix = getenv("SHMCACHE_PREFIX"),
            .name = getenv("SHMCACHE_NAME"), .dir = getenv("SHMCACHE_DIR"),
            .log = getenv("SHMCACHE_LOG"), .validate = getenv("SHMCACHE_VALIDATE"),
            .fleet_wait = getenv("SHMCACHE_FLEET_WAIT_MS"),
        };
        shim_config_parse(&shim_cfg, &env, geteuid(), shim_warn);
    }
    if (shim_cfg.enabled) {
        shim_attach_prepare();
        shim_cwd_changed();
        pthread_atfork(NULL, NULL, after_fork_child);
    }
    t_in_init = 0;
    store_release(&shim_init_state, SHIM_INIT_DONE);
    errno = saved;
}

__attribute__((constructor)) static void shim_constructor(void)
{
    shim_init();
}

bool shim_ready_slow(void)
{
    if (load_acquire(&shim_init_state) == SHIM_INIT_DONE)
        return load_relaxed(&shim_cfg.enabled);
    if (t_in_init)
        return false;
    shim_init();
    return load_acquire(&shim_init_state) == SHIM_INIT_DONE && load_relaxed(&shim_cfg.enabled);
}

void *shim_dlsym_next(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}
