/* fuzz_robots.c -- libFuzzer target for the robots.txt parser (lib/zc_robots.c).
 *
 * Input: the raw bytes are a robots.txt body (NUL bytes included: the parser
 * takes a length). The body is parsed for two agents; every line's value is
 * also asked about as a path (so paths share the rules' odd bytes), with a few
 * fixed paths. Checks: answers are 0 or 1; /robots.txt is always allowed; the
 * same body parsed twice answers the same; the crawl delay is -1 or within a
 * day; a parse for an unknown status allows or refuses everything. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_robots.h"

#define CHECK(c)                                                                        \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "fuzz_robots: check failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                                    \
        }                                                                               \
    } while (0)
#define MAX_PATHS 24

/* Up to MAX_PATHS NUL-terminated paths taken from the values of data's lines. */
static size_t paths_of(const uint8_t *data, size_t size, char **paths) {
    size_t n = 0, i = 0;
    static const char *fixed[] = { "/", "", "/robots.txt", "/a", "/a/b?c=d", "/%7e%2F*$" };
    for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++) paths[n++] = strdup(fixed[k]);
    while (i < size && n < MAX_PATHS) {
        size_t e = i;
        while (e < size && data[e] != '\n') e++;
        const uint8_t *colon = memchr(data + i, ':', e - i);
        if (colon) {
            size_t s = (size_t)(colon + 1 - data);
            while (s < e && data[s] == ' ') s++;
            size_t len = e - s;
            char *p = malloc(len + 1);
            CHECK(p);
            memcpy(p, data + s, len);
            p[len] = '\0'; /* an embedded NUL just ends the path early */
            paths[n++] = p;
        }
        i = e + 1;
    }
    for (size_t k = 0; k < n; k++) CHECK(paths[k]);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    static const char *agents[] = { "zcrawl", "FooBot/1.0 (+https://example.com)" };
    char *paths[MAX_PATHS];
    size_t np = paths_of(data, size, paths);
    for (size_t a = 0; a < 2; a++) {
        zc_robots *r1 = zc_robots_parse(body, size, agents[a]);
        zc_robots *r2 = zc_robots_parse(body, size, agents[a]);
        CHECK(r1 && r2);
        long d = zc_robots_crawl_delay_ms(r1);
        CHECK(d == -1 || (d >= 0 && d <= 86400000L));
        CHECK(d == zc_robots_crawl_delay_ms(r2));
        CHECK(zc_robots_allowed(r1, "/robots.txt") == 1);
        for (size_t k = 0; k < np; k++) {
            int x = zc_robots_allowed(r1, paths[k]);
            CHECK(x == 0 || x == 1);
            CHECK(x == zc_robots_allowed(r2, paths[k]));
        }
        zc_robots_free(r1);
        zc_robots_free(r2);
    }
    long status = size ? (long)data[0] * 3 : 0; /* 0..765: every class */
    zc_robots *s = zc_robots_for_status(status, body, size, "zcrawl");
    CHECK(s);
    if (status < 200 || status > 299) {
        int all = zc_robots_allowed(s, "/anything");
        for (size_t k = 0; k < np; k++) {
            /* /robots.txt itself is always allowed, however it is spelt ("robots.txt",
             * "/rob%6Fts.txt"): paths that may spell it are left out. */
            if (strstr(paths[k], "robots") || strchr(paths[k], '%')) continue;
            CHECK(zc_robots_allowed(s, paths[k]) == all);
        }
    }
    zc_robots_free(s);
    for (size_t k = 0; k < np; k++) free(paths[k]);
    return 0;
}
