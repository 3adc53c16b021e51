/* zc_headers.c -- the request headers of a crawl spec ("headers"), their ${VAR} parts read from the environment. */
#include "zc_headers.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define SPEC_FILE_MAX (1u << 20)

/* Headers that frame the request or the connection: libcurl and HTTP set them. */
static const char *const framing[] = { "host", "content-length", "transfer-encoding", "connection", "keep-alive",
                                       "upgrade", "te", "trailer", "proxy-connection", "expect", NULL };

/* "FILE: $.headers[.NAME]: message", one line (control characters shown as '?'). */
static int hfail(char *err, size_t errlen, const char *file, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int hfail(char *err, size_t errlen, const char *file, const char *name, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: $.headers%s%.*s: %s", file, name ? "." : "", ZC_HEADER_NAME_MAX, name ? name : "", msg);
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return -1;
}

static int is_tchar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Checks a header name. Returns 0, or -1 with the reason in err. */
static int name_check(const char *file, const char *name, const zc_headers *h, char *err, size_t errlen) {
    size_t n = strlen(name);
    if (n == 0 || n > ZC_HEADER_NAME_MAX) return hfail(err, errlen, file, name, "a header name is 1 to %d bytes", ZC_HEADER_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if (!is_tchar(name[i]))
            return hfail(err, errlen, file, name, "not a header name (letters, digits and !#$%%&'*+-.^_`|~)");
    for (int i = 0; framing[i]; i++)
        if (strcasecmp(name, framing[i]) == 0)
            return hfail(err, errlen, file, name, "set by the crawler itself, not by a spec");
    if (strncasecmp(name, "proxy-", 6) == 0) return hfail(err, errlen, file, name, "set by the crawler itself, not by a spec");
    for (int i = 0; i < h->n; i++)
        if (strcasecmp(h->name[i], name) == 0) return hfail(err, errlen, file, name, "given twice");
    return 0;
}

/* Appends s[0..n) to the value being built. Returns 0, or -1 when it would not fit. */
static int put(char *out, size_t *o, const char *s, size_t n) {
    if (n >= ZC_HEADER_VALUE_MAX - *o) return -1;
    memcpy(out + *o, s, n);
    *o += n;
    return 0;
}

/* Expands the ${NAME} parts of tmpl into out (ZC_HEADER_VALUE_MAX bytes). Returns
 * 0, or -1 with the reason in err (naming a variable, never quoting its value). */
static int expand(const char *file, const char *name, const char *tmpl, char *out, char *err, size_t errlen) {
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)tmpl; *c; c++)
        if ((*c < 0x20 && *c != '\t') || *c == 0x7f) return hfail(err, errlen, file, name, "holds a control character");
    for (const char *p = tmpl; *p;) {
        const char *d = strstr(p, "${");
        size_t lit = d ? (size_t)(d - p) : strlen(p);
        if (put(out, &o, p, lit) != 0) goto long_;
        if (!d) break;
        const char *e = strchr(d + 2, '}');
        size_t vn = e ? (size_t)(e - d - 2) : 0;
        char var[128];
        if (!e || vn == 0 || vn >= sizeof(var) || !((d[2] >= 'A' && d[2] <= 'Z') || (d[2] >= 'a' && d[2] <= 'z') || d[2] == '_'))
            return hfail(err, errlen, file, name, "${ must start ${NAME} (letters, digits and _)");
        memcpy(var, d + 2, vn);
        var[vn] = '\0';
        if (strspn(var, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != vn)
            return hfail(err, errlen, file, name, "${%s}: a variable name is letters, digits and _", var);
        const char *v = getenv(var);
        if (!v || !*v) return hfail(err, errlen, file, name, "environment variable %s is %s", var, v ? "empty" : "not set");
        for (const unsigned char *c = (const unsigned char *)v; *c; c++)
            if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
                return hfail(err, errlen, file, name, "environment variable %s holds a control character", var);
        if (put(out, &o, v, strlen(v)) != 0) goto long_;
        p = e + 1;
    }
    out[o] = '\0';
    return 0;
long_:
    return hfail(err, errlen, file, name, "longer than %d bytes with its variables", ZC_HEADER_VALUE_MAX);
}

int zc_headers_parse(const cJSON *o, const char *file, zc_headers *h, char *err, size_t errlen) {
    char *buf = NULL;
    memset(h, 0, sizeof(*h));
    if (!o) return 0;
    if (!cJSON_IsObject(o)) return hfail(err, errlen, file, NULL, "must be an object of \"Name\": \"value\"");
    if (cJSON_GetArraySize(o) > ZC_HEADERS_MAX) return hfail(err, errlen, file, NULL, "more than %d headers", ZC_HEADERS_MAX);
    if (!(buf = malloc(ZC_HEADER_VALUE_MAX))) return hfail(err, errlen, file, NULL, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, o) {
        const char *name = e->string ? e->string : "";
        if (name_check(file, name, h, err, errlen) != 0) goto err;
        if (!cJSON_IsString(e) || !e->valuestring) {
            hfail(err, errlen, file, name, "must be a string");
            goto err;
        }
        if (expand(file, name, e->valuestring, buf, err, errlen) != 0) goto err;
        int i = h->n;
        h->name[i] = strdup(name);
        h->value[i] = strdup(buf);
        h->shown[i] = strdup(e->valuestring);
        h->n++;
        if (!h->name[i] || !h->value[i] || !h->shown[i]) {
            hfail(err, errlen, file, name, "out of memory");
            goto err;
        }
    }
    explicit_bzero(buf, ZC_HEADER_VALUE_MAX);
    free(buf);
    return 0;
err:
    explicit_bzero(buf, ZC_HEADER_VALUE_MAX);
    free(buf);
    zc_headers_free(h);
    return -1;
}

int zc_headers_load(const char *path, zc_headers *h, char *err, size_t errlen) {
    memset(h, 0, sizeof(*h));
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *text = malloc(SPEC_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, SPEC_FILE_MAX + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    int rc = -1;
    cJSON *root = NULL;
    if (!text) snprintf(err, errlen, "%s: out of memory", path);
    else if (bad) snprintf(err, errlen, "%s: cannot read", path);
    else if (n > SPEC_FILE_MAX) snprintf(err, errlen, "%s: $: larger than %u bytes", path, SPEC_FILE_MAX);
    else if (!(root = cJSON_ParseWithLength(text, n)) || !cJSON_IsObject(root))
        snprintf(err, errlen, "%s: $: not a JSON object", path);
    else rc = zc_headers_parse(cJSON_GetObjectItemCaseSensitive(root, "headers"), path, h, err, errlen);
    cJSON_Delete(root);
    free(text);
    return rc;
}

void zc_headers_free(zc_headers *h) {
    for (int i = 0; i < h->n; i++) {
        if (h->value[i]) explicit_bzero(h->value[i], strlen(h->value[i]));
        free(h->name[i]);
        free(h->value[i]);
        free(h->shown[i]);
    }
    memset(h, 0, sizeof(*h));
}

const char *zc_headers_describe(const zc_headers *h, char *buf, size_t len) {
    size_t o = 0;
    if (len) buf[0] = '\0';
    for (int i = 0; i < h->n && o < len; i++) {
        int k = snprintf(buf + o, len - o, "%s%s: %s", i ? "; " : "", h->name[i], h->shown[i]);
        if (k < 0) break;
        o += (size_t)k; /* a cut line ends the loop: o >= len */
    }
    return buf;
}

int zc_headers_slist(const zc_headers *h, struct curl_slist **list) {
    char line[ZC_HEADER_NAME_MAX + 2 + ZC_HEADER_VALUE_MAX + 1];
    int rc = 0;
    for (int i = 0; i < h->n && rc == 0; i++) {
        int k = snprintf(line, sizeof(line), "%s: %s", h->name[i], h->value[i]);
        if (k < 0 || (size_t)k >= sizeof(line)) { /* cannot happen: both are bounded when parsed */
            rc = -1;
            break;
        }
        struct curl_slist *l = curl_slist_append(*list, line);
        if (l) *list = l;
        else rc = -1;
    }
    explicit_bzero(line, sizeof(line));
    return rc;
}
