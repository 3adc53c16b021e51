/* guard_scope.c -- the crawl's scope (guard_scope.h). */
#include "guard_scope.h"

#include <stdio.h>
#include <stdlib.h>

#include "outage.h"
#include "zc_log.h"
#include "zc_scope.h"

struct guard_scope {
    zc_scope *scope;
    long long out_of_scope; /* not yet in Redis */
};

/* A seed is a start URL: the seeds list is written by whoever runs the crawl
 * (anyone who can write it can write the frontier too), so its origin joins the
 * scope, here and for later brokers: the batch's new origins in one command, not
 * one round trip each. A failure is noted (broker_redis_failed). */
static void seed_origins(void *arg, char *const *urls, size_t n) {
    broker *b = arg;
    char err[128];
    char(*o)[ZC_SCOPE_ORIGIN_MAX] = malloc(n * sizeof(*o));
    char **v = malloc(n * sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (zc_scope_add_origin(b->scope->scope, urls[i], err, sizeof(err)) != 1) continue;
        if (!o || !v) { /* out of memory: one command each */
            char one[ZC_SCOPE_ORIGIN_MAX];
            if (zc_scope_origin(urls[i], one, sizeof(one), err, sizeof(err)) == 0 && frontier_scope_add(&b->fr, one) < 0)
                broker_redis_failed(b, "scope");
            continue;
        }
        if (zc_scope_origin(urls[i], o[k], sizeof(o[k]), err, sizeof(err)) == 0) {
            v[k] = o[k];
            k++;
        }
    }
    if (k && frontier_scope_add_many(&b->fr, v, k) < 0) broker_redis_failed(b, "scope");
    else
        for (size_t i = 0; i < k; i++) zc_info("scope_origin", "origin=%s from=seed", o[i]);
    free(o);
    free(v);
}

static void load_origin(void *arg, const char *origin) {
    char err[128];
    zc_scope *s = arg;
    (void)zc_scope_add_origin(s, origin, err, sizeof(err));
}

static int add_start(broker *b, const char *url, char *err, size_t errlen) {
    char o[ZC_SCOPE_ORIGIN_MAX];
    int r = zc_scope_add_origin(b->scope->scope, url, err, errlen);
    if (r < 0) return -1;
    if (zc_scope_origin(url, o, sizeof(o), err, errlen) != 0) return -1;
    if (frontier_scope_add(&b->fr, o) < 0) {
        snprintf(err, errlen, "%s", b->fr.err);
        return -1;
    }
    return 0;
}

int broker_guard_check_hosts(const char *list, char *err, size_t errlen) {
    zc_scope *s = zc_scope_new();
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int r = zc_scope_add_hosts(s, list, err, errlen);
    zc_scope_free(s);
    return r;
}

int broker_guard_scope_open(broker *b, char *const *starts, size_t n, char *err, size_t errlen) {
    struct guard_scope *g = calloc(1, sizeof(*g));
    if (!g || !(g->scope = zc_scope_new())) {
        free(g);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->scope = g;
    const char *hosts = b->conf->allow_host;
    if (hosts && zc_scope_add_hosts(g->scope, hosts, err, errlen) != 0) return -1;
    if (frontier_scope_load(&b->fr, load_origin, g->scope) < 0) {
        snprintf(err, errlen, "%s", b->fr.err);
        return -1;
    }
    if (b->conf->start && *b->conf->start && add_start(b, b->conf->start, err, errlen) != 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (add_start(b, starts[i], err, errlen) != 0) return -1;
    b->fr.seed_hook = seed_origins;
    b->fr.seed_arg = b;
    zc_info("scope", "origins=%zu host_patterns=%zu robots=%s max_credit=%ld", zc_scope_norigins(g->scope),
            zc_scope_nhosts(g->scope), b->conf->ignore_robots ? "ignored" : "obeyed", b->conf->max_credit);
    return 0;
}

void broker_guard_scope_close(broker *b) {
    if (!b->scope) return;
    zc_scope_free(b->scope->scope);
    free(b->scope);
    b->scope = NULL;
}

int broker_guard_in_scope(broker *b, const char *url) { return zc_scope_allows(b->scope->scope, url); }

void broker_guard_out_of_scope(broker *b, long n) { b->scope->out_of_scope += n; }

void broker_guard_scope_flush(broker *b) { (void)broker_flush_count(b, "out_of_scope", &b->scope->out_of_scope); }
