/* config.c - naming an instance: name validity and the instance directory,
 * and decimal numbers (see config.h). */
#include <stdio.h>
#include <string.h>

#include "tier/config.h"
#include "tier/path.h"

bool config_name_valid(const char *name)
{
    size_t n = 0;

    if (!name)
        return false;
    for (; name[n]; n++) {
        char c = name[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok || n >= 64)
            return false;
    }
    return n > 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int config_instance_dir(const char *name, const char *dir, uid_t uid,
                        char *out, size_t outsz, char *err, size_t errsz)
{
    if (dir && *dir) {
        char norm[PATH_KEY_SIZE];
        int n = path_normalize(dir, NULL, true, norm, sizeof norm);
        if (n < 0 || (size_t)n + 1 > outsz || strcmp(norm, "/") == 0) {
            snprintf(err, errsz, "SHMCACHE_DIR \"%.200s\": expected an absolute "
                     "directory path without \"..\"", dir);
            return -1;
        }
        memcpy(out, norm, (size_t)n + 1);
        return 0;
    }
    if (!name || !*name)
        name = "default";
    if (!config_name_valid(name)) {
        snprintf(err, errsz, "SHMCACHE_NAME \"%.80s\": expected 1-64 of "
                 "A-Z a-z 0-9 . _ -", name);
        return -1;
    }
    int n = snprintf(out, outsz, "/dev/shm/shmcache-%u-%s", (unsigned)uid, name);
    if (n < 0 || (size_t)n >= outsz) {
        snprintf(err, errsz, "instance directory name too long");
        return -1;
    }
    return 0;
}

int config_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
