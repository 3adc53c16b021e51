/* zc_headers.h -- the request headers of a crawl spec ("headers"), their ${VAR} parts read from the environment.
 *
 * Shared by the parser (which checks a spec, and fetches with them for --try) and
 * the fetcher (which sends them): the fetcher reads a spec's headers here without
 * linking the parser's spec engine. A value may hold a secret (a token from
 * ${GITHUB_TOKEN}), so nothing here prints a value and no caller may: messages name
 * the header and the variable, and zc_headers_describe shows the value as the spec
 * writes it ("Bearer ${GITHUB_TOKEN}"). The caller owns a zc_headers and releases
 * it with zc_headers_free, which wipes the values first. */
#ifndef ZC_HEADERS_H
#define ZC_HEADERS_H

#include <stddef.h>
#include <cjson/cJSON.h>

#define ZC_HEADERS_MAX      32   /* headers in one spec */
#define ZC_HEADER_NAME_MAX  64   /* bytes of a name */
#define ZC_HEADER_VALUE_MAX 8192 /* bytes of a value, its variables expanded */

typedef struct zc_headers {
    int n;
    char *name[ZC_HEADERS_MAX];
    char *value[ZC_HEADERS_MAX]; /* as sent: never to be printed */
    char *shown[ZC_HEADERS_MAX]; /* as the spec writes it, ${VAR} unexpanded: fit to print */
} zc_headers;

/* Reads o, the "headers" member of the spec file file (NULL: no headers), into h
 * (empty first). Each member is a header: a token of at most ZC_HEADER_NAME_MAX
 * bytes (not one that frames the request: Host, Content-Length, Transfer-Encoding,
 * Connection, ...; each name once, any case) whose value is a string of printable
 * text where ${NAME} stands for the environment variable NAME. Returns 0, or -1
 * with one line in err, "FILE: $.headers.NAME: what is wrong" (a variable that is
 * not set or empty is named; a value never appears); h is then empty. */
int zc_headers_parse(const cJSON *o, const char *file, zc_headers *h, char *err, size_t errlen);

/* Reads the spec file at path (at most 1 MiB of JSON) and its "headers" as
 * zc_headers_parse does. Returns 0 (h empty when the spec has none), or -1 with one
 * line in err (cannot read, not JSON, or what zc_headers_parse says). */
int zc_headers_load(const char *path, zc_headers *h, char *err, size_t errlen);

/* Wipes and frees the values; h is then empty. */
void zc_headers_free(zc_headers *h);

/* Writes "Name: shown" lines joined by "; " into buf (cut to fit, NUL-terminated):
 * what a spec sends, its variables unexpanded. Returns buf. */
const char *zc_headers_describe(const zc_headers *h, char *buf, size_t len);

/* The header lines "Name: value" for libcurl (CURLOPT_HTTPHEADER) appended to *list.
 * Returns 0, or -1 when memory runs out (*list then holds what was appended). The
 * list holds the secrets: free it with curl_slist_free_all and never print it. */
struct curl_slist;
int zc_headers_slist(const zc_headers *h, struct curl_slist **list);

#endif
