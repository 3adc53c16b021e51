/* test_scope.c -- unit tests of lib/zc_scope: origins of start URLs, host patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zc_scope.h"

static void test_origin(void **state) {
    (void)state;
    char o[ZC_SCOPE_ORIGIN_MAX], err[128];
    assert_int_equal(zc_scope_origin("HTTP://Example.COM:80/a?b=1", o, sizeof(o), err, sizeof(err)), 0);
    assert_string_equal(o, "http://example.com");
    /* Credentials are refused, not stripped: "a.example@b.example" is b.example to
     * libcurl and a.example to a reader. */
    assert_int_equal(zc_scope_origin("HTTP://User:pw@Example.COM:80/a?b=1", o, sizeof(o), err, sizeof(err)), -1);
    assert_string_equal(err, "URL holds credentials (user@host)");
    assert_int_equal(zc_scope_origin("https://h.example:8443", o, sizeof(o), err, sizeof(err)), 0);
    assert_string_equal(o, "https://h.example:8443");
    assert_int_equal(zc_scope_origin("http://[::1]:9/x", o, sizeof(o), err, sizeof(err)), 0);
    assert_string_equal(o, "http://[::1]:9");
    assert_int_equal(zc_scope_origin("file:///etc/passwd", o, sizeof(o), err, sizeof(err)), -1);
    assert_int_equal(zc_scope_origin("ftp://example.com/", o, sizeof(o), err, sizeof(err)), -1);
    assert_int_equal(zc_scope_origin("/relative", o, sizeof(o), err, sizeof(err)), -1);
}

static void test_origins(void **state) {
    (void)state;
    char err[128];
    zc_scope *s = zc_scope_new();
    assert_non_null(s);
    assert_int_equal(zc_scope_allows(s, "http://127.0.0.1:8080/"), 0); /* empty scope: nothing */
    assert_int_equal(zc_scope_add_origin(s, "http://127.0.0.1:8080/api/book/?limit=18", err, sizeof(err)), 1);
    assert_int_equal(zc_scope_add_origin(s, "http://127.0.0.1:8080/other", err, sizeof(err)), 0);
    assert_int_equal(zc_scope_add_origin(s, "gopher://x/", err, sizeof(err)), -1);
    assert_int_equal(zc_scope_allows(s, "http://127.0.0.1:8080/api/book/1"), 1);
    assert_int_equal(zc_scope_allows(s, "HTTP://127.0.0.1:8080"), 1);
    assert_int_equal(zc_scope_allows(s, "http://x@127.0.0.1:8080/a"), 0); /* credentials */
    assert_int_equal(zc_scope_allows(s, "http://127.0.0.1:8080@127.0.0.2/a"), 0);
    assert_int_equal(zc_scope_allows(s, "http://0x7f.1:8080/a"), 0);              /* 127.0.0.1 to libcurl */
    assert_int_equal(zc_scope_allows(s, "http://127.0.0.1:8081/api/book/1"), 0);  /* another port */
    assert_int_equal(zc_scope_allows(s, "https://127.0.0.1:8080/api/book/1"), 0); /* another scheme */
    assert_int_equal(zc_scope_allows(s, "http://127.0.0.2:8080/"), 0);
    assert_int_equal(zc_scope_allows(s, "file:///etc/passwd"), 0);
    assert_int_equal(zc_scope_allows(s, "not a url"), 0);
    /* Many origins: the set grows and keeps every one. */
    char u[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(u, sizeof(u), "https://h%d.example/", i);
        assert_int_equal(zc_scope_add_origin(s, u, err, sizeof(err)), 1);
    }
    assert_int_equal(zc_scope_norigins(s), 1001);
    for (int i = 0; i < 1000; i++) {
        snprintf(u, sizeof(u), "https://h%d.example:443/p", i);
        assert_int_equal(zc_scope_allows(s, u), 1);
    }
    assert_int_equal(zc_scope_allows(s, "https://h1000.example/"), 0);
    zc_scope_free(s);
}

static void test_hosts(void **state) {
    (void)state;
    char err[128];
    zc_scope *s = zc_scope_new();
    assert_non_null(s);
    assert_int_equal(zc_scope_add_hosts(s, "Example.com, *.cdn.example.net,,", err, sizeof(err)), 0);
    assert_int_equal(zc_scope_nhosts(s), 2);
    assert_int_equal(zc_scope_allows(s, "http://example.com/a"), 1);
    assert_int_equal(zc_scope_allows(s, "https://EXAMPLE.com:8443/a"), 1); /* any scheme, any port */
    assert_int_equal(zc_scope_allows(s, "http://www.example.com/a"), 0);   /* exact host only */
    assert_int_equal(zc_scope_allows(s, "http://a.cdn.example.net/x"), 1);
    assert_int_equal(zc_scope_allows(s, "http://a.b.cdn.example.net/x"), 1);
    assert_int_equal(zc_scope_allows(s, "http://cdn.example.net/x"), 0); /* below it, not itself */
    assert_int_equal(zc_scope_allows(s, "http://evilcdn.example.net/x"), 0);
    assert_int_equal(zc_scope_allows(s, "http://example.com.evil.org/"), 0);
    assert_int_equal(zc_scope_allows(s, "file://example.com/etc/passwd"), 0);
    assert_int_equal(zc_scope_add_host(s, "bad host", err, sizeof(err)), -1);
    assert_int_equal(zc_scope_add_host(s, "", err, sizeof(err)), -1);
    assert_int_equal(zc_scope_add_host(s, "*.", err, sizeof(err)), -1);
    assert_int_equal(zc_scope_add_host(s, "a/b", err, sizeof(err)), -1);
    assert_int_equal(zc_scope_add_hosts(s, "ok.org,bad_host!", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad_host!"));
    zc_scope_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_origins),
        cmocka_unit_test(test_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
