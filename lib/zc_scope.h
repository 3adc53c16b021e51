/* zc_scope.h -- a crawl's scope: which URLs it may fetch.
 *
 * In scope: http and https URLs whose origin (scheme, host, port) is the origin of
 * a start URL, or whose host matches an allowed host pattern ("example.com" that
 * host exactly, "*.example.com" any host below it; any scheme of the two, any
 * port). Everything else is out of scope. The caller owns a zc_scope and frees it
 * with zc_scope_free; it copies every string it is given. */
#ifndef ZC_SCOPE_H
#define ZC_SCOPE_H

#include <stddef.h>

#define ZC_SCOPE_ORIGIN_MAX 300

typedef struct zc_scope zc_scope;

/* An empty scope (allows nothing). Returns NULL only when out of memory. */
zc_scope *zc_scope_new(void);
void zc_scope_free(zc_scope *s);
/* Writes url's origin in canonical form ("http://host", "https://host:8443":
 * lower case, default port dropped, no credentials) into out. Returns 0, or -1
 * with a reason in err when url is not an absolute http(s) URL. */
int zc_scope_origin(const char *url, char *out, size_t outlen, char *err, size_t errlen);
/* Puts the origin of url (a start URL) in scope. Returns 1 when it is new, 0 when
 * it was in already, -1 with a reason in err (not an http(s) URL, out of memory). */
int zc_scope_add_origin(zc_scope *s, const char *url, char *err, size_t errlen);
/* Allows a host pattern: "example.com" or "*.example.com" (letters, digits, '-',
 * '.', or an IP address; lower-cased here). Returns 0, or -1 with a reason in err. */
int zc_scope_add_host(zc_scope *s, const char *pattern, char *err, size_t errlen);
/* Adds every pattern of a comma-separated list (empty items skipped). Returns 0,
 * or -1 with a reason in err naming the bad pattern. */
int zc_scope_add_hosts(zc_scope *s, const char *list, char *err, size_t errlen);
/* 1 when url is in scope, 0 when it is not or is not an http(s) URL. */
int zc_scope_allows(const zc_scope *s, const char *url);
/* Number of origins and of host patterns in scope. */
size_t zc_scope_norigins(const zc_scope *s);
size_t zc_scope_nhosts(const zc_scope *s);

#endif
