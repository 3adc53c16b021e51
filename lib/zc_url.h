/* zc_url.h -- URL canonical form, fingerprint and host key.
 *
 * libcurl's URL API (curl_url) splits the URL and removes dot segments ("/a/./b/../c"
 * is "/a/c"). On top: scheme and host lower-cased, default port dropped, empty path
 * becomes "/", trailing slashes dropped from a non-root path, query parameters
 * sorted (by the whole "k=v" string, byte order), empty parameters, empty query
 * and fragment dropped; percent-encoding is kept as written. Only http and https
 * URLs are accepted, without credentials (user@host), with an ASCII host (IDNs in
 * punycode) that libcurl reads as written (no 0x7f.1, %41.com, [0:0::1] or zone
 * id: the broker's Lua keys queues by the written host), port 1..65535. */
#ifndef ZC_URL_H
#define ZC_URL_H

#include <stddef.h>
#include <stdint.h>

#define ZC_URL_MAX 2048
/* The version of the canonical form, recorded in a crawl's meta (url_form): a
 * change that gives any accepted URL another canonical form (so another
 * fingerprint) must raise it. 1: the hand-written splitter; 2: libcurl's URL
 * parser, with dot segments removed and credentials refused. */
#define ZC_URL_FORM 2

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
