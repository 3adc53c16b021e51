/* test_spec_apis.c -- the shipped specs of real APIs (specs/github-repos.json, stripe-customers.json, hackernews.json)
 * on sample pages in the shape each API answers (tests/fixtures/apis/): the documents and URLs they yield. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bson_assert.h"
#include "parse_book.h"
#include "spec.h"

/* ---------- helpers ---------- */

/* The text of a file of the repository (the tests run from its root, or from build/tests). */
static char *slurp(const char *rel, size_t *len) {
    char path[512];
    FILE *f = fopen(rel, "rb");
    if (!f) {
        snprintf(path, sizeof(path), "../../%s", rel);
        f = fopen(path, "rb");
    }
    if (!f) fail_msg("cannot open %s", rel);
    static char buf[1 << 18];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    char *copy = malloc(n + 1);
    assert_non_null(copy);
    memcpy(copy, buf, n + 1);
    return copy;
}

static spec_t *load_spec(const char *rel) {
    char err[512];
    size_t n;
    char *text = slurp(rel, &n);
    spec_t *s = spec_load_text(text, n, rel, err, sizeof(err));
    free(text);
    if (!s) fail_msg("%s", err);
    return s;
}

/* Runs the fixture page file as url (with Link header link) and leaves the result in o. */
static int run_fixture(const spec_t *s, const char *url, const char *file, const char *link, bson_t *doc, spec_out *o,
                       spec_counts *c) {
    char err[256];
    spec_match m;
    size_t n;
    char *body = slurp(file, &n);
    spec_out_init(o);
    o->doc = doc;
    o->counts = c;
    spec_page pg = { url, body, n, 1700000000000LL, link };
    int kind = spec_classify(s, url, &m), rc = -1;
    if (kind == PARSE_KIND_LIST) rc = spec_list(s, &m, &pg, o, err, sizeof(err));
    else if (kind == PARSE_KIND_DETAIL) rc = spec_item(s, &m, &pg, o, err, sizeof(err));
    else fail_msg("no rule matches %s", url);
    free(body);
    if (rc < 0) fail_msg("%s: %s", file, err);
    return rc;
}

/* Document i of a list page's documents, into *b (a static bson_t points into itself:
 * it cannot be returned by value, so the caller owns it). */
static void doc_at(const spec_docs *d, size_t i, bson_t *b) {
    size_t off = 0;
    for (size_t k = 0;; k++) {
        uint32_t len;
        assert_true(off + 4 <= d->len);
        memcpy(&len, d->buf + off, 4);
        len = BSON_UINT32_FROM_LE(len);
        if (k == i) {
            assert_true(len <= d->len - off && bson_init_static(b, d->buf + off, len));
            return;
        }
        off += len;
    }
}

static int64_t int_of(const bson_t *b, const char *key) {
    bson_iter_t it = field(b, key);
    if (!BSON_ITER_HOLDS_INT(&it)) fail_msg("field %s is not an integer", key);
    return bson_iter_as_int64(&it);
}

static int64_t date_of(const bson_t *b, const char *key) {
    bson_iter_t it = field(b, key);
    if (!BSON_ITER_HOLDS_DATE_TIME(&it)) fail_msg("field %s is not a date", key);
    return bson_iter_date_time(&it);
}

static int bool_of(const bson_t *b, const char *key) {
    bson_iter_t it = field(b, key);
    if (!BSON_ITER_HOLDS_BOOL(&it)) fail_msg("field %s is not a boolean", key);
    return bson_iter_bool(&it);
}

/* ---------- GitHub: list organization repositories ---------- */

static void test_github_repos(void **state) {
    (void)state;
    assert_int_equal(setenv("GITHUB_TOKEN", "ghp_unit_test_token", 1), 0);
    spec_t *s = load_spec("specs/github-repos.json");
    assert_int_equal(spec_headers(s)->n, 3);
    assert_string_equal(spec_headers(s)->value[2], "Bearer ghp_unit_test_token");
    spec_counts *c = spec_counts_for(s);
    char *link = slurp("tests/fixtures/apis/github/repos-page1.link", NULL);
    link[strcspn(link, "\n")] = '\0';
    spec_out o;
    run_fixture(s, "https://api.github.com/orgs/octo-org/repos?per_page=3", "tests/fixtures/apis/github/repos-page1.json", link,
                NULL, &o, c);
    free(link);
    /* the records are the documents: no per-item request; the next page names the org by number */
    assert_int_equal(o.docs.n, 3);
    assert_int_equal(o.docs.dropped, 0);
    assert_int_equal(o.urls.ndetail, 0);
    assert_string_equal(o.urls.buf, "https://api.github.com/organizations/9919/repos?per_page=3&page=2");
    bson_t d;
    doc_at(&o.docs, 0, &d);
    assert_str(&d, "_id", "1296269");
    assert_str(&d, "name", "Hello-World");
    assert_str(&d, "full_name", "octo-org/Hello-World");
    assert_str(&d, "owner", "octo-org");
    assert_str(&d, "license", "MIT");
    assert_int_equal(int_of(&d, "stargazers"), 80);
    assert_int_equal(date_of(&d, "created_at"), 1296068472000LL); /* 2011-01-26T19:01:12Z */
    assert_str(&d, "source_url", "https://api.github.com/orgs/octo-org/repos?per_page=3");
    doc_at(&o.docs, 1, &d);
    assert_str(&d, "description", "This repo is for demonstration purposes only. \xc3\x9c"
                                  "n\xc3\xaf"
                                  "c\xc3\xb6"
                                  "d\xc3\xa9 & <angle> \xe2\x80\x94 ok \xf0\x9f\x98\x80");
    assert_nullf(&d, "license"); /* "license": null */
    assert_str(&d, "homepage", "");
    doc_at(&o.docs, 2, &d);
    assert_str(&d, "_id", "18221276");
    assert_nullf(&d, "description");
    assert_nullf(&d, "language");
    assert_nullf(&d, "pushed_at");
    assert_true(bool_of(&d, "archived"));
    spec_out_free(&o);

    /* page 2 of 2: the Link header has prev and first only */
    link = slurp("tests/fixtures/apis/github/repos-page2.link", NULL);
    link[strcspn(link, "\n")] = '\0';
    spec_match m;
    assert_int_equal(spec_classify(s, "https://api.github.com/organizations/9919/repos?per_page=3&page=2", &m), PARSE_KIND_LIST);
    run_fixture(s, "https://api.github.com/organizations/9919/repos?per_page=3&page=2", "tests/fixtures/apis/github/repos-page2.json",
                link, NULL, &o, c);
    free(link);
    assert_int_equal(o.docs.n, 1);
    assert_int_equal(o.urls.n, 0);
    doc_at(&o.docs, 0, &d);
    assert_str(&d, "_id", "20978623");
    assert_true(bool_of(&d, "fork"));
    spec_out_free(&o);
    spec_counts_free(c);
    spec_free(s);
    assert_int_equal(unsetenv("GITHUB_TOKEN"), 0);
}

/* ---------- Stripe: list all customers ---------- */

static void test_stripe_customers(void **state) {
    (void)state;
    assert_int_equal(setenv("STRIPE_SECRET_KEY", "sk_test_unit", 1), 0);
    spec_t *s = load_spec("specs/stripe-customers.json");
    spec_out o;
    run_fixture(s, "https://api.stripe.com/v1/customers?limit=3", "tests/fixtures/apis/stripe/customers-page1.json", NULL, NULL, &o,
                NULL);
    assert_int_equal(o.docs.n, 3);
    assert_string_equal(o.urls.buf, "https://api.stripe.com/v1/customers?limit=3&starting_after=cus_Nffp1TZLnyMXB4");
    bson_t d;
    doc_at(&o.docs, 0, &d);
    assert_str(&d, "_id", "cus_NffrFeUfNV2Hib");
    assert_str(&d, "email", "jennyrosen@example.com");
    assert_int_equal(date_of(&d, "created"), 1680893993000LL);
    assert_nullf(&d, "address");
    doc_at(&o.docs, 1, &d);
    assert_str(&d, "name", "J\xc3\xbcrgen M\xc3\xbcller");
    assert_int_equal(int_of(&d, "balance"), -2500);
    bson_iter_t it = field(&d, "address"), sub;
    assert_true(BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &sub) && bson_iter_find(&sub, "city"));
    assert_string_equal(bson_iter_utf8(&sub, NULL), "Z\xc3\xbcrich");
    doc_at(&o.docs, 2, &d);
    assert_nullf(&d, "email");
    assert_str(&d, "description", "walk-in &amp; no e-mail"); /* stored as Stripe has it */
    assert_true(bool_of(&d, "delinquent"));
    spec_out_free(&o);
    run_fixture(s, "https://api.stripe.com/v1/customers?limit=3&starting_after=cus_Nffp1TZLnyMXB4",
                "tests/fixtures/apis/stripe/customers-page2.json", NULL, NULL, &o, NULL);
    assert_int_equal(o.docs.n, 1);
    assert_int_equal(o.urls.n, 0); /* has_more: false */
    doc_at(&o.docs, 0, &d);
    assert_str(&d, "name", "\xe6\xb8\xa1\xe8\xbe\xba \xe3\x81\x82\xe3\x82\x86\xe3\x81\xbf");
    spec_out_free(&o);
    spec_free(s);
    assert_int_equal(unsetenv("STRIPE_SECRET_KEY"), 0);
}

/* ---------- Hacker News (Firebase) ---------- */

static void test_hackernews(void **state) {
    (void)state;
    spec_t *s = load_spec("specs/hackernews.json");
    const char *base = "https://hacker-news.firebaseio.com/v0/item/";
    spec_out o;
    bson_t d;
    run_fixture(s, "https://hacker-news.firebaseio.com/v0/topstories.json", "tests/fixtures/apis/hackernews/topstories.json", NULL,
                NULL, &o, NULL);
    assert_string_equal(o.urls.buf, "https://hacker-news.firebaseio.com/v0/item/8863.json\n"
                                    "https://hacker-news.firebaseio.com/v0/item/2921983.json\n"
                                    "https://hacker-news.firebaseio.com/v0/item/126809.json\n"
                                    "https://hacker-news.firebaseio.com/v0/item/121003.json\n"
                                    "https://hacker-news.firebaseio.com/v0/item/39000001.json");
    spec_out_free(&o);

    char url[128];
    bson_init(&d);
    snprintf(url, sizeof(url), "%s8863.json", base);
    assert_int_equal(run_fixture(s, url, "tests/fixtures/apis/hackernews/item-8863.json", NULL, &d, &o, NULL), 0);
    assert_str(&d, "_id", "8863");
    assert_str(&d, "type", "story");
    assert_str(&d, "title", "My YC app: Dropbox - Throw away your USB drive");
    assert_int_equal(date_of(&d, "time"), 1175714200000LL);
    assert_int_equal(int_of(&d, "descendants"), 71);
    assert_nullf(&d, "parent");
    assert_int_equal(o.urls.n, 5); /* its kids, to be read in turn */
    assert_string_equal(o.urls.buf, "https://hacker-news.firebaseio.com/v0/item/8952.json\n"
                                    "https://hacker-news.firebaseio.com/v0/item/9224.json\n"
                                    "https://hacker-news.firebaseio.com/v0/item/8917.json\n"
                                    "https://hacker-news.firebaseio.com/v0/item/8884.json\n"
                                    "https://hacker-news.firebaseio.com/v0/item/8887.json");
    spec_out_free(&o);

    snprintf(url, sizeof(url), "%s2921983.json", base);
    assert_int_equal(run_fixture(s, url, "tests/fixtures/apis/hackernews/item-2921983.json", NULL, &d, &o, NULL), 0);
    assert_str(&d, "parent", "2921506");
    assert_str(&d, "text", "Aw shucks, guys ... you make me blush with your compliments.\nTell you what, Ill make a deal: "
                           "I'll keep writing if you keep reading. K?");
    assert_int_equal(o.urls.n, 3); /* kids of a comment: any depth */
    spec_out_free(&o);

    snprintf(url, sizeof(url), "%s126809.json", base);
    assert_int_equal(run_fixture(s, url, "tests/fixtures/apis/hackernews/item-126809.json", NULL, &d, &o, NULL), 0);
    assert_str(&d, "type", "poll");
    assert_str(&d, "text", "");
    assert_int_equal(o.urls.n, 5); /* two kids, three parts */
    assert_non_null(strstr(o.urls.buf, "/v0/item/126812.json"));
    spec_out_free(&o);

    snprintf(url, sizeof(url), "%s121003.json", base);
    assert_int_equal(run_fixture(s, url, "tests/fixtures/apis/hackernews/item-121003.json", NULL, &d, &o, NULL), 0);
    assert_str(&d, "text", "or HN: the Next Iteration\nI get the impression that with Arc being released a lot of people who never "
                           "had time for HN before are suddenly dropping in more often. (PG: what are the numbers on this? I'm "
                           "envisioning a spike.)\nNot to say that isn't great, but I'm wary of Diggification.");
    spec_out_free(&o);

    /* deleted items: {"deleted": true, ...} and the bare null of an id that never was */
    snprintf(url, sizeof(url), "%s2922097.json", base);
    assert_int_equal(run_fixture(s, url, "tests/fixtures/apis/hackernews/item-2922097.json", NULL, &d, &o, NULL), SPEC_GONE);
    assert_int_equal(o.urls.n, 0);
    spec_out_free(&o);
    snprintf(url, sizeof(url), "%s39000001.json", base);
    assert_int_equal(run_fixture(s, url, "tests/fixtures/apis/hackernews/item-39000001.json", NULL, &d, &o, NULL), SPEC_GONE);
    assert_int_equal(d.len, 5);
    spec_out_free(&o);
    bson_destroy(&d);
    spec_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_github_repos),
        cmocka_unit_test(test_stripe_customers),
        cmocka_unit_test(test_hackernews),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    parse_cleanup();
    return rc;
}
