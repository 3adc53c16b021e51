/* zc_robots.h -- robots.txt (RFC 9309): parse once, then ask whether a path may
 * be fetched and how long to wait between requests.
 *
 * A zc_robots holds the rules that apply to one crawler: the groups whose
 * user-agent matches its product token (case-insensitive), combined, or else
 * the "*" groups. Parsing never fails on content: any bytes give rules (lines
 * that mean nothing are skipped); only the first ZC_ROBOTS_MAX_BYTES count.
 * The caller owns what zc_robots_parse/zc_robots_for_status return and frees
 * it with zc_robots_free. A zc_robots is read-only after parsing, so threads
 * may share one. */
#ifndef ZC_ROBOTS_H
#define ZC_ROBOTS_H

#include <stddef.h>

#define ZC_ROBOTS_MAX_BYTES (500 * 1024) /* RFC 9309 2.5: parse at least 500 KiB */

typedef struct zc_robots zc_robots;

/* Parses a robots.txt body for the crawler whose product token starts agent
 * ("zcrawl", or a whole User-Agent such as "zcrawl/0.1 (+url)"). Returns NULL
 * only when out of memory. */
zc_robots *zc_robots_parse(const char *body, size_t len, const char *agent);
/* The rules that a fetch of /robots.txt answered with status (0: no answer at
 * all) gives: 2xx parses body; 3xx left unresolved and 4xx "unavailable" allow
 * everything; 429, 5xx and no answer "unreachable" disallow everything (RFC 9309
 * 2.3.1; 429 as a server error, as Google does). NULL only when out of memory. */
zc_robots *zc_robots_for_status(long status, const char *body, size_t len, const char *agent);
/* 1 when path (the URL's path and query, e.g. "/a/b?c=1"; a fragment is
 * ignored; "" means "/") may be fetched, else 0. Longest matching rule wins, an
 * Allow over a Disallow of the same length; no match allows; /robots.txt is
 * always allowed. Percent-encoding is normalised on both sides. Out of memory
 * for a path longer than 8 KiB answers 0. */
int zc_robots_allowed(const zc_robots *r, const char *path);
/* The Crawl-delay of the chosen groups in milliseconds (the largest when
 * several give one, at most a day), or -1 when none gives one. */
long zc_robots_crawl_delay_ms(const zc_robots *r);
/* Frees r; NULL is fine. */
void zc_robots_free(zc_robots *r);

#endif
