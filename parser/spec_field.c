/* spec_field.c -- the fields of a document: their spec and the conversions from JSON to BSON. */
#include "spec_field.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse_json.h"
#include "parse_text.h"
#include "parse_time.h"

static const char *const ft_names[SPEC_FT_COUNT] = {
    "string", "id", "integer", "number", "boolean", "date", "html", "strings", "object", "objects"
};

const char *spec_field_type_name(int type) {
    return type >= 0 && type < SPEC_FT_COUNT ? ft_names[type] : "?";
}

/* ---------- loading ---------- */

void spec_fields_free(spec_field *f, int n) {
    for (int i = 0; i < n; i++) {
        free(f[i].name);
        spec_path_free(&f[i].from);
        for (int k = 0; k < f[i].ndf; k++) free(f[i].df[k].fmt);
        spec_fields_free(f[i].sub, f[i].nsub);
    }
    free(f);
}

/* One date format: iso, epoch_s, epoch_ms or strptime-like. */
static int datefmt_compile(spec_loader *L, const char *jp, const cJSON *v, spec_datefmt *df) {
    char why[200];
    if (!cJSON_IsString(v) || !v->valuestring || !*v->valuestring)
        return spec_ld_fail(L, jp, "a date format is a string: iso, epoch_s, epoch_ms or one such as \"%%d.%%m.%%Y\"");
    const char *s = v->valuestring;
    if (strcmp(s, "iso") == 0) df->kind = SPEC_DF_ISO;
    else if (strcmp(s, "epoch_s") == 0) df->kind = SPEC_DF_EPOCH_S;
    else if (strcmp(s, "epoch_ms") == 0) df->kind = SPEC_DF_EPOCH_MS;
    else if (parse_date_format_check(s, why, sizeof(why)) != 0) return spec_ld_fail(L, jp, "%s", why);
    else df->kind = SPEC_DF_FORMAT;
    return (df->fmt = spec_ld_strdup(L, s)) ? 0 : -1;
}

/* "format": one format, or a list of 1 to SPEC_MAX_DATEFMTS tried in order; absent: iso. */
static int datefmts_compile(spec_loader *L, const char *jp, const cJSON *o, spec_field *f) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "format");
    char sub[SPEC_JP_MAX + 16];
    if (v && f->type != SPEC_FT_DATE) return spec_ld_fail(L, jp, "only a date has a format");
    if (f->type != SPEC_FT_DATE) return 0;
    if (!v) {
        f->ndf = 1;
        f->df[0].kind = SPEC_DF_ISO;
        return (f->df[0].fmt = spec_ld_strdup(L, "iso")) ? 0 : -1;
    }
    if (!cJSON_IsArray(v)) {
        f->ndf = 1;
        return datefmt_compile(L, jp, v, &f->df[0]);
    }
    int n = cJSON_GetArraySize(v), i = 0;
    if (n < 1 || n > SPEC_MAX_DATEFMTS) return spec_ld_fail(L, jp, "a list of 1 to %d formats", SPEC_MAX_DATEFMTS);
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        snprintf(sub, sizeof(sub), "%s[%d]", jp, i);
        f->ndf = i + 1;
        if (datefmt_compile(L, sub, e, &f->df[i]) != 0) return -1;
        i++;
    }
    return 0;
}

/* "type", and the options that go with it: collapse, entities. */
static int type_compile(spec_loader *L, const char *jp, const char *type, spec_field *f) {
    char sub[SPEC_JP_MAX];
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.type", jp) != 0) return -1;
    if (!type) return spec_ld_fail(L, sub, "missing (string, id, integer, number, boolean, date, html, strings, object or objects)");
    f->type = -1;
    for (int i = 0; i < SPEC_FT_COUNT; i++)
        if (strcmp(type, ft_names[i]) == 0) f->type = i;
    if (f->type < 0)
        return spec_ld_fail(L, sub, "unknown type '%.40s' (string, id, integer, number, boolean, date, html, strings, object or objects)", type);
    int text = f->type == SPEC_FT_STRING || f->type == SPEC_FT_STRINGS;
    if (f->collapse && !text && f->type != SPEC_FT_HTML)
        return spec_ld_fail(L, jp, "collapse applies to string, strings and html only");
    if (f->entities && !text) return spec_ld_fail(L, jp, "entities applies to string and strings only (html always decodes them)");
    return 0;
}

static int field_compile(spec_loader *L, const char *jp, const cJSON *o, spec_field *f, int depth) {
    static const char *const keys[] = { "name", "from", "type", "required", "collapse", "entities",
                                        "format", "fields", NULL };
    const char *name, *from, *type;
    char sub[SPEC_JP_MAX];
    if (!cJSON_IsObject(o)) return spec_ld_fail(L, jp, "a field must be an object such as {\"name\": \"title\", \"type\": \"string\"}");
    if (spec_ld_keys(L, jp, o, keys) != 0) return -1;
    if (spec_ld_str(L, jp, o, "name", &name) || spec_ld_str(L, jp, o, "from", &from) ||
        spec_ld_str(L, jp, o, "type", &type) || spec_ld_bool(L, jp, o, "required", &f->required) ||
        spec_ld_bool(L, jp, o, "collapse", &f->collapse) || spec_ld_bool(L, jp, o, "entities", &f->entities))
        return -1;
    f->slot = L->nfield++;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.name", jp) != 0) return -1;
    if (!name || !*name) return spec_ld_fail(L, sub, "missing (the key in the document)");
    if (name[0] == '$' || strchr(name, '.') || strcmp(name, "_id") == 0)
        return spec_ld_fail(L, sub, "'%.60s' cannot be a document key (no '$' first, no '.', not _id)", name);
    if (!(f->name = spec_ld_strdup(L, name))) return -1;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.from", jp) != 0) return -1;
    if (spec_path_compile(L, sub, from ? from : name, &f->from) != 0) return -1;
    if (type_compile(L, jp, type, f) != 0) return -1;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.format", jp) != 0) return -1;
    if (datefmts_compile(L, sub, o, f) != 0) return -1;
    const cJSON *subf = cJSON_GetObjectItemCaseSensitive(o, "fields");
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.fields", jp) != 0) return -1;
    if (f->type == SPEC_FT_OBJECTS) {
        if (depth >= 4) return spec_ld_fail(L, sub, "objects nested more than 4 deep");
        if (!subf) return spec_ld_fail(L, sub, "missing (objects need the fields of each object)");
        return spec_fields_compile(L, sub, subf, &f->sub, &f->nsub, depth + 1);
    }
    if (subf) return spec_ld_fail(L, sub, "only objects has fields");
    return 0;
}

int spec_fields_compile(spec_loader *L, const char *jp, const cJSON *arr, spec_field **out, int *nout, int depth) {
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
        return spec_ld_fail(L, jp, "must be a non-empty array of fields");
    int n = cJSON_GetArraySize(arr);
    if (n > SPEC_MAX_FIELDS) return spec_ld_fail(L, jp, "more than %d fields", SPEC_MAX_FIELDS);
    spec_field *f = calloc((size_t)n, sizeof(*f));
    if (!f) return spec_ld_fail(L, jp, "out of memory");
    *out = f;
    *nout = n;
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        char sub[SPEC_JP_MAX];
        if (spec_ld_jp(L, sub, sizeof(sub), "%s[%d]", jp, i) != 0) return -1;
        if (field_compile(L, sub, e, &f[i], depth) != 0) return -1;
        for (int k = 0; k < i; k++)
            if (strcmp(f[k].name, f[i].name) == 0) {
                if (spec_ld_jp(L, sub, sizeof(sub), "%s[%d].name", jp, i) != 0) return -1;
                return spec_ld_fail(L, sub, "'%.60s' is already the name of %s[%d]", f[i].name, jp, k);
            }
        i++;
    }
    return 0;
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

void spec_field_scratch_free(void) {
    free(scratch);
    scratch = NULL;
    scratch_cap = 0;
}

/* ---------- conversions ---------- */

static const char *arr_key(uint32_t i, char *buf, size_t len) {
    const char *k;
    bson_uint32_to_string(i, &k, buf, len);
    return k;
}

/* Conversions append key and return 0 with the value; a SPEC_WHY_* (> 0) with null
 * (or an empty list) when v does not convert; -1 when BSON refuses (too large). */
#define CV(ok) ((ok) ? 0 : -1)

static int null_for(bson_t *d, const char *key, int why) {
    return bson_append_null(d, key, -1) ? why : -1;
}

/* A string, trimmed, collapsed and decoded as the field says; *dropped when it
 * collapsed to nothing (nothing appended). html is always trimmed. */
static int put_text(bson_t *d, const char *key, const char *s, const spec_field *f, int *dropped) {
    size_t n = strlen(s), b = 0, e = n;
    *dropped = 0;
    int html = f->type == SPEC_FT_HTML;
    int need_dec = (f->entities || html) && memchr(s, '&', n);
    int need_tag = html && memchr(s, '<', n);
    if (html) parse_trim_ws(s, n, &b, &e);
    if (!f->collapse && !need_dec && !need_tag && b == 0 && e == n) return CV(bson_append_utf8(d, key, -1, s, (int)n));
    char *t = scratch_get(n + 1);
    if (!t) return -1;
    size_t m;
    if (need_tag) m = parse_html_text(s, n, t);
    else if (need_dec) m = parse_html_unescape(s, n, t);
    else {
        memcpy(t, s, n + 1);
        m = n;
    }
    if (html) { /* tags and references may have left whitespace at the ends */
        parse_trim_ws(t, m, &b, &e);
        memmove(t, t + b, e - b);
        m = e - b;
        t[m] = '\0';
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

static int cv_string(bson_t *d, const char *key, const cJSON *v, const spec_field *f) {
    if (!cJSON_IsString(v) || !v->valuestring) return null_for(d, key, SPEC_WHY_TYPE);
    int dropped;
    int rc = put_text(d, key, v->valuestring, f, &dropped);
    if (rc != 0 || !dropped) return rc;
    return null_for(d, key, SPEC_WHY_EMPTY);
}

static int cv_id(bson_t *d, const char *key, const cJSON *v) {
    char buf[40];
    if (cJSON_IsString(v) && v->valuestring)
        return CV(bson_append_utf8(d, key, -1, v->valuestring, (int)strlen(v->valuestring)));
    if (cJSON_IsNumber(v) && parse_json_id(v, buf, sizeof(buf)) == 0)
        return CV(bson_append_utf8(d, key, -1, buf, -1));
    return null_for(d, key, SPEC_WHY_TYPE);
}

static int cv_strings(bson_t *d, const char *key, const cJSON *v, const spec_field *f) {
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
                            : SPEC_WHY_TYPE;
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
    if (!ok) return null_for(d, key, SPEC_WHY_TYPE);
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
    if (!ok) return null_for(d, key, SPEC_WHY_TYPE);
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
    if (b < 0) return null_for(d, key, SPEC_WHY_TYPE);
    return CV(bson_append_bool(d, key, -1, b));
}

/* v by one date format: 0 with *ms, or a SPEC_WHY_* */
static int date_by(const cJSON *v, const spec_datefmt *df, int64_t *ms) {
    if (df->kind == SPEC_DF_EPOCH_S || df->kind == SPEC_DF_EPOCH_MS) {
        double x = 0;
        int ok = 0;
        if (cJSON_IsNumber(v)) ok = isfinite(x = v->valuedouble);
        else if (cJSON_IsString(v) && v->valuestring) ok = parse_decimal(v->valuestring, &x) == 0;
        else return SPEC_WHY_TYPE;
        if (df->kind == SPEC_DF_EPOCH_S) x *= 1000;
        if (!ok || fabs(x) >= 253402300800000.0) return SPEC_WHY_DATE; /* within year 9999 */
        *ms = (int64_t)x;
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring) return SPEC_WHY_TYPE;
    if (df->kind == SPEC_DF_ISO) return parse_iso8601_ms(v->valuestring, ms) == 0 ? 0 : SPEC_WHY_DATE;
    int rc = parse_date_format(v->valuestring, df->fmt, ms);
    return rc == 0 ? 0 : (rc == PARSE_DATE_SWAPPED ? SPEC_WHY_SWAPPED : SPEC_WHY_DATE);
}

/* The first of the field's formats that fits; SPEC_WHY_SWAPPED when none does and
 * one saw a month over 12 where a day fits, SPEC_WHY_TYPE when v is of no type any
 * format reads. */
static int cv_date(bson_t *d, const char *key, const cJSON *v, const spec_field *f) {
    int64_t ms = 0;
    int why = SPEC_WHY_TYPE;
    for (int i = 0; i < f->ndf; i++) {
        int rc = date_by(v, &f->df[i], &ms);
        if (rc == 0) return CV(bson_append_date_time(d, key, -1, ms));
        if (rc == SPEC_WHY_SWAPPED || (rc == SPEC_WHY_DATE && why == SPEC_WHY_TYPE)) why = rc;
    }
    return null_for(d, key, why);
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
    if (!cJSON_IsObject(v)) return null_for(d, key, SPEC_WHY_TYPE);
    return json_to_bson(d, key, v);
}

static int cv_objects(bson_t *d, const char *key, const cJSON *v, const spec_field *f, const spec_ctx *cx) {
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
            rc = spec_fields_put(&c, e, f->sub, f->nsub, cx, e2, sizeof(e2));
            if (!bson_append_document_end(&a, &c)) rc = -1;
            if (rc < 0) break;
            rc = 0;
        }
    }
    if (!bson_append_array_end(d, &a)) rc = -1;
    return rc < 0 ? -1 : cJSON_IsArray(v) ? 0
                                          : SPEC_WHY_TYPE;
}

/* One field of src appended to d. Returns 0 or a SPEC_WHY_* as the conversions do. */
static int field_put(bson_t *d, const spec_field *f, const cJSON *v, const spec_ctx *cx) {
    switch (f->type) {
    case SPEC_FT_STRING:
    case SPEC_FT_HTML: return cv_string(d, f->name, v, f);
    case SPEC_FT_ID: return cv_id(d, f->name, v);
    case SPEC_FT_INTEGER: return cv_integer(d, f->name, v);
    case SPEC_FT_NUMBER: return cv_number(d, f->name, v);
    case SPEC_FT_BOOLEAN: return cv_boolean(d, f->name, v);
    case SPEC_FT_DATE: return cv_date(d, f->name, v, f);
    case SPEC_FT_STRINGS: return cv_strings(d, f->name, v, f);
    case SPEC_FT_OBJECT: return cv_object(d, f->name, v);
    case SPEC_FT_OBJECTS: return cv_objects(d, f->name, v, f, cx);
    default: return -1;
    }
}

/* The one-line reason a required field f that came out null for why fails its page. */
static void required_reason(const spec_field *f, int why, char *err, size_t errlen) {
    if (why == SPEC_WHY_MISSING || why == SPEC_WHY_NULL)
        snprintf(err, errlen, "required field %s missing (%s)", f->name, f->from.text);
    else if (f->type == SPEC_FT_DATE && f->ndf > 1)
        snprintf(err, errlen, "required field %s: not a date in any of its %d formats%s", f->name, f->ndf,
                 why == SPEC_WHY_SWAPPED ? " (a month over 12: day first?)" : "");
    else if (f->type == SPEC_FT_DATE && f->df[0].kind == SPEC_DF_FORMAT)
        snprintf(err, errlen, "required field %s: not a date in format %s%s", f->name, f->df[0].fmt,
                 why == SPEC_WHY_SWAPPED ? " (a month over 12: day first?)" : "");
    else
        snprintf(err, errlen, "required field %s: not %s %s", f->name,
                 f->type == SPEC_FT_INTEGER || f->type == SPEC_FT_ID || f->type == SPEC_FT_OBJECT ? "an" : "a",
                 ft_names[f->type]);
}

int spec_fields_put(bson_t *d, const cJSON *src, const spec_field *fs, int n, const spec_ctx *cx, char *err,
                    size_t errlen) {
    for (int i = 0; i < n; i++) {
        const spec_field *f = &fs[i];
        const cJSON *v = spec_path_get(src, &f->from);
        int why = field_put(d, f, v, cx);
        if (why < 0) return -1;
        if (why > 0) why = !v ? SPEC_WHY_MISSING : (cJSON_IsNull(v) ? SPEC_WHY_NULL : why);
        if (cx->counts) {
            cx->counts->seen[f->slot]++;
            if (why) cx->counts->null[f->slot]++;
            if (why == SPEC_WHY_SWAPPED) cx->counts->swapped[f->slot]++;
        }
        if (cx->trace && cx->trace->field) cx->trace->field(cx->trace->arg, f, v, why, d);
        if (why && f->required) {
            required_reason(f, why, err, errlen);
            return 1;
        }
    }
    return 0;
}
