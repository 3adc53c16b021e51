/* zc_redact.c -- URIs made fit to print: their credentials replaced by "***". */
#include "zc_redact.h"

#include <string.h>
#include <strings.h>

/* Appends n bytes of s to buf at *used, cutting at len - 1. */
static void put(char *buf, size_t len, size_t *used, const char *s, size_t n) {
    if (*used + 1 >= len) return;
    if (n > len - 1 - *used) n = len - 1 - *used;
    memcpy(buf + *used, s, n);
    *used += n;
    buf[*used] = '\0';
}

/* Nonzero when the parameter name p[0..n) names a secret. */
static int secret_name(const char *p, size_t n) {
    static const char *const words[] = { "pass", "secret", "token", NULL };
    for (int w = 0; words[w]; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= n; i++)
            if (strncasecmp(p + i, words[w], wl) == 0) return 1;
    }
    return 0;
}

const char *zc_redact_uri(char *buf, size_t len, const char *uri) {
    size_t used = 0;
    if (len == 0) return buf;
    buf[0] = '\0';
    if (!uri) return buf;
    const char *sep = strstr(uri, "://");
    const char *auth = sep ? sep + 3 : uri;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@') at = p;
    put(buf, len, &used, uri, (size_t)(auth - uri));
    if (at) {
        put(buf, len, &used, "***", 3);
        auth = at;
    }
    const char *q = strchr(end, '?');
    if (!q) {
        put(buf, len, &used, auth, strlen(auth));
        return buf;
    }
    put(buf, len, &used, auth, (size_t)(q + 1 - auth));
    const char *p = q + 1;
    while (*p) {
        size_t n = strcspn(p, "&;#");
        const char *eq = memchr(p, '=', n);
        if (eq && secret_name(p, (size_t)(eq - p))) {
            put(buf, len, &used, p, (size_t)(eq + 1 - p));
            put(buf, len, &used, "***", 3);
        } else {
            put(buf, len, &used, p, n);
        }
        p += n;
        if (*p == '#') {
            put(buf, len, &used, p, strlen(p));
            break;
        }
        if (*p) put(buf, len, &used, p++, 1);
    }
    return buf;
}
