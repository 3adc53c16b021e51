/* fuzz_specpage.c -- libFuzzer target: random pages through the shipped specs.
 *
 * Byte 0 picks the spec (the built-in books spec or a copy of specs/shelves.json
 * compiled at start) and the page URL; the rest is the body. Whatever the page
 * functions accept is checked: a URL list holds only clean absolute URLs, a
 * document is valid BSON with valid UTF-8 and a string _id first; a refusal is
 * one line and leaves the output empty. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse_book.h"
#include "spec.h"

static const char shelves[] =
    "{\"name\": \"shelves\", \"pages\": ["
    "{\"match\": [\"/api/v2/records\", \"/api/v2/records/\"], \"list\": {\"items\": \"data.records\","
    " \"item_url\": \"{origin}/api/v2/records/{record.key}\", \"paginate\": {\"type\": \"next\", \"from\": \"links.next\"}}},"
    "{\"match\": \"/api/v2/cursor\", \"list\": {\"items\": \"r\", \"item_url\": \"{origin}/x/{id}\","
    " \"paginate\": {\"type\": \"cursor\", \"from\": \"c\", \"url\": \"{origin}/api/v2/cursor?c={cursor}\"}}},"
    "{\"match\": \"/api/v2/pages\", \"list\": {\"items\": \"r\", \"item_url\": \"{origin}/x/{id:digits}\","
    " \"paginate\": {\"type\": \"pages\", \"total\": \"n\", \"per_page\": 7, \"url\": \"{origin}/api/v2/pages?page={page}\"}}},"
    "{\"match\": [\"/api/v2/records/{key}\"], \"item\": {\"root\": \"data.record\","
    " \"id\": {\"from\": \"key\", \"same_as\": \"key\"}, \"fields\": ["
    " {\"name\": \"title\", \"type\": \"string\", \"required\": true, \"entities\": true},"
    " {\"name\": \"authors\", \"from\": \"people.authors\", \"type\": \"strings\", \"collapse\": true},"
    " {\"name\": \"published_at\", \"from\": \"released\", \"type\": \"date\", \"format\": \"%d.%m.%Y\"},"
    " {\"name\": \"updated_at\", \"from\": \"revised\", \"type\": \"date\", \"format\": \"%b %d, %Y %H:%M:%S %z\"},"
    " {\"name\": \"e\", \"from\": \"e\", \"type\": \"date\", \"format\": \"epoch_ms\"},"
    " {\"name\": \"pages\", \"type\": \"integer\"}, {\"name\": \"score\", \"from\": \"rating.value\", \"type\": \"number\"},"
    " {\"name\": \"in_print\", \"type\": \"boolean\"}, {\"name\": \"price\", \"type\": \"object\"},"
    " {\"name\": \"c\", \"type\": \"objects\", \"fields\": [{\"name\": \"x\", \"type\": \"id\"}]},"
    " {\"name\": \"introduction\", \"from\": \"blurb\", \"type\": \"html\"}]}}]}";

static const char *urls[] = {
    "http://h/api/v2/records",
    "http://h/api/v2/records/bk-1",
    "http://h/api/v2/cursor",
    "http://h/api/v2/pages?page=1",
    "http://h:8/api/book/?limit=18&offset=0",
    "http://h/api/book/12",
    "https://h/api/book/12/",
};

static void check_urls(const parse_urls *u) {
    if (u->n == 0) {
        if (u->len != 0) abort();
        return;
    }
    if (!u->buf || strlen(u->buf) != u->len || u->buf[u->len - 1] == '\n') abort();
    size_t lines = 1;
    for (size_t i = 0; i < u->len; i++) {
        unsigned char c = (unsigned char)u->buf[i];
        if (c == '\n') lines++;
        else if (c < 0x20 || c == 0x7f) abort();
    }
    if (lines != u->n) abort();
    for (const char *p = u->buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncasecmp(p, "http://", 7) != 0 && strncasecmp(p, "https://", 8) != 0) abort(); /* schemes ignore case */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static spec_t *sh;
    static parse_urls u;
    char err[512];
    if (!sh) {
        if (!(sh = spec_load_text(shelves, strlen(shelves), "shelves", err, sizeof(err)))) abort();
        parse_urls_init(&u);
        parse_set_max_body(1 << 20);
    }
    if (size == 0) return 0;
    const char *url = urls[data[0] % (sizeof(urls) / sizeof(*urls))];
    const spec_t *s = (data[0] & 0x80) ? spec_default() : sh;
    const char *body = (const char *)data + 1;
    size_t blen = size - 1;
    spec_match m;
    int kind = spec_classify(s, url, &m);
    if (kind == PARSE_KIND_LIST) {
        if (spec_list(s, &m, url, body, blen, &u, err, sizeof(err)) == 0) check_urls(&u);
        else if (u.n || err[0] == '\0' || strchr(err, '\n')) abort();
    } else if (kind == PARSE_KIND_DETAIL) {
        bson_t doc;
        bson_init(&doc);
        if (spec_item(s, &m, url, body, blen, 1, &doc, err, sizeof(err)) == 0) {
            size_t off;
            bson_iter_t it;
            if (!bson_validate(&doc, BSON_VALIDATE_UTF8, &off)) abort();
            if (!bson_iter_init(&it, &doc) || !bson_iter_next(&it) || strcmp(bson_iter_key(&it), "_id") != 0 ||
                !BSON_ITER_HOLDS_UTF8(&it))
                abort();
        } else if (doc.len != 5 || err[0] == '\0' || strchr(err, '\n')) {
            abort();
        }
        bson_destroy(&doc);
    }
    /* The HTML helpers on the body as text. */
    size_t n = blen < 512 ? blen : 512;
    char t[513], o1[513], o2[513];
    memcpy(t, body, n);
    t[n] = '\0';
    size_t l = strlen(t);
    if (parse_html_unescape(t, l, o1) > l || parse_html_text(t, l, o2) > l) abort();
    return 0;
}
