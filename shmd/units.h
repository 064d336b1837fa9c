/* units.h - the numbers people type and read in shmd's options and output:
 * sizes with binary units ("512M", "4G"; "1.5 GiB" printed) and bounded
 * counts. Pure functions: no I/O, no allocation. Only shmd and its client
 * use them, so they are not linked into libshmcache.so (whose environment
 * takes paths and words only, tier/config.h). */
#ifndef SHMCACHE_SHMD_UNITS_H
#define SHMCACHE_SHMD_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "512", "64K", "64k", "64KiB", "1G", "2T": binary units, integers only
 * ("1.5G" is refused). Returns 0, -1 for empty, negative or junk, -2 for a
 * well-formed size beyond 2^64-1 bytes (said "too large", not "junk"). */
int units_parse_size(const char *s, uint64_t *out);

/* Format bytes for people: "512 B", "4.0 KiB", "1.5 GiB" (binary units,
 * the ones units_parse_size reads). Returns buf. */
const char *units_format_size(uint64_t bytes, char *buf, size_t n);


/* Format a duration for people: "850ms", "4.2s", "42s", "5m12s", "3h05m",
 * "2d04h". Returns buf. */
const char *units_format_age(uint64_t ms, char *buf, size_t n);

#endif
