/* test_dispatch.c -- the broker's in-memory dispatcher: credit, per-host caps,
 * rate limits, AIMD on throttling, and forgetting an expired fetcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dispatch.h"

static int add_fetcher(dispatch *d, const char *id, long credit) {
    int p = dispatch_peer_get(d, id, strlen(id), 1);
    assert_true(p >= 0);
    d->peers[p].role = DISPATCH_FETCHER;
    d->peers[p].credit = credit;
    return p;
}

static void park_n(dispatch *d, const char *host, int n) {
    for (int i = 0; i < n; i++) {
        char url[128];
        int bad;
        snprintf(url, sizeof(url), "http://%s/api/book/%d", host, i);
        assert_non_null(dispatch_park(d, url, 0, 1000, &bad));
    }
}

static void test_credit_and_host_cap(void **state) {
    (void)state;
    dispatch d;
    assert_int_equal(dispatch_init(&d, 3, 0), 0);
    int f1 = add_fetcher(&d, "f1", 2);
    int f2 = add_fetcher(&d, "f2", 5);
    park_n(&d, "a.example", 10);
    park_n(&d, "b.example", 10);
    assert_int_equal(dispatch_total_credit(&d), 7);
    int sent = 0, per_host[2] = { 0, 0 };
    dispatch_item *it;
    while ((it = dispatch_next(&d, 0)) != NULL) {
        sent++;
        per_host[strstr(it->url, "a.example") ? 0 : 1]++;
    }
    /* 7 credits but 3 per host: 6 go out, 3 to each host. */
    assert_int_equal(sent, 6);
    assert_int_equal(per_host[0], 3);
    assert_int_equal(per_host[1], 3);
    assert_int_equal(d.ninflight, 6);
    assert_int_equal(d.nparked, 14);
    assert_int_equal(d.peers[f1].credit + d.peers[f2].credit, 1);
    /* A DONE frees the host slot: one more may go. */
    it = d.peers[f2].held.head;
    dispatch_answered(&d, it, 0);
    dispatch_drop(&d, it);
    d.peers[f2].credit++;
    assert_non_null(dispatch_next(&d, 0));
    assert_null(dispatch_next(&d, 0));
    /* Forgetting a fetcher drops what it held. */
    size_t held = d.peers[f1].held.n;
    size_t before = d.nitems;
    dispatch_peer_forget(&d, f1);
    assert_int_equal(d.nitems, before - held);
    dispatch_free(&d);
}

static void test_duplicate_and_bad_urls(void **state) {
    (void)state;
    dispatch d;
    assert_int_equal(dispatch_init(&d, 8, 0), 0);
    int bad;
    assert_non_null(dispatch_park(&d, "http://h/x", 0, 0, &bad));
    assert_null(dispatch_park(&d, "http://h/x", 0, 0, &bad));
    assert_int_equal(bad, 0);
    assert_null(dispatch_park(&d, "nonsense", 0, 0, &bad));
    assert_int_equal(bad, 1);
    assert_non_null(dispatch_find(&d, "http://h/x"));
    assert_null(dispatch_find(&d, "http://h/y"));
    dispatch_free(&d);
}

static void test_rate_limit(void **state) {
    (void)state;
    dispatch d;
    assert_int_equal(dispatch_init(&d, 100, 10.0), 0); /* 10 per second */
    add_fetcher(&d, "f", 1000);
    park_n(&d, "slow.example", 50);
    int sent = 0;
    for (int64_t t = 1000; t <= 2000; t += 10)
        while (dispatch_next(&d, t)) sent++;
    /* One token at start plus 10 per second over one second. */
    assert_true(sent >= 10 && sent <= 12);
    assert_true(dispatch_rate_wait(&d, 2000) >= 0);
    dispatch_free(&d);
}

/* d: a host of 100 parked URLs under a cap of 8, whose first JOB got a 429. */
static void throttle_once(dispatch *d) {
    assert_int_equal(dispatch_init(d, 8, 0), 0);
    add_fetcher(d, "f", 1000);
    park_n(d, "h", 100);
    dispatch_item *it = dispatch_next(d, 0);
    assert_non_null(it);
    dispatch_answered(d, it, 1); /* 429 */
    dispatch_drop(d, it);
}

static void test_aimd_on_throttling(void **state) {
    (void)state;
    dispatch d;
    throttle_once(&d);
    dispatch_item *it;
    assert_true(d.hosts[0].cap < 8);
    assert_true(d.hosts[0].cap >= 1);
    for (int i = 0; i < 200; i++) {
        it = dispatch_next(&d, 0);
        if (!it) break;
        dispatch_answered(&d, it, 0);
        dispatch_drop(&d, it);
    }
    assert_true(d.hosts[0].cap == 8); /* recovered by additive increase */
    dispatch_free(&d);
}

/* JOBs that got no answer (their fetcher died, they timed out) free their slots
 * but are no successes: they raised a throttled host's cap back as if the host
 * had answered them, and a shift of deadlines moves every held item. */
static void test_unanswered_raise_no_cap(void **state) {
    (void)state;
    dispatch d;
    throttle_once(&d);
    dispatch_item *it;
    double cap = d.hosts[0].cap;
    assert_true(cap < 8);
    for (int i = 0; i < 50; i++) {
        it = dispatch_next(&d, 0);
        assert_non_null(it);
        dispatch_answered(&d, it, DISPATCH_UNANSWERED);
        dispatch_drop(&d, it);
    }
    assert_true(d.hosts[0].cap == cap);
    assert_int_equal(d.hosts[0].inflight, 0);
    it = dispatch_next(&d, 0);
    assert_non_null(it);
    int64_t before = it->deadline;
    dispatch_shift_deadlines(&d, 5000);
    assert_true(it->deadline == before + 5000);
    dispatch_free(&d);
}

static int keep_only(void *arg, int peer) { return peer == *(int *)arg; }

/* What the broker's maintenance and shutdown reach through: leases due for
 * renewal (parked always, held only at the peers keep accepts), any parked item,
 * a peer's oldest held item. */
static void test_accessors_for_the_broker(void **state) {
    (void)state;
    dispatch d;
    assert_int_equal(dispatch_init(&d, 100, 0), 0);
    int f1 = add_fetcher(&d, "f1", 2), f2 = add_fetcher(&d, "f2", 2);
    park_n(&d, "h", 6); /* deadline 1000 each */
    for (int i = 0; i < 4; i++) assert_non_null(dispatch_next(&d, 0));
    assert_int_equal(dispatch_nparked(&d), 2);
    assert_int_equal(dispatch_ninflight(&d), 4);
    dispatch_item *out[16];
    assert_int_equal(dispatch_expiring(&d, 1001, NULL, NULL, out, 16), 6);
    assert_int_equal(dispatch_expiring(&d, 1000, NULL, NULL, out, 16), 0);
    assert_int_equal(dispatch_expiring(&d, 1001, NULL, NULL, out, 3), 3);
    /* Only f1's held items, and every parked one. */
    assert_int_equal(dispatch_expiring(&d, 1001, keep_only, &f1, out, 16), 4);
    assert_non_null(dispatch_peer_at(&d, f2));
    assert_null(dispatch_peer_at(&d, 99));
    assert_null(dispatch_peer_at(&d, -1));
    dispatch_item *it = dispatch_first_held(&d, f2);
    assert_non_null(it);
    assert_int_equal(it->peer, f2);
    size_t n = 0;
    while ((it = dispatch_any_parked(&d)) != NULL) {
        assert_int_equal(it->peer, -1);
        dispatch_drop(&d, it);
        n++;
    }
    assert_int_equal(n, 2);
    dispatch_peer_forget(&d, f2);
    assert_null(dispatch_peer_at(&d, f2));
    assert_null(dispatch_first_held(&d, f2));
    assert_int_equal(dispatch_nitems(&d), 2);
    dispatch_free(&d);
}

/* The window's default rests on the fetchers' concurrency, which credit alone
 * hides once JOBs are out: capacity keeps credit + held at its peak. */
static void test_capacity_survives_spent_credit(void **state) {
    (void)state;
    dispatch d;
    assert_int_equal(dispatch_init(&d, 100, 0), 0);
    int f = add_fetcher(&d, "f", 4);
    dispatch_peer_capacity(dispatch_peer_at(&d, f));
    park_n(&d, "h", 10);
    for (int i = 0; i < 4; i++) assert_non_null(dispatch_next(&d, 0));
    assert_int_equal(dispatch_total_credit(&d), 0);
    assert_int_equal(dispatch_total_capacity(&d), 4);
    dispatch_peer_at(&d, f)->credit = 2; /* CREDIT came, then it went silent */
    dispatch_peer_at(&d, f)->paused = 1;
    assert_int_equal(dispatch_total_capacity(&d), 0);
    assert_int_equal(dispatch_total_credit(&d), 0);
    assert_null(dispatch_next(&d, 0)); /* paused: no JOBs */
    dispatch_peer_at(&d, f)->paused = 0;
    assert_non_null(dispatch_next(&d, 0));
    dispatch_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credit_and_host_cap),
        cmocka_unit_test(test_duplicate_and_bad_urls),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_aimd_on_throttling),
        cmocka_unit_test(test_unanswered_raise_no_cap),
        cmocka_unit_test(test_accessors_for_the_broker),
        cmocka_unit_test(test_capacity_survives_spent_credit),
    };
    return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
