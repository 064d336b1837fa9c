/* listing.c - the map of a directory listing (see listing.h). */
#include <string.h>

#include "tier/listing.h"

void tier_list_map_name(const char *object_name, char *buf)
{
    memcpy(buf, object_name, TIER_OBJECT_NAME_SIZE);
    buf[0] = 'm';
}

const struct tier_list_ent *tier_list_find(const struct tier_list_ent *e, uint32_t n,
                                           uint64_t snap_ino)
{
    uint32_t lo = 0, hi = n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (e[mid].snap_ino < snap_ino)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && e[lo].snap_ino == snap_ino ? &e[lo] : NULL;
}
