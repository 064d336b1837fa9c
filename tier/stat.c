/* stat.c - struct stat <-> struct tier_stat (see stat.h). */
#include <string.h>
#include <sys/sysmacros.h>

#include "tier/stat.h"

void tier_stat_from(struct tier_stat *t, const struct stat *st)
{
    t->dev = (uint64_t)st->st_dev;
    t->ino = (uint64_t)st->st_ino;
    t->nlink = (uint64_t)st->st_nlink;
    t->size = (uint64_t)st->st_size;
    t->blocks = (uint64_t)st->st_blocks;
    t->rdev = (uint64_t)st->st_rdev;
    t->mode = (uint32_t)st->st_mode;
    t->uid = (uint32_t)st->st_uid;
    t->gid = (uint32_t)st->st_gid;
    t->blksize = (uint32_t)st->st_blksize;
    t->atime_sec = (int64_t)st->st_atim.tv_sec;
    t->atime_nsec = (int64_t)st->st_atim.tv_nsec;
    t->mtime_sec = (int64_t)st->st_mtim.tv_sec;
    t->mtime_nsec = (int64_t)st->st_mtim.tv_nsec;
    t->ctime_sec = (int64_t)st->st_ctim.tv_sec;
    t->ctime_nsec = (int64_t)st->st_ctim.tv_nsec;
    t->btime_sec = 0;
    t->btime_nsec = -1; /* struct stat has none */
    t->statx_mask = 0;  /* nor the rest of what statx tells */
    t->reserved = 0;
    t->mnt_id = t->attributes = t->attributes_mask = 0;
}

void tier_stat_to(const struct tier_stat *t, struct stat *st)
{
    st->st_dev = (dev_t)t->dev;
    st->st_ino = (ino_t)t->ino;
    st->st_nlink = (nlink_t)t->nlink;
    st->st_size = (off_t)t->size;
    st->st_blocks = (blkcnt_t)t->blocks;
    st->st_rdev = (dev_t)t->rdev;
    st->st_mode = (mode_t)t->mode;
    st->st_uid = (uid_t)t->uid;
    st->st_gid = (gid_t)t->gid;
    st->st_blksize = (blksize_t)t->blksize;
    st->st_atim.tv_sec = (time_t)t->atime_sec;
    st->st_atim.tv_nsec = (long)t->atime_nsec;
    st->st_mtim.tv_sec = (time_t)t->mtime_sec;
    st->st_mtim.tv_nsec = (long)t->mtime_nsec;
    st->st_ctim.tv_sec = (time_t)t->ctime_sec;
    st->st_ctim.tv_nsec = (long)t->ctime_nsec;
}

void tier_stat_to_statx(const struct tier_stat *t, struct statx *x)
{
    unsigned m = x->stx_mask;

    if (m & STATX_TYPE)
        x->stx_mode = (uint16_t)((x->stx_mode & 07777) | (t->mode & S_IFMT));
    if (m & STATX_MODE)
        x->stx_mode = (uint16_t)((x->stx_mode & S_IFMT) | (t->mode & 07777));
    if (m & STATX_NLINK)
        x->stx_nlink = (uint32_t)t->nlink;
    if (m & STATX_UID)
        x->stx_uid = t->uid;
    if (m & STATX_GID)
        x->stx_gid = t->gid;
    if (m & STATX_INO)
        x->stx_ino = t->ino;
    if (m & STATX_SIZE)
        x->stx_size = t->size;
    if (m & STATX_BLOCKS)
        x->stx_blocks = t->blocks;
    if (m & STATX_ATIME) {
        x->stx_atime.tv_sec = t->atime_sec;
        x->stx_atime.tv_nsec = (uint32_t)t->atime_nsec;
    }
    if (m & STATX_MTIME) {
        x->stx_mtime.tv_sec = t->mtime_sec;
        x->stx_mtime.tv_nsec = (uint32_t)t->mtime_nsec;
    }
    if (m & STATX_CTIME) {
        x->stx_ctime.tv_sec = t->ctime_sec;
        x->stx_ctime.tv_nsec = (uint32_t)t->ctime_nsec;
    }
    if ((m & STATX_BTIME) && t->btime_nsec >= 0) {
        x->stx_btime.tv_sec = t->btime_sec;
        x->stx_btime.tv_nsec = (uint32_t)t->btime_nsec;
    } else {
        m &= ~(unsigned)STATX_BTIME;
    }
    x->stx_mask = m;
    x->stx_blksize = t->blksize;
    x->stx_dev_major = major((dev_t)t->dev);
    x->stx_dev_minor = minor((dev_t)t->dev);
    x->stx_rdev_major = major((dev_t)t->rdev);
    x->stx_rdev_minor = minor((dev_t)t->rdev);
}

bool tier_stat_same(const struct tier_stat *a, const struct tier_stat *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
           a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

bool tier_stat_statx_known(const struct tier_stat *t, unsigned mask)
{
    return t->statx_mask && !(mask & ~(unsigned)TIER_STATX_RECORDED);
}

void tier_stat_fill_statx(const struct tier_stat *t, unsigned mask, struct statx *x)
{
    memset(x, 0, sizeof *x);
    /* the kernel answers the basic fields and the mount id whatever was
     * asked, the birth time only when asked */
    x->stx_mask = (t->statx_mask & ~(unsigned)STATX_BTIME) | (mask & STATX_BTIME);
    tier_stat_to_statx(t, x);
    x->stx_attributes = t->attributes;
    x->stx_attributes_mask = t->attributes_mask;
    if (t->statx_mask & STATX_MNT_ID)
        x->stx_mnt_id = t->mnt_id;
}
