/* spec_loader.c -- reading a spec's JSON: typed members, unknown keys, one-line errors naming the JSON path. */
#include "spec_loader.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int spec_ld_jp(spec_loader *L, char *sub, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sub, len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < len) return 0;
    return spec_ld_fail(L, "$", "nested deeper than a %zu-character JSON path", len - 1);
}

int spec_ld_fail(spec_loader *L, const char *jp, const char *fmt, ...) {
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

char *spec_ld_strdup(spec_loader *L, const char *s) {
    char *d = strdup(s);
    if (!d) spec_ld_fail(L, "$", "out of memory");
    return d;
}

int spec_ld_keys(spec_loader *L, const char *jp, const cJSON *o, const char *const *allowed) {
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
            return spec_ld_fail(L, jp, "unknown key '%.60s' (known: %s)", c->string ? c->string : "", want);
        }
    }
    return 0;
}

int spec_ld_str(spec_loader *L, const char *jp, const cJSON *o, const char *key, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v) return 0;
    if (!cJSON_IsString(v) || !v->valuestring) return spec_ld_fail(L, jp, "%s must be a string", key);
    for (const char *c = v->valuestring; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) return spec_ld_fail(L, jp, "%s holds a control character", key);
    *out = v->valuestring;
    return 0;
}

int spec_ld_bool(spec_loader *L, const char *jp, const cJSON *o, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsBool(v)) return spec_ld_fail(L, jp, "%s must be true or false", key);
    *out = cJSON_IsTrue(v);
    return 0;
}

int spec_ld_long(spec_loader *L, const char *jp, const cJSON *o, const char *key, long min, long max,
                 long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || floor(v->valuedouble) != v->valuedouble ||
        v->valuedouble < (double)min || v->valuedouble > (double)max)
        return spec_ld_fail(L, jp, "%s must be a whole number from %ld to %ld", key, min, max);
    *out = (long)v->valuedouble;
    return 0;
}
