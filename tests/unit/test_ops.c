/* test_ops.c -- unit tests of the operators' tools: the host counts of
 * `zcrawl status` and the /metrics address and label escaping of the broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "zc_crawlstat.h"

static void host_is(const char *url, const char *want) {
    char out[64];
    if (zc_cs_url_host(url, strlen(url), out, sizeof(out)) != 0) fail_msg("%s rejected", url);
    assert_string_equal(out, want);
}

static void test_url_host(void **state) {
    (void)state;
    host_is("http://127.0.0.1:8080/api/book/1", "127.0.0.1:8080");
    host_is("https://Example.COM", "example.com");
    host_is("http://user:pw@h.example:81?q=1", "h.example:81");
    host_is("http://h#frag", "h");
    host_is("http://[::1]:8080/x", "[::1]:8080");
    char out[8];
    const char *bad[] = { "", "http:/h/", "://h/", "http:///x", "no scheme/x", "a b://h/" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (zc_cs_url_host(bad[i], strlen(bad[i]), out, sizeof(out)) == 0) fail_msg("'%s' accepted: %s", bad[i], out);
    /* Too long for the buffer, and the length given, not the terminator, bounds the URL. */
    assert_int_equal(zc_cs_url_host("http://longhostname/", 20, out, sizeof(out)), -1);
    assert_int_equal(zc_cs_url_host("http://h/xyz", 8, out, sizeof(out)), 0);
    assert_string_equal(out, "h");
}

static void test_hosts_count_and_sort(void **state) {
    (void)state;
    zc_cs_counts h = { 0 };
    char name[32];
    /* Enough hosts to grow the table several times; host i is added i % 7 + 1 times. */
    for (int i = 0; i < 500; i++)
        for (int k = 0; k <= i % 7; k++) {
            snprintf(name, sizeof(name), "h%d", i);
            assert_int_equal(zc_cs_counts_add(&h, name, 1), 0);
        }
    assert_int_equal(h.used, 500);
    size_t n;
    zc_cs_count *v = zc_cs_counts_sorted(&h, &n);
    assert_non_null(v);
    assert_int_equal(n, 500);
    assert_int_equal(h.used, 0);
    long long total = 0;
    for (size_t i = 0; i < n; i++) {
        total += v[i].n;
        if (i) assert_true(v[i - 1].n > v[i].n || (v[i - 1].n == v[i].n && strcmp(v[i - 1].name, v[i].name) < 0));
    }
    long long want = 0;
    for (int i = 0; i < 500; i++) want += i % 7 + 1;
    assert_int_equal(total, want);
    assert_int_equal(v[0].n, 7);
    assert_string_equal(v[0].name, "h104"); /* the smallest name among i % 7 == 6 */
    zc_cs_counts_free_sorted(v, n);
    zc_cs_counts_free(&h); /* emptied: a no-op */
    assert_null(zc_cs_counts_sorted(&h, &n));
    assert_int_equal(n, 0);
}

static void addr_is(const char *addr, const char *host, int port) {
    char h[64], err[128];
    int p = 0;
    if (broker_metrics_parse_addr(addr, h, sizeof(h), &p, err, sizeof(err)) != 0) fail_msg("%s: %s", addr, err);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
    assert_int_equal(broker_metrics_check(addr, "pw", 0, err, sizeof(err)), 0);
}

static void test_metrics_addr(void **state) {
    (void)state;
    addr_is("127.0.0.1:9108", "127.0.0.1", 9108);
    addr_is(":9108", "", 9108);
    addr_is("[::1]:9108", "::1", 9108);
    addr_is("localhost:1", "localhost", 1);
    const char *bad[] = { "", "9108", "h:", "h:0", "h:65536", "h:12x", "[::1]9108", "[::1", ":-1" };
    char h[64], err[128];
    int p;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (broker_metrics_parse_addr(bad[i], h, sizeof(h), &p, err, sizeof(err)) == 0) fail_msg("'%s' accepted", bad[i]);
        assert_non_null(strstr(err, "--metrics"));
    }
    char tiny[4];
    assert_int_equal(broker_metrics_parse_addr("longhost:1", tiny, sizeof(tiny), &p, err, sizeof(err)), -1);
}

static void test_metrics_label(void **state) {
    (void)state;
    zc_buf b = { 0 };
    assert_int_equal(broker_metrics_label(&b, "a\"b\\c\nd"), 0);
    assert_int_equal(zc_buf_add(&b, "", 1, 0), 0);
    assert_string_equal(b.p, "a\\\"b\\\\c\\nd");
    zc_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_host),
        cmocka_unit_test(test_hosts_count_and_sort),
        cmocka_unit_test(test_metrics_addr),
        cmocka_unit_test(test_metrics_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
