/* fixture.h - a real store in a private directory under /dev/shm, for the
 * unit tests of the index and of eviction, and the small helpers they share. */
#ifndef SHMCACHE_TEST_FIXTURE_H
#define SHMCACHE_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shmd/store.h"
#include "tier/path.h"

struct fx {
    char dir[64];
    int dirfd;
    struct store s;
    bool created;
};

/* cmocka setup: a 0700 directory and a store of `slots` slots and
 * `capacity` bytes in it; *state becomes the struct fx. Returns 0 or -1. */
int fx_setup(void **state, uint32_t slots, uint64_t capacity);
/* cmocka teardown: destroy the store and remove the directory. */
int fx_teardown(void **state);

/* A normalised, padded key with its hash in f's index. */
struct key {
    char k[PATH_KEY_SIZE];
    size_t len;
    uint64_t hash;
};
void key_make(const struct fx *f, const char *path, struct key *k);

/* True when the object file of id exists in f's directory. */
bool object_exists(const struct fx *f, uint64_t id);

#endif
