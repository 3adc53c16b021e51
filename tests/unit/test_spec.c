/* test_spec.c -- unit tests for the spec engine (parser/spec*.c) and the HTML text helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "bson_assert.h"
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

/* Runs a list page with the Link header link (NULL: none known) into o (initialised
 * here; the caller frees it). Returns spec_list's result. */
static int run_list_out(const spec_t *s, const char *url, const char *body, const char *link, spec_out *o, char *err) {
    spec_match m;
    spec_out_init(o);
    if (spec_classify(s, url, &m) != PARSE_KIND_LIST) fail_msg("%s is no list page", url);
    spec_page pg = { url, body, strlen(body), 42, link };
    return spec_list(s, &m, &pg, o, err, 256);
}

/* Runs a list page; returns the URLs '\n'-joined (static buffer). */
static const char *run_list(const spec_t *s, const char *url, const char *body, int want_rc, char *err) {
    static char out[8192];
    spec_out o;
    int rc = run_list_out(s, url, body, NULL, &o, err);
    if (rc != want_rc) fail_msg("spec_list(%s) = %d (%s)", url, rc, rc ? err : "");
    snprintf(out, sizeof(out), "%s", o.urls.buf ? o.urls.buf : "");
    spec_out_free(&o);
    return out;
}

/* Runs an item page into doc (initialised here) and, when urls is not NULL, the URLs it
 * follows '\n'-joined into urls (1024 bytes). Returns spec_item's result. */
static int run_item_urls(const spec_t *s, const char *url, const char *body, bson_t *doc, char *urls, char *err) {
    spec_match m;
    spec_out o;
    bson_init(doc);
    spec_out_init(&o);
    o.doc = doc;
    if (spec_classify(s, url, &m) != PARSE_KIND_DETAIL) fail_msg("%s is no item page", url);
    spec_page pg = { url, body, strlen(body), 42, NULL };
    int rc = spec_item(s, &m, &pg, &o, err, 256);
    if (urls) snprintf(urls, 1024, "%s", o.urls.buf ? o.urls.buf : "");
    spec_out_free(&o);
    return rc;
}

static int run_item(const spec_t *s, const char *url, const char *body, bson_t *doc, char *err) {
    return run_item_urls(s, url, body, doc, NULL, err);
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
    assert_str(&d, "body", "One <b>\nTwo\nthree"); /* trimmed: the last </p> left a newline */
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
                      "collapse applies to string, strings and html only");
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

/* ---------- issue 24: shapes of real APIs ---------- */

/* Runs a page of either kind, counting into c, into o (initialised here; the caller
 * frees it; doc receives an item page's document). Returns what spec_list or
 * spec_item returned. */
static int run_page(const spec_t *s, const char *url, const char *body, bson_t *doc, spec_counts *c, spec_out *o,
                    char *err) {
    spec_match m;
    spec_out_init(o);
    o->doc = doc;
    o->counts = c;
    spec_page pg = { url, body, strlen(body), 1, NULL };
    int kind = spec_classify(s, url, &m);
    if (kind == PARSE_KIND_LIST) return spec_list(s, &m, &pg, o, err, 256);
    if (kind == PARSE_KIND_DETAIL) return spec_item(s, &m, &pg, o, err, 256);
    fail_msg("no rule matches %s", url);
    return -1;
}

/* Counts of a spec run as spec_counts_format's lines (static buffer). */
static const char *counts_text(const spec_t *s, const spec_counts *c) {
    static char out[4096];
    zc_buf b = { 0 };
    assert_true(spec_counts_format(s, c, &b) >= 0);
    snprintf(out, sizeof(out), "%s", b.p ? b.p : "");
    zc_buf_free(&b);
    return out;
}

static void test_top_level_array_of_scalar_ids(void **state) {
    (void)state;
    char err[256];
    spec_t *s = load("{\"pages\": [{\"match\": \"/v0/top.json\", \"list\": {\"items\": \"\","
                     " \"item_url\": \"{origin}/v0/item/{.:digits}.json\"}}]}");
    assert_string_equal(run_list(s, "https://h/v0/top.json", "[8863, \"8864\", 12.5, -3, {\"id\": 1}, \"x\"]", 0, err),
                        "https://h/v0/item/8863.json\nhttps://h/v0/item/8864.json");
    spec_out o;
    spec_counts *c = spec_counts_for(s);
    assert_non_null(c);
    assert_int_equal(run_page(s, "https://h/v0/top.json", "[1, {\"id\": 1}, null]", NULL, c, &o, err), 0);
    assert_int_equal(o.urls.n, 1);
    assert_int_equal(o.urls.skipped, 2);
    assert_string_equal(o.urls.skipped_at, ".");
    assert_string_equal(counts_text(s, c), "skip\tpages[0]\t{origin}/v0/item/{.:digits}.json\t{.}\t2\t3");
    spec_out_free(&o);
    spec_counts_free(c);
    /* a page that is not an array is refused */
    run_list(s, "https://h/v0/top.json", "{\"ids\": [1]}", -1, err);
    assert_string_equal(err, "the page is not an array");
    spec_free(s);
}

static void test_list_documents(void **state) {
    (void)state;
    char err[256];
    spec_out o;
    spec_t *s = load("{\"pages\": [{\"name\": \"repos\", \"match\": \"/orgs/{org}/repos\", \"list\": {\"items\": \"\","
                     " \"item\": {\"id\": {\"from\": \"id\", \"type\": \"digits\"}, \"fields\": ["
                     "  {\"name\": \"name\", \"type\": \"string\", \"required\": true},"
                     "  {\"name\": \"owner\", \"from\": \"owner.login\", \"type\": \"string\"}],"
                     "  \"fetched_at\": null}}}]}");
    const char *body = "[{\"id\": 1296269, \"name\": \"Hello-World\", \"owner\": {\"login\": \"octocat\"}},"
                       " {\"id\": 2, \"owner\": null}, 7, {\"id\": 3, \"name\": \"x\"}]";
    assert_int_equal(run_list_out(s, "https://api.github.com/orgs/octocat/repos", body, "", &o, err), 0);
    assert_int_equal(o.urls.n, 0); /* no per-item request */
    assert_int_equal(o.docs.n, 2);
    assert_int_equal(o.docs.dropped, 2);
    assert_string_equal(o.docs.why, "item 1: required field name missing (name)");
    bson_t d;
    uint32_t len;
    memcpy(&len, o.docs.buf, 4);
    assert_true(bson_init_static(&d, o.docs.buf, BSON_UINT32_FROM_LE(len)));
    assert_str(&d, "_id", "1296269");
    assert_str(&d, "name", "Hello-World");
    assert_str(&d, "owner", "octocat");
    assert_str(&d, "source_url", "https://api.github.com/orgs/octocat/repos");
    assert_false(bson_has_field(&d, "fetched_at"));
    assert_true(bson_init_static(&d, o.docs.buf + d.len, (uint32_t)(o.docs.len - d.len)));
    assert_str(&d, "_id", "3");
    assert_nullf(&d, "owner");
    spec_out_free(&o);
    spec_free(s);
    /* same_as needs a URL of the item's own */
    expect_load_error("{\"pages\": [{\"match\": \"/l/{k}\", \"list\": {\"items\": \"\", \"item\": {\"id\": {\"from\": \"id\","
                      " \"same_as\": \"k\"}, \"fields\": [{\"name\": \"a\", \"type\": \"string\"}]}}}]}",
                      "$.pages[0].list.item.id.same_as: a list's item has no URL of its own");
    expect_load_error("{\"pages\": [{\"match\": \"/l\", \"list\": {\"items\": \"\"}}]}",
                      "$.pages[0].list.item_url: missing");
}

static void test_has_more(void **state) {
    (void)state;
    char err[256];
    spec_t *s = load("{\"pages\": [{\"match\": \"/v1/customers\", \"list\": {\"items\": \"data\", \"item_url\": \"{origin}/v1/customers/{id}\","
                     " \"paginate\": {\"type\": \"has_more\", \"cursor\": \"id\", \"param\": \"starting_after\"}}}]}");
    const char *p1 = "{\"object\": \"list\", \"url\": \"/v1/customers\", \"has_more\": true,"
                     " \"data\": [{\"id\": \"cus_1\"}, {\"id\": \"cus_2 +\"}]}";
    assert_string_equal(run_list(s, "https://api.stripe.com/v1/customers?limit=2", p1, 0, err),
                        "https://api.stripe.com/v1/customers/cus_1\nhttps://api.stripe.com/v1/customers/cus_2%20%2B\n"
                        "https://api.stripe.com/v1/customers?limit=2&starting_after=cus_2%20%2B");
    /* the cursor of the page before is replaced, other parameters kept */
    assert_string_equal(run_list(s, "https://api.stripe.com/v1/customers?starting_after=cus_0&limit=2", p1, 0, err),
                        "https://api.stripe.com/v1/customers/cus_1\nhttps://api.stripe.com/v1/customers/cus_2%20%2B\n"
                        "https://api.stripe.com/v1/customers?starting_after=cus_2%20%2B&limit=2");
    assert_string_equal(run_list(s, "https://api.stripe.com/v1/customers",
                                 "{\"has_more\": false, \"data\": [{\"id\": \"cus_9\"}]}", 0, err),
                        "https://api.stripe.com/v1/customers/cus_9");
    run_list(s, "https://api.stripe.com/v1/customers", "{\"has_more\": true, \"data\": []}", -1, err);
    assert_string_equal(err, "has_more is true but data is empty");
    run_list(s, "https://api.stripe.com/v1/customers", "{\"data\": []}", -1, err);
    assert_string_equal(err, "has_more is not true or false");
    run_list(s, "https://api.stripe.com/v1/customers", "{\"has_more\": true, \"data\": [{\"id\": null}]}", -1, err);
    assert_string_equal(err, "the last item's id is not a string or a whole number");
    spec_free(s);
    s = load("{\"pages\": [{\"match\": \"/l\", \"list\": {\"items\": \"r\", \"item_url\": \"/i/{id}\","
             " \"paginate\": {\"type\": \"has_more\", \"from\": \"more\", \"cursor\": \"n\", \"url\": \"{origin}/l?after={cursor}\"}}}]}");
    assert_string_equal(run_list(s, "http://h/l", "{\"more\": true, \"r\": [{\"n\": 5}, {\"n\": 42}]}", 0, err),
                        "http://h/l?after=42"); /* items without "id" give no URL; the cursor is the last item's n */
    spec_free(s);
    expect_load_error("{\"pages\": [{\"match\": \"/l\", \"list\": {\"items\": \"r\", \"item_url\": \"/i/{id}\","
                      " \"paginate\": {\"type\": \"has_more\", \"cursor\": \"id\"}}}]}",
                      "needs exactly one of param");
}

static void test_link_header(void **state) {
    (void)state;
    char out[512];
    parse_url_parts u;
    assert_int_equal(parse_url_split("https://api.github.com/orgs/octo/repos?per_page=2", &u), 0);
    const char *gh = "<https://api.github.com/organizations/9919/repos?per_page=2&page=2>; rel=\"next\", "
                     "<https://api.github.com/organizations/9919/repos?per_page=2&page=8>; rel=\"last\"";
    assert_true(parse_link_find(gh, "next", &u, out, sizeof(out)) > 0);
    assert_string_equal(out, "https://api.github.com/organizations/9919/repos?per_page=2&page=2");
    assert_true(parse_link_find(gh, "LAST", &u, out, sizeof(out)) > 0);
    assert_string_equal(out, "https://api.github.com/organizations/9919/repos?per_page=2&page=8");
    assert_int_equal(parse_link_find(gh, "prev", &u, out, sizeof(out)), 0);
    assert_int_equal(parse_link_find("", "next", &u, out, sizeof(out)), 0);
    /* commas and semicolons inside <> and quotes, a rel list, a relative link, spaces and tabs */
    const char *odd = "<https://h/a,b;c>; title=\"x, y; rel=next\"; rel=prev ,\t</p?page=2>;rel=\"start next\"";
    assert_true(parse_link_find(odd, "next", &u, out, sizeof(out)) > 0);
    assert_string_equal(out, "https://api.github.com/p?page=2");
    assert_true(parse_link_find(odd, "prev", &u, out, sizeof(out)) > 0);
    assert_string_equal(out, "https://h/a,b;c");
    /* malformed values are skipped, never read past the end */
    assert_int_equal(parse_link_find("<https://h/x; rel=next", "next", &u, out, sizeof(out)), 0);
    assert_int_equal(parse_link_find("junk, <https://h/y>; rel=next", "next", &u, out, sizeof(out)) > 0, 1);
    assert_int_equal(parse_link_find("<javascript:x>; rel=next", "next", &u, out, sizeof(out)), -1);
    assert_int_equal(parse_link_find("<https://h/z>; rel=nextish", "next", &u, out, sizeof(out)), 0);

    char err[256];
    spec_out o;
    spec_t *s = load("{\"pages\": [{\"match\": [\"/orgs/{org}/repos\", \"/organizations/{id:digits}/repos\"], \"list\": {\"items\": \"\","
                     " \"item_url\": \"{origin}/repos/{full_name}\", \"paginate\": {\"type\": \"link\"}}}]}");
    const char *url = "https://api.github.com/orgs/octo/repos?per_page=2";
    assert_int_equal(run_list_out(s, url, "[{\"full_name\": \"a\"}]", gh, &o, err), 0);
    assert_string_equal(o.urls.buf, "https://api.github.com/repos/a\nhttps://api.github.com/organizations/9919/repos?per_page=2&page=2");
    assert_int_equal(o.urls.nlist, 1);
    spec_out_free(&o);
    /* the next page names the organization by number: the same rule reads it */
    spec_match m;
    assert_int_equal(spec_classify(s, "https://api.github.com/organizations/9919/repos?per_page=2&page=2", &m), PARSE_KIND_LIST);
    /* the last page has no rel=next; a page without a Link header is one page */
    assert_int_equal(run_list_out(s, url, "[]", "<https://api.github.com/organizations/9919/repos?page=1>; rel=\"prev\"", &o, err), 0);
    assert_int_equal(o.urls.n, 0);
    spec_out_free(&o);
    assert_int_equal(run_list_out(s, url, "[]", "", &o, err), 0);
    assert_int_equal(o.urls.n, 0);
    spec_out_free(&o);
    /* no header known at all (the pipeline does not carry it yet): refused, never a silent last page */
    assert_int_equal(run_list_out(s, url, "[]", NULL, &o, err), -1);
    assert_string_equal(err, "link pagination: the page's Link header did not reach the parser");
    spec_out_free(&o);
    assert_int_equal(run_list_out(s, url, "[]", "<ftp://x/y>; rel=next", &o, err), -1);
    assert_string_equal(err, "the Link header's rel=next is not a usable URL");
    spec_out_free(&o);
    spec_free(s);
}

static void test_set_param(void **state) {
    (void)state;
    char out[256];
    assert_true(parse_url_set_param("http://h/l", "a", "x y", 3, out, sizeof(out)) > 0);
    assert_string_equal(out, "http://h/l?a=x%20y");
    assert_true(parse_url_set_param("http://h/l?", "a", "1", 1, out, sizeof(out)) > 0);
    assert_string_equal(out, "http://h/l?a=1");
    assert_true(parse_url_set_param("http://h/l?b=2&", "a", "1", 1, out, sizeof(out)) > 0);
    assert_string_equal(out, "http://h/l?b=2&a=1");
    assert_true(parse_url_set_param("http://h/l?aa=1&a=2&c=3#f", "a", "9", 1, out, sizeof(out)) > 0);
    assert_string_equal(out, "http://h/l?aa=1&a=9&c=3");
    assert_true(parse_url_set_param("http://h/l?a&c=3", "a", "9", 1, out, sizeof(out)) > 0);
    assert_string_equal(out, "http://h/l?a=9&c=3");
    assert_int_equal(parse_url_set_param("http://h/l", "a", "123456", 6, out, 16), -1);
}

static const char *HN_ITEM =
    "{\"pages\": [{\"match\": \"/v0/item/{id:digits}.json\", \"item\": {"
    " \"id\": {\"from\": \"id\", \"type\": \"digits\", \"same_as\": \"id\"}, \"gone_if\": \"deleted\","
    " \"fields\": [{\"name\": \"type\", \"type\": \"string\"}, {\"name\": \"text\", \"type\": \"html\"}],"
    " \"follow\": [{\"from\": \"kids\", \"url\": \"{origin}/v0/item/{.:digits}.json\"},"
    "             {\"from\": \"poll\", \"url\": \"{origin}/v0/item/{.:digits}.json\"},"
    "             {\"from\": \"links\", \"url\": \"{origin}/v0/user/{by}.json\"}]}}]}";

static void test_item_follows_and_gone(void **state) {
    (void)state;
    char err[256], urls[1024];
    bson_t d;
    spec_t *s = load(HN_ITEM);
    const char *u = "https://hacker-news.firebaseio.com/v0/item/8863.json";
    assert_int_equal(run_item_urls(s, u, "{\"id\": 8863, \"type\": \"story\", \"kids\": [8952, \"9224\", null, 1.5], \"poll\": 7,"
                                         " \"links\": [{\"by\": \"pg\"}, {\"x\": 1}]}",
                                   &d, urls, err),
                     0);
    assert_string_equal(urls, "https://hacker-news.firebaseio.com/v0/item/8952.json\n"
                              "https://hacker-news.firebaseio.com/v0/item/9224.json\n"
                              "https://hacker-news.firebaseio.com/v0/item/7.json\n"
                              "https://hacker-news.firebaseio.com/v0/user/pg.json");
    assert_str(&d, "type", "story");
    bson_destroy(&d);
    /* a deleted item is "null" with status 200, or {"deleted": true}: gone, not dead */
    assert_int_equal(run_item_urls(s, u, "null", &d, urls, err), SPEC_GONE);
    assert_int_equal(d.len, 5);
    assert_string_equal(urls, "");
    bson_destroy(&d);
    assert_int_equal(run_item_urls(s, u, " null\n", &d, urls, err), SPEC_GONE);
    bson_destroy(&d);
    assert_int_equal(run_item_urls(s, u, "{\"deleted\": true, \"id\": 8863, \"kids\": [1]}", &d, urls, err), SPEC_GONE);
    assert_string_equal(urls, "");
    bson_destroy(&d);
    assert_int_equal(run_item_urls(s, u, "{\"deleted\": false, \"id\": 8863}", &d, urls, err), 0);
    bson_destroy(&d);
    assert_int_equal(run_item_urls(s, u, "[null]", &d, urls, err), -1);
    assert_string_equal(err, "not an object");
    bson_destroy(&d);
    spec_free(s);
    expect_load_error("{\"pages\": [{\"match\": \"/i/{id}\", \"item\": {\"id\": {\"from\": \"id\"}, \"fields\": [{\"name\": \"a\","
                      " \"type\": \"string\"}], \"follow\": {\"from\": \"kids\", \"url\": \"{origin}/x\"}}}]}",
                      "$.pages[0].item.follow.url: the template names no field");
    expect_load_error("{\"pages\": [{\"match\": \"/l\", \"list\": {\"items\": \"\", \"item\": {\"id\": {\"from\": \"id\"},"
                      " \"fields\": [{\"name\": \"a\", \"type\": \"string\"}], \"gone_if\": \"deleted\"}}}]}",
                      "unknown key 'gone_if'");
}

static void test_html_trim_and_collapse(void **state) {
    (void)state;
    char err[256];
    bson_t d;
    spec_t *s = load("{\"pages\": [{\"match\": \"/r/{id}\", \"item\": {\"id\": {\"from\": \"id\"}, \"fields\": ["
                     " {\"name\": \"h\", \"type\": \"html\"}, {\"name\": \"c\", \"from\": \"h\", \"type\": \"html\", \"collapse\": true},"
                     " {\"name\": \"e\", \"type\": \"html\"}, {\"name\": \"ec\", \"from\": \"e\", \"type\": \"html\", \"collapse\": true},"
                     " {\"name\": \"p\", \"type\": \"html\"}, {\"name\": \"raw\", \"type\": \"html\"}]}}]}");
    assert_int_equal(run_item(s, "http://h/r/1",
                              "{\"id\": \"1\", \"h\": \"\\u3000\\u3000<p>One &nbsp;two</p>\\n<p>Three\\u00a0</p>\\n\","
                              " \"e\": \" &nbsp; \", \"p\": \"a.<p>b<p>c\", \"raw\": \"plain\\n\"}",
                              &d, err),
                     0);
    assert_str(&d, "h", "One \xc2\xa0two\n\nThree");
    assert_str(&d, "c", "One two Three");
    assert_str(&d, "e", ""); /* trimmed to nothing: an empty string, not null */
    assert_nullf(&d, "ec");  /* collapse drops what is empty */
    assert_str(&d, "p", "a.\nb\nc");
    assert_str(&d, "raw", "plain");
    bson_destroy(&d);
    spec_free(s);
    expect_load_error("{\"pages\": [{\"match\": \"/r/{id}\", \"item\": {\"id\": {\"from\": \"id\"}, \"fields\": ["
                      " {\"name\": \"h\", \"type\": \"html\", \"entities\": true}]}}]}",
                      "entities applies to string and strings only (html always decodes them)");
}

static void test_date_formats(void **state) {
    (void)state;
    char err[256];
    bson_t d;
    bson_iter_t it;
    spec_t *s = load("{\"pages\": [{\"match\": \"/r/{id}\", \"item\": {\"id\": {\"from\": \"id\"}, \"fields\": ["
                     " {\"name\": \"d\", \"type\": \"date\", \"format\": [\"%d.%m.%Y\", \"iso\", \"epoch_s\"]},"
                     " {\"name\": \"us\", \"type\": \"date\", \"format\": \"%m/%d/%Y\"},"
                     " {\"name\": \"req\", \"from\": \"us\", \"type\": \"date\", \"format\": \"%m/%d/%Y\", \"required\": true}]}}]}");
    spec_counts *c = spec_counts_for(s);
    assert_non_null(c);
    static const struct {
        const char *d;
        int64_t ms;
    } ok[] = { { "\"05.01.1969\"", -31190400000LL }, { "\"2019-10-15\"", 1571097600000LL }, { "1571097600", 1571097600000LL } };
    for (size_t i = 0; i < 3; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"id\": \"1\", \"d\": %s, \"us\": \"12/31/2020\"}", ok[i].d);
        spec_out o;
        bson_init(&d);
        assert_int_equal(run_page(s, "http://h/r/1", body, &d, c, &o, err), 0);
        it = field(&d, "d");
        assert_int_equal(bson_iter_date_time(&it), ok[i].ms);
        it = field(&d, "us");
        assert_int_equal(bson_iter_date_time(&it), 1609372800000LL);
        spec_out_free(&o);
        bson_destroy(&d);
    }
    /* %m/%d/%Y on day-first data: a day over 12 cannot be a month, and says so */
    spec_out o;
    bson_init(&d);
    assert_int_equal(run_page(s, "http://h/r/2", "{\"id\": \"2\", \"d\": \"31/12/2020\", \"us\": \"31/12/2020\"}", &d, c, &o, err),
                     -1);
    assert_string_equal(err, "required field req: not a date in format %m/%d/%Y (a month over 12: day first?)");
    spec_out_free(&o);
    bson_destroy(&d);
    assert_string_equal(counts_text(s, c), "null\tpages[0]\td\t1\t4\t0\nnull\tpages[0]\tus\t1\t4\t1\nnull\tpages[0]\treq\t1\t4\t1");
    spec_counts_free(c);
    spec_free(s);
    expect_load_error("{\"pages\": [{\"match\": \"/r/{id}\", \"item\": {\"id\": {\"from\": \"id\"}, \"fields\": ["
                      " {\"name\": \"d\", \"type\": \"date\", \"format\": [\"iso\", \"%d/%q\"]}]}}]}",
                      "$.pages[0].item.fields[0].format[1]: format '%d/%q': unknown conversion '%q'");
    expect_load_error("{\"pages\": [{\"match\": \"/r/{id}\", \"item\": {\"id\": {\"from\": \"id\"}, \"fields\": ["
                      " {\"name\": \"d\", \"type\": \"date\", \"format\": []}]}}]}",
                      "$.pages[0].item.fields[0].format: a list of 1 to 8 formats");
}

static void test_counts_name_the_mistake(void **state) {
    (void)state;
    char err[256];
    /* issue 24's silent mistakes: "votes" where the value is at "rating.votes", {ref.cod} for {ref.code} */
    spec_t *s = load("{\"pages\": [{\"name\": \"film list\", \"match\": \"/films\", \"list\": {\"items\": \"r\","
                     " \"item_url\": \"{origin}/films/{ref.cod}\"}},"
                     " {\"name\": \"film\", \"match\": \"/films/{id}\", \"item\": {\"id\": {\"from\": \"id\"}, \"fields\": ["
                     "  {\"name\": \"votes\", \"type\": \"integer\"},"
                     "  {\"name\": \"cast\", \"type\": \"objects\", \"fields\": [{\"name\": \"who\", \"type\": \"string\"}]}]}}]}");
    spec_counts *c = spec_counts_for(s);
    assert_non_null(c);
    spec_out o;
    assert_int_equal(run_page(s, "http://h/films", "{\"r\": [{\"ref\": {\"code\": \"a\"}}, {\"ref\": {\"code\": \"b\"}}]}", NULL, c,
                              &o, err),
                     0);
    assert_int_equal(o.urls.skipped, 2);
    assert_string_equal(o.urls.skipped_at, "ref.cod");
    spec_out_free(&o);
    bson_t d;
    bson_init(&d);
    assert_int_equal(run_page(s, "http://h/films/f1",
                              "{\"id\": \"f1\", \"rating\": {\"votes\": 993}, \"cast\": [{\"who\": \"A\"}, {\"name\": \"B\"}]}", &d, c, &o,
                              err),
                     0);
    bson_destroy(&d);
    assert_string_equal(counts_text(s, c), "skip\tfilm list\t{origin}/films/{ref.cod}\t{ref.cod}\t2\t2\n"
                                           "null\tfilm\tvotes\t1\t1\t0\n"
                                           "null\tfilm\tcast.who\t1\t2\t0");
    spec_counts_zero(c);
    assert_string_equal(counts_text(s, c), "");
    spec_out_free(&o);
    spec_counts_free(c);
    spec_free(s);
}

static void test_headers_from_the_environment(void **state) {
    (void)state;
    char err[512] = "", shown[512];
    const char *secret = "ghp_s3cr3t-VALUE";
    assert_int_equal(setenv("ZC_TEST_TOKEN", secret, 1), 0);
    spec_t *s = load("{\"headers\": {\"Authorization\": \"Bearer ${ZC_TEST_TOKEN}\", \"Accept\": \"application/json\"},"
                     " \"pages\": [{\"match\": \"/a\", \"list\": {\"items\": \"\", \"item_url\": \"/{.}\"}}]}");
    const zc_headers *h = spec_headers(s);
    assert_int_equal(h->n, 2);
    assert_string_equal(h->name[0], "Authorization");
    assert_string_equal(h->value[0], "Bearer ghp_s3cr3t-VALUE");
    assert_string_equal(zc_headers_describe(h, shown, sizeof(shown)), "Authorization: Bearer ${ZC_TEST_TOKEN}; Accept: application/json");
    struct curl_slist *l = NULL;
    assert_int_equal(zc_headers_slist(h, &l), 0);
    assert_string_equal(l->data, "Authorization: Bearer ghp_s3cr3t-VALUE");
    curl_slist_free_all(l);
    spec_free(s);
    /* the fetcher's way in: the headers of a spec file, without the spec engine */
    char path[] = "/tmp/zc-test-spec-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\"headers\": {\"Authorization\": \"token ${ZC_TEST_TOKEN}\"}, \"pages\": []}";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
    zc_headers hh;
    assert_int_equal(zc_headers_load(path, &hh, err, sizeof(err)), 0);
    assert_int_equal(hh.n, 1);
    assert_string_equal(hh.value[0], "token ghp_s3cr3t-VALUE");
    zc_headers_free(&hh);
    assert_int_equal(hh.n, 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs("{\"pages\": []}", f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(zc_headers_load(path, &hh, err, sizeof(err)), 0);
    assert_int_equal(hh.n, 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(zc_headers_load(path, &hh, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot open"));
    /* a missing variable: one line naming it and the JSON path, before anything starts */
    assert_int_equal(unsetenv("ZC_TEST_TOKEN"), 0);
    expect_load_error("{\"headers\": {\"Authorization\": \"Bearer ${ZC_TEST_TOKEN}\"}, \"pages\": [{\"match\": \"/a\","
                      " \"list\": {\"items\": \"\", \"item_url\": \"/{.}\"}}]}",
                      "t.json: $.headers.Authorization: environment variable ZC_TEST_TOKEN is not set");
    /* a value with a line break would split the request: refused without showing it */
    assert_int_equal(setenv("ZC_TEST_TOKEN", "abc\r\nX-Evil: 1", 1), 0);
    const char *t1 = "{\"headers\": {\"Authorization\": \"${ZC_TEST_TOKEN}\"}, \"pages\": []}";
    spec_t *bad = spec_load_text(t1, strlen(t1), "t.json", err, sizeof(err));
    assert_null(bad);
    assert_string_equal(err, "t.json: $.headers.Authorization: environment variable ZC_TEST_TOKEN holds a control character");
    assert_int_equal(setenv("ZC_TEST_TOKEN", secret, 1), 0);
    expect_load_error("{\"headers\": {\"Host\": \"x\"}, \"pages\": []}", "$.headers.Host: set by the crawler itself");
    expect_load_error("{\"headers\": {\"A b\": \"x\"}, \"pages\": []}", "$.headers.A b: not a header name");
    expect_load_error("{\"headers\": {\"Accept\": 1}, \"pages\": []}", "$.headers.Accept: must be a string");
    expect_load_error("{\"headers\": {\"a\": \"1\", \"A\": \"2\"}, \"pages\": []}", "$.headers.A: given twice");
    expect_load_error("{\"headers\": {\"X\": \"${1X}\"}, \"pages\": []}", "${ must start ${NAME}");
    expect_load_error("{\"headers\": [\"X: 1\"], \"pages\": []}", "$.headers: must be an object");
    /* the secret never appears in an error about another part of the spec */
    memset(err, 0, sizeof(err));
    const char *t2 = "{\"headers\": {\"Authorization\": \"Bearer ${ZC_TEST_TOKEN}\"}, \"pages\": [{\"match\": 1}]}";
    assert_null(spec_load_text(t2, strlen(t2), "t.json", err, sizeof(err)));
    assert_string_equal(err, "t.json: $.pages[0].match: must be a pattern string or a list of 1 to 16 of them");
    assert_null(strstr(err, secret));
    assert_int_equal(unsetenv("ZC_TEST_TOKEN"), 0);
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
        cmocka_unit_test(test_top_level_array_of_scalar_ids),
        cmocka_unit_test(test_list_documents),
        cmocka_unit_test(test_has_more),
        cmocka_unit_test(test_link_header),
        cmocka_unit_test(test_set_param),
        cmocka_unit_test(test_item_follows_and_gone),
        cmocka_unit_test(test_html_trim_and_collapse),
        cmocka_unit_test(test_date_formats),
        cmocka_unit_test(test_counts_name_the_mistake),
        cmocka_unit_test(test_headers_from_the_environment),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    parse_cleanup();
    return rc;
}
