/* fuzz_specpage.c -- libFuzzer target: random pages through the shipped specs.
 *
 * Byte 0 picks the page URL, and with it the spec: the built-in books spec, a copy
 * of specs/shelves.json compiled at start, or specs/github-repos.json,
 * stripe-customers.json and hackernews.json read from ZC_SPECS_DIR (fuzz.sh sets
 * it); its top bit picks a Link header. The rest is the body. Whatever the page
 * functions accept is checked: a URL list holds only clean absolute URLs, a
 * document (an item page's, or each of a list page's) is valid BSON with valid
 * UTF-8 and a string _id first; a refusal is one line and leaves the output empty. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse_book.h"
#include "fuzz_docs.h"
#include "spec.h"

static const char shelves[] =
    "{\"name\": \"shelves\", \"pages\": ["
    "{\"match\": [\"/api/v2/records\", \"/api/v2/records/\"], \"list\": {\"items\": \"data.records\","
    " \"item_url\": \"{origin}/api/v2/records/{record.key}\", \"paginate\": {\"type\": \"next\", \"from\": \"links.next\"}}},"
    "{\"match\": \"/api/v2/cursor\", \"list\": {\"items\": \"r\", \"item_url\": \"{origin}/x/{id}\","
    " \"paginate\": {\"type\": \"cursor\", \"from\": \"c\", \"url\": \"{origin}/api/v2/cursor?c={cursor}\"}}},"
    "{\"match\": \"/api/v2/pages\", \"list\": {\"items\": \"r\", \"item_url\": \"{origin}/x/{id:digits}\","
    " \"paginate\": {\"type\": \"pages\", \"total\": \"n\", \"per_page\": 7, \"url\": \"{origin}/api/v2/pages?page={page}\"}}},"
    "{\"match\": [\"/api/v2/records/{key}\"], \"item\": {\"root\": \"data.record\","
    " \"id\": {\"from\": \"key\", \"same_as\": \"key\"}, \"fields\": ["
    " {\"name\": \"title\", \"type\": \"string\", \"required\": true, \"entities\": true},"
    " {\"name\": \"authors\", \"from\": \"people.authors\", \"type\": \"strings\", \"collapse\": true},"
    " {\"name\": \"published_at\", \"from\": \"released\", \"type\": \"date\", \"format\": \"%d.%m.%Y\"},"
    " {\"name\": \"updated_at\", \"from\": \"revised\", \"type\": \"date\", \"format\": \"%b %d, %Y %H:%M:%S %z\"},"
    " {\"name\": \"e\", \"from\": \"e\", \"type\": \"date\", \"format\": \"epoch_ms\"},"
    " {\"name\": \"pages\", \"type\": \"integer\"}, {\"name\": \"score\", \"from\": \"rating.value\", \"type\": \"number\"},"
    " {\"name\": \"in_print\", \"type\": \"boolean\"}, {\"name\": \"price\", \"type\": \"object\"},"
    " {\"name\": \"c\", \"type\": \"objects\", \"fields\": [{\"name\": \"x\", \"type\": \"id\"}]},"
    " {\"name\": \"introduction\", \"from\": \"blurb\", \"type\": \"html\"}]}}]}";

/* URL, and the spec it goes with: 0 shelves, 1 books, 2 github, 3 stripe, 4 hackernews. */
static const struct {
    const char *url;
    int spec;
} urls[] = {
    { "http://h/api/v2/records", 0 },
    { "http://h/api/v2/records/bk-1", 0 },
    { "http://h/api/v2/cursor", 0 },
    { "http://h/api/v2/pages?page=1", 0 },
    { "http://h:8/api/book/?limit=18&offset=0", 1 },
    { "http://h/api/book/12", 1 },
    { "https://h/api/book/12/", 1 },
    { "https://api.github.com/orgs/octo-org/repos?per_page=100", 2 },
    { "https://api.github.com/organizations/9919/repos?per_page=100&page=3", 2 },
    { "https://api.stripe.com/v1/customers?limit=100", 3 },
    { "https://api.stripe.com/v1/customers?limit=100&starting_after=cus_1", 3 },
    { "https://hacker-news.firebaseio.com/v0/topstories.json", 4 },
    { "https://hacker-news.firebaseio.com/v0/item/8863.json", 4 },
};
#ifndef ZC_SPECS_DIR
#define ZC_SPECS_DIR "specs"
#endif
static const char *api_specs[] = { "github-repos.json", "stripe-customers.json", "hackernews.json" };

static spec_t *load_file(const char *name) {
    char path[1024], err[512];
    snprintf(path, sizeof(path), "%s/%s", ZC_SPECS_DIR, name);
    spec_t *s = spec_load_file(path, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "fuzz_specpage: %s\n", err);
        abort();
    }
    return s;
}

static void check_urls(const parse_urls *u) {
    if (u->n == 0) {
        if (u->len != 0) abort();
        return;
    }
    if (!u->buf || strlen(u->buf) != u->len || u->buf[u->len - 1] == '\n') abort();
    size_t lines = 1;
    for (size_t i = 0; i < u->len; i++) {
        unsigned char c = (unsigned char)u->buf[i];
        if (c == '\n') lines++;
        else if (c < 0x20 || c == 0x7f) abort();
    }
    if (lines != u->n) abort();
    for (const char *p = u->buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncasecmp(p, "http://", 7) != 0 && strncasecmp(p, "https://", 8) != 0) abort(); /* schemes ignore case */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static spec_t *specs[5];
    static spec_out o;
    static spec_counts *counts[5];
    char err[512];
    if (!specs[0]) {
        if (!(specs[0] = spec_load_text(shelves, strlen(shelves), "shelves", err, sizeof(err)))) abort();
        if (setenv("GITHUB_TOKEN", "ghp_fuzz", 1) != 0 || setenv("STRIPE_SECRET_KEY", "sk_fuzz", 1) != 0) abort();
        for (int i = 0; i < 3; i++) specs[2 + i] = load_file(api_specs[i]);
        spec_out_init(&o);
        parse_set_max_body(1 << 20);
        for (int i = 0; i < 5; i++)
            if (i != 1 && !(counts[i] = spec_counts_for(specs[i]))) abort();
    }
    if (size == 0) return 0;
    int pick = (data[0] & 0x7f) % (int)(sizeof(urls) / sizeof(*urls));
    const char *url = urls[pick].url;
    const spec_t *s = urls[pick].spec == 1 ? spec_default() : specs[urls[pick].spec];
    o.counts = counts[urls[pick].spec];
    const char *body = (const char *)data + 1;
    size_t blen = size - 1;
    spec_page pg = { url, body, blen, 1, (data[0] & 0x80) ? "</organizations/9919/repos?page=4>; rel=\"next\"" : "" };
    spec_match m;
    int kind = spec_classify(s, url, &m);
    if (kind == PARSE_KIND_LIST) {
        if (spec_list(s, &m, &pg, &o, err, sizeof(err)) == 0) {
            check_urls(&o.urls);
            fuzz_check_docs(&o.docs);
        } else if (o.urls.n || o.docs.n || err[0] == '\0' || strchr(err, '\n')) {
            abort();
        }
    } else if (kind == PARSE_KIND_DETAIL) {
        bson_t doc;
        bson_init(&doc);
        o.doc = &doc;
        int rc = spec_item(s, &m, &pg, &o, err, sizeof(err));
        if (rc == 0) {
            fuzz_check_doc(&doc);
            check_urls(&o.urls);
        } else if (doc.len != 5 || o.urls.n || (rc < 0 && (err[0] == '\0' || strchr(err, '\n')))) {
            abort();
        }
        o.doc = NULL;
        bson_destroy(&doc);
    }
    /* The HTML helpers on the body as text. */
    size_t n = blen < 512 ? blen : 512;
    char t[513], o1[513], o2[513];
    memcpy(t, body, n);
    t[n] = '\0';
    size_t l = strlen(t);
    if (parse_html_unescape(t, l, o1) > l || parse_html_text(t, l, o2) > l) abort();
    return 0;
}
