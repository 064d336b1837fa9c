/* cli_exec.c - `shmd exec`: start a daemon for the instance if none
 * answers, then run a command with the library preloaded, the prefixes set
 * and SHMCACHE_DIR naming the instance. The daemon gets the same options
 * as exec (minus the prefixes) and is detached: not the command's child, so
 * the command can neither reap nor wait for it.
 *
 * The daemon holds none of the caller's descriptors: stdin and stdout are
 * /dev/null, every other descriptor is closed, and stderr is a pipe to this
 * process only until the daemon has claimed its instance and switched to
 * its log file (--log-file DIR/log): what it says before that (why it
 * cannot start, a warning) is passed on here, and its end of the pipe is
 * closed by then, so `out=$(shmd exec ... 2>&1)` and `shmd exec ... | tee`
 * finish with the command. The daemon stops once no shimmed process has
 * been attached for --idle-exit seconds (600 unless given), and a daemon
 * started for a command that cannot be run is stopped at once. Options for
 * a daemon that already runs are not applied: exec says so. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "shmd/opts.h"
#include "shmd/units.h"
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

/* Pass on the warnings and errors the daemon writes to its startup pipe
 * (the rest is for its log) until it closes it (it switched to its log,
 * or died) or until deadline. */
static void relay_startup(int fd, uint64_t deadline_ns)
{
    char buf[4096];
    size_t have = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};

    while (mono_ns() < deadline_ns) {
        int ms = (int)((deadline_ns - mono_ns()) / NS_PER_MS) + 1;
        if (poll(&p, 1, ms) <= 0)
            break;
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            if (strstr(line, "]: error: ") || strstr(line, "]: warning: "))
                fprintf(stderr, "%s\n", line);
            line = nl + 1;
        }
        have = strlen(line);
        memmove(buf, line, have);
        if (have == sizeof buf - 1)
            have = 0; /* a line that long: dropped */
    }
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
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        setsid();
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        dup2(pipefd[1], 2);
        close_range(3, ~0U, 0); /* nothing else of the caller's */
        unsetenv("LD_PRELOAD"); /* the daemon itself is never shimmed */
        if (fork() == 0) {      /* not our child: exec'd CMD must not reap it */
            execv(self, dargv);
            _exit(127);
        }
        _exit(0);
    }
    close(pipefd[1]);
    waitpid(pid, NULL, 0);
    uint64_t end = mono_ns() + UP_WAIT_NS;
    relay_startup(pipefd[0], end);
    close(pipefd[0]);
    for (; mono_ns() < end;) {
        FILE *f = cli_request(dir, "ping", NULL, 0, true);
        if (f) {
            fclose(f);
            return 0;
        }
        usleep(UP_POLL_US);
    }
    fprintf(stderr, "shmd exec: the daemon for %s did not come up within %llu s (its log: %s/log)\n",
            dir, (unsigned long long)(UP_WAIT_NS / NS_PER_SEC), dir);
    return -1;
}

/* Was the daemon option name (without "--") on exec's command line? */
static bool given(char **argv, int next, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < next && strcmp(argv[i], "--") != 0; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, n) == 0 &&
            (argv[i][2 + n] == '\0' || argv[i][2 + n] == '='))
            return true;
    return false;
}

/* The running daemon's value of a stats key, as an operator reads it
 * (sizes in units), into out; false when it cannot be had. */
static bool running_value(const char *dir, const char *key, char *out, size_t n)
{
    char line[512];
    size_t klen = strlen(key);
    bool found = false;
    FILE *f = cli_request(dir, "stats", NULL, 0, true);

    if (!f)
        return false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ' ')
            continue;
        line[strcspn(line, "\n")] = '\0';
        const char *v = line + klen + 1;
        if (strcmp(key, "capacity") == 0 || strcmp(key, "max_file") == 0)
            units_format_size(strtoull(v, NULL, 10), out, n);
        else
            snprintf(out, n, "%s%s", v, strstr(key, "_ms") ? " ms" : "");
        found = true;
    }
    fclose(f);
    return found;
}

/* Options for a daemon that already runs are not applied: say which, with
 * what the running one uses. */
static void warn_ignored(const struct shmd_opts *o, char **argv, int next)
{
    static const char *const opts[][2] = {
        {"capacity", "capacity"},         {"max-file", "max_file"},
        {"slots", "slots"},               {"revalidate-ms", "revalidate_ms"},
        {"settle-ms", "settle_ms"},       {"negative-ms", "negative_ms"},
        {"loaders", NULL},                {"log-level", NULL},
        {"log-file", NULL},               {"idle-exit", NULL},
        {"fleet", NULL},                  {"fleet-key", NULL},
        {"fleet-namespace", NULL},
    };
    char v[64];

    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        if (!given(argv, next, opts[i][0]))
            continue;
        bool have = opts[i][1] && running_value(o->dir, opts[i][1], v, sizeof v);
        fprintf(stderr, "shmd exec: a daemon already serves %s: --%s not applied%s%s%s\n", o->dir,
                opts[i][0], have ? " (it runs with " : "", have ? v : "", have ? ")" : "");
    }
}

int cli_exec(int argc, char **argv)
{
    struct shmd_opts o;
    const char *prefixes[PATH_PREFIX_MAX];
    int nprefixes = 0, next = 0;
    char err[512], lib[PATH_MAX];

    int r = shmd_parse_opts(argc, argv, &o, err, sizeof err, prefixes, &nprefixes, &next);
    if (r == 1) {
        shmd_usage_cmd(stdout, "exec");
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
    /* A prefix that names no directory is kept (a mount may come later),
     * but said: a typo would otherwise cache nothing, silently. */
    for (int i = 0; i < nprefixes; i++) {
        struct stat st;
        if (stat(prefixes[i], &st) < 0)
            fprintf(stderr,
                    "shmd exec: warning: prefix %s: %s (nothing under it is cached until it "
                    "exists)\n", prefixes[i], strerror(errno));
        else if (!S_ISDIR(st.st_mode))
            fprintf(stderr, "shmd exec: warning: prefix %s is not a directory\n", prefixes[i]);
    }
    if (find_library(lib, sizeof lib) < 0)
        return 1;

    bool started = false;
    FILE *f = cli_request(o.dir, "ping", NULL, 0, true);
    if (f) {
        fclose(f);
        warn_ignored(&o, argv, next);
    } else {
        /* same options as ours, minus the prefixes and the command: "shmd
         * --log-level info --idle-exit 600 --log-file DIR/log", at most
         * argc - 1 of ours, "--dir DIR", NULL */
        char **dargv = calloc((size_t)argc + 10, sizeof *dargv);
        char logfile[TIER_PATH_MAX + 8];
        int k = 0;
        if (!dargv) {
            fprintf(stderr, "shmd exec: out of memory\n");
            return 1;
        }
        dargv[k++] = "shmd";
        /* its own log: info, unless asked (only its warnings and errors
         * before it has the log reach the command's stderr) */
        dargv[k++] = "--log-level";
        dargv[k++] = "info";
        if (!given(argv, next, "idle-exit")) {
            dargv[k++] = "--idle-exit";
            dargv[k++] = "600";
        }
        if (!given(argv, next, "log-file")) {
            snprintf(logfile, sizeof logfile, "%s/log", o.dir);
            dargv[k++] = "--log-file";
            dargv[k++] = logfile;
        }
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
        started = true;
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
    int e = errno;
    fprintf(stderr, "shmd exec: %s: %s\n", argv[next], strerror(e));
    if (started) {
        /* nothing will use the daemon started for it */
        FILE *s = cli_request(o.dir, "stop", NULL, 0, true);
        if (s)
            fclose(s);
    }
    return e == ENOENT ? 127 : 126; /* as a shell says */
}

