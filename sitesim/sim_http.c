/* sim_http.c -- HTTP/1.x request-head parser: pure, bounded, safe on any bytes. */
#include "sim_http.h"

#include <stdio.h>
#include <string.h>

#define MAX_METHOD 32

static int is_tchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return 1;
    default:
        return 0;
    }
}

static int lower(int c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ieq(const char *a, size_t n, const char *lit) {
    size_t m = strlen(lit);
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lit[i])
            return 0;
    return 1;
}

static long fail(char *err, size_t errlen, const char *why) {
    snprintf(err, errlen, "%s", why);
    return -1;
}

/* Checks a request line that is still incomplete, so garbage is refused early. */
static int prefix_ok(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && i <= MAX_METHOD && is_tchar((unsigned char)s[i]))
        i++;
    if (i == n)
        return i <= MAX_METHOD;
    if (i == 0 || s[i] != ' ')
        return 0;
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != ' ' && (c < 0x21 || c > 0x7e))
            return 0;
    }
    return 1;
}

static long parse_request_line(const char *s, size_t n, sim_request *req,
                               char *err, size_t errlen) {
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i > MAX_METHOD || i >= n || s[i] != ' ')
        return fail(err, errlen, "bad method");
    if (i == 3 && memcmp(s, "GET", 3) == 0)
        req->method = SIM_M_GET;
    else if (i == 4 && memcmp(s, "HEAD", 4) == 0)
        req->method = SIM_M_HEAD;
    else if (i == 4 && memcmp(s, "POST", 4) == 0)
        req->method = SIM_M_POST;
    else
        req->method = SIM_M_OTHER;

    size_t t = ++i;
    while (i < n && (unsigned char)s[i] >= 0x21 && (unsigned char)s[i] <= 0x7e)
        i++;
    if (i == t || i >= n || s[i] != ' ')
        return fail(err, errlen, "bad request target");
    const char *target = s + t;
    size_t tlen = i - t;

    const char *v = s + i + 1;
    size_t vlen = n - i - 1;
    if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return fail(err, errlen, "bad HTTP version");
    if (v[5] != '1')
        return fail(err, errlen, "unsupported HTTP version");
    req->minor = v[7] == '0' ? 0 : 1;

    /* absolute-form: keep the authority as the host, the rest as the target */
    if (target[0] != '/') {
        size_t skip;
        if (tlen > 7 && ieq(target, 7, "http://"))
            skip = 7;
        else if (tlen > 8 && ieq(target, 8, "https://"))
            skip = 8;
        else
            return fail(err, errlen, "bad request target");
        const char *auth = target + skip;
        size_t alen = 0;
        while (skip + alen < tlen && auth[alen] != '/' && auth[alen] != '?')
            alen++;
        req->host = auth;
        req->host_len = alen;
        target = auth + alen;
        tlen -= skip + alen;
        if (tlen == 0 || target[0] != '/') {
            /* "http://host" or "http://host?q": the path is "/" */
            req->path = "/";
            req->path_len = 1;
            if (tlen > 0) {
                req->query = target + 1;
                req->query_len = tlen - 1;
            }
            return 0;
        }
    }
    const char *q = memchr(target, '?', tlen);
    if (q) {
        req->path = target;
        req->path_len = (size_t)(q - target);
        req->query = q + 1;
        req->query_len = tlen - req->path_len - 1;
    } else {
        req->path = target;
        req->path_len = tlen;
    }
    return 0;
}

/* Sets *close and *keep from a Connection header's comma-separated tokens. */
static void connection_tokens(const char *v, size_t n, int *close, int *keep) {
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (ieq(v + s, i - s, "close"))
            *close = 1;
        else if (ieq(v + s, i - s, "keep-alive"))
            *keep = 1;
    }
}

long sim_http_count(const char *v, size_t n) {
    if (n == 0 || n > 15)
        return -1;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

int sim_http_query_next(const char *q, size_t n, size_t *pos, const char **kv, size_t *kvlen) {
    size_t i = *pos, s = i;
    if (q == NULL || i >= n)
        return 0;
    while (i < n && q[i] != '&')
        i++;
    *kv = q + s;
    *kvlen = i - s;
    *pos = i + 1;
    return 1;
}

long sim_http_parse(const char *buf, size_t len, sim_request *req, char *err, size_t errlen) {
    memset(req, 0, sizeof *req);
    size_t p = 0;
    while (p < len && (buf[p] == '\r' || buf[p] == '\n'))
        p++;
    if (p >= SIM_HTTP_MAX_HEAD)
        return fail(err, errlen, "request head too large");

    const char *nl = p < len ? memchr(buf + p, '\n', len - p) : NULL;
    if (nl == NULL) {
        if (!prefix_ok(buf + p, len - p))
            return fail(err, errlen, "bad request line");
        if (len >= SIM_HTTP_MAX_HEAD)
            return fail(err, errlen, "request head too large");
        return 0;
    }
    size_t le = (size_t)(nl - buf);
    size_t lend = le > p && buf[le - 1] == '\r' ? le - 1 : le;
    if (parse_request_line(buf + p, lend - p, req, err, errlen) != 0)
        return -1;

    int conn_close = 0, conn_keep = 0, nheaders = 0;
    long clen = -1;
    p = le + 1;
    for (;;) {
        if (p >= len) {
            if (len >= SIM_HTTP_MAX_HEAD)
                return fail(err, errlen, "request head too large");
            return 0;
        }
        nl = memchr(buf + p, '\n', len - p);
        if (nl == NULL) {
            if (len >= SIM_HTTP_MAX_HEAD)
                return fail(err, errlen, "request head too large");
            return 0;
        }
        le = (size_t)(nl - buf);
        if (le + 1 > SIM_HTTP_MAX_HEAD)
            return fail(err, errlen, "request head too large");
        lend = le > p && buf[le - 1] == '\r' ? le - 1 : le;
        if (lend == p)
            break; /* the empty line that ends the head */
        const char *h = buf + p;
        size_t hn = lend - p;
        if (++nheaders > SIM_HTTP_MAX_HEADERS)
            return fail(err, errlen, "too many headers");
        if (h[0] == ' ' || h[0] == '\t')
            return fail(err, errlen, "obsolete header folding");
        size_t k = 0;
        while (k < hn && is_tchar((unsigned char)h[k]))
            k++;
        if (k == 0 || k >= hn || h[k] != ':')
            return fail(err, errlen, "bad header line");
        size_t vs = k + 1, ve = hn;
        for (size_t j = vs; j < hn; j++) {
            unsigned char c = (unsigned char)h[j];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(err, errlen, "control byte in header value");
        }
        while (vs < ve && (h[vs] == ' ' || h[vs] == '\t'))
            vs++;
        while (ve > vs && (h[ve - 1] == ' ' || h[ve - 1] == '\t'))
            ve--;
        const char *v = h + vs;
        size_t vn = ve - vs;
        if (ieq(h, k, "connection")) {
            connection_tokens(v, vn, &conn_close, &conn_keep);
        } else if (ieq(h, k, "content-length")) {
            long x = sim_http_count(v, vn);
            if (x < 0 || (clen >= 0 && x != clen))
                return fail(err, errlen, "bad Content-Length");
            clen = x;
        } else if (ieq(h, k, "transfer-encoding")) {
            return fail(err, errlen, "transfer codings not supported");
        } else if (ieq(h, k, "authorization")) {
            req->auth = v;
            req->auth_len = vn;
        } else if (ieq(h, k, "host")) {
            if (req->host == NULL) {
                req->host = v;
                req->host_len = vn;
            }
        }
        p = le + 1;
    }
    req->content_length = clen < 0 ? 0 : clen;
    if (req->minor >= 1)
        req->keep_alive = !conn_close;
    else
        req->keep_alive = conn_keep && !conn_close;
    return (long)(le + 1);
}
