/* fetch_spec.h -- a crawl spec's request headers, and the origins they may go to.
 *
 * The fetcher reads only the "headers" of a spec (docs/SPEC.md, "Request
 * headers"; lib/zc_headers.c), their ${VAR} parts from the environment, so a token
 * never appears in the fetcher's argv. They are sent only to the crawl's origins
 * (scheme, host, port): a redirect hop or a robots.txt redirect to another origin,
 * or a URL of an --allow-host host, gets none. The header lines hold secrets:
 * nothing here prints them, and fetch_spec_free wipes them. */
#ifndef FETCH_SPEC_H
#define FETCH_SPEC_H

#include <stddef.h>
#include <curl/curl.h>

#include "zc_scope.h"

typedef struct fetch_spec {
    struct curl_slist *lines; /* "Name: value" for CURLOPT_HTTPHEADER; NULL when none */
    zc_scope *origins;        /* where lines go */
    int n;                    /* headers */
    char shown[512];          /* the headers as the spec writes them, fit to print */
} fetch_spec;

/* Reads the headers of the spec file at path, for the origins of the
 * comma-separated URLs in origins. Returns 0, or -1 with one line in err that
 * names the header and the variable, never a value (a variable not set, a spec
 * that cannot be read, no origins, a URL that is not http(s)); fs is then empty. */
int fetch_spec_load(fetch_spec *fs, const char *path, const char *origins, char *err, size_t errlen);

/* The header lines for a request to url: fs's when url's origin is one of the
 * crawl's, else NULL. Never fails. */
struct curl_slist *fetch_spec_for(const fetch_spec *fs, const char *url);

/* Wipes and frees what fs holds; fs is then empty. */
void fetch_spec_free(fetch_spec *fs);

#endif
