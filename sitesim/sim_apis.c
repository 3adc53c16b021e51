/* sim_apis.c -- the emulator's GitHub-, Stripe- and Hacker News-shaped APIs over the same books. */
#include "sim_apis.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_http.h"

#define GH_ORG_ID    9919
#define HN_ROOTS     10 /* stories; every other item is a comment below one */
#define STRIPE_MAX   100
#define GH_MAX       100
#define HN_TIME0     1175714200LL
#define STRIPE_TIME0 1700000000LL

int sim_apis_match(const char *path) {
    return !strncmp(path, "/orgs/", 6) || !strncmp(path, "/organizations/", 15) || !strcmp(path, "/v1/customers") ||
           !strncmp(path, "/v0/", 4);
}

/* The value of parameter key in q[0..qn) as a number in [lo, hi] into *out (def
 * when absent). Returns 0, or -1 when present and not such a number. */
static int query_num(const char *q, size_t qn, const char *key, long lo, long hi, long def, long *out) {
    size_t i = 0, kvn, kl = strlen(key);
    const char *kv;
    *out = def;
    while (sim_http_query_next(q, qn, &i, &kv, &kvn))
        if (kvn > kl && !memcmp(kv, key, kl) && kv[kl] == '=') {
            long v = sim_http_count(kv + kl + 1, kvn - kl - 1);
            if (v < lo || v > hi) return -1;
            *out = v;
        }
    return 0;
}

/* The raw value of parameter key (escapes not decoded) into *v, *vn. Returns 1 when present. */
static int query_str(const char *q, size_t qn, const char *key, const char **v, size_t *vn) {
    size_t i = 0, kvn, kl = strlen(key);
    const char *kv;
    while (sim_http_query_next(q, qn, &i, &kv, &kvn))
        if (kvn > kl && !memcmp(kv, key, kl) && kv[kl] == '=') {
            *v = kv + kl + 1;
            *vn = kvn - kl - 1;
            return 1;
        }
    return 0;
}

static int authorized(const char *auth, size_t authlen, const char *token) {
    if (!token || !*token) return 1;
    size_t tl = strlen(token);
    return auth && authlen == 7 + tl && !memcmp(auth, "Bearer ", 7) && !memcmp(auth + 7, token, tl);
}

/* ---- GitHub ---- */

static void gh_repo(const sim_catalog *c, long i, sim_buf *b) {
    uint32_t id = sim_catalog_id(c, i);
    sim_buf_addf(b, "{\"id\": %u, \"node_id\": \"R_%u\", \"name\": \"repo-%u\", \"full_name\": \"acme/repo-%u\", "
                    "\"owner\": {\"login\": \"acme\", \"id\": %d, \"type\": \"Organization\"}, \"description\": ",
                 id, id, id, id, GH_ORG_ID);
    if (i % 7 == 0) sim_buf_adds(b, "null");
    else if (i % 3 == 0) sim_buf_addf(b, "\"Caf\xc3\xa9 \xe2\x98\x95 %u &amp; tools\"", id);
    else sim_buf_addf(b, "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e %u\"", id);
    sim_buf_addf(b, ", \"html_url\": \"https://github.com/acme/repo-%u\", \"homepage\": ", id);
    if (i % 8 == 0) sim_buf_addf(b, "\"https://acme.example/%u\"", id);
    else sim_buf_adds(b, "null");
    sim_buf_addf(b, ", \"private\": false, \"visibility\": \"public\", \"fork\": %s, \"archived\": false, \"language\": %s, "
                    "\"topics\": %s, \"license\": %s, \"default_branch\": \"main\", \"size\": %ld, "
                    "\"stargazers_count\": %ld, \"forks_count\": %ld, \"open_issues_count\": %ld, "
                    "\"created_at\": \"2020-01-%02ldT10:00:00Z\", \"updated_at\": \"2024-02-01T00:00:00Z\", "
                    "\"pushed_at\": %s}",
                 i % 5 == 0 ? "true" : "false", i % 4 == 0 ? "null" : "\"C\"",
                 i % 2 ? "[\"crawler\", \"\xe6\x97\xa5\xe6\x9c\xac\"]" : "[]",
                 i % 6 == 0 ? "null" : "{\"key\": \"mit\", \"spdx_id\": \"MIT\"}", i * 10, i, i / 2, i % 9, i % 28 + 1,
                 i % 11 == 0 ? "null" : "\"2024-03-01T12:30:00Z\"");
}

static int github(const sim_catalog *c, const char *q, size_t qn, const char *origin, sim_buf *b, char *extra,
                  size_t extralen) {
    long per, page;
    if (query_num(q, qn, "per_page", 1, 1000000, 30, &per) || query_num(q, qn, "page", 1, 1000000000, 1, &page)) {
        sim_buf_adds(b, "{\"message\": \"Invalid request.\"}");
        return 422;
    }
    if (per > GH_MAX) per = GH_MAX; /* GitHub caps per_page at 100, silently */
    long n = c->nbooks, last = n ? (n + per - 1) / per : 1, from = (page - 1) * per;
    sim_buf_addc(b, '[');
    for (long i = from; i < n && i < from + per; i++) {
        if (i > from) sim_buf_adds(b, ", ");
        gh_repo(c, i, b);
    }
    sim_buf_addc(b, ']');
    char base[512];
    snprintf(base, sizeof base, "%s/organizations/%d/repos?per_page=%ld&page=", origin, GH_ORG_ID, per);
    int o = 0;
    extra[0] = '\0';
    if (page < last)
        o = snprintf(extra, extralen, "Link: <%s%ld>; rel=\"next\", <%s%ld>; rel=\"last\"", base, page + 1, base, last);
    if (page > 1 && o >= 0 && (size_t)o < extralen)
        o += snprintf(extra + o, extralen - (size_t)o, "%s<%s%ld>; rel=\"prev\", <%s1>; rel=\"first\"",
                      o ? ", " : "Link: ", base, page - 1, base);
    if (o > 0 && (size_t)o + 3 < extralen) memcpy(extra + o, "\r\n", 3);
    else extra[0] = '\0';
    return 200;
}

/* ---- Stripe ---- */

static void stripe_customer(const sim_catalog *c, long i, sim_buf *b) {
    uint32_t id = sim_catalog_id(c, i);
    sim_buf_addf(b, "{\"id\": \"cus_%u\", \"object\": \"customer\", \"address\": ", id);
    if (i % 4 == 0)
        sim_buf_adds(b, "{\"city\": \"Z\xc3\xbcrich\", \"country\": \"CH\", \"line1\": null, \"line2\": null, "
                        "\"postal_code\": \"8001\", \"state\": null}");
    else sim_buf_adds(b, "null");
    sim_buf_addf(b, ", \"balance\": %ld, \"created\": %lld, \"currency\": \"eur\", \"delinquent\": false, "
                    "\"description\": %s, \"email\": ",
                 i % 3 == 0 ? -i : 0, STRIPE_TIME0 + i, i % 9 == 0 ? "\"VIP\"" : "null");
    if (i % 6 == 0) sim_buf_adds(b, "null");
    else sim_buf_addf(b, "\"c%u@example.com\"", id);
    sim_buf_addf(b, ", \"invoice_prefix\": \"P%u\", \"livemode\": false, \"metadata\": {\"n\": \"%ld\"}, \"name\": ", id, i);
    if (i % 5 == 0) sim_buf_adds(b, "null");
    else if (i % 2) sim_buf_addf(b, "\"Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m %u\"", id);
    else sim_buf_addf(b, "\"O&#39;Brien %u\"", id);
    sim_buf_addf(b, ", \"phone\": %s, \"preferred_locales\": [\"de-CH\"], \"shipping\": %s, \"tax_exempt\": \"none\"}",
                 i % 10 == 0 ? "\"+41 44 000 00 00\"" : "null",
                 i % 13 == 0 ? "{\"name\": \"Zo\xc3\xab\", \"phone\": null}" : "null");
}

static int stripe(const sim_catalog *c, const char *q, size_t qn, sim_buf *b) {
    long limit, from = 0;
    if (query_num(q, qn, "limit", 1, STRIPE_MAX, 10, &limit)) {
        sim_buf_adds(b, "{\"error\": {\"type\": \"invalid_request_error\", \"param\": \"limit\", \"message\": "
                        "\"Invalid integer: limit must be between 1 and 100\"}}");
        return 400;
    }
    const char *v;
    size_t vn;
    if (query_str(q, qn, "starting_after", &v, &vn)) {
        long i = vn > 4 && !memcmp(v, "cus_", 4) ? sim_catalog_find(c, v + 4, vn - 4) : -1;
        if (i < 0) {
            sim_buf_adds(b, "{\"error\": {\"type\": \"invalid_request_error\", \"param\": \"starting_after\", "
                            "\"message\": \"No such customer\"}}");
            return 400;
        }
        from = i + 1;
    }
    sim_buf_adds(b, "{\"object\": \"list\", \"url\": \"/v1/customers\", \"has_more\": ");
    sim_buf_adds(b, from + limit < c->nbooks ? "true" : "false");
    sim_buf_adds(b, ", \"data\": [");
    for (long i = from; i < c->nbooks && i < from + limit; i++) {
        if (i > from) sim_buf_adds(b, ", ");
        stripe_customer(c, i, b);
    }
    sim_buf_adds(b, "]}");
    return 200;
}

/* ---- Hacker News: items 0..HN_ROOTS-1 are stories; item i's kids are R+2i and
 * R+2i+1 (those that exist), so every item is reached, to a depth of log2(n/R).
 * Only leaves are deleted: none hides a subtree. ---- */

static long hn_roots(const sim_catalog *c) { return c->nbooks < HN_ROOTS ? c->nbooks : HN_ROOTS; }
static int hn_leaf(const sim_catalog *c, long i) { return hn_roots(c) + 2 * i >= c->nbooks; }
static int hn_null(const sim_catalog *c, long i) { return i >= hn_roots(c) && hn_leaf(c, i) && i % 23 == 7; }
static int hn_deleted(const sim_catalog *c, long i) { return i >= hn_roots(c) && hn_leaf(c, i) && i % 29 == 11; }

static void hn_item(const sim_catalog *c, long i, sim_buf *b) {
    long r = hn_roots(c);
    uint32_t id = sim_catalog_id(c, i);
    if (hn_null(c, i)) {
        sim_buf_adds(b, "null");
        return;
    }
    if (hn_deleted(c, i)) {
        sim_buf_addf(b, "{\"deleted\": true, \"id\": %u, \"parent\": %u, \"time\": %lld, \"type\": \"comment\"}", id,
                     sim_catalog_id(c, (i - r) / 2), HN_TIME0 + i);
        return;
    }
    if (i < r) sim_buf_addf(b, "{\"by\": \"pg\", \"descendants\": %ld, \"id\": %u", c->nbooks / r, id);
    else sim_buf_addf(b, "{\"by\": \"\xc3\xbc%u\", \"id\": %u", id, id);
    if (!hn_leaf(c, i)) {
        sim_buf_addf(b, ", \"kids\": [%u", sim_catalog_id(c, r + 2 * i));
        if (r + 2 * i + 1 < c->nbooks) sim_buf_addf(b, ", %u", sim_catalog_id(c, r + 2 * i + 1));
        sim_buf_addc(b, ']');
    }
    if (i < r)
        sim_buf_addf(b, ", \"score\": %ld, \"time\": %lld, \"title\": \"Story \xe2\x84\x96 %u\", \"type\": \"story\", "
                        "\"url\": \"http://example.com/%u\"}",
                     100 + i, HN_TIME0 + i, id, id);
    else
        sim_buf_addf(b, "%s, \"parent\": %u, \"text\": \"It&#x27;s <i>deep</i> %u<p>2nd &amp; last\", \"time\": %lld, "
                        "\"type\": \"comment\"}",
                     i % 17 == 0 ? ", \"dead\": true" : "", sim_catalog_id(c, (i - r) / 2), id, HN_TIME0 + i);
}

static int hackernews(const sim_catalog *c, const char *path, sim_buf *b) {
    if (!strcmp(path, "/v0/topstories.json")) {
        sim_buf_addc(b, '[');
        for (long i = 0; i < hn_roots(c); i++) sim_buf_addf(b, "%s%u", i ? ", " : "", sim_catalog_id(c, i));
        sim_buf_addc(b, ']');
        return 200;
    }
    size_t n = strlen(path);
    if (n > 14 && !strncmp(path, "/v0/item/", 9) && !strcmp(path + n - 5, ".json")) {
        long i = sim_catalog_find(c, path + 9, n - 14);
        if (i < 0) sim_buf_adds(b, "null"); /* as Firebase answers an unknown item */
        else hn_item(c, i, b);
        return 200;
    }
    sim_buf_adds(b, "null"); /* Firebase: any other path is null too */
    return 404;
}

int sim_apis_answer(const sim_catalog *c, const char *path, const char *q, size_t qn, const char *auth, size_t authlen,
                    const char *token, const char *origin, sim_buf *body, char *extra, size_t extralen) {
    extra[0] = '\0';
    if (!strncmp(path, "/v0/", 4)) return hackernews(c, path, body);
    int gh = 0;
    if (!strncmp(path, "/orgs/", 6)) {
        const char *rest = strchr(path + 6, '/');
        gh = rest && rest > path + 6 && !strcmp(rest, "/repos");
    } else if (!strncmp(path, "/organizations/", 15)) {
        char want[64];
        snprintf(want, sizeof want, "/organizations/%d/repos", GH_ORG_ID);
        gh = !strcmp(path, want);
    }
    int st = !strcmp(path, "/v1/customers");
    if (!gh && !st) {
        sim_buf_adds(body, "{\"message\": \"Not Found\"}");
        return 404;
    }
    if (!authorized(auth, authlen, token)) {
        if (gh) {
            sim_buf_adds(body, "{\"message\": \"Bad credentials\", \"documentation_url\": \"https://docs.github.com/rest\"}");
        } else {
            sim_buf_adds(body, "{\"error\": {\"type\": \"invalid_request_error\", \"message\": \"Invalid API Key provided\"}}");
        }
        snprintf(extra, extralen, "WWW-Authenticate: Bearer realm=\"%s\"\r\n", gh ? "GitHub" : "Stripe");
        return 401;
    }
    return gh ? github(c, q, qn, origin, body, extra, extralen) : stripe(c, q, qn, body);
}
