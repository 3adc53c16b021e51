/* parse_try.h -- zcrawl-parser --try (and zcrawl try): what one page yields under a spec, field by field.
 *
 * Sits on top of the spec modules, beside the loop: it fetches one page itself
 * (libcurl, the spec's headers) or reads it from a file, runs it through the spec
 * with a spec_trace, and prints every field (what its path found, what it became or
 * why it is null), every list item that gave no URL (which placeholder), the
 * documents and the URLs. Nothing it prints holds a header value. */
#ifndef PARSE_TRY_H
#define PARSE_TRY_H

#include <stdio.h>

#include "spec.h"

typedef struct parse_try_conf {
    const char *page;     /* an http(s) URL to fetch, or a file holding a page's body */
    const char *page_url; /* a page file: the URL it was fetched from (rule, {origin}) */
    const char *link;     /* a page file: its Link header, or NULL */
    const char *spec_name;
    long timeout_ms;
} parse_try_conf;

/* Runs the page c->page through spec and prints the story to out. Returns the exit
 * code: 0 when the page yielded a document or a URL; 1 when it yielded nothing (a
 * status other than 2xx, not JSON, no rule matches, refused, gone, empty); 2 on a
 * usage error (a page file without page_url, a file that cannot be read, a URL
 * that is not http(s)), with one line in err. */
int parse_try(const spec_t *spec, const parse_try_conf *c, FILE *out, char *err, size_t errlen);

#endif
