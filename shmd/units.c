/* units.c - sizes and counts in options and output (see units.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "shmd/units.h"

const char *units_format_size(uint64_t v, char *buf, size_t n)
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

int units_parse_size(const char *s, uint64_t *out)
{
    static const char units[] = "KMGT";
    size_t n = 0;
    uint64_t v = 0;
    unsigned shift = 0;
    bool big = false;

    if (!s)
        return -1;
    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        unsigned d = (unsigned)(s[n] - '0');
        if (v > (UINT64_MAX - d) / 10)
            big = true;
        else
            v = v * 10 + d;
    }
    if (n == 0)
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
    /* well formed from here: what is left to refuse is only too large */
    if (big || (shift && v > (UINT64_MAX >> shift)))
        return -2;
    *out = v << shift;
    return 0;
}

const char *units_format_age(uint64_t ms, char *buf, size_t n)
{
    unsigned long long s = ms / 1000;

    if (ms < 1000)
        snprintf(buf, n, "%llums", (unsigned long long)ms);
    else if (ms < 10000)
        snprintf(buf, n, "%llu.%llus", s, (unsigned long long)(ms % 1000 / 100));
    else if (s < 60)
        snprintf(buf, n, "%llus", s);
    else if (s < 3600)
        snprintf(buf, n, "%llum%02llus", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, n, "%lluh%02llum", s / 3600, s / 60 % 60);
    else
        snprintf(buf, n, "%llud%02lluh", s / 86400, s / 3600 % 24);
    return buf;
}
