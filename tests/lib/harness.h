/* harness.h - shared helpers for the integration tests: where the built
 * product is, source trees with known contents, private daemons, running
 * programs (shimmed or not) with their output captured, the stats counters,
 * and waiting with timeouts.
 *
 * Every test is hermetic: its own temporary directory under /tmp, its own
 * daemon on its own instance directory under /dev/shm. Every daemon started
 * here is killed at teardown and, as a last resort, when the test program
 * exits; a daemon's stderr goes to a log that teardown prints when the test
 * did not reach H_PASS(). */
#ifndef SHMCACHE_TEST_HARNESS_H
#define SHMCACHE_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define H_PATH_MAX 4096

/* ---- the product ------------------------------------------------------- */
const char *h_root(void);   /* $SHMCACHE_ROOT, else found from /proc/self/exe */
const char *h_shmd(void);   /* ROOT/shmd/shmd */
const char *h_lib(void);    /* ROOT/preload/libshmcache.so */
const char *h_probe(void);  /* tests/helpers/probe built next to this test */
const char *h_python(void); /* /usr/bin/python3 if present, else "python3" */

/* ---- small things -------------------------------------------------------- */
/* printf into one of 32 rotating static buffers (test code only). */
const char *h_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t h_now_ms(void);    /* CLOCK_MONOTONIC */
void h_sleep_ms(unsigned ms);
/* Poll pred(arg) every interval_ms until it is true or timeout_ms passed.
 * Returns whether it became true. */
bool h_wait_until(bool (*pred)(void *), void *arg, unsigned timeout_ms, unsigned interval_ms);

/* ---- contents and files ------------------------------------------------------ */
/* Deterministic pseudo-random bytes for (seed, offset); text = printable
 * lines ("line N: ..."), for grep. */
void h_fill(unsigned char *buf, size_t n, uint32_t seed, bool text);
uint64_t h_fnv1a(const void *p, size_t n);              /* FNV-1a 64, as probe */
int h_write_file(const char *path, const void *data, size_t n); /* 0 or -1 */
int h_write_str(const char *path, const char *s);
/* Rewrite in place (same inode, O_TRUNC), as a program without the shim. */
int h_rewrite(const char *path, const void *data, size_t n);
unsigned char *h_read_file(const char *path, size_t *n); /* malloc'd, NULL on error */
int h_mkdirs(const char *path, mode_t mode);              /* mkdir -p */
int h_rm_rf(const char *path);
/* mkdtemp("/tmp/shmcache-it-TAG-XXXXXX"), mode 0755. */
int h_mktemp_dir(char *out, size_t outsz, const char *tag);

/* One file of a source tree. */
struct h_file {
    const char *name;   /* relative to the tree, may contain '/' */
    size_t size;
    uint32_t seed;
    bool text;
};
/* The standard tree: 0 B, 1 B, 4 KiB, 100 KiB, 3 MiB, a nested file and a
 * text file. */
extern const struct h_file h_std_files[];
extern const size_t h_std_nfiles;
int h_make_tree(const char *dir, const struct h_file *files, size_t n);
/* The expected bytes of f (malloc'd, size f->size; never NULL). */
unsigned char *h_file_bytes(const struct h_file *f);
/* Index of name in h_std_files (asserts it exists). */
const struct h_file *h_std(const char *name);

/* ---- running programs ------------------------------------------------------ */
struct h_result {
    int status;          /* wait status, -1 when it could not be started */
    int code;            /* exit code; 128+N killed by signal N; -1 timed out */
    char *out;           /* stdout, NUL-terminated (may contain NULs) */
    size_t out_len;
    char *err;           /* stderr, NUL-terminated */
    size_t err_len;
};

/* Run argv (argv[0] searched in PATH) with stdin /dev/null. env: NULL or a
 * NULL-terminated list applied over the current environment: "NAME=value"
 * sets, "NAME" unsets. Kills it after timeout_ms (0: 60 s). Returns code. */
int h_run(struct h_result *r, const char *const *env, const char *const *argv,
          unsigned timeout_ms);
void h_result_free(struct h_result *r);
/* Lines of r->err containing needle. */
int h_count_lines(const char *text, const char *needle);

/* A program running in the background, stdout/stderr to memory files. */
struct h_proc {
    pid_t pid;
    int out_fd, err_fd;
};
int h_start(struct h_proc *p, const char *const *env, const char *const *argv);
/* Wait (up to timeout_ms, then SIGKILL) and collect. Returns code. */
int h_finish(struct h_proc *p, struct h_result *r, unsigned timeout_ms);

#define H_ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define H_ENV(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- daemons -------------------------------------------------------------- */
struct h_daemon {
    char dir[256];             /* instance directory, under /dev/shm */
    char log[H_PATH_MAX];      /* its stderr */
    const char *args[24];      /* daemon options besides --dir */
    const char *const *wrap;   /* argv prefix for every command (setpriv ...) */
    pid_t pid;                 /* 0 when not running */
    int exit_code;             /* after stop: exit code, 128+signal */
};

/* A fresh unique instance directory name: /dev/shm/shmcache-test-PID-N. */
void h_daemon_init(struct h_daemon *d, const char *logpath, const char *const *args);
/* Start it and wait until `shmd stats` answers (5 s). 0 or -1. */
int h_daemon_start(struct h_daemon *d);
/* SIGTERM, wait up to 5 s (then SIGKILL). Returns the exit code. */
int h_daemon_stop(struct h_daemon *d);
void h_daemon_kill9(struct h_daemon *d);
/* Reap it if it exited; true while it runs. */
bool h_daemon_alive(struct h_daemon *d);
/* Kill whatever still runs (also a daemon `shmd exec` started on d->dir),
 * remove the instance directory. */
void h_daemon_cleanup(struct h_daemon *d);
void h_daemon_print_log(const struct h_daemon *d);
/* Kill a daemon not started by us, found through DIR/lock. */
void h_kill_instance(const char *dir);

/* `shmd CMD --dir DIR ARGS...` as the daemon's user (args = CMD, ARGS...). */
int h_shmd_cmd(const struct h_daemon *d, struct h_result *r, const char *const *args);

/* ---- stats ------------------------------------------------------------------ */
/* The number after "key": in a JSON object text, or -1. */
long long h_json_num(const char *json, const char *key);
/* One counter of `shmd stats --json`, or -1 when stats failed. */
long long h_stat(const struct h_daemon *d, const char *key);
struct h_stats {
    long long hits, misses, entries, bytes, loads, load_failures, invalidations,
        evictions, misses_received;
};
int h_stats(const struct h_daemon *d, struct h_stats *s); /* 0 or -1 */
/* Wait until counter key >= value (timeout_ms). Returns the last value seen. */
long long h_wait_stat_ge(const struct h_daemon *d, const char *key, long long value,
                         unsigned timeout_ms);

/* ---- a test program's group ------------------------------------------------------ */
/* Group setup: fails with a clear message unless shmd, the library and the
 * probe are built. Group teardown: kills any daemon still tracked and fails
 * when an instance directory of this program was left in /dev/shm. */
int h_group_setup(void **state);
int h_group_teardown(void **state);

/* ---- a test's fixture ---------------------------------------------------------- */
struct h_fix {
    char tmp[H_PATH_MAX];      /* private scratch directory (0755) */
    char src[H_PATH_MAX];      /* the source tree, SHMCACHE_PREFIX */
    struct h_daemon d;
    const char *const *wrap;   /* argv prefix for shimmed/plain runs */
    bool passed;               /* set by H_PASS: teardown keeps quiet */
};
#define H_PASS(f) ((f)->passed = true)

/* Scratch dir, standard tree in tmp/src, a daemon with daemon_args (NULL:
 * --settle-ms 0 --revalidate-ms 200 --capacity 64M --log-level debug), started
 * when start. Returns the fixture (also in *state) or NULL. */
struct h_fix *h_fix_new(void **state, const char *const *daemon_args, bool start);
int h_fix_setup(void **state);      /* h_fix_new(state, NULL, true) */
int h_fix_setup_nodaemon(void **state);
int h_fix_teardown(void **state);
/* src/name, in a rotating buffer. */
const char *h_src(const struct h_fix *f, const char *name);

/* Run argv under the shim (prefix f->src, instance f->d.dir) with the extra
 * environment entries extra (NULL: none). */
int h_shim(struct h_fix *f, struct h_result *r, const char *const *extra,
           const char *const *argv);
/* Run argv without the shim (as the same user). */
int h_plain(struct h_fix *f, struct h_result *r, const char *const *argv);
/* The environment h_shim uses (static storage; valid until the next call). */
const char *const *h_shim_env(struct h_fix *f, const char *const *extra);
/* argv with f->wrap in front (static storage; valid until the next call). */
const char *const *h_wrapped(const char *const *wrap, const char *const *argv);

/* First pass over paths (probe cat, shimmed), then wait until the daemon has
 * at least entries entries. Asserts. */
void h_cache(struct h_fix *f, const char *const *paths, long long entries);
/* Fill argv (room for 40) with one probe run doing `verb FILE` for every
 * standard file, joined by "+". */
void h_probe_std_argv(struct h_fix *f, const char *verb, const char **argv);
/* h_cache of every standard file of the tree. */
void h_cache_std(struct h_fix *f);
/* Open path in a shimmed probe and assert that its descriptor is (in_tier)
 * or is not an object of the instance. */
void h_assert_where(struct h_fix *f, const char *path, bool in_tier, const char *what);

/* ---- assertions (cmocka) ----------------------------------------------------- */
/* Fails the test with the first differing offset when got != want. */
void h_assert_bytes(const void *got, size_t got_len, const void *want, size_t want_len,
                    const char *what);
/* Fails unless r exited 0; prints its stderr. */
void h_assert_ok(const struct h_result *r, const char *what);
/* Fails unless probe `where` output names an object in dir. */
void h_assert_in_tier(const char *where_out, const char *dir, const char *what);
void h_assert_not_in_tier(const char *where_out, const char *dir, const char *what);

/* Setting up trees, failing the test on any error: a copy of s; directory p
 * with exactly mode (chmod'ed: the umask stays out of it); file p holding
 * text (and chmod'ed to mode); symlink p to target. */
char *h_xstrdup(const char *s);
/* Line i (0-based) of text, copied into buf (n bytes); NULL when there is
 * none. */
const char *h_line_of(const char *text, int i, char *buf, size_t n);
void h_mkdir_mode(const char *p, mode_t mode);
void h_put(const char *p, const char *text);
void h_put_mode(const char *p, const char *text, mode_t mode);
void h_symlink(const char *target, const char *p);

/* ---- helper programs, root, tallies, objects ---- */
/* tests/helpers/NAME built next to this test (as h_probe finds probe). */
const char *h_helper(const char *name);
/* True when running as root (mounts, other uids, setuid files). */
bool h_is_root(void);

/* ---- memcached, the fleet's servers (Debian's memcached binary) ---------------- */
/* Whether `memcached --version` runs. */
bool h_have_memcached(void);
/* A memcached on the unix socket sock (64 MiB), up once the socket is
 * there (5 s); fails the test otherwise. */
void h_memcached_start(struct h_proc *p, const char *sock);
/* SIGKILL it (after SIGCONT, were it stopped) and reap it; idle when p has
 * no process. */
void h_memcached_kill(struct h_proc *p);
/* The value after "key " in a line of text (a tally line "a 1 b 2"), or -1. */
long long h_word_num(const char *text, const char *key);
/* Sum of the allocated bytes (st_blocks) of the objects in an instance
 * directory, and their number in *count (when not NULL). */
long long h_objects_bytes(const char *dir, int *count);

#endif
