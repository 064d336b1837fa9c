/* test_consistency.c - the tier never hides a change for longer than the
 * design allows:
 *   - a write through the shim (open O_TRUNC/O_APPEND, a write in place,
 *     rename over, unlink, truncate, a directory renamed), by whatever name
 *     the program uses for the path (relative, "..", "//", a directory
 *     descriptor), is seen by the next open in the same process and in
 *     every other process, including one that was already running. These
 *     tests run the daemon with --revalidate-ms 0 (never revalidate), so
 *     only the shim's own invalidation can make them pass;
 *   - a change made behind the cache (by a program without the shim) is
 *     served within --revalidate-ms plus one pass; before it, hits were
 *     being served;
 *   - with SHMCACHE_VALIDATE=open a change behind the cache is seen at
 *     once, even by a daemon that never revalidates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"

#define REVALIDATE_MS 200

static const char *const immutable_args[] = {"--settle-ms", "0", "--revalidate-ms", "0",
                                             "--capacity", "64M", "--log-level", "debug", NULL};

static int setup_immutable(void **state)
{
    return h_fix_new(state, immutable_args, true) ? 0 : -1;
}

/* Cache path and prove it is being served from the tier. */
static void cache_and_check_hit(struct h_fix *f, const char *path)
{
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", path, "+", "wait-tier", path, f->d.dir, "5000"));
    h_assert_ok(&r, h_fmt("caching %s", path));
    h_result_free(&r);
    long long hits = h_stat(&f->d, "hits");
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", path));
    h_assert_ok(&r, "probe where");
    r.out[strcspn(r.out, "\n")] = '\0';
    h_assert_in_tier(r.out, f->d.dir, "before the change");
    assert_int_equal(h_stat(&f->d, "hits"), hits + 1);
    h_result_free(&r);
}

/* A fresh shimmed process reads path: its bytes must be want. */
static void expect_content(struct h_fix *f, const char *path, const void *want, size_t n,
                           const char *what)
{
    struct h_result r;
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", path));
    h_assert_ok(&r, what);
    h_assert_bytes(r.out, r.out_len, want, n, what);
    h_result_free(&r);
}

static void expect_errno(struct h_fix *f, const char *const *extra, const char *path,
                         const char *want, const char *what)
{
    struct h_result r;
    h_shim(f, &r, extra, H_ARGV(h_probe(), "errno", path));
    h_assert_ok(&r, what);
    if (strcmp(r.out, h_fmt("%s\n", want)) != 0)
        fail_msg("%s: open gave %s, expected %s", what, r.out, want);
    h_result_free(&r);
}

/* ---- writes through the shim ------------------------------------------------ */
static void test_trunc_write_same_process(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "text.txt");
    const char *text = "rewritten through the shim\n";
    char l[H_PATH_MAX];
    struct h_result r;

    cache_and_check_hit(f, p);
    /* (the open after the write may already be a hit on the new version,
     * if the daemon was quick: only its bytes are checked) */
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "where", p, "+", "trunc-write", p, text, "+", "cat", p,
                              "+", "cat", p));
    h_assert_ok(&r, "where + trunc-write + cat + cat");
    h_assert_in_tier(h_line_of(r.out, 0, l, sizeof l) ? l : "(nothing)", f->d.dir,
                     "open before the write");
    for (int i = 1; i <= 2; i++)
        if (!h_line_of(r.out, i, l, sizeof l) || strcmp(l, "rewritten through the shim") != 0)
            fail_msg("the writer's open %d after the write read \"%s\", not what it wrote", i,
                     h_line_of(r.out, i, l, sizeof l) ? l : "(nothing)");
    h_result_free(&r);

    expect_content(f, p, text, strlen(text), "another process after the write");
    /* and the new version is cached and served in its turn */
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "wait-tier", p, f->d.dir, "5000", "+", "cat", p));
    h_assert_ok(&r, "wait until the new version is served from the tier");
    const char *nl = strchr(r.out, '\n');
    h_assert_bytes(nl + 1, r.out_len - (size_t)(nl + 1 - r.out), text, strlen(text),
                   "the new version from the tier");
    h_result_free(&r);
    H_PASS(f);
}

static void test_append_and_truncate(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "page.bin");
    const struct h_file *file = h_std("page.bin");
    unsigned char *orig = h_file_bytes(file);
    struct h_result r;

    cache_and_check_hit(f, p);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "append", p, "TAIL", "+", "cat", p));
    h_assert_ok(&r, "append + cat");
    unsigned char *want = malloc(file->size + 4);
    memcpy(want, orig, file->size);
    memcpy(want + file->size, "TAIL", 4);
    h_assert_bytes(r.out, r.out_len, want, file->size + 4, "cat after O_APPEND in the writer");
    h_result_free(&r);
    expect_content(f, p, want, file->size + 4, "another process after O_APPEND");

    cache_and_check_hit(f, p);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "truncate", p, "1000", "+", "cat", p));
    h_assert_ok(&r, "truncate + cat");
    h_assert_bytes(r.out, r.out_len, orig, 1000, "cat after truncate(2) in the writer");
    h_result_free(&r);
    expect_content(f, p, orig, 1000, "another process after truncate(2)");
    free(want);
    free(orig);
    H_PASS(f);
}

static void test_rename_over(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "k100.bin");
    const char *np = h_src(f, "replacement.new");
    const struct h_file *file = h_std("k100.bin");
    unsigned char *orig = h_file_bytes(file);
    const char *text = "the replacement, renamed over the cached file\n";
    struct h_result r;

    cache_and_check_hit(f, p);
    assert_int_equal(h_write_str(np, text), 0);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "cat", p, "+", "rename", np, p, "+", "cat", p));
    h_assert_ok(&r, "cat + rename + cat");
    unsigned char *want = malloc(file->size + strlen(text));
    memcpy(want, orig, file->size);
    memcpy(want + file->size, text, strlen(text));
    h_assert_bytes(r.out, r.out_len, want, file->size + strlen(text),
                   "old bytes, then the replacement");
    h_result_free(&r);
    expect_content(f, p, text, strlen(text), "another process after rename");
    expect_errno(f, NULL, np, "ENOENT", "the old name after rename");
    free(want);
    free(orig);
    H_PASS(f);
}

static void test_unlink(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "one");
    struct h_result r;

    cache_and_check_hit(f, p);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "errno", p, "+", "unlink", p, "+", "errno", p, "+",
                              "errno", p, "f"));
    h_assert_ok(&r, "errno + unlink + errno");
    assert_string_equal(r.out, "OK\nENOENT\nENOENT\n");
    h_result_free(&r);
    expect_errno(f, NULL, p, "ENOENT", "another process after unlink");
    H_PASS(f);
}

/* Write through the shim by another name for the same path, then read
 * the plain name in the same process and in another one. write_argv is
 * the probe command (without the probe itself) that writes text. */
static void write_by_other_name(struct h_fix *f, const char *const *write_argv,
                                const char *text, const char *what)
{
    const char *p = h_src(f, "text.txt");
    const char *argv[32];
    int k = 0;
    struct h_result r;

    cache_and_check_hit(f, p);
    argv[k++] = h_probe();
    for (; *write_argv; write_argv++)
        argv[k++] = *write_argv;
    argv[k++] = "+";
    argv[k++] = "cat";
    argv[k++] = p;
    argv[k] = NULL;
    h_shim(f, &r, NULL, argv);
    h_assert_ok(&r, what);
    h_assert_bytes(r.out, r.out_len, text, strlen(text),
                   h_fmt("%s: the writer's next open of %s", what, p));
    h_result_free(&r);
    expect_content(f, p, text, strlen(text), h_fmt("%s: another process", what));
}

static void test_write_via_dotdot_path(void **state)
{
    struct h_fix *f = *state;
    const char *text = "written through sub/../text.txt\n";
    write_by_other_name(f, H_ARGV("trunc-write", h_src(f, "sub/../text.txt"), text), text,
                        "open(\"DIR/sub/../text.txt\", O_WRONLY|O_TRUNC)");
    H_PASS(f);
}

static void test_fopen_write_via_dotdot_path(void **state)
{
    struct h_fix *f = *state;
    const char *text = "fopen(\"w\") through sub/../text.txt\n";
    write_by_other_name(f, H_ARGV("fwrite", h_src(f, "sub/../text.txt"), "w", text), text,
                        "fopen(\"DIR/sub/../text.txt\", \"w\")");
    H_PASS(f);
}

static void test_write_via_openat_dirfd(void **state)
{
    struct h_fix *f = *state;
    const char *text = "written with openat(dirfd, \"text.txt\")\n";
    write_by_other_name(f, H_ARGV("openat-write", f->src, "text.txt", text), text,
                        "openat(dirfd, \"text.txt\", O_WRONLY|O_CREAT|O_TRUNC)");
    H_PASS(f);
}

static void test_write_via_relative_and_unnormal_paths(void **state)
{
    struct h_fix *f = *state;
    const char *t1 = "written relative to the current directory\n";
    write_by_other_name(f, H_ARGV("cd", f->src, "+", "trunc-write", "text.txt", t1), t1,
                        "chdir + open(\"text.txt\", O_WRONLY|O_TRUNC)");
    const char *t2 = "written through //text.txt\n";
    write_by_other_name(f, H_ARGV("trunc-write", h_fmt("%s//./text.txt", f->src), t2), t2,
                        "open(\"DIR//./text.txt\", O_WRONLY|O_TRUNC)");
    /* in place, the same size: r+ neither truncates nor extends */
    const char *t3 = "fopen(\"r+\") overwrites\n";
    const char *same_size = "xxxxxxxxxxxxxxxxxxxxxx\n";
    assert_int_equal(strlen(t3), strlen(same_size));
    write_by_other_name(f, H_ARGV("trunc-write", h_src(f, "text.txt"), same_size, "+", "fwrite",
                                  h_src(f, "text.txt"), "r+", t3), t3, "fopen(\"r+\")");
    H_PASS(f);
}

/* The same size, written in place without truncation: nothing about the
 * source's size tells the versions apart. */
static void test_pwrite_same_size(void **state)
{
    struct h_fix *f = *state;
    const struct h_file *file = h_std("page.bin");
    const char *p = h_src(f, file->name);
    unsigned char *want = h_file_bytes(file);
    struct h_result r;

    cache_and_check_hit(f, p);
    memcpy(want + 100, "OVERWRITTEN", 11);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "pwrite", p, "100", "OVERWRITTEN", "+", "cat", p));
    h_assert_ok(&r, "pwrite + cat");
    h_assert_bytes(r.out, r.out_len, want, file->size, "the writer's next open after pwrite");
    h_result_free(&r);
    expect_content(f, p, want, file->size, "another process after pwrite");
    h_sleep_ms(1200); /* past the daemon's revival age: still the new bytes */
    expect_content(f, p, want, file->size, "another process 1.2 s after pwrite");
    free(want);
    H_PASS(f);
}

/* Renaming a directory moves every cached file below it. */
static void test_rename_directory(void **state)
{
    struct h_fix *f = *state;
    const struct h_file *file = h_std("sub/dir/nested.bin");
    const char *p = h_src(f, file->name);
    const char *text = "the nested file of the replacement tree\n";
    struct h_result r;

    assert_int_equal(h_mkdirs(h_src(f, "alt/dir"), 0755), 0);
    assert_int_equal(h_write_str(h_src(f, "alt/dir/nested.bin"), text), 0);
    cache_and_check_hit(f, p);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "rename", h_src(f, "sub"), h_src(f, "old"), "+",
                              "errno", p, "+", "rename", h_src(f, "alt"), h_src(f, "sub"), "+",
                              "cat", p));
    h_assert_ok(&r, "rename sub away, rename alt to sub");
    assert_memory_equal(r.out, "ENOENT\n", 7);
    h_assert_bytes(r.out + 7, r.out_len - 7, text, strlen(text),
                   "the nested file after its directory was replaced");
    h_result_free(&r);
    expect_content(f, p, text, strlen(text), "another process after the directory renames");
    unsigned char *old = h_file_bytes(file);
    expect_content(f, h_src(f, "old/dir/nested.bin"), old, file->size, "the moved file");
    free(old);
    H_PASS(f);
}

static void test_unlinkat_dirfd(void **state)
{
    struct h_fix *f = *state;
    const char *p = h_src(f, "sub/dir/nested.bin");
    struct h_result r;
    cache_and_check_hit(f, p);
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "unlinkat", h_src(f, "sub/dir"), "nested.bin", "+",
                              "errno", p));
    h_assert_ok(&r, "unlinkat + errno");
    assert_string_equal(r.out, "ENOENT\n");
    h_result_free(&r);
    expect_errno(f, NULL, p, "ENOENT", "another process after unlinkat");
    H_PASS(f);
}

/* A process that was running (and attached, and served a hit) before
 * another process changed the file through the shim sees the change at its
 * next open. op: "trunc-write", "rename", "unlink". */
static void changed_by_other_process(struct h_fix *f, const char *op)
{
    const char *p = h_src(f, "text.txt");
    const char *ready = h_fmt("%s/ready-%s", f->tmp, op);
    const char *go = h_fmt("%s/go-%s", f->tmp, op);
    const char *np = h_src(f, "other.new");
    const char *text = "changed by another process\n";
    char l[H_PATH_MAX];
    struct h_proc b;
    struct h_result rb, ra;

    unlink(ready);
    unlink(go);
    cache_and_check_hit(f, p);
    const char *last = strcmp(op, "unlink") == 0 ? "errno" : "cat";
    assert_int_equal(h_start(&b, h_shim_env(f, NULL),
                             H_ARGV(h_probe(), "where", p, "+", "touch", ready, "+", "wait-file",
                                    go, "10000", "+", last, p)),
                     0);
    uint64_t end = h_now_ms() + 10000;
    while (access(ready, F_OK) < 0 && h_now_ms() < end)
        h_sleep_ms(5);
    assert_int_equal(access(ready, F_OK), 0);

    if (strcmp(op, "trunc-write") == 0) {
        h_shim(f, &ra, NULL, H_ARGV(h_probe(), "trunc-write", p, text));
    } else if (strcmp(op, "rename") == 0) {
        assert_int_equal(h_write_str(np, text), 0);
        h_shim(f, &ra, NULL, H_ARGV(h_probe(), "rename", np, p));
    } else {
        h_shim(f, &ra, NULL, H_ARGV(h_probe(), "unlink", p));
    }
    h_assert_ok(&ra, h_fmt("process A: %s", op));
    assert_int_equal(h_write_str(go, ""), 0);
    h_finish(&b, &rb, 20000);
    h_assert_ok(&rb, "process B");
    h_assert_in_tier(h_line_of(rb.out, 0, l, sizeof l) ? l : "(nothing)", f->d.dir,
                     "B's open before the change");
    const char *after = strchr(rb.out, '\n') + 1;
    if (strcmp(op, "unlink") == 0)
        assert_string_equal(after, "ENOENT\n");
    else
        h_assert_bytes(after, rb.out_len - (size_t)(after - rb.out), text, strlen(text),
                       h_fmt("B's open after A's %s", op));
    h_result_free(&ra);
    h_result_free(&rb);
}

static void test_other_process_trunc_write(void **state)
{
    struct h_fix *f = *state;
    changed_by_other_process(f, "trunc-write");
    H_PASS(f);
}

static void test_other_process_rename(void **state)
{
    struct h_fix *f = *state;
    changed_by_other_process(f, "rename");
    H_PASS(f);
}

static void test_other_process_unlink(void **state)
{
    struct h_fix *f = *state;
    changed_by_other_process(f, "unlink");
    H_PASS(f);
}

/* ---- changes behind the cache ---------------------------------------------------- */
/* After a change behind the cache at time t0, poll with fresh shimmed
 * processes until the new state shows; every read before must be the old
 * or the new state whole. Returns the ms it took. */
static uint64_t poll_until_new(struct h_fix *f, const char *p, const void *old, size_t old_n,
                               const void *new, size_t new_n, bool gone, uint64_t t0,
                               unsigned limit_ms)
{
    for (;;) {
        struct h_result r;
        h_shim(f, &r, NULL, H_ARGV(h_probe(), gone ? "errno" : "cat", p));
        uint64_t t = h_now_ms() - t0;
        h_assert_ok(&r, "shimmed read while polling");
        bool is_new = gone ? strcmp(r.out, "ENOENT\n") == 0
                           : r.out_len == new_n && memcmp(r.out, new, new_n) == 0;
        bool is_old = gone ? strcmp(r.out, "OK\n") == 0
                           : r.out_len == old_n && memcmp(r.out, old, old_n) == 0;
        h_result_free(&r);
        if (is_new)
            return t;
        if (!is_old)
            fail_msg("%s: a read %llu ms after the change was neither the old nor the new "
                     "version", p, (unsigned long long)t);
        if (t > limit_ms)
            fail_msg("%s: still the old version %llu ms after a change behind the cache "
                     "(--revalidate-ms %d; allowed %u ms)", p, (unsigned long long)t,
                     REVALIDATE_MS, limit_ms);
        h_sleep_ms(10);
    }
}

static void test_change_behind_cache_within_revalidate(void **state)
{
    struct h_fix *f = *state;
    const unsigned limit = 3 * REVALIDATE_MS;
    struct h_result r;

    /* 1. rewritten in place (same inode), different size */
    const struct h_file *file = h_std("k100.bin");
    const char *p = h_src(f, file->name);
    unsigned char *old = h_file_bytes(file);
    const char *text = "rewritten behind the cache, shorter\n";
    cache_and_check_hit(f, p);
    uint64_t t0 = h_now_ms();
    assert_int_equal(h_rewrite(p, text, strlen(text)), 0);
    uint64_t took = poll_until_new(f, p, old, file->size, text, strlen(text), false, t0, limit);
    print_message("    rewrite in place seen after %llu ms\n", (unsigned long long)took);
    /* the new version becomes a hit in its turn */
    h_shim(f, &r, NULL, H_ARGV(h_probe(), "wait-tier", p, f->d.dir, "5000", "+", "cat", p));
    h_assert_ok(&r, "the new version served from the tier");
    const char *nl = strchr(r.out, '\n');
    h_assert_bytes(nl + 1, r.out_len - (size_t)(nl + 1 - r.out), text, strlen(text),
                   "the new version from the tier");
    h_result_free(&r);
    free(old);

    /* 2. replaced by rename (a new inode), different size */
    file = h_std("page.bin");
    p = h_src(f, file->name);
    old = h_file_bytes(file);
    const char *np = h_src(f, "page.new");
    cache_and_check_hit(f, p);
    assert_int_equal(h_write_file(np, old, 3000), 0);
    t0 = h_now_ms();
    assert_int_equal(rename(np, p), 0);
    took = poll_until_new(f, p, old, file->size, old, 3000, false, t0, limit);
    print_message("    replacement by rename seen after %llu ms\n", (unsigned long long)took);
    free(old);

    /* 3. deleted */
    file = h_std("sub/dir/nested.bin");
    p = h_src(f, file->name);
    old = h_file_bytes(file);
    cache_and_check_hit(f, p);
    t0 = h_now_ms();
    assert_int_equal(unlink(p), 0);
    took = poll_until_new(f, p, NULL, 0, NULL, 0, true, t0, limit);
    print_message("    deletion seen after %llu ms\n", (unsigned long long)took);
    free(old);

    assert_true(h_stat(&f->d, "invalidations") >= 3);
    H_PASS(f);
}

static void test_validate_open_sees_change_at_once(void **state)
{
    struct h_fix *f = *state;
    const struct h_file *file = h_std("k100.bin");
    const char *p = h_src(f, file->name);
    unsigned char *old = h_file_bytes(file);
    const char *text = "changed behind an immutable cache\n";
    const char *const validate[] = {"SHMCACHE_VALIDATE=open", NULL};
    struct h_result r;

    cache_and_check_hit(f, p);
    assert_int_equal(h_rewrite(p, text, strlen(text)), 0);

    /* with this daemon (--revalidate-ms 0: immutable sources) the tier
     * keeps serving the copy: the precondition that makes the next check
     * mean something */
    expect_content(f, p, old, file->size, "without SHMCACHE_VALIDATE (immutable tier)");

    long long hits = h_stat(&f->d, "hits");
    h_shim(f, &r, validate, H_ARGV(h_probe(), "cat", p, "+", "where", p));
    h_assert_ok(&r, "SHMCACHE_VALIDATE=open");
    h_assert_bytes(r.out, strlen(text) <= r.out_len ? strlen(text) : r.out_len, text,
                   strlen(text), "SHMCACHE_VALIDATE=open right after the change");
    /* The miss above made shmd reload the changed file, so this second open
     * may already be a hit: then it must be on the new copy, never the old. */
    char *where = r.out + strlen(text);
    where[strcspn(where, "\n")] = '\0';
    if (strncmp(where, f->d.dir, strlen(f->d.dir)) == 0) {
        struct stat ost;
        assert_int_equal(stat(where, &ost), 0);
        if ((size_t)ost.st_size != strlen(text))
            fail_msg("SHMCACHE_VALIDATE=open served %s of %lld bytes, not the new %zu-byte file",
                     where, (long long)ost.st_size, strlen(text));
    } else {
        assert_int_equal(h_stat(&f->d, "hits"), hits);
    }
    h_result_free(&r);

    /* an unchanged cached file is still a hit with validation on */
    const char *q = h_src(f, "page.bin");
    cache_and_check_hit(f, q);
    h_shim(f, &r, validate, H_ARGV(h_probe(), "where", q));
    h_assert_ok(&r, "SHMCACHE_VALIDATE=open, unchanged file");
    r.out[strcspn(r.out, "\n")] = '\0';
    h_assert_in_tier(r.out, f->d.dir, "SHMCACHE_VALIDATE=open on an unchanged file");
    h_result_free(&r);

    /* deleted behind the cache: ENOENT at once with validation */
    assert_int_equal(unlink(q), 0);
    expect_errno(f, validate, q, "ENOENT", "SHMCACHE_VALIDATE=open after a deletion");
    free(old);
    H_PASS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trunc_write_same_process, setup_immutable,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_append_and_truncate, setup_immutable,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_rename_over, setup_immutable, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_unlink, setup_immutable, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_write_via_dotdot_path, setup_immutable,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_fopen_write_via_dotdot_path, setup_immutable,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_write_via_openat_dirfd, setup_immutable,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_write_via_relative_and_unnormal_paths,
                                        setup_immutable, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_pwrite_same_size, setup_immutable, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_rename_directory, setup_immutable, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_unlinkat_dirfd, setup_immutable, h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_other_process_trunc_write, setup_immutable,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_other_process_rename, setup_immutable,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_other_process_unlink, setup_immutable,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_change_behind_cache_within_revalidate, h_fix_setup,
                                        h_fix_teardown),
        cmocka_unit_test_setup_teardown(test_validate_open_sees_change_at_once, setup_immutable,
                                        h_fix_teardown),
    };
    return cmocka_run_group_tests_name("integration: consistency", tests, h_group_setup,
                                       h_group_teardown);
}
