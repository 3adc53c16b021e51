/* writer_doc.c -- the checks a DOC's BSON must pass before it reaches a sink. */
#include "writer_doc.h"

#include <stdio.h>
#include <string.h>
#include <bson/bson.h>

#include "zc_utf8.h"

/* Walks every element at every depth once, iteratively, failing on corruption, on
 * nesting deeper than WRITER_DOC_DEPTH, on a key that is empty, starts with '$',
 * holds a '.' or is not UTF-8 (the driver's checks for a replacement document), and
 * on a string value that is not UTF-8. Returns 0, or -1 with a reason in err. */
static int doc_walk(const bson_t *b, char *err, size_t errlen) {
    /* bson_iter_t is over-aligned: a struct around it keeps the array legal. */
    struct {
        bson_iter_t it;
    } stack[WRITER_DOC_DEPTH];
    int depth = 0;
    if (!bson_iter_init(&stack[0].it, b)) {
        snprintf(err, errlen, "not a BSON document");
        return -1;
    }
    while (depth >= 0) {
        bson_iter_t *it = &stack[depth].it;
        if (!bson_iter_next(it)) {
            if (it->err_off) {
                snprintf(err, errlen, "invalid BSON: corrupt element at offset %u", it->err_off);
                return -1;
            }
            depth--;
            continue;
        }
        uint32_t klen = bson_iter_key_len(it);
        const char *key = bson_iter_key(it);
        if (klen == 0) {
            snprintf(err, errlen, "invalid BSON: empty key");
            return -1;
        }
        if (key[0] == '$' || memchr(key, '.', klen) || !zc_utf8_valid(key, klen)) {
            snprintf(err, errlen, "invalid BSON: key \"%.64s\" starts with '$', holds a '.' or is not UTF-8", key);
            return -1;
        }
        if (BSON_ITER_HOLDS_UTF8(it)) {
            uint32_t len = 0;
            const char *s = bson_iter_utf8(it, &len);
            /* NUL inside a string is allowed, as the driver allows it. */
            if (!s || !zc_utf8_valid(s, len)) {
                snprintf(err, errlen, "invalid BSON: string at key \"%.64s\" is not UTF-8", bson_iter_key(it));
                return -1;
            }
        } else if (BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) {
            if (depth + 1 >= WRITER_DOC_DEPTH) {
                snprintf(err, errlen, "document nests deeper than %d levels", WRITER_DOC_DEPTH);
                return -1;
            }
            if (!bson_iter_recurse(it, &stack[depth + 1].it)) {
                snprintf(err, errlen, "invalid BSON: corrupt sub-document at key \"%.64s\"", bson_iter_key(it));
                return -1;
            }
            depth++;
        }
    }
    return 0;
}

int writer_doc_check(const uint8_t *data, size_t len, char *err, size_t errlen) {
    bson_t b;
    bson_iter_t it;

    if (len > WRITER_DOC_MAX) {
        snprintf(err, errlen, "document of %zu bytes is over the %d-byte limit", len, WRITER_DOC_MAX);
        return -1;
    }
    /* bson_init_static checks the length prefix against len and the final NUL. */
    if (data == NULL || len < 5 || !bson_init_static(&b, data, len)) {
        snprintf(err, errlen, "not a BSON document (%zu bytes, bad length prefix or terminator)", len);
        return -1;
    }
    /* One iterative walk (libbson's bson_validate recurses without a limit: a 16 MB
     * document nested 2 million deep would overflow the stack). */
    if (doc_walk(&b, err, errlen) != 0) return -1;
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
