/* fleet.h - the tier beyond one host: copies shared through memcached
 * (shmd --fleet SERVERS --fleet-key FILE [--fleet-namespace NS]).
 *
 * The chain is local shared memory -> memcached -> the source. A file's
 * fleet key names the exact version a host sees: the namespace, the path
 * (normal, as the tier's key), the source's size and mtime in ns (inode
 * numbers differ across hosts on FUSE), hashed under the fleet's secret
 * into "shmc1:<32 hex>". Its value is chunks ("...:0", "...:1", within
 * memcached's 1 MiB item) and a header ("...:h") stored last, which holds
 * the size, the mtime, the chunk size and count and a MAC (keyed BLAKE2b,
 * libsodium) over the key's identity, the header and every byte. A copy is
 * used only when the header matches the version this host sees and the
 * MAC checks after the last chunk: a missing or short chunk, a forged or
 * truncated value, a timeout or a dead server is a fleet miss, never wrong
 * bytes (the caller then copies from the source).
 *
 * One load per fleet: a host that misses takes the version's lease
 * ("...:l", add, 10 s); a host that cannot waits for the holder's copy, at
 * most 1 s, then reads the source itself (memcached's usual stampede
 * guard).
 *
 * Publishing is `add` (concurrent hosts do not fight; a header already
 * there stays) from one background thread with a bounded queue: never in
 * the way of the local publish. libmemcached (Debian's libmemcached-dev,
 * the maintained fork) does the server list, consistent hashing (ketama)
 * and failover (failed servers removed, retried after a while). */
#ifndef SHMCACHE_SHMD_FLEET_H
#define SHMCACHE_SHMD_FLEET_H

#include <stddef.h>
#include <stdint.h>

struct fleet;

/* What `shmd stats` prints (all zero without a fleet). */
struct fleet_counts {
    uint64_t hits;             /* loads whose bytes came from the fleet */
    uint64_t misses;           /* asked, not there */
    uint64_t stores;           /* copies this host stored (headers added) */
    uint64_t errors;           /* timeouts, servers down, store failures */
    uint64_t rejected;         /* there, but refused: bad MAC, short or
                                  missing chunks, a header of another size */
    uint64_t queue_full;       /* publishes dropped: the queue was full */
    uint64_t waits;            /* misses that waited for another host's
                                  copy (it held the version's lease) */
};

/* Connect (lazily: memcached may come later) to servers, a comma list of
 * host:port and absolute unix socket paths; keyfile holds the secret (at
 * least 16 bytes, readable by no one else); ns the namespace. shown is
 * the index's tier_header.fleet: the fleet keeps it saying whether its
 * last operation succeeded (enum tier_fleet), for the shims' wait. NULL
 * with a one-line reason in err. Starts the publishing thread. */
struct fleet *fleet_open(const char *servers, const char *keyfile, const char *ns,
                         uint32_t *shown, char *err, size_t errsz);
/* Stop the publishing thread (dropping what is queued) and free. */
void fleet_close(struct fleet *f);

/* The copy of key (normal, len bytes) at the version size/mtime_ns, into
 * fd from offset 0 (pwrite: fd's offset is left alone). Returns 1 when
 * size bytes were written and verified; 0 when the fleet has no copy; -1
 * when it has a bad one or could not be asked (counted). On 0 and -1, what
 * was written to fd is garbage. absent, when not NULL, is called with arg
 * as soon as the fleet is seen to hold no copy, before the lease (which
 * may still make this host wait for another's). Any thread. */
int fleet_fetch(struct fleet *f, const char *key, size_t len, uint64_t size, int64_t mtime_ns,
                int fd, void (*absent)(void *), void *arg);

/* Store the copy of key read from fd (a published object: immutable; the
 * fleet owns fd from here and closes it) in the background. Never blocks:
 * a full queue drops it. */
void fleet_publish(struct fleet *f, const char *key, size_t len, uint64_t size, int64_t mtime_ns,
                   int fd);

/* Note in the fleet's manifest (fleet.c) that this host looked key up:
 * tag 'F' a copy it stored, 'M' metadata (or "does not exist") and 'L' a
 * listing it recorded. Batched and appended in the background; never
 * blocks (a full batch drops it, counted in queue_full). Any thread. */
void fleet_note(struct fleet *f, char tag, const char *key, size_t len);

/* The fleet's manifest: what hosts looked up most recently (about the
 * last 0.8 to 2 MB of entries), each entry whose MAC checks to each(arg,
 * tag, path, len), oldest first, possibly repeated. Returns how many were
 * given, or -1 when the fleet could not be asked. Any thread. */
typedef void fleet_entry_fn(void *arg, char tag, const char *path, size_t len);
int fleet_manifest(struct fleet *f, fleet_entry_fn *each, void *arg);

void fleet_counts(const struct fleet *f, struct fleet_counts *c);

#endif
