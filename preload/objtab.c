/* objtab.c - fstat of descriptors the shim handed out reports the source.
 *
 * On a hit the shim remembers (object dev, inode, ctime) -> the source's
 * stat in a small process-local table. Every fstat-like call first does the
 * real call; only if that describes a remembered object (all three equal:
 * the descriptor may have been closed and its number reused, or the object
 * unlinked and its inode reused) is the result replaced. Keyed by the
 * object, not the descriptor number, so dup, dup2 and fork need no tracking.
 *
 * A descriptor this process did not open itself (inherited across exec,
 * received over a socket, or pushed out of the 2-way table) is recognised
 * by its name: a regular file without write bits on the instance
 * directory's device is looked up through /proc/self/fd, whose target names
 * the object's record (tier_object_name); the record must still hold that
 * object, inode and ctime. Without /proc such a descriptor reports the copy
 * (its own inode and device, mode without write bits, its own ctime). */
#include <fcntl.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "preload/attach.h"
#include "preload/config.h"
#include "preload/hook.h"
#include "preload/log.h"
#include "preload/objtab.h"
#include "preload/real.h"
#include "tier/atomic.h"
#include "tier/clock.h"
#include "tier/seqlock.h"
#include "tier/stat.h"

#define SETS 1024              /* 2-way sets of remembered objects */
#define WAYS 2
#define DIR_DEV_RETRY_NS NS_PER_SEC

struct objrec {
    uint64_t seq;            /* seqlock; odd while a hook rewrites the record */
    uint64_t dev, ino;
    int64_t ctime_sec, ctime_nsec;
    struct tier_stat st;
};
#define REC_WORDS (sizeof(struct objrec) / 8)

static struct objrec g_obj[SETS][WAYS];
static int g_obj_used;
static unsigned g_obj_turn;

static unsigned set_of(uint64_t ino)
{
    return (unsigned)((ino * 0x9e3779b97f4a7c15ULL) >> 54) & (SETS - 1);
}

void shim_obj_remember(uint64_t dev, const struct tier_entry *e)
{
    struct objrec *set = g_obj[set_of(e->object_ino)];
    struct objrec rec = {
        .dev = dev, .ino = e->object_ino,
        .ctime_sec = e->object_ctime_sec, .ctime_nsec = e->object_ctime_nsec,
        .st = e->st,
    };
    int w = -1;

    for (int i = 0; i < WAYS; i++) {
        if (load_relaxed(&set[i].ino) != e->object_ino || load_relaxed(&set[i].dev) != dev)
            continue;
        if (load_relaxed(&set[i].ctime_sec) == e->object_ctime_sec &&
            load_relaxed(&set[i].ctime_nsec) == e->object_ctime_nsec &&
            !(load_relaxed(&set[i].seq) & 1))
            return; /* already remembered: a hot file costs no store here */
        w = i;
    }
    if (w < 0)
        w = (int)(fetch_add_relaxed(&g_obj_turn, 1) % WAYS);
    struct objrec *r = &set[w];
    if (!write_seqcount_try_begin(&r->seq))
        return; /* another thread (or a signal handler) is writing it */
    words_store_relaxed((uint64_t *)r + 1, (const uint64_t *)&rec + 1, REC_WORDS - 1);
    write_seqcount_end(&r->seq);
    if (!load_relaxed(&g_obj_used))
        store_relaxed(&g_obj_used, 1);
}

/* Find the source stat for object (dev, ino, ctime). */
static bool lookup(uint64_t dev, uint64_t ino, int64_t cs, int64_t cn, struct tier_stat *out)
{
    struct objrec *set = g_obj[set_of(ino)];
    struct objrec copy;

    for (int i = 0; i < WAYS; i++) {
        struct objrec *r = &set[i];
        if (load_relaxed(&r->ino) != ino)
            continue; /* the usual answer for a descriptor that is not ours */
        for (int tries = 0; tries < SEQ_READ_TRIES; tries++) {
            uint64_t s1;
            if (!read_seqcount_begin(&r->seq, &s1))
                continue;
            words_load_relaxed((uint64_t *)&copy, (const uint64_t *)r, REC_WORDS);
            if (read_seqcount_retry(&r->seq, s1))
                continue;
            if (copy.ino == ino && copy.dev == dev && copy.ctime_sec == cs &&
                copy.ctime_nsec == cn) {
                *out = copy.st;
                return true;
            }
            break;
        }
    }
    return false;
}

/* st_dev of the instance directory, 0 while unknown (looked up at most
 * once a second until the directory exists). */
static uint64_t g_dir_dev;
static uint64_t g_dir_dev_next_ns;

static uint64_t instance_dev(void)
{
    uint64_t dev = load_relaxed(&g_dir_dev);
    struct stat st;

    if (dev)
        return dev;
    uint64_t now = clock_ns(CLOCK_MONOTONIC_COARSE);
    if (now < load_relaxed(&g_dir_dev_next_ns))
        return 0;
    store_relaxed(&g_dir_dev_next_ns, now + DIR_DEV_RETRY_NS);
    if (REAL(stat)(shim_cfg.dir, &st) == 0)
        store_relaxed(&g_dir_dev, (uint64_t)st.st_dev);
    return load_relaxed(&g_dir_dev);
}

/* The slow way for a descriptor this process did not open: its name. */
static bool by_name(int fd, uint64_t dev, uint64_t ino, int64_t cs, int64_t cn, struct tier_stat *out)
{
    char link[SHIM_FD_LINK_SIZE], target[PATH_KEY_SIZE];
    uint64_t gen, id;
    uint32_t rec;
    struct tier_entry e;
    bool ok = false;

    ssize_t len = REAL(readlink)(shim_fd_link(fd, link), target, TIER_PATH_MAX - 1);
    size_t dl = strlen(shim_cfg.dir);
    if (len <= 0 || (size_t)len <= dl + 1)
        return false;
    target[len] = '\0';
    if (memcmp(target, shim_cfg.dir, dl) != 0 || target[dl] != '/' ||
        !tier_object_parse(target + dl + 1, &gen, &id, &rec))
        return false;
    struct shim_attach *a = shim_enter(false);
    if (!a)
        return false;
    if (a->view.generation == gen && a->dev == dev && tier_record_get(&a->view, rec, id, &e) &&
        e.object_ino == ino && e.object_ctime_sec == cs && e.object_ctime_nsec == cn) {
        *out = e.st;
        shim_obj_remember(dev, &e);
        ok = true;
    }
    shim_leave(a);
    return ok;
}

/* The source's stat for the object described by (dev, ino, ctime, mode),
 * open as fd (-1: unknown). */
static bool source_of(int fd, uint64_t dev, uint64_t ino, int64_t cs, int64_t cn, uint32_t mode,
                      struct tier_stat *t)
{
    if (!S_ISREG(mode))
        return false;
    if (load_relaxed(&g_obj_used) && lookup(dev, ino, cs, cn, t))
        return true;
    /* objects have no write bits: the cheap filter before any system call */
    if (fd < 0 || (mode & 0222) || instance_dev() != dev)
        return false;
    return by_name(fd, dev, ino, cs, cn, t);
}

void shim_fix_stat(int fd, struct stat *st)
{
    struct tier_stat t;

    /* the common answer first: not a regular file, or writable and no
     * object ever handed out here */
    if (!S_ISREG(st->st_mode) || ((st->st_mode & 0222) && !load_relaxed(&g_obj_used)))
        return;
    if (source_of(fd, (uint64_t)st->st_dev, (uint64_t)st->st_ino, (int64_t)st->st_ctim.tv_sec,
                  (int64_t)st->st_ctim.tv_nsec, st->st_mode, &t))
        tier_stat_to(&t, st);
}

void shim_fix_statx(int fd, struct statx *x)
{
    struct tier_stat t;
    const unsigned need = STATX_INO | STATX_CTIME | STATX_TYPE | STATX_MODE;

    if ((x->stx_mask & need) != need)
        return;
    uint64_t dev = (uint64_t)makedev(x->stx_dev_major, x->stx_dev_minor);
    if (source_of(fd, dev, x->stx_ino, x->stx_ctime.tv_sec, x->stx_ctime.tv_nsec, x->stx_mode, &t))
        tier_stat_to_statx(&t, x);
}

