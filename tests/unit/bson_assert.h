/* bson_assert.h -- cmocka checks of a document's fields, shared by the spec tests (include after cmocka.h). */
#ifndef BSON_ASSERT_H
#define BSON_ASSERT_H

#include <bson/bson.h>

/* The field key of b; fails the test when it is missing. */
static inline bson_iter_t field(const bson_t *b, const char *key) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, b, key)) fail_msg("field %s missing", key);
    return it;
}

static inline void assert_str(const bson_t *b, const char *key, const char *want) {
    bson_iter_t it = field(b, key);
    if (bson_iter_type(&it) != BSON_TYPE_UTF8) fail_msg("field %s is not a string", key);
    assert_string_equal(bson_iter_utf8(&it, NULL), want);
}

static inline void assert_nullf(const bson_t *b, const char *key) {
    bson_iter_t it = field(b, key);
    if (bson_iter_type(&it) != BSON_TYPE_NULL) fail_msg("field %s is not null", key);
}

#endif
