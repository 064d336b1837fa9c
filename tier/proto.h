/* proto.h - the two messages that cross the instance's sockets.
 *
 * miss.sock (SOCK_DGRAM): one datagram per miss, "miss " followed by the
 *   normalised path, no NUL, no newline, usually with one descriptor
 *   (SCM_RIGHTS): the shimmed program's own read-only open of that path, so
 *   shmd copies through the same open file (its page cache, no second open
 *   on a slow filesystem). shmd uses it only if fstat says it is the regular
 *   file the path names now; it reads it with pread only (the program's
 *   file offset is shared). Or "stat " followed by the path, without a
 *   descriptor: a stat-family call (or access, readlink) the tier could not
 *   answer; shmd records the path's metadata, or that it does not exist.
 *   Or "list " and the path, without a descriptor: an opendir or scandir
 *   the tier could not answer; shmd records the directory's listing.
 *   Fire and forget: shims send with MSG_DONTWAIT and a full queue drops
 *   the datagram.
 *   The fleet wait: a content miss may carry a second descriptor, the
 *   write end of a pipe the program waits on (SHMCACHE_FLEET_WAIT_MS, only
 *   while tier_header.fleet is TIER_FLEET_ANSWERING). shmd writes one byte
 *   to it and closes it: PROTO_WAIT_SERVED once a current copy of the
 *   path is in the tier (the program opens it from there), or
 *   PROTO_WAIT_SOURCE as soon as it knows the copy comes from the source
 *   (the program keeps its own open). A pipe closed without a byte, or no
 *   byte within the bound, means PROTO_WAIT_SOURCE.
 * ctl.sock (SOCK_STREAM): one request per connection: NUL-terminated words
 *   (command, then arguments), then the client shuts down its write side.
 *   The reply is text: a first line "ok" or "error <reason>", then the body.
 *
 * Parsers treat their input as hostile: lengths are checked, paths must be
 * absolute and already normal, embedded NULs are refused. Only shmd parses
 * (proto.c is not linked into libshmcache.so, which only builds messages). */
#ifndef SHMCACHE_PROTO_H
#define SHMCACHE_PROTO_H

#include <stddef.h>

#define PROTO_MISS_TAG "miss "
#define PROTO_STAT_TAG "stat "
#define PROTO_LIST_TAG "list "
#define PROTO_MISS_TAG_LEN 5        /* every tag */
#define PROTO_WAIT_SERVED 'H'
#define PROTO_WAIT_SOURCE 'M'
#define PROTO_REQUEST_MAX (64u << 20)   /* bytes of one control request */

/* Parse a miss datagram of n bytes. On success copies the path into key
 * (PATH_KEY_SIZE bytes, NUL and zero padding as path_normalize leaves it),
 * stores its length, and returns 0 for a content miss ("miss "), 1 for a
 * metadata miss ("stat "), 2 for a listing miss ("list "); returns -1 for
 * anything malformed. */
int proto_miss_parse(const char *buf, size_t n, char *key, size_t *len);

/* A path of plen bytes (no NUL), as a miss names it: 0 with its key in key
 * (PATH_KEY_SIZE bytes, padded) when it is absolute and normal, else -1.
 * Also for the misses of the ring (tier/ring.h). */
int proto_path_parse(const char *p, size_t plen, char *key);

/* Iterate the words of a control request of n bytes. *pos starts at 0.
 * Returns the next word, or NULL at the end. Returns NULL and sets *bad
 * when the request does not end with a NUL. */
const char *proto_next_word(const char *buf, size_t n, size_t *pos, int *bad);

#endif
