/* test_addr.c -- unit tests of lib/zc_addr: every special range, IPv4 and IPv6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "zc_addr.h"

typedef struct {
    const char *ip;
    zc_addr_class cls;
} addr_case;

static void check_cases(const addr_case *c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        zc_addr_class got;
        if (zc_addr_classify_text(c[i].ip, &got) != 0) fail_msg("%s not parsed", c[i].ip);
        if (got != c[i].cls)
            fail_msg("%s is %s, want %s", c[i].ip, zc_addr_class_name(got), zc_addr_class_name(c[i].cls));
    }
}

#define CHECK(cases) check_cases(cases, sizeof(cases) / sizeof(cases[0]))

static void test_v4_ranges(void **state) {
    (void)state;
    static const addr_case cases[] = {
        /* each range at its first and last address, and its neighbours outside */
        { "0.0.0.0", ZC_ADDR_UNSPECIFIED },
        { "0.255.255.255", ZC_ADDR_UNSPECIFIED },
        { "1.0.0.0", ZC_ADDR_PUBLIC },
        { "9.255.255.255", ZC_ADDR_PUBLIC },
        { "10.0.0.0", ZC_ADDR_PRIVATE },
        { "10.255.255.255", ZC_ADDR_PRIVATE },
        { "11.0.0.0", ZC_ADDR_PUBLIC },
        { "100.63.255.255", ZC_ADDR_PUBLIC },
        { "100.64.0.0", ZC_ADDR_CGNAT },
        { "100.127.255.255", ZC_ADDR_CGNAT },
        { "100.128.0.0", ZC_ADDR_PUBLIC },
        { "126.255.255.255", ZC_ADDR_PUBLIC },
        { "127.0.0.1", ZC_ADDR_LOOPBACK },
        { "127.255.255.254", ZC_ADDR_LOOPBACK },
        { "128.0.0.0", ZC_ADDR_PUBLIC },
        { "169.253.255.255", ZC_ADDR_PUBLIC },
        { "169.254.0.0", ZC_ADDR_LINKLOCAL },
        { "169.254.169.254", ZC_ADDR_LINKLOCAL },
        { "169.255.0.0", ZC_ADDR_PUBLIC },
        { "172.15.255.255", ZC_ADDR_PUBLIC },
        { "172.16.0.0", ZC_ADDR_PRIVATE },
        { "172.31.255.255", ZC_ADDR_PRIVATE },
        { "172.32.0.0", ZC_ADDR_PUBLIC },
        { "192.0.0.0", ZC_ADDR_RESERVED },
        { "192.0.0.255", ZC_ADDR_RESERVED },
        { "192.0.1.0", ZC_ADDR_PUBLIC },
        { "192.0.2.1", ZC_ADDR_RESERVED },
        { "192.0.3.0", ZC_ADDR_PUBLIC },
        { "192.88.99.1", ZC_ADDR_RESERVED },
        { "192.88.100.0", ZC_ADDR_PUBLIC },
        { "192.167.255.255", ZC_ADDR_PUBLIC },
        { "192.168.0.0", ZC_ADDR_PRIVATE },
        { "192.168.255.255", ZC_ADDR_PRIVATE },
        { "192.169.0.0", ZC_ADDR_PUBLIC },
        { "198.17.255.255", ZC_ADDR_PUBLIC },
        { "198.18.0.0", ZC_ADDR_RESERVED },
        { "198.19.255.255", ZC_ADDR_RESERVED },
        { "198.20.0.0", ZC_ADDR_PUBLIC },
        { "198.51.100.7", ZC_ADDR_RESERVED },
        { "203.0.113.9", ZC_ADDR_RESERVED },
        { "203.0.114.0", ZC_ADDR_PUBLIC },
        { "223.255.255.255", ZC_ADDR_PUBLIC },
        { "224.0.0.1", ZC_ADDR_MULTICAST },
        { "239.255.255.255", ZC_ADDR_MULTICAST },
        { "240.0.0.0", ZC_ADDR_RESERVED },
        { "255.255.255.255", ZC_ADDR_RESERVED },
        { "8.8.8.8", ZC_ADDR_PUBLIC },
        { "93.184.216.34", ZC_ADDR_PUBLIC },
    };
    CHECK(cases);
}

static void test_v6_ranges(void **state) {
    (void)state;
    static const addr_case cases[] = {
        { "::", ZC_ADDR_UNSPECIFIED },
        { "::1", ZC_ADDR_LOOPBACK },
        { "[::1]", ZC_ADDR_LOOPBACK },
        { "::2", ZC_ADDR_RESERVED }, /* ::/8 and every other prefix outside 2000::/3 */
        { "fc00::1", ZC_ADDR_PRIVATE },
        { "fdff:ffff::1", ZC_ADDR_PRIVATE },
        { "fbff::1", ZC_ADDR_RESERVED },
        { "fe80::1", ZC_ADDR_LINKLOCAL },
        { "febf:ffff::1", ZC_ADDR_LINKLOCAL },
        { "fec0::1", ZC_ADDR_PRIVATE },
        { "ff02::1", ZC_ADDR_MULTICAST },
        { "ff0e::1", ZC_ADDR_MULTICAST },
        { "2001:db8::1", ZC_ADDR_RESERVED },
        { "3fff::1", ZC_ADDR_RESERVED },
        { "2001::1", ZC_ADDR_RESERVED },
        { "2001:1ff::1", ZC_ADDR_RESERVED },
        { "2001:200::1", ZC_ADDR_PUBLIC },
        { "100::1", ZC_ADDR_RESERVED },
        { "100:0:0:1::1", ZC_ADDR_RESERVED },
        { "64:ff9b:1::1", ZC_ADDR_PRIVATE },
        { "2606:4700:4700::1111", ZC_ADDR_PUBLIC },
        { "2a00:1450:4001::1", ZC_ADDR_PUBLIC },
        { "4000::1", ZC_ADDR_RESERVED },
        { "1fff::1", ZC_ADDR_RESERVED },
    };
    CHECK(cases);
}

static void test_v6_carrying_v4(void **state) {
    (void)state;
    static const addr_case cases[] = {
        /* v4-mapped: the IPv4 address inside decides */
        { "::ffff:127.0.0.1", ZC_ADDR_LOOPBACK },
        { "::ffff:10.1.2.3", ZC_ADDR_PRIVATE },
        { "::ffff:169.254.169.254", ZC_ADDR_LINKLOCAL },
        { "::ffff:100.64.0.1", ZC_ADDR_CGNAT },
        { "::ffff:0.0.0.0", ZC_ADDR_UNSPECIFIED },
        { "::ffff:224.0.0.1", ZC_ADDR_MULTICAST },
        { "::ffff:7f00:1", ZC_ADDR_LOOPBACK },
        { "::ffff:8.8.8.8", ZC_ADDR_PUBLIC },
        /* NAT64 and 6to4 */
        { "64:ff9b::7f00:1", ZC_ADDR_LOOPBACK },
        { "64:ff9b::192.168.1.1", ZC_ADDR_PRIVATE },
        { "64:ff9b::8.8.8.8", ZC_ADDR_PUBLIC },
        { "2002:7f00:1::", ZC_ADDR_LOOPBACK },
        { "2002:a00:1::1", ZC_ADDR_PRIVATE },
        { "2002:808:808::1", ZC_ADDR_PUBLIC },
        /* v4-compatible (deprecated) is not an IPv4 path */
        { "::127.0.0.1", ZC_ADDR_RESERVED },
    };
    CHECK(cases);
}

static void test_sockaddr_and_format(void **state) {
    (void)state;
    struct sockaddr_in in;
    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, "192.168.7.7", &in.sin_addr), 1);
    assert_int_equal(zc_addr_classify((struct sockaddr *)&in), ZC_ADDR_PRIVATE);
    char buf[64];
    assert_int_equal(zc_addr_format((struct sockaddr *)&in, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "192.168.7.7");
    assert_int_equal(zc_addr_format((struct sockaddr *)&in, buf, 5), -1);
    assert_string_equal(buf, "?");

    struct sockaddr_in6 in6;
    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.2", &in6.sin6_addr), 1);
    assert_int_equal(zc_addr_classify((struct sockaddr *)&in6), ZC_ADDR_LOOPBACK);
    assert_int_equal(zc_addr_format((struct sockaddr *)&in6, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "::ffff:127.0.0.2");

    struct sockaddr other;
    memset(&other, 0, sizeof(other));
    other.sa_family = AF_UNIX;
    assert_int_equal(zc_addr_classify(&other), ZC_ADDR_RESERVED);
    assert_int_equal(zc_addr_classify(NULL), ZC_ADDR_RESERVED);
    assert_int_equal(zc_addr_format(&other, buf, sizeof(buf)), -1);
}

static void test_text_rejects(void **state) {
    (void)state;
    const char *bad[] = { "", "localhost", "example.com", "127.1", "1.2.3.4.5", "[::1", "::1]", "[]",
                          "256.0.0.1", "::ffff:1.2.3", "fe80::1%eth0", NULL };
    zc_addr_class c = ZC_ADDR_PUBLIC;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (zc_addr_classify_text(bad[i], &c) != -1) fail_msg("'%s' parsed", bad[i] ? bad[i] : "(null)");
    assert_string_equal(zc_addr_class_name(ZC_ADDR_CGNAT), "cgnat");
    assert_string_equal(zc_addr_class_name(ZC_ADDR_LINKLOCAL), "link-local");
}

static void test_url_private(void **state) {
    (void)state;
    const char *priv[] = { "http://127.0.0.1:8080/api/book/", "http://[::1]/", "http://10.0.0.7/x",
                           "https://192.168.1.1:8443/", "http://localhost:8080/", "http://LOCALHOST./",
                           "http://h0.localhost:9000/", "http://a.b.Localhost/", "http://169.254.169.254/",
                           "http://[::ffff:127.0.0.1]/", "http://127.1/", "http://2130706433/" };
    const char *pub[] = { "http://8.8.8.8/", "https://93.184.216.34:443/x?y", "http://[2606:4700:4700::1111]/" };
    char err[256];
    for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
        err[0] = '\0';
        int rc = zc_addr_url_private(priv[i], err, sizeof(err));
        if (rc != 1) fail_msg("%s: %d (%s), want private", priv[i], rc, err);
    }
    for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++) {
        err[0] = '\0';
        int rc = zc_addr_url_private(pub[i], err, sizeof(err));
        if (rc != 0) fail_msg("%s: %d (%s), want public", pub[i], rc, err);
    }
    const char *bad[] = { "", "not a url", "file:///etc/passwd", "http://no-such-host.invalid/" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(zc_addr_url_private(bad[i], err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(zc_addr_url_private(NULL, err, sizeof(err)), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_ranges),
        cmocka_unit_test(test_v6_ranges),
        cmocka_unit_test(test_v6_carrying_v4),
        cmocka_unit_test(test_sockaddr_and_format),
        cmocka_unit_test(test_text_rejects),
        cmocka_unit_test(test_url_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
