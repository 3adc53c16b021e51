/* writer_json.c -- BSON to one line of relaxed extended JSON in a single pass. */
#include "writer_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "writer_doc.h"
#include "zc_json.h"

#define JSON_DATE_MAX_MS 253402300799999LL   /* 9999-12-31T23:59:59.999Z */
#define JSON_DATE_MIN_MS (-62167219200000LL) /* 0000-01-01T00:00:00Z */

/* The caller reserved room; these only copy. */
static void put(zc_buf *b, const char *s, size_t n) {
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
#define PUTS(b, lit) put((b), (lit), sizeof(lit) - 1)

/* A JSON string in quotes. Returns 0 or -1 (out of memory). */
static int json_string(zc_buf *b, const char *s, size_t n) {
    if (n > ((size_t)-1) / 6 - 2 || zc_buf_reserve(b, ZC_JSON_ESCAPED_MAX(n) + 2) != 0) return -1;
    b->p[b->len++] = '"';
    b->len += zc_json_escape(b->p + b->len, s, n);
    b->p[b->len++] = '"';
    return 0;
}

/* The shortest of %.15g, %.16g, %.17g that reads back as v, with ".0" added to an
 * integral value so that readers keep it a double. v is finite. */
static size_t json_double(char *out, size_t cap, double v) {
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, v);
        if (n <= 0 || (size_t)n >= cap) return 0;
        if (strtod(out, NULL) == v) break;
    }
    if (!strpbrk(out, ".eE") && (size_t)n + 2 < cap) {
        out[n++] = '.';
        out[n++] = '0';
        out[n] = '\0';
    }
    return (size_t)n;
}

static int json_number_text(zc_buf *b, const char *s, size_t n) {
    if (zc_buf_reserve(b, n) != 0) return -1;
    put(b, s, n);
    return 0;
}

/* {"$date":"1973-10-01T00:00:00Z"}, with .mmm only when the milliseconds are not 0.
 * Every date of years 0000-9999 takes this one shape, before 1970 too (relaxed
 * extended JSON would switch to $numberLong there, and a reader of JSON Lines would
 * meet two shapes for one field); only dates outside those years, which no spec
 * produces, fall back to {"$date":{"$numberLong":"..."}}. */
static int json_date(zc_buf *b, int64_t ms) {
    char t[96];
    int n;
    if (ms >= JSON_DATE_MIN_MS && ms <= JSON_DATE_MAX_MS) {
        int64_t sec = ms / 1000, frac = ms % 1000;
        if (frac < 0) { /* floor, not truncation, before 1970 */
            frac += 1000;
            sec -= 1;
        }
        time_t tsec = (time_t)sec;
        struct tm tm;
        if (!gmtime_r(&tsec, &tm)) return WRITER_JSON_UNKNOWN;
        if (frac)
            n = snprintf(t, sizeof(t), "{\"$date\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"}", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
        else
            n = snprintf(t, sizeof(t), "{\"$date\":\"%04d-%02d-%02dT%02d:%02d:%02dZ\"}", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    } else {
        n = snprintf(t, sizeof(t), "{\"$date\":{\"$numberLong\":\"%lld\"}}", (long long)ms);
    }
    if (n <= 0 || (size_t)n >= sizeof(t)) return WRITER_JSON_UNKNOWN;
    return json_number_text(b, t, (size_t)n);
}

/* One value at it. Returns WRITER_JSON_OK, _NOMEM or _UNKNOWN. */
static int json_value(zc_buf *b, const bson_iter_t *it, int depth);

/* The elements of a document (is_array 0) or an array (1) at it. */
static int json_container(zc_buf *b, bson_iter_t *it, int is_array, int depth) {
    if (depth >= WRITER_DOC_DEPTH) return WRITER_JSON_UNKNOWN;
    if (zc_buf_reserve(b, 1) != 0) return WRITER_JSON_NOMEM;
    b->p[b->len++] = is_array ? '[' : '{';
    int first = 1;
    while (bson_iter_next(it)) {
        if (!first) {
            if (zc_buf_reserve(b, 1) != 0) return WRITER_JSON_NOMEM;
            b->p[b->len++] = ',';
        }
        first = 0;
        if (!is_array) {
            const char *k = bson_iter_key(it);
            if (json_string(b, k, bson_iter_key_len(it)) != 0 || zc_buf_reserve(b, 1) != 0)
                return WRITER_JSON_NOMEM;
            b->p[b->len++] = ':';
        }
        int rc = json_value(b, it, depth);
        if (rc != WRITER_JSON_OK) return rc;
    }
    if (it->err_off) return WRITER_JSON_UNKNOWN;
    if (zc_buf_reserve(b, 1) != 0) return WRITER_JSON_NOMEM;
    b->p[b->len++] = is_array ? ']' : '}';
    return WRITER_JSON_OK;
}

static int json_value(zc_buf *b, const bson_iter_t *it, int depth) {
    char t[64];
    size_t n;
    switch (bson_iter_type(it)) {
    case BSON_TYPE_UTF8: {
        uint32_t len = 0;
        const char *s = bson_iter_utf8(it, &len);
        if (!s) return WRITER_JSON_UNKNOWN;
        return json_string(b, s, len) ? WRITER_JSON_NOMEM : WRITER_JSON_OK;
    }
    case BSON_TYPE_DOUBLE: {
        double v = bson_iter_double(it);
        if (!isfinite(v)) {
            const char *s = isnan(v) ? "{\"$numberDouble\":\"NaN\"}"
                            : v > 0  ? "{\"$numberDouble\":\"Infinity\"}"
                                     : "{\"$numberDouble\":\"-Infinity\"}";
            return json_number_text(b, s, strlen(s)) ? WRITER_JSON_NOMEM : WRITER_JSON_OK;
        }
        if ((n = json_double(t, sizeof(t), v)) == 0) return WRITER_JSON_UNKNOWN;
        return json_number_text(b, t, n) ? WRITER_JSON_NOMEM : WRITER_JSON_OK;
    }
    case BSON_TYPE_INT32:
        n = (size_t)snprintf(t, sizeof(t), "%d", (int)bson_iter_int32(it));
        return json_number_text(b, t, n) ? WRITER_JSON_NOMEM : WRITER_JSON_OK;
    case BSON_TYPE_INT64:
        n = (size_t)snprintf(t, sizeof(t), "%lld", (long long)bson_iter_int64(it));
        return json_number_text(b, t, n) ? WRITER_JSON_NOMEM : WRITER_JSON_OK;
    case BSON_TYPE_BOOL:
        return (bson_iter_bool(it) ? json_number_text(b, "true", 4) : json_number_text(b, "false", 5))
                   ? WRITER_JSON_NOMEM
                   : WRITER_JSON_OK;
    case BSON_TYPE_NULL:
        return json_number_text(b, "null", 4) ? WRITER_JSON_NOMEM : WRITER_JSON_OK;
    case BSON_TYPE_DATE_TIME: {
        int rc = json_date(b, bson_iter_date_time(it));
        return rc < 0 ? WRITER_JSON_NOMEM : rc;
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
        bson_iter_t child;
        if (!bson_iter_recurse(it, &child)) return WRITER_JSON_UNKNOWN;
        return json_container(b, &child, bson_iter_type(it) == BSON_TYPE_ARRAY, depth + 1);
    }
    default:
        return WRITER_JSON_UNKNOWN;
    }
}

int writer_json_append(zc_buf *b, const bson_t *doc) {
    size_t mark = b->len;
    bson_iter_t it;
    int rc = bson_iter_init(&it, doc) ? json_container(b, &it, 0, 0) : WRITER_JSON_UNKNOWN;
    if (rc != WRITER_JSON_OK) b->len = mark;
    return rc;
}
