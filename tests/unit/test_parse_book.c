/* test_parse_book.c -- unit tests for the books facade (parse_book.c) and the helpers under it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse_book.h"
#include "zc_utf8.h"

#define LIST0 "https://spa5.scrape.center/api/book/?limit=18&offset=0"
#define DURL  "https://spa5.scrape.center/api/book/7952978"

/* ---------- helpers ---------- */

/* The i-th line of a '\n'-joined list, copied into buf. */
static const char *line_at(const parse_urls *u, size_t idx, char *buf, size_t len) {
    const char *p = u->buf;
    for (size_t i = 0; i < idx; i++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    size_t n = strcspn(p, "\n");
    assert_true(n < len);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static size_t count_lines(const parse_urls *u) {
    if (!u->buf || u->len == 0) return 0;
    size_t n = 1;
    for (size_t i = 0; i < u->len; i++) n += u->buf[i] == '\n';
    return n;
}

/* A list page body with count and ids first .. first+n-1. */
static char *list_body(long count, int first, int n) {
    size_t cap = 256 + (size_t)n * 200;
    char *b = malloc(cap);
    assert_non_null(b);
    int o = snprintf(b, cap, "{\"count\": %ld, \"results\": [", count);
    for (int i = 0; i < n; i++)
        o += snprintf(b + o, cap - (size_t)o,
                      "%s{\"id\": \"%d\", \"name\": \"Book %d\", \"authors\": [\"\\n   A\\n  \"],"
                      " \"cover\": \"https://img/x.jpg\", \"score\": \"8.9\"}",
                      i ? ", " : "", first + i, first + i);
    snprintf(b + o, cap - (size_t)o, "]}");
    return b;
}

static bson_iter_t find(const bson_t *b, const char *key) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, b, key)) fail_msg("field %s missing", key);
    return it;
}

static void assert_str_field(const bson_t *b, const char *key, const char *want) {
    bson_iter_t it = find(b, key);
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_UTF8);
    assert_string_equal(bson_iter_utf8(&it, NULL), want);
}

static void assert_null_field(const bson_t *b, const char *key) {
    bson_iter_t it = find(b, key);
    if (bson_iter_type(&it) != BSON_TYPE_NULL) fail_msg("field %s is not null", key);
}

static void assert_empty_array(const bson_t *b, const char *key) {
    bson_iter_t it = find(b, key), ch;
    if (bson_iter_type(&it) != BSON_TYPE_ARRAY) fail_msg("field %s is not an array", key);
    assert_true(bson_iter_recurse(&it, &ch));
    if (bson_iter_next(&ch)) fail_msg("field %s is not empty", key);
}

/* Checks that array field key holds exactly the strings want[0..n). */
static void assert_str_array(const bson_t *b, const char *key, const char **want, int n) {
    bson_iter_t it = find(b, key), ch;
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_ARRAY);
    assert_true(bson_iter_recurse(&it, &ch));
    int i = 0;
    while (bson_iter_next(&ch)) {
        assert_true(i < n);
        assert_int_equal(bson_iter_type(&ch), BSON_TYPE_UTF8);
        assert_string_equal(bson_iter_utf8(&ch, NULL), want[i]);
        i++;
    }
    assert_int_equal(i, n);
}

/* Runs parse_detail and expects failure with a reason containing want. */
static void expect_detail_fail(const char *url, const char *body, size_t len, const char *want) {
    bson_t doc;
    char err[256] = "";
    bson_init(&doc);
    int rc = parse_detail(url, body, len, 0, &doc, err, sizeof(err));
    if (rc != -1) fail_msg("parse_detail accepted a body that should fail with '%s'", want);
    if (!strstr(err, want)) fail_msg("reason '%s' does not contain '%s'", err, want);
    assert_int_equal(doc.len, 5); /* left empty */
    bson_destroy(&doc);
}

static void expect_list_fail(const char *url, const char *body, const char *want) {
    parse_urls u;
    char err[256] = "";
    parse_urls_init(&u);
    int rc = parse_list(url, body, strlen(body), &u, err, sizeof(err));
    if (rc != -1) fail_msg("parse_list accepted a body that should fail with '%s'", want);
    if (!strstr(err, want)) fail_msg("reason '%s' does not contain '%s'", err, want);
    assert_int_equal(u.n, 0);
    assert_int_equal(u.len, 0);
    parse_urls_free(&u);
}

/* ---------- whitespace ---------- */

static void test_collapse_ws(void **state) {
    (void)state;
    char out[128];
    const char *s = "\n            R. J. Palacio\n            ";
    assert_int_equal(parse_collapse_ws(s, strlen(s), out), 13);
    assert_string_equal(out, "R. J. Palacio");
    s = "a\t\tb  \r\n c";
    parse_collapse_ws(s, strlen(s), out);
    assert_string_equal(out, "a b c");
    s = " \t\n ";
    assert_int_equal(parse_collapse_ws(s, strlen(s), out), 0);
    assert_string_equal(out, "");
    assert_int_equal(parse_collapse_ws("", 0, out), 0);
    /* U+3000 ideographic space and U+00A0 no-break space count as whitespace. */
    s = "\xe3\x80\x80\xe7\x8e\x8b\xe3\x80\x80\xe3\x80\x80\xe5\xb0\x8f\xe6\xb3\xa2\xc2\xa0";
    parse_collapse_ws(s, strlen(s), out);
    assert_string_equal(out, "\xe7\x8e\x8b \xe5\xb0\x8f\xe6\xb3\xa2");
    /* Other multibyte characters are kept whole. */
    s = "[\xe7\xbe\x8e] \xe5\x8d\xa1\xe5\xbe\xb7";
    parse_collapse_ws(s, strlen(s), out);
    assert_string_equal(out, s);
}

static void test_utf8_valid(void **state) {
    (void)state;
    assert_true(zc_utf8_valid("plain", 5));
    assert_true(zc_utf8_valid("\xe4\xb8\xad\xe6\x96\x87", 6));
    assert_true(zc_utf8_valid("\xf0\x9f\x98\x80", 4)); /* U+1F600 */
    assert_false(zc_utf8_valid("\xff", 1));
    assert_false(zc_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(zc_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(zc_utf8_valid("\xed\xa0\x80", 3));     /* surrogate D800 */
    assert_false(zc_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(zc_utf8_valid("\xe4\xb8", 2));         /* truncated */
    assert_false(zc_utf8_valid("a\x80", 2));            /* lone continuation */
}

/* ---------- URLs ---------- */

static void test_page_kind(void **state) {
    (void)state;
    assert_int_equal(parse_page_kind(LIST0), PARSE_KIND_LIST);
    assert_int_equal(parse_page_kind("https://spa5.scrape.center/api/book/"), PARSE_KIND_LIST);
    assert_int_equal(parse_page_kind("http://127.0.0.1:8080/api/book?limit=18&offset=36"), PARSE_KIND_LIST);
    assert_int_equal(parse_page_kind("http://h/api/book"), PARSE_KIND_UNKNOWN);
    assert_int_equal(parse_page_kind(DURL), PARSE_KIND_DETAIL);
    assert_int_equal(parse_page_kind(DURL "/"), PARSE_KIND_DETAIL);
    assert_int_equal(parse_page_kind("HTTP://H:1/api/book/1?x=1#f"), PARSE_KIND_DETAIL);
    assert_int_equal(parse_page_kind("http://h/api/book/12a"), PARSE_KIND_UNKNOWN);
    assert_int_equal(parse_page_kind("http://h/api/book/12//"), PARSE_KIND_UNKNOWN);
    assert_int_equal(parse_page_kind("http://h/api/books/1"), PARSE_KIND_UNKNOWN);
    assert_int_equal(parse_page_kind("http://h/"), PARSE_KIND_UNKNOWN);
    assert_int_equal(parse_page_kind("ftp://h/api/book/1"), PARSE_KIND_UNKNOWN);
    assert_int_equal(parse_page_kind("/api/book/1"), PARSE_KIND_UNKNOWN);
    assert_int_equal(parse_page_kind("http:///api/book/1"), PARSE_KIND_UNKNOWN);
    assert_int_equal(parse_page_kind("http://a b/api/book/1"), PARSE_KIND_UNKNOWN);
    assert_int_equal(parse_page_kind(""), PARSE_KIND_UNKNOWN);
    assert_int_equal(parse_page_kind(NULL), PARSE_KIND_UNKNOWN);

    char id[40];
    assert_int_equal(parse_url_book_id(DURL "/", id, sizeof(id)), 0);
    assert_string_equal(id, "7952978");
    assert_int_equal(parse_url_book_id(LIST0, id, sizeof(id)), -1);
    assert_int_equal(parse_url_book_id(DURL, id, 4), -1);
}

/* ---------- list pages ---------- */

static void test_list_first_page(void **state) {
    (void)state;
    parse_urls u;
    char err[256], l[256];
    char *body = list_body(9040, 1000, 18);
    parse_urls_init(&u);
    assert_int_equal(parse_list(LIST0, body, strlen(body), &u, err, sizeof(err)), 0);
    assert_int_equal(u.ndetail, 18);
    assert_int_equal(u.nlist, 502);
    assert_int_equal(u.n, 520);
    assert_int_equal(count_lines(&u), 520);
    assert_int_equal(u.skipped, 0);
    assert_false(u.truncated);
    assert_int_equal(strlen(u.buf), u.len);
    assert_true(u.buf[u.len - 1] != '\n');
    assert_string_equal(line_at(&u, 0, l, sizeof(l)), "https://spa5.scrape.center/api/book/1000");
    assert_string_equal(line_at(&u, 17, l, sizeof(l)), "https://spa5.scrape.center/api/book/1017");
    assert_string_equal(line_at(&u, 18, l, sizeof(l)),
                        "https://spa5.scrape.center/api/book/?limit=18&offset=18");
    assert_string_equal(line_at(&u, 519, l, sizeof(l)),
                        "https://spa5.scrape.center/api/book/?limit=18&offset=9036");
    free(body);

    /* A later page: only its 18 detail URLs. The buffer is reused. */
    body = list_body(9040, 2000, 18);
    assert_int_equal(parse_list("https://spa5.scrape.center/api/book/?limit=18&offset=18",
                                body, strlen(body), &u, err, sizeof(err)),
                     0);
    assert_int_equal(u.n, 18);
    assert_int_equal(u.ndetail, 18);
    assert_int_equal(u.nlist, 0);
    assert_int_equal(count_lines(&u), 18);
    assert_string_equal(line_at(&u, 0, l, sizeof(l)), "https://spa5.scrape.center/api/book/2000");
    free(body);
    parse_urls_free(&u);
}

static void test_list_limit_and_origin(void **state) {
    (void)state;
    parse_urls u;
    char err[256], l[256];
    parse_urls_init(&u);
    /* limit from the URL, port kept, no trailing slash in the path. */
    char *body = list_body(25, 1, 10);
    assert_int_equal(parse_list("http://127.0.0.1:8080/api/book?offset=0&limit=10", body,
                                strlen(body), &u, err, sizeof(err)),
                     0);
    assert_int_equal(u.n, 12);
    assert_string_equal(line_at(&u, 0, l, sizeof(l)), "http://127.0.0.1:8080/api/book/1");
    assert_string_equal(line_at(&u, 10, l, sizeof(l)), "http://127.0.0.1:8080/api/book/?limit=10&offset=10");
    assert_string_equal(line_at(&u, 11, l, sizeof(l)), "http://127.0.0.1:8080/api/book/?limit=10&offset=20");
    free(body);

    /* No query at all: offset 0, default limit 18. */
    body = list_body(40, 1, 0);
    assert_int_equal(parse_list("http://h/api/book/", body, strlen(body), &u, err, sizeof(err)), 0);
    assert_int_equal(u.n, 2);
    assert_string_equal(line_at(&u, 0, l, sizeof(l)), "http://h/api/book/?limit=18&offset=18");
    assert_string_equal(line_at(&u, 1, l, sizeof(l)), "http://h/api/book/?limit=18&offset=36");
    free(body);

    /* Past the end: an empty list, not an error. */
    const char *empty = "{\"count\": 9040, \"results\": []}";
    assert_int_equal(parse_list("http://h/api/book/?limit=18&offset=9054", empty, strlen(empty),
                                &u, err, sizeof(err)),
                     0);
    assert_int_equal(u.n, 0);
    assert_int_equal(u.len, 0);

    /* A garbage offset is not the first page. */
    body = list_body(100, 1, 1);
    assert_int_equal(parse_list("http://h/api/book/?limit=18&offset=x", body, strlen(body), &u,
                                err, sizeof(err)),
                     0);
    assert_int_equal(u.n, 1);
    free(body);

    /* An absurd count is clamped and flagged. */
    const char *huge = "{\"count\": 1e300, \"results\": []}";
    assert_int_equal(parse_list("http://h/api/book/?limit=1000&offset=0", huge, strlen(huge), &u,
                                err, sizeof(err)),
                     0);
    assert_true(u.truncated);
    assert_int_equal(u.nlist, PARSE_MAX_COUNT / 1000 - 1);
    parse_urls_free(&u);
}

static void test_list_bad_items(void **state) {
    (void)state;
    parse_urls u;
    char err[256], l[256];
    const char *body = "{\"count\": 7, \"results\": [{\"id\": 42}, {\"id\": \"abc\"}, {\"name\": \"x\"},"
                       " 5, {\"id\": \"\"}, {\"id\": 1.5}, {\"id\": \"0077\"}, {\"id\": -3}, {\"id\": null}]}";
    parse_urls_init(&u);
    assert_int_equal(parse_list("http://h/api/book/?limit=18&offset=18", body, strlen(body), &u,
                                err, sizeof(err)),
                     0);
    assert_int_equal(u.n, 2);
    assert_int_equal(u.skipped, 7);
    assert_string_equal(line_at(&u, 0, l, sizeof(l)), "http://h/api/book/42");
    assert_string_equal(line_at(&u, 1, l, sizeof(l)), "http://h/api/book/0077");
    parse_urls_free(&u);
}

static void test_list_errors(void **state) {
    (void)state;
    expect_list_fail(LIST0, "{\"count\": 1, \"results\": [", "invalid JSON");
    expect_list_fail(LIST0, "", "empty body");
    expect_list_fail(LIST0, "[1, 2]", "not an object");
    expect_list_fail(LIST0, "\"str\"", "not an object");
    expect_list_fail(LIST0, "{\"count\": 1}", "results missing");
    expect_list_fail(LIST0, "{\"count\": 1, \"results\": {}}", "results is not an array");
    expect_list_fail(LIST0, "{\"results\": []}", "count missing");
    expect_list_fail(LIST0, "{\"count\": \"9040\", \"results\": []}", "count is not a number");
    expect_list_fail(LIST0, "{\"count\": -1, \"results\": []}", "count is negative");
    expect_list_fail(LIST0, "{\"count\": 1, \"results\": []} xx", "trailing data");
    expect_list_fail(LIST0, "{\"count\": 1, \"results\": [\"\xff\"]}", "invalid utf-8");
    expect_list_fail(DURL, "{\"count\": 1, \"results\": []}", "not a list url");
    /* Trailing whitespace is fine. */
    parse_urls u;
    char err[256];
    const char *ok = " {\"count\": 0, \"results\": []}\r\n ";
    parse_urls_init(&u);
    assert_int_equal(parse_list(LIST0, ok, strlen(ok), &u, err, sizeof(err)), 0);
    parse_urls_free(&u);
}

/* ---------- detail pages ---------- */

static const char *FULL =
    "{\"id\": \"7952978\", \"name\": \"Wonder\","
    " \"authors\": [\"\\n            R. J. Palacio\\n            \", \"  \", \"B\\t\\tC\", 7],"
    " \"translators\": [\"\\u3000\\u738b\\u3000\\u5c0f\\u6ce2 \"],"
    " \"publisher\": \"Knopf Books for Young Readers\","
    " \"tags\": [\"\xe5\xb0\x8f\xe8\xaf\xb4\", \"children\"],"
    " \"url\": \"https://book.douban.com/subject/7952978/\", \"isbn\": \"9780375869020\","
    " \"cover\": \"https://img/x.jpg\", \"page_number\": 352, \"price\": \"USD 15.99\","
    " \"score\": \"8.9\", \"introduction\": \"Line 1\\nLine 2 &amp; more\","
    " \"catalog\": null, \"published_at\": \"2012-02-14T00:00:00Z\","
    " \"updated_at\": \"2020-03-21T09:45:00+08:00\","
    " \"comments\": [{\"id\": \"1\", \"content\": \"good\"}, {\"id\": 2, \"content\": null}, 3],"
    " \"extra\": {\"ignored\": true}}";

static void test_detail_full(void **state) {
    (void)state;
    bson_t doc;
    char err[256];
    bson_init(&doc);
    assert_int_equal(parse_detail(DURL, FULL, strlen(FULL), 1700000000123LL, &doc, err, sizeof(err)), 0);
    assert_true(bson_validate(&doc, BSON_VALIDATE_UTF8, NULL));

    /* _id comes first. */
    bson_iter_t it;
    assert_true(bson_iter_init(&it, &doc));
    assert_true(bson_iter_next(&it));
    assert_string_equal(bson_iter_key(&it), "_id");
    assert_str_field(&doc, "_id", "7952978");
    assert_str_field(&doc, "name", "Wonder");
    const char *authors[] = { "R. J. Palacio", "B C" };
    assert_str_array(&doc, "authors", authors, 2);
    const char *translators[] = { "\xe7\x8e\x8b \xe5\xb0\x8f\xe6\xb3\xa2" };
    assert_str_array(&doc, "translators", translators, 1);
    assert_str_field(&doc, "publisher", "Knopf Books for Young Readers");
    const char *tags[] = { "\xe5\xb0\x8f\xe8\xaf\xb4", "children" };
    assert_str_array(&doc, "tags", tags, 2);
    assert_str_field(&doc, "isbn", "9780375869020");
    it = find(&doc, "page_number");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_INT32);
    assert_int_equal(bson_iter_int32(&it), 352);
    assert_str_field(&doc, "price", "USD 15.99");
    it = find(&doc, "score");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_DOUBLE);
    assert_true(bson_iter_double(&it) > 8.8999 && bson_iter_double(&it) < 8.9001);
    it = find(&doc, "published_at");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_DATE_TIME);
    assert_int_equal(bson_iter_date_time(&it), 1329177600000LL);
    it = find(&doc, "updated_at");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_DATE_TIME);
    assert_int_equal(bson_iter_date_time(&it), 1584755100000LL); /* 01:45:00Z */
    assert_str_field(&doc, "url", "https://book.douban.com/subject/7952978/");
    assert_str_field(&doc, "cover", "https://img/x.jpg");
    /* issue 14: character references are decoded in text fields. */
    assert_str_field(&doc, "introduction", "Line 1\nLine 2 & more");
    assert_null_field(&doc, "catalog");
    assert_str_field(&doc, "source_url", DURL);
    it = find(&doc, "fetched_at");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_DATE_TIME);
    assert_int_equal(bson_iter_date_time(&it), 1700000000123LL);
    assert_false(bson_has_field(&doc, "extra"));
    assert_false(bson_has_field(&doc, "id"));

    /* comments: two objects (the number is dropped), numeric id as digits. */
    bson_iter_t c, c0;
    it = find(&doc, "comments");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_ARRAY);
    assert_true(bson_iter_recurse(&it, &c));
    assert_true(bson_iter_next(&c));
    assert_int_equal(bson_iter_type(&c), BSON_TYPE_DOCUMENT);
    assert_true(bson_iter_recurse(&c, &c0));
    assert_true(bson_iter_find(&c0, "id"));
    assert_string_equal(bson_iter_utf8(&c0, NULL), "1");
    assert_true(bson_iter_find(&c0, "content"));
    assert_string_equal(bson_iter_utf8(&c0, NULL), "good");
    assert_true(bson_iter_next(&c));
    assert_true(bson_iter_recurse(&c, &c0));
    assert_true(bson_iter_find(&c0, "id"));
    assert_string_equal(bson_iter_utf8(&c0, NULL), "2");
    assert_true(bson_iter_find(&c0, "content"));
    assert_int_equal(bson_iter_type(&c0), BSON_TYPE_NULL);
    assert_false(bson_iter_next(&c));

    /* 19 fields, nothing else. */
    assert_int_equal(bson_count_keys(&doc), 19);
    bson_destroy(&doc);
}

static void test_detail_nulls(void **state) {
    (void)state;
    static const char *optional[] = { "name", "publisher", "isbn", "page_number", "price", "score",
                                      "published_at", "updated_at", "url", "cover", "introduction",
                                      "catalog" };
    /* issue 14: a list field is always a list, [] when absent, null or not a list. */
    static const char *lists[] = { "authors", "translators", "tags", "comments" };
    bson_t doc;
    char err[256];
    /* Missing fields. */
    const char *min = "{\"id\": \"7952978\"}";
    bson_init(&doc);
    assert_int_equal(parse_detail(DURL "/", min, strlen(min), 5, &doc, err, sizeof(err)), 0);
    for (size_t i = 0; i < sizeof(optional) / sizeof(*optional); i++) assert_null_field(&doc, optional[i]);
    for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++) assert_empty_array(&doc, lists[i]);
    assert_str_field(&doc, "_id", "7952978");
    assert_str_field(&doc, "source_url", DURL "/");
    assert_int_equal(bson_count_keys(&doc), 19);
    bson_destroy(&doc);

    /* Explicit nulls, and values of the wrong type, become null too. */
    const char *nulls =
        "{\"id\": 7952978, \"name\": null, \"authors\": null, \"translators\": {}, \"publisher\": 5,"
        " \"tags\": null, \"isbn\": null, \"page_number\": null, \"price\": null, \"score\": null,"
        " \"published_at\": null, \"updated_at\": 17, \"url\": null, \"cover\": [], "
        " \"introduction\": null, \"catalog\": null, \"comments\": null}";
    bson_init(&doc);
    assert_int_equal(parse_detail(DURL, nulls, strlen(nulls), 5, &doc, err, sizeof(err)), 0);
    for (size_t i = 0; i < sizeof(optional) / sizeof(*optional); i++) assert_null_field(&doc, optional[i]);
    for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++) assert_empty_array(&doc, lists[i]);
    assert_str_field(&doc, "_id", "7952978");
    bson_destroy(&doc);

    /* Empty arrays stay arrays; a lone author string becomes an array of one. */
    const char *arrs = "{\"id\": \"7952978\", \"authors\": \"  Solo  Author \", \"tags\": [],"
                       " \"translators\": [\" \", \"\"]}";
    bson_init(&doc);
    assert_int_equal(parse_detail(DURL, arrs, strlen(arrs), 5, &doc, err, sizeof(err)), 0);
    const char *solo[] = { "Solo Author" };
    assert_str_array(&doc, "authors", solo, 1);
    assert_str_array(&doc, "tags", NULL, 0);
    assert_str_array(&doc, "translators", NULL, 0);
    bson_destroy(&doc);
}

/* Parses {"id": "1", key: value} and returns the document (caller destroys). */
static void detail_with(bson_t *doc, const char *key, const char *value) {
    char body[512], err[256];
    snprintf(body, sizeof(body), "{\"id\": \"1\", \"%s\": %s}", key, value);
    bson_init(doc);
    if (parse_detail("http://h/api/book/1", body, strlen(body), 0, doc, err, sizeof(err)) != 0)
        fail_msg("parse_detail failed on %s: %s", body, err);
}

static void test_detail_conversions(void **state) {
    (void)state;
    bson_t d;
    bson_iter_t it;

    detail_with(&d, "score", "8");
    it = find(&d, "score");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_DOUBLE);
    assert_true(bson_iter_double(&it) == 8.0);
    bson_destroy(&d);
    detail_with(&d, "score", "\" 9.5 \"");
    it = find(&d, "score");
    assert_true(bson_iter_double(&it) == 9.5);
    bson_destroy(&d);
    const char *bad_scores[] = { "\"\"", "\"abc\"", "\"8.9x\"", "\"nan\"", "\"inf\"", "\"1e999\"", "true", "[]" };
    for (size_t i = 0; i < sizeof(bad_scores) / sizeof(*bad_scores); i++) {
        detail_with(&d, "score", bad_scores[i]);
        assert_null_field(&d, "score");
        bson_destroy(&d);
    }

    detail_with(&d, "page_number", "\"352\"");
    it = find(&d, "page_number");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_INT32);
    assert_int_equal(bson_iter_int32(&it), 352);
    bson_destroy(&d);
    detail_with(&d, "page_number", "30000000000");
    it = find(&d, "page_number");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_INT64);
    assert_int_equal(bson_iter_int64(&it), 30000000000LL);
    bson_destroy(&d);
    detail_with(&d, "page_number", "12.0");
    it = find(&d, "page_number");
    assert_int_equal(bson_iter_int32(&it), 12);
    bson_destroy(&d);
    const char *bad_pages[] = { "12.5", "\"12 pages\"", "\"\"", "1e300", "false" };
    for (size_t i = 0; i < sizeof(bad_pages) / sizeof(*bad_pages); i++) {
        detail_with(&d, "page_number", bad_pages[i]);
        assert_null_field(&d, "page_number");
        bson_destroy(&d);
    }

    detail_with(&d, "price", "\"39.00\xe5\x85\x83\"");
    assert_str_field(&d, "price", "39.00\xe5\x85\x83");
    bson_destroy(&d);
    detail_with(&d, "price", "15.99");
    assert_null_field(&d, "price");
    bson_destroy(&d);

    detail_with(&d, "published_at", "\"2019-10-15\"");
    it = find(&d, "published_at");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_DATE_TIME);
    assert_int_equal(bson_iter_date_time(&it), 1571097600000LL);
    bson_destroy(&d);
    detail_with(&d, "published_at", "\"2019\"");
    assert_null_field(&d, "published_at");
    bson_destroy(&d);
}

static void test_iso8601(void **state) {
    (void)state;
    int64_t ms = -1;
    assert_int_equal(parse_iso8601_ms("2019-10-15T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 1571097600000LL);
    assert_int_equal(parse_iso8601_ms("2019-10-15", &ms), 0);
    assert_int_equal(ms, 1571097600000LL);
    assert_int_equal(parse_iso8601_ms("2019-10-15T00:00:00+08:00", &ms), 0);
    assert_int_equal(ms, 1571097600000LL - 8 * 3600 * 1000LL);
    assert_int_equal(parse_iso8601_ms("2019-10-15T00:00:00-0530", &ms), 0);
    assert_int_equal(ms, 1571097600000LL + 330 * 60 * 1000LL);
    assert_int_equal(parse_iso8601_ms("2019-10-15 12:30", &ms), 0);
    assert_int_equal(ms, 1571097600000LL + 45000 * 1000LL);
    assert_int_equal(parse_iso8601_ms("2019-10-15T00:00:01.5Z", &ms), 0);
    assert_int_equal(ms, 1571097601500LL);
    assert_int_equal(parse_iso8601_ms("2019-10-15T00:00:00.123456+00", &ms), 0);
    assert_int_equal(ms, 1571097600123LL);
    assert_int_equal(parse_iso8601_ms("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(parse_iso8601_ms("1969-12-31T23:59:59Z", &ms), 0);
    assert_int_equal(ms, -1000);
    assert_int_equal(parse_iso8601_ms("2020-02-29", &ms), 0);
    assert_int_equal(parse_iso8601_ms("2000-02-29", &ms), 0);
    assert_int_equal(parse_iso8601_ms(" 2019-10-15\n", &ms), 0);

    const char *bad[] = { "", "2019", "2019-10", "2019-13-01", "2019-00-10", "2019-02-29",
                          "1900-02-29", "2019-04-31", "2019-10-15T", "2019-10-15T25:00:00Z",
                          "2019-10-15T10:61", "2019-10-15T10:00:00+24:00", "2019-10-15T10:00:00.Z",
                          "2019-10-15Tab:cd", "2019-10-15T00:00:00Zjunk", "15/10/2019",
                          "2019-10-15Z", "20191015", "2019-1-5" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        if (parse_iso8601_ms(bad[i], &ms) != -1) fail_msg("accepted '%s'", bad[i]);
}

static void test_numbers(void **state) {
    (void)state;
    double d;
    int64_t v;
    assert_int_equal(parse_decimal("8.9", &d), 0);
    assert_true(d > 8.8999 && d < 8.9001);
    assert_int_equal(parse_decimal("-1e2", &d), 0);
    assert_true(d == -100.0);
    assert_int_equal(parse_decimal("0x10", &d), -1);
    assert_int_equal(parse_decimal(".", &d), -1);
    assert_int_equal(parse_decimal("1e400", &d), -1);
    assert_int_equal(parse_int_str(" 352 ", &v), 0);
    assert_int_equal(v, 352);
    assert_int_equal(parse_int_str("-7", &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(parse_int_str("1234567890123456789", &v), -1);
    assert_int_equal(parse_int_str("3.5", &v), -1);
    assert_int_equal(parse_int_str("-", &v), -1);
}

static void test_detail_errors(void **state) {
    (void)state;
    const char *b;
    expect_detail_fail(DURL, "{\"id\": \"7952978\", ", 18, "invalid JSON");
    expect_detail_fail(DURL, "{\"id\": \"7952978\"} {}", 20, "trailing data");
    expect_detail_fail(DURL, "nope", 4, "invalid JSON");
    expect_detail_fail(DURL, "[{\"id\": \"7952978\"}]", 19, "not an object");
    expect_detail_fail(DURL, "null", 4, "gone (the page's item is null)");
    b = "{\"detail\": \"Not found.\"}";
    expect_detail_fail(DURL, b, strlen(b), "no id");
    b = "{\"id\": null}";
    expect_detail_fail(DURL, b, strlen(b), "no id");
    b = "{\"id\": \"79a\"}";
    expect_detail_fail(DURL, b, strlen(b), "bad id");
    b = "{\"id\": [1]}";
    expect_detail_fail(DURL, b, strlen(b), "bad id");
    b = "{\"id\": \"1234\"}";
    expect_detail_fail(DURL, b, strlen(b), "id mismatch");
    b = "{\"id\": 1234}";
    expect_detail_fail(DURL, b, strlen(b), "id mismatch");
    b = "{\"id\": \"7952978\"}";
    expect_detail_fail(LIST0, b, strlen(b), "not a detail url");
    expect_detail_fail("http://h/api/book/7952978/x", b, strlen(b), "not a detail url");
    expect_detail_fail(DURL, "", 0, "empty body");
}

static void test_detail_invalid_utf8(void **state) {
    (void)state;
    const char *bads[] = {
        "{\"id\": \"7952978\", \"name\": \"\xff\"}",
        "{\"id\": \"7952978\", \"authors\": [\"\xc0\xaf\"]}",    /* overlong */
        "{\"id\": \"7952978\", \"name\": \"\xed\xa0\x80\"}",     /* surrogate */
        "{\"id\": \"7952978\", \"introduction\": \"\xe4\xb8\"}", /* truncated */
        "{\"id\": \"7952978\", \"k\xfe\": 1}",                   /* in a key */
    };
    for (size_t i = 0; i < sizeof(bads) / sizeof(*bads); i++)
        expect_detail_fail(DURL, bads[i], strlen(bads[i]), "invalid utf-8");
    /* Escapes that would smuggle a NUL or a lone surrogate. */
    const char *b = "{\"id\": \"7952978\", \"name\": \"a\\u0000b\"}";
    expect_detail_fail(DURL, b, strlen(b), "NUL");
    b = "{\"id\": \"7952978\", \"name\": \"a\\uZZZZb\"}";
    expect_detail_fail(DURL, b, strlen(b), "bad \\u escape");
    b = "{\"id\": \"7952978\", \"name\": \"\\ud800x\"}";
    expect_detail_fail(DURL, b, strlen(b), "invalid JSON");
    /* A raw NUL byte. */
    expect_detail_fail(DURL, "{\"id\": \"7952978\", \"n\": \"a\0b\"}", 29, "NUL byte");
    /* The url itself must be UTF-8 too (it is stored as source_url). */
    b = "{\"id\": \"1\"}";
    expect_detail_fail("http://h/api/book/1?\xff", b, strlen(b), "invalid utf-8");
    /* A valid escaped surrogate pair is fine. */
    bson_t doc;
    char err[256];
    b = "{\"id\": \"7952978\", \"name\": \"\\ud83d\\ude00\"}";
    bson_init(&doc);
    assert_int_equal(parse_detail(DURL, b, strlen(b), 0, &doc, err, sizeof(err)), 0);
    assert_str_field(&doc, "name", "\xf0\x9f\x98\x80");
    bson_destroy(&doc);
}

/* {"id": "1", "x": [[[...]]]} with depth levels of nesting in total. */
static char *deep_body(int depth) {
    size_t cap = (size_t)depth * 2 + 64;
    char *b = malloc(cap);
    assert_non_null(b);
    int o = snprintf(b, cap, "{\"id\": \"1\", \"x\": ");
    for (int i = 1; i < depth; i++) b[o++] = '[';
    for (int i = 1; i < depth; i++) b[o++] = ']';
    b[o++] = '}';
    b[o] = '\0';
    return b;
}

static void test_detail_depth_and_size(void **state) {
    (void)state;
    bson_t doc;
    char err[256];
    char *b = deep_body(PARSE_MAX_DEPTH);
    bson_init(&doc);
    assert_int_equal(parse_detail("http://h/api/book/1", b, strlen(b), 0, &doc, err, sizeof(err)), 0);
    bson_destroy(&doc);
    free(b);
    b = deep_body(PARSE_MAX_DEPTH + 1);
    expect_detail_fail("http://h/api/book/1", b, strlen(b), "nesting deeper than 64");
    free(b);
    b = deep_body(100000);
    expect_detail_fail("http://h/api/book/1", b, strlen(b), "nesting deeper than 64");
    free(b);
    /* Brackets inside strings do not count. */
    const char *s = "{\"id\": \"1\", \"name\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"{{{\"}";
    bson_init(&doc);
    assert_int_equal(parse_detail("http://h/api/book/1", s, strlen(s), 0, &doc, err, sizeof(err)), 0);
    bson_destroy(&doc);

    /* The body cap. */
    size_t old = parse_max_body();
    parse_set_max_body(16);
    s = "{\"id\": \"1\", \"name\": \"long enough\"}";
    expect_detail_fail("http://h/api/book/1", s, strlen(s), "body too large");
    expect_list_fail("http://h/api/book/", "{\"count\": 0, \"results\": []}", "body too large");
    parse_set_max_body(old);
    assert_int_equal(parse_max_body(), old);
    bson_init(&doc);
    assert_int_equal(parse_detail("http://h/api/book/1", s, strlen(s), 0, &doc, err, sizeof(err)), 0);
    bson_destroy(&doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collapse_ws),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_page_kind),
        cmocka_unit_test(test_list_first_page),
        cmocka_unit_test(test_list_limit_and_origin),
        cmocka_unit_test(test_list_bad_items),
        cmocka_unit_test(test_list_errors),
        cmocka_unit_test(test_detail_full),
        cmocka_unit_test(test_detail_nulls),
        cmocka_unit_test(test_detail_conversions),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_detail_errors),
        cmocka_unit_test(test_detail_invalid_utf8),
        cmocka_unit_test(test_detail_depth_and_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
