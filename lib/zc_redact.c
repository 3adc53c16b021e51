/* zc_redact.c -- URIs made fit to print: their credentials replaced by "***". */
#include "zc_redact.h"

#include <ctype.h>
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

/* Nonzero when the scheme before sep (the letters, digits, '+', '-' and '.'
 * just before it: "--redis=redis://" names redis) is name, any case. */
static int scheme_is(const char *uri, const char *sep, const char *name) {
    const char *b = sep;
    while (b > uri && (isalnum((unsigned char)b[-1]) || b[-1] == '+' || b[-1] == '-' || b[-1] == '.')) b--;
    size_t n = strlen(name);
    return (size_t)(sep - b) == n && strncasecmp(b, name, n) == 0;
}

/* Nonzero when a[0..n) reads as host[:port] with a host and a decimal port (or
 * none): what may stand before a path, as opposed to "user:password". */
static int host_port(const char *a, size_t n) {
    const char *colon = memchr(a, ':', n);
    if (a[0] == '[') return 1; /* an IPv6 literal */
    if (!colon) return 1;
    if (colon == a || colon + 1 == a + n) return 0;
    for (const char *p = colon + 1; p < a + n; p++)
        if (*p < '0' || *p > '9') return 0;
    return 1;
}

/* The '@' that ends uri's userinfo, or NULL when it has none. auth is where the
 * authority begins (after "://", or uri itself without a scheme).
 *
 * A password may hold '/', '?' or '#' (redis://:pa/ss@host): the parsers that
 * read these URIs (zc_redis_parse, and libmongoc's for MongoDB) take everything
 * up to the last '@' as userinfo, so for those schemes, and for a scheme-less
 * Redis address, so does this. For any other scheme the userinfo ends at the
 * last '@' before the first '/', '?' or '#' as RFC 3986 says, and also at a
 * later '@' when what stands before that first '/', '?' or '#' cannot be a
 * host[:port] ("user:pa/ss@host"); an '@' in the path of http://host/a@b is
 * left alone. (A password holding '@' and '/' in an http URI is not told apart
 * from a path: RFC 3986 wants both percent-encoded there.) */
static const char *userinfo_end(const char *uri, const char *sep, const char *auth) {
    const char *last = strrchr(auth, '@');
    if (!last) return NULL;
    if (!sep || scheme_is(uri, sep, "redis") || scheme_is(uri, sep, "rediss") || scheme_is(uri, sep, "mongodb") ||
        scheme_is(uri, sep, "mongodb+srv"))
        return last;
    size_t n = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + n; p++)
        if (*p == '@') at = p;
    if (at) return at;
    return host_port(auth, n) ? NULL : last;
}

const char *zc_redact_uri(char *buf, size_t len, const char *uri) {
    size_t used = 0;
    if (len == 0) return buf;
    buf[0] = '\0';
    if (!uri) return buf;
    const char *sep = strstr(uri, "://");
    const char *auth = sep ? sep + 3 : uri;
    const char *at = userinfo_end(uri, sep, auth);
    put(buf, len, &used, uri, (size_t)(auth - uri));
    if (at) {
        put(buf, len, &used, "***", 3);
        auth = at;
    }
    const char *end = auth + strcspn(auth, "/?#");
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
