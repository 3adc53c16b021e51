/* writer_doc.c -- the checks a DOC's BSON must pass before it reaches a sink. */
#include "writer_doc.h"

#include <stdio.h>
#include <bson/bson.h>

int writer_doc_check(const uint8_t *data, size_t len, char *err, size_t errlen) {
    bson_t b;
    bson_iter_t it;
    bson_error_t berr;

    if (len > WRITER_DOC_MAX) {
        snprintf(err, errlen, "document of %zu bytes is over the %d-byte limit", len, WRITER_DOC_MAX);
        return -1;
    }
    /* bson_init_static checks the length prefix against len and the final NUL. */
    if (data == NULL || len < 5 || !bson_init_static(&b, data, len)) {
        snprintf(err, errlen, "not a BSON document (%zu bytes, bad length prefix or terminator)", len);
        return -1;
    }
    if (!bson_validate_with_error(&b, WRITER_DOC_VFLAGS, &berr)) {
        snprintf(err, errlen, "invalid BSON: %s", berr.message);
        return -1;
    }
    if (!bson_iter_init_find(&it, &b, "_id")) {
        snprintf(err, errlen, "document has no _id");
        return -1;
    }
    if (!BSON_ITER_HOLDS_UTF8(&it)) {
        snprintf(err, errlen, "_id is not a string (BSON type 0x%02x)", (unsigned)bson_iter_type(&it));
        return -1;
    }
    uint32_t idlen = 0;
    if (bson_iter_utf8(&it, &idlen) == NULL || idlen == 0) {
        snprintf(err, errlen, "_id is an empty string");
        return -1;
    }
    return 0;
}
