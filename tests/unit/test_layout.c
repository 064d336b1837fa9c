/* test_layout.c - pins the on-shm ABI of tier/layout.h.
 *
 * The index file is shared by shmd and by every process with the shim
 * loaded, possibly built from different trees, so every offset and size
 * below is hard-coded (computed once from the headers, then frozen, as
 * libfaketime's shm_layout_test does); the struct sizes are pinned by
 * _Static_asserts beside the structs in layout.h. A failure here means the layout moved:
 * that must come with a TIER_VERSION bump and an update of these numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tier/layout.h"

#define FIELD(type, field, off, size)                                        \
    do {                                                                     \
        assert_int_equal(offsetof(type, field), (off));                      \
        assert_int_equal(sizeof(((type *)0)->field), (size));                \
    } while (0)

static void test_header_fields(void **state)
{
    (void)state;
    FIELD(struct tier_header, magic, 0, 8);
    FIELD(struct tier_header, version, 8, 4);
    FIELD(struct tier_header, header_size, 12, 4);
    FIELD(struct tier_header, slot_size, 16, 4);
    FIELD(struct tier_header, record_size, 20, 4);
    FIELD(struct tier_header, slot_count, 24, 4);
    FIELD(struct tier_header, record_count, 28, 4);
    FIELD(struct tier_header, bucket_count, 32, 4);
    FIELD(struct tier_header, stripe_count, 36, 4);
    FIELD(struct tier_header, file_size, 40, 8);
    FIELD(struct tier_header, slots_offset, 48, 8);
    FIELD(struct tier_header, records_offset, 56, 8);
    FIELD(struct tier_header, arena_offset, 64, 8);
    FIELD(struct tier_header, arena_size, 72, 8);
    FIELD(struct tier_header, marks_offset, 80, 8);
    FIELD(struct tier_header, marks_size, 88, 8);
    FIELD(struct tier_header, hash_seed, 96, 8);
    FIELD(struct tier_header, generation, 104, 8);
    FIELD(struct tier_header, owner_uid, 112, 4);
    FIELD(struct tier_header, daemon_pid, 116, 4);
    FIELD(struct tier_header, root_dev, 120, 8);
    FIELD(struct tier_header, root_ino, 128, 8);
    FIELD(struct tier_header, mntns_ino, 136, 8);
    FIELD(struct tier_header, started_ns, 144, 8);
    FIELD(struct tier_header, capacity, 152, 8);
    FIELD(struct tier_header, max_file, 160, 8);
    FIELD(struct tier_header, revalidate_ms, 168, 8);
    FIELD(struct tier_header, settle_ms, 176, 8);
    FIELD(struct tier_header, negative_ms, 184, 8);
    FIELD(struct tier_header, heartbeat_ns, 192, 8);
    FIELD(struct tier_header, state, 200, 4);
    FIELD(struct tier_header, fleet, 204, 4);
    FIELD(struct tier_header, reserved2, 208, 48);
    FIELD(struct tier_header, entries, 256, 8);
    FIELD(struct tier_header, bytes, 264, 8);
    FIELD(struct tier_header, memory, 272, 8);
    FIELD(struct tier_header, loads, 280, 8);
    FIELD(struct tier_header, load_failures, 288, 8);
    FIELD(struct tier_header, evictions, 296, 8);
    FIELD(struct tier_header, invalidations, 304, 8);
    FIELD(struct tier_header, misses_received, 312, 8);
    FIELD(struct tier_header, fail, 320, 128);
    FIELD(struct tier_header, meta_entries, 448, 8);
    FIELD(struct tier_header, negative_entries, 456, 8);
    FIELD(struct tier_header, dir_entries, 464, 8);
    FIELD(struct tier_header, meta_loads, 472, 8);
    FIELD(struct tier_header, misses_ringed, 480, 8);
    assert_int_equal(TIER_HEADER_SIZE, 4096);
}

static void test_header_live_line(void **state)
{
    (void)state;
    size_t beat = offsetof(struct tier_header, heartbeat_ns);
    size_t line = beat / 64;

    /* the live line starts a cache line and nothing static shares it */
    assert_int_equal(beat % 64, 0);
    assert_int_equal((offsetof(struct tier_header, negative_ms) + 8) / 64, line);
    assert_true(offsetof(struct tier_header, negative_ms) / 64 < line);
    /* state rides on the same line (read on every hit with the heartbeat) */
    assert_int_equal(offsetof(struct tier_header, state) / 64, line);
    /* the daemon's counters, written all the time, start the next line */
    assert_int_equal(offsetof(struct tier_header, entries) % 64, 0);
    assert_int_equal(offsetof(struct tier_header, entries) / 64, line + 1);
    assert_true(offsetof(struct tier_header, misses_received) / 64 > line);
    assert_true(offsetof(struct tier_header, fail) / 64 > line);
    /* enough failure counters for every reason */
    assert_true(TIER_FAIL_COUNT <= sizeof(((struct tier_header *)0)->fail) / 8);
}

static void test_stat_fields(void **state)
{
    (void)state;
    FIELD(struct tier_stat, dev, 0, 8);
    FIELD(struct tier_stat, ino, 8, 8);
    FIELD(struct tier_stat, nlink, 16, 8);
    FIELD(struct tier_stat, size, 24, 8);
    FIELD(struct tier_stat, blocks, 32, 8);
    FIELD(struct tier_stat, rdev, 40, 8);
    FIELD(struct tier_stat, mode, 48, 4);
    FIELD(struct tier_stat, uid, 52, 4);
    FIELD(struct tier_stat, gid, 56, 4);
    FIELD(struct tier_stat, blksize, 60, 4);
    FIELD(struct tier_stat, atime_sec, 64, 8);
    FIELD(struct tier_stat, atime_nsec, 72, 8);
    FIELD(struct tier_stat, mtime_sec, 80, 8);
    FIELD(struct tier_stat, mtime_nsec, 88, 8);
    FIELD(struct tier_stat, ctime_sec, 96, 8);
    FIELD(struct tier_stat, ctime_nsec, 104, 8);
    FIELD(struct tier_stat, btime_sec, 112, 8);
    FIELD(struct tier_stat, btime_nsec, 120, 8);
    FIELD(struct tier_stat, statx_mask, 128, 4);
    FIELD(struct tier_stat, reserved, 132, 4);
    FIELD(struct tier_stat, mnt_id, 136, 8);
    FIELD(struct tier_stat, attributes, 144, 8);
    FIELD(struct tier_stat, attributes_mask, 152, 8);
}

static void test_slot_fields(void **state)
{
    (void)state;
    FIELD(struct tier_slot, hash, 0, 8);
    FIELD(struct tier_slot, record, 8, 8);
}

static void test_record_fields(void **state)
{
    (void)state;
    FIELD(struct tier_record, seq, 0, 8);
    FIELD(struct tier_record, hash, 8, 8);
    FIELD(struct tier_record, object_id, 16, 8);
    FIELD(struct tier_record, object_ino, 24, 8);
    FIELD(struct tier_record, object_ctime_sec, 32, 8);
    FIELD(struct tier_record, object_ctime_nsec, 40, 8);
    FIELD(struct tier_record, epoch, 48, 8);
    FIELD(struct tier_record, gen, 56, 8);
    FIELD(struct tier_record, path_off, 64, 8);
    FIELD(struct tier_record, loaded_ns, 72, 8);
    FIELD(struct tier_record, st, 80, 160);
    FIELD(struct tier_record, path_len, 240, 4);
    FIELD(struct tier_record, access, 244, 4);
    FIELD(struct tier_record, dirs_uid, 248, 4);
    FIELD(struct tier_record, kind, 252, 4);
    FIELD(struct tier_record, lst, 256, 160);
    FIELD(struct tier_record, real_gen, 416, 8);
    FIELD(struct tier_record, real_bucket1, 424, 4);
    FIELD(struct tier_record, target_len, 428, 4);
    FIELD(struct tier_record, list_count, 432, 4);
    FIELD(struct tier_record, reserved, 436, 4);
}

static void test_marks_fields(void **state)
{
    (void)state;
    FIELD(struct tier_marks, magic, 0, 8);
    FIELD(struct tier_marks, reserved0, 8, 56);
    FIELD(struct tier_marks, epoch, 64, 8);
    FIELD(struct tier_marks, inflight, 72, 8);
    FIELD(struct tier_marks, reserved1, 80, 48);
    /* epoch, bumped by shims, has its own cache line */
    assert_int_equal(offsetof(struct tier_marks, epoch) % 64, 0);
}

static void test_stripe_fields(void **state)
{
    (void)state;
    FIELD(struct tier_stripe, hits, 0, 8);
    FIELD(struct tier_stripe, misses, 8, 8);
    FIELD(struct tier_stripe, unsent, 16, 8);
    FIELD(struct tier_stripe, meta_hits, 24, 8);
    FIELD(struct tier_stripe, negative_hits, 32, 8);
    FIELD(struct tier_stripe, dir_hits, 40, 8);
    FIELD(struct tier_stripe, wait_hits, 48, 8);
    FIELD(struct tier_stripe, wait_timeouts, 56, 8);
}

static void test_ring_fields(void **state)
{
    (void)state;
    FIELD(struct tier_ring_slot, seq, 0, 8);
    FIELD(struct tier_ring_slot, check, 8, 8);
    FIELD(struct tier_ring_slot, len, 16, 4);
    FIELD(struct tier_ring_slot, what, 20, 4);
    FIELD(struct tier_ring_slot, path, 24, 232);
    FIELD(struct tier_ring, tail, 0, 8);
    FIELD(struct tier_ring, head, 64, 8);
    FIELD(struct tier_ring, slot, 128, 256 * 4096);
    /* the ring starts on a cache line of its own, after the reference bits */
    assert_int_equal(tier_marks_ring_off(64, 1024, 1000) % 64, 0);
    assert_true(tier_marks_ring_off(64, 1024, 1000) >= tier_marks_refs_off(64, 1024, 1000) + 1000);
}

static void test_constants(void **state)
{
    (void)state;
    assert_int_equal(TIER_VERSION, 6);
    assert_true(TIER_MAGIC == 0x3158444948534d53ULL);
    assert_true(TIER_MARKS_MAGIC == 0x314b52414d534d53ULL);
    assert_true(TIER_MAGIC != TIER_MARKS_MAGIC);

    /* the magic reads "SMSHIDX1" / "SMSMARK1" in memory (little-endian) */
    uint64_t m = TIER_MAGIC, k = TIER_MARKS_MAGIC;
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(m >> (8 * i));
    assert_memory_equal(b, "SMSHIDX1", 8);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(k >> (8 * i));
    assert_memory_equal(b, "SMSMARK1", 8);

    assert_int_equal(TIER_PAGE, 4096);
    assert_int_equal(TIER_PATH_MAX, 4096);
    assert_int_equal(TIER_SLOTS_MIN, 64);
    assert_int_equal(TIER_SLOTS_MAX, 1u << 24);
    assert_int_equal(TIER_ARENA_PER_RECORD, 256);
    assert_int_equal(TIER_STRIPES, 64);
    assert_int_equal(TIER_STRIPES & (TIER_STRIPES - 1), 0);
    assert_int_equal(TIER_STATE_LIVE, 1);
    assert_int_equal(TIER_STATE_STOPPED, 2);
    /* fail[] indices are part of the ABI (shmd stats reads them) */
    assert_int_equal(TIER_FAIL_NOENT, 0);
    assert_int_equal(TIER_FAIL_NOT_REGULAR, 1);
    assert_int_equal(TIER_FAIL_TOO_LARGE, 2);
    assert_int_equal(TIER_FAIL_UNSETTLED, 3);
    assert_int_equal(TIER_FAIL_CHANGED, 4);
    assert_int_equal(TIER_FAIL_NOSPACE, 5);
    assert_int_equal(TIER_FAIL_IO, 6);
    assert_int_equal(TIER_FAIL_INDEX_FULL, 7);
    assert_int_equal(TIER_FAIL_NO_ROOM, 8);
    assert_int_equal(TIER_FAIL_WRITING, 9);
    assert_int_equal(TIER_FAIL_COUNT, 10);
    assert_true(TIER_HEARTBEAT_NS < TIER_STALE_NS);
    /* change words: 48 bits of count under 16 bits of calls in flight */
    assert_true(TIER_CHANGE_INFLIGHT == 1ULL << 48);
    assert_true(TIER_CHANGE_BEGIN + TIER_CHANGE_END == 2 * TIER_CHANGE_ONE);
    assert_true(tier_change_quiet(TIER_CHANGE_COUNT_MASK));
    assert_false(tier_change_quiet(TIER_CHANGE_BEGIN));
    assert_true(tier_change_quiet(5 + TIER_CHANGE_BEGIN + TIER_CHANGE_END));
    /* record kinds: the low byte, a flag, the errno above */
    assert_int_equal(TIER_KIND_FILE, 0);
    assert_int_equal(TIER_KIND_META, 1);
    assert_int_equal(TIER_KIND_NEG, 2);
    assert_int_equal(TIER_KIND_LINK, 0x100);
    assert_int_equal(TIER_KIND_PLAIN, 0x200);
    assert_int_equal(TIER_KIND_ERR_SHIFT, 16);
}

static void test_marks_offsets(void **state)
{
    (void)state;
    assert_int_equal(tier_marks_stripes_off(), 128);
    assert_int_equal(tier_marks_gens_off(64), 128 + 64 * 64);
    assert_int_equal(tier_marks_gens_off(1), 128 + 64);
    assert_int_equal(tier_marks_hits_off(64, 1024), 4224 + 1024 * 8);
    assert_int_equal(tier_marks_hits_off(1, 64), 192 + 512);
    assert_int_equal(tier_marks_refs_off(64, 1024, 768), 12416 + 768 * 4);
    assert_int_equal(tier_marks_refs_off(1, 64, 48), 704 + 48 * 4);
    /* the miss ring after the reference bits, on a cache line */
    assert_int_equal(tier_marks_ring_off(64, 1024, 768), 15488 + 768);
    assert_int_equal(tier_marks_ring_off(1, 64, 48), 960);
    assert_int_equal(tier_marks_bytes(64, 1024, 768), 15488 + 768 + 128 + 256 * 4096);
    assert_int_equal(tier_marks_bytes(1, 64, 48), 960 + 128 + 256 * 4096);
    assert_int_equal(tier_marks_hits_off(TIER_STRIPES, 1024) % 4, 0);
    /* the largest legal index: 64-bit arithmetic, no overflow */
    assert_true(tier_marks_bytes(4096, TIER_SLOTS_MAX, TIER_SLOTS_MAX) ==
                ((128ULL + 4096ULL * 64 + (uint64_t)TIER_SLOTS_MAX * 8 +
                  (uint64_t)TIER_SLOTS_MAX * 4 + TIER_SLOTS_MAX + 63) & ~63ULL) +
                    sizeof(struct tier_ring));
    /* stripes and gens stay naturally aligned */
    assert_int_equal(tier_marks_stripes_off() % 64, 0);
    assert_int_equal(tier_marks_gens_off(TIER_STRIPES) % 8, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_header_live_line),
        cmocka_unit_test(test_stat_fields),
        cmocka_unit_test(test_slot_fields),
        cmocka_unit_test(test_record_fields),
        cmocka_unit_test(test_marks_fields),
        cmocka_unit_test(test_stripe_fields),
        cmocka_unit_test(test_ring_fields),
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_marks_offsets),
    };
    return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
