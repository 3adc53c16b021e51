/* parse_book.c -- the book API through the built-in spec: the top of the parser's modules. */
#include "parse_book.h"

#include <stdio.h>
#include <string.h>

#include "spec_field.h"

/* ---------- the built-in spec ---------- */

static spec_t *default_spec;

const spec_t *spec_default(void) {
    if (!default_spec) {
        char err[256];
        default_spec = spec_load_text(spec_books_json, strlen(spec_books_json), "specs/books.json (built in)",
                                      err, sizeof(err));
    }
    return default_spec;
}

void spec_default_free(void) {
    spec_free(default_spec);
    default_spec = NULL;
}

void parse_cleanup(void) {
    spec_default_free();
    spec_field_scratch_free();
    parse_json_free();
}

/* ---------- the book API ---------- */

int parse_page_kind(const char *url) {
    spec_match m;
    return spec_classify(spec_default(), url, &m);
}

int parse_url_book_id(const char *url, char *id, size_t idlen) {
    spec_match m;
    if (spec_classify(spec_default(), url, &m) != PARSE_KIND_DETAIL) return -1;
    for (int i = 0; i < m.ncap; i++) {
        if (strcmp(m.cap[i].name, "id") != 0) continue;
        if (m.cap[i].n + 1 > idlen || m.cap[i].n > PARSE_ID_MAX) return -1;
        memcpy(id, m.cap[i].s, m.cap[i].n);
        id[m.cap[i].n] = '\0';
        return 0;
    }
    return -1;
}

int parse_list(const char *url, const char *body, size_t len, parse_urls *out, char *err, size_t errlen) {
    spec_match m;
    const spec_t *s = spec_default();
    if (!s) {
        parse_urls_reset(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (spec_classify(s, url, &m) != PARSE_KIND_LIST) {
        parse_urls_reset(out);
        snprintf(err, errlen, "not a list url");
        return -1;
    }
    spec_out o;
    spec_out_init(&o);
    o.urls = *out; /* the caller's buffer, lent for the page */
    spec_page pg = { url, body, len, 0, NULL };
    int rc = spec_list(s, &m, &pg, &o, err, errlen);
    *out = o.urls;
    spec_docs_free(&o.docs);
    return rc;
}

int parse_detail(const char *url, const char *body, size_t len, int64_t fetched_at_ms, bson_t *out,
                 char *err, size_t errlen) {
    spec_match m;
    const spec_t *s = spec_default();
    bson_reinit(out);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (spec_classify(s, url, &m) != PARSE_KIND_DETAIL) {
        snprintf(err, errlen, "not a detail url");
        return -1;
    }
    spec_out o;
    spec_out_init(&o);
    o.doc = out;
    spec_page pg = { url, body, len, fetched_at_ms, NULL };
    int rc = spec_item(s, &m, &pg, &o, err, errlen);
    spec_out_free(&o);
    if (rc == SPEC_GONE) {
        snprintf(err, errlen, "gone (the page's item is null)");
        return -1;
    }
    return rc;
}
