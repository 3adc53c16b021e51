/* spec_tpl.c -- the spec's small languages: paths into JSON, templates of URLs and ids, URL patterns. */
#include "spec_tpl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_json.h"
#include "zc_url.h"

/* ---------- paths ---------- */

void spec_path_free(spec_path *p) {
    for (int i = 0; i < p->n; i++) free(p->seg[i]);
    free(p->text);
    memset(p, 0, sizeof(*p));
}

int spec_path_compile(spec_loader *L, const char *jp, const char *s, spec_path *p) {
    memset(p, 0, sizeof(*p));
    if (!(p->text = spec_ld_strdup(L, s))) return -1;
    if (!*s) return 0;
    const char *q = s;
    for (;;) {
        size_t n = strcspn(q, ".");
        if (n == 0) return spec_ld_fail(L, jp, "bad path '%.80s': empty segment", s);
        if (p->n == SPEC_MAX_PATH) return spec_ld_fail(L, jp, "bad path '%.80s': more than %d segments", s, SPEC_MAX_PATH);
        char *seg = strndup(q, n);
        if (!seg) return spec_ld_fail(L, jp, "out of memory");
        p->seg[p->n] = seg;
        p->idx[p->n] = -1;
        if (n <= 6 && strspn(seg, "0123456789") == n) p->idx[p->n] = atoi(seg);
        p->n++;
        if (!q[n]) break;
        q += n + 1;
    }
    return 0;
}

int spec_path_member(spec_loader *L, const char *jp, const cJSON *o, const char *key, int required, spec_path *p) {
    const char *s;
    char sub[SPEC_JP_MAX];
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.%s", jp, key) != 0) return -1;
    if (spec_ld_str(L, jp, o, key, &s) != 0) return -1;
    if (!s) {
        memset(p, 0, sizeof(*p));
        return required ? spec_ld_fail(L, sub, "missing (a path such as \"data.items\")") : 0;
    }
    return spec_path_compile(L, sub, s, p);
}

/* ---------- templates ---------- */

void spec_tpl_free(spec_tpl *t) {
    for (int i = 0; i < t->n; i++) {
        free(t->p[i].lit);
        spec_path_free(&t->p[i].path);
    }
    free(t->p);
    free(t->text);
    memset(t, 0, sizeof(*t));
}

static int tpl_push(spec_loader *L, const char *jp, spec_tpl *t, spec_tpart *part) {
    spec_tpart *np = realloc(t->p, (size_t)(t->n + 1) * sizeof(*np));
    if (!np) return spec_ld_fail(L, jp, "out of memory");
    t->p = np;
    t->p[t->n++] = *part;
    return 0;
}

int spec_tpl_compile(spec_loader *L, const char *jp, const char *s, int ctx, spec_tpl *t) {
    memset(t, 0, sizeof(*t));
    if (!*s) return spec_ld_fail(L, jp, "empty template");
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return spec_ld_fail(L, jp, "template '%.80s' holds a space or a control character", s);
    if (!(t->text = spec_ld_strdup(L, s))) return -1;
    t->slot = L->ntpl++;
    const char *q = s;
    while (*q) {
        spec_tpart part;
        memset(&part, 0, sizeof(part));
        if (*q != '{') {
            size_t n = strcspn(q, "{}");
            if (n == 0) return spec_ld_fail(L, jp, "unbalanced '}' in template '%.80s'", s);
            part.kind = SPEC_TP_LIT;
            if (!(part.lit = strndup(q, n))) return spec_ld_fail(L, jp, "out of memory");
            part.litlen = n;
            if (tpl_push(L, jp, t, &part) != 0) return free(part.lit), -1;
            q += n;
            continue;
        }
        const char *e = strchr(q, '}');
        if (!e) return spec_ld_fail(L, jp, "unclosed '{' in template '%.80s'", s);
        char name[128];
        size_t n = (size_t)(e - q - 1);
        if (n == 0 || n >= sizeof(name)) return spec_ld_fail(L, jp, "bad placeholder in template '%.80s'", s);
        memcpy(name, q + 1, n);
        name[n] = '\0';
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = '\0';
            if (strcmp(colon + 1, "digits") != 0)
                return spec_ld_fail(L, jp, "placeholder {%s:%.20s}: the only check is ':digits'", name, colon + 1);
            part.digits = 1;
        }
        int kind = -1;
        if (strcmp(name, "origin") == 0) kind = SPEC_TP_ORIGIN;
        else if (ctx == SPEC_TPC_PAGE_URL) {
            if (strcmp(name, "limit") == 0) kind = SPEC_TP_LIMIT;
            else if (strcmp(name, "offset") == 0) kind = SPEC_TP_OFFSET;
            else if (strcmp(name, "page") == 0) kind = SPEC_TP_PAGE;
            else if (strcmp(name, "cursor") == 0) kind = SPEC_TP_CURSOR;
            else return spec_ld_fail(L, jp, "unknown placeholder {%s} (a page URL knows origin, limit, offset, page, cursor)", name);
        } else {
            kind = SPEC_TP_FIELD;
            if (ctx == SPEC_TPC_ID && strcmp(name, "origin") == 0) kind = SPEC_TP_ORIGIN;
        }
        part.kind = kind;
        if (kind == SPEC_TP_FIELD) {
            int self = strcmp(name, ".") == 0; /* the item itself: no segments */
            if (spec_path_compile(L, jp, self ? "" : name, &part.path) != 0) return spec_path_free(&part.path), -1;
            if (self) {
                free(part.path.text);
                if (!(part.path.text = spec_ld_strdup(L, "."))) return -1;
            }
            part.slot = L->npart++;
        }
        if (tpl_push(L, jp, t, &part) != 0) return spec_path_free(&part.path), -1;
        q = e + 1;
    }
    return 0;
}

int spec_tpl_uses(const spec_tpl *t, int kind) {
    for (int i = 0; i < t->n; i++)
        if (t->p[i].kind == kind) return 1;
    return 0;
}

/* ---------- URL patterns ---------- */

void spec_pattern_free(spec_pattern *p) {
    for (int i = 0; i < p->n; i++) free(p->p[i].s);
    free(p->p);
    memset(p, 0, sizeof(*p));
}

int spec_pattern_compile(spec_loader *L, const char *jp, const char *s, spec_pattern *pt) {
    memset(pt, 0, sizeof(*pt));
    if (s[0] != '/') return spec_ld_fail(L, jp, "pattern '%.80s' must start with '/' (it matches the URL's path)", s);
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return spec_ld_fail(L, jp, "pattern '%.80s' holds a space or a control character", s);
    size_t len = strlen(s);
    if (len >= 2 && strcmp(s + len - 2, "?*") == 0) {
        pt->need_query = 1;
        len -= 2;
    }
    size_t i = 0;
    while (i < len) {
        spec_ppart part;
        memset(&part, 0, sizeof(part));
        if (s[i] == '{') {
            const char *e = memchr(s + i, '}', len - i);
            if (!e) return spec_ld_fail(L, jp, "unclosed '{' in pattern '%.80s'", s);
            size_t n = (size_t)(e - (s + i) - 1);
            char *name = strndup(s + i + 1, n);
            if (!name) return spec_ld_fail(L, jp, "out of memory");
            char *colon = strchr(name, ':');
            if (colon) {
                *colon = '\0';
                if (strcmp(colon + 1, "digits") != 0) {
                    spec_ld_fail(L, jp, "capture {%s:%.20s}: the only check is ':digits'", name, colon + 1);
                    free(name);
                    return -1;
                }
                part.digits = 1;
            }
            if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(name)) {
                spec_ld_fail(L, jp, "capture name '%.40s' in pattern '%.80s' must be letters, digits or _", name, s);
                free(name);
                return -1;
            }
            if (pt->n > 0 && pt->p[pt->n - 1].kind == SPEC_PP_CAP) {
                free(name);
                return spec_ld_fail(L, jp, "two captures in a row in pattern '%.80s'", s);
            }
            part.kind = SPEC_PP_CAP;
            part.s = name;
            i = (size_t)(e - s) + 1;
        } else {
            size_t n = strcspn(s + i, "{}?#");
            if (i + n > len) n = len - i;
            if (n == 0)
                return spec_ld_fail(L, jp, "unexpected '%c' in pattern '%.80s' ('?' only as a final '?*')", s[i], s);
            part.kind = SPEC_PP_LIT;
            if (!(part.s = strndup(s + i, n))) return spec_ld_fail(L, jp, "out of memory");
            part.n = n;
            i += n;
        }
        spec_ppart *np = realloc(pt->p, (size_t)(pt->n + 1) * sizeof(*np));
        if (!np) {
            free(part.s);
            return spec_ld_fail(L, jp, "out of memory");
        }
        pt->p = np;
        pt->p[pt->n++] = part;
    }
    int ncap = 0;
    for (int k = 0; k < pt->n; k++) ncap += pt->p[k].kind == SPEC_PP_CAP;
    if (ncap > SPEC_MAX_CAPTURES) return spec_ld_fail(L, jp, "more than %d captures", SPEC_MAX_CAPTURES);
    return 0;
}

int spec_pattern_match(const spec_pattern *pt, const parse_url_parts *u, spec_match *m) {
    if (pt->need_query && u->query_len == 0) return 0;
    const char *s = u->path;
    size_t n = u->path_len, i = 0;
    m->ncap = 0;
    for (int k = 0; k < pt->n; k++) {
        const spec_ppart *p = &pt->p[k];
        if (p->kind == SPEC_PP_LIT) {
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

/* ---------- expanding templates ---------- */

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

int spec_scalar_text(const cJSON *v, int digits, char *buf, size_t cap, const char **s, size_t *n) {
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

long spec_tpl_expand(const spec_tpl *t, const spec_tctx *c, char *out, size_t cap, int *bad) {
    size_t o = 0;
    char buf[PARSE_ID_MAX + 32];
    for (int i = 0; i < t->n; i++) {
        const spec_tpart *p = &t->p[i];
        int rc = 0;
        switch (p->kind) {
        case SPEC_TP_LIT: rc = out_add(out, cap, &o, p->lit, p->litlen); break;
        case SPEC_TP_ORIGIN: rc = c->u ? out_add(out, cap, &o, c->u->origin, c->u->origin_len) : -1; break;
        case SPEC_TP_LIMIT: rc = out_u64(out, cap, &o, c->limit); break;
        case SPEC_TP_OFFSET: rc = out_u64(out, cap, &o, c->offset); break;
        case SPEC_TP_PAGE: rc = out_u64(out, cap, &o, c->page); break;
        case SPEC_TP_CURSOR: rc = out_add_enc(out, cap, &o, c->cursor, c->cursor_len, 1); break;
        case SPEC_TP_FIELD: {
            const char *s;
            size_t n;
            const cJSON *v = c->item ? spec_path_get(c->item, &p->path) : NULL;
            if (!v || spec_scalar_text(v, p->digits, buf, sizeof(buf), &s, &n) != 0) {
                if (bad) *bad = i;
                return -1;
            }
            rc = out_add_enc(out, cap, &o, s, n, c->encode);
            break;
        }
        default: rc = -1;
        }
        if (rc != 0) {
            if (bad) *bad = -1;
            return -1;
        }
    }
    out[o] = '\0';
    return (long)o;
}

int spec_tpl_add(const spec_tpl *t, const spec_tctx *tc, const spec_ctx *cx, parse_urls *out) {
    char line[ZC_URL_MAX + 1];
    int bad = -1;
    long n = spec_tpl_expand(t, tc, line, sizeof(line), &bad);
    if (cx->counts) cx->counts->tried[t->slot]++;
    if (n >= 0) {
        if (parse_urls_add(out, line, (size_t)n) != 0) return -1;
        out->ndetail++;
        return 0;
    }
    if (!out->skipped++) out->skipped_at = bad >= 0 ? t->p[bad].path.text : "(too long)";
    if (cx->counts) {
        cx->counts->skipped[t->slot]++;
        if (bad >= 0) cx->counts->part_skipped[t->p[bad].slot]++;
    }
    if (cx->trace && cx->trace->skip) cx->trace->skip(cx->trace->arg, t, bad, tc->item);
    return 0;
}
