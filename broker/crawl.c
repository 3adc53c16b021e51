/* crawl.c -- a crawl's start: start URLs checked before anything starts, then
 * seeded in one Redis call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "zc_log.h"
#include "zc_time.h"
#include "zc_url.h"

int broker_check_start(const char *url) {
    char why[128];
    if (zc_url_check(url, strlen(url), why, sizeof(why)) != 0) {
        fprintf(stderr, "%s: error: bad start URL '%s': %s\n", BROKER_PROG, url, why);
        return -1;
    }
    return 0;
}

int broker_seed(broker *b, const char *start, char *const *args, size_t nargs) {
    int has_start = start && *start;
    size_t n = nargs + (has_start ? 1 : 0);
    if (n == 0) return 0;
    char **urls = malloc(n * sizeof(*urls));
    if (!urls) {
        fprintf(stderr, "%s: error: out of memory\n", BROKER_PROG);
        return -1;
    }
    if (has_start) urls[0] = (char *)start;
    memcpy(urls + (has_start ? 1 : 0), args, nargs * sizeof(*urls));
    long added = frontier_discover(&b->fr, NULL, urls, n, zc_wall_ms(), NULL);
    if (added < 0) fprintf(stderr, "%s: error: cannot seed: %s\n", BROKER_PROG, b->fr.err);
    else if (n == 1) zc_info("seeded", "crawl=%s url=%s new=%ld", b->fr.crawl, urls[0], added);
    else zc_info("seeded", "crawl=%s urls=%zu new=%ld", b->fr.crawl, n, added);
    free(urls);
    return added < 0 ? -1 : 0;
}
