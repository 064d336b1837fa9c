/* path.h - lexical path normalisation and prefix matching.
 *
 * The index is keyed by normalised absolute paths: no "//", no "." component,
 * no trailing slash. ".." is never resolved lexically (a symlink before it
 * would make that wrong), so such paths are simply not cacheable. All
 * functions are pure, allocation-free and async-signal-safe. */
#ifndef SHMCACHE_PATH_H
#define SHMCACHE_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tier/layout.h"

#define PATH_PREFIX_MAX 16      /* prefixes in SHMCACHE_PREFIX */
#define PATH_KEY_SIZE (TIER_PATH_MAX + 8) /* a key buffer: path, NUL, zero pad */

/* Normalise a + "/" + b (b may be NULL: then just a) into out.
 * Returns the length (without NUL), or -1 when the result is not absolute,
 * has a ".." component, names a directory syntactically (trailing "/" or
 * "/.", unless allow_trailing) or does not fit: len + 8 <= outsz is required,
 * because out is zero-padded to the next multiple of 8 for word compares.
 * out may be a itself (normalising in place never moves a byte forward),
 * which spares hooks a second path-sized buffer on the stack; b must not
 * overlap out. */
int path_normalize(const char *a, const char *b, bool allow_trailing,
                   char *out, size_t outsz);

/* True when p is already in normal form (the cheap check before matching). */
bool path_is_normal(const char *p);

/* Prefixes are stored NUL-terminated and zero-padded to a multiple of 8
 * bytes at 8-aligned offsets, so they can be compared a word at a time. */
struct path_prefixes {
    unsigned count;
    unsigned max_len;           /* bytes of the longest prefix */
    uint16_t off[PATH_PREFIX_MAX];
    uint16_t len[PATH_PREFIX_MAX];
    _Alignas(8) char buf[2 * TIER_PATH_MAX];
};

/* Parse a colon-separated list of absolute directories. Empty entries are
 * skipped. Returns 0, or -1 with a one-line reason in err (and out->count 0)
 * for a relative entry, ".." or too many/too long entries. */
int path_prefixes_parse(const char *list, struct path_prefixes *out,
                        char *err, size_t errsz);

/* Cheap test of a raw absolute path, before any normalisation: 1 when it
 * lies under a prefix as written, 0 when it cannot lie under one even once
 * normalised, -1 when only normalising it can tell ("//", "/./" at the
 * point where it departs from a prefix). Reads p up to its NUL or max_len
 * + 1 bytes, whichever comes first, in aligned words that may reach past
 * the NUL but never beyond the page of a byte of the string (as glibc's
 * strlen reads). */
int path_prefixes_match_raw(const struct path_prefixes *pp, const char *p);

/* True when the normalised path p (length n) is a prefix or lies below one. */
bool path_prefixes_match(const struct path_prefixes *pp, const char *p, size_t n);

/* True when the normalised path p is a proper ancestor of some prefix: a
 * change to it (rename, unlink of a symlink) affects the whole tree. */
bool path_prefixes_below(const struct path_prefixes *pp, const char *p, size_t n);

/* True when p (normalised, length n) is the directory d (length dn) or lies
 * below it. */
bool path_is_under(const char *p, size_t n, const char *d, size_t dn);

#endif
