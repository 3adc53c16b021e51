/* fetch_redirect.c -- which redirects a fetcher follows itself (zc_url, curl_url). */
#include "fetch_redirect.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "zc_url.h"

int fetch_same_url(const char *a, const char *b) {
    char ca[ZC_URL_MAX], cb[ZC_URL_MAX], err[128];
    int la = zc_url_canonical(a, strlen(a), ca, sizeof(ca), err, sizeof(err));
    int lb = la < 0 ? -1 : zc_url_canonical(b, strlen(b), cb, sizeof(cb), err, sizeof(err));
    if (la < 0 || lb < 0) return -1;
    return la == lb && memcmp(ca, cb, (size_t)la) == 0;
}

/* 1 when url parses as an absolute URL at all (any scheme), 2 when it is http or
 * https with a host, 0 when it does not parse. */
static int url_kind(const char *url) {
    CURLU *u = curl_url();
    if (!u) return 0;
    int kind = 0;
    char *scheme = NULL, *host = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        kind = 1;
        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https")))
            kind = 2;
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return kind;
}

fetch_redir fetch_redirect_decide(const char *job_url, const char *target, long hops, long max_redirs, int robots) {
    if (!target || !*target) return FETCH_REDIR_BAD;
    size_t n = strlen(target);
    if (n > ZC_URL_MAX) return FETCH_REDIR_BAD;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)target[i] <= 0x20 || target[i] == 0x7F) return FETCH_REDIR_BAD;
    if (robots) {
        if (url_kind(target) != 2) return FETCH_REDIR_BAD; /* file:, ftp:, junk: robots.txt unavailable */
        return hops >= FETCH_ROBOTS_MAX_REDIRS ? FETCH_REDIR_TOO_MANY : FETCH_REDIR_FOLLOW;
    }
    if (fetch_same_url(job_url, target) == 1) return hops >= max_redirs ? FETCH_REDIR_TOO_MANY : FETCH_REDIR_FOLLOW;
    /* Another URL (file:///etc/passwd and mailto:x too): the broker's, when it parses. */
    return url_kind(target) ? FETCH_REDIR_REPORT : FETCH_REDIR_BAD;
}

void fetch_redirect_report(const char *target, char *out, size_t outlen) {
    char err[128];
    if (zc_url_canonical(target, strlen(target), out, outlen, err, sizeof(err)) < 0) snprintf(out, outlen, "%s", target);
}

int fetch_is_robots(const char *url, size_t len) {
    static const char tail[] = "/robots.txt";
    const char *a = memmem(url, len, "://", 3);
    if (!a) return 0;
    const char *p = memchr(a + 3, '/', len - (size_t)(a + 3 - url));
    return p && (size_t)(url + len - p) == sizeof(tail) - 1 && !memcmp(p, tail, sizeof(tail) - 1);
}
