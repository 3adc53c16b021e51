/* spec.c -- a crawl spec (docs/SPEC.md): which pages are lists, which are items, and how to read them. */
#include "spec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "zc_url.h"
#include "zc_utf8.h"

/* ---------- the compiled form ---------- */

/* A path into a JSON value, split once: "data.items.0" is three segments; a
 * segment of digits also indexes an array. */
typedef struct spath {
    int n;
    char *seg[SPEC_MAX_PATH];
    int idx[SPEC_MAX_PATH]; /* the segment as an array index, or -1 */
    char *text;             /* as written, for messages */
} spath;

enum { TP_LIT,
       TP_ORIGIN,
       TP_FIELD,
       TP_LIMIT,
       TP_OFFSET,
       TP_PAGE,
       TP_CURSOR };
/* Which placeholders a template may hold. */
enum { TPC_ITEM_URL,
       TPC_PAGE_URL,
       TPC_ID };

typedef struct tpart {
    int kind;
    char *lit; /* TP_LIT */
    size_t litlen;
    spath path; /* TP_FIELD */
    int digits; /* {x:digits}: the value must be digits */
} tpart;

typedef struct tpl {
    int n;
    tpart *p;
} tpl;

enum { PP_LIT,
       PP_CAP };
typedef struct ppart {
    int kind;
    char *s; /* PP_LIT: the text; PP_CAP: the name */
    size_t n;
    int digits;
} ppart;

typedef struct pattern {
    int n;
    ppart *p;
    int need_query; /* "...?*": only with a non-empty query */
} pattern;

enum {
    FT_STRING,
    FT_ID,
    FT_INTEGER,
    FT_NUMBER,
    FT_BOOLEAN,
    FT_DATE,
    FT_HTML,
    FT_STRINGS,
    FT_OBJECT,
    FT_OBJECTS,
    FT_COUNT
};
static const char *const ft_names[FT_COUNT] = {
    "string", "id", "integer", "number", "boolean", "date", "html", "strings", "object", "objects"
};

enum { DF_ISO,
       DF_EPOCH_S,
       DF_EPOCH_MS,
       DF_FORMAT };

typedef struct field {
    char *name; /* key in the document */
    spath from; /* where in the item */
    int type;
    int required;
    int collapse; /* string/strings: trim, collapse whitespace, drop empty */
    int entities; /* string/strings: decode HTML character references */
    int datefmt;
    char *format;      /* DF_FORMAT: strptime-like */
    struct field *sub; /* FT_OBJECTS */
    int nsub;
} field;

enum { PG_NONE,
       PG_OFFSET,
       PG_PAGES,
       PG_NEXT,
       PG_CURSOR };
enum { ID_FIELD,
       ID_TEMPLATE };

typedef struct page {
    char *name;
    int kind; /* PARSE_KIND_LIST or PARSE_KIND_DETAIL */
    int npat;
    pattern *pat;
    /* list */
    spath items;
    tpl item_url;
    int pg;
    spath total; /* offset/pages: total items (or pages with total_pages) */
    int total_is_pages;
    char *limit_param, *offset_param, *page_param;
    long default_limit, first_page, per_page;
    spath from; /* next/cursor: where the link or cursor is */
    tpl pg_url;
    /* item */
    spath root;
    int id_kind;
    spath id_from;
    int id_digits;
    char *id_same_as; /* capture the _id must equal, or NULL */
    tpl id_tpl;
    field *fields;
    int nfields;
    char *source_url_key, *fetched_at_key;
} page;

struct spec_t {
    char *name;
    int npages;
    page *pages;
};

/* ---------- loading: errors ---------- */

typedef struct loader {
    const char *file;
    char *err;
    size_t errlen;
    int failed;
} loader;

/* Records the first error: "FILE: JSONPATH: message". Returns -1. */
static int lfail(loader *L, const char *jp, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes the JSON path of a part of the spec into sub. Returns 0, or -1 after
 * failing the load when the path does not fit (a spec nested absurdly deep). */
static int jp_fmt(loader *L, char *sub, size_t len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int jp_fmt(loader *L, char *sub, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sub, len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < len) return 0;
    return lfail(L, "$", "nested deeper than a %zu-character JSON path", len - 1);
}

static int lfail(loader *L, const char *jp, const char *fmt, ...) {
    if (L->failed) return -1;
    L->failed = 1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(L->err, L->errlen, "%s: %s: %s", L->file, jp, msg);
    for (char *c = L->err; *c; c++) /* a message quotes the spec: keep it one line */
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return -1;
}

static char *xstrdup(loader *L, const char *s) {
    char *d = strdup(s);
    if (!d) lfail(L, "$", "out of memory");
    return d;
}

/* Checks that every key of object o is one of the NULL-terminated allowed. */
static int check_keys(loader *L, const char *jp, const cJSON *o, const char *const *allowed) {
    const cJSON *c;
    cJSON_ArrayForEach(c, o) {
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            if (c->string && strcmp(c->string, allowed[i]) == 0) ok = 1;
        if (!ok) {
            char want[400];
            size_t w = 0;
            want[0] = '\0';
            for (int i = 0; allowed[i] && w < sizeof(want) - 40; i++)
                w += (size_t)snprintf(want + w, sizeof(want) - w, "%s%s", i ? ", " : "", allowed[i]);
            return lfail(L, jp, "unknown key '%.60s' (known: %s)", c->string ? c->string : "", want);
        }
    }
    return 0;
}

/* Optional string member: 0 with *out (NULL when absent), or -1. */
static int get_str(loader *L, const char *jp, const cJSON *o, const char *key, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v) return 0;
    if (!cJSON_IsString(v) || !v->valuestring) return lfail(L, jp, "%s must be a string", key);
    for (const char *c = v->valuestring; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) return lfail(L, jp, "%s holds a control character", key);
    *out = v->valuestring;
    return 0;
}

static int get_bool(loader *L, const char *jp, const cJSON *o, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsBool(v)) return lfail(L, jp, "%s must be true or false", key);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int get_long(loader *L, const char *jp, const cJSON *o, const char *key, long min, long max,
                    long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || floor(v->valuedouble) != v->valuedouble ||
        v->valuedouble < (double)min || v->valuedouble > (double)max)
        return lfail(L, jp, "%s must be a whole number from %ld to %ld", key, min, max);
    *out = (long)v->valuedouble;
    return 0;
}

/* ---------- loading: paths, templates, patterns ---------- */

static void path_free(spath *p) {
    for (int i = 0; i < p->n; i++) free(p->seg[i]);
    free(p->text);
    memset(p, 0, sizeof(*p));
}

/* Splits "a.b.0" (empty: the value itself). */
static int path_compile(loader *L, const char *jp, const char *s, spath *p) {
    memset(p, 0, sizeof(*p));
    if (!(p->text = xstrdup(L, s))) return -1;
    if (!*s) return 0;
    const char *q = s;
    for (;;) {
        size_t n = strcspn(q, ".");
        if (n == 0) return lfail(L, jp, "bad path '%.80s': empty segment", s);
        if (p->n == SPEC_MAX_PATH) return lfail(L, jp, "bad path '%.80s': more than %d segments", s, SPEC_MAX_PATH);
        char *seg = strndup(q, n);
        if (!seg) return lfail(L, jp, "out of memory");
        p->seg[p->n] = seg;
        p->idx[p->n] = -1;
        if (n <= 6 && strspn(seg, "0123456789") == n) p->idx[p->n] = atoi(seg);
        p->n++;
        if (!q[n]) break;
        q += n + 1;
    }
    return 0;
}

/* Required path member. */
static int get_path(loader *L, const char *jp, const cJSON *o, const char *key, int required, spath *p) {
    const char *s;
    char sub[300];
    if (jp_fmt(L, sub, sizeof(sub), "%s.%s", jp, key) != 0) return -1;
    if (get_str(L, jp, o, key, &s) != 0) return -1;
    if (!s) {
        memset(p, 0, sizeof(*p));
        return required ? lfail(L, sub, "missing (a path such as \"data.items\")") : 0;
    }
    return path_compile(L, sub, s, p);
}

static const cJSON *path_get(const cJSON *v, const spath *p) {
    for (int i = 0; i < p->n && v; i++) {
        if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, p->seg[i]);
        else if (cJSON_IsArray(v) && p->idx[i] >= 0) v = cJSON_GetArrayItem(v, p->idx[i]);
        else v = NULL;
    }
    return v;
}

static void tpl_free(tpl *t) {
    for (int i = 0; i < t->n; i++) {
        free(t->p[i].lit);
        path_free(&t->p[i].path);
    }
    free(t->p);
    memset(t, 0, sizeof(*t));
}

static int tpl_push(loader *L, const char *jp, tpl *t, tpart *part) {
    tpart *np = realloc(t->p, (size_t)(t->n + 1) * sizeof(*np));
    if (!np) return lfail(L, jp, "out of memory");
    t->p = np;
    t->p[t->n++] = *part;
    return 0;
}

/* Parses "text {name} text {name:digits}" for context ctx. */
static int tpl_compile(loader *L, const char *jp, const char *s, int ctx, tpl *t) {
    memset(t, 0, sizeof(*t));
    if (!*s) return lfail(L, jp, "empty template");
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return lfail(L, jp, "template '%.80s' holds a space or a control character", s);
    const char *q = s;
    while (*q) {
        tpart part;
        memset(&part, 0, sizeof(part));
        if (*q != '{') {
            size_t n = strcspn(q, "{}");
            if (n == 0) return lfail(L, jp, "unbalanced '}' in template '%.80s'", s);
            part.kind = TP_LIT;
            if (!(part.lit = strndup(q, n))) return lfail(L, jp, "out of memory");
            part.litlen = n;
            if (tpl_push(L, jp, t, &part) != 0) return free(part.lit), -1;
            q += n;
            continue;
        }
        const char *e = strchr(q, '}');
        if (!e) return lfail(L, jp, "unclosed '{' in template '%.80s'", s);
        char name[128];
        size_t n = (size_t)(e - q - 1);
        if (n == 0 || n >= sizeof(name)) return lfail(L, jp, "bad placeholder in template '%.80s'", s);
        memcpy(name, q + 1, n);
        name[n] = '\0';
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = '\0';
            if (strcmp(colon + 1, "digits") != 0)
                return lfail(L, jp, "placeholder {%s:%.20s}: the only check is ':digits'", name, colon + 1);
            part.digits = 1;
        }
        int kind = -1;
        if (strcmp(name, "origin") == 0) kind = TP_ORIGIN;
        else if (ctx == TPC_PAGE_URL) {
            if (strcmp(name, "limit") == 0) kind = TP_LIMIT;
            else if (strcmp(name, "offset") == 0) kind = TP_OFFSET;
            else if (strcmp(name, "page") == 0) kind = TP_PAGE;
            else if (strcmp(name, "cursor") == 0) kind = TP_CURSOR;
            else return lfail(L, jp, "unknown placeholder {%s} (a page URL knows origin, limit, offset, page, cursor)", name);
        } else {
            kind = TP_FIELD;
            if (ctx == TPC_ID && strcmp(name, "origin") == 0) kind = TP_ORIGIN;
        }
        part.kind = kind;
        if (kind == TP_FIELD && path_compile(L, jp, name, &part.path) != 0) return path_free(&part.path), -1;
        if (tpl_push(L, jp, t, &part) != 0) return path_free(&part.path), -1;
        q = e + 1;
    }
    return 0;
}

/* Which of the TP_* kinds t uses. */
static int tpl_uses(const tpl *t, int kind) {
    for (int i = 0; i < t->n; i++)
        if (t->p[i].kind == kind) return 1;
    return 0;
}

static void pattern_free(pattern *p) {
    for (int i = 0; i < p->n; i++) free(p->p[i].s);
    free(p->p);
    memset(p, 0, sizeof(*p));
}

/* "/api/book/{id:digits}/", "/api/book?*". */
static int pattern_compile(loader *L, const char *jp, const char *s, pattern *pt) {
    memset(pt, 0, sizeof(*pt));
    if (s[0] != '/') return lfail(L, jp, "pattern '%.80s' must start with '/' (it matches the URL's path)", s);
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return lfail(L, jp, "pattern '%.80s' holds a space or a control character", s);
    size_t len = strlen(s);
    if (len >= 2 && strcmp(s + len - 2, "?*") == 0) {
        pt->need_query = 1;
        len -= 2;
    }
    size_t i = 0;
    while (i < len) {
        ppart part;
        memset(&part, 0, sizeof(part));
        if (s[i] == '{') {
            const char *e = memchr(s + i, '}', len - i);
            if (!e) return lfail(L, jp, "unclosed '{' in pattern '%.80s'", s);
            size_t n = (size_t)(e - (s + i) - 1);
            char *name = strndup(s + i + 1, n);
            if (!name) return lfail(L, jp, "out of memory");
            char *colon = strchr(name, ':');
            if (colon) {
                *colon = '\0';
                if (strcmp(colon + 1, "digits") != 0) {
                    lfail(L, jp, "capture {%s:%.20s}: the only check is ':digits'", name, colon + 1);
                    free(name);
                    return -1;
                }
                part.digits = 1;
            }
            if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(name)) {
                lfail(L, jp, "capture name '%.40s' in pattern '%.80s' must be letters, digits or _", name, s);
                free(name);
                return -1;
            }
            if (pt->n > 0 && pt->p[pt->n - 1].kind == PP_CAP) {
                free(name);
                return lfail(L, jp, "two captures in a row in pattern '%.80s'", s);
            }
            part.kind = PP_CAP;
            part.s = name;
            i = (size_t)(e - s) + 1;
        } else {
            size_t n = strcspn(s + i, "{}?#");
            if (i + n > len) n = len - i;
            if (n == 0)
                return lfail(L, jp, "unexpected '%c' in pattern '%.80s' ('?' only as a final '?*')", s[i], s);
            part.kind = PP_LIT;
            if (!(part.s = strndup(s + i, n))) return lfail(L, jp, "out of memory");
            part.n = n;
            i += n;
        }
        ppart *np = realloc(pt->p, (size_t)(pt->n + 1) * sizeof(*np));
        if (!np) {
            free(part.s);
            return lfail(L, jp, "out of memory");
        }
        pt->p = np;
        pt->p[pt->n++] = part;
    }
    int ncap = 0;
    for (int k = 0; k < pt->n; k++) ncap += pt->p[k].kind == PP_CAP;
    if (ncap > SPEC_MAX_CAPTURES) return lfail(L, jp, "more than %d captures", SPEC_MAX_CAPTURES);
    return 0;
}

/* Matches a path; records captures into m. Returns 1 on a match. */
static int pattern_match(const pattern *pt, const parse_url_parts *u, spec_match *m) {
    if (pt->need_query && u->query_len == 0) return 0;
    const char *s = u->path;
    size_t n = u->path_len, i = 0;
    m->ncap = 0;
    for (int k = 0; k < pt->n; k++) {
        const ppart *p = &pt->p[k];
        if (p->kind == PP_LIT) {
            if (n - i < p->n || memcmp(s + i, p->s, p->n) != 0) return 0;
            i += p->n;
            continue;
        }
        char stop = (k + 1 < pt->n) ? pt->p[k + 1].s[0] : '\0';
        size_t j = i;
        while (j < n && s[j] != '/' && s[j] != stop) {
            if (p->digits && (s[j] < '0' || s[j] > '9')) return 0;
            j++;
        }
        if (j == i) return 0;
        m->cap[m->ncap].name = p->s;
        m->cap[m->ncap].s = s + i;
        m->cap[m->ncap].n = j - i;
        m->ncap++;
        i = j;
    }
    return i == n;
}

/* ---------- loading: fields ---------- */

static void fields_free(field *f, int n) {
    for (int i = 0; i < n; i++) {
        free(f[i].name);
        path_free(&f[i].from);
        free(f[i].format);
        fields_free(f[i].sub, f[i].nsub);
    }
    free(f);
}

/* Checks a strptime-like format: %Y %y %m %d %e %H %M %S %b %B %z %%, other bytes literal. */
static int datefmt_check(loader *L, const char *jp, const char *f) {
    for (const char *p = f; *p; p++) {
        if (*p != '%') continue;
        p++;
        if (!*p || !strchr("YymdeHMSbBz%", *p))
            return lfail(L, jp, "format '%.60s': unknown conversion '%%%c' (known: %%Y %%y %%m %%d %%e %%H %%M %%S %%b %%B %%z %%%%)",
                         f, *p ? *p : ' ');
    }
    if (!strstr(f, "%Y") && !strstr(f, "%y"))
        return lfail(L, jp, "format '%.60s' has no year (%%Y or %%y)", f);
    return 0;
}

static int fields_compile(loader *L, const char *jp, const cJSON *arr, field **out, int *nout, int depth);

static int field_compile(loader *L, const char *jp, const cJSON *o, field *f, int depth) {
    static const char *const keys[] = { "name", "from", "type", "required", "collapse", "entities",
                                        "format", "fields", NULL };
    const char *name, *from, *type, *format;
    char sub[300];
    if (!cJSON_IsObject(o)) return lfail(L, jp, "a field must be an object such as {\"name\": \"title\", \"type\": \"string\"}");
    if (check_keys(L, jp, o, keys) != 0) return -1;
    if (get_str(L, jp, o, "name", &name) || get_str(L, jp, o, "from", &from) ||
        get_str(L, jp, o, "type", &type) || get_str(L, jp, o, "format", &format) ||
        get_bool(L, jp, o, "required", &f->required) || get_bool(L, jp, o, "collapse", &f->collapse) ||
        get_bool(L, jp, o, "entities", &f->entities))
        return -1;
    if (jp_fmt(L, sub, sizeof(sub), "%s.name", jp) != 0) return -1;
    if (!name || !*name) return lfail(L, sub, "missing (the key in the document)");
    if (name[0] == '$' || strchr(name, '.') || strcmp(name, "_id") == 0)
        return lfail(L, sub, "'%.60s' cannot be a document key (no '$' first, no '.', not _id)", name);
    if (!(f->name = xstrdup(L, name))) return -1;
    if (jp_fmt(L, sub, sizeof(sub), "%s.from", jp) != 0) return -1;
    if (path_compile(L, sub, from ? from : name, &f->from) != 0) return -1;
    if (jp_fmt(L, sub, sizeof(sub), "%s.type", jp) != 0) return -1;
    if (!type) return lfail(L, sub, "missing (string, id, integer, number, boolean, date, html, strings, object or objects)");
    f->type = -1;
    for (int i = 0; i < FT_COUNT; i++)
        if (strcmp(type, ft_names[i]) == 0) f->type = i;
    if (f->type < 0)
        return lfail(L, sub, "unknown type '%.40s' (string, id, integer, number, boolean, date, html, strings, object or objects)", type);
    if ((f->collapse || f->entities) && f->type != FT_STRING && f->type != FT_STRINGS)
        return lfail(L, jp, "collapse and entities apply to string and strings only");
    if (jp_fmt(L, sub, sizeof(sub), "%s.format", jp) != 0) return -1;
    if (format && f->type != FT_DATE) return lfail(L, sub, "only a date has a format");
    if (f->type == FT_DATE) {
        if (!format || strcmp(format, "iso") == 0) f->datefmt = DF_ISO;
        else if (strcmp(format, "epoch_s") == 0) f->datefmt = DF_EPOCH_S;
        else if (strcmp(format, "epoch_ms") == 0) f->datefmt = DF_EPOCH_MS;
        else {
            if (datefmt_check(L, sub, format) != 0) return -1;
            f->datefmt = DF_FORMAT;
            if (!(f->format = xstrdup(L, format))) return -1;
        }
    }
    const cJSON *subf = cJSON_GetObjectItemCaseSensitive(o, "fields");
    if (jp_fmt(L, sub, sizeof(sub), "%s.fields", jp) != 0) return -1;
    if (f->type == FT_OBJECTS) {
        if (depth >= 4) return lfail(L, sub, "objects nested more than 4 deep");
        if (!subf) return lfail(L, sub, "missing (objects need the fields of each object)");
        return fields_compile(L, sub, subf, &f->sub, &f->nsub, depth + 1);
    }
    if (subf) return lfail(L, sub, "only objects has fields");
    return 0;
}

static int fields_compile(loader *L, const char *jp, const cJSON *arr, field **out, int *nout, int depth) {
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
        return lfail(L, jp, "must be a non-empty array of fields");
    int n = cJSON_GetArraySize(arr);
    if (n > SPEC_MAX_FIELDS) return lfail(L, jp, "more than %d fields", SPEC_MAX_FIELDS);
    field *f = calloc((size_t)n, sizeof(*f));
    if (!f) return lfail(L, jp, "out of memory");
    *out = f;
    *nout = n;
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        char sub[300];
        if (jp_fmt(L, sub, sizeof(sub), "%s[%d]", jp, i) != 0) return -1;
        if (field_compile(L, sub, e, &f[i], depth) != 0) return -1;
        for (int k = 0; k < i; k++)
            if (strcmp(f[k].name, f[i].name) == 0) {
                if (jp_fmt(L, sub, sizeof(sub), "%s[%d].name", jp, i) != 0) return -1;
                return lfail(L, sub, "'%.60s' is already the name of %s[%d]", f[i].name, jp, k);
            }
        i++;
    }
    return 0;
}

/* ---------- loading: pages ---------- */

static void page_free(page *p) {
    free(p->name);
    for (int i = 0; i < p->npat; i++) pattern_free(&p->pat[i]);
    free(p->pat);
    path_free(&p->items);
    tpl_free(&p->item_url);
    path_free(&p->total);
    free(p->limit_param);
    free(p->offset_param);
    free(p->page_param);
    path_free(&p->from);
    tpl_free(&p->pg_url);
    path_free(&p->root);
    path_free(&p->id_from);
    free(p->id_same_as);
    tpl_free(&p->id_tpl);
    fields_free(p->fields, p->nfields);
    free(p->source_url_key);
    free(p->fetched_at_key);
}

static int paginate_compile(loader *L, const char *jp, const cJSON *o, page *p) {
    static const char *const keys[] = { "type", "total", "total_pages", "per_page", "limit_param",
                                        "offset_param", "default_limit", "param", "first", "from",
                                        "url", NULL };
    const char *type, *s;
    char sub[300];
    if (!cJSON_IsObject(o)) return lfail(L, jp, "must be an object with a type");
    if (check_keys(L, jp, o, keys) != 0 || get_str(L, jp, o, "type", &type) != 0) return -1;
    if (jp_fmt(L, sub, sizeof(sub), "%s.type", jp) != 0) return -1;
    if (!type) return lfail(L, sub, "missing (offset, pages, next or cursor)");
    const char *url = NULL;
    if (get_str(L, jp, o, "url", &url) != 0) return -1;
    if (jp_fmt(L, sub, sizeof(sub), "%s.url", jp) != 0) return -1;
    if (strcmp(type, "offset") == 0) {
        p->pg = PG_OFFSET;
        p->default_limit = 20;
        if (get_path(L, jp, o, "total", 1, &p->total) != 0) return -1;
        if (get_long(L, jp, o, "default_limit", 1, 100000, &p->default_limit) != 0) return -1;
        if (get_str(L, jp, o, "limit_param", &s) != 0 || !(p->limit_param = xstrdup(L, s ? s : "limit"))) return -1;
        if (get_str(L, jp, o, "offset_param", &s) != 0 || !(p->offset_param = xstrdup(L, s ? s : "offset"))) return -1;
        if (!url) return lfail(L, sub, "missing (a template such as \"{origin}/items?limit={limit}&offset={offset}\")");
        if (tpl_compile(L, sub, url, TPC_PAGE_URL, &p->pg_url) != 0) return -1;
        if (!tpl_uses(&p->pg_url, TP_OFFSET)) return lfail(L, sub, "the template must hold {offset}");
        if (tpl_uses(&p->pg_url, TP_PAGE) || tpl_uses(&p->pg_url, TP_CURSOR))
            return lfail(L, sub, "offset pagination knows {origin}, {limit} and {offset} only");
    } else if (strcmp(type, "pages") == 0) {
        p->pg = PG_PAGES;
        p->first_page = 1;
        const cJSON *tp = cJSON_GetObjectItemCaseSensitive(o, "total_pages");
        if (tp) {
            p->total_is_pages = 1;
            if (get_path(L, jp, o, "total_pages", 1, &p->total) != 0) return -1;
        } else {
            if (get_path(L, jp, o, "total", 0, &p->total) != 0) return -1;
            if (!p->total.text) {
                if (jp_fmt(L, sub, sizeof(sub), "%s.total_pages", jp) != 0) return -1;
                return lfail(L, sub, "missing (or total with per_page)");
            }
            if (get_long(L, jp, o, "per_page", 1, 100000, &p->per_page) != 0) return -1;
            if (p->per_page == 0) {
                if (jp_fmt(L, sub, sizeof(sub), "%s.per_page", jp) != 0) return -1;
                return lfail(L, sub, "missing (needed with total)");
            }
        }
        if (get_long(L, jp, o, "first", 0, 1, &p->first_page) != 0) return -1;
        if (get_str(L, jp, o, "param", &s) != 0 || !(p->page_param = xstrdup(L, s ? s : "page"))) return -1;
        if (jp_fmt(L, sub, sizeof(sub), "%s.url", jp) != 0) return -1;
        if (!url) return lfail(L, sub, "missing (a template such as \"{origin}/items?page={page}\")");
        if (tpl_compile(L, sub, url, TPC_PAGE_URL, &p->pg_url) != 0) return -1;
        if (!tpl_uses(&p->pg_url, TP_PAGE)) return lfail(L, sub, "the template must hold {page}");
        if (tpl_uses(&p->pg_url, TP_OFFSET) || tpl_uses(&p->pg_url, TP_CURSOR) || tpl_uses(&p->pg_url, TP_LIMIT))
            return lfail(L, sub, "page-number pagination knows {origin} and {page} only");
    } else if (strcmp(type, "next") == 0) {
        p->pg = PG_NEXT;
        if (get_path(L, jp, o, "from", 1, &p->from) != 0) return -1;
        if (url) return lfail(L, sub, "next pagination takes the URL from the page (no url template)");
    } else if (strcmp(type, "cursor") == 0) {
        p->pg = PG_CURSOR;
        if (get_path(L, jp, o, "from", 1, &p->from) != 0) return -1;
        if (!url) return lfail(L, sub, "missing (a template such as \"{origin}/items?cursor={cursor}\")");
        if (tpl_compile(L, sub, url, TPC_PAGE_URL, &p->pg_url) != 0) return -1;
        if (!tpl_uses(&p->pg_url, TP_CURSOR)) return lfail(L, sub, "the template must hold {cursor}");
        if (tpl_uses(&p->pg_url, TP_OFFSET) || tpl_uses(&p->pg_url, TP_PAGE) || tpl_uses(&p->pg_url, TP_LIMIT))
            return lfail(L, sub, "cursor pagination knows {origin} and {cursor} only");
    } else {
        if (jp_fmt(L, sub, sizeof(sub), "%s.type", jp) != 0) return -1;
        return lfail(L, sub, "unknown pagination '%.40s' (offset, pages, next or cursor)", type);
    }
    return 0;
}

static int list_compile(loader *L, const char *jp, const cJSON *o, page *p) {
    static const char *const keys[] = { "items", "item_url", "paginate", NULL };
    const char *url;
    char sub[300];
    if (!cJSON_IsObject(o)) return lfail(L, jp, "must be an object");
    if (check_keys(L, jp, o, keys) != 0) return -1;
    if (get_path(L, jp, o, "items", 1, &p->items) != 0) return -1;
    if (get_str(L, jp, o, "item_url", &url) != 0) return -1;
    if (jp_fmt(L, sub, sizeof(sub), "%s.item_url", jp) != 0) return -1;
    if (!url) return lfail(L, sub, "missing (a template such as \"{origin}/api/item/{id}\")");
    if (tpl_compile(L, sub, url, TPC_ITEM_URL, &p->item_url) != 0) return -1;
    if (!tpl_uses(&p->item_url, TP_FIELD)) return lfail(L, sub, "the template names no field of the item");
    const cJSON *pg = cJSON_GetObjectItemCaseSensitive(o, "paginate");
    if (jp_fmt(L, sub, sizeof(sub), "%s.paginate", jp) != 0) return -1;
    if (pg) return paginate_compile(L, sub, pg, p);
    p->pg = PG_NONE;
    return 0;
}

/* source_url / fetched_at: absent means the default key, null means none. */
static int meta_key(loader *L, const char *jp, const cJSON *o, const char *key, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    char sub[300];
    if (jp_fmt(L, sub, sizeof(sub), "%s.%s", jp, key) != 0) return -1;
    if (!v) *out = key;
    else if (cJSON_IsNull(v)) *out = NULL;
    else if (cJSON_IsString(v) && v->valuestring && *v->valuestring && v->valuestring[0] != '$' &&
             !strchr(v->valuestring, '.') && strcmp(v->valuestring, "_id") != 0)
        *out = v->valuestring;
    else return lfail(L, sub, "must be a document key, or null to leave it out");
    return 0;
}

static int item_compile(loader *L, const char *jp, const cJSON *o, page *p) {
    static const char *const keys[] = { "root", "id", "fields", "source_url", "fetched_at", NULL };
    static const char *const idkeys[] = { "from", "type", "same_as", "template", NULL };
    char sub[300];
    if (!cJSON_IsObject(o)) return lfail(L, jp, "must be an object");
    if (check_keys(L, jp, o, keys) != 0) return -1;
    if (get_path(L, jp, o, "root", 0, &p->root) != 0) return -1;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (jp_fmt(L, sub, sizeof(sub), "%s.id", jp) != 0) return -1;
    if (!id) return lfail(L, sub, "missing (where the document's _id comes from)");
    if (!cJSON_IsObject(id)) return lfail(L, sub, "must be an object: {\"from\": \"id\"} or {\"template\": \"...\"}");
    if (check_keys(L, sub, id, idkeys) != 0) return -1;
    const char *from, *type, *same, *tmpl;
    if (get_str(L, sub, id, "from", &from) || get_str(L, sub, id, "type", &type) ||
        get_str(L, sub, id, "same_as", &same) || get_str(L, sub, id, "template", &tmpl))
        return -1;
    if (!!from == !!tmpl) return lfail(L, sub, "needs exactly one of from and template");
    if (from) {
        char s2[320];
        p->id_kind = ID_FIELD;
        snprintf(s2, sizeof(s2), "%s.from", sub);
        if (path_compile(L, s2, from, &p->id_from) != 0) return -1;
        snprintf(s2, sizeof(s2), "%s.type", sub);
        if (!type || strcmp(type, "string") == 0) p->id_digits = 0;
        else if (strcmp(type, "digits") == 0) p->id_digits = 1;
        else return lfail(L, s2, "unknown id type '%.40s' (string or digits)", type);
    } else {
        char s2[320];
        p->id_kind = ID_TEMPLATE;
        snprintf(s2, sizeof(s2), "%s.template", sub);
        if (type) return lfail(L, sub, "type goes with from, not with template");
        if (tpl_compile(L, s2, tmpl, TPC_ID, &p->id_tpl) != 0) return -1;
    }
    if (same) {
        int found = 0;
        for (int i = 0; i < p->npat; i++)
            for (int k = 0; k < p->pat[i].n; k++)
                if (p->pat[i].p[k].kind == PP_CAP && strcmp(p->pat[i].p[k].s, same) == 0) found++;
        char s2[320];
        snprintf(s2, sizeof(s2), "%s.same_as", sub);
        if (found < p->npat) return lfail(L, s2, "'%.40s' is not a capture of every match pattern", same);
        if (!(p->id_same_as = xstrdup(L, same))) return -1;
    }
    if (jp_fmt(L, sub, sizeof(sub), "%s.fields", jp) != 0) return -1;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "fields");
    if (!f) return lfail(L, sub, "missing (the fields the document keeps)");
    if (fields_compile(L, sub, f, &p->fields, &p->nfields, 0) != 0) return -1;
    const char *su = NULL, *fa = NULL;
    if (meta_key(L, jp, o, "source_url", &su) != 0 || meta_key(L, jp, o, "fetched_at", &fa) != 0) return -1;
    if ((su && !(p->source_url_key = xstrdup(L, su))) || (fa && !(p->fetched_at_key = xstrdup(L, fa))))
        return -1;
    for (int i = 0; i < p->nfields; i++)
        if ((su && strcmp(p->fields[i].name, su) == 0) || (fa && strcmp(p->fields[i].name, fa) == 0)) {
            if (jp_fmt(L, sub, sizeof(sub), "%s.fields[%d].name", jp, i) != 0) return -1;
            return lfail(L, sub, "'%s' is the key of source_url or fetched_at (rename those, or set them to null)",
                         p->fields[i].name);
        }
    return 0;
}

static int page_compile(loader *L, const char *jp, const cJSON *o, page *p) {
    static const char *const keys[] = { "name", "match", "list", "item", NULL };
    char sub[300];
    if (!cJSON_IsObject(o)) return lfail(L, jp, "a page rule must be an object");
    if (check_keys(L, jp, o, keys) != 0) return -1;
    const char *name;
    if (get_str(L, jp, o, "name", &name) != 0) return -1;
    if (name && !(p->name = xstrdup(L, name))) return -1;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "match");
    if (jp_fmt(L, sub, sizeof(sub), "%s.match", jp) != 0) return -1;
    if (!m) return lfail(L, sub, "missing (a path pattern such as \"/api/item/{id}\", or a list of them)");
    if (cJSON_IsString(m)) {
        if (!(p->pat = calloc(1, sizeof(*p->pat)))) return lfail(L, sub, "out of memory");
        p->npat = 1;
        if (pattern_compile(L, sub, m->valuestring, &p->pat[0]) != 0) return -1;
    } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) > 0 && cJSON_GetArraySize(m) <= 16) {
        int n = cJSON_GetArraySize(m), i = 0;
        if (!(p->pat = calloc((size_t)n, sizeof(*p->pat)))) return lfail(L, sub, "out of memory");
        p->npat = n;
        const cJSON *e;
        cJSON_ArrayForEach(e, m) {
            char s2[320];
            snprintf(s2, sizeof(s2), "%s[%d]", sub, i);
            if (!cJSON_IsString(e)) return lfail(L, s2, "must be a string");
            if (pattern_compile(L, s2, e->valuestring, &p->pat[i]) != 0) return -1;
            i++;
        }
    } else {
        return lfail(L, sub, "must be a pattern string or a list of 1 to 16 of them");
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "list");
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, "item");
    if (!!list == !!item) return lfail(L, jp, "needs exactly one of list and item");
    if (list) {
        p->kind = PARSE_KIND_LIST;
        if (jp_fmt(L, sub, sizeof(sub), "%s.list", jp) != 0) return -1;
        return list_compile(L, sub, list, p);
    }
    p->kind = PARSE_KIND_DETAIL;
    if (jp_fmt(L, sub, sizeof(sub), "%s.item", jp) != 0) return -1;
    return item_compile(L, sub, item, p);
}

void spec_free(spec_t *s) {
    if (!s) return;
    for (int i = 0; i < s->npages; i++) page_free(&s->pages[i]);
    free(s->pages);
    free(s->name);
    free(s);
}

const char *spec_name(const spec_t *s) {
    return s->name ? s->name : "";
}

spec_t *spec_load_text(const char *text, size_t len, const char *name, char *err, size_t errlen) {
    static const char *const keys[] = { "zcrawl_spec", "name", "pages", NULL };
    loader L = { name, err, errlen, 0 };
    spec_t *s = NULL;
    cJSON *root = NULL;
    if (len > SPEC_MAX_BYTES) {
        lfail(&L, "$", "larger than %u bytes", SPEC_MAX_BYTES);
        return NULL;
    }
    if (!zc_utf8_valid(text, len) || memchr(text, '\0', len)) {
        lfail(&L, "$", "not UTF-8 text");
        return NULL;
    }
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t off = (end && end >= text && end <= text + len) ? (size_t)(end - text) : 0;
        size_t line = 1;
        for (size_t i = 0; i < off; i++) line += text[i] == '\n';
        lfail(&L, "$", "invalid JSON at byte %zu (line %zu)", off, line);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        lfail(&L, "$", "a spec is a JSON object with \"pages\"");
        goto err;
    }
    if (check_keys(&L, "$", root, keys) != 0) goto err;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "zcrawl_spec");
    if (ver && !(cJSON_IsNumber(ver) && ver->valuedouble == 1)) {
        lfail(&L, "$.zcrawl_spec", "this parser reads version 1");
        goto err;
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        lfail(&L, "$", "out of memory");
        goto err;
    }
    const char *nm;
    if (get_str(&L, "$", root, "name", &nm) != 0) goto err;
    if (!(s->name = xstrdup(&L, nm ? nm : ""))) goto err;
    const cJSON *pages = cJSON_GetObjectItemCaseSensitive(root, "pages");
    if (!pages) {
        lfail(&L, "$.pages", "missing (the list of page rules)");
        goto err;
    }
    if (!cJSON_IsArray(pages) || cJSON_GetArraySize(pages) == 0 || cJSON_GetArraySize(pages) > SPEC_MAX_PAGES) {
        lfail(&L, "$.pages", "must be an array of 1 to %d page rules", SPEC_MAX_PAGES);
        goto err;
    }
    int n = cJSON_GetArraySize(pages), i = 0;
    if (!(s->pages = calloc((size_t)n, sizeof(*s->pages)))) {
        lfail(&L, "$.pages", "out of memory");
        goto err;
    }
    s->npages = n;
    const cJSON *e;
    cJSON_ArrayForEach(e, pages) {
        char jp[64];
        snprintf(jp, sizeof(jp), "$.pages[%d]", i);
        if (page_compile(&L, jp, e, &s->pages[i]) != 0) goto err;
        i++;
    }
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

/* ---------- the built-in spec ---------- */

static spec_t *default_spec;

const spec_t *spec_default(void) {
    if (!default_spec) {
        char err[256];
        default_spec = spec_load_text(spec_books_json, strlen(spec_books_json), "specs/books.json (built in)",
                                      err, sizeof(err));
    }
    return default_spec;
}

void spec_default_free(void) {
    spec_free(default_spec);
    default_spec = NULL;
}

/* ---------- classifying ---------- */

int spec_classify(const spec_t *s, const char *url, spec_match *m) {
    parse_url_parts u;
    memset(m, 0, sizeof(*m));
    m->kind = PARSE_KIND_UNKNOWN;
    m->page = -1;
    if (!s || parse_url_split(url, &u) != 0) return PARSE_KIND_UNKNOWN;
    for (int i = 0; i < s->npages; i++)
        for (int k = 0; k < s->pages[i].npat; k++)
            if (pattern_match(&s->pages[i].pat[k], &u, m)) {
                m->kind = s->pages[i].kind;
                m->page = i;
                return m->kind;
            }
    m->ncap = 0;
    return PARSE_KIND_UNKNOWN;
}

/* ---------- scratch text ---------- */

/* One growing buffer for converted strings: a page's strings are converted one at a
 * time, so one buffer serves them all without a malloc each. */
static char *scratch;
static size_t scratch_cap;

static char *scratch_get(size_t n) {
    if (n > scratch_cap) {
        size_t cap = scratch_cap ? scratch_cap : 4096;
        while (cap < n) cap *= 2;
        char *p = realloc(scratch, cap);
        if (!p) return NULL;
        scratch = p;
        scratch_cap = cap;
    }
    return scratch;
}

void spec_scratch_free(void) {
    free(scratch);
    scratch = NULL;
    scratch_cap = 0;
}

/* ---------- templates at run time ---------- */

typedef struct tctx {
    const parse_url_parts *u;
    const cJSON *item;
    uint64_t limit, offset, page;
    const char *cursor;
    size_t cursor_len;
    int encode; /* percent-encode field values (URLs) */
} tctx;

static int out_add(char *out, size_t cap, size_t *o, const char *s, size_t n) {
    if (n >= cap - *o) return -1;
    memcpy(out + *o, s, n);
    *o += n;
    return 0;
}

static int out_add_enc(char *out, size_t cap, size_t *o, const char *s, size_t n, int encode) {
    static const char hex[] = "0123456789ABCDEF";
    if (!encode) {
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20) return -1;
        return out_add(out, cap, o, s, n);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            if (*o + 1 >= cap) return -1;
            out[(*o)++] = (char)c;
        } else {
            if (*o + 3 >= cap) return -1;
            out[(*o)++] = '%';
            out[(*o)++] = hex[c >> 4];
            out[(*o)++] = hex[c & 15];
        }
    }
    return 0;
}

static int out_u64(char *out, size_t cap, size_t *o, uint64_t v) {
    char t[24];
    size_t n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (n >= cap - *o) return -1;
    for (size_t i = 0; i < n; i++) out[(*o)++] = t[n - 1 - i];
    return 0;
}

/* A scalar value as text: a non-empty string, or a whole number. Returns 0 with
 * the text in buf / *s, or -1. digits: only a string of digits or a whole number >= 0. */
static int scalar_text(const cJSON *v, int digits, char *buf, size_t cap, const char **s, size_t *n) {
    if (digits) {
        if (parse_json_id(v, buf, cap) != 0) return -1;
        *s = buf;
        *n = strlen(buf);
        return 0;
    }
    if (cJSON_IsString(v) && v->valuestring) {
        *s = v->valuestring;
        *n = strlen(v->valuestring);
        return *n == 0 || *n > SPEC_ID_MAX ? -1 : 0;
    }
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (!isfinite(x) || floor(x) != x || fabs(x) >= 9007199254740992.0) return -1;
        int k = snprintf(buf, cap, "%lld", (long long)x);
        if (k <= 0 || (size_t)k >= cap) return -1;
        *s = buf;
        *n = (size_t)k;
        return 0;
    }
    return -1;
}

/* Expands t into out (NUL-terminated). Returns its length, or -1 when a field is
 * missing or unusable, or the result does not fit. */
static long tpl_expand(const tpl *t, const tctx *c, char *out, size_t cap) {
    size_t o = 0;
    char buf[PARSE_ID_MAX + 32];
    for (int i = 0; i < t->n; i++) {
        const tpart *p = &t->p[i];
        int rc = 0;
        switch (p->kind) {
        case TP_LIT: rc = out_add(out, cap, &o, p->lit, p->litlen); break;
        case TP_ORIGIN: rc = c->u ? out_add(out, cap, &o, c->u->origin, c->u->origin_len) : -1; break;
        case TP_LIMIT: rc = out_u64(out, cap, &o, c->limit); break;
        case TP_OFFSET: rc = out_u64(out, cap, &o, c->offset); break;
        case TP_PAGE: rc = out_u64(out, cap, &o, c->page); break;
        case TP_CURSOR: rc = out_add_enc(out, cap, &o, c->cursor, c->cursor_len, 1); break;
        case TP_FIELD: {
            const char *s;
            size_t n;
            const cJSON *v = c->item ? path_get(c->item, &p->path) : NULL;
            if (!v || scalar_text(v, p->digits, buf, sizeof(buf), &s, &n) != 0) return -1;
            rc = out_add_enc(out, cap, &o, s, n, c->encode);
            break;
        }
        default: rc = -1;
        }
        if (rc != 0) return -1;
    }
    out[o] = '\0';
    return (long)o;
}

/* ---------- list pages ---------- */

#define LINE_MAX_URL (ZC_URL_MAX + 1)

/* A URL from a page ("next"): absolute http(s), or a path from the page's origin.
 * Returns its length in out, or -1 when it is not usable. */
static long next_url(const parse_url_parts *u, const char *s, char *out, size_t cap) {
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f) return -1;
    if (n == 0) return -1;
    if (s[0] == '/' && s[1] != '/') {
        if (out_add(out, cap, &o, u->origin, u->origin_len) != 0) return -1;
    } else {
        parse_url_parts x;
        if (parse_url_split(s, &x) != 0) return -1;
    }
    if (out_add(out, cap, &o, s, n) != 0) return -1;
    out[o] = '\0';
    return (long)o;
}

int spec_list(const spec_t *s, const spec_match *m, const char *url, const char *body, size_t len,
              parse_urls *out, char *err, size_t errlen) {
    parse_url_parts up;
    cJSON *root = NULL;
    char line[LINE_MAX_URL];
    parse_urls_reset(out);
    if (!s || !m || m->page < 0 || m->page >= s->npages || s->pages[m->page].kind != PARSE_KIND_LIST ||
        parse_url_split(url, &up) != 0) {
        snprintf(err, errlen, "not a list url");
        return -1;
    }
    const page *p = &s->pages[m->page];
    if (!(root = parse_json(body, len, err, errlen))) goto err;
    const cJSON *items = path_get(root, &p->items);
    if (!items) {
        if (p->items.n > 0 && !cJSON_IsObject(root)) snprintf(err, errlen, "not an object");
        else snprintf(err, errlen, "%s missing", p->items.text);
        goto err;
    }
    if (!cJSON_IsArray(items)) {
        snprintf(err, errlen, "%s is not an array", p->items.n ? p->items.text : "the page");
        goto err;
    }

    /* Pagination is read before the items so that a bad total fails the page whole. */
    uint64_t total = 0, limit = (uint64_t)p->default_limit, v = 0, cur = 0;
    int first = 1;
    if (p->pg == PG_OFFSET || p->pg == PG_PAGES) {
        const cJSON *cnt = path_get(root, &p->total);
        if (!cnt) {
            snprintf(err, errlen, "%s missing", p->total.text);
            goto err;
        }
        if (!cJSON_IsNumber(cnt) || !isfinite(cnt->valuedouble)) {
            snprintf(err, errlen, "%s is not a number", p->total.text);
            goto err;
        }
        if (cnt->valuedouble < 0) {
            snprintf(err, errlen, "%s is negative", p->total.text);
            goto err;
        }
        if (cnt->valuedouble > PARSE_MAX_COUNT) {
            total = PARSE_MAX_COUNT;
            out->truncated = 1;
        } else {
            total = (uint64_t)ceil(cnt->valuedouble);
        }
        if (p->pg == PG_OFFSET) {
            int rc = parse_query_num(&up, p->limit_param, &v);
            if (rc == 1 && v > 0) limit = v;
            rc = parse_query_num(&up, p->offset_param, &v);
            if (rc == 1) first = v == 0;
            else if (rc == -1) first = 0;
        } else {
            int rc = parse_query_num(&up, p->page_param, &v);
            if (rc == 1) first = v == (uint64_t)p->first_page;
            else if (rc == -1) first = 0;
            cur = (uint64_t)p->first_page;
        }
    }

    tctx tc = { &up, NULL, 0, 0, 0, NULL, 0, 1 };
    const cJSON *item;
    cJSON_ArrayForEach(item, items) {
        tc.item = item;
        long n = tpl_expand(&p->item_url, &tc, line, sizeof(line));
        if (n < 0) {
            out->skipped++;
            continue;
        }
        if (parse_urls_add(out, line, (size_t)n) != 0) goto oom;
        out->ndetail++;
    }
    tc.item = NULL;

    if (p->pg == PG_OFFSET && first) {
        tc.limit = limit;
        for (uint64_t o = limit; o < total; o += limit) {
            if (out->nlist >= PARSE_MAX_LIST_PAGES) {
                out->truncated = 1;
                break;
            }
            tc.offset = o;
            long n = tpl_expand(&p->pg_url, &tc, line, sizeof(line));
            if (n < 0) {
                snprintf(err, errlen, "page url too long");
                goto err;
            }
            if (parse_urls_add(out, line, (size_t)n) != 0) goto oom;
            out->nlist++;
        }
    } else if (p->pg == PG_PAGES && first) {
        uint64_t npages = p->total_is_pages ? total : (total + (uint64_t)p->per_page - 1) / (uint64_t)p->per_page;
        for (uint64_t k = 1; k < npages; k++) {
            if (out->nlist >= PARSE_MAX_LIST_PAGES) {
                out->truncated = 1;
                break;
            }
            tc.page = cur + k;
            long n = tpl_expand(&p->pg_url, &tc, line, sizeof(line));
            if (n < 0) {
                snprintf(err, errlen, "page url too long");
                goto err;
            }
            if (parse_urls_add(out, line, (size_t)n) != 0) goto oom;
            out->nlist++;
        }
    } else if (p->pg == PG_NEXT || p->pg == PG_CURSOR) {
        const cJSON *nx = path_get(root, &p->from);
        long n = -1;
        char nb[32];
        if (p->pg == PG_NEXT && cJSON_IsString(nx) && nx->valuestring && *nx->valuestring) {
            if ((n = next_url(&up, nx->valuestring, line, sizeof(line))) < 0) {
                snprintf(err, errlen, "%s is not a usable URL", p->from.text);
                goto err;
            }
        } else if (p->pg == PG_CURSOR && nx && !cJSON_IsNull(nx) && !cJSON_IsFalse(nx)) {
            const char *cs;
            size_t cn;
            if (scalar_text(nx, 0, nb, sizeof(nb), &cs, &cn) != 0) {
                snprintf(err, errlen, "%s is not a string or a whole number", p->from.text);
                goto err;
            }
            tc.cursor = cs;
            tc.cursor_len = cn;
            if ((n = tpl_expand(&p->pg_url, &tc, line, sizeof(line))) < 0) {
                snprintf(err, errlen, "page url too long");
                goto err;
            }
        }
        if (n >= 0 && strcmp(line, url) != 0) { /* a page that names itself ends the walk */
            if (parse_urls_add(out, line, (size_t)n) != 0) goto oom;
            out->nlist++;
        }
    }
    parse_json_release();
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
err:
    parse_json_release();
    parse_urls_reset(out);
    return -1;
}

/* ---------- item pages ---------- */

static const char *arr_key(uint32_t i, char *buf, size_t len) {
    const char *k;
    bson_uint32_to_string(i, &k, buf, len);
    return k;
}

/* Conversions append key: 0 with the value, 1 with null (or an empty list) because
 * v is absent or does not convert, -1 when BSON refuses (too large). */
#define CV(ok) ((ok) ? 0 : -1)

/* A string, trimmed/collapsed and decoded as the field says. */
static int put_text(bson_t *d, const char *key, const char *s, const field *f, int *dropped) {
    size_t n = strlen(s);
    *dropped = 0;
    int html = f->type == FT_HTML;
    int need_dec = (f->entities || html) && memchr(s, '&', n);
    int need_tag = html && memchr(s, '<', n);
    if (!f->collapse && !need_dec && !need_tag) return CV(bson_append_utf8(d, key, -1, s, (int)n));
    char *t = scratch_get(n + 1);
    if (!t) return -1;
    size_t m;
    if (need_tag) m = parse_html_text(s, n, t);
    else if (need_dec) m = parse_html_unescape(s, n, t);
    else {
        memcpy(t, s, n + 1);
        m = n;
    }
    if (f->collapse) {
        m = parse_collapse_ws(t, m, t);
        if (m == 0) {
            *dropped = 1;
            return 0;
        }
    }
    return CV(bson_append_utf8(d, key, -1, t, (int)m));
}

static int cv_string(bson_t *d, const char *key, const cJSON *v, const field *f) {
    if (cJSON_IsString(v) && v->valuestring) {
        int dropped;
        int rc = put_text(d, key, v->valuestring, f, &dropped);
        if (rc != 0 || !dropped) return rc;
        return bson_append_null(d, key, -1) ? 1 : -1; /* collapsed to nothing */
    }
    return bson_append_null(d, key, -1) ? 1 : -1;
}

static int cv_id(bson_t *d, const char *key, const cJSON *v) {
    char buf[40];
    if (cJSON_IsString(v) && v->valuestring)
        return CV(bson_append_utf8(d, key, -1, v->valuestring, (int)strlen(v->valuestring)));
    if (cJSON_IsNumber(v) && parse_json_id(v, buf, sizeof(buf)) == 0)
        return CV(bson_append_utf8(d, key, -1, buf, -1));
    return bson_append_null(d, key, -1) ? 1 : -1;
}

static int cv_strings(bson_t *d, const char *key, const cJSON *v, const field *f) {
    bson_t a;
    uint32_t i = 0;
    int rc = 0, ok = cJSON_IsArray(v) || (cJSON_IsString(v) && v->valuestring);
    char kb[16];
    if (!bson_append_array_begin(d, key, -1, &a)) return -1;
    if (cJSON_IsString(v) && v->valuestring) {
        int dropped;
        rc = put_text(&a, arr_key(i, kb, sizeof(kb)), v->valuestring, f, &dropped);
        i += !dropped;
    } else if (cJSON_IsArray(v)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            if (!cJSON_IsString(e) || !e->valuestring) continue;
            int dropped;
            if ((rc = put_text(&a, arr_key(i, kb, sizeof(kb)), e->valuestring, f, &dropped)) != 0) break;
            i += !dropped;
        }
    }
    if (!bson_append_array_end(d, &a)) rc = -1;
    return rc < 0 ? -1 : ok ? 0
                            : 1;
}

static int cv_integer(bson_t *d, const char *key, const cJSON *v) {
    int64_t x = 0;
    int ok = 0;
    if (cJSON_IsNumber(v)) {
        double f = v->valuedouble;
        if (isfinite(f) && floor(f) == f && f > -9.2e18 && f < 9.2e18) {
            x = (int64_t)f;
            ok = 1;
        }
    } else if (cJSON_IsString(v) && v->valuestring) {
        ok = parse_int_str(v->valuestring, &x) == 0;
    }
    if (!ok) return bson_append_null(d, key, -1) ? 1 : -1;
    if (x >= INT32_MIN && x <= INT32_MAX) return CV(bson_append_int32(d, key, -1, (int32_t)x));
    return CV(bson_append_int64(d, key, -1, x));
}

static int cv_number(bson_t *d, const char *key, const cJSON *v) {
    double x = 0;
    int ok = 0;
    if (cJSON_IsNumber(v)) {
        x = v->valuedouble;
        ok = isfinite(x);
    } else if (cJSON_IsString(v) && v->valuestring) {
        ok = parse_decimal(v->valuestring, &x) == 0;
    }
    if (!ok) return bson_append_null(d, key, -1) ? 1 : -1;
    return CV(bson_append_double(d, key, -1, x));
}

static int cv_boolean(bson_t *d, const char *key, const cJSON *v) {
    int b = -1;
    if (cJSON_IsBool(v)) b = cJSON_IsTrue(v);
    else if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) b = v->valuedouble == 1;
    else if (cJSON_IsString(v) && v->valuestring) {
        static const char *const t[] = { "true", "yes", "1", "on", "y" }, *const f[] = { "false", "no", "0", "off", "n" };
        for (size_t i = 0; i < 5; i++) {
            if (strcasecmp(v->valuestring, t[i]) == 0) b = 1;
            if (strcasecmp(v->valuestring, f[i]) == 0) b = 0;
        }
    }
    if (b < 0) return bson_append_null(d, key, -1) ? 1 : -1;
    return CV(bson_append_bool(d, key, -1, b));
}

static const char *const month_names[12] = { "january", "february", "march", "april", "may", "june", "july",
                                             "august", "september", "october", "november", "december" };

/* Reads 1..max digits. */
static int rd_num(const char **p, int min, int max, int *v) {
    int n = 0, x = 0;
    while (n < max && **p >= '0' && **p <= '9') {
        x = x * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n < min) return -1;
    *v = x;
    return 0;
}

/* Parses s by a strptime-like format (see datefmt_check). Returns 0 with ms, or -1. */
static int parse_by_format(const char *s, const char *fmt, int64_t *ms) {
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y = -1, mo = 1, d = 1, h = 0, mi = 0, sec = 0, off = 0;
    const char *p = s, *f = fmt;
    while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
    for (; *f; f++) {
        if (*f == ' ') {
            if (!(*p == ' ' || (*p >= '\t' && *p <= '\r'))) return -1;
            while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
            continue;
        }
        if (*f != '%') {
            if (*p++ != *f) return -1;
            continue;
        }
        f++;
        int rc = 0, v;
        switch (*f) {
        case 'Y': rc = rd_num(&p, 4, 4, &y); break;
        case 'y':
            rc = rd_num(&p, 2, 2, &v);
            y = v < 69 ? 2000 + v : 1900 + v;
            break;
        case 'm': rc = rd_num(&p, 1, 2, &mo); break;
        case 'd':
        case 'e':
            if (*f == 'e' && *p == ' ') p++;
            rc = rd_num(&p, 1, 2, &d);
            break;
        case 'H': rc = rd_num(&p, 1, 2, &h); break;
        case 'M': rc = rd_num(&p, 1, 2, &mi); break;
        case 'S': rc = rd_num(&p, 1, 2, &sec); break;
        case 'b':
        case 'B': {
            rc = -1;
            for (int k = 0; k < 12; k++) {
                size_t full = strlen(month_names[k]);
                if (*f == 'B' && strncasecmp(p, month_names[k], full) == 0) {
                    mo = k + 1, p += full, rc = 0;
                    break;
                }
                if (*f == 'b' && strncasecmp(p, month_names[k], 3) == 0) {
                    mo = k + 1, p += 3, rc = 0;
                    break;
                }
            }
            break;
        }
        case 'z':
            if (*p == 'Z' || *p == 'z') {
                p++;
            } else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
                if (rd_num(&p, 2, 2, &oh)) return -1;
                if (*p == ':') p++;
                if (*p >= '0' && *p <= '9' && rd_num(&p, 2, 2, &om)) return -1;
                if (oh > 23 || om > 59) return -1;
                off = sign * (oh * 60 + om);
            } else {
                rc = -1;
            }
            break;
        case '%': rc = *p++ == '%' ? 0 : -1; break;
        default: rc = -1;
        }
        if (rc != 0) return -1;
    }
    while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
    if (*p || y < 0) return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60) return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
    int64_t days = parse_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *ms = ((days * 86400 + h * 3600 + mi * 60 + sec) - (int64_t)off * 60) * 1000;
    return 0;
}

static int cv_date(bson_t *d, const char *key, const cJSON *v, const field *f) {
    int64_t ms = 0;
    int ok = 0;
    if (f->datefmt == DF_EPOCH_S || f->datefmt == DF_EPOCH_MS) {
        double x = 0;
        if (cJSON_IsNumber(v)) ok = isfinite(x = v->valuedouble);
        else if (cJSON_IsString(v) && v->valuestring) ok = parse_decimal(v->valuestring, &x) == 0;
        if (f->datefmt == DF_EPOCH_S) x *= 1000;
        ok = ok && fabs(x) < 253402300800000.0; /* within year 9999 */
        ms = (int64_t)x;
    } else if (cJSON_IsString(v) && v->valuestring) {
        ok = (f->datefmt == DF_ISO ? parse_iso8601_ms(v->valuestring, &ms) : parse_by_format(v->valuestring, f->format, &ms)) == 0;
    }
    if (!ok) return bson_append_null(d, key, -1) ? 1 : -1;
    return CV(bson_append_date_time(d, key, -1, ms));
}

/* Any JSON value as BSON, as it is (whole numbers as int32/int64). */
static int json_to_bson(bson_t *d, const char *key, const cJSON *v) {
    if (cJSON_IsString(v)) return CV(bson_append_utf8(d, key, -1, v->valuestring, (int)strlen(v->valuestring)));
    if (cJSON_IsBool(v)) return CV(bson_append_bool(d, key, -1, cJSON_IsTrue(v)));
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (!isfinite(x)) return CV(bson_append_null(d, key, -1));
        if (floor(x) == x && fabs(x) < 9007199254740992.0) {
            if (x >= INT32_MIN && x <= INT32_MAX) return CV(bson_append_int32(d, key, -1, (int32_t)x));
            return CV(bson_append_int64(d, key, -1, (int64_t)x));
        }
        return CV(bson_append_double(d, key, -1, x));
    }
    if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        bson_t c;
        int arr = cJSON_IsArray(v), rc = 0;
        uint32_t i = 0;
        char kb[16];
        if (!(arr ? bson_append_array_begin(d, key, -1, &c) : bson_append_document_begin(d, key, -1, &c))) return -1;
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            const char *k = arr ? arr_key(i++, kb, sizeof(kb)) : e->string;
            if (!k || (rc = json_to_bson(&c, k, e)) != 0) {
                rc = -1;
                break;
            }
        }
        if (!(arr ? bson_append_array_end(d, &c) : bson_append_document_end(d, &c))) rc = -1;
        return rc;
    }
    return CV(bson_append_null(d, key, -1));
}

static int cv_object(bson_t *d, const char *key, const cJSON *v) {
    if (!cJSON_IsObject(v)) return bson_append_null(d, key, -1) ? 1 : -1;
    return json_to_bson(d, key, v);
}

static int put_fields(bson_t *d, const cJSON *src, const field *fs, int n, char *err, size_t errlen);

static int cv_objects(bson_t *d, const char *key, const cJSON *v, const field *f) {
    bson_t a;
    uint32_t i = 0;
    int rc = 0;
    char kb[16], e2[8];
    if (!bson_append_array_begin(d, key, -1, &a)) return -1;
    if (cJSON_IsArray(v)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            if (!cJSON_IsObject(e)) continue;
            bson_t c;
            if (!bson_append_document_begin(&a, arr_key(i++, kb, sizeof(kb)), -1, &c)) {
                rc = -1;
                break;
            }
            /* a required field missing inside drops that object, not the page */
            rc = put_fields(&c, e, f->sub, f->nsub, e2, sizeof(e2));
            if (!bson_append_document_end(&a, &c)) rc = -1;
            if (rc < 0) break;
            rc = 0;
        }
    }
    if (!bson_append_array_end(d, &a)) rc = -1;
    return rc < 0 ? -1 : cJSON_IsArray(v) ? 0
                                          : 1;
}

/* Appends every field of fs read from src. Returns 0, 1 when a required field is
 * missing or does not convert (reason in err), -1 when BSON refuses. */
static int put_fields(bson_t *d, const cJSON *src, const field *fs, int n, char *err, size_t errlen) {
    for (int i = 0; i < n; i++) {
        const field *f = &fs[i];
        const cJSON *v = path_get(src, &f->from);
        int rc;
        switch (f->type) {
        case FT_STRING:
        case FT_HTML: rc = cv_string(d, f->name, v, f); break;
        case FT_ID: rc = cv_id(d, f->name, v); break;
        case FT_INTEGER: rc = cv_integer(d, f->name, v); break;
        case FT_NUMBER: rc = cv_number(d, f->name, v); break;
        case FT_BOOLEAN: rc = cv_boolean(d, f->name, v); break;
        case FT_DATE: rc = cv_date(d, f->name, v, f); break;
        case FT_STRINGS: rc = cv_strings(d, f->name, v, f); break;
        case FT_OBJECT: rc = cv_object(d, f->name, v); break;
        case FT_OBJECTS: rc = cv_objects(d, f->name, v, f); break;
        default: rc = -1;
        }
        if (rc < 0) return -1;
        if (rc == 1 && f->required) {
            if (!v || cJSON_IsNull(v))
                snprintf(err, errlen, "required field %s missing (%s)", f->name, f->from.text);
            else if (f->type == FT_DATE && f->datefmt == DF_FORMAT)
                snprintf(err, errlen, "required field %s: not a date in format %s", f->name, f->format);
            else
                snprintf(err, errlen, "required field %s: not %s %s", f->name,
                         f->type == FT_INTEGER || f->type == FT_ID || f->type == FT_OBJECT ? "an" : "a",
                         ft_names[f->type]);
            return 1;
        }
    }
    return 0;
}

int spec_item(const spec_t *s, const spec_match *m, const char *url, const char *body, size_t len,
              int64_t fetched_at_ms, bson_t *out, char *err, size_t errlen) {
    cJSON *root = NULL;
    char idbuf[SPEC_ID_MAX + 8];
    const char *id = NULL;
    size_t idlen = 0;
    parse_url_parts up;

    bson_reinit(out);
    if (!s || !m || m->page < 0 || m->page >= s->npages || s->pages[m->page].kind != PARSE_KIND_DETAIL ||
        parse_url_split(url, &up) != 0) {
        snprintf(err, errlen, "not a detail url");
        return -1;
    }
    const page *p = &s->pages[m->page];
    if (!zc_utf8_valid(url, strlen(url))) {
        snprintf(err, errlen, "invalid utf-8 in url");
        return -1;
    }
    if (!(root = parse_json(body, len, err, errlen))) goto err;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "not an object");
        goto err;
    }
    const cJSON *src = root;
    if (p->root.n) {
        src = path_get(root, &p->root);
        if (!src) {
            snprintf(err, errlen, "%s missing", p->root.text);
            goto err;
        }
        if (!cJSON_IsObject(src)) {
            snprintf(err, errlen, "%s is not an object", p->root.text);
            goto err;
        }
    }
    if (p->id_kind == ID_FIELD) {
        const cJSON *jid = path_get(src, &p->id_from);
        if (!jid || cJSON_IsNull(jid)) {
            snprintf(err, errlen, "no id");
            goto err;
        }
        if (scalar_text(jid, p->id_digits, idbuf, sizeof(idbuf), &id, &idlen) != 0 ||
            (p->id_digits && idlen > PARSE_ID_MAX)) {
            snprintf(err, errlen, p->id_digits ? "bad id (not a string of digits)" : "bad id (not a string or a whole number)");
            goto err;
        }
    } else {
        tctx tc = { &up, src, 0, 0, 0, NULL, 0, 0 };
        long n = tpl_expand(&p->id_tpl, &tc, idbuf, sizeof(idbuf));
        if (n < 0) {
            snprintf(err, errlen, "bad id (a field of the id template is missing or not a string or a whole number)");
            goto err;
        }
        id = idbuf;
        idlen = (size_t)n;
    }
    if (!zc_utf8_valid(id, idlen)) {
        snprintf(err, errlen, "bad id (not UTF-8)");
        goto err;
    }
    for (size_t i = 0; i < idlen; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f) {
            snprintf(err, errlen, "bad id (holds control characters)");
            goto err;
        }
    if (p->id_same_as) {
        for (int i = 0; i < m->ncap; i++) {
            if (strcmp(m->cap[i].name, p->id_same_as) != 0) continue;
            if (m->cap[i].n != idlen || memcmp(m->cap[i].s, id, idlen) != 0) {
                snprintf(err, errlen, "id mismatch (url %.*s, body %.*s)", (int)(m->cap[i].n > 64 ? 64 : m->cap[i].n),
                         m->cap[i].s, (int)(idlen > 64 ? 64 : idlen), id);
                goto err;
            }
        }
    }
    if (!bson_append_utf8(out, "_id", -1, id, (int)idlen)) goto big;
    int rc = put_fields(out, src, p->fields, p->nfields, err, errlen);
    if (rc < 0) goto big;
    if (rc > 0) goto err;
    if ((p->source_url_key && !bson_append_utf8(out, p->source_url_key, -1, url, -1)) ||
        (p->fetched_at_key && !bson_append_date_time(out, p->fetched_at_key, -1, fetched_at_ms)))
        goto big;
    parse_json_release();
    return 0;
big:
    snprintf(err, errlen, "document too large or out of memory");
err:
    parse_json_release();
    bson_reinit(out);
    return -1;
}

/* ---------- the book API through the built-in spec (parse_book.h) ---------- */

int parse_page_kind(const char *url) {
    spec_match m;
    return spec_classify(spec_default(), url, &m);
}

int parse_url_book_id(const char *url, char *id, size_t idlen) {
    spec_match m;
    if (spec_classify(spec_default(), url, &m) != PARSE_KIND_DETAIL) return -1;
    for (int i = 0; i < m.ncap; i++) {
        if (strcmp(m.cap[i].name, "id") != 0) continue;
        if (m.cap[i].n + 1 > idlen || m.cap[i].n > PARSE_ID_MAX) return -1;
        memcpy(id, m.cap[i].s, m.cap[i].n);
        id[m.cap[i].n] = '\0';
        return 0;
    }
    return -1;
}

int parse_list(const char *url, const char *body, size_t len, parse_urls *out, char *err, size_t errlen) {
    spec_match m;
    const spec_t *s = spec_default();
    if (!s) {
        parse_urls_reset(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (spec_classify(s, url, &m) != PARSE_KIND_LIST) {
        parse_urls_reset(out);
        snprintf(err, errlen, "not a list url");
        return -1;
    }
    return spec_list(s, &m, url, body, len, out, err, errlen);
}

int parse_detail(const char *url, const char *body, size_t len, int64_t fetched_at_ms, bson_t *out,
                 char *err, size_t errlen) {
    spec_match m;
    const spec_t *s = spec_default();
    bson_reinit(out);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (spec_classify(s, url, &m) != PARSE_KIND_DETAIL) {
        snprintf(err, errlen, "not a detail url");
        return -1;
    }
    return spec_item(s, &m, url, body, len, fetched_at_ms, out, err, errlen);
}
