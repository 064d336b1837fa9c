/* source.h - looking at a source file (the slow filesystem's copy) without
 * disturbing it or the program that opened it: how shmd opens it, stats
 * it, and asks whether it is special or open for writing. Used by the load
 * (load.c) and the revalidator (revalidate.c). */
#ifndef SHMCACHE_SHMD_SOURCE_H
#define SHMCACHE_SHMD_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* A descriptor to read the source at path from: given itself when it is
 * not -1 (a program's descriptor that came with a miss), else our own
 * read-only open (without updating atime where we may). Returns given, a
 * descriptor of ours to close, or -1 with errno. Whatever it returns, the
 * caller must check that path still names that file before trusting it. */
int source_open(const char *path, int given);

/* stat(2) of a source, asking for every basic field but atime, as a
 * struct stat (st_atim is whatever the kernel holds, possibly stale). A
 * read through FUSE or NFS marks the cached atime stale, so a plain fstat()
 * after one costs a round trip to the filesystem's server; without
 * STATX_ATIME the kernel answers from its attribute cache within the usual
 * timeout, as for everything else. dirfd, path and flags as for statx(2)
 * (AT_EMPTY_PATH for a descriptor). Returns 0, or -1 with errno. */
int source_stat(int dirfd, const char *path, int flags, struct stat *st);

/* The same, and also as a tier_stat with the birth time where the
 * filesystem tells it (what an entry records). */
struct tier_stat;
int source_tstat(int dirfd, const char *path, int flags, struct stat *st, struct tier_stat *t);

/* 1 when the file open on fd (on device dev) lives on a filesystem whose
 * files are not plain data (proc, sysfs, ...), 0 when not, -1 when
 * fstatfs fails. Remembered per device for a while (source.c). */
int source_special(int fd, dev_t dev);

/* True when path lives on a noexec mount (mnt_id from statx; 0 when not
 * known), or when that cannot be told. Remembered per mount for a while. */
bool source_noexec(const char *path, uint64_t mnt_id);

/* True when the file open on fd is open for writing anywhere on this host,
 * as far as a read lease can tell (false when it cannot). fd may share a
 * program's open file description: it is left as it was. */
bool source_open_for_writing(int fd);

/* The normalised path of the file open as fd (or, with fd -1, of what path
 * names, symlinks followed), as the kernel resolved it (/proc/self/fd),
 * into out (PATH_KEY_SIZE bytes, padded as a key). Returns its length, or
 * -1 (no /proc, a deleted file, too long). */
int source_real_path(const char *path, int fd, char *out);

#endif
