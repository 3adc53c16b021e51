/* parse_url.c -- URLs in the parser: the list of URLs a page yields, splitting a page's URL, links from pages. */
#include "parse_url.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------- URL list buffer ---------- */

void parse_urls_init(parse_urls *u) {
    memset(u, 0, sizeof(*u));
}

void parse_urls_reset(parse_urls *u) {
    char *buf = u->buf;
    size_t cap = u->cap;
    memset(u, 0, sizeof(*u));
    u->buf = buf;
    u->cap = cap;
    if (buf) buf[0] = '\0';
}

void parse_urls_free(parse_urls *u) {
    free(u->buf);
    memset(u, 0, sizeof(*u));
}

/* Appends one URL (with a '\n' before it unless it is the first). Returns 0, or -1
 * when memory runs out. */
int parse_urls_add(parse_urls *u, const char *s, size_t len) {
    size_t need = u->len + (u->n ? 1 : 0) + len + 1;
    if (need > u->cap) {
        size_t cap = u->cap ? u->cap : 1024;
        while (cap < need) cap *= 2;
        char *nb = realloc(u->buf, cap);
        if (!nb) return -1;
        u->buf = nb;
        u->cap = cap;
    }
    if (u->n) u->buf[u->len++] = '\n';
    memcpy(u->buf + u->len, s, len);
    u->len += len;
    u->buf[u->len] = '\0';
    u->n++;
    return 0;
}

/* ---------- URLs ---------- */

/* Splits an absolute http(s) URL. Returns 0, or -1 when url is not one or its
 * origin holds control characters or spaces (they would corrupt a URL list). */
int parse_url_split(const char *url, parse_url_parts *p) {
    size_t sl;
    if (!url) return -1;
    if (strncasecmp(url, "http://", 7) == 0) sl = 7;
    else if (strncasecmp(url, "https://", 8) == 0) sl = 8;
    else return -1;
    const char *a = url + sl;
    size_t alen = strcspn(a, "/?#");
    if (alen == 0 || sl + alen > PARSE_ORIGIN_MAX) return -1;
    for (size_t i = 0; i < alen; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 0x20 || c >= 0x7f) return -1;
    }
    p->origin = url;
    p->origin_len = sl + alen;
    p->path = a + alen;
    p->path_len = strcspn(p->path, "?#");
    if (p->path[p->path_len] == '?') {
        p->query = p->path + p->path_len + 1;
        p->query_len = strcspn(p->query, "#");
    } else {
        p->query = p->path + p->path_len;
        p->query_len = 0;
    }
    return 0;
}

/* Looks up query parameter key. Returns 1 with its value as a decimal in *v, 0 when
 * it is absent, -1 when present but not a plain decimal (at most 12 digits). */
int parse_query_num(const parse_url_parts *p, const char *key, uint64_t *v) {
    size_t klen = strlen(key);
    const char *q = p->query, *end = p->query + p->query_len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp ? amp : end;
        if ((size_t)(pe - q) > klen && memcmp(q, key, klen) == 0 && q[klen] == '=') {
            const char *s = q + klen + 1;
            size_t n = (size_t)(pe - s);
            if (n == 0 || n > 12) return -1;
            uint64_t x = 0;
            for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9') return -1;
                x = x * 10 + (uint64_t)(s[i] - '0');
            }
            *v = x;
            return 1;
        }
        q = pe + 1;
    }
    return 0;
}

long parse_url_resolve(const parse_url_parts *u, const char *s, char *out, size_t cap) {
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f) return -1;
    if (n == 0) return -1;
    if (s[0] == '/' && s[1] != '/') {
        if (u->origin_len >= cap) return -1;
        memcpy(out, u->origin, u->origin_len);
        o = u->origin_len;
    } else {
        parse_url_parts x;
        if (parse_url_split(s, &x) != 0) return -1;
    }
    if (n >= cap - o) return -1;
    memcpy(out + o, s, n);
    o += n;
    out[o] = '\0';
    return (long)o;
}
