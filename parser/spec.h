/* spec.h -- a crawl spec (docs/SPEC.md): which pages are lists, which are items, and how to read them.
 *
 * A spec is JSON, checked and compiled once (paths split, templates and URL
 * patterns parsed, types resolved) into a spec_t that the page functions only
 * read. spec_load_* never fail silently: a mistake comes back as one line naming
 * the JSON path of the offending value ("$.pages[1].item.fields[3].type: ...").
 * The caller owns the spec_t and frees it with spec_free().
 *
 * The spec modules, each calling only those below it: spec.c (loading, page rules,
 * classifying) over spec_list.c and spec_item.c (the two kinds of page rule),
 * spec_field.c (fields and conversions), spec_tpl.c (paths, templates, patterns)
 * and spec_loader.c (reading the spec's JSON); under them the parser's helpers
 * (parse_json, parse_url, parse_time, parse_text). */
#ifndef SPEC_H
#define SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <bson/bson.h>

#include "parse_url.h"
#include "spec_tpl.h"

#define SPEC_MAX_BYTES (1u << 20) /* largest spec file */
#define SPEC_MAX_PAGES 64         /* page rules in one spec */

typedef enum {
    PARSE_KIND_UNKNOWN = 0,
    PARSE_KIND_LIST,  /* a list rule matched */
    PARSE_KIND_DETAIL /* an item rule matched */
} parse_kind;

typedef struct spec_t spec_t;

/* Reads and compiles the spec at path. Returns it, or NULL with one line in err
 * ("PATH: $.json.path: what is wrong", or why the file cannot be read). */
spec_t *spec_load_file(const char *path, char *err, size_t errlen);
/* Compiles the spec text[0..len); name stands for the file in messages. */
spec_t *spec_load_text(const char *text, size_t len, const char *name, char *err, size_t errlen);
void spec_free(spec_t *s);

/* The spec's "name". */
const char *spec_name(const spec_t *s);

/* Matches url against the spec's page rules in order; the first match wins. Never
 * fails: a URL no rule matches (or no http(s) URL) is PARSE_KIND_UNKNOWN. Captures
 * point into url. */
int spec_classify(const spec_t *s, const char *url, spec_match *m);

/* A list page: appends to out (reset first) the URL of every item, then the further
 * list pages the pagination rule yields. Items without a usable URL are counted in
 * out->skipped. Returns 0, or -1 with a one-line reason in err (out empty). */
int spec_list(const spec_t *s, const spec_match *m, const char *url, const char *body, size_t len,
              parse_urls *out, char *err, size_t errlen);

/* An item page: the document, appended to out (reinitialised first). Returns 0, or
 * -1 with a one-line reason in err (bad body, no or bad _id, a required field
 * missing or not convertible, document too large); out is then empty. */
int spec_item(const spec_t *s, const spec_match *m, const char *url, const char *body, size_t len,
              int64_t fetched_at_ms, bson_t *out, char *err, size_t errlen);

#endif
