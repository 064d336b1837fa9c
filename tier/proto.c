/* proto.c - parsing of miss datagrams and control requests (see proto.h). */
#include <string.h>

#include "tier/path.h"
#include "tier/proto.h"

int proto_miss_parse(const char *buf, size_t n, char *key, size_t *len)
{
    if (n <= PROTO_MISS_TAG_LEN)
        return -1;
    int what = memcmp(buf, PROTO_MISS_TAG, PROTO_MISS_TAG_LEN) == 0   ? 0
             : memcmp(buf, PROTO_STAT_TAG, PROTO_MISS_TAG_LEN) == 0 ? 1
             : memcmp(buf, PROTO_LIST_TAG, PROTO_MISS_TAG_LEN) == 0 ? 2 : -1;
    if (what < 0)
        return -1;
    size_t plen = n - PROTO_MISS_TAG_LEN;
    if (proto_path_parse(buf + PROTO_MISS_TAG_LEN, plen, key) < 0)
        return -1;
    *len = plen;
    return what;
}

int proto_path_parse(const char *p, size_t plen, char *key)
{
    char raw[TIER_PATH_MAX];

    if (plen == 0 || plen >= TIER_PATH_MAX || memchr(p, '\0', plen))
        return -1;
    memcpy(raw, p, plen);
    raw[plen] = '\0';
    int k = path_normalize(raw, NULL, false, key, PATH_KEY_SIZE);
    if (k < 0 || (size_t)k != plen || memcmp(key, raw, plen) != 0)
        return -1; /* not absolute, not normal, or a directory name */
    return 0;
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
