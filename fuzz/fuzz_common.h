/* fuzz_common.h - small helpers shared by the libFuzzer harnesses in fuzz/:
 * a private instance directory for a real store, reading fuzz input as a
 * stream, and a failure that libFuzzer records as a crash.
 *
 * Harnesses are single files built by mk/hardening.mk with
 * -fsanitize=fuzzer,address,undefined and linked with the tier and the parts
 * of the daemon they drive. A property violation calls fz_fail(), which
 * prints the reason and aborts: libFuzzer saves the input as a crash. */
#ifndef SHMCACHE_FUZZ_COMMON_H
#define SHMCACHE_FUZZ_COMMON_H

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

static void fz_remove_dir(const char *dir);

/* Directories a crash must not leave behind in /dev/shm or /tmp. */
static const char *fz_dirs[4];

static void fz_crash_cleanup(void)
{
    for (int i = 3; i >= 0; i--)
        if (fz_dirs[i])
            fz_remove_dir(fz_dirs[i]);
}

/* Remove dir (one level) when the harness fails or a sanitizer kills it. */
static inline void fz_remove_on_crash(const char *dir)
{
    for (int i = 0; i < 4; i++)
        if (!fz_dirs[i]) {
            fz_dirs[i] = dir;
            break;
        }
    __sanitizer_set_death_callback(fz_crash_cleanup);
}

__attribute__((format(printf, 1, 2), noreturn)) static void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nFUZZ PROPERTY VIOLATED: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fz_crash_cleanup();
    abort();
}

/* The fuzz input, consumed front to back; reads past the end give zeros. */
struct fz_in {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fz_u8(struct fz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint32_t fz_u16(struct fz_in *in)
{
    uint32_t v = fz_u8(in);
    return v | (uint32_t)fz_u8(in) << 8;
}

static inline uint32_t fz_u32(struct fz_in *in)
{
    uint32_t v = fz_u16(in);
    return v | fz_u16(in) << 16;
}

static inline uint64_t fz_u64(struct fz_in *in)
{
    uint64_t v = fz_u32(in);
    return v | (uint64_t)fz_u32(in) << 32;
}

/* Take up to n bytes (fewer at the end of the input). */
static inline const uint8_t *fz_bytes(struct fz_in *in, size_t *n)
{
    const uint8_t *p = in->p;
    if (*n > in->n)
        *n = in->n;
    in->p += *n;
    in->n -= *n;
    return p;
}

/* A fresh private 0700 directory under /dev/shm (the tier's tmpfs), in
 * dir (at least 64 bytes). Exits on failure: nothing can be fuzzed. */
static inline void fz_instance_dir(char *dir, const char *tag)
{
    snprintf(dir, 64, "/dev/shm/shmcache-fuzz-%s-XXXXXX", tag);
    if (!mkdtemp(dir) || chmod(dir, 0700) < 0) {
        perror("fuzz: mkdtemp in /dev/shm");
        exit(1);
    }
}

/* Remove every file in dir, then dir (one level: instance directories
 * have no subdirectories). */
static void fz_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Descriptors open in this process (to catch descriptor leaks). */
static inline int fz_count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory stream's own */
}

/* Print the open descriptors and what they are (after a leak). */
static inline void fz_list_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        char p[300], link[512];
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(p, link, sizeof link - 1);
        link[n > 0 ? n : 0] = '\0';
        fprintf(stderr, "  fd %s -> %s\n", e->d_name, link);
    }
    closedir(d);
}

#endif
