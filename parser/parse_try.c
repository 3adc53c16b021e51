/* parse_try.c -- zcrawl-parser --try (and zcrawl try): what one page yields under a spec, field by field. */
#include "parse_try.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "parse_json.h"
#include "spec_field.h"
#include "zc_buf.h"
#include "zc_flags.h"
#include "zc_headers.h"
#include "zc_time.h"

#define SHOW_MAX 48 /* bytes of a value shown on a field's line */

/* A page as fetched or read. */
typedef struct try_page {
    zc_buf body;
    long status;
    char ctype[128];
    zc_buf link; /* the Link header lines joined by ", " */
    int has_link;
} try_page;

/* ---------- getting the page ---------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg) {
    zc_buf *b = arg;
    if (b->len + size * n > parse_max_body() || zc_buf_add(b, p, size * n, 0) != 0) return 0; /* aborts */
    return size * n;
}

/* Every Link header of the response, joined by ", " (RFC 9110's field combination). */
static void fetched_link(CURL *h, try_page *pg) {
    struct curl_header *hd;
    size_t count = 0;
    for (size_t i = 0; curl_easy_header(h, "Link", i, CURLH_HEADER, -1, &hd) == CURLHE_OK; i++) {
        count = hd->amount;
        if (zc_buf_add(&pg->link, hd->value, strlen(hd->value), 0) != 0) break;
        if (i + 1 < count && zc_buf_add(&pg->link, ", ", 2, 0) != 0) break;
    }
    pg->has_link = 1;
}

/* GET url with the spec's headers, no redirects followed. Returns 0, or -1 with err. */
static int fetch(const spec_t *spec, const parse_try_conf *c, try_page *pg, char *err, size_t errlen) {
    char ua[128], cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    int rc = -1;
    CURL *h = curl_easy_init();
    if (!h || zc_headers_slist(spec_headers(spec), &hdrs) != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(ua, sizeof(ua), "zcrawl/%s (try)", zc_version());
    if (curl_easy_setopt(h, CURLOPT_URL, c->page) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, ua) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &pg->body) != CURLE_OK) {
        snprintf(err, errlen, "libcurl refused an option");
        goto out;
    }
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s", cc == CURLE_WRITE_ERROR ? "body larger than --max-body" : (*cerr ? cerr : curl_easy_strerror(cc)));
        goto out;
    }
    char *ct = NULL;
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &pg->status) != CURLE_OK ||
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK) {
        snprintf(err, errlen, "libcurl has no status");
        goto out;
    }
    snprintf(pg->ctype, sizeof(pg->ctype), "%s", ct ? ct : "");
    fetched_link(h, pg);
    rc = 0;
out:
    curl_slist_free_all(hdrs); /* holds the secrets: freed here, never printed */
    curl_easy_cleanup(h);
    return rc;
}

/* Reads a page file. Returns 0, or -1 with err. */
static int read_page(const char *path, try_page *pg, char *err, size_t errlen) {
    char buf[65536];
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        if (zc_buf_add(&pg->body, buf, n, 0) != 0) break;
    int bad = ferror(f) || !feof(f);
    fclose(f);
    if (bad) snprintf(err, errlen, "%s: cannot read", path);
    pg->status = 200;
    snprintf(pg->ctype, sizeof(pg->ctype), "application/json (a file)");
    return bad ? -1 : 0;
}

/* ---------- telling ---------- */

/* s into buf (SHOW_MAX + 8 bytes), cut after SHOW_MAX bytes at a character boundary,
 * control characters shown as spaces. */
static const char *cut(char *s, char *buf, size_t len) {
    for (char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20) *c = ' ';
    size_t n = strlen(s);
    if (n <= SHOW_MAX) {
        snprintf(buf, len, "%s", s);
        return buf;
    }
    n = SHOW_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* not inside a UTF-8 character */
    snprintf(buf, len, "%.*s...", (int)n, s);
    return buf;
}

/* v as JSON, cut, into buf (SHOW_MAX + 8 bytes). */
static const char *show_json(const cJSON *v, char *buf, size_t len) {
    char tmp[4096];
    if (!v) return "(nothing)";
    if (!cJSON_PrintPreallocated((cJSON *)v, tmp, (int)sizeof(tmp), 0)) snprintf(tmp, sizeof(tmp), "(%s, long)", cJSON_IsArray(v) ? "an array" : "an object");
    return cut(tmp, buf, len);
}

/* The last element of d (what the field just appended), as relaxed JSON, cut. */
static const char *show_last(const bson_t *d, char *buf, size_t len) {
    bson_iter_t it, last;
    int found = 0;
    snprintf(buf, len, "?");
    if (!bson_iter_init(&it, d)) return buf;
    while (bson_iter_next(&it)) last = it, found = 1;
    if (!found) return buf;
    bson_t t = BSON_INITIALIZER;
    if (bson_append_iter(&t, "v", 1, &last)) {
        char *j = bson_as_relaxed_extended_json(&t, NULL);
        char *v = j ? strstr(j, ": ") : NULL; /* { "v" : VALUE } */
        size_t n = v ? strlen(v + 2) : 0;
        if (n >= 2) {
            v[2 + n - 2] = '\0';
            cut(v + 2, buf, len);
        }
        bson_free(j);
    }
    bson_destroy(&t);
    return buf;
}

/* Where the trace prints; an item page's "document" line waits for its first field
 * (a gone or refused page has none). */
typedef struct try_out {
    FILE *out;
    int doc_pending;
} try_out;

static void on_field(void *arg, const struct spec_field *f, const cJSON *v, int why, const bson_t *d) {
    try_out *t = arg;
    FILE *out = t->out;
    if (t->doc_pending) {
        fprintf(out, "document  1\n");
        t->doc_pending = 0;
    }
    char a[SHOW_MAX + 8], b[SHOW_MAX + 8];
    fprintf(out, "  %-16s %-7s %-18s %s  ->  ", f->name, spec_field_type_name(f->type), f->from.text[0] ? f->from.text : ".",
            show_json(v, a, sizeof(a)));
    if (why) fprintf(out, "null: %s\n", spec_why_text(why));
    else fprintf(out, "%s\n", show_last(d, b, sizeof(b)));
}

static void on_skip(void *arg, const struct spec_tpl *t, int part, const cJSON *v) {
    FILE *out = ((try_out *)arg)->out;
    char a[SHOW_MAX + 8];
    if (part >= 0)
        fprintf(out, "skipped   %s: {%s} has no usable value (a non-empty string or a whole number%s) in %s\n", t->text,
                t->p[part].path.text, t->p[part].digits ? " of digits" : "", show_json(v, a, sizeof(a)));
    else fprintf(out, "skipped   %s: the URL is too long, for %s\n", t->text, show_json(v, a, sizeof(a)));
}

static void on_doc(void *arg, int index, const char *reason) {
    FILE *out = ((try_out *)arg)->out;
    if (reason) fprintf(out, "dropped   document %d: %s\n", index + 1, reason);
    else fprintf(out, "document  %d (from item %d)\n", index + 1, index);
}

/* The documents in docs, one relaxed JSON line each. */
static void show_docs(const spec_docs *d, FILE *out) {
    for (size_t off = 0; off + 4 <= d->len;) {
        uint32_t len;
        bson_t doc;
        memcpy(&len, d->buf + off, 4);
        len = BSON_UINT32_FROM_LE(len);
        if (len < 5 || len > d->len - off || !bson_init_static(&doc, d->buf + off, len)) break;
        char *j = bson_as_relaxed_extended_json(&doc, NULL);
        fprintf(out, "doc       %s\n", j ? j : "?");
        bson_free(j);
        off += len;
    }
}

/* The URLs: first the items', then further list pages. */
static void show_urls(const parse_urls *u, FILE *out) {
    size_t i = 0;
    for (const char *p = u->buf; p && *p; i++) {
        size_t n = strcspn(p, "\n");
        fprintf(out, "%-9s %.*s\n", i < u->ndetail ? "url" : "next", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

/* ---------- running ---------- */

/* Runs the page through its rule and prints the result. Returns the exit code. */
static int try_run(const spec_t *spec, const char *url, const try_page *tp, FILE *out) {
    char err[256], pname[128];
    spec_match m;
    try_out to = { out, 0 };
    spec_trace tr = { &to, on_field, on_skip, on_doc };
    spec_out so;
    bson_t doc = BSON_INITIALIZER;
    int kind = spec_classify(spec, url, &m), rc, yielded = 0;
    if (kind == PARSE_KIND_UNKNOWN) {
        fprintf(out, "result    no page rule of spec %s matches the url: a crawl would make it a dead letter\n", spec_name(spec));
        return 1;
    }
    fprintf(out, "rule      %s (%s)\n", spec_page_name(spec, m.page, pname, sizeof(pname)), kind == PARSE_KIND_LIST ? "list" : "item");
    spec_out_init(&so);
    so.trace = &tr;
    so.doc = &doc;
    spec_page pg = { url, tp->body.p ? tp->body.p : "", tp->body.len, zc_wall_ms(), tp->has_link ? (tp->link.p ? tp->link.p : "") : NULL };
    to.doc_pending = kind == PARSE_KIND_DETAIL;
    rc = kind == PARSE_KIND_LIST ? spec_list(spec, &m, &pg, &so, err, sizeof(err)) : spec_item(spec, &m, &pg, &so, err, sizeof(err));
    if (rc == SPEC_GONE) fprintf(out, "result    gone: the page says its item is null or deleted (no document, no URL)\n");
    else if (rc != 0) fprintf(out, "result    refused: %s (a crawl would make it a dead letter)\n", err);
    else {
        size_t ndocs = kind == PARSE_KIND_LIST ? so.docs.n : 1;
        fprintf(out, "result    %zu document%s, %zu URL%s (%zu of items, %zu further list pages), %zu item%s skipped, %zu document%s dropped\n",
                ndocs, ndocs == 1 ? "" : "s", so.urls.n, so.urls.n == 1 ? "" : "s", so.urls.ndetail, so.urls.nlist,
                so.urls.skipped, so.urls.skipped == 1 ? "" : "s", so.docs.dropped, so.docs.dropped == 1 ? "" : "s");
        if (kind == PARSE_KIND_LIST) show_docs(&so.docs, out);
        else {
            char *j = bson_as_relaxed_extended_json(&doc, NULL);
            fprintf(out, "doc       %s\n", j ? j : "?");
            bson_free(j);
        }
        show_urls(&so.urls, out);
        yielded = ndocs > 0 || so.urls.n > 0;
    }
    bson_destroy(&doc);
    spec_out_free(&so);
    return yielded ? 0 : 1;
}

int parse_try(const spec_t *spec, const parse_try_conf *c, FILE *out, char *err, size_t errlen) {
    char hd[1024];
    int is_url = strncasecmp(c->page, "http://", 7) == 0 || strncasecmp(c->page, "https://", 8) == 0;
    const char *url = is_url ? c->page : c->page_url;
    try_page tp;
    memset(&tp, 0, sizeof(tp));
    if (!url) {
        snprintf(err, errlen, "--try %s: a page file needs --page-url (the URL it came from: which rule, which {origin})", c->page);
        return 2;
    }
    if (is_url && c->page_url) {
        snprintf(err, errlen, "--page-url goes with a page file, not with a URL to fetch");
        return 2;
    }
    if (is_url && c->link) {
        snprintf(err, errlen, "--link goes with a page file; a fetched page has its own Link header");
        return 2;
    }
    fprintf(out, "page      %s\nspec      %s\n", url, c->spec_name);
    if (spec_headers(spec)->n) fprintf(out, "headers   %s\n", zc_headers_describe(spec_headers(spec), hd, sizeof(hd)));
    int rc = 1;
    if (!is_url) {
        if (read_page(c->page, &tp, err, errlen) != 0) {
            rc = 2;
            goto out;
        }
        if (c->link) {
            tp.has_link = zc_buf_add(&tp.link, c->link, strlen(c->link), 0) == 0;
            if (!tp.has_link) goto oom;
        }
    } else if (fetch(spec, c, &tp, err, errlen) != 0) {
        fprintf(out, "result    not fetched: %s\n", err);
        goto out;
    }
    if (zc_buf_add(&tp.body, "", 1, 0) != 0 || zc_buf_add(&tp.link, "", 1, 0) != 0) goto oom;
    tp.body.len--, tp.link.len--; /* NUL-terminated, the NUL not counted */
    fprintf(out, "fetched   status %ld, %s, %zu bytes%s%s\n", tp.status, tp.ctype[0] ? tp.ctype : "no content type", tp.body.len,
            tp.link.len ? ", Link: " : "", tp.link.len ? tp.link.p : "");
    if (tp.status < 200 || tp.status > 299) fprintf(out, "result    status %ld: a crawl retries, gives up or marks it gone; nothing to parse\n", tp.status);
    else if (!strcasestr(tp.ctype, "json")) fprintf(out, "result    content type %s: not JSON, a crawl would make it a dead letter\n", tp.ctype[0] ? tp.ctype : "missing");
    else rc = try_run(spec, url, &tp, out);
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
    rc = 2;
out:
    zc_buf_free(&tp.body);
    zc_buf_free(&tp.link);
    return rc;
}
