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
#include "spec_counts.h"
#include "spec_item.h"
#include "spec_list.h"
#include "spec_tpl.h"
#include "zc_buf.h"
#include "zc_headers.h"

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

/* The request headers the spec asks for ("headers", values from the environment
 * already read): never NULL, possibly empty. They hold secrets: see zc_headers.h. */
const zc_headers *spec_headers(const spec_t *s);

/* What a spec uses that a crawl needs more than pages and bodies for: */
enum {
    SPEC_USES_LINK = 1,      /* pagination from the Link response header */
    SPEC_USES_LIST_DOCS = 2, /* documents from the items of list pages */
    SPEC_USES_FOLLOW = 4,    /* item pages that yield URLs as well as a document */
    SPEC_USES_GONE = 8,      /* item pages that can say their item is gone (null, gone_if) */
    SPEC_USES_HEADERS = 16   /* request headers */
};
/* The SPEC_USES_* flags of s. */
int spec_uses(const spec_t *s);

/* "NAME" of page rule i when it has one, else "pages[i]", into buf. Returns buf. */
const char *spec_page_name(const spec_t *s, int i, char *buf, size_t len);

/* Counters sized for s (spec_counts.h), all zero. Returns NULL when memory runs
 * out; free with spec_counts_free. */
spec_counts *spec_counts_for(const spec_t *s);

/* Appends to out one line for every field that came out null and every template
 * placeholder that skipped values, lines joined by '\n' and NUL-terminated (len
 * without the NUL), tab-separated:
 *   null  PAGE  FIELD        NULLS  SEEN  SWAPPED   (FIELD "a.b" inside objects a)
 *   skip  PAGE  TEMPLATE     PLACEHOLDER  SKIPPED  TRIED   ("(too long)" for URLs that did not fit)
 * PAGE is spec_page_name's. Names hold no tab or newline (the loader refuses
 * control characters). Returns the number of lines, or -1 when memory runs out. */
int spec_counts_format(const spec_t *s, const spec_counts *c, zc_buf *out);
/* The same for the broker (COUNTS, docs/PROTOCOL.md), so that counters sent as
 * deltas add up: a null line for every field read at least once (NULLS may be 0),
 * the skip lines, and for every template that expanded values
 *   tried  PAGE  TEMPLATE  SKIPPED  TRIED
 * Returns the number of lines, or -1 when memory runs out. */
int spec_counts_report(const spec_t *s, const spec_counts *c, zc_buf *out);
/* Matches url against the spec's page rules in order; the first match wins. Never
 * fails: a URL no rule matches (or no http(s) URL) is PARSE_KIND_UNKNOWN. Captures
 * point into url. */
int spec_classify(const spec_t *s, const char *url, spec_match *m);

/* A fetched page, as the parser reads it. */
typedef struct spec_page {
    const char *url; /* as the broker leased it, NUL-terminated */
    const char *body;
    size_t len;
    int64_t fetched_at_ms;
    const char *link; /* the response's Link header ("" when it had none), or NULL when it did not reach the parser */
} spec_page;

/* What a page yields. The caller owns it: spec_out_init, then sets doc (for item
 * pages), counts and trace (either may stay NULL); spec_out_free at the end. */
typedef struct spec_out {
    parse_urls urls;         /* URLs to crawl: items, URLs an item follows, further list pages */
    spec_docs docs;          /* documents of a list page's items */
    bson_t *doc;             /* an item page's document: the caller's, reinitialised by spec_item */
    spec_counts *counts;     /* counted into (spec_counts_for) */
    const spec_trace *trace; /* told every step (--try) */
} spec_out;

void spec_out_init(spec_out *o);
/* Frees urls and docs (not doc, counts or trace, which are the caller's). */
void spec_out_free(spec_out *o);

/* A list page: appends to out->urls (reset first) the URL of every item, then the
 * further list pages the pagination rule yields, and to out->docs (reset first)
 * the document of every item when the rule has an "item". Items without a usable
 * URL are counted in out->urls.skipped, items that make no document in
 * out->docs.dropped. Returns 0, or -1 with a one-line reason in err (urls and docs
 * empty). */
int spec_list(const spec_t *s, const spec_match *m, const spec_page *pg, spec_out *out, char *err, size_t errlen);

/* An item page: the document, appended to out->doc (reinitialised first), and the
 * URLs of the rule's follow to out->urls (reset first). Returns 0; SPEC_GONE when
 * the page says the item is gone (a null body, or gone_if true: doc and urls
 * empty); -1 with a one-line reason in err (bad body, no or bad _id, a required
 * field missing or not convertible, document too large), doc and urls empty. */
int spec_item(const spec_t *s, const spec_match *m, const spec_page *pg, spec_out *out, char *err, size_t errlen);

#endif
