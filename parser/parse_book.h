/* parse_book.h -- turns the book site's JSON pages into URL lists and BSON documents.
 *
 * Pure functions: no sockets, no logging, no global state but the body cap. Every
 * input is untrusted: a body is checked for size, UTF-8, NUL bytes and nesting
 * depth before cJSON sees it, and failures come back as a one-line reason in a
 * buffer the caller owns (reasons never quote the body). */
#ifndef PARSE_BOOK_H
#define PARSE_BOOK_H

#include <stddef.h>
#include <stdint.h>
#include <bson/bson.h>

#define PARSE_MAX_DEPTH 64                 /* deepest [ / { nesting accepted */
#define PARSE_DEFAULT_MAX_BODY (8u << 20)  /* 8 MiB */
#define PARSE_DEFAULT_LIMIT 18             /* list page size when the URL has none */
#define PARSE_MAX_COUNT 10000000           /* a larger "count" is clamped to this */
#define PARSE_MAX_LIST_PAGES 200000        /* list pages one first page may announce */
#define PARSE_ID_MAX 32                    /* longest book id, in digits */

typedef enum {
    PARSE_KIND_UNKNOWN = 0,
    PARSE_KIND_LIST,    /* /api/book/ (any query) or /api/book?query */
    PARSE_KIND_DETAIL   /* /api/book/{digits} or /api/book/{digits}/ */
} parse_kind;

/* The URLs a list page yields: '\n'-joined (no trailing '\n'), NUL-terminated.
 * The caller owns the struct; parse_urls_free() releases its buffer. */
typedef struct parse_urls {
    char *buf;          /* NULL until the first URL */
    size_t len;         /* bytes in buf, excluding the NUL */
    size_t cap;
    size_t n;           /* URLs in buf */
    size_t ndetail;     /* of which detail pages */
    size_t nlist;       /* of which further list pages */
    size_t skipped;     /* result items without a usable id (each a warning) */
    int truncated;      /* count was clamped to PARSE_MAX_COUNT / PARSE_MAX_LIST_PAGES */
} parse_urls;

void parse_urls_init(parse_urls *u);
/* Empties the list (and zeroes the counters) but keeps the buffer for reuse. */
void parse_urls_reset(parse_urls *u);
void parse_urls_free(parse_urls *u);

/* Sets / reads the largest body parse_list and parse_detail accept (bytes, > 0). */
void parse_set_max_body(size_t n);
size_t parse_max_body(void);

/* Frees the memory parse_list and parse_detail keep between pages (call at exit). */
void parse_cleanup(void);

/* Classifies an absolute http(s) URL by its path. Never fails: anything that is not
 * a list or detail URL (or not a URL) is PARSE_KIND_UNKNOWN. */
int parse_page_kind(const char *url);

/* Writes the book id of a detail URL into id (NUL-terminated digits). Returns 0,
 * or -1 when url is not a detail URL or the id does not fit in idlen. */
int parse_url_book_id(const char *url, char *id, size_t idlen);

/* Parses a list page ({"count": N, "results": [...]}) fetched from url and appends
 * to out (which it resets first) the detail URL of every result, then, when url's
 * offset is 0, every other list page ?limit=L&offset=O for O = L, 2L, ... < count.
 * Items without a usable id are skipped and counted in out->skipped. Returns 0, or
 * -1 with a one-line reason in err (bad url, body too large, invalid utf-8, too
 * deep, invalid JSON, not an object, results missing or not an array, count
 * missing or not a number, out of memory); out is then empty. */
int parse_list(const char *url, const char *body, size_t len, parse_urls *out,
               char *err, size_t errlen);

/* Parses a detail page fetched from url at fetched_at_ms (ms since the epoch) into
 * the clean document, appended to out: an initialised, empty bson_t the caller
 * owns. Returns 0, or -1 with a one-line reason in err (not a detail url, body too
 * large, invalid utf-8, too deep, invalid JSON, not an object, no id, bad id, id
 * mismatch, document too large); out is then empty again. */
int parse_detail(const char *url, const char *body, size_t len, int64_t fetched_at_ms,
                 bson_t *out, char *err, size_t errlen);

/* --- helpers, public for the unit tests --- */

/* Copies s[0..len) to out with leading and trailing whitespace removed and every
 * inner run of whitespace (ASCII space, \t \n \r \v \f, U+00A0, U+3000) turned into
 * one space. out must hold len + 1 bytes; it is NUL-terminated. Returns its length. */
size_t parse_collapse_ws(const char *s, size_t len, char *out);

/* Parses an ISO 8601 date or date-time: "2019-10-15", "2019-10-15T00:00:00Z",
 * "2019-10-15 08:00:00.123+08:00", "...+0800", "...-05"; no zone means UTC.
 * Returns 0 with *ms since the epoch, or -1 when s is not such a string. */
int parse_iso8601_ms(const char *s, int64_t *ms);

/* Parses a decimal string such as "8.9" or " 9 " into a finite double. Returns 0,
 * or -1 (empty, not a plain decimal number, infinite). */
int parse_decimal(const char *s, double *out);

/* Parses an optionally signed integer string such as "352" (at most 18 digits,
 * surrounding whitespace allowed). Returns 0, or -1. */
int parse_int_str(const char *s, int64_t *out);

#endif
