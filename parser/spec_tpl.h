/* spec_tpl.h -- the spec's small languages: paths into JSON, templates of URLs and ids, URL patterns.
 *
 * Each is compiled once by the loader (paths split into segments, templates and
 * patterns into parts) and then only read by the page functions. A compiled form
 * owns its strings; its _free function releases them and leaves it empty. */
#ifndef SPEC_TPL_H
#define SPEC_TPL_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "parse_url.h"
#include "spec_counts.h"
#include "spec_loader.h"

#define SPEC_MAX_PATH     16  /* segments of one path */
#define SPEC_MAX_CAPTURES 8   /* {name} captures of one URL pattern */
#define SPEC_ID_MAX       256 /* longest _id, and longest string a placeholder takes, bytes */

/* ---------- paths ---------- */

/* A path into a JSON value, split once: "data.items.0" is three segments; a
 * segment of digits also indexes an array. No segments: the value itself. */
typedef struct spec_path {
    int n;
    char *seg[SPEC_MAX_PATH];
    int idx[SPEC_MAX_PATH]; /* the segment as an array index, or -1 */
    char *text;             /* as written, for messages */
} spec_path;

/* Splits "a.b.0" ("" is the value itself). Returns 0, or -1 (the load failed). */
int spec_path_compile(spec_loader *L, const char *jp, const char *s, spec_path *p);
/* The path member key of o (jp names o): 0 with p compiled, or empty when it is
 * absent and not required; -1 (the load failed). */
int spec_path_member(spec_loader *L, const char *jp, const cJSON *o, const char *key, int required, spec_path *p);
void spec_path_free(spec_path *p);

/* The value at p in v, or NULL. Inline: it runs for every field of every page. */
static inline const cJSON *spec_path_get(const cJSON *v, const spec_path *p) {
    for (int i = 0; i < p->n && v; i++) {
        if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, p->seg[i]);
        else if (cJSON_IsArray(v) && p->idx[i] >= 0) v = cJSON_GetArrayItem(v, p->idx[i]);
        else v = NULL;
    }
    return v;
}

/* ---------- templates ---------- */

enum { SPEC_TP_LIT,
       SPEC_TP_ORIGIN,
       SPEC_TP_FIELD,
       SPEC_TP_LIMIT,
       SPEC_TP_OFFSET,
       SPEC_TP_PAGE,
       SPEC_TP_CURSOR };
/* Which placeholders a template may hold. */
enum { SPEC_TPC_ITEM_URL,
       SPEC_TPC_PAGE_URL,
       SPEC_TPC_ID };

typedef struct spec_tpart {
    int kind;
    char *lit; /* SPEC_TP_LIT */
    size_t litlen;
    spec_path path; /* SPEC_TP_FIELD ({.}: no segments, text ".") */
    int digits;     /* {x:digits}: the value must be digits */
    int slot;       /* SPEC_TP_FIELD: its counter (spec_counts.part_skipped) */
} spec_tpart;

typedef struct spec_tpl {
    int n;
    spec_tpart *p;
    char *text; /* as written, for messages */
    int slot;   /* its counters (spec_counts.tried, .skipped) */
} spec_tpl;

/* What a template is expanded with. */
typedef struct spec_tctx {
    const parse_url_parts *u;
    const cJSON *item;
    uint64_t limit, offset, page;
    const char *cursor;
    size_t cursor_len;
    int encode; /* percent-encode field values (URLs) */
} spec_tctx;

/* Parses "text {name} text {name:digits}" for context ctx (SPEC_TPC_*): in an item
 * URL or id a placeholder is a path in the item, {.} the item itself (a scalar).
 * Returns 0, or -1 (the load failed). */
int spec_tpl_compile(spec_loader *L, const char *jp, const char *s, int ctx, spec_tpl *t);
void spec_tpl_free(spec_tpl *t);
/* Whether t holds a part of kind (SPEC_TP_*). */
int spec_tpl_uses(const spec_tpl *t, int kind);
/* Expands t into out (NUL-terminated). Returns its length, or -1 when a field is
 * missing or unusable (*bad: the index of its part) or the result does not fit
 * (*bad: -1). bad may be NULL. */
long spec_tpl_expand(const spec_tpl *t, const spec_tctx *c, char *out, size_t cap, int *bad);

/* Expands t for the value tc->item and appends the URL to out (out->ndetail + 1);
 * a value t cannot use is skipped (out->skipped + 1), counted in cx->counts and
 * told to cx->trace. Returns 0, or -1 when memory runs out. */
int spec_tpl_add(const spec_tpl *t, const spec_tctx *tc, const spec_ctx *cx, parse_urls *out);

/* A scalar value as text: a non-empty string (at most SPEC_ID_MAX bytes), or a whole
 * number. digits: only a string of digits or a whole number >= 0. Returns 0 with
 * the text in *s (in buf, or v's own string) and its length in *n, or -1. */
int spec_scalar_text(const cJSON *v, int digits, char *buf, size_t cap, const char **s, size_t *n);

/* ---------- URL patterns ---------- */

enum { SPEC_PP_LIT,
       SPEC_PP_CAP };
typedef struct spec_ppart {
    int kind;
    char *s; /* SPEC_PP_LIT: the text; SPEC_PP_CAP: the name */
    size_t n;
    int digits;
} spec_ppart;

typedef struct spec_pattern {
    int n;
    spec_ppart *p;
    int need_query; /* "...?*": only with a non-empty query */
} spec_pattern;

/* What a URL is under a spec: its page rule and the captures of its pattern. */
typedef struct spec_match {
    int kind; /* PARSE_KIND_LIST, PARSE_KIND_DETAIL (an item) or PARSE_KIND_UNKNOWN (spec.h) */
    int page; /* index of the page rule that matched */
    int ncap;
    struct {
        const char *name;
        const char *s;
        size_t n;
    } cap[SPEC_MAX_CAPTURES];
} spec_match;

/* Parses "/api/book/{id:digits}/", "/api/book?*". Returns 0, or -1 (the load failed). */
int spec_pattern_compile(spec_loader *L, const char *jp, const char *s, spec_pattern *pt);
void spec_pattern_free(spec_pattern *p);
/* Matches the path of u; records the captures into m (pointing into u). Returns 1
 * on a match, else 0. */
int spec_pattern_match(const spec_pattern *pt, const parse_url_parts *u, spec_match *m);

#endif
