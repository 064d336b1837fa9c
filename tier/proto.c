/* proto.c - parsing of miss datagrams and control requests (see proto.h). */
#include <string.h>

#include "tier/path.h"
#include "tier/proto.h"

int proto_miss_parse(const char *buf, size_t n, char *key, size_t *len)
{
    char raw[TIER_PATH_MAX];

    if (n <= PROTO_MISS_TAG_LEN)
        return -1;
    int what = memcmp(buf, PROTO_MISS_TAG, PROTO_MISS_TAG_LEN) == 0   ? 0
             : memcmp(buf, PROTO_STAT_TAG, PROTO_MISS_TAG_LEN) == 0 ? 1
             : memcmp(buf, PROTO_LIST_TAG, PROTO_MISS_TAG_LEN) == 0 ? 2 : -1;
    if (what < 0)
        return -1;
    size_t plen = n - PROTO_MISS_TAG_LEN;
    if (plen >= TIER_PATH_MAX || memchr(buf + PROTO_MISS_TAG_LEN, '\0', plen))
        return -1;
    memcpy(raw, buf + PROTO_MISS_TAG_LEN, plen);
    raw[plen] = '\0';
    int k = path_normalize(raw, NULL, false, key, PATH_KEY_SIZE);
    if (k < 0 || (size_t)k != plen || memcmp(key, raw, plen) != 0)
        return -1; /* not absolute, not normal, or a directory name */
    *len = plen;
    return what;
}

const char *proto_next_word(const char *buf, size_t n, size_t *pos, int *bad)
{
    *bad = 0;
    if (*pos >= n)
        return NULL;
    if (buf[n - 1] != '\0') {
        *bad = 1;
        return NULL;
    }
    const char *w = buf + *pos;
    *pos += strlen(w) + 1;
    return w;
}
