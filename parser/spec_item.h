/* spec_item.h -- an item rule of a spec: where a document's _id comes from, its fields, and how a page becomes the document.
 *
 * The caller owns the rule (spec_item_rule_free). */
#ifndef SPEC_ITEM_H
#define SPEC_ITEM_H

#include <stdint.h>
#include <bson/bson.h>
#include <cjson/cJSON.h>

#include "parse_url.h"
#include "spec_field.h"
#include "spec_loader.h"
#include "spec_tpl.h"

enum { SPEC_ID_FIELD,
       SPEC_ID_TEMPLATE };

#define SPEC_GONE         1    /* spec_item_run, spec_item, spec_list: the page says its item is gone */
#define SPEC_MAX_FOLLOW   8    /* "follow" rules of one item */
#define SPEC_ITEM_OF_LIST (-1) /* spec_item_compile's npat for the "item" of a list */

/* "follow": URLs an item page yields besides its document. */
typedef struct spec_follow {
    spec_path from; /* an array of values (each fills url), or one value */
    spec_tpl url;
} spec_follow;

typedef struct spec_item_rule {
    spec_path root; /* the object the fields are read from */
    int id_kind;
    spec_path id_from; /* SPEC_ID_FIELD */
    int id_digits;
    char *id_same_as; /* capture the _id must equal, or NULL */
    spec_tpl id_tpl;  /* SPEC_ID_TEMPLATE */
    spec_field *fields;
    int nfields;
    char *source_url_key, *fetched_at_key; /* NULL: left out */
    spec_path gone_if;                     /* a true value here: the item is gone */
    spec_follow follow[SPEC_MAX_FOLLOW];
    int nfollow;
} spec_item_rule;

/* Compiles the "item" object o (jp names it) of a page rule whose URL patterns are
 * pat[0..npat) (same_as must name a capture of each), or of a list when npat is
 * SPEC_ITEM_OF_LIST (then without same_as, gone_if and follow: a list item has no
 * URL of its own). Returns 0, or -1 (the load failed; what was compiled is in r
 * for spec_item_rule_free). */
int spec_item_compile(spec_loader *L, const char *jp, const cJSON *o, const spec_pattern *pat, int npat,
                      spec_item_rule *r);
void spec_item_rule_free(spec_item_rule *r);

/* The item page url (split in up, matched as m) whose JSON is root, fetched at
 * fetched_at_ms: its document appended to out (empty), the URLs its follow rules
 * yield to urls (empty). Counts into cx->counts, tells cx->trace. Returns 0;
 * SPEC_GONE when root is null or gone_if holds true (out and urls untouched); -1
 * with a one-line reason in err (not an object, root missing, no or bad _id, id
 * mismatch, a required field missing or not convertible, document too large, out
 * of memory), out and urls may then hold part of the result. */
int spec_item_run(const spec_item_rule *r, const spec_match *m, const parse_url_parts *up, const char *url,
                  const cJSON *root, int64_t fetched_at_ms, const spec_ctx *cx, bson_t *out, parse_urls *urls,
                  char *err, size_t errlen);

/* The document of one item of a list page url (an object; r compiled with
 * SPEC_ITEM_OF_LIST), appended to out (empty). Returns 0, or -1 with a one-line
 * reason in err (as spec_item_run). */
int spec_item_doc(const spec_item_rule *r, const parse_url_parts *up, const char *url, const cJSON *item,
                  int64_t fetched_at_ms, const spec_ctx *cx, bson_t *out, char *err, size_t errlen);

#endif
