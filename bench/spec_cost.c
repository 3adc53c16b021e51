/* spec_cost.c -- CPU per page of the spec-driven parser against the hard-coded book parser it replaced.
 *
 * Renders every page of the emulator's default catalogue in memory (sitesim's
 * sim_catalog: 503 list pages of 18 and 9040 detail pages, the bytes the emulator
 * serves), then parses all of them ROUNDS times with each parser, alternating the
 * two so that both meet the same machine load, and prints the median CPU time
 * (CLOCK_PROCESS_CPUTIME_ID) per page of each and their ratio. The old parser is
 * parser/parse_book.c as of commit 9cf8811 (the last one before the spec), built
 * with its names prefixed by old_ (bench/spec_cost.sh does the build). Also checks
 * that the two agree on every list page's URLs, so the figures compare equal work.
 *
 * usage: spec_cost [ROUNDS]     (default 7)
 * Prints one JSON line; exits 1 with one line on stderr when a parse fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse_book.h"
#include "sim_buf.h"
#include "sim_catalog.h"
#include "spec.h"

/* The old parser's entry points (renamed at build time). */
typedef struct old_urls {
    char *buf;
    size_t len, cap, n, ndetail, nlist, skipped;
    int truncated;
} old_urls;
void old_parse_urls_init(old_urls *u);
void old_parse_urls_free(old_urls *u);
void old_parse_cleanup(void);
int old_parse_page_kind(const char *url);
int old_parse_list(const char *url, const char *body, size_t len, old_urls *out, char *err, size_t errlen);
int old_parse_detail(const char *url, const char *body, size_t len, int64_t fetched_at_ms, bson_t *out,
                     char *err, size_t errlen);

typedef struct page {
    char url[128];
    char *body;
    size_t len;
    int list;
} page;

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 1) rounds = 1;
    char err[256];
    sim_catalog cat;
    if (sim_catalog_init(&cat, 1, 9040, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "spec_cost: %s\n", err);
        return 1;
    }
    size_t npages = 503 + 9040, k = 0;
    page *pg = calloc(npages, sizeof(*pg));
    if (!pg) return 1;
    for (long o = 0; o < 9040; o += 18, k++) {
        sim_buf b;
        sim_buf_init(&b);
        sim_catalog_render_list(&cat, 18, o, "http://127.0.0.1:8080/api/book/", &b);
        snprintf(pg[k].url, sizeof(pg[k].url), "http://127.0.0.1:8080/api/book/?limit=18&offset=%ld", o);
        pg[k].body = b.p, pg[k].len = b.len, pg[k].list = 1;
    }
    for (long i = 0; i < 9040; i++, k++) {
        sim_buf b;
        sim_buf_init(&b);
        sim_catalog_render_detail(&cat, i, &b);
        snprintf(pg[k].url, sizeof(pg[k].url), "http://127.0.0.1:8080/api/book/%u", sim_catalog_id(&cat, i));
        pg[k].body = b.p, pg[k].len = b.len;
    }
    npages = k;
    size_t bytes = 0;
    for (size_t i = 0; i < npages; i++) bytes += pg[i].len;

    const spec_t *spec = spec_default();
    parse_urls nu;
    old_urls ou;
    parse_urls_init(&nu);
    old_parse_urls_init(&ou);
    bson_t *doc = bson_sized_new(8192);
    /* as the parser runs pages: counting nulls and skipped items */
    spec_counts *counts = spec_default() ? spec_counts_for(spec_default()) : NULL;
    spec_out so;
    spec_out_init(&so);
    so.doc = doc;
    so.counts = counts;
    double *t_old = calloc((size_t)rounds, sizeof(double)), *t_new = calloc((size_t)rounds, sizeof(double));
    if (!spec || !doc || !counts || !t_old || !t_new) return 1;

    /* Equal work: same URLs from every list page (docs differ only by the issue-14 fixes). */
    for (size_t i = 0; i < npages; i++) {
        if (!pg[i].list) continue;
        if (parse_list(pg[i].url, pg[i].body, pg[i].len, &nu, err, sizeof(err)) != 0 ||
            old_parse_list(pg[i].url, pg[i].body, pg[i].len, &ou, err, sizeof(err)) != 0 ||
            nu.len != ou.len || memcmp(nu.buf, ou.buf, nu.len) != 0) {
            fprintf(stderr, "spec_cost: the parsers disagree on %s\n", pg[i].url);
            return 1;
        }
    }
    for (int r = 0; r < rounds; r++) {
        for (int which = 0; which < 2; which++) {
            int use_new = (r + which) % 2; /* alternate who goes first */
            double t0 = cpu_now();
            for (size_t i = 0; i < npages; i++) {
                int rc;
                if (use_new) {
                    spec_match m;
                    int kind = spec_classify(spec, pg[i].url, &m);
                    spec_page sp = { pg[i].url, pg[i].body, pg[i].len, 1, NULL };
                    rc = kind == PARSE_KIND_LIST ? spec_list(spec, &m, &sp, &so, err, sizeof(err))
                                                 : spec_item(spec, &m, &sp, &so, err, sizeof(err));
                } else {
                    int kind = old_parse_page_kind(pg[i].url);
                    rc = kind == PARSE_KIND_LIST ? old_parse_list(pg[i].url, pg[i].body, pg[i].len, &ou, err, sizeof(err))
                                                 : old_parse_detail(pg[i].url, pg[i].body, pg[i].len, 1, doc, err, sizeof(err));
                }
                if (rc != 0) {
                    fprintf(stderr, "spec_cost: %s parser failed on %s: %s\n", use_new ? "spec" : "old", pg[i].url, err);
                    return 1;
                }
            }
            (use_new ? t_new : t_old)[r] = cpu_now() - t0;
        }
    }
    qsort(t_old, (size_t)rounds, sizeof(double), cmp_d);
    qsort(t_new, (size_t)rounds, sizeof(double), cmp_d);
    double o = t_old[rounds / 2] / (double)npages * 1e6, n = t_new[rounds / 2] / (double)npages * 1e6;
    printf("{\"pages\": %zu, \"bytes\": %zu, \"rounds\": %d, \"old_us_per_page\": %.3f, "
           "\"spec_us_per_page\": %.3f, \"ratio\": %.3f, \"old_min\": %.3f, \"spec_min\": %.3f}\n",
           npages, bytes, rounds, o, n, n / o, t_old[0] / (double)npages * 1e6, t_new[0] / (double)npages * 1e6);
    bson_destroy(doc);
    spec_out_free(&so);
    spec_counts_free(counts);
    parse_urls_free(&nu);
    old_parse_urls_free(&ou);
    old_parse_cleanup();
    parse_cleanup();
    for (size_t i = 0; i < npages; i++) free(pg[i].body);
    free(pg);
    free(t_old);
    free(t_new);
    sim_catalog_free(&cat);
    return 0;
}
