/* fuzz_parser.c -- libFuzzer target for the parser's pure modules through the books facade (parse_book.c).
 *
 * Input: when it starts with "http" and has a '\n' within 512 bytes, the first line
 * is the page URL and the rest the body; otherwise byte 0 picks a URL from a table
 * and the rest is the body. Both parse_list and parse_detail run on every input,
 * and whatever they accept is checked: a document must be valid BSON with valid
 * UTF-8, a URL list must hold only clean absolute URLs of the page's origin. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_book.h"
#include "zc_utf8.h"

static const char *urls[] = {
    "https://spa5.scrape.center/api/book/?limit=18&offset=0",
    "https://spa5.scrape.center/api/book/?limit=18&offset=18",
    "http://127.0.0.1:8080/api/book?limit=3",
    "http://h/api/book/",
    "https://spa5.scrape.center/api/book/1",
    "https://spa5.scrape.center/api/book/7952978/",
    "http://127.0.0.1:8080/api/book/42",
    "http://h/other",
};

static void check_urls(const char *url, const parse_urls *u) {
    if (u->n == 0) {
        if (u->len != 0) abort();
        return;
    }
    if (!u->buf || strlen(u->buf) != u->len || u->n != u->ndetail + u->nlist) abort();
    size_t lines = 1;
    for (size_t i = 0; i < u->len; i++) {
        unsigned char c = (unsigned char)u->buf[i];
        if (c == '\n') lines++;
        else if (c <= 0x20 || c >= 0x7f) abort();
    }
    if (lines != u->n || u->buf[u->len - 1] == '\n') abort();
    const char *p = u->buf;
    size_t olen = strcspn(strstr(url, "://") + 3, "/?#") + (size_t)(strstr(url, "://") + 3 - url);
    while (p) {
        if (strncmp(p, url, olen) != 0 || strncmp(p + olen, "/api/book/", 10) != 0) abort();
        char line[1200];
        size_t n = strcspn(p, "\n");
        if (n >= sizeof(line)) abort();
        memcpy(line, p, n);
        line[n] = '\0';
        if (parse_page_kind(line) == PARSE_KIND_UNKNOWN) abort();
        p = strchr(p, '\n');
        if (p) p++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char url[600];
    const char *body;
    size_t blen;
    static parse_urls u;
    static int init;
    if (!init) {
        parse_urls_init(&u);
        parse_set_max_body(1 << 20);
        init = 1;
    }
    if (size == 0) return 0;
    const char *nl = size > 4 ? memchr(data, '\n', size < 512 ? size : 512) : NULL;
    if (nl && memcmp(data, "http", 4) == 0) {
        size_t n = (size_t)(nl - (const char *)data);
        memcpy(url, data, n);
        url[n] = '\0';
        body = nl + 1;
        blen = size - n - 1;
    } else {
        snprintf(url, sizeof(url), "%s", urls[data[0] % (sizeof(urls) / sizeof(*urls))]);
        body = (const char *)data + 1;
        blen = size - 1;
    }

    int kind = parse_page_kind(url);
    char err[256];
    if (parse_list(url, body, blen, &u, err, sizeof(err)) == 0) {
        if (kind != PARSE_KIND_LIST) abort();
        check_urls(url, &u);
    } else if (u.n != 0 || err[0] == '\0' || strchr(err, '\n')) {
        abort();
    }

    bson_t doc;
    bson_init(&doc);
    if (parse_detail(url, body, blen, 1700000000000LL, &doc, err, sizeof(err)) == 0) {
        size_t off;
        if (kind != PARSE_KIND_DETAIL) abort();
        if (!bson_validate(&doc, BSON_VALIDATE_UTF8, &off)) abort();
        bson_iter_t it;
        if (!bson_iter_init_find(&it, &doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it)) abort();
        if (bson_count_keys(&doc) != 19) abort();
    } else if (doc.len != 5 || err[0] == '\0' || strchr(err, '\n')) {
        abort();
    }
    bson_destroy(&doc);

    /* The small helpers on the body as a C string. */
    size_t n = blen < 256 ? blen : 256;
    char s[257], out[257];
    memcpy(s, body, n);
    s[n] = '\0';
    int64_t ms;
    double d;
    (void)parse_iso8601_ms(s, &ms);
    (void)parse_decimal(s, &d);
    (void)parse_int_str(s, &ms);
    size_t m = parse_collapse_ws(s, strlen(s), out);
    if (m > strlen(s) || out[m] != '\0') abort();
    if (zc_utf8_valid(s, strlen(s)) && !zc_utf8_valid(out, m)) abort();
    return 0;
}
