/* test_fetch.c -- unit tests of the fetcher's decisions: outcome of a transfer,
 * Retry-After cap, redirect policy, robots.txt requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fetch_config.h"
#include "fetch_outcome.h"
#include "fetch_redirect.h"
#include "zc_url.h"

typedef struct {
    CURLcode rc;
    long status;
    int too_large, oom;
    fetch_outcome want;
    const char *reason; /* NULL: any "curl: ..." */
} classify_case;

static void test_classify(void **state) {
    (void)state;
    static const classify_case cases[] = {
        { CURLE_OK, 200, 0, 0, FETCH_OK, "" },
        { CURLE_OK, 204, 0, 0, FETCH_OK, "" },
        { CURLE_OK, 299, 0, 0, FETCH_OK, "" },
        { CURLE_OK, 404, 0, 0, FETCH_FAIL, "http 404" },
        { CURLE_OK, 410, 0, 0, FETCH_FAIL, "http 410" },
        { CURLE_OK, 403, 0, 0, FETCH_FAIL, "http 403" },
        { CURLE_OK, 400, 0, 0, FETCH_FAIL, "http 400" },
        { CURLE_OK, 301, 0, 0, FETCH_FAIL, "http 301" }, /* a 3xx nobody followed */
        { CURLE_OK, 304, 0, 0, FETCH_FAIL, "http 304" },
        { CURLE_OK, 408, 0, 0, FETCH_RETRY, "http 408" },
        { CURLE_OK, 429, 0, 0, FETCH_RETRY, "http 429" },
        { CURLE_OK, 500, 0, 0, FETCH_RETRY, "http 500" },
        { CURLE_OK, 503, 0, 0, FETCH_RETRY, "http 503" },
        { CURLE_OK, 599, 0, 0, FETCH_RETRY, "http 599" },
        { CURLE_OK, 0, 0, 0, FETCH_RETRY, "http 0" }, /* no status line at all */
        { CURLE_OK, 600, 0, 0, FETCH_FAIL, "http 600" },
        { CURLE_OK, 200, 1, 0, FETCH_FAIL, "body too large" },
        { CURLE_WRITE_ERROR, 200, 1, 0, FETCH_FAIL, "body too large" },
        { CURLE_FILESIZE_EXCEEDED, 200, 0, 0, FETCH_FAIL, "body too large" },
        { CURLE_WRITE_ERROR, 200, 0, 1, FETCH_RETRY, "out of memory" },
        { CURLE_OPERATION_TIMEDOUT, 0, 0, 0, FETCH_RETRY, NULL },
        { CURLE_COULDNT_CONNECT, 0, 0, 0, FETCH_RETRY, NULL },
        { CURLE_COULDNT_RESOLVE_HOST, 0, 0, 0, FETCH_RETRY, NULL },
        { CURLE_PARTIAL_FILE, 200, 0, 0, FETCH_RETRY, NULL },
        { CURLE_RECV_ERROR, 0, 0, 0, FETCH_RETRY, NULL },
        { CURLE_GOT_NOTHING, 0, 0, 0, FETCH_RETRY, NULL },
        { CURLE_UNSUPPORTED_PROTOCOL, 0, 0, 0, FETCH_FAIL, NULL },
        { CURLE_URL_MALFORMAT, 0, 0, 0, FETCH_FAIL, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const classify_case *c = &cases[i];
        char reason[256];
        fetch_outcome o = fetch_classify(c->rc, c->status, c->too_large, c->oom, reason, sizeof(reason));
        if (o != c->want)
            fail_msg("case %zu (rc %d, status %ld): %s, want %s", i, (int)c->rc, c->status,
                     fetch_outcome_name(o), fetch_outcome_name(c->want));
        if (c->reason) {
            assert_string_equal(reason, c->reason);
        } else {
            char want[256];
            snprintf(want, sizeof(want), "curl: %s", curl_easy_strerror(c->rc));
            assert_string_equal(reason, want);
        }
    }
    assert_string_equal(fetch_outcome_name(FETCH_OK), "ok");
    assert_string_equal(fetch_outcome_name(FETCH_RETRY), "retry");
    assert_string_equal(fetch_outcome_name(FETCH_FAIL), "fail");
    assert_string_equal(fetch_outcome_name(FETCH_REDIRECT), "redirect");
}

static void test_retry_after_cap(void **state) {
    (void)state;
    const int64_t cap = 600000; /* the default: 10 min */
    assert_int_equal(fetch_retry_after_ms(0, cap), 0);
    assert_int_equal(fetch_retry_after_ms(-5, cap), 0);
    assert_int_equal(fetch_retry_after_ms(1, cap), 1000);
    assert_int_equal(fetch_retry_after_ms(120, cap), 120000);
    assert_int_equal(fetch_retry_after_ms(600, cap), 600000);
    assert_int_equal(fetch_retry_after_ms(601, cap), 600000);
    assert_int_equal(fetch_retry_after_ms(100000, cap), 600000);                /* issue 11: not a day */
    assert_int_equal(fetch_retry_after_ms((curl_off_t)INT64_MAX, cap), 600000); /* no overflow */
    assert_int_equal(fetch_retry_after_ms(7, 5000), 5000);
    assert_int_equal(fetch_retry_after_ms(7, 0), 0); /* cap 0: never wait */
    assert_int_equal(fetch_retry_after_ms(3, 3500), 3000);
}

static void test_same_url(void **state) {
    (void)state;
    /* the crawl's canonical form: a trailing slash, case, default port, parameter order */
    assert_int_equal(fetch_same_url("http://a.example/x", "http://a.example/x/"), 1);
    assert_int_equal(fetch_same_url("http://a.example/x", "HTTP://A.Example:80/x"), 1);
    assert_int_equal(fetch_same_url("https://a.example/x?b=2&a=1", "https://a.example:443/x?a=1&b=2"), 1);
    assert_int_equal(fetch_same_url("http://a.example/a/../x", "http://a.example/x#frag"), 1);
    assert_int_equal(fetch_same_url("http://a.example/x", "http://a.example/y"), 0);
    assert_int_equal(fetch_same_url("http://a.example/x", "http://a.example/x?y"), 0);
    assert_int_equal(fetch_same_url("http://a.example/x", "https://a.example/x"), 0);
    assert_int_equal(fetch_same_url("http://a.example/x", "http://a.example:8080/x"), 0);
    assert_int_equal(fetch_same_url("http://a.example/x", "http://b.example/x"), 0);
    assert_int_equal(fetch_same_url("http://a.example/x", "file:///etc/passwd"), -1);
    assert_int_equal(fetch_same_url("http://a.example/x", "http://u:p@a.example/x"), -1);
    assert_int_equal(fetch_same_url("not a url", "http://a.example/"), -1);
}

static void test_redirect_decide(void **state) {
    (void)state;
    const char *job = "http://site.example:8080/api/book/1";
    /* the job URL itself, canonically: the broker would call it seen */
    assert_int_equal(fetch_redirect_decide(job, "http://site.example:8080/api/book/1/", 0, 5, 0), FETCH_REDIR_FOLLOW);
    assert_int_equal(fetch_redirect_decide(job, "http://SITE.example:8080/api/book/1", 4, 5, 0), FETCH_REDIR_FOLLOW);
    assert_int_equal(fetch_redirect_decide(job, "http://site.example:8080/api/book/1/", 5, 5, 0), FETCH_REDIR_TOO_MANY);
    assert_int_equal(fetch_redirect_decide(job, "http://site.example:8080/api/book/1/", 0, 0, 0), FETCH_REDIR_TOO_MANY);
    /* any other URL, same origin too: the broker decides (scope, dedup, robots.txt, rate) */
    assert_int_equal(fetch_redirect_decide(job, "http://site.example:8080/x", 0, 5, 0), FETCH_REDIR_REPORT);
    assert_int_equal(fetch_redirect_decide(job, "http://site.example:8080/api/book/2", 5, 5, 0), FETCH_REDIR_REPORT);
    assert_int_equal(fetch_redirect_decide(job, "http://site.example:6379/", 0, 5, 0), FETCH_REDIR_REPORT);
    assert_int_equal(fetch_redirect_decide(job, "http://127.0.0.1:8080/", 0, 5, 0), FETCH_REDIR_REPORT);
    assert_int_equal(fetch_redirect_decide(job, "https://site.example:8080/api/book/1", 0, 5, 0), FETCH_REDIR_REPORT);
    assert_int_equal(fetch_redirect_decide(job, "file:///etc/passwd", 0, 5, 0), FETCH_REDIR_REPORT);
    assert_int_equal(fetch_redirect_decide(job, "gopher://site.example:8080/", 0, 5, 0), FETCH_REDIR_REPORT);
    /* not something to carry */
    assert_int_equal(fetch_redirect_decide(job, "", 0, 5, 0), FETCH_REDIR_BAD);
    assert_int_equal(fetch_redirect_decide(job, NULL, 0, 5, 0), FETCH_REDIR_BAD);
    assert_int_equal(fetch_redirect_decide(job, "http://site.example:8080/a b", 0, 5, 0), FETCH_REDIR_BAD);
    assert_int_equal(fetch_redirect_decide(job, "http://site.example:8080/a\nb", 0, 5, 0), FETCH_REDIR_BAD);
    assert_int_equal(fetch_redirect_decide(job, "::::", 0, 5, 0), FETCH_REDIR_BAD);
    char longurl[ZC_URL_MAX + 64];
    snprintf(longurl, sizeof(longurl), "http://site.example:8080/");
    memset(longurl + strlen(longurl), 'a', sizeof(longurl) - strlen(longurl) - 1);
    longurl[sizeof(longurl) - 1] = '\0';
    assert_int_equal(fetch_redirect_decide(job, longurl, 0, 5, 0), FETCH_REDIR_BAD);
    /* robots.txt: any http(s) target, other origins too, five hops whatever max_redirs */
    const char *rob = "http://site.example:8080/robots.txt";
    assert_int_equal(fetch_redirect_decide(rob, "https://cdn.example/robots.txt", 0, 0, 1), FETCH_REDIR_FOLLOW);
    assert_int_equal(fetch_redirect_decide(rob, "http://other.example/x?y", 4, 0, 1), FETCH_REDIR_FOLLOW);
    assert_int_equal(fetch_redirect_decide(rob, "http://other.example/", FETCH_ROBOTS_MAX_REDIRS, 50, 1), FETCH_REDIR_TOO_MANY);
    assert_int_equal(fetch_redirect_decide(rob, "file:///etc/passwd", 0, 5, 1), FETCH_REDIR_BAD);
    assert_int_equal(fetch_redirect_decide(rob, "ftp://other.example/robots.txt", 0, 5, 1), FETCH_REDIR_BAD);
}

static void test_redirect_report_and_robots(void **state) {
    (void)state;
    char out[ZC_URL_MAX + 1];
    fetch_redirect_report("HTTP://Site.Example:80/a/?b=2&a=1#f", out, sizeof(out));
    assert_string_equal(out, "http://site.example/a?a=1&b=2");
    fetch_redirect_report("file:///etc/passwd", out, sizeof(out));
    assert_string_equal(out, "file:///etc/passwd");
    const char *u = "http://a.example:81/robots.txt";
    assert_int_equal(fetch_is_robots(u, strlen(u)), 1);
    assert_int_equal(fetch_is_robots(u, strlen(u) - 1), 0);
    u = "http://a.example/robots.txt?x";
    assert_int_equal(fetch_is_robots(u, strlen(u)), 0);
    u = "http://a.example/x/robots.txt";
    assert_int_equal(fetch_is_robots(u, strlen(u)), 0);
}

static void test_recv_buffer_size(void **state) {
    (void)state;
    assert_int_equal(fetch_recv_buffer_size(4096, 5000), 4096);
    assert_int_equal(fetch_recv_buffer_size(0, 64), 16384);
    assert_int_equal(fetch_recv_buffer_size(0, 1000), 1024);
    assert_int_equal(fetch_recv_buffer_size(0, 5000), 1024);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_retry_after_cap),
        cmocka_unit_test(test_same_url),
        cmocka_unit_test(test_redirect_decide),
        cmocka_unit_test(test_redirect_report_and_robots),
        cmocka_unit_test(test_recv_buffer_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
