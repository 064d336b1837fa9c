/* cli.c - the client side: stats, ls, warm, evict, flush, stop, exec.
 *
 * Exit codes: 0 done; 1 the operation failed (no daemon, daemon refused,
 * nothing to warm); 2 bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmd/cli.h"
#include "shmd/shmd.h"
#include "tier/config.h"
#include "tier/instance.h"
#include "tier/path.h"

struct cli {
    const char *name;
    const char *dir_arg;
    char dir[TIER_PATH_MAX];
    bool json;
};

static int usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "shmd %s: %s\n", cmd, msg);
    shmd_usage(stderr);
    return 2;
}

/* Options common to the client commands: --name, --dir (and --json for
 * stats). Leaves optind at the first operand. Returns 0, 1 help, -1 bad. */
static int cli_opts(const char *cmd, int argc, char **argv, struct cli *c, bool json_ok)
{
    static const struct option longopts[] = {
        {"name", required_argument, NULL, 'n'},
        {"dir", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char err[300];
    int ch;

    memset(c, 0, sizeof *c);
    c->name = getenv("SHMCACHE_NAME");
    c->dir_arg = getenv("SHMCACHE_DIR");
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if (!config_name_valid(optarg))
                return usage_error(cmd, "--name: expected 1-64 of A-Z a-z 0-9 . _ -"), -1;
            c->name = optarg;
            break;
        case 'd':
            c->dir_arg = optarg;
            break;
        case 'j':
            if (!json_ok)
                return usage_error(cmd, "--json: only for stats"), -1;
            c->json = true;
            break;
        case 'h':
            shmd_usage(stdout);
            return 1;
        default:
            snprintf(err, sizeof err, "unknown option %s", argv[optind - 1]);
            return usage_error(cmd, err), -1;
        }
    }
    if (config_instance_dir(c->name, c->dir_arg, geteuid(), c->dir, sizeof c->dir, err, sizeof err) < 0)
        return usage_error(cmd, err), -1;
    return 0;
}

/* Connect to the daemon's control socket. Returns the socket or -1 (with a
 * message printed unless quiet). */
static int ctl_connect(const char *dir, bool quiet)
{
    struct sockaddr_un sa;
    struct stat st;
    char why[64];
    int s = -1;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (dfd < 0) {
        if (!quiet)
            fprintf(stderr, "shmd: no daemon for %s (%s)\n", dir, strerror(errno));
        return -1;
    }
    if (fstat(dfd, &st) < 0 || instance_dir_untrusted(&st, geteuid(), why, sizeof why)) {
        if (!quiet)
            fprintf(stderr, "shmd: instance directory %s is %s: refusing\n", dir, why);
        close(dfd);
        return -1;
    }
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || instance_sockaddr(&sa, dir, dfd, INSTANCE_CTL_SOCK) < 0 ||
        connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (!quiet)
            fprintf(stderr, "shmd: no daemon for %s (%s)\n", dir, strerror(errno));
        if (s >= 0)
            close(s);
        s = -1;
    }
    close(dfd);
    return s;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Send a request (words, each NUL-terminated) and return the reply stream
 * positioned after its "ok" line, or NULL with the error printed. */
static FILE *ctl_request(const char *dir, const char *cmd, char *const *args, size_t nargs, bool quiet)
{
    int s = ctl_connect(dir, quiet);
    if (s < 0)
        return NULL;
    signal(SIGPIPE, SIG_IGN);
    bool ok = write_all(s, cmd, strlen(cmd) + 1) == 0;
    for (size_t i = 0; ok && i < nargs; i++)
        ok = write_all(s, args[i], strlen(args[i]) + 1) == 0;
    shutdown(s, SHUT_WR);
    FILE *f = fdopen(s, "r");
    if (!f) {
        close(s);
        return NULL;
    }
    char line[512];
    if (!fgets(line, sizeof line, f)) {
        if (!quiet)
            fprintf(stderr, "shmd: the daemon closed the connection\n");
        fclose(f);
        return NULL;
    }
    if (strcmp(line, "ok\n") != 0) {
        if (!quiet)
            fprintf(stderr, "shmd: %s", strncmp(line, "error ", 6) == 0 ? line + 6 : line);
        fclose(f);
        return NULL;
    }
    return f;
}

struct kv {
    char key[64];
    char val[TIER_PATH_MAX];
};

static int read_kv(FILE *f, struct kv *kv, int max)
{
    char line[TIER_PATH_MAX + 80];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (!sp || sp - line >= (long)sizeof kv[n].key)
            continue;
        size_t klen = (size_t)(sp - line), vlen = strlen(sp + 1);
        if (vlen >= sizeof kv[n].val)
            continue;
        memcpy(kv[n].key, line, klen);
        kv[n].key[klen] = '\0';
        memcpy(kv[n].val, sp + 1, vlen + 1);
        n++;
    }
    return n;
}

static uint64_t kv_num(const struct kv *kv, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return strtoull(kv[i].val, NULL, 10);
    return 0;
}

static const char *kv_str(const struct kv *kv, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].val;
    return "";
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int cmd_stats(int argc, char **argv)
{
    struct cli c;
    struct kv kv[64];
    char a[32], b[32];

    int r = cli_opts("stats", argc, argv, &c, true);
    if (r)
        return r < 0 ? 2 : 0;
    if (optind < argc)
        return usage_error("stats", "takes no operands");
    FILE *f = ctl_request(c.dir, "stats", NULL, 0, false);
    if (!f)
        return 1;
    int n = read_kv(f, kv, 64);
    fclose(f);
    if (c.json) {
        printf("{");
        for (int i = 0; i < n; i++) {
            printf("%s", i ? ", " : "");
            json_string(kv[i].key);
            printf(": ");
            if (all_digits(kv[i].val))
                printf("%s", kv[i].val);
            else
                json_string(kv[i].val);
        }
        printf("}\n");
        return 0;
    }
    uint64_t hits = kv_num(kv, n, "hits"), misses = kv_num(kv, n, "misses");
    uint64_t mem = kv_num(kv, n, "memory"), cap = kv_num(kv, n, "capacity");
    uint64_t up = kv_num(kv, n, "uptime_ms") / 1000;
    printf("%-15s %s (pid %s, up %lluh%02llum%02llus)\n", "instance", kv_str(kv, n, "dir"),
           kv_str(kv, n, "pid"), (unsigned long long)(up / 3600),
           (unsigned long long)(up / 60 % 60), (unsigned long long)(up % 60));
    printf("%-15s %llu\n", "entries", (unsigned long long)kv_num(kv, n, "entries"));
    printf("%-15s %s of %s (%.1f%%)\n", "memory", config_format_size(mem, a, sizeof a), config_format_size(cap, b, sizeof b),
           cap ? 100.0 * (double)mem / (double)cap : 0.0);
    printf("%-15s %s\n", "bytes", config_format_size(kv_num(kv, n, "bytes"), a, sizeof a));
    printf("%-15s %llu\n", "hits", (unsigned long long)hits);
    printf("%-15s %llu\n", "misses", (unsigned long long)misses);
    if (hits + misses)
        printf("%-15s %.1f%%\n", "hit ratio", 100.0 * (double)hits / (double)(hits + misses));
    else
        printf("%-15s -\n", "hit ratio");
    printf("%-15s %llu\n", "loads", (unsigned long long)kv_num(kv, n, "loads"));
    printf("%-15s %llu\n", "load failures", (unsigned long long)kv_num(kv, n, "load_failures"));
    for (int i = 0; i < n; i++)
        if (strncmp(kv[i].key, "fail_", 5) == 0 && strcmp(kv[i].val, "0") != 0)
            printf("  %-13s %s\n", kv[i].key + 5, kv[i].val);
    printf("%-15s %llu\n", "evictions", (unsigned long long)kv_num(kv, n, "evictions"));
    printf("%-15s %llu\n", "invalidations", (unsigned long long)kv_num(kv, n, "invalidations"));
    return 0;
}

static int cmd_ls(int argc, char **argv)
{
    struct cli c;
    char line[TIER_PATH_MAX * 4 + 64], a[32];

    int r = cli_opts("ls", argc, argv, &c, false);
    if (r)
        return r < 0 ? 2 : 0;
    if (optind < argc)
        return usage_error("ls", "takes no operands");
    FILE *f = ctl_request(c.dir, "ls", NULL, 0, false);
    if (!f)
        return 1;
    printf("%10s %8s  %s\n", "SIZE", "AGE", "PATH");
    while (fgets(line, sizeof line, f)) {
        unsigned long long size, age;
        int off = 0;
        if (sscanf(line, "%llu %llu %n", &size, &age, &off) != 2 || !off)
            continue;
        printf("%10s %7llus  %s", config_format_size(size, a, sizeof a), age / 1000, line + off);
    }
    fclose(f);
    return 0;
}

/* Make an operand absolute and normal, the form the shim looks up. */
static int operand_key(const char *arg, char *key)
{
    char cwd[TIER_PATH_MAX];
    if (arg[0] == '/')
        return path_normalize(arg, NULL, true, key, PATH_KEY_SIZE);
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    return path_normalize(cwd, arg, true, key, PATH_KEY_SIZE);
}

static struct {
    char **v;
    size_t n, cap;
} g_files;

static int add_file(const char *p)
{
    char key[PATH_KEY_SIZE];
    if (path_normalize(p, NULL, false, key, sizeof key) < 0)
        return 0;
    if (g_files.n == g_files.cap) {
        size_t cap = g_files.cap ? g_files.cap * 2 : 256;
        char **v = realloc(g_files.v, cap * sizeof *v);
        if (!v)
            return -1;
        g_files.v = v;
        g_files.cap = cap;
    }
    if (!(g_files.v[g_files.n] = strdup(key)))
        return -1;
    g_files.n++;
    return 0;
}

static int walk_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    struct stat target;
    if (type == FTW_F && S_ISREG(st->st_mode))
        return add_file(p);
    if (type == FTW_SL && stat(p, &target) == 0 && S_ISREG(target.st_mode))
        return add_file(p); /* the app opens it by this name */
    return 0;
}

static int cmd_warm(int argc, char **argv)
{
    struct cli c;
    char key[PATH_KEY_SIZE], line[TIER_PATH_MAX * 4 + 64], a[32];
    struct stat st;
    int bad = 0;

    int r = cli_opts("warm", argc, argv, &c, false);
    if (r)
        return r < 0 ? 2 : 0;
    if (optind >= argc)
        return usage_error("warm", "expected PATH...");
    for (int i = optind; i < argc; i++) {
        if (operand_key(argv[i], key) < 0) {
            fprintf(stderr, "shmd warm: %s: not a usable path (\"..\" is not resolved)\n", argv[i]);
            bad = 1;
        } else if (stat(key, &st) < 0) {
            fprintf(stderr, "shmd warm: %s: %s\n", argv[i], strerror(errno));
            bad = 1;
        } else if (S_ISDIR(st.st_mode)) {
            if (nftw(key, walk_one, 64, FTW_PHYS) != 0) {
                fprintf(stderr, "shmd warm: %s: %s\n", argv[i], strerror(errno));
                bad = 1;
            }
        } else if (add_file(key) < 0) {
            bad = 1;
        }
    }
    if (g_files.n == 0) {
        fprintf(stderr, "shmd warm: no files to load\n");
        return 1;
    }
    FILE *f = ctl_request(c.dir, "warm", g_files.v, g_files.n, false);
    if (!f)
        return 1;
    uint64_t loaded = 0, cached = 0, skipped = 0, bytes = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long size;
        if (strncmp(line, "skipped ", 8) == 0) {
            skipped++;
            fprintf(stderr, "shmd warm: %s", line);
        } else if (sscanf(line, "loaded %llu", &size) == 1) {
            loaded++;
            bytes += size;
        } else if (sscanf(line, "cached %llu", &size) == 1) {
            cached++;
        }
    }
    fclose(f);
    printf("warmed %llu files (%s), %llu already cached, %llu skipped\n",
           (unsigned long long)loaded, config_format_size(bytes, a, sizeof a), (unsigned long long)cached,
           (unsigned long long)skipped);
    return bad;
}

static int cmd_evict(const char *cmd, int argc, char **argv, bool all)
{
    struct cli c;
    char line[256];
    char **keys = NULL;
    size_t n = 0;
    int rc = 1;

    int r = cli_opts(cmd, argc, argv, &c, false);
    if (r)
        return r < 0 ? 2 : 0;
    if (all && optind < argc)
        return usage_error(cmd, "takes no operands");
    if (!all && optind >= argc)
        return usage_error(cmd, "expected PATH...");
    if (!all && !(keys = calloc((size_t)(argc - optind), sizeof *keys)))
        return 1;
    for (int i = optind; !all && i < argc; i++) {
        char key[PATH_KEY_SIZE];
        if (operand_key(argv[i], key) < 0) {
            fprintf(stderr, "shmd evict: %s: not a usable path\n", argv[i]);
            goto out;
        }
        if (!(keys[n++] = strdup(key)))
            goto out;
    }
    FILE *f = ctl_request(c.dir, cmd, keys, n, false);
    if (!f)
        goto out;
    while (fgets(line, sizeof line, f))
        fputs(line, stdout);
    fclose(f);
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return rc;
}

static int cmd_stop(int argc, char **argv)
{
    struct cli c;
    int r = cli_opts("stop", argc, argv, &c, false);
    if (r)
        return r < 0 ? 2 : 0;
    FILE *f = ctl_request(c.dir, "stop", NULL, 0, false);
    if (!f)
        return 1;
    fclose(f);
    /* wait until it is gone, so `shmd stop && shmd` works */
    for (int i = 0; i < 1000; i++) {
        struct stat st;
        if (stat(c.dir, &st) < 0)
            return 0;
        int s = ctl_connect(c.dir, true);
        if (s < 0)
            return 0;
        close(s);
        usleep(10000);
    }
    fprintf(stderr, "shmd stop: the daemon did not stop within 10 s\n");
    return 1;
}

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
            execv("/proc/self/exe", dargv);
            _exit(127);
        }
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    for (int i = 0; i < 500; i++) {
        FILE *f = ctl_request(dir, "ping", NULL, 0, true);
        if (f) {
            fclose(f);
            return 0;
        }
        usleep(10000);
    }
    fprintf(stderr, "shmd exec: the daemon for %s did not come up within 5 s\n", dir);
    return -1;
}

static int cmd_exec(int argc, char **argv)
{
    struct shmd_opts o;
    const char *prefixes[16];
    int nprefixes = 0, next = 0;
    char err[512], lib[PATH_MAX];

    int r = shmd_parse_opts(argc, argv, &o, err, sizeof err, prefixes, &nprefixes, &next);
    if (r == 1) {
        shmd_usage(stdout);
        return 0;
    }
    if (r < 0)
        return usage_error("exec", err);
    if (next < argc && strcmp(argv[next], "--") == 0)
        next++;
    if (next >= argc)
        return usage_error("exec", "expected -- CMD [ARG]...");
    const char *env_prefix = getenv("SHMCACHE_PREFIX");
    if (nprefixes == 0 && (!env_prefix || !*env_prefix))
        return usage_error("exec", "no prefix: give -p PREFIX or set SHMCACHE_PREFIX");
    if (find_library(lib, sizeof lib) < 0)
        return 1;

    FILE *f = ctl_request(o.dir, "ping", NULL, 0, true);
    if (f) {
        fclose(f);
    } else {
        /* same options as ours, minus the prefixes and the command */
        char **dargv = calloc((size_t)argc + 6, sizeof *dargv);
        int k = 0;
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

int shmd_cli(int argc, char **argv)
{
    const char *cmd = argv[0];

    if (strcmp(cmd, "stats") == 0)
        return cmd_stats(argc, argv);
    if (strcmp(cmd, "ls") == 0)
        return cmd_ls(argc, argv);
    if (strcmp(cmd, "warm") == 0)
        return cmd_warm(argc, argv);
    if (strcmp(cmd, "evict") == 0)
        return cmd_evict("evict", argc, argv, false);
    if (strcmp(cmd, "flush") == 0)
        return cmd_evict("flush", argc, argv, true);
    if (strcmp(cmd, "stop") == 0)
        return cmd_stop(argc, argv);
    if (strcmp(cmd, "exec") == 0)
        return cmd_exec(argc, argv);
    if (strcmp(cmd, "help") == 0) {
        shmd_usage(stdout);
        return 0;
    }
    fprintf(stderr, "shmd: unknown command \"%s\"\n", cmd);
    shmd_usage(stderr);
    return 2;
}
