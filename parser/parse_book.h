/* parse_book.h -- the book API's page functions, and what every spec shares.
 *
 * parse_list, parse_detail, parse_page_kind and parse_url_book_id run the built-in
 * books spec (specs/books.json, see spec.h); the helpers below them are the pieces
 * every spec uses. Pure functions: no sockets, no logging, no global state but the
 * body cap, the page arena and the built-in spec. Every input is untrusted: a body is checked for size, UTF-8, NUL bytes and nesting
 * depth before cJSON sees it, and failures come back as a one-line reason in a
 * buffer the caller owns (reasons never quote the body). */
#ifndef PARSE_BOOK_H
#define PARSE_BOOK_H

#include <stddef.h>
#include <stdint.h>
#include <bson/bson.h>
#include <cjson/cJSON.h>

#define PARSE_MAX_DEPTH        64         /* deepest [ / { nesting accepted */
#define PARSE_DEFAULT_MAX_BODY (8u << 20) /* 8 MiB */
#define PARSE_DEFAULT_LIMIT    18         /* list page size when the URL has none */
#define PARSE_MAX_COUNT        10000000   /* a larger "count" is clamped to this */
#define PARSE_MAX_LIST_PAGES   200000     /* list pages one first page may announce */
#define PARSE_ID_MAX           32         /* longest book id, in digits */
#define PARSE_ORIGIN_MAX       1024       /* longest scheme://host[:port] URLs are built from */

typedef enum {
    PARSE_KIND_UNKNOWN = 0,
    PARSE_KIND_LIST,  /* /api/book/ (any query) or /api/book?query */
    PARSE_KIND_DETAIL /* /api/book/{digits} or /api/book/{digits}/ */
} parse_kind;

/* The URLs a list page yields: '\n'-joined (no trailing '\n'), NUL-terminated.
 * The caller owns the struct; parse_urls_free() releases its buffer. */
typedef struct parse_urls {
    char *buf;  /* NULL until the first URL */
    size_t len; /* bytes in buf, excluding the NUL */
    size_t cap;
    size_t n;       /* URLs in buf */
    size_t ndetail; /* of which detail pages */
    size_t nlist;   /* of which further list pages */
    size_t skipped; /* result items without a usable id (each a warning) */
    int truncated;  /* count was clamped to PARSE_MAX_COUNT / PARSE_MAX_LIST_PAGES */
} parse_urls;

void parse_urls_init(parse_urls *u);
/* Empties the list (and zeroes the counters) but keeps the buffer for reuse. */
void parse_urls_reset(parse_urls *u);
void parse_urls_free(parse_urls *u);

/* Sets / reads the largest body parse_list and parse_detail accept (bytes, > 0). */
void parse_set_max_body(size_t n);
size_t parse_max_body(void);

/* Frees the memory kept between pages: the arena and the built-in spec (call at exit). */
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

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (m 1..12). */
int64_t parse_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Parses a decimal string such as "8.9" or " 9 " into a finite double. Returns 0,
 * or -1 (empty, not a plain decimal number, infinite). */
int parse_decimal(const char *s, double *out);

/* Parses an optionally signed integer string such as "352" (at most 18 digits,
 * surrounding whitespace allowed). Returns 0, or -1. */
int parse_int_str(const char *s, int64_t *out);

/* --- shared by the spec engine --- */

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

/* Checks body (size, UTF-8, NUL bytes, depth) and parses it into the page arena.
 * Returns the root, or NULL with a reason in err; either way parse_json_release()
 * ends the page (the tree goes with it). */
cJSON *parse_json(const char *body, size_t len, char *err, size_t errlen);
void parse_json_release(void);

/* An id from a JSON value: a string of 1..PARSE_ID_MAX digits, or a whole number
 * in [0, 2^53). Returns 0 with the digits in out, or -1. */
int parse_json_id(const cJSON *v, char *out, size_t outlen);

/* Decodes HTML character references in s[0..len) into out (which must hold len + 1
 * bytes; the result is never longer): &amp; &lt; &nbsp; &mdash; ... (named ones
 * from a table of the common ones), &#39; &#x27;. Unknown or unterminated
 * references stay as they are; a numeric one naming NUL, a surrogate or a value
 * above U+10FFFF becomes U+FFFD. Returns the length written (NUL-terminated). */
size_t parse_html_unescape(const char *s, size_t len, char *out);

/* Strips HTML tags from s[0..len) into out (len + 1 bytes), then decodes character
 * references: <br> and </p> become a newline, comments and the insides of
 * <script> and <style> go, a '<' that starts no tag stays. Returns the length. */
size_t parse_html_text(const char *s, size_t len, char *out);

#endif
