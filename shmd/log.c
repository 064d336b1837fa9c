/* log.c - the log line and the level names (see log.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "shmd/log.h"

static const char *const level_names[SHMD_LOG_LEVELS] = {
    [SHMD_LOG_ERROR] = "error",
    [SHMD_LOG_WARN] = "warning",
    [SHMD_LOG_INFO] = "info",
    [SHMD_LOG_DEBUG] = "debug",
};

int shmd_log_level = SHMD_LOG_INFO;

void shmd_log(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (level > shmd_log_level || level < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "shmd[%d]: %s: %s\n", (int)getpid(), level_names[level], msg);
}

static const char *g_log_file; /* --log-file, once it is stderr */

static int open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int r = dup2(fd, STDERR_FILENO);
    int e = errno;
    close(fd);
    errno = e;
    return r < 0 ? -1 : 0;
}

int shmd_log_to_file(const char *path)
{
    if (open_log(path) < 0)
        return -1;
    g_log_file = path;
    shmd_log_rotate();
    return 0;
}

void shmd_log_rotate(void)
{
    struct stat st;
    char old[4200];

    if (!g_log_file || fstat(STDERR_FILENO, &st) < 0 || st.st_size < (off_t)SHMD_LOG_FILE_MAX)
        return;
    snprintf(old, sizeof old, "%s.1", g_log_file);
    if (rename(g_log_file, old) == 0)
        open_log(g_log_file);
}

int shmd_log_level_parse(const char *name)
{
    for (int i = 0; i < SHMD_LOG_LEVELS; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}
