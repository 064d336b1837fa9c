/* log.c - the log line and the level names (see log.h). */
#include <stdarg.h>
#include <stdio.h>
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

int shmd_log_level_parse(const char *name)
{
    for (int i = 0; i < SHMD_LOG_LEVELS; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}
