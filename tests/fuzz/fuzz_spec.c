/* fuzz_spec.c -- libFuzzer target for the spec loader (parser/spec*.c).
 *
 * Input: the text of a spec. A spec that loads is then run on a few fixed pages
 * (one list and one item body per URL) so that whatever the loader accepts the
 * page functions can run; a spec that does not load must say why in one line that
 * starts with the file's name and a JSON path. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_book.h"
#include "spec.h"

static const char *urls[] = {
    "http://h/api/book/?limit=18&offset=0",
    "http://h/api/book/12",
    "http://h/a/b/c?x=1",
    "http://h/api/v2/records",
    "http://h/api/v2/records/bk-1",
    "http://h/l?page=1",
    "http://h/r/k-1",
};
static const char *bodies[] = {
    "{\"count\": 40, \"results\": [{\"id\": \"12\"}, {\"id\": 3}], \"next\": \"/x\"}",
    "{\"id\": \"12\", \"name\": \"a &amp; <b>b</b>\", \"authors\": [\" x \"], \"published_at\": \"1969-01-01\"}",
    ("{\"data\": {\"records\": [{\"record\": {\"key\": \"bk-1\"}}], \"record\": {\"key\": \"bk-1\", \"t\": 1}},"
     " \"links\": {\"next\": \"http://h/l?page=2\"}, \"meta\": {\"pages\": 3, \"cursor\": \"c\"}}"),
    "[1, 2, {\"a\": [\"x\"]}]",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    err[0] = '\0';
    spec_t *s = spec_load_text((const char *)data, size, "f.json", err, sizeof(err));
    if (!s) {
        if (strncmp(err, "f.json: $", 9) != 0 || strchr(err, '\n')) abort();
        return 0;
    }
    parse_urls u;
    parse_urls_init(&u);
    for (size_t i = 0; i < sizeof(urls) / sizeof(*urls); i++) {
        spec_match m;
        int kind = spec_classify(s, urls[i], &m);
        for (size_t k = 0; k < sizeof(bodies) / sizeof(*bodies); k++) {
            const char *b = bodies[k];
            if (kind == PARSE_KIND_LIST) {
                if (spec_list(s, &m, urls[i], b, strlen(b), &u, err, sizeof(err)) == 0) {
                    if (u.n && (!u.buf || strlen(u.buf) != u.len)) abort();
                } else if (u.n || strchr(err, '\n')) {
                    abort();
                }
            } else if (kind == PARSE_KIND_DETAIL) {
                bson_t doc;
                bson_init(&doc);
                if (spec_item(s, &m, urls[i], b, strlen(b), 1, &doc, err, sizeof(err)) == 0) {
                    size_t off;
                    bson_iter_t it;
                    if (!bson_validate(&doc, BSON_VALIDATE_UTF8, &off)) abort();
                    if (!bson_iter_init_find(&it, &doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it)) abort();
                } else if (doc.len != 5 || strchr(err, '\n')) {
                    abort();
                }
                bson_destroy(&doc);
            }
        }
    }
    parse_urls_free(&u);
    spec_free(s);
    return 0;
}
