/* log.h - shmd's log: one line per event on stderr, "shmd[PID]: LEVEL:
 * message", for the terminal or the journal that collects a service's
 * stderr. The levels are named once, here and in log.c, for both the lines
 * and the --log-level option. Any thread may log; lines are written whole
 * (one fprintf of a formatted buffer). */
#ifndef SHMCACHE_SHMD_LOG_H
#define SHMCACHE_SHMD_LOG_H

enum shmd_log_level {
    SHMD_LOG_ERROR,            /* the daemon cannot do what it was asked */
    SHMD_LOG_WARN,             /* trouble in the tier: no space, a stuck thread */
    SHMD_LOG_INFO,             /* what an operator may want to know (the default) */
    SHMD_LOG_DEBUG,            /* every load, refusal and revival */
    SHMD_LOG_LEVELS
};

/* Lines above this level are not printed. Set before any thread starts
 * (shmd_run), read-only after. */
extern int shmd_log_level;

void shmd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The level called name ("error", "warning", "info", "debug"), or -1. */
int shmd_log_level_parse(const char *name);

/* From now on log to the file path (appended; --log-file) instead of the
 * stderr inherited, which is closed: it may be a pipe or a terminal of
 * whoever started the daemon. Returns 0, or -1 with errno (stderr kept). */
int shmd_log_to_file(const char *path);

/* Keep the log file below SHMD_LOG_FILE_MAX: past it the file moves to
 * PATH.1 (replacing the older one) and a new one starts. Main loop, now
 * and then. */
#define SHMD_LOG_FILE_MAX (1u << 20)
void shmd_log_rotate(void);

#endif
