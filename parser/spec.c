/* spec.c -- a crawl spec (docs/SPEC.md): loading, page rules, classifying URLs, running a page through its rule. */
#include "spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "parse_json.h"
#include "spec_item.h"
#include "spec_list.h"
#include "spec_loader.h"
#include "zc_utf8.h"

/* ---------- the compiled form ---------- */

typedef struct page {
    char *name;
    int kind; /* PARSE_KIND_LIST or PARSE_KIND_DETAIL */
    int npat;
    spec_pattern *pat;
    spec_list_rule list; /* PARSE_KIND_LIST */
    spec_item_rule item; /* PARSE_KIND_DETAIL */
} page;

struct spec_t {
    char *name;
    int npages;
    page *pages;
    zc_headers headers;
    int nfield, ntpl, npart; /* counter slots (spec_counts.h) */
};

/* ---------- loading ---------- */

static void page_free(page *p) {
    free(p->name);
    for (int i = 0; i < p->npat; i++) spec_pattern_free(&p->pat[i]);
    free(p->pat);
    spec_list_rule_free(&p->list);
    spec_item_rule_free(&p->item);
}

/* "match": one pattern, or a list of 1 to 16. */
static int match_compile(spec_loader *L, const char *sub, const cJSON *m, page *p) {
    if (!m) return spec_ld_fail(L, sub, "missing (a path pattern such as \"/api/item/{id}\", or a list of them)");
    if (cJSON_IsString(m)) {
        if (!(p->pat = calloc(1, sizeof(*p->pat)))) return spec_ld_fail(L, sub, "out of memory");
        p->npat = 1;
        return spec_pattern_compile(L, sub, m->valuestring, &p->pat[0]);
    }
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0 || cJSON_GetArraySize(m) > 16)
        return spec_ld_fail(L, sub, "must be a pattern string or a list of 1 to 16 of them");
    int n = cJSON_GetArraySize(m), i = 0;
    if (!(p->pat = calloc((size_t)n, sizeof(*p->pat)))) return spec_ld_fail(L, sub, "out of memory");
    p->npat = n;
    const cJSON *e;
    cJSON_ArrayForEach(e, m) {
        char s2[SPEC_JP_MAX + 20];
        snprintf(s2, sizeof(s2), "%s[%d]", sub, i);
        if (!cJSON_IsString(e)) return spec_ld_fail(L, s2, "must be a string");
        if (spec_pattern_compile(L, s2, e->valuestring, &p->pat[i]) != 0) return -1;
        i++;
    }
    return 0;
}

static int page_compile(spec_loader *L, const char *jp, const cJSON *o, page *p) {
    static const char *const keys[] = { "name", "match", "list", "item", NULL };
    char sub[SPEC_JP_MAX];
    if (!cJSON_IsObject(o)) return spec_ld_fail(L, jp, "a page rule must be an object");
    if (spec_ld_keys(L, jp, o, keys) != 0) return -1;
    const char *name;
    if (spec_ld_str(L, jp, o, "name", &name) != 0) return -1;
    if (name && !(p->name = spec_ld_strdup(L, name))) return -1;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.match", jp) != 0) return -1;
    if (match_compile(L, sub, cJSON_GetObjectItemCaseSensitive(o, "match"), p) != 0) return -1;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "list");
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, "item");
    if (!!list == !!item) return spec_ld_fail(L, jp, "needs exactly one of list and item");
    if (list) {
        p->kind = PARSE_KIND_LIST;
        if (spec_ld_jp(L, sub, sizeof(sub), "%s.list", jp) != 0) return -1;
        return spec_list_compile(L, sub, list, &p->list);
    }
    p->kind = PARSE_KIND_DETAIL;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.item", jp) != 0) return -1;
    return spec_item_compile(L, sub, item, p->pat, p->npat, &p->item);
}

void spec_free(spec_t *s) {
    if (!s) return;
    for (int i = 0; i < s->npages; i++) page_free(&s->pages[i]);
    free(s->pages);
    free(s->name);
    zc_headers_free(&s->headers);
    free(s);
}

const char *spec_name(const spec_t *s) {
    return s->name ? s->name : "";
}

const zc_headers *spec_headers(const spec_t *s) {
    return &s->headers;
}

int spec_uses(const spec_t *s) {
    int u = s->headers.n ? SPEC_USES_HEADERS : 0;
    for (int i = 0; i < s->npages; i++) {
        const page *p = &s->pages[i];
        if (p->kind == PARSE_KIND_LIST && p->list.pg == SPEC_PG_LINK) u |= SPEC_USES_LINK;
        if (p->kind == PARSE_KIND_LIST && p->list.has_doc) u |= SPEC_USES_LIST_DOCS;
        if (p->kind == PARSE_KIND_DETAIL && p->item.nfollow) u |= SPEC_USES_FOLLOW;
        if (p->kind == PARSE_KIND_DETAIL) u |= SPEC_USES_GONE; /* a null body is always possible */
    }
    return u;
}

const char *spec_page_name(const spec_t *s, int i, char *buf, size_t len) {
    if (i >= 0 && i < s->npages && s->pages[i].name && *s->pages[i].name) snprintf(buf, len, "%s", s->pages[i].name);
    else snprintf(buf, len, "pages[%d]", i);
    return buf;
}

/* The spec's JSON text, checked and parsed. Returns the root, or NULL (the load failed). */
static cJSON *spec_parse(spec_loader *L, const char *text, size_t len) {
    if (len > SPEC_MAX_BYTES) {
        spec_ld_fail(L, "$", "larger than %u bytes", SPEC_MAX_BYTES);
        return NULL;
    }
    if (!zc_utf8_valid(text, len) || memchr(text, '\0', len)) {
        spec_ld_fail(L, "$", "not UTF-8 text");
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t off = (end && end >= text && end <= text + len) ? (size_t)(end - text) : 0;
        size_t line = 1;
        for (size_t i = 0; i < off; i++) line += text[i] == '\n';
        spec_ld_fail(L, "$", "invalid JSON at byte %zu (line %zu)", off, line);
        return NULL;
    }
    return root;
}

/* The top level of a parsed spec: its keys, version, name and page rules, into s. */
static int spec_compile(spec_loader *L, const cJSON *root, spec_t *s) {
    static const char *const keys[] = { "zcrawl_spec", "name", "headers", "pages", NULL };
    if (!cJSON_IsObject(root)) return spec_ld_fail(L, "$", "a spec is a JSON object with \"pages\"");
    if (spec_ld_keys(L, "$", root, keys) != 0) return -1;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "zcrawl_spec");
    if (ver && !(cJSON_IsNumber(ver) && ver->valuedouble == 1))
        return spec_ld_fail(L, "$.zcrawl_spec", "this parser reads version 1");
    const char *nm;
    if (spec_ld_str(L, "$", root, "name", &nm) != 0) return -1;
    if (!(s->name = spec_ld_strdup(L, nm ? nm : ""))) return -1;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "headers");
    if (h && zc_headers_parse(h, L->file, &s->headers, L->err, L->errlen) != 0) {
        L->failed = 1;
        return -1;
    }
    const cJSON *pages = cJSON_GetObjectItemCaseSensitive(root, "pages");
    if (!pages) return spec_ld_fail(L, "$.pages", "missing (the list of page rules)");
    if (!cJSON_IsArray(pages) || cJSON_GetArraySize(pages) == 0 || cJSON_GetArraySize(pages) > SPEC_MAX_PAGES)
        return spec_ld_fail(L, "$.pages", "must be an array of 1 to %d page rules", SPEC_MAX_PAGES);
    int n = cJSON_GetArraySize(pages), i = 0;
    if (!(s->pages = calloc((size_t)n, sizeof(*s->pages)))) return spec_ld_fail(L, "$.pages", "out of memory");
    s->npages = n;
    const cJSON *e;
    cJSON_ArrayForEach(e, pages) {
        char jp[64];
        snprintf(jp, sizeof(jp), "$.pages[%d]", i);
        if (page_compile(L, jp, e, &s->pages[i]) != 0) return -1;
        i++;
    }
    s->nfield = L->nfield;
    s->ntpl = L->ntpl;
    s->npart = L->npart;
    return 0;
}

spec_t *spec_load_text(const char *text, size_t len, const char *name, char *err, size_t errlen) {
    spec_loader L = { name, err, errlen, 0, 0, 0, 0 };
    spec_t *s = NULL;
    cJSON *root = spec_parse(&L, text, len);
    if (!root) return NULL;
    if (!(s = calloc(1, sizeof(*s)))) {
        spec_ld_fail(&L, "$", "out of memory");
        goto err;
    }
    if (spec_compile(&L, root, s) != 0) goto err;
    cJSON_Delete(root);
    return s;
err:
    cJSON_Delete(root);
    spec_free(s);
    return NULL;
}

spec_t *spec_load_file(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SPEC_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    size_t n = fread(buf, 1, SPEC_MAX_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    spec_t *s = NULL;
    if (bad) snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno ? errno : EIO));
    else if (n == 0) snprintf(err, errlen, "%s: $: empty file", path);
    else s = spec_load_text(buf, n, path, err, errlen);
    free(buf);
    return s;
}

/* ---------- pages ---------- */

int spec_classify(const spec_t *s, const char *url, spec_match *m) {
    parse_url_parts u;
    memset(m, 0, sizeof(*m));
    m->kind = PARSE_KIND_UNKNOWN;
    m->page = -1;
    if (!s || parse_url_split(url, &u) != 0) return PARSE_KIND_UNKNOWN;
    for (int i = 0; i < s->npages; i++)
        for (int k = 0; k < s->pages[i].npat; k++)
            if (spec_pattern_match(&s->pages[i].pat[k], &u, m)) {
                m->kind = s->pages[i].kind;
                m->page = i;
                return m->kind;
            }
    m->ncap = 0;
    return PARSE_KIND_UNKNOWN;
}

void spec_out_init(spec_out *o) {
    memset(o, 0, sizeof(*o));
    parse_urls_init(&o->urls);
    spec_docs_init(&o->docs);
}

void spec_out_free(spec_out *o) {
    parse_urls_free(&o->urls);
    spec_docs_free(&o->docs);
}

/* The page rule m names, when it is of kind and url is an http(s) URL (split into up). */
static const page *rule_of(const spec_t *s, const spec_match *m, int kind, const char *url, parse_url_parts *up) {
    if (!s || !m || m->page < 0 || m->page >= s->npages || s->pages[m->page].kind != kind ||
        parse_url_split(url, up) != 0)
        return NULL;
    return &s->pages[m->page];
}

int spec_list(const spec_t *s, const spec_match *m, const spec_page *pg, spec_out *out, char *err, size_t errlen) {
    parse_url_parts up;
    parse_urls_reset(&out->urls);
    spec_docs_reset(&out->docs);
    const page *p = rule_of(s, m, PARSE_KIND_LIST, pg->url, &up);
    if (!p) {
        snprintf(err, errlen, "not a list url");
        return -1;
    }
    const cJSON *root = parse_json(pg->body, pg->len, err, errlen);
    spec_ctx cx = { out->counts, out->trace };
    spec_list_page lp = { pg->url, &up, root, pg->link, pg->fetched_at_ms };
    int rc = root ? spec_list_run(&p->list, &lp, &cx, &out->urls, &out->docs, err, errlen) : -1;
    parse_json_release();
    if (rc != 0) {
        parse_urls_reset(&out->urls);
        spec_docs_reset(&out->docs);
    }
    return rc;
}

int spec_item(const spec_t *s, const spec_match *m, const spec_page *pg, spec_out *out, char *err, size_t errlen) {
    parse_url_parts up;
    bson_reinit(out->doc);
    parse_urls_reset(&out->urls);
    const page *p = rule_of(s, m, PARSE_KIND_DETAIL, pg->url, &up);
    if (!p) {
        snprintf(err, errlen, "not a detail url");
        return -1;
    }
    if (!zc_utf8_valid(pg->url, strlen(pg->url))) {
        snprintf(err, errlen, "invalid utf-8 in url");
        return -1;
    }
    const cJSON *root = parse_json(pg->body, pg->len, err, errlen);
    spec_ctx cx = { out->counts, out->trace };
    int rc = root ? spec_item_run(&p->item, m, &up, pg->url, root, pg->fetched_at_ms, &cx, out->doc, &out->urls, err,
                                  errlen)
                  : -1;
    parse_json_release();
    if (rc != 0) {
        bson_reinit(out->doc);
        parse_urls_reset(&out->urls);
    }
    return rc;
}

/* ---------- counters ---------- */

spec_counts *spec_counts_for(const spec_t *s) {
    return spec_counts_new(s->nfield, s->ntpl, s->npart);
}

/* Appends one tab-separated line (NUL-terminated). Returns 0, or -1. */
static int line_add(zc_buf *b, int *nl, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int line_add(zc_buf *b, int *nl, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n >= sizeof(line)) n = (int)sizeof(line) - 1; /* names are bounded; cut rather than fail */
    if (zc_buf_add(b, line, (size_t)n, '\n') != 0 || zc_buf_reserve(b, 1) != 0) return -1;
    b->p[b->len] = '\0';
    (*nl)++;
    return 0;
}

static int fmt_fields(const spec_field *fs, int n, const char *pname, const char *prefix, const spec_counts *c,
                      zc_buf *b, int *nl, int all) {
    for (int i = 0; i < n; i++) {
        const spec_field *f = &fs[i];
        if ((all ? c->seen[f->slot] : c->null[f->slot]) &&
            line_add(b, nl, "null\t%s\t%s%s\t%llu\t%llu\t%llu", pname, prefix, f->name,
                     (unsigned long long)c->null[f->slot], (unsigned long long)c->seen[f->slot],
                     (unsigned long long)c->swapped[f->slot]) != 0)
            return -1;
        if (f->type == SPEC_FT_OBJECTS) {
            char sub[512];
            snprintf(sub, sizeof(sub), "%s%.200s.", prefix, f->name);
            if (fmt_fields(f->sub, f->nsub, pname, sub, c, b, nl, all) != 0) return -1;
        }
    }
    return 0;
}

static int fmt_tpl(const spec_tpl *t, const char *pname, const spec_counts *c, zc_buf *b, int *nl, int all) {
    if (all && t->n && c->tried[t->slot] &&
        line_add(b, nl, "tried\t%s\t%s\t%llu\t%llu", pname, t->text, (unsigned long long)c->skipped[t->slot],
                 (unsigned long long)c->tried[t->slot]) != 0)
        return -1;
    if (!t->n || !c->skipped[t->slot]) return 0;
    uint64_t named = 0, tried = c->tried[t->slot];
    for (int i = 0; i < t->n; i++) {
        const spec_tpart *p = &t->p[i];
        if (p->kind != SPEC_TP_FIELD || !c->part_skipped[p->slot]) continue;
        named += c->part_skipped[p->slot];
        if (line_add(b, nl, "skip\t%s\t%s\t{%s}\t%llu\t%llu", pname, t->text, p->path.text,
                     (unsigned long long)c->part_skipped[p->slot], (unsigned long long)tried) != 0)
            return -1;
    }
    if (c->skipped[t->slot] > named &&
        line_add(b, nl, "skip\t%s\t%s\t(too long)\t%llu\t%llu", pname, t->text,
                 (unsigned long long)(c->skipped[t->slot] - named), (unsigned long long)tried) != 0)
        return -1;
    return 0;
}

static int counts_format(const spec_t *s, const spec_counts *c, zc_buf *out, int all) {
    int nl = 0;
    char pname[128];
    for (int i = 0; i < s->npages; i++) {
        const page *p = &s->pages[i];
        spec_page_name(s, i, pname, sizeof(pname));
        if (p->kind == PARSE_KIND_LIST) {
            if (fmt_tpl(&p->list.item_url, pname, c, out, &nl, all) != 0) return -1;
            if (p->list.has_doc &&
                fmt_fields(p->list.doc.fields, p->list.doc.nfields, pname, "", c, out, &nl, all) != 0)
                return -1;
            continue;
        }
        if (fmt_fields(p->item.fields, p->item.nfields, pname, "", c, out, &nl, all) != 0) return -1;
        for (int k = 0; k < p->item.nfollow; k++)
            if (fmt_tpl(&p->item.follow[k].url, pname, c, out, &nl, all) != 0) return -1;
    }
    return nl;
}

int spec_counts_format(const spec_t *s, const spec_counts *c, zc_buf *out) { return counts_format(s, c, out, 0); }

int spec_counts_report(const spec_t *s, const spec_counts *c, zc_buf *out) { return counts_format(s, c, out, 1); }
