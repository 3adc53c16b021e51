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

void spec_fields_free(spec_field *f, int n) {
    for (int i = 0; i < n; i++) {
        free(f[i].name);
        spec_path_free(&f[i].from);
        free(f[i].format);
        spec_fields_free(f[i].sub, f[i].nsub);
    }
    free(f);
}

/* A strptime-like format, checked by parse_date_format_check. */
static int datefmt_check(spec_loader *L, const char *jp, const char *f) {
    char why[200];
    if (parse_date_format_check(f, why, sizeof(why)) == 0) return 0;
    return spec_ld_fail(L, jp, "%s", why);
}

static int field_compile(spec_loader *L, const char *jp, const cJSON *o, spec_field *f, int depth) {
    static const char *const keys[] = { "name", "from", "type", "required", "collapse", "entities",
                                        "format", "fields", NULL };
    const char *name, *from, *type, *format;
    char sub[SPEC_JP_MAX];
    if (!cJSON_IsObject(o)) return spec_ld_fail(L, jp, "a field must be an object such as {\"name\": \"title\", \"type\": \"string\"}");
    if (spec_ld_keys(L, jp, o, keys) != 0) return -1;
    if (spec_ld_str(L, jp, o, "name", &name) || spec_ld_str(L, jp, o, "from", &from) ||
        spec_ld_str(L, jp, o, "type", &type) || spec_ld_str(L, jp, o, "format", &format) ||
        spec_ld_bool(L, jp, o, "required", &f->required) || spec_ld_bool(L, jp, o, "collapse", &f->collapse) ||
        spec_ld_bool(L, jp, o, "entities", &f->entities))
        return -1;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.name", jp) != 0) return -1;
    if (!name || !*name) return spec_ld_fail(L, sub, "missing (the key in the document)");
    if (name[0] == '$' || strchr(name, '.') || strcmp(name, "_id") == 0)
        return spec_ld_fail(L, sub, "'%.60s' cannot be a document key (no '$' first, no '.', not _id)", name);
    if (!(f->name = spec_ld_strdup(L, name))) return -1;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.from", jp) != 0) return -1;
    if (spec_path_compile(L, sub, from ? from : name, &f->from) != 0) return -1;
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.type", jp) != 0) return -1;
    if (!type) return spec_ld_fail(L, sub, "missing (string, id, integer, number, boolean, date, html, strings, object or objects)");
    f->type = -1;
    for (int i = 0; i < SPEC_FT_COUNT; i++)
        if (strcmp(type, ft_names[i]) == 0) f->type = i;
    if (f->type < 0)
        return spec_ld_fail(L, sub, "unknown type '%.40s' (string, id, integer, number, boolean, date, html, strings, object or objects)", type);
    if ((f->collapse || f->entities) && f->type != SPEC_FT_STRING && f->type != SPEC_FT_STRINGS)
        return spec_ld_fail(L, jp, "collapse and entities apply to string and strings only");
    if (spec_ld_jp(L, sub, sizeof(sub), "%s.format", jp) != 0) return -1;
    if (format && f->type != SPEC_FT_DATE) return spec_ld_fail(L, sub, "only a date has a format");
    if (f->type == SPEC_FT_DATE) {
        if (!format || strcmp(format, "iso") == 0) f->datefmt = SPEC_DF_ISO;
        else if (strcmp(format, "epoch_s") == 0) f->datefmt = SPEC_DF_EPOCH_S;
        else if (strcmp(format, "epoch_ms") == 0) f->datefmt = SPEC_DF_EPOCH_MS;
        else {
            if (datefmt_check(L, sub, format) != 0) return -1;
            f->datefmt = SPEC_DF_FORMAT;
            if (!(f->format = spec_ld_strdup(L, format))) return -1;
        }
    }
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

/* Conversions append key: 0 with the value, 1 with null (or an empty list) because
 * v is absent or does not convert, -1 when BSON refuses (too large). */
#define CV(ok) ((ok) ? 0 : -1)

/* A string, trimmed/collapsed and decoded as the field says. */
static int put_text(bson_t *d, const char *key, const char *s, const spec_field *f, int *dropped) {
    size_t n = strlen(s);
    *dropped = 0;
    int html = f->type == SPEC_FT_HTML;
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

static int cv_string(bson_t *d, const char *key, const cJSON *v, const spec_field *f) {
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

static int cv_date(bson_t *d, const char *key, const cJSON *v, const spec_field *f) {
    int64_t ms = 0;
    int ok = 0;
    if (f->datefmt == SPEC_DF_EPOCH_S || f->datefmt == SPEC_DF_EPOCH_MS) {
        double x = 0;
        if (cJSON_IsNumber(v)) ok = isfinite(x = v->valuedouble);
        else if (cJSON_IsString(v) && v->valuestring) ok = parse_decimal(v->valuestring, &x) == 0;
        if (f->datefmt == SPEC_DF_EPOCH_S) x *= 1000;
        ok = ok && fabs(x) < 253402300800000.0; /* within year 9999 */
        ms = (int64_t)x;
    } else if (cJSON_IsString(v) && v->valuestring) {
        ok = (f->datefmt == SPEC_DF_ISO ? parse_iso8601_ms(v->valuestring, &ms) : parse_date_format(v->valuestring, f->format, &ms)) == 0;
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

static int cv_objects(bson_t *d, const char *key, const cJSON *v, const spec_field *f) {
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
            rc = spec_fields_put(&c, e, f->sub, f->nsub, e2, sizeof(e2));
            if (!bson_append_document_end(&a, &c)) rc = -1;
            if (rc < 0) break;
            rc = 0;
        }
    }
    if (!bson_append_array_end(d, &a)) rc = -1;
    return rc < 0 ? -1 : cJSON_IsArray(v) ? 0
                                          : 1;
}

int spec_fields_put(bson_t *d, const cJSON *src, const spec_field *fs, int n, char *err, size_t errlen) {
    for (int i = 0; i < n; i++) {
        const spec_field *f = &fs[i];
        const cJSON *v = spec_path_get(src, &f->from);
        int rc;
        switch (f->type) {
        case SPEC_FT_STRING:
        case SPEC_FT_HTML: rc = cv_string(d, f->name, v, f); break;
        case SPEC_FT_ID: rc = cv_id(d, f->name, v); break;
        case SPEC_FT_INTEGER: rc = cv_integer(d, f->name, v); break;
        case SPEC_FT_NUMBER: rc = cv_number(d, f->name, v); break;
        case SPEC_FT_BOOLEAN: rc = cv_boolean(d, f->name, v); break;
        case SPEC_FT_DATE: rc = cv_date(d, f->name, v, f); break;
        case SPEC_FT_STRINGS: rc = cv_strings(d, f->name, v, f); break;
        case SPEC_FT_OBJECT: rc = cv_object(d, f->name, v); break;
        case SPEC_FT_OBJECTS: rc = cv_objects(d, f->name, v, f); break;
        default: rc = -1;
        }
        if (rc < 0) return -1;
        if (rc == 1 && f->required) {
            if (!v || cJSON_IsNull(v))
                snprintf(err, errlen, "required field %s missing (%s)", f->name, f->from.text);
            else if (f->type == SPEC_FT_DATE && f->datefmt == SPEC_DF_FORMAT)
                snprintf(err, errlen, "required field %s: not a date in format %s", f->name, f->format);
            else
                snprintf(err, errlen, "required field %s: not %s %s", f->name,
                         f->type == SPEC_FT_INTEGER || f->type == SPEC_FT_ID || f->type == SPEC_FT_OBJECT ? "an" : "a",
                         ft_names[f->type]);
            return 1;
        }
    }
    return 0;
}
