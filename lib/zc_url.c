/* zc_url.c -- URL canonical form, fingerprint and host key. */
#include "zc_url.h"
#include "zc_hash.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_MAX_PARAMS 64

typedef struct url_parts {
    const char *scheme; size_t scheme_len;
    const char *host;   size_t host_len;
    long port;          /* -1 when absent */
    const char *path;   size_t path_len;
    const char *query;  size_t query_len;
} url_parts;

/* Splits url into its parts. Returns 0, or -1 with a reason in err. */
static int url_split(const char *url, size_t len, url_parts *u, char *err, size_t errlen) {
    const char *p = url, *end = url + len;
    memset(u, 0, sizeof(*u));
    u->port = -1;
    const char *colon = memchr(p, ':', len);
    if (!colon || colon + 3 > end || colon[1] != '/' || colon[2] != '/') {
        snprintf(err, errlen, "not an absolute URL");
        return -1;
    }
    u->scheme = p;
    u->scheme_len = (size_t)(colon - p);
    if (!((u->scheme_len == 4 && !strncasecmp(p, "http", 4)) ||
          (u->scheme_len == 5 && !strncasecmp(p, "https", 5)))) {
        snprintf(err, errlen, "scheme is not http or https");
        return -1;
    }
    p = colon + 3;
    const char *auth_end = p;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#') auth_end++;
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++) if (*q == '@') at = q;
    if (at) p = at + 1; /* credentials are not part of the identity */
    const char *host_end = auth_end;
    if (p < auth_end && *p == '[') {
        const char *rb = memchr(p, ']', (size_t)(auth_end - p));
        if (!rb) { snprintf(err, errlen, "unterminated IPv6 host"); return -1; }
        host_end = rb + 1;
    } else {
        const char *pc = memchr(p, ':', (size_t)(auth_end - p));
        if (pc) host_end = pc;
    }
    u->host = p;
    u->host_len = (size_t)(host_end - p);
    if (u->host_len == 0) { snprintf(err, errlen, "empty host"); return -1; }
    for (const char *q = p; q < host_end; q++) {
        unsigned char c = (unsigned char)*q;
        if (c <= ' ' || c >= 0x7f) { snprintf(err, errlen, "bad character in host"); return -1; }
    }
    if (host_end < auth_end) {
        if (*host_end != ':') { snprintf(err, errlen, "bad host"); return -1; }
        const char *ps = host_end + 1;
        if (ps == auth_end) u->port = -1;
        else {
            long port = 0;
            for (const char *q = ps; q < auth_end; q++) {
                if (!isdigit((unsigned char)*q) || port > 65535) { snprintf(err, errlen, "bad port"); return -1; }
                port = port * 10 + (*q - '0');
            }
            if (port == 0 || port > 65535) { snprintf(err, errlen, "bad port"); return -1; }
            u->port = port;
        }
    }
    p = auth_end;
    u->path = p;
    while (p < end && *p != '?' && *p != '#') p++;
    u->path_len = (size_t)(p - u->path);
    if (p < end && *p == '?') {
        u->query = ++p;
        while (p < end && *p != '#') p++;
        u->query_len = (size_t)(p - u->query);
    }
    for (const char *q = url; q < end; q++) {
        unsigned char c = (unsigned char)*q;
        if (c <= ' ' || c == 0x7f) { snprintf(err, errlen, "URL holds a space or control character"); return -1; }
    }
    return 0;
}

typedef struct { const char *s; size_t n; } url_span;

static int span_cmp(const void *a, const void *b) {
    const url_span *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    return (x->n > y->n) - (x->n < y->n);
}

int zc_url_canonical(const char *url, size_t len, char *out, size_t outlen,
                     char *err, size_t errlen) {
    url_parts u;
    if (url_split(url, len, &u, err, errlen) != 0) return -1;
    size_t o = 0;
#define URL_PUT(c) do { if (o + 1 >= outlen) goto toolong; out[o++] = (char)(c); } while (0)
    for (size_t i = 0; i < u.scheme_len; i++) URL_PUT(tolower((unsigned char)u.scheme[i]));
    URL_PUT(':'); URL_PUT('/'); URL_PUT('/');
    for (size_t i = 0; i < u.host_len; i++) URL_PUT(tolower((unsigned char)u.host[i]));
    int https = u.scheme_len == 5;
    if (u.port != -1 && u.port != (https ? 443 : 80)) {
        char pb[8];
        int n = snprintf(pb, sizeof(pb), ":%ld", u.port);
        for (int i = 0; i < n; i++) URL_PUT(pb[i]);
    }
    size_t plen = u.path_len;
    while (plen > 1 && u.path[plen - 1] == '/') plen--; /* no trailing-slash form: a fixed point */
    if (plen == 0) URL_PUT('/');
    for (size_t i = 0; i < plen; i++) URL_PUT(u.path[i]);
    if (u.query_len > 0) {
        url_span params[URL_MAX_PARAMS];
        size_t np = 0;
        const char *q = u.query, *qend = u.query + u.query_len;
        while (q < qend) {
            const char *amp = memchr(q, '&', (size_t)(qend - q));
            const char *e = amp ? amp : qend;
            if (e > q) {
                if (np == URL_MAX_PARAMS) { snprintf(err, errlen, "more than %d query parameters", URL_MAX_PARAMS); return -1; }
                params[np].s = q;
                params[np].n = (size_t)(e - q);
                np++;
            }
            q = amp ? amp + 1 : qend;
        }
        qsort(params, np, sizeof(params[0]), span_cmp);
        for (size_t i = 0; i < np; i++) {
            URL_PUT(i == 0 ? '?' : '&');
            for (size_t k = 0; k < params[i].n; k++) URL_PUT(params[i].s[k]);
        }
    }
    out[o] = '\0';
    return (int)o;
#undef URL_PUT
toolong:
    snprintf(err, errlen, "URL longer than %zu bytes", outlen - 1);
    return -1;
}

void zc_url_fingerprint(const char *canon, size_t len, char out[17]) {
    snprintf(out, 17, "%016llx", (unsigned long long)zc_fnv1a(canon, len));
}

void zc_url_fp64(const char *canon, size_t len, unsigned char out[8]) {
    uint64_t h = zc_fnv1a(canon, len);
    /* MurmurHash3's fmix64: every bit of h moves about half of the output bits. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    for (int i = 7; i >= 0; i--, h >>= 8) out[i] = (unsigned char)(h & 0xff);
}

int zc_url_host(const char *url, char *out, size_t outlen) {
    url_parts u;
    char err[64];
    if (url_split(url, strlen(url), &u, err, sizeof(err)) != 0) return -1;
    long port = u.port != -1 ? u.port : (u.scheme_len == 5 ? 443 : 80);
    if (u.host_len + 8 > outlen) return -1;
    size_t o = 0;
    for (size_t i = 0; i < u.host_len; i++) out[o++] = (char)tolower((unsigned char)u.host[i]);
    snprintf(out + o, outlen - o, ":%ld", port);
    return 0;
}

int zc_url_check(const char *url, size_t len, char *err, size_t errlen) {
    char canon[ZC_URL_MAX];
    return zc_url_canonical(url, len, canon, sizeof(canon), err, errlen) < 0 ? -1 : 0;
}
