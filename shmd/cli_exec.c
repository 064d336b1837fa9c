/* cli_exec.c - `shmd exec`: start a daemon for the instance if none
 * answers, then run a command with the library preloaded, the prefixes set
 * and SHMCACHE_DIR naming the instance. The daemon gets the same options
 * as exec (minus the prefixes) and is detached: not the command's child, so
 * the command can neither reap nor wait for it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "shmd/opts.h"
#include "tier/clock.h"
#include "tier/path.h"

#define UP_WAIT_NS (5 * NS_PER_SEC) /* a new daemon answers its first ping */
#define UP_POLL_US 10000

/* The preload library next to this shmd: ../preload (build tree) or
 * ../lib (installed), or $SHMCACHE_LIB. */
static int find_library(char *out, size_t n)
{
    static const char *const rel[] = {"/../preload/libshmcache.so", "/../lib/libshmcache.so",
                                      "/../lib/shmcache/libshmcache.so"};
    const char *env = getenv("SHMCACHE_LIB");
    char exe[PATH_MAX];

    if (env && *env) {
        if (access(env, R_OK) == 0 && env[0] == '/') {
            snprintf(out, n, "%s", env);
            return 0;
        }
        fprintf(stderr, "shmd exec: SHMCACHE_LIB=%s: not readable or not absolute\n", env);
        return -1;
    }
    if (!realpath("/proc/self/exe", exe))
        return -1;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        char cand[PATH_MAX * 2];
        snprintf(cand, sizeof cand, "%s%s", exe, rel[i]);
        char real[PATH_MAX];
        if (realpath(cand, real) && access(real, R_OK) == 0) {
            snprintf(out, n, "%s", real);
            return 0;
        }
    }
    fprintf(stderr, "shmd exec: libshmcache.so not found next to %s (set SHMCACHE_LIB)\n", exe);
    return -1;
}

/* Start a daemon for the instance, detached, and wait until it answers. */
static int start_daemon(char **dargv, const char *dir)
{
    /* the daemon is this binary, run by its own name: through
     * /proc/self/exe its command name would be "exe" (ps, pkill, systemd
     * see that); /proc/self/exe only if the binary is gone */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    if (n <= 0 || access(self, X_OK) < 0)
        snprintf(self, sizeof self, "/proc/self/exe");
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setsid();
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        unsetenv("LD_PRELOAD"); /* the daemon itself is never shimmed */
        if (fork() == 0) {      /* not our child: exec'd CMD must not reap it */
            execv(self, dargv);
            _exit(127);
        }
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    for (uint64_t end = mono_ns() + UP_WAIT_NS; mono_ns() < end;) {
        FILE *f = cli_request(dir, "ping", NULL, 0, true);
        if (f) {
            fclose(f);
            return 0;
        }
        usleep(UP_POLL_US);
    }
    fprintf(stderr, "shmd exec: the daemon for %s did not come up within %llu s\n", dir,
            (unsigned long long)(UP_WAIT_NS / NS_PER_SEC));
    return -1;
}

int cli_exec(int argc, char **argv)
{
    struct shmd_opts o;
    const char *prefixes[PATH_PREFIX_MAX];
    int nprefixes = 0, next = 0;
    char err[512], lib[PATH_MAX];

    int r = shmd_parse_opts(argc, argv, &o, err, sizeof err, prefixes, &nprefixes, &next);
    if (r == 1) {
        shmd_usage(stdout);
        return 0;
    }
    if (r < 0)
        return cli_usage_error("exec", err);
    if (next < argc && strcmp(argv[next], "--") == 0)
        next++;
    if (next >= argc)
        return cli_usage_error("exec", "expected -- CMD [ARG]...");
    const char *env_prefix = getenv("SHMCACHE_PREFIX");
    if (nprefixes == 0 && (!env_prefix || !*env_prefix))
        return cli_usage_error("exec", "no prefix: give -p PREFIX or set SHMCACHE_PREFIX");
    if (find_library(lib, sizeof lib) < 0)
        return 1;

    FILE *f = cli_request(o.dir, "ping", NULL, 0, true);
    if (f) {
        fclose(f);
    } else {
        /* same options as ours, minus the prefixes and the command: "shmd
         * --log-level warning", at most argc - 1 of ours, "--dir DIR", NULL */
        char **dargv = calloc((size_t)argc + 6, sizeof *dargv);
        int k = 0;
        if (!dargv) {
            fprintf(stderr, "shmd exec: out of memory\n");
            return 1;
        }
        dargv[k++] = "shmd";
        /* it shares the command's stderr: only warnings, unless asked */
        dargv[k++] = "--log-level";
        dargv[k++] = "warning";
        for (int i = 1; i < next; i++) {
            if (strcmp(argv[i], "--") == 0)
                break;
            if (strcmp(argv[i], "-p") == 0 || strcmp(argv[i], "--prefix") == 0) {
                i++;
                continue;
            }
            if (strncmp(argv[i], "--prefix=", 9) == 0 || (strncmp(argv[i], "-p", 2) == 0 && argv[i][2]))
                continue;
            dargv[k++] = argv[i];
        }
        dargv[k++] = "--dir";
        dargv[k++] = o.dir;
        dargv[k] = NULL;
        if (start_daemon(dargv, o.dir) < 0)
            return 1;
    }

    char prefix[TIER_PATH_MAX * 2] = "";
    for (int i = 0; i < nprefixes; i++) {
        size_t len = strlen(prefix);
        snprintf(prefix + len, sizeof prefix - len, "%s%s", i ? ":" : "", prefixes[i]);
    }
    if (nprefixes)
        setenv("SHMCACHE_PREFIX", prefix, 1);
    setenv("SHMCACHE_DIR", o.dir, 1);
    const char *pre = getenv("LD_PRELOAD");
    char *preload = NULL;
    if (pre && *pre && !strstr(pre, lib)) {
        if (asprintf(&preload, "%s:%s", lib, pre) < 0)
            return 1;
    }
    setenv("LD_PRELOAD", preload ? preload : (pre && strstr(pre, lib) ? pre : lib), 1);
    execvp(argv[next], argv + next);
    fprintf(stderr, "shmd exec: %s: %s\n", argv[next], strerror(errno));
    return 127;
}

