/* test_spec.c -- unit tests for the spec engine (parser/spec*.c) and the HTML text helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse_book.h"
#include "spec.h"

/* ---------- helpers ---------- */

static spec_t *load(const char *text) {
    char err[512];
    spec_t *s = spec_load_text(text, strlen(text), "t.json", err, sizeof(err));
    if (!s) fail_msg("spec did not load: %s", err);
    return s;
}

static void expect_load_error(const char *text, const char *want) {
    char err[512] = "";
    spec_t *s = spec_load_text(text, strlen(text), "t.json", err, sizeof(err));
    if (s) {
        spec_free(s);
        fail_msg("spec loaded but should fail with '%s'", want);
    }
    if (!strstr(err, want)) fail_msg("error '%s' does not contain '%s'", err, want);
    if (strchr(err, '\n')) fail_msg("error '%s' is more than one line", err);
    assert_true(strncmp(err, "t.json: $", 9) == 0);
}

/* Runs a list page; returns the URLs '\n'-joined (static buffer). */
static const char *run_list(const spec_t *s, const char *url, const char *body, int want_rc, char *err) {
    static char out[8192];
    spec_match m;
    parse_urls u;
    parse_urls_init(&u);
    assert_int_equal(spec_classify(s, url, &m), PARSE_KIND_LIST);
    int rc = spec_list(s, &m, url, body, strlen(body), &u, err, 256);
    if (rc != want_rc) fail_msg("spec_list(%s) = %d (%s)", url, rc, rc ? err : "");
    snprintf(out, sizeof(out), "%s", u.buf ? u.buf : "");
    parse_urls_free(&u);
    return out;
}

static int run_item(const spec_t *s, const char *url, const char *body, bson_t *doc, char *err) {
    spec_match m;
    bson_init(doc);
    if (spec_classify(s, url, &m) != PARSE_KIND_DETAIL) fail_msg("%s is no item page", url);
    return spec_item(s, &m, url, body, strlen(body), 42, doc, err, 256);
}

static bson_iter_t field(const bson_t *b, const char *key) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, b, key)) fail_msg("field %s missing", key);
    return it;
}

static void assert_str(const bson_t *b, const char *key, const char *want) {
    bson_iter_t it = field(b, key);
    if (bson_iter_type(&it) != BSON_TYPE_UTF8) fail_msg("field %s is not a string", key);
    assert_string_equal(bson_iter_utf8(&it, NULL), want);
}

static void assert_nullf(const bson_t *b, const char *key) {
    bson_iter_t it = field(b, key);
    if (bson_iter_type(&it) != BSON_TYPE_NULL) fail_msg("field %s is not null", key);
}

/* ---------- the shipped spec ---------- */

static void test_books_json_is_the_builtin(void **state) {
    (void)state;
    FILE *f = fopen("specs/books.json", "rb");
    if (!f) f = fopen("../../specs/books.json", "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (strcmp(buf, spec_books_json) != 0) fail_msg("specs/books.json changed: run scripts/spec-books.sh");
    assert_non_null(spec_default());
    assert_string_equal(spec_name(spec_default()), "books");
}

/* ---------- URL patterns ---------- */

static void test_patterns(void **state) {
    (void)state;
    spec_t *s = load("{\"pages\": ["
                     "{\"match\": [\"/v/{shelf}/items/{id:digits}.json\"], \"item\": {\"id\": {\"from\": \"id\"},"
                     " \"fields\": [{\"name\": \"t\", \"type\": \"string\"}]}},"
                     "{\"match\": \"/v/{shelf}/items?*\", \"list\": {\"items\": \"\", \"item_url\": \"{origin}/{k}\"}}]}");
    spec_match m;
    assert_int_equal(spec_classify(s, "http://h/v/a-b/items/12.json", &m), PARSE_KIND_DETAIL);
    assert_int_equal(m.ncap, 2);
    assert_string_equal(m.cap[0].name, "shelf");
    assert_int_equal(m.cap[0].n, 3);
    assert_memory_equal(m.cap[1].s, "12", 2);
    assert_int_equal(spec_classify(s, "http://h/v/a/items/1x.json", &m), PARSE_KIND_UNKNOWN);
    assert_int_equal(spec_classify(s, "http://h/v/a/b/items/1.json", &m), PARSE_KIND_UNKNOWN);
    assert_int_equal(spec_classify(s, "http://h/v/a/items?page=2", &m), PARSE_KIND_LIST);
    assert_int_equal(spec_classify(s, "http://h/v/a/items", &m), PARSE_KIND_UNKNOWN); /* ?* needs a query */
    assert_int_equal(spec_classify(s, "ftp://h/v/a/items?x", &m), PARSE_KIND_UNKNOWN);
    assert_int_equal(spec_classify(s, NULL, &m), PARSE_KIND_UNKNOWN);
    spec_free(s);
}

/* ---------- pagination ---------- */

static void test_pagination_pages(void **state) {
    (void)state;
    char err[256];
    spec_t *s = load("{\"pages\": [{\"match\": \"/l\", \"list\": {\"items\": \"data\", \"item_url\": \"{origin}/i/{id:digits}\","
                     " \"paginate\": {\"type\": \"pages\", \"total_pages\": \"meta.pages\", \"url\": \"{origin}/l?page={page}\"}}}]}");
    assert_string_equal(run_list(s, "http://h:1/l", "{\"data\": [{\"id\": 7}, {\"id\": \"x\"}], \"meta\": {\"pages\": 3}}", 0, err),
                        "http://h:1/i/7\nhttp://h:1/l?page=2\nhttp://h:1/l?page=3");
    assert_string_equal(run_list(s, "http://h:1/l?page=2", "{\"data\": [], \"meta\": {\"pages\": 3}}", 0, err), "");
    run_list(s, "http://h:1/l", "{\"data\": []}", -1, err);
    assert_string_equal(err, "meta.pages missing");
    run_list(s, "http://h:1/l", "{\"data\": {}, \"meta\": {\"pages\": 1}}", -1, err);
    assert_string_equal(err, "data is not an array");
    spec_free(s);

    s = load("{\"pages\": [{\"match\": \"/l\", \"list\": {\"items\": \"r\", \"item_url\": \"/i/{id}\","
             " \"paginate\": {\"type\": \"pages\", \"total\": \"n\", \"per_page\": 10, \"first\": 0, \"param\": \"p\","
             " \"url\": \"{origin}/l?p={page}\"}}}]}");
    assert_string_equal(run_list(s, "http://h/l?p=0", "{\"r\": [], \"n\": 25}", 0, err), "http://h/l?p=1\nhttp://h/l?p=2");
    spec_free(s);
}

static void test_pagination_next_and_cursor(void **state) {
    (void)state;
    char err[256];
    spec_t *s = load("{\"pages\": [{\"match\": \"/l\", \"list\": {\"items\": \"d.items\", \"item_url\": \"{origin}/i/{ref.key}\","
                     " \"paginate\": {\"type\": \"next\", \"from\": \"links.next\"}}}]}");
    /* string keys are percent-encoded into the URL; relative next links get the origin */
    assert_string_equal(run_list(s, "https://h/l", "{\"d\": {\"items\": [{\"ref\": {\"key\": \"a b/c\"}}]},"
                                                   " \"links\": {\"next\": \"/l?cursor=x\"}}",
                                 0, err),
                        "https://h/i/a%20b%2Fc\nhttps://h/l?cursor=x");
    assert_string_equal(run_list(s, "https://h/l", "{\"d\": {\"items\": []}, \"links\": {\"next\": null}}", 0, err), "");
    /* a page naming itself ends the walk */
    assert_string_equal(run_list(s, "https://h/l", "{\"d\": {\"items\": []}, \"links\": {\"next\": \"https://h/l\"}}", 0, err), "");
    run_list(s, "https://h/l", "{\"d\": {\"items\": []}, \"links\": {\"next\": \"java script:x\"}}", -1, err);
    assert_string_equal(err, "links.next is not a usable URL");
    spec_free(s);

    s = load("{\"pages\": [{\"match\": \"/l\", \"list\": {\"items\": \"r\", \"item_url\": \"/i/{id}\","
             " \"paginate\": {\"type\": \"cursor\", \"from\": \"next_cursor\", \"url\": \"{origin}/l?c={cursor}\"}}}]}");
    assert_string_equal(run_list(s, "http://h/l", "{\"r\": [], \"next_cursor\": \"a+b=\"}", 0, err), "http://h/l?c=a%2Bb%3D");
    assert_string_equal(run_list(s, "http://h/l", "{\"r\": [], \"next_cursor\": 42}", 0, err), "http://h/l?c=42");
    assert_string_equal(run_list(s, "http://h/l", "{\"r\": [], \"next_cursor\": null}", 0, err), "");
    assert_string_equal(run_list(s, "http://h/l", "{\"r\": []}", 0, err), "");
    spec_free(s);
}

/* ---------- items ---------- */

static const char *ITEM_SPEC =
    "{\"pages\": [{\"match\": \"/r/{key}\", \"item\": {\"root\": \"data.rec\","
    " \"id\": {\"from\": \"key\", \"same_as\": \"key\"},"
    " \"fields\": ["
    "  {\"name\": \"title\", \"type\": \"string\", \"required\": true, \"entities\": true},"
    "  {\"name\": \"n\", \"from\": \"stats.n\", \"type\": \"integer\"},"
    "  {\"name\": \"ok\", \"type\": \"boolean\"},"
    "  {\"name\": \"d1\", \"type\": \"date\", \"format\": \"%d.%m.%Y\"},"
    "  {\"name\": \"d2\", \"type\": \"date\", \"format\": \"%b %e, %Y %H:%M %z\"},"
    "  {\"name\": \"d3\", \"type\": \"date\", \"format\": \"epoch_s\"},"
    "  {\"name\": \"body\", \"type\": \"html\"},"
    "  {\"name\": \"meta\", \"type\": \"object\"},"
    "  {\"name\": \"first_tag\", \"from\": \"tags.0\", \"type\": \"string\"},"
    "  {\"name\": \"people\", \"type\": \"objects\", \"fields\": [{\"name\": \"who\", \"from\": \"name\", \"type\": \"string\", \"collapse\": true}]}"
    " ], \"source_url\": null, \"fetched_at\": \"seen\"}}]}";

static void test_item_conversions(void **state) {
    (void)state;
    char err[256];
    bson_t d;
    bson_iter_t it;
    spec_t *s = load(ITEM_SPEC);
    const char *body =
        "{\"data\": {\"rec\": {\"key\": \"k-1\", \"title\": \"A &amp; B &#x1F600;\", \"stats\": {\"n\": \"12\"},"
        " \"ok\": \"Yes\", \"d1\": \"05.01.1969\", \"d2\": \"Mar 3, 2020 09:45 +01:00\", \"d3\": 1.5,"
        " \"body\": \"<p>One &lt;b&gt;</p><p>Two<br/>three</p><script>x()</script>\","
        " \"meta\": {\"a\": [1, 2.5, \"x\", null, true]}, \"tags\": [\"t0\", \"t1\"],"
        " \"people\": [{\"name\": \"  A   B \"}, 7, {\"x\": 1}]}}}";
    assert_int_equal(run_item(s, "http://h/r/k-1", body, &d, err), 0);
    assert_str(&d, "_id", "k-1");
    assert_str(&d, "title", "A & B \xf0\x9f\x98\x80");
    it = field(&d, "n");
    assert_int_equal(bson_iter_int32(&it), 12);
    it = field(&d, "ok");
    assert_true(bson_iter_type(&it) == BSON_TYPE_BOOL && bson_iter_bool(&it));
    it = field(&d, "d1");
    assert_int_equal(bson_iter_date_time(&it), -31190400000LL); /* 1969-01-05 */
    it = field(&d, "d2");
    assert_int_equal(bson_iter_date_time(&it), 1583225100000LL); /* 2020-03-03T09:45+01:00 = 08:45Z */
    it = field(&d, "d3");
    assert_int_equal(bson_iter_date_time(&it), 1500);
    assert_str(&d, "body", "One <b>\nTwo\nthree\n");
    it = field(&d, "meta");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_DOCUMENT);
    assert_str(&d, "first_tag", "t0");
    it = field(&d, "people");
    bson_iter_t c, c0;
    assert_true(bson_iter_recurse(&it, &c));
    assert_true(bson_iter_next(&c));
    assert_true(bson_iter_recurse(&c, &c0));
    assert_true(bson_iter_find(&c0, "who"));
    assert_string_equal(bson_iter_utf8(&c0, NULL), "A B");
    assert_true(bson_iter_next(&c));  /* {"x": 1}: who is null */
    assert_false(bson_iter_next(&c)); /* 7 was dropped */
    assert_false(bson_has_field(&d, "source_url"));
    it = field(&d, "seen");
    assert_int_equal(bson_iter_date_time(&it), 42);
    bson_destroy(&d);

    /* Missing optional fields are null; a wrong type too. */
    assert_int_equal(run_item(s, "http://h/r/k-2", "{\"data\": {\"rec\": {\"key\": \"k-2\", \"title\": \"t\", \"ok\": 3,"
                                                   " \"d1\": \"1969-01-05\"}}}",
                              &d, err),
                     0);
    assert_nullf(&d, "n");
    assert_nullf(&d, "ok");
    assert_nullf(&d, "d1");
    assert_nullf(&d, "meta");
    it = field(&d, "people");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_ARRAY);
    bson_destroy(&d);

    /* Required, id and root failures: dead letters with a reason. */
    assert_int_equal(run_item(s, "http://h/r/k-3", "{\"data\": {\"rec\": {\"key\": \"k-3\"}}}", &d, err), -1);
    assert_string_equal(err, "required field title missing (title)");
    assert_int_equal(d.len, 5);
    bson_destroy(&d);
    assert_int_equal(run_item(s, "http://h/r/k-3", "{\"data\": {\"rec\": {\"key\": \"k-3\", \"title\": 5}}}", &d, err), -1);
    assert_string_equal(err, "required field title: not a string");
    bson_destroy(&d);
    assert_int_equal(run_item(s, "http://h/r/k-4", "{\"data\": {\"rec\": {\"key\": \"k-5\", \"title\": \"t\"}}}", &d, err), -1);
    assert_string_equal(err, "id mismatch (url k-4, body k-5)");
    bson_destroy(&d);
    assert_int_equal(run_item(s, "http://h/r/k-4", "{\"data\": {}}", &d, err), -1);
    assert_string_equal(err, "data.rec missing");
    bson_destroy(&d);
    assert_int_equal(run_item(s, "http://h/r/k-4", "{\"data\": {\"rec\": {\"key\": [1]}}}", &d, err), -1);
    assert_string_equal(err, "bad id (not a string or a whole number)");
    bson_destroy(&d);
    /* found by fuzz_specpage: an id with a raw newline never reaches a reason or a document */
    assert_int_equal(run_item(s, "http://h/r/k-4", "{\"data\": {\"rec\": {\"key\": \"x\ny\", \"title\": \"t\"}}}", &d, err), -1);
    assert_string_equal(err, "bad id (holds control characters)");
    bson_destroy(&d);
    spec_free(s);
}

static void test_id_template(void **state) {
    (void)state;
    char err[256];
    bson_t d;
    spec_t *s = load("{\"pages\": [{\"match\": \"/r/{x}\", \"item\": {\"id\": {\"template\": \"{src}:{n:digits}\"},"
                     " \"fields\": [{\"name\": \"src\", \"type\": \"string\"}]}}]}");
    assert_int_equal(run_item(s, "http://h/r/1", "{\"src\": \"isbn\", \"n\": 978}", &d, err), 0);
    assert_str(&d, "_id", "isbn:978");
    bson_destroy(&d);
    assert_int_equal(run_item(s, "http://h/r/1", "{\"src\": \"isbn\", \"n\": \"97x\"}", &d, err), -1);
    assert_non_null(strstr(err, "bad id"));
    bson_destroy(&d);
    spec_free(s);
}

/* ---------- loading ---------- */

static void test_load_errors(void **state) {
    (void)state;
    expect_load_error("{\"pages\": [{\"match\": \"/a\", \"list\": {\"items\": \"a..b\", \"item_url\": \"/{id}\"}}]}",
                      "$.pages[0].list.items: bad path 'a..b': empty segment");
    expect_load_error("{\"pages\": [{\"match\": \"/a/{id:int}\", \"item\": {}}]}", "the only check is ':digits'");
    expect_load_error("{\"pages\": [{\"match\": \"/a/{x}{y}\", \"item\": {}}]}", "two captures in a row");
    expect_load_error("{\"pages\": [{\"match\": \"/a\", \"list\": {\"items\": \"r\", \"item_url\": \"{origin}/x\"}}]}",
                      "$.pages[0].list.item_url: the template names no field of the item");
    expect_load_error("{\"pages\": [{\"match\": \"/a\", \"list\": {\"items\": \"r\", \"item_url\": \"/{id}\","
                      " \"paginate\": {\"type\": \"cursor\", \"from\": \"c\", \"url\": \"/l?page={page}\"}}}]}",
                      "must hold {cursor}");
    expect_load_error("{\"pages\": [{\"match\": \"/a/{id}\", \"item\": {\"id\": {\"from\": \"id\"},"
                      " \"fields\": [{\"name\": \"a.b\", \"type\": \"string\"}]}}]}",
                      "cannot be a document key");
    expect_load_error("{\"pages\": [{\"match\": \"/a/{id}\", \"item\": {\"id\": {\"from\": \"id\"},"
                      " \"fields\": [{\"name\": \"x\", \"type\": \"integer\", \"collapse\": true}]}}]}",
                      "collapse and entities apply to string and strings only");
    expect_load_error("{\"pages\": [{\"match\": \"/a/{id}\", \"item\": {\"id\": {\"from\": \"id\"},"
                      " \"fields\": [{\"name\": \"x\", \"type\": \"date\", \"format\": \"%d/%m\"}]}}]}",
                      "has no year");
    expect_load_error("{\"zcrawl_spec\": 2, \"pages\": []}", "$.zcrawl_spec: this parser reads version 1");
    expect_load_error("{\"pages\": [{\"match\": \"/a/{id}\", \"item\": {\"id\": {\"from\": \"id\"},"
                      " \"fields\": [{\"name\": \"fetched_at\", \"type\": \"string\"}]}}]}",
                      "is the key of source_url or fetched_at");
    /* found by fuzz_spec: a message that quotes the spec stays one line */
    expect_load_error("{\"pages\": [{\"match\": \"/a\", \"a\\nb\": 1}]}", "unknown key 'a?b'");
    expect_load_error("{\"pages\": [{\"match\": \"/a\", \"list\": {\"items\": \"r\\n\", \"item_url\": \"/{id}\"}}]}",
                      "items holds a control character");
    char err[256];
    assert_null(spec_load_file("/nonexistent/spec.json", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/spec.json: cannot open"));
}

/* ---------- HTML text ---------- */

static void test_html_text(void **state) {
    (void)state;
    char out[256];
    const char *s = "a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#x27; &nbsp;&mdash;&unknown; &amp &#0; &#xD800; &#99999999;";
    parse_html_unescape(s, strlen(s), out);
    assert_string_equal(out, "a & b <c> \"d\" 'e' \xc2\xa0\xe2\x80\x94&unknown; &amp \xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd");
    s = "x<b>bold</b> 1 < 2 <!-- c --><style>p{}</style>y<br>z</p>&lt;i&gt; <a";
    parse_html_text(s, strlen(s), out);
    assert_string_equal(out, "xbold 1 < 2 y\nz\n<i> <a");
    /* in place, and never longer */
    char buf[] = "&lt;&gt;&amp;";
    assert_int_equal(parse_html_unescape(buf, strlen(buf), buf), 3);
    assert_string_equal(buf, "<>&");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_books_json_is_the_builtin),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_pagination_pages),
        cmocka_unit_test(test_pagination_next_and_cursor),
        cmocka_unit_test(test_item_conversions),
        cmocka_unit_test(test_id_template),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_html_text),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    parse_cleanup();
    return rc;
}
