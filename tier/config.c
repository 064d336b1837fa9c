/* config.c - option and environment value parsing (see config.h). */
#include <stdio.h>
#include <string.h>

#include "tier/config.h"
#include "tier/path.h"

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

const char *config_format_size(uint64_t v, char *buf, size_t n)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    double x = (double)v;

    while (x >= 1024 && i < 4) {
        x /= 1024;
        i++;
    }
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", x, u[i]);
    return buf;
}

int config_parse_size(const char *s, uint64_t *out)
{
    static const char units[] = "KMGT";
    char digits[32];
    size_t n = 0;
    uint64_t v;
    unsigned shift = 0;

    if (!s)
        return -1;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    if (n == 0 || n >= sizeof digits)
        return -1;
    memcpy(digits, s, n);
    digits[n] = '\0';
    if (config_parse_uint(digits, UINT64_MAX, &v) < 0)
        return -1;
    const char *u = s + n;
    if (*u) {
        const char *k = strchr(units, *u >= 'a' ? *u - 32 : *u);
        if (!k || !*k)
            return -1;
        shift = 10u * (unsigned)(k - units + 1);
        u++;
        if (u[0] == 'i' && u[1] == 'B')
            u += 2;
        else if (u[0] == 'B')
            u++;
        if (*u)
            return -1;
    }
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = v << shift;
    return 0;
}

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
