/* test_snapshot.c - a listing's objects (shmd/snapshot.c, tier/listing.h):
 * a snapshot lists the source's names in the source's order with a node of
 * the right type each, its map gives back every source inode and type, a
 * snapshot a reader holds (shared flock) is not removed until released,
 * and what cannot be kept (a name listed twice, no "..") is refused with
 * nothing left behind. Sources are made by hand (struct snap_src), so the
 * order and inodes are the test's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shmd/snapshot.h"
#include "tier/index.h"
#include "tier/listing.h"

struct tfx {
    char dir[64];
    int dirfd;
    enum snap_order order;
};

static int setup(void **state)
{
    struct tfx *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/dev/shm/shmcache-snap-%d", (int)getpid());
    if (mkdir(t->dir, 0700) < 0 || (t->dirfd = open(t->dir, O_RDONLY | O_DIRECTORY)) < 0)
        return -1;
    t->order = snapshot_probe_order(t->dirfd);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tfx *t = *state;
    close(t->dirfd);
    int r = rmdir(t->dir); /* empty: every test removed what it made */
    free(t);
    return r;
}

static void add(struct snap_src *s, const char *name, uint64_t ino, uint8_t type)
{
    size_t len = strlen(name);
    s->v = realloc(s->v, (s->n + 1) * sizeof *s->v);
    s->names = realloc(s->names, s->bytes + len + 1);
    assert_non_null(s->v);
    assert_non_null(s->names);
    memcpy(s->names + s->bytes, name, len + 1);
    s->v[s->n++] = (struct snap_name){.ino = ino, .off = (uint32_t)s->bytes,
                                      .len = (uint16_t)len, .type = type};
    s->bytes += len + 1;
}

static void object_name(uint64_t id, char *name)
{
    tier_object_name(7, id, 3, name);
}

static void read_map(struct tfx *t, const char *name, struct tier_list_head *h,
                     struct tier_list_ent **e)
{
    char m[TIER_OBJECT_NAME_SIZE];
    tier_list_map_name(name, m);
    int fd = openat(t->dirfd, m, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0444);
    assert_int_equal(read(fd, h, sizeof *h), (ssize_t)sizeof *h);
    *e = malloc(h->count * sizeof **e);
    assert_non_null(*e);
    size_t n = h->count * sizeof **e;
    assert_int_equal(read(fd, *e, n), (ssize_t)n);
    assert_int_equal((size_t)st.st_size, tier_list_map_size(h->count));
    close(fd);
}

static bool exists(struct tfx *t, const char *name)
{
    return faccessat(t->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_order_probed(void **state)
{
    struct tfx *t = *state;
    /* this kernel's tmpfs (Linux 6.6 and later list in creation order) */
    assert_int_not_equal(t->order, SNAP_ORDER_NONE);
    assert_false(exists(t, "order-probe"));
}

static void test_build_lists_the_source(void **state)
{
    struct tfx *t = *state;
    struct snap_src s = {0};
    char name[TIER_OBJECT_NAME_SIZE];
    static const struct {
        const char *name;
        uint8_t type, mode_type;
    } want[] = {
        {"zeta", DT_REG, DT_REG}, {".", DT_DIR, DT_DIR}, {"alpha dir", DT_DIR, DT_DIR},
        {"link", DT_LNK, DT_LNK}, {"..", DT_DIR, DT_DIR}, {"pipe", DT_FIFO, DT_FIFO},
        {"sock", DT_SOCK, DT_SOCK}, {"dev", DT_CHR, DT_REG}, {"who\nknows", DT_UNKNOWN, DT_REG},
        {"m\xc3\xbc", DT_BLK, DT_REG},
    };
    size_t n = sizeof want / sizeof *want;
    for (size_t i = 0; i < n; i++)
        add(&s, want[i].name, 1000 + i, want[i].type);
    object_name(1, name);
    struct snap_made made;
    assert_int_equal(snapshot_build(t->dirfd, name, 42, &s, t->order, &made), 0);
    assert_int_equal(made.count, n);

    /* the snapshot: read-only, its names in the source's order (the dots
     * apart), a node of the source's type where tmpfs can make one */
    int sfd = openat(t->dirfd, name, O_RDONLY | O_DIRECTORY);
    assert_true(sfd >= 0);
    struct stat st;
    assert_int_equal(fstat(sfd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0555);
    assert_int_equal(st.st_ino, made.ino);
    assert_int_equal(st.st_ctim.tv_sec, made.ctime_sec);
    assert_int_equal(st.st_ctim.tv_nsec, made.ctime_nsec);
    DIR *d = fdopendir(sfd);
    assert_non_null(d);
    size_t next = 0;
    struct tier_list_head h;
    struct tier_list_ent *e;
    read_map(t, name, &h, &e);
    assert_int_equal(h.magic, TIER_LIST_MAGIC);
    assert_int_equal(h.object_id, 42);
    assert_int_equal(h.count, n);
    for (uint32_t i = 1; i < h.count; i++)
        assert_true(e[i - 1].snap_ino < e[i].snap_ino);
    for (struct dirent *de; (de = readdir(d));) {
        size_t i;
        for (i = 0; i < n && strcmp(want[i].name, de->d_name) != 0; i++)
            ;
        assert_true(i < n);
        /* the map gives the source's inode and type back */
        const struct tier_list_ent *m = tier_list_find(e, h.count, de->d_ino);
        assert_non_null(m);
        assert_int_equal(m->src_ino, 1000 + i);
        assert_int_equal(m->src_type, want[i].type);
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        while (strcmp(want[next].name, ".") == 0 || strcmp(want[next].name, "..") == 0)
            next++;
        assert_string_equal(de->d_name, want[next].name);
        assert_int_equal(de->d_type, want[i].mode_type);
        next++;
    }
    closedir(d);
    assert_int_equal(next, n);
    free(e);
    assert_int_equal(snapshot_remove(t->dirfd, name), 0);
    assert_false(exists(t, name));
    char m[TIER_OBJECT_NAME_SIZE];
    tier_list_map_name(name, m);
    assert_false(exists(t, m));
    snapshot_src_free(&s);
}

static void test_held_snapshot_stays(void **state)
{
    struct tfx *t = *state;
    struct snap_src s = {0};
    char name[TIER_OBJECT_NAME_SIZE];
    add(&s, ".", 1, DT_DIR);
    add(&s, "..", 2, DT_DIR);
    for (int i = 0; i < 50; i++) {
        char n[16];
        snprintf(n, sizeof n, "f%02d", i);
        add(&s, n, 10 + (uint64_t)i, DT_REG);
    }
    object_name(2, name);
    struct snap_made made;
    assert_int_equal(snapshot_build(t->dirfd, name, 43, &s, t->order, &made), 0);
    /* a reader, as a shim holds it */
    int rfd = openat(t->dirfd, name, O_RDONLY | O_DIRECTORY);
    assert_true(rfd >= 0);
    assert_int_equal(flock(rfd, LOCK_SH | LOCK_NB), 0);
    assert_int_equal(snapshot_remove(t->dirfd, name), 1);
    assert_true(exists(t, name));
    DIR *d = fdopendir(rfd);
    int names = 0;
    for (struct dirent *de; (de = readdir(d));)
        names++;
    assert_int_equal(names, 52); /* every name still there */
    closedir(d);                 /* and the lock with it */
    assert_int_equal(snapshot_remove(t->dirfd, name), 0);
    assert_false(exists(t, name));
    snapshot_src_free(&s);
}

static void test_what_cannot_be_kept(void **state)
{
    struct tfx *t = *state;
    char name[TIER_OBJECT_NAME_SIZE];
    struct snap_made made;
    struct snap_src twice = {0}, nodots = {0};
    add(&twice, ".", 1, DT_DIR);
    add(&twice, "..", 2, DT_DIR);
    add(&twice, "same", 3, DT_REG);
    add(&twice, "same", 4, DT_REG);
    object_name(3, name);
    errno = 0;
    assert_int_equal(snapshot_build(t->dirfd, name, 44, &twice, t->order, &made), -1);
    assert_int_equal(errno, EILSEQ);
    assert_false(exists(t, name));
    /* a source that lists no "." or "..": the snapshot would show them */
    add(&nodots, "only", 5, DT_REG);
    object_name(4, name);
    errno = 0;
    assert_int_equal(snapshot_build(t->dirfd, name, 45, &nodots, t->order, &made), -1);
    assert_int_equal(errno, EILSEQ);
    assert_false(exists(t, name));
    char m[TIER_OBJECT_NAME_SIZE];
    tier_list_map_name(name, m);
    assert_false(exists(t, m));
    snapshot_src_free(&twice);
    snapshot_src_free(&nodots);
}

static void test_read_a_directory(void **state)
{
    struct tfx *t = *state;
    struct snap_src s = {0};
    char path[128];
    snprintf(path, sizeof path, "%s/src", t->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    for (int i = 0; i < 5; i++) {
        char f[160];
        snprintf(f, sizeof f, "%s/f%d", path, i);
        int fd = open(f, O_WRONLY | O_CREAT, 0644);
        assert_true(fd >= 0);
        close(fd);
    }
    assert_int_equal(snapshot_read(path, &s), 0);
    assert_int_equal(s.n, 7);
    for (size_t i = 0; i < s.n; i++) {
        char f[256];
        struct stat st;
        snprintf(f, sizeof f, "%s/%s", path, s.names + s.v[i].off);
        assert_int_equal(lstat(f, &st), 0);
        assert_int_equal(st.st_ino, s.v[i].ino);
    }
    snapshot_src_free(&s);
    char f[160];
    for (int i = 0; i < 5; i++) {
        snprintf(f, sizeof f, "%s/f%d", path, i);
        unlink(f);
    }
    rmdir(path);
    errno = 0;
    assert_int_equal(snapshot_read(path, &s), -1);
    assert_int_equal(errno, ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_probed),
        cmocka_unit_test(test_build_lists_the_source),
        cmocka_unit_test(test_held_snapshot_stays),
        cmocka_unit_test(test_what_cannot_be_kept),
        cmocka_unit_test(test_read_a_directory),
    };
    return cmocka_run_group_tests_name("unit: listing snapshots", tests, setup, teardown);
}
