/* test_robots.c -- unit tests of lib/zc_robots with RFC 9309's examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "zc_robots.h"

static zc_robots *parse(const char *txt, const char *agent) {
    zc_robots *r = zc_robots_parse(txt, strlen(txt), agent);
    assert_non_null(r);
    return r;
}

#define ALLOWED(r, p)                                                             \
    do {                                                                          \
        if (!zc_robots_allowed(r, p)) fail_msg("%s disallowed, want allowed", p); \
    } while (0)
#define DISALLOWED(r, p)                                                         \
    do {                                                                         \
        if (zc_robots_allowed(r, p)) fail_msg("%s allowed, want disallowed", p); \
    } while (0)

/* RFC 9309 5.1 */
static const char *simple =
    "User-Agent: *\n"
    "Disallow: *.gif$\n"
    "Disallow: /example/\n"
    "Allow: /publications/\n"
    "\n"
    "User-Agent: foobot\n"
    "Disallow:/\n"
    "Allow:/example/page.html\n"
    "Allow:/example/allowed.gif\n"
    "\n"
    "User-Agent: barbot\n"
    "User-Agent: bazbot\n"
    "Disallow: /example/page.html\n"
    "\n"
    "User-Agent: quxbot\n"
    "\n"
    "EOF\n";

static void test_rfc_simple_example(void **state) {
    (void)state;
    zc_robots *r = parse(simple, "otherbot"); /* falls to "*" */
    DISALLOWED(r, "/example/page.html");
    DISALLOWED(r, "/images/cat.gif");
    ALLOWED(r, "/publications/cat.gif"); /* "/publications/" has more octets than "*.gif$" */
    ALLOWED(r, "/images/cat.gif?x=1");   /* "$": the path must end there */
    ALLOWED(r, "/publications/paper.pdf");
    ALLOWED(r, "/");
    zc_robots_free(r);

    r = parse(simple, "foobot");
    ALLOWED(r, "/example/page.html");
    ALLOWED(r, "/example/allowed.gif");
    DISALLOWED(r, "/example/other.html");
    DISALLOWED(r, "/publications/");
    DISALLOWED(r, "/");
    ALLOWED(r, "/robots.txt"); /* always */
    zc_robots_free(r);

    r = parse(simple, "FooBot/2.1 (+https://foo.example/bot)"); /* product token, any case */
    DISALLOWED(r, "/");
    zc_robots_free(r);

    for (int i = 0; i < 2; i++) {
        r = parse(simple, i ? "bazbot" : "barbot");
        DISALLOWED(r, "/example/page.html");
        DISALLOWED(r, "/example/page.html.bak");
        ALLOWED(r, "/example/other.html");
        ALLOWED(r, "/images/cat.gif"); /* not the "*" group's rules */
        zc_robots_free(r);
    }

    r = parse(simple, "quxbot"); /* an empty group of its own: everything allowed */
    ALLOWED(r, "/example/page.html");
    ALLOWED(r, "/x.gif");
    zc_robots_free(r);
}

/* RFC 9309 5.2 */
static void test_rfc_longest_match(void **state) {
    (void)state;
    zc_robots *r = parse("User-Agent: foobot\n"
                         "Allow: /example/page/\n"
                         "Disallow: /example/page/disallowed.gif\n",
                         "foobot");
    ALLOWED(r, "/example/page/");
    ALLOWED(r, "/example/page/allowed.gif");
    DISALLOWED(r, "/example/page/disallowed.gif");
    zc_robots_free(r);
    /* equal length: Allow wins, in either order */
    r = parse("user-agent: a\ndisallow: /p\nallow: /p\n", "a");
    ALLOWED(r, "/page");
    zc_robots_free(r);
    r = parse("user-agent: a\nallow: /p\ndisallow: /p\n", "a");
    ALLOWED(r, "/page");
    zc_robots_free(r);
    r = parse("user-agent: a\nallow: /p\ndisallow: /p*\n", "a");
    DISALLOWED(r, "/page"); /* the wildcard counts as an octet of the rule */
    zc_robots_free(r);
}

/* RFC 9309 2.2.2: the table of paths and what is matched */
static void test_rfc_percent_encoding(void **state) {
    (void)state;
    zc_robots *r = parse("user-agent: *\n"
                         "disallow: /foo/bar?baz=quz\n"
                         "disallow: /foo/bar/\xE3\x83\x84\n" /* U+30C4 written raw */
                         "disallow: /foo/bar/%62%61%7A\n"
                         "disallow: /a/%7e\n",
                         "x");
    DISALLOWED(r, "/foo/bar?baz=quz");
    DISALLOWED(r, "/foo/bar/%E3%83%84");
    DISALLOWED(r, "/foo/bar/%e3%83%84"); /* hex case does not matter */
    DISALLOWED(r, "/foo/bar/\xE3\x83\x84");
    DISALLOWED(r, "/foo/bar/baz"); /* %62%61%7A is baz */
    DISALLOWED(r, "/foo/bar/%62az");
    DISALLOWED(r, "/a/~");
    ALLOWED(r, "/foo/bar/ba");
    zc_robots_free(r);
    /* a reserved character keeps its form: %2F is not / */
    r = parse("user-agent: *\ndisallow: /a%2Fb\n", "x");
    DISALLOWED(r, "/a%2fb");
    ALLOWED(r, "/a/b");
    zc_robots_free(r);
}

/* RFC 9309 2.2.3: special characters, and %2A / %24 for them verbatim */
static void test_rfc_special_characters(void **state) {
    (void)state;
    zc_robots *r = parse("User-agent: *\n"
                         "Disallow: / # comment in line\n"
                         "# comment on its own line\n"
                         "Allow: /this/path/exactly$\n"
                         "Allow: /this/*/exactly\n"
                         "Allow: /path/file-with-a-%2A.html\n"
                         "Allow: /path/foo-%24\n",
                         "x");
    ALLOWED(r, "/this/path/exactly");
    ALLOWED(r, "/this/path/exactly/"); /* by the second Allow, a prefix */
    DISALLOWED(r, "/this/path/exact");
    ALLOWED(r, "/this/a/b/exactly");
    DISALLOWED(r, "/this/exactly");
    ALLOWED(r, "/path/file-with-a-*.html");
    DISALLOWED(r, "/path/file-with-a-x.html"); /* %2A is a literal '*' */
    ALLOWED(r, "/path/foo-$");
    DISALLOWED(r, "/path/foo-");
    DISALLOWED(r, "/anything");
    zc_robots_free(r);
}

static void test_groups_and_records(void **state) {
    (void)state;
    /* several groups for one agent are combined; rules before any group and
     * unknown records are ignored; sitemap does not end a group */
    zc_robots *r = parse("Disallow: /orphan\n"
                         "User-agent: zcrawl\n"
                         "Disallow: /one\n"
                         "Sitemap: https://example.com/sitemap.xml\n"
                         "Disallow: /two\n"
                         "User-agent: other\n"
                         "Disallow: /three\n"
                         "user-agent: ZCRAWL\n"
                         "foo: bar\n"
                         "no colon here\n"
                         "DISALLOW: /four\n",
                         "zcrawl/0.1 (+https://github.com/zcrawl/zcrawl)");
    ALLOWED(r, "/orphan");
    DISALLOWED(r, "/one");
    DISALLOWED(r, "/two");
    ALLOWED(r, "/three");
    DISALLOWED(r, "/four");
    zc_robots_free(r);
    /* a group shared by two agents, a token that is only a prefix */
    r = parse("user-agent: zcrawlbot\nuser-agent: zcrawl-x\ndisallow: /\n", "zcrawl");
    ALLOWED(r, "/x");
    zc_robots_free(r);
    r = parse("user-agent: zcrawl/1.0\ndisallow: /\n", "zcrawl");
    DISALLOWED(r, "/x");
    zc_robots_free(r);
    /* "*bot" is not the "*" group */
    r = parse("user-agent: *bot\ndisallow: /\n", "x");
    ALLOWED(r, "/x");
    zc_robots_free(r);
    r = parse("user-agent: * # everyone\ndisallow: /\n", "x");
    DISALLOWED(r, "/x");
    zc_robots_free(r);
    /* CRLF, CR, a BOM, tabs, no final newline, an empty Disallow */
    r = parse("\xEF\xBB\xBFUser-agent:\t*\r\nDisallow:\r\nDisallow:  /a \rAllow: /a/b", "x");
    DISALLOWED(r, "/a");
    ALLOWED(r, "/a/b");
    ALLOWED(r, "/b");
    zc_robots_free(r);
    /* "Disallow: private/" is read as /private/ */
    r = parse("user-agent: *\ndisallow: private/\n", "x");
    DISALLOWED(r, "/private/x");
    zc_robots_free(r);
    /* nothing at all */
    r = parse("", "x");
    ALLOWED(r, "/");
    assert_int_equal(zc_robots_crawl_delay_ms(r), -1);
    zc_robots_free(r);
    r = zc_robots_parse(NULL, 0, NULL);
    assert_non_null(r);
    ALLOWED(r, "/");
    zc_robots_free(r);
}

static void test_paths(void **state) {
    (void)state;
    zc_robots *r = parse("user-agent: *\ndisallow: /$\ndisallow: /q?a=1\n", "x");
    DISALLOWED(r, "/");
    DISALLOWED(r, ""); /* "" is "/" */
    ALLOWED(r, "/x");
    DISALLOWED(r, "/q?a=1&b=2");
    ALLOWED(r, "/q?b=2&a=1");
    DISALLOWED(r, "/#frag"); /* the fragment is not part of the path */
    ALLOWED(r, "/robots.txt");
    assert_int_equal(zc_robots_allowed(NULL, "/"), 0);
    zc_robots_free(r);
    /* a path longer than the stack buffer */
    r = parse("user-agent: *\ndisallow: /*zz$\n", "x");
    size_t n = 20000;
    char *p = malloc(n + 1);
    assert_non_null(p);
    p[0] = '/';
    memset(p + 1, 'a', n - 3);
    memcpy(p + n - 2, "zz", 3);
    DISALLOWED(r, p);
    p[n - 1] = 'y';
    ALLOWED(r, p);
    free(p);
    zc_robots_free(r);
}

static void test_crawl_delay(void **state) {
    (void)state;
    zc_robots *r = parse("user-agent: *\ncrawl-delay: 10\n\nuser-agent: zcrawl\ncrawl-delay: 2.5\ndisallow: /x\n",
                         "zcrawl");
    assert_int_equal(zc_robots_crawl_delay_ms(r), 2500);
    zc_robots_free(r);
    r = parse("user-agent: *\ncrawl-delay: 10\n", "zcrawl");
    assert_int_equal(zc_robots_crawl_delay_ms(r), 10000);
    zc_robots_free(r);
    r = parse("user-agent: zcrawl\ncrawl-delay: 1\nuser-agent: zcrawl\ncrawl-delay: 3\n", "zcrawl");
    assert_int_equal(zc_robots_crawl_delay_ms(r), 3000); /* the largest of the combined groups */
    zc_robots_free(r);
    const char *bad[] = { "-1", "abc", "", "1.2.3", "5s", "." };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char txt[64];
        snprintf(txt, sizeof(txt), "user-agent: *\ncrawl-delay: %s\n", bad[i]);
        r = parse(txt, "x");
        if (zc_robots_crawl_delay_ms(r) != -1) fail_msg("crawl-delay '%s' accepted", bad[i]);
        zc_robots_free(r);
    }
    r = parse("user-agent: *\ncrawl-delay: 99999999999999999999\n", "x");
    assert_int_equal(zc_robots_crawl_delay_ms(r), 86400000L);
    zc_robots_free(r);
    r = parse("user-agent: other\ncrawl-delay: 5\n", "x");
    assert_int_equal(zc_robots_crawl_delay_ms(r), -1);
    zc_robots_free(r);
    assert_int_equal(zc_robots_crawl_delay_ms(NULL), -1);
}

static void test_status(void **state) {
    (void)state;
    const char *txt = "user-agent: *\ndisallow: /a\n";
    zc_robots *r = zc_robots_for_status(200, txt, strlen(txt), "x");
    DISALLOWED(r, "/a");
    ALLOWED(r, "/b");
    zc_robots_free(r);
    long allow_all[] = { 301, 400, 401, 403, 404, 410 };
    for (size_t i = 0; i < sizeof(allow_all) / sizeof(allow_all[0]); i++) {
        r = zc_robots_for_status(allow_all[i], txt, strlen(txt), "x");
        if (!zc_robots_allowed(r, "/a")) fail_msg("status %ld disallows", allow_all[i]);
        zc_robots_free(r);
    }
    long none[] = { 0, 429, 500, 503, 599 };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        r = zc_robots_for_status(none[i], txt, strlen(txt), "x");
        if (zc_robots_allowed(r, "/b")) fail_msg("status %ld allows", none[i]);
        ALLOWED(r, "/robots.txt");
        assert_int_equal(zc_robots_crawl_delay_ms(r), -1);
        zc_robots_free(r);
    }
}

static void test_size_cap(void **state) {
    (void)state;
    /* A rule beyond 500 KiB does not count; the line the cap cuts neither. */
    size_t pad = ZC_ROBOTS_MAX_BYTES - 40;
    const char *head = "user-agent: *\ndisallow: /early\n";
    size_t hl = strlen(head);
    char *txt = malloc(hl + pad + 200);
    assert_non_null(txt);
    memcpy(txt, head, hl);
    memset(txt + hl, '#', pad);
    txt[hl + pad] = '\n';
    const char *tail = "disallow: /cut-by-the-limit-in-the-middle-of-this-line\ndisallow: /late\n";
    memcpy(txt + hl + pad + 1, tail, strlen(tail) + 1);
    zc_robots *r = zc_robots_parse(txt, strlen(txt), "x");
    assert_non_null(r);
    DISALLOWED(r, "/early");
    ALLOWED(r, "/late");
    ALLOWED(r, "/cut-by-the-limit-in-the-middle-of-this-line");
    ALLOWED(r, "/cut");
    zc_robots_free(r);
    free(txt);
}

static void test_wildcards_do_not_explode(void **state) {
    (void)state;
    /* many stars against a long path that nearly matches: still answers */
    char pat[4096], txt[4200];
    size_t o = 0;
    pat[o++] = '/';
    for (int i = 0; i < 1000; i++) {
        pat[o++] = '*';
        pat[o++] = 'a';
    }
    pat[o++] = 'b';
    pat[o] = '\0';
    snprintf(txt, sizeof(txt), "user-agent: *\ndisallow: %s\n", pat);
    zc_robots *r = parse(txt, "x");
    char path[3000];
    path[0] = '/';
    memset(path + 1, 'a', sizeof(path) - 2);
    path[sizeof(path) - 1] = '\0';
    ALLOWED(r, path);
    zc_robots_free(r);
}

/* Issue 22.5: a 490 KiB robots.txt of "Disallow: /(star)aaa...ab" rules against paths
 * with long queries. Each check walked every rule with a backtracking matcher,
 * O(rule * path): about 4 s a URL on the broker's one thread. Linear matching
 * answers all of them (right) in a small fraction of a second; the bound here is
 * two orders of magnitude above that, far below what the old matcher needed. */
static double cpu_s(void) {
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_hostile_file_checks_in_linear_time(void **state) {
    (void)state;
    enum { FILE_BYTES = 490 * 1024,
           PATH_BYTES = 4000,
           CHECKS = 20 };
    char *txt = malloc(FILE_BYTES + 64), *path = malloc(PATH_BYTES + 16);
    assert_non_null(txt);
    assert_non_null(path);
    size_t o = (size_t)sprintf(txt, "User-agent: *\n");
    for (int k = 0; o + 1100 < FILE_BYTES; k = (k + 97) % 1000) {
        o += (size_t)sprintf(txt + o, "Disallow: /*");
        memset(txt + o, 'a', (size_t)k + 1);
        o += (size_t)k + 1;
        o += (size_t)sprintf(txt + o, "b\n");
    }
    zc_robots *r = zc_robots_parse(txt, o, "zcrawl");
    assert_non_null(r);
    size_t n = (size_t)sprintf(path, "/search?q=");
    memset(path + n, 'a', PATH_BYTES - n);
    path[PATH_BYTES] = '\0';
    double t0 = cpu_s();
    for (int i = 0; i < CHECKS; i++) {
        path[PATH_BYTES - 1] = i % 2 ? 'a' : 'c'; /* no 'b': every rule fails, at the end */
        ALLOWED(r, path);
    }
    path[PATH_BYTES - 1] = 'b'; /* now the rules match */
    DISALLOWED(r, path);
    double took = cpu_s() - t0;
    print_message("%d checks of a %d-byte path against %zu bytes of rules: %.3f s CPU\n", CHECKS + 1, PATH_BYTES, o,
                  took);
    if (took > 10.0) fail_msg("robots.txt checks took %.1f s of CPU: not linear", took);
    zc_robots_free(r);
    free(txt);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_simple_example),
        cmocka_unit_test(test_rfc_longest_match),
        cmocka_unit_test(test_rfc_percent_encoding),
        cmocka_unit_test(test_rfc_special_characters),
        cmocka_unit_test(test_groups_and_records),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_crawl_delay),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_wildcards_do_not_explode),
        cmocka_unit_test(test_hostile_file_checks_in_linear_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
