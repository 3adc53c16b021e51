/* spec_list.h -- a list rule of a spec: where a page's items are, the URL of each, and how to reach the other list pages.
 *
 * The caller owns the rule (spec_list_rule_free). */
#ifndef SPEC_LIST_H
#define SPEC_LIST_H

#include <stdint.h>
#include <bson/bson.h>
#include <cjson/cJSON.h>

#include "parse_url.h"
#include "spec_counts.h"
#include "spec_item.h"
#include "spec_loader.h"
#include "spec_tpl.h"

enum { SPEC_PG_NONE,
       SPEC_PG_OFFSET,
       SPEC_PG_PAGES,
       SPEC_PG_NEXT,
       SPEC_PG_CURSOR,
       SPEC_PG_LINK,
       SPEC_PG_HAS_MORE };

typedef struct spec_list_rule {
    spec_path items;
    spec_tpl item_url;  /* no parts: the list's items give no URLs */
    spec_item_rule doc; /* "item": the items are the documents */
    int has_doc;
    int pg;          /* SPEC_PG_* */
    spec_path total; /* offset/pages: total items (or pages with total_pages) */
    int total_is_pages;
    char *limit_param, *offset_param, *page_param;
    long default_limit, first_page, per_page;
    spec_path from; /* next/cursor: where the link or cursor is; has_more: the flag */
    spec_tpl pg_url;
    char *rel;          /* link: the relation type of the next page */
    spec_path cursor;   /* has_more: the cursor in the last item */
    char *cursor_param; /* has_more: set on the page's own URL (or pg_url with {cursor}) */
} spec_list_rule;

/* Documents one after another in one buffer, each a whole BSON document (its first
 * four bytes its length, little-endian). The caller owns it: spec_docs_init, then
 * spec_docs_free. */
typedef struct spec_docs {
    uint8_t *buf;
    size_t len, cap;
    size_t n;       /* documents in buf */
    size_t dropped; /* items that made no document (each a warning) */
    char why[160];  /* why the first of them was dropped */
} spec_docs;

void spec_docs_init(spec_docs *d);
/* Empties the list (and its counters) but keeps the buffer. */
void spec_docs_reset(spec_docs *d);
void spec_docs_free(spec_docs *d);
/* Appends a copy of doc. Returns 0, or -1 when memory runs out. */
int spec_docs_add(spec_docs *d, const bson_t *doc);

/* Compiles the "list" object o (jp names it). Returns 0, or -1 (the load failed;
 * what was compiled is in r for spec_list_rule_free). */
int spec_list_compile(spec_loader *L, const char *jp, const cJSON *o, spec_list_rule *r);
void spec_list_rule_free(spec_list_rule *r);

/* What a list page is read from: its URL (split in up), its JSON, its Link header
 * (NULL: not known; "" when the response had none) and when it was fetched. */
typedef struct spec_list_page {
    const char *url;
    const parse_url_parts *up;
    const cJSON *root;
    const char *link;
    int64_t fetched_at_ms;
} spec_list_page;

/* A list page: appends to out (empty) the URL of every item, then the further list
 * pages, and to docs (empty) the document of every item when r has an item rule.
 * Items without a usable URL are counted in out->skipped, items that make no
 * document in docs->dropped; both in cx->counts, and told to cx->trace. Returns 0,
 * or -1 with a one-line reason in err (items missing or not an array, a bad total,
 * a next link that is not a URL, no Link header known, has_more not a boolean or
 * with no cursor, a page URL too long, out of memory). */
int spec_list_run(const spec_list_rule *r, const spec_list_page *pg, const spec_ctx *cx, parse_urls *out,
                  spec_docs *docs, char *err, size_t errlen);

#endif
