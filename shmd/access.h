/* access.h - what shmd records of a file's permissions for the shims' hit
 * check (the model is in tier/access.h, the walk in access.c). */
#ifndef SHMCACHE_SHMD_ACCESS_H
#define SHMCACHE_SHMD_ACCESS_H

#include <stddef.h>
#include <stdint.h>

/* The TIER_ACCESS_* flags and dirs_uid of the file at key (a normalised
 * absolute path of len bytes) whose mode is mode; fd, when not -1, is open
 * on it and dev is its st_dev; epoch is the tree's epoch read before the
 * file was checked. What cannot be checked is recorded as unsure (shims
 * then ask the kernel). Any thread. */
void shmd_access(const char *key, size_t len, int fd, uint64_t dev, uint32_t mode,
                 uint64_t epoch, uint32_t *access, uint32_t *dirs_uid);

#endif
