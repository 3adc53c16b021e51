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

/* ---------- query parameters ---------- */

long parse_url_set_param(const char *url, const char *key, const char *val, size_t vlen, char *out, size_t cap) {
    static const char hex[] = "0123456789ABCDEF";
    size_t klen = strlen(key), ulen = strcspn(url, "#"), o = 0;
    const char *q = memchr(url, '?', ulen);
    const char *hit = NULL, *hit_end = NULL;
    for (const char *p = q ? q + 1 : NULL; p && p < url + ulen;) {
        const char *amp = memchr(p, '&', (size_t)(url + ulen - p));
        const char *pe = amp ? amp : url + ulen;
        if ((size_t)(pe - p) >= klen && memcmp(p, key, klen) == 0 && (p[klen] == '=' || p + klen == pe)) {
            hit = p;
            hit_end = pe;
            break;
        }
        p = pe + 1;
    }
    size_t head = hit ? (size_t)(hit - url) : ulen;
    if (head + klen + 2 + vlen * 3 + 1 > cap) return -1;
    memcpy(out, url, head);
    o = head;
    if (!hit && !q) out[o++] = '?';
    else if (!hit && ulen > (size_t)(q - url) + 1 && url[ulen - 1] != '&') out[o++] = '&';
    memcpy(out + o, key, klen);
    o += klen;
    out[o++] = '=';
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)val[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (hit) {
        size_t tail = ulen - (size_t)(hit_end - url);
        if (o + tail + 1 > cap) return -1;
        memcpy(out + o, hit_end, tail);
        o += tail;
    }
    out[o] = '\0';
    return (long)o;
}

/* ---------- Link headers (RFC 8288) ---------- */

static const char *skip_ows(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

/* tchar of RFC 9110: the characters of a token. */
static int is_tchar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Reads a parameter value (token or quoted-string) at p into v (at most vcap - 1
 * bytes kept). Returns the position after it. */
static const char *link_value(const char *p, char *v, size_t vcap) {
    size_t n = 0;
    if (*p != '"') {
        while (is_tchar(*p)) {
            if (n + 1 < vcap) v[n++] = *p;
            p++;
        }
    } else {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1]) p++;
            if (n + 1 < vcap) v[n++] = *p;
        }
        if (*p == '"') p++;
    }
    v[n] = '\0';
    return p;
}

/* Whether the space-separated list of relation types rels holds rel (any case). */
static int rel_has(const char *rels, const char *rel) {
    size_t n = strlen(rel);
    for (const char *p = rels; *p;) {
        while (*p == ' ' || *p == '\t') p++;
        size_t k = strcspn(p, " \t");
        if (k == n && strncasecmp(p, rel, n) == 0) return 1;
        p += k;
    }
    return 0;
}

/* Reads the parameters after a link's URI. Returns the position after them, with
 * *has set when rel is among the link's relation types. */
static const char *link_params(const char *p, const char *rel, int *has) {
    char name[32], val[256];
    *has = 0;
    for (p = skip_ows(p); *p == ';'; p = skip_ows(p)) {
        p = skip_ows(p + 1);
        size_t n = 0;
        while (is_tchar(*p)) {
            if (n + 1 < sizeof(name)) name[n++] = *p;
            p++;
        }
        name[n] = '\0';
        p = skip_ows(p);
        val[0] = '\0';
        if (*p == '=') p = link_value(skip_ows(p + 1), val, sizeof(val));
        if (strcasecmp(name, "rel") == 0 && rel_has(val, rel)) *has = 1;
    }
    return p;
}

/* The position after the next ',' outside a quoted-string or <URI>, or the end. */
static const char *link_skip(const char *p) {
    int quoted = 0, angle = 0;
    for (; *p; p++) {
        if (quoted && *p == '\\' && p[1]) p++;
        else if (*p == '"' && !angle) quoted = !quoted;
        else if (*p == '<' && !quoted) angle = 1;
        else if (*p == '>' && !quoted) angle = 0;
        else if (*p == ',' && !quoted && !angle) return p + 1;
    }
    return p;
}

long parse_link_find(const char *link, const char *rel, const parse_url_parts *u, char *out, size_t cap) {
    char uri[4200];
    for (const char *p = link; p && *p;) {
        p = skip_ows(p);
        if (*p == ',') {
            p++;
            continue;
        }
        const char *gt = *p == '<' ? strchr(p, '>') : NULL;
        if (!gt) {
            p = link_skip(p);
            continue;
        }
        size_t n = (size_t)(gt - p - 1);
        int has = 0;
        const char *q = link_params(gt + 1, rel, &has);
        if (has) {
            if (n >= sizeof(uri)) return -1;
            memcpy(uri, p + 1, n);
            uri[n] = '\0';
            long r = parse_url_resolve(u, uri, out, cap);
            return r > 0 ? r : -1;
        }
        p = link_skip(q);
    }
    return 0;
}
