/* access.h - may a hit be served to this process without asking the
 * kernel? (see TIER_ACCESS_* in layout.h)
 *
 * The kernel grants read access to the file of an entry when the file's
 * mode (or ACL) lets the process read it and every directory above it lets
 * the process search it. shmd recorded, at load time, the file's mode and
 * owner (st), whether every directory above has all three x bits and no
 * ACL (TIER_ACCESS_DIRS_OPEN), and otherwise the single owner of the
 * directories that do not, each searchable by its owner (dirs_uid). From
 * those, two cases are sure for every process, whatever its groups and
 * capabilities (which only ever add access):
 *  - everyone: the file has all three r bits and no ACL, the directories
 *    are open;
 *  - the owner: the process's euid owns the file, which has its owner r
 *    bit (an ACL never changes the owner's class), and owns every
 *    directory that is not open.
 * Anything else is not a denial: the shim asks the kernel
 * (faccessat(AT_EACCESS)) before serving. Not modelled: LSM policies
 * (SELinux, AppArmor) and NFSv4 ACLs, which may refuse what the bits grant. */
#ifndef SHMCACHE_ACCESS_H
#define SHMCACHE_ACCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "tier/index.h"

#define TIER_ALL_R (S_IRUSR | S_IRGRP | S_IROTH)

/* True when e may be read by every process. */
static inline bool tier_access_public(const struct tier_entry *e)
{
    return (e->st.mode & TIER_ALL_R) == TIER_ALL_R && (e->access & TIER_ACCESS_DIRS_OPEN) &&
           !(e->access & TIER_ACCESS_FILE_ACL);
}

/* True when e may be read by a process with effective uid euid as owner. */
static inline bool tier_access_owner(const struct tier_entry *e, uint32_t euid)
{
    return e->st.uid == euid && (e->st.mode & S_IRUSR) &&
           ((e->access & TIER_ACCESS_DIRS_OPEN) || e->dirs_uid == euid);
}

#endif
