/* parse_book.h -- the book API through the built-in spec: the top of the parser's modules.
 *
 * parse_list, parse_detail, parse_page_kind and parse_url_book_id run the built-in
 * books spec (specs/books.json, compiled from spec_books_json on first use). This
 * header also brings in everything below it (spec.h and the parser's helpers), so
 * that a user of the parser includes one header. Pure functions: no sockets, no
 * logging, no global state but the body cap, the page arena, the conversions'
 * scratch buffer and the built-in spec. Failures come back as a one-line reason in
 * a buffer the caller owns (reasons never quote the body). */
#ifndef PARSE_BOOK_H
#define PARSE_BOOK_H

#include <stddef.h>
#include <stdint.h>
#include <bson/bson.h>

#include "parse_json.h"
#include "parse_text.h"
#include "parse_time.h"
#include "parse_url.h"
#include "spec.h"

/* The text of specs/books.json (spec_books.c, written by scripts/spec-books.sh). */
extern const char spec_books_json[];

/* The built-in books spec, compiled on first use and kept until spec_default_free().
 * Returns NULL only when memory runs out. */
const spec_t *spec_default(void);
void spec_default_free(void);

/* Frees the memory kept between pages: the arena, the scratch buffer and the
 * built-in spec (call at exit). */
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
 * large, invalid utf-8, too deep, invalid JSON, gone (a null body), not an object,
 * no id, bad id, id mismatch, document too large); out is then empty again. */
int parse_detail(const char *url, const char *body, size_t len, int64_t fetched_at_ms,
                 bson_t *out, char *err, size_t errlen);

#endif
