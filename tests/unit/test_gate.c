/* test_gate.c -- dispatch's robots.txt gate and per-host rate (broker/guard_robots.c
 * uses them): a gated host sends only its pass item, a host's own rate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dispatch.h"

static void test_gate_lets_only_the_pass_item_through(void **state) {
    (void)state;
    dispatch d;
    int bad;
    assert_int_equal(dispatch_init(&d, 8, 0), 0);
    int f = dispatch_peer_get(&d, "f", 1, 1);
    d.peers[f].role = DISPATCH_FETCHER;
    d.peers[f].credit = 100;
    assert_non_null(dispatch_park(&d, "http://a.example/1", 0, 1000, &bad));
    assert_non_null(dispatch_park(&d, "http://a.example/2", 0, 1000, &bad));
    assert_non_null(dispatch_park(&d, "http://b.example/1", 0, 1000, &bad));
    assert_int_equal(dispatch_host_set(&d, "http://a.example/robots.txt", 1, -1), 0);
    assert_int_equal(dispatch_host_set(&d, "file:///x", 1, -1), -1);
    /* Gated: only b goes. */
    dispatch_item *it = dispatch_next(&d, 0);
    assert_non_null(it);
    assert_string_equal(it->url, "http://b.example/1");
    assert_null(dispatch_next(&d, 0));
    /* robots.txt, parked last, goes first and alone. */
    dispatch_item *r = dispatch_park(&d, "http://a.example/robots.txt", 0, 1000, &bad);
    assert_non_null(r);
    dispatch_pass(&d, r);
    assert_ptr_equal(dispatch_host_parked(&d, "http://a.example/x"), r);
    assert_ptr_equal(dispatch_next(&d, 0), r);
    assert_null(dispatch_next(&d, 0));
    assert_int_equal(dispatch_rate_wait(&d, 0), -1);
    /* Opened: the others follow. */
    assert_int_equal(dispatch_host_set(&d, "http://a.example/", 0, -1), 0);
    assert_non_null(dispatch_next(&d, 0));
    assert_non_null(dispatch_next(&d, 0));
    assert_null(dispatch_next(&d, 0));
    dispatch_free(&d);
}

static void test_host_rate(void **state) {
    (void)state;
    dispatch d;
    int bad;
    char url[64];
    assert_int_equal(dispatch_init(&d, 8, 0), 0);
    int f = dispatch_peer_get(&d, "f", 1, 1);
    d.peers[f].role = DISPATCH_FETCHER;
    d.peers[f].credit = 100;
    for (int i = 0; i < 5; i++) {
        snprintf(url, sizeof(url), "http://slow.example/%d", i);
        assert_non_null(dispatch_park(&d, url, 0, 1000, &bad));
        snprintf(url, sizeof(url), "http://fast.example/%d", i);
        assert_non_null(dispatch_park(&d, url, 0, 1000, &bad));
    }
    /* Crawl-delay 2 s on slow: 0.5 requests per second; fast has no limit. */
    assert_int_equal(dispatch_host_set(&d, "http://slow.example/", 0, 0.5), 0);
    int slow = 0, fast = 0;
    dispatch_item *it;
    while ((it = dispatch_next(&d, 1000)) != NULL) *(strstr(it->url, "slow") ? &slow : &fast) += 1;
    assert_int_equal(slow, 0); /* a request (robots.txt) just went: the next waits */
    assert_int_equal(fast, 5);
    int64_t w = dispatch_rate_wait(&d, 1000);
    assert_true(w > 1900 && w <= 2001);
    assert_null(dispatch_next(&d, 2500));
    assert_non_null(dispatch_next(&d, 3001));
    assert_null(dispatch_next(&d, 3002));
    assert_null(dispatch_next(&d, 4900));
    assert_non_null(dispatch_next(&d, 5002));
    dispatch_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate_lets_only_the_pass_item_through),
        cmocka_unit_test(test_host_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
