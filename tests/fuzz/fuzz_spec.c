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
#include "fuzz_docs.h"
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
    "null",
    "{\"object\": \"list\", \"has_more\": true, \"data\": [{\"id\": \"c_1\", \"created\": \"31/12/2020\"}]}",
};
/* Link header values, taken in turn with the bodies (NULL: none reached the parser). */
static const char *links[] = {
    NULL,
    "",
    "<http://h/l?page=2>; rel=\"next\", <http://h/l?page=9>; rel=\"last\"",
    "</organizations/1/repos?page=2>; rel=\"prev next\"",
    "<http://h/x; rel=next",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    err[0] = '\0';
    spec_t *s = spec_load_text((const char *)data, size, "f.json", err, sizeof(err));
    if (!s) {
        if (strncmp(err, "f.json: $", 9) != 0 || strchr(err, '\n')) abort();
        return 0;
    }
    spec_counts *counts = spec_counts_for(s);
    if (!counts) abort();
    spec_out o;
    spec_out_init(&o);
    o.counts = counts;
    for (size_t i = 0; i < sizeof(urls) / sizeof(*urls); i++) {
        spec_match m;
        int kind = spec_classify(s, urls[i], &m);
        for (size_t k = 0; k < sizeof(bodies) / sizeof(*bodies); k++) {
            const char *b = bodies[k];
            spec_page pg = { urls[i], b, strlen(b), 1, links[k % (sizeof(links) / sizeof(*links))] };
            if (kind == PARSE_KIND_LIST) {
                if (spec_list(s, &m, &pg, &o, err, sizeof(err)) == 0) {
                    if (o.urls.n && (!o.urls.buf || strlen(o.urls.buf) != o.urls.len)) abort();
                    fuzz_check_docs(&o.docs);
                } else if (o.urls.n || o.docs.n || strchr(err, '\n')) {
                    abort();
                }
            } else if (kind == PARSE_KIND_DETAIL) {
                bson_t doc;
                bson_init(&doc);
                o.doc = &doc;
                int rc = spec_item(s, &m, &pg, &o, err, sizeof(err));
                if (rc == 0) {
                    size_t off;
                    bson_iter_t it;
                    if (!bson_validate(&doc, BSON_VALIDATE_UTF8, &off)) abort();
                    if (!bson_iter_init_find(&it, &doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it)) abort();
                } else if (doc.len != 5 || o.urls.n || (rc < 0 && strchr(err, '\n'))) {
                    abort();
                }
                o.doc = NULL;
                bson_destroy(&doc);
            }
        }
    }
    zc_buf lines = { 0 };
    int nl = spec_counts_format(s, counts, &lines);
    if (nl < 0) abort();
    for (size_t i = 0; i < lines.len; i++)
        if ((unsigned char)lines.p[i] < 0x20 && lines.p[i] != '\t' && lines.p[i] != '\n') abort();
    zc_buf_free(&lines);
    spec_out_free(&o);
    spec_counts_free(counts);
    spec_free(s);
    return 0;
}
