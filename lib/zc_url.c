/* zc_url.c -- URL canonical form, fingerprint and host key, on libcurl's URL parser. */
#include "zc_url.h"
#include "zc_hash.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_MAX_PARAMS 64
/* Inputs up to this long are copied to the stack to be NUL-terminated for libcurl. */
#define URL_STACK 4096

/* A URL as libcurl split it. Every string is libcurl's (curl_free). */
typedef struct url_parts {
    CURLU *h;
    char *host;  /* as written, lower-cased here */
    char *path;  /* dot segments already removed by libcurl */
    char *query; /* NULL when absent */
    int https;
    long port; /* -1 when not written */
} url_parts;

static void parts_free(url_parts *u) {
    curl_free(u->host);
    curl_free(u->path);
    curl_free(u->query);
    curl_url_cleanup(u->h);
    memset(u, 0, sizeof(*u));
}

/* Why libcurl refused a URL, in the words zcrawl has always used where they fit. */
static void curl_reason(CURLUcode uc, char *err, size_t errlen) {
    switch (uc) {
    case CURLUE_BAD_SCHEME:
    case CURLUE_BAD_SLASHES:
    case CURLUE_MALFORMED_INPUT:
        snprintf(err, errlen, "not an absolute URL");
        break;
    case CURLUE_UNSUPPORTED_SCHEME:
        snprintf(err, errlen, "scheme is not http or https");
        break;
    case CURLUE_NO_HOST:
        snprintf(err, errlen, "empty host");
        break;
    case CURLUE_BAD_PORT_NUMBER:
        snprintf(err, errlen, "bad port");
        break;
    case CURLUE_OUT_OF_MEMORY:
        snprintf(err, errlen, "out of memory");
        break;
    default:
        snprintf(err, errlen, "bad URL (%s)", curl_url_strerror(uc));
        break;
    }
}

/* The host as the URL writes it: what follows "scheme://" up to the first '/', '?'
 * or '#', without the port. The broker's Lua (hostof in broker/lua/_push.lua) keys a
 * URL's queue by exactly this, so a URL whose host libcurl reads differently is
 * refused rather than queued under one key and capped under another. Returns 0, or
 * -1 with a reason in err. */
static int raw_host(const char *s, size_t scheme_len, const char **host, size_t *len,
                    char *err, size_t errlen) {
    const char *a = s + scheme_len;
    if (a[0] != ':' || a[1] != '/' || a[2] != '/') {
        snprintf(err, errlen, "not an absolute URL");
        return -1;
    }
    a += 3;
    size_t alen = strcspn(a, "/?#");
    if (memchr(a, '@', alen)) {
        /* A link's credentials would be stored, logged and sent to the host; and
         * parsers disagree on which '@' ends them (an SSRF classic). */
        snprintf(err, errlen, "URL holds credentials (user@host)");
        return -1;
    }
    size_t hlen = alen;
    if (alen > 0 && a[0] == '[') {
        const char *rb = memchr(a, ']', alen);
        hlen = rb ? (size_t)(rb - a) + 1 : alen;
    } else {
        const char *pc = memchr(a, ':', alen);
        if (pc) hlen = (size_t)(pc - a);
    }
    if (hlen == 0) {
        snprintf(err, errlen, "empty host");
        return -1;
    }
    *host = a;
    *len = hlen;
    return 0;
}

/* Splits the NUL-terminated s with libcurl and checks it is a URL zcrawl crawls:
 * http(s), a host written the way libcurl reads it, ASCII (IDNs in punycode), no
 * credentials, a port in 1..65535. Returns 0 (free u with parts_free), or -1 with
 * a reason in err. */
static int url_parse(const char *s, url_parts *u, char *err, size_t errlen) {
    memset(u, 0, sizeof(*u));
    u->port = -1;
    char *scheme = NULL, *port = NULL;
    u->h = curl_url();
    if (!u->h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u->h, CURLUPART_URL, s, 0);
    if (uc == CURLUE_OK) uc = curl_url_get(u->h, CURLUPART_SCHEME, &scheme, 0);
    if (uc == CURLUE_OK) uc = curl_url_get(u->h, CURLUPART_HOST, &u->host, 0);
    if (uc == CURLUE_OK) uc = curl_url_get(u->h, CURLUPART_PATH, &u->path, 0);
    if (uc != CURLUE_OK) {
        curl_reason(uc, err, errlen);
        goto err;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        snprintf(err, errlen, "scheme is not http or https");
        goto err;
    }
    u->https = scheme[4] == 's';
    const char *rh;
    size_t rlen;
    if (raw_host(s, strlen(scheme), &rh, &rlen, err, errlen) != 0) goto err;
    for (char *p = u->host; *p; p++) {
        if ((unsigned char)*p >= 0x80) {
            snprintf(err, errlen, "non-ASCII host (write it in punycode, xn--...)");
            goto err;
        }
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    }
    if (strlen(u->host) != rlen || strncasecmp(u->host, rh, rlen) != 0) {
        /* 0x7f.1, %41.com, [0:0::1], a zone id: libcurl would connect elsewhere
         * than the text says, and the frontier would queue it under the text. */
        snprintf(err, errlen, "host not in canonical form (libcurl reads it as %.100s)", u->host);
        goto err;
    }
    uc = curl_url_get(u->h, CURLUPART_PORT, &port, 0);
    if (uc == CURLUE_OK) {
        u->port = strtol(port, NULL, 10);
        if (u->port <= 0 || u->port > 65535) {
            snprintf(err, errlen, "bad port");
            goto err;
        }
    } else if (uc != CURLUE_NO_PORT) {
        curl_reason(uc, err, errlen);
        goto err;
    }
    uc = curl_url_get(u->h, CURLUPART_QUERY, &u->query, 0);
    if (uc != CURLUE_OK && uc != CURLUE_NO_QUERY) {
        curl_reason(uc, err, errlen);
        goto err;
    }
    curl_free(scheme);
    curl_free(port);
    return 0;
err:
    curl_free(scheme);
    curl_free(port);
    parts_free(u);
    return -1;
}

typedef struct {
    const char *s;
    size_t n;
} url_span;

static int span_cmp(const void *a, const void *b) {
    const url_span *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    return (x->n > y->n) - (x->n < y->n);
}

/* Writes the canonical form of the parsed u into out. */
static int url_write(const url_parts *u, char *out, size_t outlen, char *err, size_t errlen) {
    size_t o = 0;
#define URL_PUTS(s, n)                      \
    do {                                    \
        size_t n_ = (n);                    \
        if (o + n_ >= outlen) goto toolong; \
        memcpy(out + o, (s), n_);           \
        o += n_;                            \
    } while (0)
    URL_PUTS(u->https ? "https://" : "http://", u->https ? 8u : 7u);
    URL_PUTS(u->host, strlen(u->host));
    if (u->port != -1 && u->port != (u->https ? 443 : 80)) {
        char pb[8];
        int n = snprintf(pb, sizeof(pb), ":%ld", u->port);
        URL_PUTS(pb, (size_t)n);
    }
    size_t plen = strlen(u->path);
    while (plen > 1 && u->path[plen - 1] == '/') plen--; /* no trailing-slash form: a fixed point */
    if (plen == 0) URL_PUTS("/", 1);
    URL_PUTS(u->path, plen);
    if (u->query && u->query[0]) {
        url_span params[URL_MAX_PARAMS];
        size_t np = 0;
        const char *q = u->query, *qend = q + strlen(q);
        while (q < qend) {
            const char *amp = memchr(q, '&', (size_t)(qend - q));
            const char *e = amp ? amp : qend;
            if (e > q) {
                if (np == URL_MAX_PARAMS) {
                    snprintf(err, errlen, "more than %d query parameters", URL_MAX_PARAMS);
                    return -1;
                }
                params[np].s = q;
                params[np].n = (size_t)(e - q);
                np++;
            }
            q = amp ? amp + 1 : qend;
        }
        qsort(params, np, sizeof(params[0]), span_cmp);
        for (size_t i = 0; i < np; i++) {
            URL_PUTS(i == 0 ? "?" : "&", 1);
            URL_PUTS(params[i].s, params[i].n);
        }
    }
    if (outlen == 0) goto toolong;
    out[o] = '\0';
    return (int)o;
#undef URL_PUTS
toolong:
    snprintf(err, errlen, "URL longer than %zu bytes", outlen ? outlen - 1 : 0);
    return -1;
}

int zc_url_canonical(const char *url, size_t len, char *out, size_t outlen,
                     char *err, size_t errlen) {
    if (memchr(url, '\0', len)) {
        snprintf(err, errlen, "URL holds a space or control character");
        return -1;
    }
    char stack[URL_STACK];
    char *s = len < sizeof(stack) ? stack : malloc(len + 1);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(s, url, len);
    s[len] = '\0';
    url_parts u;
    int n = -1;
    if (url_parse(s, &u, err, errlen) == 0) {
        n = url_write(&u, out, outlen, err, errlen);
        parts_free(&u);
    }
    if (s != stack) free(s);
    return n;
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
    char err[128];
    if (url_parse(url, &u, err, sizeof(err)) != 0) return -1;
    long port = u.port != -1 ? u.port : (u.https ? 443 : 80);
    size_t hl = strlen(u.host);
    int rc = -1;
    if (hl + 8 <= outlen) {
        snprintf(out, outlen, "%s:%ld", u.host, port);
        rc = 0;
    }
    parts_free(&u);
    return rc;
}

int zc_url_check(const char *url, size_t len, char *err, size_t errlen) {
    char canon[ZC_URL_MAX];
    return zc_url_canonical(url, len, canon, sizeof(canon), err, errlen) < 0 ? -1 : 0;
}
