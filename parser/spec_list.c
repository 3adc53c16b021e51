/* spec_list.c -- a list rule of a spec: where a page's items are, the URL of each, and how to reach the other list pages. */
#include "spec_list.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_url.h"

#define LINE_MAX_URL (ZC_URL_MAX + 1)

/* ---------- loading ---------- */

void spec_list_rule_free(spec_list_rule *r) {
    spec_path_free(&r->items);
    spec_tpl_free(&r->item_url);
    spec_path_free(&r->total);
    free(r->limit_param);
    free(r->offset_param);
    free(r->page_param);
    spec_path_free(&r->from);
    spec_tpl_free(&r->pg_url);
    spec_item_rule_free(&r->doc);
    free(r->rel);
    spec_path_free(&r->cursor);
    free(r->cursor_param);
    memset(r, 0, sizeof(*r));
}

/* ---------- documents ---------- */

void spec_docs_init(spec_docs *d) {
    memset(d, 0, sizeof(*d));
}

void spec_docs_reset(spec_docs *d) {
    d->len = d->n = d->dropped = 0;
    d->why[0] = '\0';
}

void spec_docs_free(spec_docs *d) {
    free(d->buf);
    memset(d, 0, sizeof(*d));
}

int spec_docs_add(spec_docs *d, const bson_t *doc) {
    size_t n = doc->len;
    if (n > d->cap - d->len) {
        size_t cap = d->cap ? d->cap : 16384;
        while (cap - d->len < n) cap *= 2;
        uint8_t *b = realloc(d->buf, cap);
        if (!b) return -1;
        d->buf = b;
        d->cap = cap;
    }
    memcpy(d->buf + d->len, bson_get_data(doc), n);
    d->len += n;
    d->n++;
    return 0;
}

/* The page URL template (jp names "url"): compiled, holding need and no placeholder
 * of the kinds in forbid (-1 ends the list). */
static int pg_url_compile(spec_loader *L, const char *jp, const char *url, const char *example, int need,
                          const int *forbid, const char *knows, spec_list_rule *r) {
    if (!url) return spec_ld_fail(L, jp, "missing (a template such as \"%s\")", example);
    if (spec_tpl_compile(L, jp, url, SPEC_TPC_PAGE_URL, &r->pg_url) != 0) return -1;
    static const char *const names[] = { "", "", "", "limit", "offset", "page", "cursor" };
    if (!spec_tpl_uses(&r->pg_url, need)) return spec_ld_fail(L, jp, "the template must hold {%s}", names[need]);
    for (int i = 0; forbid[i] >= 0; i++)
        if (spec_tpl_uses(&r->pg_url, forbid[i])) return spec_ld_fail(L, jp, "%s", knows);
    return 0;
}

static int pg_offset_compile(spec_loader *L, const char *jp, const char *sub, const cJSON *o, const char *url,
                             spec_list_rule *r) {
    static const int forbid[] = { SPEC_TP_PAGE, SPEC_TP_CURSOR, -1 };
    const char *s;
    r->pg = SPEC_PG_OFFSET;
    r->default_limit = 20;
    if (spec_path_member(L, jp, o, "total", 1, &r->total) != 0) return -1;
    if (spec_ld_long(L, jp, o, "default_limit", 1, 100000, &r->default_limit) != 0) return -1;
    if (spec_ld_str(L, jp, o, "limit_param", &s) != 0 || !(r->limit_param = spec_ld_strdup(L, s ? s : "limit"))) return -1;
    if (spec_ld_str(L, jp, o, "offset_param", &s) != 0 || !(r->offset_param = spec_ld_strdup(L, s ? s : "offset"))) return -1;
    return pg_url_compile(L, sub, url, "{origin}/items?limit={limit}&offset={offset}", SPEC_TP_OFFSET, forbid,
                          "offset pagination knows {origin}, {limit} and {offset} only", r);
}

static int pg_pages_compile(spec_loader *L, const char *jp, const char *sub, const cJSON *o, const char *url,
                            spec_list_rule *r) {
    static const int forbid[] = { SPEC_TP_OFFSET, SPEC_TP_CURSOR, SPEC_TP_LIMIT, -1 };
    const char *s;
    char s2[SPEC_JP_MAX];
    r->pg = SPEC_PG_PAGES;
    r->first_page = 1;
    if (cJSON_GetObjectItemCaseSensitive(o, "total_pages")) {
        r->total_is_pages = 1;
        if (spec_path_member(L, jp, o, "total_pages", 1, &r->total) != 0) return -1;
    } else {
        if (spec_path_member(L, jp, o, "total", 0, &r->total) != 0) return -1;
        if (!r->total.text) {
            if (spec_ld_jp(L, s2, sizeof(s2), "%s.total_pages", jp) != 0) return -1;
            return spec_ld_fail(L, s2, "missing (or total with per_page)");
        }
        if (spec_ld_long(L, jp, o, "per_page", 1, 100000, &r->per_page) != 0) return -1;
        if (r->per_page == 0) {
            if (spec_ld_jp(L, s2, sizeof(s2), "%s.per_page", jp) != 0) return -1;
            return spec_ld_fail(L, s2, "missing (needed with total)");
        }
    }
    if (spec_ld_long(L, jp, o, "first", 0, 1, &r->first_page) != 0) return -1;
    if (spec_ld_str(L, jp, o, "param", &s) != 0 || !(r->page_param = spec_ld_strdup(L, s ? s : "page"))) return -1;
    return pg_url_compile(L, sub, url, "{origin}/items?page={page}", SPEC_TP_PAGE, forbid,
                          "page-number pagination knows {origin} and {page} only", r);
}

/* has_more: {"from": FLAG, "cursor": PATH, "param": NAME} or {..., "url": TEMPLATE}. */
static int pg_has_more_compile(spec_loader *L, const char *jp, const char *sub, const cJSON *o, const char *url,
                               spec_list_rule *r) {
    static const int forbid[] = { SPEC_TP_OFFSET, SPEC_TP_PAGE, SPEC_TP_LIMIT, -1 };
    const char *flag, *param;
    r->pg = SPEC_PG_HAS_MORE;
    if (spec_ld_str(L, jp, o, "from", &flag) != 0 || spec_path_compile(L, jp, flag ? flag : "has_more", &r->from) != 0)
        return -1;
    if (spec_path_member(L, jp, o, "cursor", 1, &r->cursor) != 0) return -1;
    if (spec_ld_str(L, jp, o, "param", &param) != 0) return -1;
    if (!!param == !!url) return spec_ld_fail(L, jp, "needs exactly one of param (set on the page's URL) and url (a template with {cursor})");
    if (param) return (r->cursor_param = spec_ld_strdup(L, param)) ? 0 : -1;
    return pg_url_compile(L, sub, url, "{origin}/items?after={cursor}", SPEC_TP_CURSOR, forbid,
                          "has_more pagination knows {origin} and {cursor} only", r);
}

static int paginate_compile(spec_loader *L, const char *jp, const cJSON *o, spec_list_rule *r) {
    static const char *const keys[] = { "type", "total", "total_pages", "per_page", "limit_param",
                                        "offset_param", "default_limit", "param", "first", "from",
                                        "url", "rel", "cursor", NULL };
    static const char *const types[] = { "offset", "pages", "next", "cursor", "link", "has_more", NULL };
    static const int cursor_forbid[] = { SPEC_TP_OFFSET, SPEC_TP_PAGE, SPEC_TP_LIMIT, -1 };
    const char *type, *url = NULL, *rel;
    char sub[SPEC_JP_MAX];
    if (!cJSON_IsObject(o)) return spec_ld_fail(L, jp, "must be an object with a type");
    if (spec_ld_keys(L, jp, o, keys) != 0 || spec_ld_str(L, jp, o, "type", &type) != 0) return -1;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.type", jp) != 0) return -1;
    if (!type) return spec_ld_fail(L, sub, "missing (offset, pages, next, cursor, link or has_more)");
    if (spec_ld_str(L, jp, o, "url", &url) != 0) return -1;
    int t = 0;
    while (types[t] && strcmp(type, types[t]) != 0) t++;
    if (!types[t]) return spec_ld_fail(L, sub, "unknown pagination '%.40s' (offset, pages, next, cursor, link or has_more)", type);
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.url", jp) != 0) return -1;
    if (strcmp(type, "offset") == 0) return pg_offset_compile(L, jp, sub, o, url, r);
    if (strcmp(type, "pages") == 0) return pg_pages_compile(L, jp, sub, o, url, r);
    if (strcmp(type, "has_more") == 0) return pg_has_more_compile(L, jp, sub, o, url, r);
    if (strcmp(type, "link") == 0) {
        r->pg = SPEC_PG_LINK;
        if (url) return spec_ld_fail(L, sub, "link pagination takes the URL from the Link header (no url template)");
        if (spec_ld_str(L, jp, o, "rel", &rel) != 0) return -1;
        return (r->rel = spec_ld_strdup(L, rel ? rel : "next")) ? 0 : -1;
    }
    r->pg = strcmp(type, "next") == 0 ? SPEC_PG_NEXT : SPEC_PG_CURSOR;
    if (spec_path_member(L, jp, o, "from", 1, &r->from) != 0) return -1;
    if (r->pg == SPEC_PG_NEXT)
        return url ? spec_ld_fail(L, sub, "next pagination takes the URL from the page (no url template)") : 0;
    return pg_url_compile(L, sub, url, "{origin}/items?cursor={cursor}", SPEC_TP_CURSOR, cursor_forbid,
                          "cursor pagination knows {origin} and {cursor} only", r);
}

int spec_list_compile(spec_loader *L, const char *jp, const cJSON *o, spec_list_rule *r) {
    static const char *const keys[] = { "items", "item_url", "item", "paginate", NULL };
    const char *url;
    char sub[SPEC_JP_MAX];
    if (!cJSON_IsObject(o)) return spec_ld_fail(L, jp, "must be an object");
    if (spec_ld_keys(L, jp, o, keys) != 0) return -1;
    if (spec_path_member(L, jp, o, "items", 1, &r->items) != 0) return -1;
    if (spec_ld_str(L, jp, o, "item_url", &url) != 0) return -1;
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(o, "item");
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.item_url", jp) != 0) return -1;
    if (!url && !doc)
        return spec_ld_fail(L, sub, "missing (a template such as \"{origin}/api/item/{id}\"; or \"item\" when the items are the documents)");
    if (url && spec_tpl_compile(L, sub, url, SPEC_TPC_ITEM_URL, &r->item_url) != 0) return -1;
    if (url && !spec_tpl_uses(&r->item_url, SPEC_TP_FIELD))
        return spec_ld_fail(L, sub, "the template names no field of the item ({.} is the item itself)");
    if (doc) {
        r->has_doc = 1;
        if (spec_ld_jp(L, sub, sizeof(sub), "%s.item", jp) != 0) return -1;
        if (spec_item_compile(L, sub, doc, NULL, SPEC_ITEM_OF_LIST, &r->doc) != 0) return -1;
    }
    const cJSON *pg = cJSON_GetObjectItemCaseSensitive(o, "paginate");
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.paginate", jp) != 0) return -1;
    if (pg) return paginate_compile(L, sub, pg, r);
    r->pg = SPEC_PG_NONE;
    return 0;
}

/* ---------- a page ---------- */

/* Where a numbered walk (offset or pages) stands on this page. */
typedef struct numbered {
    uint64_t total; /* items, or pages with total_pages */
    uint64_t limit; /* offset: the page size */
    uint64_t cur;   /* pages: the first page's number */
    int first;      /* this is the first page: it announces the others */
} numbered;

/* Reads the total of an offset or pages walk from root and where url stands in it.
 * Returns 0, or -1 with a reason in err. */
static int numbered_read(const spec_list_rule *r, const parse_url_parts *up, const cJSON *root, numbered *nb,
                         parse_urls *out, char *err, size_t errlen) {
    uint64_t v = 0;
    const cJSON *cnt = spec_path_get(root, &r->total);
    nb->limit = (uint64_t)r->default_limit;
    nb->first = 1;
    if (!cnt) {
        snprintf(err, errlen, "%s missing", r->total.text);
        return -1;
    }
    if (!cJSON_IsNumber(cnt) || !isfinite(cnt->valuedouble)) {
        snprintf(err, errlen, "%s is not a number", r->total.text);
        return -1;
    }
    if (cnt->valuedouble < 0) {
        snprintf(err, errlen, "%s is negative", r->total.text);
        return -1;
    }
    if (cnt->valuedouble > PARSE_MAX_COUNT) {
        nb->total = PARSE_MAX_COUNT;
        out->truncated = 1;
    } else {
        nb->total = (uint64_t)ceil(cnt->valuedouble);
    }
    if (r->pg == SPEC_PG_OFFSET) {
        int rc = parse_query_num(up, r->limit_param, &v);
        if (rc == 1 && v > 0) nb->limit = v;
        rc = parse_query_num(up, r->offset_param, &v);
        if (rc == 1) nb->first = v == 0;
        else if (rc == -1) nb->first = 0;
    } else {
        int rc = parse_query_num(up, r->page_param, &v);
        if (rc == 1) nb->first = v == (uint64_t)r->first_page;
        else if (rc == -1) nb->first = 0;
        nb->cur = (uint64_t)r->first_page;
    }
    return 0;
}

/* A first page's announcement: every other page of an offset or pages walk. */
static int numbered_emit(const spec_list_rule *r, const numbered *nb, spec_tctx *tc, parse_urls *out, char *err,
                         size_t errlen) {
    char line[LINE_MAX_URL];
    uint64_t npages;
    if (r->pg == SPEC_PG_OFFSET) npages = (nb->total + nb->limit - 1) / nb->limit;
    else npages = r->total_is_pages ? nb->total : (nb->total + (uint64_t)r->per_page - 1) / (uint64_t)r->per_page;
    tc->limit = nb->limit;
    for (uint64_t k = 1; k < npages; k++) {
        if (out->nlist >= PARSE_MAX_LIST_PAGES) {
            out->truncated = 1;
            break;
        }
        tc->offset = k * nb->limit;
        tc->page = nb->cur + k;
        long n = spec_tpl_expand(&r->pg_url, tc, line, sizeof(line), NULL);
        if (n < 0) {
            snprintf(err, errlen, "page url too long");
            return -1;
        }
        if (parse_urls_add(out, line, (size_t)n) != 0) goto oom;
        out->nlist++;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* Adds the next page line[0..n) unless it is the page itself (which ends a walk). */
static int walk_add(const char *url, const char *line, long n, parse_urls *out, char *err, size_t errlen) {
    if (n <= 0 || strcmp(line, url) == 0) return 0;
    if (parse_urls_add(out, line, (size_t)n) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    out->nlist++;
    return 0;
}

/* has_more: the next page, after the cursor of the last item, while the flag is true. */
static long has_more_next(const spec_list_rule *r, const spec_list_page *pg, const cJSON *items, spec_tctx *tc,
                          char *line, size_t cap, char *err, size_t errlen) {
    char nb[32];
    const char *cs;
    size_t cn;
    const cJSON *hm = spec_path_get(pg->root, &r->from);
    if (cJSON_IsFalse(hm)) return 0;
    if (!cJSON_IsTrue(hm)) {
        snprintf(err, errlen, "%s is not true or false", r->from.text);
        return -1;
    }
    int n = cJSON_GetArraySize(items);
    const cJSON *last = n > 0 ? cJSON_GetArrayItem(items, n - 1) : NULL;
    if (!last) {
        snprintf(err, errlen, "%s is true but %s is empty", r->from.text, r->items.n ? r->items.text : "the page");
        return -1;
    }
    if (spec_scalar_text(spec_path_get(last, &r->cursor), 0, nb, sizeof(nb), &cs, &cn) != 0) {
        snprintf(err, errlen, "the last item's %s is not a string or a whole number", r->cursor.text);
        return -1;
    }
    long len;
    if (r->cursor_param) {
        len = parse_url_set_param(pg->url, r->cursor_param, cs, cn, line, cap);
    } else {
        tc->cursor = cs;
        tc->cursor_len = cn;
        len = spec_tpl_expand(&r->pg_url, tc, line, cap, NULL);
    }
    if (len < 0) snprintf(err, errlen, "page url too long");
    return len;
}

/* The next page of a next, cursor, link or has_more walk, when the page names one. */
static int walk_emit(const spec_list_rule *r, const spec_list_page *pg, const cJSON *items, spec_tctx *tc,
                     parse_urls *out, char *err, size_t errlen) {
    char line[LINE_MAX_URL], nb[32];
    long n = -1;
    if (r->pg == SPEC_PG_HAS_MORE) {
        n = has_more_next(r, pg, items, tc, line, sizeof(line), err, errlen);
        return n < 0 ? -1 : walk_add(pg->url, line, n, out, err, errlen);
    }
    if (r->pg == SPEC_PG_LINK) {
        if (!pg->link) {
            snprintf(err, errlen, "link pagination: the page's Link header did not reach the parser");
            return -1;
        }
        if ((n = parse_link_find(pg->link, r->rel, tc->u, line, sizeof(line))) < 0) {
            snprintf(err, errlen, "the Link header's rel=%.40s is not a usable URL", r->rel);
            return -1;
        }
        return walk_add(pg->url, line, n, out, err, errlen);
    }
    const cJSON *nx = spec_path_get(pg->root, &r->from);
    if (r->pg == SPEC_PG_NEXT && cJSON_IsString(nx) && nx->valuestring && *nx->valuestring) {
        if ((n = parse_url_resolve(tc->u, nx->valuestring, line, sizeof(line))) < 0) {
            snprintf(err, errlen, "%s is not a usable URL", r->from.text);
            return -1;
        }
    } else if (r->pg == SPEC_PG_CURSOR && nx && !cJSON_IsNull(nx) && !cJSON_IsFalse(nx)) {
        const char *cs;
        size_t cn;
        if (spec_scalar_text(nx, 0, nb, sizeof(nb), &cs, &cn) != 0) {
            snprintf(err, errlen, "%s is not a string or a whole number", r->from.text);
            return -1;
        }
        tc->cursor = cs;
        tc->cursor_len = cn;
        if ((n = spec_tpl_expand(&r->pg_url, tc, line, sizeof(line), NULL)) < 0) {
            snprintf(err, errlen, "page url too long");
            return -1;
        }
    }
    return walk_add(pg->url, line, n, out, err, errlen);
}

/* The document of each item (r has an item rule); an item that makes none is
 * dropped, counted and told. */
static int list_docs(const spec_list_rule *r, const spec_list_page *pg, const cJSON *items, const spec_ctx *cx,
                     spec_docs *docs, char *err, size_t errlen) {
    char why[160];
    int k = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, items) {
        bson_t doc;
        bson_init(&doc);
        if (cx->trace && cx->trace->doc) cx->trace->doc(cx->trace->arg, k, NULL);
        int rc = spec_item_doc(&r->doc, pg->up, pg->url, item, pg->fetched_at_ms, cx, &doc, why, sizeof(why));
        if (rc == 0 && spec_docs_add(docs, &doc) != 0) {
            bson_destroy(&doc);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        bson_destroy(&doc);
        if (rc != 0) {
            if (!docs->dropped++) snprintf(docs->why, sizeof(docs->why), "item %d: %.120s", k, why);
            if (cx->trace && cx->trace->doc) cx->trace->doc(cx->trace->arg, k, why);
        }
        k++;
    }
    return 0;
}

int spec_list_run(const spec_list_rule *r, const spec_list_page *pg, const spec_ctx *cx, parse_urls *out,
                  spec_docs *docs, char *err, size_t errlen) {
    const cJSON *root = pg->root;
    const cJSON *items = spec_path_get(root, &r->items);
    if (!items) {
        if (r->items.n > 0 && !cJSON_IsObject(root)) snprintf(err, errlen, "not an object");
        else snprintf(err, errlen, "%s missing", r->items.text);
        return -1;
    }
    if (!cJSON_IsArray(items)) {
        snprintf(err, errlen, "%s is not an array", r->items.n ? r->items.text : "the page");
        return -1;
    }
    /* Pagination is read before the items so that a bad total fails the page whole. */
    numbered nb = { 0, 0, 0, 0 };
    if ((r->pg == SPEC_PG_OFFSET || r->pg == SPEC_PG_PAGES) && numbered_read(r, pg->up, root, &nb, out, err, errlen) != 0)
        return -1;
    spec_tctx tc = { pg->up, NULL, 0, 0, 0, NULL, 0, 1 };
    const cJSON *item;
    if (r->item_url.n) {
        cJSON_ArrayForEach(item, items) {
            tc.item = item;
            if (spec_tpl_add(&r->item_url, &tc, cx, out) != 0) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
        tc.item = NULL;
    }
    if (r->has_doc && list_docs(r, pg, items, cx, docs, err, errlen) != 0) return -1;
    if ((r->pg == SPEC_PG_OFFSET || r->pg == SPEC_PG_PAGES) && nb.first)
        return numbered_emit(r, &nb, &tc, out, err, errlen);
    if (r->pg >= SPEC_PG_NEXT) return walk_emit(r, pg, items, &tc, out, err, errlen);
    return 0;
}
