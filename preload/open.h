/* open.h - how an open is treated, by its flags, for the open family
 * (open.c) and stdio (stdio.c).
 *
 * Only O_RDONLY opens with no flags beyond O_CLOEXEC, O_NONBLOCK, O_NOCTTY
 * and O_LARGEFILE are served from the tier; opens for writing (or with
 * O_CREAT, O_TRUNC, O_APPEND) change the file; O_DIRECTORY, O_PATH,
 * O_NOFOLLOW, O_TMPFILE, O_DIRECT, O_NOATIME, O_SYNC and unknown flags pass
 * through unchanged. */
#ifndef SHMCACHE_OPEN_H
#define SHMCACHE_OPEN_H

#include <fcntl.h>

#include "preload/sys.h"

/* The flags of an open served from the tier, and those of them the
 * object's open takes over (so a child after exec inherits the descriptor
 * exactly as it would the real file's). */
#define SHIM_OPEN_PASSED_ON (O_CLOEXEC | O_NONBLOCK | O_NOCTTY | SHIM_O_LARGEFILE)
#define SHIM_OPEN_SERVABLE (O_ACCMODE | SHIM_OPEN_PASSED_ON)

enum shim_open_class {
    SHIM_OPEN_PASS,             /* the real call, nothing else */
    SHIM_OPEN_SERVE,            /* read-only: from the tier if cached */
    SHIM_OPEN_MODIFY,           /* for writing: invalidate around the call */
};

static inline enum shim_open_class shim_open_class(int flags)
{
    int acc = flags & O_ACCMODE;

    if ((flags & O_TMPFILE) == O_TMPFILE || (flags & O_PATH) || acc == O_ACCMODE)
        return SHIM_OPEN_PASS;
    if (acc != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND)))
        return SHIM_OPEN_MODIFY;
    if (flags & ~SHIM_OPEN_SERVABLE)
        return SHIM_OPEN_PASS;
    return SHIM_OPEN_SERVE;
}

#endif
