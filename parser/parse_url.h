/* parse_url.h -- URLs in the parser: the list of URLs a page yields, splitting a page's URL, links from pages.
 *
 * Pure functions; the URL list owns its buffer. */
#ifndef PARSE_URL_H
#define PARSE_URL_H

#include <stddef.h>
#include <stdint.h>

#define PARSE_ORIGIN_MAX     1024     /* longest scheme://host[:port] URLs are built from */
#define PARSE_MAX_COUNT      10000000 /* a larger total of list items is clamped to this */
#define PARSE_MAX_LIST_PAGES 200000   /* list pages one first page may announce */

/* The URLs a page yields: '\n'-joined (no trailing '\n'), NUL-terminated.
 * The caller owns the struct; parse_urls_free() releases its buffer. */
typedef struct parse_urls {
    char *buf;  /* NULL until the first URL */
    size_t len; /* bytes in buf, excluding the NUL */
    size_t cap;
    size_t n;               /* URLs in buf */
    size_t ndetail;         /* of which item pages */
    size_t nlist;           /* of which further list pages */
    size_t skipped;         /* list items without a usable URL (each a warning) */
    const char *skipped_at; /* what skipped the first of them: a placeholder's path ("ref.cod", in the spec), or "(too long)" */
    int truncated;          /* a count was clamped (PARSE_MAX_COUNT / PARSE_MAX_LIST_PAGES) */
} parse_urls;

void parse_urls_init(parse_urls *u);
/* Empties the list (and zeroes the counters) but keeps the buffer for reuse. */
void parse_urls_reset(parse_urls *u);
void parse_urls_free(parse_urls *u);
/* Appends one URL (with a '\n' before it unless it is the first). Returns 0, or -1
 * when memory runs out. */
int parse_urls_add(parse_urls *u, const char *s, size_t len);

typedef struct parse_url_parts {
    const char *origin; /* scheme://authority */
    size_t origin_len;
    const char *path; /* from the first '/' after the authority, up to ? or # */
    size_t path_len;
    const char *query; /* after '?', up to '#' */
    size_t query_len;
} parse_url_parts;

/* Splits an absolute http(s) URL (pointers into url). Returns 0, or -1 when url is
 * not one or its origin holds control characters or spaces. */
int parse_url_split(const char *url, parse_url_parts *p);

/* Looks up query parameter key. Returns 1 with its value as a decimal in *v, 0 when
 * it is absent, -1 when present but not a plain decimal (at most 12 digits). */
int parse_query_num(const parse_url_parts *p, const char *key, uint64_t *v);

/* A URL a page names (a "next" link): absolute http(s), or a path on the origin of
 * the page u. Writes it to out (NUL-terminated). Returns its length, or -1 when it
 * is empty, holds a space or a control character, is neither, or does not fit. */
long parse_url_resolve(const parse_url_parts *u, const char *s, char *out, size_t cap);

/* url with query parameter key set to val[0..vlen) (percent-encoded but for
 * unreserved characters): its first occurrence replaced, or appended; a fragment
 * dropped. Writes it to out (NUL-terminated). Returns its length, or -1 when it does
 * not fit. */
long parse_url_set_param(const char *url, const char *key, const char *val, size_t vlen, char *out, size_t cap);

/* Finds in link, the value of a Link response header (RFC 8288: `<URI>; rel="next",
 * <URI>; rel="last"`, several header lines joined by ", "), the first link whose
 * rel holds the relation type rel (any case; rel may be a space-separated list),
 * and writes its URI resolved against the page u to out (absolute http(s), or a path
 * on u's origin). Returns its length; 0 when no link has that relation; -1 when the
 * one that has is not such a URL or does not fit. A malformed link-value is
 * skipped, never read past the string. */
long parse_link_find(const char *link, const char *rel, const parse_url_parts *u, char *out, size_t cap);

#endif
