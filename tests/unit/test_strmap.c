/* test_strmap.c -- unit tests of lib/zc_strmap: keys found, updated, removed, grown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zc_strmap.h"

static void test_put_get_update(void **state) {
    (void)state;
    zc_strmap *m = zc_strmap_new();
    assert_non_null(m);
    long v = -7;
    assert_int_equal(zc_strmap_get(m, "http://a.example", 16, &v), 0);
    assert_int_equal(v, -7); /* untouched when absent */
    assert_int_equal(zc_strmap_put(m, "http://a.example", 16, 1), 0);
    assert_int_equal(zc_strmap_put(m, "http://b.example", 16, 2), 0);
    assert_int_equal(zc_strmap_get(m, "http://a.example", 16, &v), 1);
    assert_int_equal(v, 1);
    assert_int_equal(zc_strmap_put(m, "http://a.example", 16, 10), 0); /* update, no new key */
    assert_int_equal(zc_strmap_count(m), 2);
    assert_int_equal(zc_strmap_get(m, "http://a.example", 16, &v), 1);
    assert_int_equal(v, 10);
    /* A prefix is another key; so are keys with NUL bytes, and the empty key. */
    assert_int_equal(zc_strmap_get(m, "http://a.exampl", 15, NULL), 0);
    assert_int_equal(zc_strmap_put(m, "a\0b", 3, 3), 0);
    assert_int_equal(zc_strmap_get(m, "a\0c", 3, NULL), 0);
    assert_int_equal(zc_strmap_get(m, "a\0b", 3, &v), 1);
    assert_int_equal(v, 3);
    assert_int_equal(zc_strmap_put(m, "", 0, 4), 0);
    assert_int_equal(zc_strmap_get(m, "", 0, &v), 1);
    assert_int_equal(v, 4);
    assert_int_equal(zc_strmap_del(m, "http://a.example", 16), 1);
    assert_int_equal(zc_strmap_del(m, "http://a.example", 16), 0);
    assert_int_equal(zc_strmap_get(m, "http://a.example", 16, NULL), 0);
    assert_int_equal(zc_strmap_count(m), 3);
    zc_strmap_free(m);
    zc_strmap_free(NULL);
}

/* Many keys (the table grows many times), half removed in an order unlike the
 * insertion's, then re-added: every key present is found with its value, every
 * removed one is not. */
static void test_many_keys(void **state) {
    (void)state;
    enum { N = 20000 };
    zc_strmap *m = zc_strmap_new();
    assert_non_null(m);
    char k[64];
    for (long i = 0; i < N; i++) {
        int n = snprintf(k, sizeof(k), "http://h%ld.localhost:8080", i);
        assert_int_equal(zc_strmap_put(m, k, (size_t)n, i), 0);
    }
    assert_int_equal(zc_strmap_count(m), N);
    for (long i = N - 1; i >= 0; i -= 2) {
        int n = snprintf(k, sizeof(k), "http://h%ld.localhost:8080", i);
        assert_int_equal(zc_strmap_del(m, k, (size_t)n), 1);
    }
    assert_int_equal(zc_strmap_count(m), N / 2);
    for (long i = 0; i < N; i++) {
        int n = snprintf(k, sizeof(k), "http://h%ld.localhost:8080", i);
        long v = -1;
        assert_int_equal(zc_strmap_get(m, k, (size_t)n, &v), i % 2 == 0);
        if (i % 2 == 0) assert_int_equal(v, i);
    }
    for (long i = 1; i < N; i += 2) {
        int n = snprintf(k, sizeof(k), "http://h%ld.localhost:8080", i);
        assert_int_equal(zc_strmap_put(m, k, (size_t)n, -i), 0);
    }
    for (long i = 0; i < N; i++) {
        int n = snprintf(k, sizeof(k), "http://h%ld.localhost:8080", i);
        long v = 0;
        assert_int_equal(zc_strmap_get(m, k, (size_t)n, &v), 1);
        assert_int_equal(v, i % 2 ? -i : i);
    }
    zc_strmap_free(m);
}

/* A ring of 512 identities, each new one replacing the oldest (as the broker's
 * known identities do), checked against a plain array after every step: the
 * backward-shift deletion never loses a key that wraps around the table's end. */
static void test_churn_against_array(void **state) {
    (void)state;
    enum { RING = 512,
           STEPS = 20000 };
    zc_strmap *m = zc_strmap_new();
    assert_non_null(m);
    unsigned char ring[RING][8];
    int used[RING] = { 0 };
    uint64_t x = 88172645463325252ULL;
    for (int s = 0; s < STEPS; s++) {
        int slot = s % RING;
        if (used[slot]) assert_int_equal(zc_strmap_del(m, ring[slot], 8), 1);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        memcpy(ring[slot], &x, 8);
        used[slot] = 1;
        assert_int_equal(zc_strmap_put(m, ring[slot], 8, slot), 0);
        if (s % 97 == 0 || s == STEPS - 1)
            for (int i = 0; i < RING; i++) {
                if (!used[i]) continue;
                long v = -1;
                assert_int_equal(zc_strmap_get(m, ring[i], 8, &v), 1);
                assert_int_equal(v, i);
            }
    }
    assert_int_equal(zc_strmap_count(m), RING);
    zc_strmap_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_update),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_churn_against_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
