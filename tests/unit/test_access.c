/* test_access.c - who may be served a hit without asking the kernel:
 * shmd_access (shmd/access.c) classifying a real tree, and the shim's two
 * sure cases (tier/access.h).
 *
 * The rule users rely on: a hit is served without a kernel check only when
 * the recorded bits grant read access to every process of the uid (all r
 * bits on the file, all x bits on every directory above, no ACL) or to the
 * process as the owner of the file and of every directory not open to all;
 * anything else makes the shim ask the kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "shmd/access.h"
#include "tier/access.h"

static char g_root[256];
static uint64_t g_epoch = 1000; /* a new epoch per call: no remembered verdict */

static const char *at(const char *rel)
{
    static char buf[4][512];
    static unsigned n;
    char *b = buf[n++ % 4];
    snprintf(b, 512, "%s%s%s", g_root, rel[0] ? "/" : "", rel);
    return b;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_root, sizeof g_root, "/tmp/shmcache-access-XXXXXX");
    if (!mkdtemp(g_root))
        return -1;
    chmod(g_root, 0755);
    if (mkdir(at("a"), 0755) < 0 || mkdir(at("a/b"), 0755) < 0)
        return -1;
    int fd = open(at("a/b/f"), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return -1;
    close(fd);
    chmod(at("a/b/f"), 0644);
    return symlink(at("a"), at("link"));
}

static int teardown(void **state)
{
    (void)state;
    chmod(at("a"), 0755);
    unlink(at("link"));
    unlink(at("a/b/f"));
    rmdir(at("a/b"));
    rmdir(at("a"));
    rmdir(g_root);
    return 0;
}

struct verdict {
    uint32_t access, dirs_uid;
    struct tier_entry e;
};

/* Classify rel (its file mode taken from the tree) as shmd would. */
static struct verdict classify(const char *rel)
{
    struct verdict v;
    struct stat st;
    const char *p = at(rel);
    assert_int_equal(stat(p, &st), 0);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    shmd_access(p, strlen(p), fd, (uint64_t)st.st_dev, st.st_mode, g_epoch++, &v.access, &v.dirs_uid);
    close(fd);
    memset(&v.e, 0, sizeof v.e);
    v.e.st.mode = st.st_mode;
    v.e.st.uid = st.st_uid;
    v.e.st.gid = st.st_gid;
    v.e.access = v.access;
    v.e.dirs_uid = v.dirs_uid;
    return v;
}

static void test_open_tree_is_public(void **state)
{
    (void)state;
    struct verdict v = classify("a/b/f");
    /* "/", /tmp (1777) and our 0755 directories: all x bits */
    assert_int_equal(v.access, TIER_ACCESS_DIRS_OPEN);
    assert_int_equal(v.dirs_uid, TIER_UID_NONE);
    assert_true(tier_access_public(&v.e));
    assert_true(tier_access_owner(&v.e, (uint32_t)geteuid()));
}

static void test_private_file_only_owner(void **state)
{
    (void)state;
    assert_int_equal(chmod(at("a/b/f"), 0600), 0);
    struct verdict v = classify("a/b/f");
    assert_false(tier_access_public(&v.e));
    assert_true(tier_access_owner(&v.e, (uint32_t)geteuid()));
    assert_false(tier_access_owner(&v.e, (uint32_t)geteuid() + 1));
    /* 0640: members of the group may read, but which process is one is
     * the kernel's to say */
    assert_int_equal(chmod(at("a/b/f"), 0640), 0);
    v = classify("a/b/f");
    assert_false(tier_access_public(&v.e));
    /* the owner without its r bit: never sure */
    assert_int_equal(chmod(at("a/b/f"), 0044), 0);
    v = classify("a/b/f");
    assert_false(tier_access_public(&v.e));
    assert_false(tier_access_owner(&v.e, (uint32_t)geteuid()));
    assert_int_equal(chmod(at("a/b/f"), 0644), 0);
}

static void test_private_directory(void **state)
{
    (void)state;
    uint32_t me = (uint32_t)geteuid();

    assert_int_equal(chmod(at("a"), 0700), 0);
    struct verdict v = classify("a/b/f");
    assert_int_equal(v.access & TIER_ACCESS_DIRS_OPEN, 0);
    assert_int_equal(v.dirs_uid, me);
    assert_false(tier_access_public(&v.e)); /* the file is 0644, the directory is not */
    assert_true(tier_access_owner(&v.e, me));
    assert_false(tier_access_owner(&v.e, me + 1));

    /* 0711 has all x bits: open again */
    assert_int_equal(chmod(at("a"), 0711), 0);
    v = classify("a/b/f");
    assert_int_equal(v.access, TIER_ACCESS_DIRS_OPEN);

    /* a directory its owner cannot search: nobody is sure */
    assert_int_equal(chmod(at("a"), 0655), 0);
    v = classify("a/b/f");
    assert_int_equal(v.dirs_uid, TIER_UID_NONE);
    assert_false(tier_access_owner(&v.e, me));
    assert_int_equal(chmod(at("a"), 0755), 0);
}

static void test_symlinked_directory_walks_the_target(void **state)
{
    (void)state;
    /* link -> a: the kernel searches a, so a's mode decides */
    assert_int_equal(chmod(at("a"), 0700), 0);
    struct verdict v = classify("link/b/f");
    assert_int_equal(v.access & TIER_ACCESS_DIRS_OPEN, 0);
    assert_int_equal(v.dirs_uid, (uint32_t)geteuid());
    assert_int_equal(chmod(at("a"), 0755), 0);
    v = classify("link/b/f");
    assert_int_equal(v.access, TIER_ACCESS_DIRS_OPEN);
}

static void test_remembered_per_epoch(void **state)
{
    (void)state;
    const char *p = at("a/b/f");
    uint32_t access, uid;

    shmd_access(p, strlen(p), -1, 0, 0644, 7, &access, &uid);
    assert_int_equal(access, TIER_ACCESS_DIRS_OPEN);
    assert_int_equal(chmod(at("a"), 0700), 0);
    /* same epoch, within the second: the remembered verdict */
    shmd_access(p, strlen(p), -1, 0, 0644, 7, &access, &uid);
    assert_int_equal(access, TIER_ACCESS_DIRS_OPEN);
    /* the epoch moved (a directory changed through a shim): walked again */
    shmd_access(p, strlen(p), -1, 0, 0644, 8, &access, &uid);
    assert_int_equal(access, 0);
    assert_int_equal(chmod(at("a"), 0755), 0);
}

/* A POSIX ACL (user:65534:---) written as the kernel's xattr format. */
static int set_acl(const char *p)
{
    struct { uint16_t tag, perm; uint32_t id; } __attribute__((packed)) e[] = {
        {0x01, 6, 0xffffffffu},  /* ACL_USER_OBJ rw- */
        {0x02, 0, 65534},        /* ACL_USER nobody --- */
        {0x04, 5, 0xffffffffu},  /* ACL_GROUP_OBJ r-x */
        {0x10, 5, 0xffffffffu},  /* ACL_MASK r-x */
        {0x20, 5, 0xffffffffu},  /* ACL_OTHER r-x */
    };
    unsigned char buf[4 + sizeof e];
    uint32_t version = 2;
    memcpy(buf, &version, 4);
    memcpy(buf + 4, e, sizeof e);
    return setxattr(p, "system.posix_acl_access", buf, sizeof buf, 0);
}

static void test_acl_is_not_public(void **state)
{
    (void)state;
    if (set_acl(at("a/b/f")) < 0) {
        print_message("    skipped: no POSIX ACLs here (%s)\n", strerror(errno));
        skip();
    }
    struct verdict v = classify("a/b/f");
    assert_true(v.access & TIER_ACCESS_FILE_ACL);
    assert_false(tier_access_public(&v.e)); /* nobody is denied by the ACL */
    assert_true(tier_access_owner(&v.e, (uint32_t)geteuid()));
    assert_int_equal(removexattr(at("a/b/f"), "system.posix_acl_access"), 0);

    assert_int_equal(set_acl(at("a")), 0);
    v = classify("a/b/f");
    assert_int_equal(v.access & TIER_ACCESS_DIRS_OPEN, 0);
    assert_false(tier_access_public(&v.e));
    assert_int_equal(removexattr(at("a"), "system.posix_acl_access"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_tree_is_public),
        cmocka_unit_test(test_private_file_only_owner),
        cmocka_unit_test(test_private_directory),
        cmocka_unit_test(test_symlinked_directory_walks_the_target),
        cmocka_unit_test(test_remembered_per_epoch),
        cmocka_unit_test(test_acl_is_not_public),
    };
    return cmocka_run_group_tests_name("unit: access", tests, setup, teardown);
}
