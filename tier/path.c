/* path.c - lexical normalisation and prefix matching (see path.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tier/path.h"
#include "tier/word.h"

/* Append the components of s to out[*len], each as "/name", skipping empty
 * and "." components. Returns -1 on a ".." component or overflow of cap.
 * Sets *trailing when s names a directory syntactically: it ends with '/'
 * or its last component is ".". */
static int append_components(const char *s, char *out, size_t cap, size_t *len,
                             bool *trailing)
{
    size_t slen = strlen(s);
    bool last_is_dot = false;

    *trailing = slen > 0 && s[slen - 1] == '/';
    while (*s) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        const char *e = s;
        while (*e && *e != '/')
            e++;
        size_t n = (size_t)(e - s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return -1;
        last_is_dot = n == 1 && s[0] == '.';
        if (!last_is_dot) {
            if (*len + 1 + n >= cap)
                return -1;
            out[(*len)++] = '/';
            memmove(out + *len, s, n); /* out may be the input: see path.h */
            *len += n;
        }
        s = e;
    }
    *trailing = *trailing || last_is_dot;
    return 0;
}

int path_normalize(const char *a, const char *b, bool allow_trailing,
                   char *out, size_t outsz)
{
    size_t len = 0;
    bool trailing = false;

    if (!a || a[0] != '/' || outsz < 16)
        return -1;
    size_t cap = outsz - 8; /* room for the zero padding */
    if (append_components(a, out, cap, &len, &trailing) < 0)
        return -1;
    if (b) {
        trailing = false;
        if (!*b || append_components(b, out, cap, &len, &trailing) < 0)
            return -1;
    }
    if (len == 0)
        out[len++] = '/'; /* the root itself */
    if (trailing && !allow_trailing)
        return -1;
    size_t end = (len + 8) & ~(size_t)7;
    memset(out + len, 0, end - len);
    return (int)len;
}

bool path_is_normal(const char *p)
{
    if (p[0] != '/')
        return false;
    for (const char *s = p; (s = strchr(s, '/')); s++) {
        if (s[1] == '/' || s[1] == '\0')
            return s == p && s[1] == '\0'; /* "/" alone is normal */
        if (s[1] == '.' && (s[2] == '/' || s[2] == '\0' ||
                            (s[2] == '.' && (s[3] == '/' || s[3] == '\0'))))
            return false;
    }
    return true;
}

int path_prefixes_parse(const char *list, struct path_prefixes *out,
                        char *err, size_t errsz)
{
    char entry[PATH_KEY_SIZE];
    char norm[PATH_KEY_SIZE];
    size_t used = 0;

    out->count = 0;
    out->max_len = 0;
    if (!list)
        return 0;
    for (const char *s = list; *s;) {
        const char *e = strchr(s, ':');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n > 0) {
            const char *why = NULL;
            int len = -1;
            if (n >= TIER_PATH_MAX)
                why = "too long";
            else if (s[0] != '/')
                why = "not an absolute path";
            if (!why) {
                memcpy(entry, s, n);
                entry[n] = '\0';
                len = path_normalize(entry, NULL, true, norm, sizeof norm);
                if (len < 0)
                    why = "contains a \"..\" component";
            }
            if (!why && out->count == PATH_PREFIX_MAX)
                why = "too many prefixes (at most 16)";
            size_t room = ((size_t)len + 8) & ~(size_t)7; /* NUL, zero padding */
            if (!why && used + room > sizeof out->buf)
                why = "prefixes too long in total";
            if (why) {
                int shown = n > 200 ? 200 : (int)n;
                if (err && errsz)
                    snprintf(err, errsz, "\"%.*s\": %s", shown, s, why);
                out->count = 0;
                out->max_len = 0;
                return -1;
            }
            memset(out->buf + used, 0, room);
            memcpy(out->buf + used, norm, (size_t)len);
            out->off[out->count] = (uint16_t)used;
            out->len[out->count] = (uint16_t)len;
            out->count++;
            if ((unsigned)len > out->max_len)
                out->max_len = (unsigned)len;
            used += room;
        }
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

bool path_is_under(const char *p, size_t n, const char *d, size_t dn)
{
    if (dn == 1)
        return p[0] == '/'; /* everything is under "/" */
    return n >= dn && memcmp(p, d, dn) == 0 && (n == dn || p[dn] == '/');
}

/* The low n bytes of a word (n <= 8). */
static inline uint64_t low_bytes(uint64_t x, size_t n)
{
    return n >= 8 ? x : x & ((1ULL << (8 * n)) - 1);
}

/* How many leading bytes the string p has in common with the prefix d (dn
 * bytes, zero-padded to a word: see struct path_prefixes), compared in
 * aligned words of p: the first one is the aligned word around p, shifted
 * down past the bytes before p. An aligned word whose bytes up to the
 * first one compared are in the string (each matched d, which has no NUL)
 * lies in one page and one 16-byte memory-tag granule with them, so it
 * never faults, though it may reach before p and past p's NUL, as glibc's
 * strlen reads. Outside the string is not p's memory to ASan: hence the
 * attribute. The NUL itself differs from d's byte there. */
__attribute__((no_sanitize_address)) static size_t common_len(const char *p, const char *d,
                                                              size_t dn)
{
    size_t off = (uintptr_t)p & 7, i = 0;

    if (off) {
        size_t n = 8 - off; /* bytes of the string in the first word */
        uint64_t x = low_bytes((load_le64(p - off) >> (8 * off)) ^ load_le64(d), dn < n ? dn : n);
        if (x)
            return (size_t)__builtin_ctzll(x) / 8;
        if (dn <= n)
            return dn;
        i = n;
    }
    for (; i < dn; i += 8) {
        uint64_t x = low_bytes(load_le64(p + i) ^ load_le64(d + i), dn - i);
        if (x)
            return i + (size_t)__builtin_ctzll(x) / 8;
    }
    return dn;
}

int path_prefixes_match_raw(const struct path_prefixes *pp, const char *p)
{
    int r = 0;

    for (unsigned k = 0; k < pp->count; k++) {
        const char *d = pp->buf + pp->off[k];
        size_t dn = pp->len[k];
        size_t i = common_len(p, d, dn);
        if (i == dn) {
            if (dn == 1 || p[i] == '/' || p[i] == '\0')
                return 1;
        } else if (i > 0 && p[i - 1] == '/' && (p[i] == '/' || p[i] == '.')) {
            r = -1;
        }
    }
    return r;
}

bool path_prefixes_match(const struct path_prefixes *pp, const char *p, size_t n)
{
    for (unsigned i = 0; i < pp->count; i++)
        if (path_is_under(p, n, pp->buf + pp->off[i], pp->len[i]))
            return true;
    return false;
}

bool path_prefixes_below(const struct path_prefixes *pp, const char *p, size_t n)
{
    for (unsigned i = 0; i < pp->count; i++) {
        const char *d = pp->buf + pp->off[i];
        size_t dn = pp->len[i];
        if (dn > n && path_is_under(d, dn, p, n))
            return true;
    }
    return false;
}
