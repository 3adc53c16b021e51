/* sim_v2.c -- the emulator's second API: the same books in another shape (cursor pages, string keys, nested records). */
#include "sim_v2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sim_http.h"

#define CURSOR_MASK 0x2f5a3c1dUL /* cursors are opaque: the offset, scrambled */

static const char *const k_months[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

void sim_v2_key(uint32_t id, char *out, size_t cap) {
    char t[16];
    size_t n = 0;
    do {
        uint32_t d = id % 36;
        t[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        id /= 36;
    } while (id && n < sizeof t);
    size_t o = 0;
    if (cap < n + 4)
        return;
    memcpy(out, "bk-", 3);
    o = 3;
    while (n)
        out[o++] = t[--n];
    out[o] = '\0';
}

long sim_v2_find(const sim_catalog *c, const char *s, size_t n) {
    if (n < 4 || n > 12 || memcmp(s, "bk-", 3) != 0 || s[3] == '0')
        return -1;
    uint64_t v = 0;
    for (size_t k = 3; k < n; k++) {
        char ch = s[k];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : (ch >= 'a' && ch <= 'z' ? ch - 'a' + 10 : -1);
        if (d < 0)
            return -1;
        v = v * 36 + (uint64_t)d;
        if (v > 0xffffffffULL)
            return -1;
    }
    char digits[16];
    int dn = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    if (dn <= 0 || (size_t)dn >= sizeof digits)
        return -1;
    return sim_catalog_find(c, digits, (size_t)dn);
}

const char *sim_v2_parse_query(const char *q, size_t n, long *offset, long *size) {
    *offset = 0;
    *size = SIM_V2_PAGE;
    size_t i = 0, kn;
    const char *kv;
    while (sim_http_query_next(q, n, &i, &kv, &kn)) {
        if (kn > 7 && memcmp(kv, "cursor=", 7) == 0) {
            if (kn - 7 != 8)
                return "Invalid cursor.";
            unsigned long x = 0;
            for (size_t k = 7; k < kn; k++) {
                char ch = kv[k];
                int d = ch >= '0' && ch <= '9' ? ch - '0' : (ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1);
                if (d < 0)
                    return "Invalid cursor.";
                x = x * 16 + (unsigned long)d;
            }
            *offset = (long)(x ^ CURSOR_MASK);
            if (*offset < 0 || *offset > 100000000L)
                return "Invalid cursor.";
        } else if (kn > 5 && memcmp(kv, "size=", 5) == 0) {
            long v = 0;
            for (size_t k = 5; k < kn; k++) {
                if (kv[k] < '0' || kv[k] > '9' || v > 1000)
                    return "Invalid size: expected 1 to 100.";
                v = v * 10 + (kv[k] - '0');
            }
            if (v < 1 || v > 100)
                return "Invalid size: expected 1 to 100.";
            *size = v;
        }
    }
    return NULL;
}

/* {"record": {"key": ..., "title": ...}} of book i. */
static void render_entry(const sim_catalog *c, long i, sim_buf *b) {
    char key[16];
    sim_buf tmp;
    sim_buf_init(&tmp);
    sim_catalog_render_item(c, i, &tmp);
    cJSON *item = tmp.oom ? NULL : cJSON_ParseWithLength(tmp.p, tmp.len);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
    sim_v2_key(sim_catalog_id(c, i), key, sizeof key);
    sim_buf_adds(b, "{\"record\": {\"key\": ");
    sim_buf_add_jstrs(b, key);
    sim_buf_adds(b, ", \"title\": ");
    sim_buf_add_jstrs(b, cJSON_IsString(name) ? name->valuestring : NULL);
    sim_buf_adds(b, "}}");
    if (!item)
        b->oom = 1;
    cJSON_Delete(item);
    sim_buf_free(&tmp);
}

void sim_v2_render_list(const sim_catalog *c, long offset, long size, const char *origin, sim_buf *b) {
    sim_buf_adds(b, "{\"data\": {\"total\": ");
    sim_buf_add_u64(b, (uint64_t)c->nbooks);
    sim_buf_adds(b, ", \"records\": [");
    sim_catalog_render_page(c, offset, size, render_entry, b);
    sim_buf_adds(b, "]}, \"links\": {\"next\": ");
    if (offset + size < c->nbooks) {
        sim_buf_addf(b, "\"%s/api/v2/records?cursor=%08lx", origin, (unsigned long)(offset + size) ^ CURSOR_MASK);
        if (size != SIM_V2_PAGE)
            sim_buf_addf(b, "&size=%ld", size);
        sim_buf_addc(b, '"');
    } else {
        sim_buf_adds(b, "null");
    }
    sim_buf_adds(b, "}}");
}

/* Appends key: string value of v1 field from, when it is a string (else nothing). */
static void copy_str(sim_buf *b, const cJSON *src, const char *from, const char *key, int *first) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, from);
    if (!cJSON_IsString(v))
        return;
    sim_buf_addf(b, "%s\"%s\": ", *first ? "" : ", ", key);
    sim_buf_add_jstrs(b, v->valuestring);
    *first = 0;
}

static void add_strings(sim_buf *b, const cJSON *arr) {
    sim_buf_addc(b, '[');
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (!cJSON_IsString(e))
            continue;
        if (k++)
            sim_buf_adds(b, ", ");
        sim_buf_add_jstrs(b, e->valuestring);
    }
    sim_buf_addc(b, ']');
}

void sim_v2_render_record(const sim_catalog *c, long i, sim_buf *b) {
    sim_buf tmp;
    char key[16];
    int y, mo, d, h, mi, s, first = 0;
    sim_buf_init(&tmp);
    sim_catalog_render_detail(c, i, &tmp);
    cJSON *v1 = tmp.oom ? NULL : cJSON_ParseWithLength(tmp.p, tmp.len);
    sim_buf_free(&tmp);
    if (!v1) {
        b->oom = 1;
        return;
    }
    sim_v2_key(sim_catalog_id(c, i), key, sizeof key);
    sim_buf_adds(b, "{\"data\": {\"record\": {\"key\": ");
    sim_buf_add_jstrs(b, key);
    copy_str(b, v1, "name", "title", &first);

    /* people: authors always, translators only when there are some */
    const cJSON *au = cJSON_GetObjectItemCaseSensitive(v1, "authors");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(v1, "translators");
    sim_buf_adds(b, ", \"people\": {\"authors\": ");
    add_strings(b, au);
    if (cJSON_GetArraySize(tr) > 0) {
        sim_buf_adds(b, ", \"translators\": ");
        add_strings(b, tr);
    }
    sim_buf_addc(b, '}');

    const cJSON *pub = cJSON_GetObjectItemCaseSensitive(v1, "publisher");
    if (cJSON_IsString(pub)) {
        sim_buf_adds(b, ", \"publisher\": {\"name\": ");
        sim_buf_add_jstrs(b, pub->valuestring);
        sim_buf_addc(b, '}');
    }
    /* dates in other formats: 15.10.2019 and "Mar 21, 2020 09:45:13" (UTC) */
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(v1, "published_at");
    if (cJSON_IsString(pa) && sscanf(pa->valuestring, "%d-%d-%d", &y, &mo, &d) == 3)
        sim_buf_addf(b, ", \"released\": \"%02d.%02d.%04d\"", d, mo, y);
    const cJSON *ua = cJSON_GetObjectItemCaseSensitive(v1, "updated_at");
    if (cJSON_IsString(ua) && sscanf(ua->valuestring, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) == 6 &&
        mo >= 1 && mo <= 12)
        sim_buf_addf(b, ", \"revised\": \"%s %d, %04d %02d:%02d:%02d\"", k_months[mo - 1], d, y, h, mi, s);
    const cJSON *pn = cJSON_GetObjectItemCaseSensitive(v1, "page_number");
    if (cJSON_IsNumber(pn))
        sim_buf_addf(b, ", \"pages\": %d", pn->valueint);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(v1, "score");
    if (cJSON_IsString(sc)) {
        sim_buf_adds(b, ", \"rating\": {\"value\": ");
        sim_buf_adds(b, sc->valuestring); /* "8.9" becomes the number 8.9 */
        sim_buf_adds(b, ", \"scale\": 10}");
    }
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(v1, "price");
    sim_buf_addf(b, ", \"in_print\": %s", cJSON_IsString(pr) ? "\"yes\"" : "\"no\"");
    if (cJSON_IsString(pr)) {
        sim_buf_adds(b, ", \"price\": {\"text\": ");
        sim_buf_add_jstrs(b, pr->valuestring);
        sim_buf_adds(b, strstr(pr->valuestring, "USD") ? ", \"currency\": \"USD\"}" : ", \"currency\": \"CNY\"}");
    }
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(v1, "tags");
    if (cJSON_IsArray(tags)) {
        sim_buf_adds(b, ", \"labels\": ");
        add_strings(b, tags);
    }
    /* the introduction as HTML: paragraphs in <p>, its character references kept */
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(v1, "introduction");
    if (cJSON_IsString(in)) {
        sim_buf_adds(b, ", \"blurb\": \"<p>");
        const char *p = in->valuestring;
        while (*p) {
            size_t n = strcspn(p, "\n");
            sim_buf_add_jesc(b, p, n);
            p += n;
            if (*p == '\n') {
                while (*p == '\n')
                    p++;
                sim_buf_adds(b, "</p><p>");
            }
        }
        sim_buf_adds(b, "</p>\"");
    }
    const cJSON *isbn = cJSON_GetObjectItemCaseSensitive(v1, "isbn");
    if (cJSON_IsString(isbn)) {
        sim_buf_adds(b, ", \"isbn13\": ");
        sim_buf_add_jstrs(b, isbn->valuestring);
    }
    sim_buf_adds(b, "}}}");
    cJSON_Delete(v1);
}
