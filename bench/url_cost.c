/* url_cost.c -- CPU per URL of the canonical form on libcurl's parser against the hand-written splitter it replaced.
 *
 * Canonicalises a fixed mix of URLs (the book emulator's: 18 detail URLs and the
 * next list page, as one list page yields; and a few web-shaped ones with longer
 * paths and queries) ROUNDS times with each implementation, alternating the two so
 * that both meet the same machine load, and prints the median CPU time
 * (CLOCK_PROCESS_CPUTIME_ID) per URL of each and their ratio, and the same for
 * the host key (zc_url_host). The old one is
 * lib/zc_url.c as of commit 444dcff, built with its names prefixed by old_
 * (bench/url_cost.sh does the build). Before timing, it prints every URL of the
 * mix and of an edge-case table whose canonical form differs between the two
 * (the table tests/unit/test_lib.c pins), so a change of fingerprint is seen.
 *
 * usage: url_cost [ROUNDS]     (default 7)
 * Prints the differences, then one JSON line; exits 1 when an ordinary URL of
 * the mix is refused or canonicalised differently by the two. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zc_url.h"

int old_zc_url_canonical(const char *url, size_t len, char *out, size_t outlen, char *err, size_t errlen);
int old_zc_url_host(const char *url, char *out, size_t outlen);

#define PER_ROUND 200000

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef int (*canon_fn)(const char *, size_t, char *, size_t, char *, size_t);

/* CPU seconds per URL of n canonicalisations through f. */
static double one_round(canon_fn f, char **urls, size_t *lens, size_t nurls, size_t n) {
    char out[ZC_URL_MAX], err[128];
    volatile long sink = 0;
    double t0 = cpu_now();
    for (size_t i = 0; i < n; i++) sink += f(urls[i % nurls], lens[i % nurls], out, sizeof(out), err, sizeof(err));
    (void)sink;
    return (cpu_now() - t0) / (double)n;
}

typedef int (*host_fn)(const char *, char *, size_t);

/* CPU seconds per URL of n host keys through f. */
static double host_round(host_fn f, char **urls, size_t nurls, size_t n) {
    char out[300];
    volatile long sink = 0;
    double t0 = cpu_now();
    for (size_t i = 0; i < n; i++) sink += f(urls[i % nurls], out, sizeof(out));
    (void)sink;
    return (cpu_now() - t0) / (double)n;
}

/* Prints x when old and new disagree; returns 1 then. */
static int differs(const char *x) {
    char a[ZC_URL_MAX], b[ZC_URL_MAX], ea[128] = "", eb[128] = "";
    int na = old_zc_url_canonical(x, strlen(x), a, sizeof(a), ea, sizeof(ea));
    int nb = zc_url_canonical(x, strlen(x), b, sizeof(b), eb, sizeof(eb));
    if (na == nb && (na < 0 || !strcmp(a, b))) return 0;
    printf("  %.80s%s\n    old: %.80s\n    new: %.80s\n", x, strlen(x) > 80 ? "..." : "",
           na < 0 ? ea : a, nb < 0 ? eb : b);
    return 1;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 1 || rounds > 101) {
        fprintf(stderr, "url_cost: error: ROUNDS must be 1..101\n");
        return 1;
    }
    char *urls[32];
    size_t lens[32], n = 0;
    char buf[256];
    for (int i = 0; i < 18; i++) {
        snprintf(buf, sizeof(buf), "http://127.0.0.1:8080/api/book/%d/", 1000 + i * 37);
        urls[n++] = strdup(buf);
    }
    urls[n++] = strdup("http://127.0.0.1:8080/api/book/?limit=18&offset=36");
    urls[n++] = strdup("https://books.toscrape.com/catalogue/category/books/travel_2/index.html");
    urls[n++] = strdup("https://www.Example.com:443/search?q=c+url&page=2&sort=desc&utm_source=x#top");
    urls[n++] = strdup("http://[::1]:8080/a/b/c?x=1");
    for (size_t i = 0; i < n; i++) {
        if (!urls[i]) return 1;
        lens[i] = strlen(urls[i]);
    }
    int bad = 0;
    printf("URLs of the mix whose canonical form differs (must be none):\n");
    for (size_t i = 0; i < n; i++) bad |= differs(urls[i]);
    char big[1901];
    memcpy(big, "http://h/", 9);
    memset(big + 9, 'x', sizeof(big) - 10);
    big[sizeof(big) - 1] = '\0';
    const char *edge[] = { "http://[::1]:8080/a", "http://[::A]/", "http://[0:0::1]/", "http://u:pw@H/p",
                           "http://h/a/./b/../c", "http://h/a/b/..", "HTTP://Example.COM/", "http://h:80/",
                           "https://h:443", "http://h/?", "http://h/?b=2&a=1&a=0", "http://h/%7e%2F?x=%41",
                           "http://0x7f.1/", "http://%41.com/", "http:/h", "http:///h", "http://h:/x",
                           "http://h\\x/", "http://[fe80::1%25eth0]/", big };
    printf("edge cases whose canonical form differs:\n");
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) differs(edge[i]);

    double o[101], w[101], ho[101], hw[101];
    for (int r = 0; r < rounds; r++) {
        o[r] = one_round(old_zc_url_canonical, urls, lens, n, PER_ROUND);
        w[r] = one_round(zc_url_canonical, urls, lens, n, PER_ROUND);
        ho[r] = host_round(old_zc_url_host, urls, n, PER_ROUND);
        hw[r] = host_round(zc_url_host, urls, n, PER_ROUND);
    }
    qsort(o, (size_t)rounds, sizeof(double), cmp_double);
    qsort(w, (size_t)rounds, sizeof(double), cmp_double);
    qsort(ho, (size_t)rounds, sizeof(double), cmp_double);
    qsort(hw, (size_t)rounds, sizeof(double), cmp_double);
    double om = o[rounds / 2] * 1e6, wm = w[rounds / 2] * 1e6;
    double hom = ho[rounds / 2] * 1e6, hwm = hw[rounds / 2] * 1e6;
    /* A list page's 19 URLs (18 books and the next page) each pass the broker's
     * scope check, discovery and robots check (canonical form) and its dispatch
     * (host key) once: 3 canonical forms and 1 host key a URL. */
    printf("{\"urls\": %zu, \"rounds\": %d, \"old_us_per_url\": %.3f, \"new_us_per_url\": %.3f, "
           "\"ratio\": %.1f, \"old_host_us\": %.3f, \"new_host_us\": %.3f, "
           "\"old_broker_us_per_list_page\": %.1f, \"new_broker_us_per_list_page\": %.1f}\n",
           n, rounds, om, wm, wm / om, hom, hwm, 19 * (3 * om + hom), 19 * (3 * wm + hwm));
    for (size_t i = 0; i < n; i++) free(urls[i]);
    return bad;
}
