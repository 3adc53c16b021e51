/* test_cli.c -- unit tests of the launcher's modules: the supervisor's restart
 * backoff and budget per window, argv building and bounded formatting (no silent
 * truncation), seeds files, and the resume command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "supervise.h"

static const sup_policy POLICY = { 5, 60000, 250, 30000 };

/* Quick failures back off 250, 500, 1000, 2000, 4000 ms; the sixth within the
 * window finds the budget spent. */
static void test_backoff_doubles_then_budget(void **state) {
    (void)state;
    sup_backoff b = { 0 };
    int64_t now = 1000000, want[] = { 250, 500, 1000, 2000, 4000 };
    for (int i = 0; i < 5; i++) {
        int64_t d = sup_backoff_fail(&b, &POLICY, now, 50);
        assert_int_equal(d, want[i]);
        now += d + 50; /* restarted after d, failed again 50 ms later */
    }
    assert_int_equal(sup_backoff_fail(&b, &POLICY, now, 50), -1);
}

/* The budget is per window, not per crawl: once the old restarts leave the
 * window, restarts are allowed again. */
static void test_budget_per_window(void **state) {
    (void)state;
    sup_policy p = { 2, 10000, 250, 30000 };
    sup_backoff b = { 0 };
    int64_t t = 0;
    assert_true(sup_backoff_fail(&b, &p, t, 100) >= 0);
    assert_true(sup_backoff_fail(&b, &p, t + 1000, 100) >= 0);
    assert_int_equal(sup_backoff_fail(&b, &p, t + 2000, 100), -1);
    /* 10 s after the first restart, it no longer counts: one more is allowed. */
    assert_true(sup_backoff_fail(&b, &p, t + 10001, 100) >= 0);
    assert_int_equal(sup_backoff_fail(&b, &p, t + 10500, 100), -1);
    /* Restarts spread wider than the window never run out. */
    sup_backoff c = { 0 };
    for (int i = 0; i < 50; i++) assert_true(sup_backoff_fail(&c, &p, (int64_t)i * 6000, 100) >= 0);
}

/* The delay is capped, and a process that stayed up a whole window starts
 * again from the shortest delay. */
static void test_backoff_cap_and_reset(void **state) {
    (void)state;
    sup_policy p = { 100, 600000, 250, 30000 };
    sup_backoff b = { 0 };
    int64_t t = 0, d = 0;
    for (int i = 0; i < 12; i++) {
        d = sup_backoff_fail(&b, &p, t, 10);
        assert_true(d > 0 && d <= 30000);
        t += d + 10;
    }
    assert_int_equal(d, 30000);
    assert_int_equal(sup_backoff_fail(&b, &p, t, 600000), 250);
    assert_int_equal(sup_backoff_fail(&b, &p, t + 300, 10), 500);
}

/* A budget of 0 means no restart at all. */
static void test_budget_zero(void **state) {
    (void)state;
    sup_policy p = { 0, 60000, 250, 30000 };
    sup_backoff b = { 0 };
    assert_int_equal(sup_backoff_fail(&b, &p, 5, 1), -1);
}

/* A 1900-byte argument stays whole (the old fixed 1023-byte slots cut it). */
static void test_argv_keeps_long_arguments(void **state) {
    (void)state;
    char url[1901];
    memset(url, 'a', sizeof(url) - 1);
    url[sizeof(url) - 1] = '\0';
    cli_argv a = { 0 };
    cli_argv_add(&a, "zcrawl-broker");
    for (int i = 0; i < 100; i++) cli_argv_flag(&a, "--x", url);
    cli_argv_flagl(&a, "--n", 1234567890L);
    assert_true(cli_argv_ok(&a));
    assert_int_equal(a.n, 203);
    assert_int_equal(strlen(a.v[2]), 1900);
    assert_string_equal(a.v[202], "1234567890");
    assert_null(a.v[203]);
    cli_argv_reset(&a);
    assert_int_equal(a.n, 0);
    assert_false(cli_argv_ok(&a)); /* empty */
    cli_argv_free(&a);
}

static void test_fmt_reports_truncation(void **state) {
    (void)state;
    char buf[8];
    assert_int_equal(cli_fmt(buf, sizeof(buf), "%s", "1234567"), 0);
    assert_string_equal(buf, "1234567");
    assert_int_equal(cli_fmt(buf, sizeof(buf), "%s", "12345678"), -1);
}

/* Writes text into a temporary file; returns its path (static buffer). */
static const char *temp_file(const char *text) {
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/zc-test-seeds-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_seeds_file(void **state) {
    (void)state;
    const char *p = temp_file("# start pages\n\nhttp://a.example/x?b=1\r\n   \n  https://b.example/  \n"
                              "  # indented comment\nhttp://c.example/last");
    cli_urls u = { 0 };
    char err[256];
    assert_int_equal(cli_seeds_read(p, &u, err, sizeof(err)), 0);
    assert_int_equal(u.n, 3);
    assert_string_equal(u.v[0], "http://a.example/x?b=1");
    assert_string_equal(u.v[1], "https://b.example/");
    assert_string_equal(u.v[2], "http://c.example/last");
    unlink(p);
    cli_urls_free(&u);
}

/* A bad line: one error naming file:line, and nothing added. */
static void test_seeds_bad_line(void **state) {
    (void)state;
    const char *p = temp_file("http://a.example/\n# ok\nftp://b.example/\nhttp://c.example/\n");
    cli_urls u = { 0 };
    char err[256], want[128];
    assert_int_equal(cli_seeds_read(p, &u, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:3: bad URL 'ftp://b.example/'", p);
    assert_non_null(strstr(err, want));
    assert_int_equal(u.n, 0);
    unlink(p);
    assert_int_equal(cli_seeds_read(p, &u, err, sizeof(err)), -1); /* gone */
    assert_non_null(strstr(err, "cannot read seeds file"));
    cli_urls_free(&u);
}

static void test_resume_command(void **state) {
    (void)state;
    char *argv[] = { "bin/zcrawl", "run", "--fresh", "--out", "my books.jsonl", "--fresh=1",
                     "http://h/api/book/?limit=18&offset=0", "it's", NULL };
    char *cmd = cli_resume_command(argv[0], 8, argv);
    assert_non_null(cmd);
    assert_string_equal(cmd, "bin/zcrawl run --out 'my books.jsonl' 'http://h/api/book/?limit=18&offset=0' 'it'\\''s'");
    free(cmd);
    /* A Redis password holding '/', '?' or '#' never shows (issue 22). */
    char *argv2[] = { "zcrawl", "run", "--redis", "redis://:pa/ss?x#y@127.0.0.1:6379/2", "--redis=redis://:q/r@h", NULL };
    cmd = cli_resume_command(argv2[0], 5, argv2);
    assert_non_null(cmd);
    assert_string_equal(cmd, "zcrawl run --redis 'redis://***@127.0.0.1:6379/2' '--redis=redis://***@h'");
    free(cmd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_then_budget),
        cmocka_unit_test(test_budget_per_window),
        cmocka_unit_test(test_backoff_cap_and_reset),
        cmocka_unit_test(test_budget_zero),
        cmocka_unit_test(test_argv_keeps_long_arguments),
        cmocka_unit_test(test_fmt_reports_truncation),
        cmocka_unit_test(test_seeds_file),
        cmocka_unit_test(test_seeds_bad_line),
        cmocka_unit_test(test_resume_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
