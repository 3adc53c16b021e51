/* fetch_redirect.c -- which redirects a fetcher follows itself (libcurl's URL API). */
#include "fetch_redirect.h"

#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "zc_url.h"

/* Scheme, host and port (with CURLU_DEFAULT_PORT) of url into three strings the
 * caller frees with curl_free. Returns 0, or -1 when url has no scheme or host. */
static int url_origin(const char *url, char **scheme, char **host, char **port) {
    *scheme = *host = *port = NULL;
    CURLU *u = curl_url();
    if (!u) return -1;
    int rc = -1;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, scheme, 0) != CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_HOST, host, 0) != CURLUE_OK) goto out;
    /* A scheme libcurl has no default port for (file:, gopher:, ...) gets none. */
    if (curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) != CURLUE_OK) *port = NULL;
    rc = 0;
out:
    curl_url_cleanup(u);
    if (rc != 0) {
        curl_free(*scheme);
        curl_free(*host);
        *scheme = *host = NULL;
    }
    return rc;
}

int fetch_same_origin(const char *a, const char *b) {
    char *sa, *ha, *pa, *sb, *hb, *pb;
    if (url_origin(a, &sa, &ha, &pa) != 0) return -1;
    int same = -1;
    if (url_origin(b, &sb, &hb, &pb) == 0) {
        same = strcasecmp(sa, sb) == 0 && strcasecmp(ha, hb) == 0 && pa && pb && strcmp(pa, pb) == 0;
        curl_free(sb);
        curl_free(hb);
        curl_free(pb);
    }
    curl_free(sa);
    curl_free(ha);
    curl_free(pa);
    return same;
}

fetch_redir fetch_redirect_decide(const char *job_url, const char *target, long hops, long max_redirs) {
    if (!target || !*target) return FETCH_REDIR_BAD;
    size_t n = strlen(target);
    if (n > ZC_URL_MAX) return FETCH_REDIR_BAD;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)target[i] <= 0x20 || target[i] == 0x7F) return FETCH_REDIR_BAD;
    int same = fetch_same_origin(job_url, target);
    if (same < 0) {
        /* No host (file:///etc/passwd, mailto:x): another origin, when it parses at all. */
        CURLU *u = curl_url();
        int parses = u && curl_url_set(u, CURLUPART_URL, target, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK;
        curl_url_cleanup(u);
        return parses ? FETCH_REDIR_REPORT : FETCH_REDIR_BAD;
    }
    if (!same) return FETCH_REDIR_REPORT;
    return hops >= max_redirs ? FETCH_REDIR_TOO_MANY : FETCH_REDIR_FOLLOW;
}

int fetch_is_robots(const char *url, size_t len) {
    static const char tail[] = "/robots.txt";
    const char *a = memmem(url, len, "://", 3);
    if (!a) return 0;
    const char *p = memchr(a + 3, '/', len - (size_t)(a + 3 - url));
    return p && (size_t)(url + len - p) == sizeof(tail) - 1 && !memcmp(p, tail, sizeof(tail) - 1);
}
