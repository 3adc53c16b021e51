/* spec_list.h -- a list rule of a spec: where a page's items are, the URL of each, and how to reach the other list pages.
 *
 * The caller owns the rule (spec_list_rule_free). */
#ifndef SPEC_LIST_H
#define SPEC_LIST_H

#include <cjson/cJSON.h>

#include "parse_url.h"
#include "spec_loader.h"
#include "spec_tpl.h"

enum { SPEC_PG_NONE,
       SPEC_PG_OFFSET,
       SPEC_PG_PAGES,
       SPEC_PG_NEXT,
       SPEC_PG_CURSOR };

typedef struct spec_list_rule {
    spec_path items;
    spec_tpl item_url;
    int pg;          /* SPEC_PG_* */
    spec_path total; /* offset/pages: total items (or pages with total_pages) */
    int total_is_pages;
    char *limit_param, *offset_param, *page_param;
    long default_limit, first_page, per_page;
    spec_path from; /* next/cursor: where the link or cursor is */
    spec_tpl pg_url;
} spec_list_rule;

/* Compiles the "list" object o (jp names it). Returns 0, or -1 (the load failed;
 * what was compiled is in r for spec_list_rule_free). */
int spec_list_compile(spec_loader *L, const char *jp, const cJSON *o, spec_list_rule *r);
void spec_list_rule_free(spec_list_rule *r);

/* The list page url (split in up) whose JSON is root: appends to out (empty) the URL
 * of every item, then the further list pages. Items without a usable URL are
 * counted in out->skipped. Returns 0, or -1 with a one-line reason in err (items
 * missing or not an array, a bad total, a next link that is not a URL, a page URL
 * too long, out of memory). */
int spec_list_run(const spec_list_rule *r, const parse_url_parts *up, const char *url, const cJSON *root,
                  parse_urls *out, char *err, size_t errlen);

#endif
