/* zc_url.h -- URL canonical form, fingerprint and host key.
 *
 * Canonical form: scheme and host lower-cased, default port dropped, empty path
 * becomes "/", trailing slashes dropped from a non-root path, query parameters
 * sorted (stably, by the whole "k=v" string), empty query and fragment dropped.
 * Only http and https URLs are accepted. */
#ifndef ZC_URL_H
#define ZC_URL_H

#include <stddef.h>
#include <stdint.h>

#define ZC_URL_MAX 2048

/* Writes the canonical form of url[0..len) into out (NUL-terminated). Returns its
 * length, or -1 with a reason in err when url is not an absolute http(s) URL or
 * does not fit in outlen. */
int zc_url_canonical(const char *url, size_t len, char *out, size_t outlen,
                     char *err, size_t errlen);
/* Returns 0 when url[0..len) is a URL zcrawl can crawl (one zc_url_canonical
 * accepts), or -1 with the reason in err. For start URLs and seeds. */
int zc_url_check(const char *url, size_t len, char *err, size_t errlen);
/* 64-bit FNV-1a of the canonical form, as 16 lower-case hex digits plus NUL. */
void zc_url_fingerprint(const char *canon, size_t len, char out[17]);
/* The seen set's fingerprint of a canonical URL: FNV-1a, then a 64-bit finalizer
 * (a bijection, so no new collisions) that spreads every input bit over the top
 * bits the seen set buckets by. Written big-endian into out[8]. Cannot fail. */
void zc_url_fp64(const char *canon, size_t len, unsigned char out[8]);
/* Writes "host:port" (lower-cased, port always present) for url into out: the
 * key of the per-host concurrency cap. Returns 0, or -1 when url is not http(s). */
int zc_url_host(const char *url, char *out, size_t outlen);

#endif
