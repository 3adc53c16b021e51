/* test_dispatch_hosts.c -- dispatch's hosts for the per-host frontier: checked-out
 * hosts handed back once they have room, saved state restored on lease, back-off,
 * idle hosts forgotten, and a dispatch cost that does not grow with idle hosts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dispatch.h"

static int add_fetcher(dispatch *d, const char *id, long credit) {
    int p = dispatch_peer_get(d, id, strlen(id), 1);
    assert_true(p >= 0);
    d->peers[p].role = DISPATCH_FETCHER;
    d->peers[p].credit = credit;
    return p;
}

/* Leases host key with n URLs, as jobs.c does. Returns the host's slot. */
static int lease(dispatch *d, const char *key, int n, int cap, int64_t until, int64_t delay, int64_t now,
                 int64_t wall) {
    int h = dispatch_host_leased(d, key, cap, until, delay, now, wall);
    assert_true(h >= 0);
    for (int i = 0; i < n; i++) {
        char url[160];
        int bad;
        snprintf(url, sizeof(url), "http://%s/p/%d", key, i);
        assert_non_null(dispatch_park(d, url, 0, wall + 30000, &bad));
    }
    dispatch_host_check(d, h);
    return h;
}

static void test_checked_out_host_goes_back_when_it_has_room(void **state) {
    (void)state;
    dispatch d;
    assert_int_equal(dispatch_init(&d, 2, 0), 0);
    add_fetcher(&d, "f1", 100);
    lease(&d, "a.example:80", 3, 0, 0, 0, 1000, 50000);
    dispatch_sync s[8];
    assert_int_equal(dispatch_sync_take(&d, 1000, 50000, s, 8), 0); /* URLs parked: keep it */
    dispatch_item *it1 = dispatch_next(&d, 1000), *it2 = dispatch_next(&d, 1000);
    assert_non_null(it1);
    assert_non_null(it2);
    assert_null(dispatch_next(&d, 1000));                           /* cap 2 */
    assert_int_equal(dispatch_sync_take(&d, 1000, 50000, s, 8), 0); /* still one parked */
    dispatch_answered(&d, it1, 0);
    dispatch_drop(&d, it1);
    dispatch_item *it3 = dispatch_next(&d, 1000);
    assert_non_null(it3);
    dispatch_answered(&d, it2, 0);
    dispatch_drop(&d, it2);
    /* nothing parked, a free slot: hand it back now */
    assert_int_equal(dispatch_sync_take(&d, 1000, 50000, s, 8), 1);
    assert_string_equal(s[0].key, "a.example:80");
    assert_int_equal(s[0].release_at, 50000);
    assert_int_equal(s[0].save, 0);
    dispatch_sync_done(&d, s, 1, 1);
    assert_int_equal(dispatch_nhosts(&d), 1); /* one still in flight */
    dispatch_answered(&d, it3, 0);
    dispatch_drop(&d, it3);
    assert_int_equal(dispatch_nhosts(&d), 0); /* idle and handed back: forgotten */
    dispatch_free(&d);
}

static void test_failed_sync_is_tried_again(void **state) {
    (void)state;
    dispatch d;
    assert_int_equal(dispatch_init(&d, 2, 0), 0);
    lease(&d, "b.example:80", 0, 0, 0, 0, 0, 1000);
    dispatch_sync s[4];
    assert_int_equal(dispatch_sync_take(&d, 0, 1000, s, 4), 1);
    dispatch_sync_done(&d, s, 1, 0); /* Redis failed */
    assert_int_equal(dispatch_nhosts(&d), 1);
    assert_int_equal(dispatch_sync_take(&d, 0, 1000, s, 4), 1);
    dispatch_sync_done(&d, s, 1, 1);
    assert_int_equal(dispatch_nhosts(&d), 0);
    dispatch_free(&d);
}

static void test_saved_state_restored_and_backoff_saved(void **state) {
    (void)state;
    dispatch d;
    assert_int_equal(dispatch_init(&d, 4, 0), 0);
    add_fetcher(&d, "f1", 100);
    /* saved: cap 1, back-off until wall 5000 (now wall 2000, mono 100), delay 500 ms */
    int h = lease(&d, "c.example:80", 3, 1, 5000, 500, 100, 2000);
    assert_int_equal((int)d.hosts[h].cap, 1);
    assert_null(dispatch_next(&d, 100)); /* backing off */
    assert_int_equal(dispatch_rate_wait(&d, 100), 3000);
    dispatch_item *it = dispatch_next(&d, 3100);
    assert_non_null(it);
    assert_null(dispatch_next(&d, 3100)); /* cap 1 */
    /* a 429 with Retry-After 10 s: back-off saved with the lowered cap */
    dispatch_backoff(&d, it, 3200, 5100, 10000);
    dispatch_answered(&d, it, 1);
    dispatch_drop(&d, it);
    dispatch_sync s[4];
    size_t n = dispatch_sync_take(&d, 3200, 5100, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].save, 1);
    assert_int_equal(s[0].cap, 1);
    assert_int_equal(s[0].until_ms, 15100);
    assert_int_equal(s[0].delay_ms, 500);
    assert_int_equal(s[0].release_at, -1); /* URLs still parked */
    dispatch_sync_done(&d, s, n, 1);
    assert_null(dispatch_next(&d, 13000)); /* until mono 13200 */
    assert_non_null(dispatch_next(&d, 13200));
    dispatch_free(&d);
}

static void test_cost_does_not_grow_with_idle_hosts(void **state) {
    (void)state;
    dispatch d;
    assert_int_equal(dispatch_init(&d, 2, 0), 0);
    add_fetcher(&d, "f1", 1 << 30);
    /* 100 000 hosts, each leased with one URL, dispatched, answered, handed back */
    dispatch_sync s[256];
    char key[64];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "h%d.example:80", i);
        lease(&d, key, 1, 0, 0, 0, 0, 1000);
        dispatch_item *it = dispatch_next(&d, 0);
        assert_non_null(it);
        dispatch_answered(&d, it, 0);
        dispatch_drop(&d, it);
        size_t n;
        while ((n = dispatch_sync_take(&d, 0, 1000, s, 256)) > 0) dispatch_sync_done(&d, s, n, 1);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / 100000;
    print_message("100000 hosts: %.2f us per URL in dispatch\n", us);
    assert_int_equal(dispatch_nhosts(&d), 0); /* all forgotten */
    /* 1000 hosts held at once: each still found by hash */
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d.example:80", i);
        lease(&d, key, 2, 0, 0, 0, 0, 1000);
    }
    assert_int_equal(dispatch_nhosts(&d), 1000);
    assert_int_equal(dispatch_nparked(&d), 2000);
    int sent = 0;
    while (dispatch_next(&d, 0)) sent++;
    assert_int_equal(sent, 2000);
    dispatch_free(&d);
}

static void test_gated_host_kept_and_its_rate_saved(void **state) {
    (void)state;
    dispatch d;
    int bad;
    assert_int_equal(dispatch_init(&d, 2, 0), 0);
    add_fetcher(&d, "f1", 10);
    /* robots.txt not known yet: gated, and kept while idle (the gate must hold) */
    assert_int_equal(dispatch_host_set(&d, "http://g.example/x", 1, -1), 0);
    assert_int_equal(dispatch_nhosts(&d), 1);
    dispatch_item *it = dispatch_park(&d, "http://g.example/a", 0, 1000, &bad);
    assert_non_null(it);
    assert_null(dispatch_next(&d, 0));
    dispatch_drop(&d, it);
    assert_int_equal(dispatch_nhosts(&d), 1);
    /* the rules came: Crawl-delay 4 s; the gate opens and the rate is saved */
    assert_int_equal(dispatch_host_set(&d, "http://g.example/", 0, 0.25), 0);
    dispatch_sync s[4];
    size_t n = dispatch_sync_take(&d, 0, 1000, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].save, 1);
    assert_int_equal(s[0].delay_ms, 4000);
    assert_int_equal(s[0].release_at, -1); /* never checked out */
    dispatch_sync_done(&d, s, n, 1);
    assert_int_equal(dispatch_nhosts(&d), 0); /* saved, idle, open: forgotten */
    /* leased again later: the delay comes back from Redis */
    int h = dispatch_host_leased(&d, "g.example:80", 0, 0, 4000, 0, 1000);
    assert_true(d.hosts[h].rate > 0.24 && d.hosts[h].rate < 0.26);
    dispatch_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checked_out_host_goes_back_when_it_has_room),
        cmocka_unit_test(test_failed_sync_is_tried_again),
        cmocka_unit_test(test_saved_state_restored_and_backoff_saved),
        cmocka_unit_test(test_cost_does_not_grow_with_idle_hosts),
        cmocka_unit_test(test_gated_host_kept_and_its_rate_saved),
    };
    return cmocka_run_group_tests_name("dispatch_hosts", tests, NULL, NULL);
}
