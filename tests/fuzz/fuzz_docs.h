/* fuzz_docs.h -- what the spec harnesses check of every document a page yields. */
#ifndef FUZZ_DOCS_H
#define FUZZ_DOCS_H

#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include "spec.h"

/* A document is valid BSON with valid UTF-8 and a string _id first; anything else aborts. */
static inline void fuzz_check_doc(const bson_t *doc) {
    size_t off;
    bson_iter_t it;
    if (!bson_validate(doc, BSON_VALIDATE_UTF8, &off)) abort();
    if (!bson_iter_init(&it, doc) || !bson_iter_next(&it) || strcmp(bson_iter_key(&it), "_id") != 0 || !BSON_ITER_HOLDS_UTF8(&it))
        abort();
}

/* Every document of d is one, and d->n counts them. */
static inline void fuzz_check_docs(const spec_docs *d) {
    size_t off = 0, n = 0;
    while (off < d->len) {
        bson_t doc;
        uint32_t len;
        if (d->len - off < 5) abort();
        memcpy(&len, d->buf + off, 4);
        len = BSON_UINT32_FROM_LE(len);
        if (len < 5 || len > d->len - off || !bson_init_static(&doc, d->buf + off, len)) abort();
        fuzz_check_doc(&doc);
        off += len;
        n++;
    }
    if (n != d->n) abort();
}

#endif
