/* guard_robots.c -- robots.txt (guard_robots.h). */
#include "guard_robots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outage.h"
#include "peer_io.h"
#include "zc_log.h"
#include "zc_robots.h"
#include "zc_scope.h"
#include "zc_strmap.h"
#include "zc_time.h"

typedef enum { ROBOTS_WAIT,
               ROBOTS_KNOWN } robots_state;

/* One origin's robots.txt: asked for (WAIT, its host gated) or known. */
typedef struct guard_origin {
    char origin[ZC_SCOPE_ORIGIN_MAX];
    char url[ZC_SCOPE_ORIGIN_MAX + 16]; /* <origin>/robots.txt */
    robots_state state;
    zc_robots *rules; /* when known */
    char dead[160];   /* unreachable: why its URLs are dead letters; "" when excluded */
    int fetching;     /* its request is parked or out at a fetcher */
    int tries;        /* failed requests so far */
    int64_t next_try; /* monotonic ms */
    size_t wait_at;   /* its place in waiting while WAIT */
    int64_t fetched;  /* wall ms its rules were fetched (from the cached record when read from Redis) */
} guard_origin;

/* Every origin seen, found by name in O(1) (by_origin: origin -> index), and
 * the indices of those still waiting for their rules (the tick's work), so that
 * no DONE, parked URL or tick walks every origin of the crawl. */
struct guard_robots {
    guard_origin *origins;
    size_t norigins, cap;
    zc_strmap *by_origin;
    size_t *waiting;
    size_t nwaiting, cap_waiting;
    /* The cached records of the origins new to one lease batch, read in one
     * command before its URLs are parked (broker_guard_robots_prefetch): origin
     * -> index into pre_rec (NULL: none cached) and pre_len. */
    zc_strmap *pre;
    char **pre_rec;
    size_t *pre_len, npre;
};

static void pre_clear(struct guard_robots *g) {
    for (size_t i = 0; i < g->npre; i++) free(g->pre_rec[i]);
    free(g->pre_rec);
    free(g->pre_len);
    zc_strmap_free(g->pre);
    g->pre = NULL;
    g->pre_rec = NULL;
    g->pre_len = NULL;
    g->npre = 0;
}

int broker_guard_robots_open(broker *b) {
    b->robots = calloc(1, sizeof(*b->robots));
    if (!b->robots) return -1;
    if (!(b->robots->by_origin = zc_strmap_new())) {
        free(b->robots);
        b->robots = NULL;
        return -1;
    }
    return 0;
}

void broker_guard_robots_close(broker *b) {
    struct guard_robots *g = b->robots;
    if (!g) return;
    for (size_t i = 0; i < g->norigins; i++) zc_robots_free(g->origins[i].rules);
    free(g->origins);
    zc_strmap_free(g->by_origin);
    free(g->waiting);
    pre_clear(g);
    free(g);
    b->robots = NULL;
}

static guard_origin *origin_find(struct guard_robots *g, const char *origin, size_t len) {
    long i;
    return zc_strmap_get(g->by_origin, origin, len, &i) ? &g->origins[i] : NULL;
}

/* Room for one more origin in the tick's list. Returns 0, or -1 when out of memory. */
static int waiting_room(struct guard_robots *g) {
    if (g->nwaiting < g->cap_waiting) return 0;
    size_t cap = g->cap_waiting ? g->cap_waiting * 2 : 8;
    size_t *v = realloc(g->waiting, cap * sizeof(*v));
    if (!v) return -1;
    g->waiting = v;
    g->cap_waiting = cap;
    return 0;
}

/* o joins the tick's list, where waiting_room() made room. */
static void waiting_push(struct guard_robots *g, guard_origin *o) {
    o->wait_at = g->nwaiting;
    g->waiting[g->nwaiting++] = (size_t)(o - g->origins);
}

/* A new origin, waiting for its rules. Returns it, or NULL when out of memory
 * (nothing added). Pointers to origins are valid until the next origin_add. */
static guard_origin *origin_add(struct guard_robots *g, const char *origin) {
    if (g->norigins == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        guard_origin *v = realloc(g->origins, cap * sizeof(*v));
        if (!v) return NULL;
        g->origins = v;
        g->cap = cap;
    }
    if (waiting_room(g) != 0) return NULL;
    if (zc_strmap_put(g->by_origin, origin, strlen(origin), (long)g->norigins) != 0) return NULL;
    guard_origin *o = &g->origins[g->norigins];
    memset(o, 0, sizeof(*o));
    snprintf(o->origin, sizeof(o->origin), "%s", origin);
    snprintf(o->url, sizeof(o->url), "%s/robots.txt", origin);
    o->state = ROBOTS_WAIT;
    waiting_push(g, o);
    g->norigins++;
    return o;
}

/* Takes back the origin origin_add returned last (its host could not be gated). */
static void origin_undo(struct guard_robots *g, guard_origin *o) {
    (void)zc_strmap_del(g->by_origin, o->origin, strlen(o->origin));
    g->nwaiting--;
    g->norigins--;
}

/* o's rules are known: it leaves the tick's list (the last one takes its place). */
static void origin_known(struct guard_robots *g, guard_origin *o) {
    if (o->state != ROBOTS_WAIT) return;
    o->state = ROBOTS_KNOWN;
    size_t last = g->waiting[--g->nwaiting];
    if (o->wait_at < g->nwaiting) {
        g->waiting[o->wait_at] = last;
        g->origins[last].wait_at = o->wait_at;
    }
}

static void robots_request(broker *b, guard_origin *o, int64_t now);

/* o's rules are older than --robots-ttl-s (RFC 9309 2.4: a cached robots.txt is
 * used for a day at most): o waits again, its host gated, for a fresh one from
 * the site (not from Redis, whose copy is as old). Returns 0, or -1 when memory
 * ran out (the old rules then stay a while longer). */
static int origin_expire(broker *b, guard_origin *o, const char *url) {
    struct guard_robots *g = b->robots;
    if (waiting_room(g) != 0) return -1;
    if (dispatch_host_set(&b->d, url, 1, -1) != 0) return -1;
    zc_info("robots_expired", "origin=%s age_s=%lld", o->origin, (long long)((zc_wall_ms() - o->fetched) / 1000));
    o->state = ROBOTS_WAIT;
    o->tries = 0;
    waiting_push(g, o);
    robots_request(b, o, zc_now_ms());
    return 0;
}

/* Nonzero when rules fetched at wall ms fetched are older than --robots-ttl-s. */
static int robots_stale(const broker *b, int64_t fetched) {
    return zc_wall_ms() - fetched >= (int64_t)b->conf->robots_ttl_s * 1000;
}

/* The path and query of an absolute URL ("/" when it has none). */
static const char *url_path(const char *url) {
    const char *a = strstr(url, "://");
    const char *p = a ? strpbrk(a + 3, "/?#") : NULL;
    return p && *p == '/' ? p : "/";
}

/* A parked URL its origin's rules disallow: recorded as excluded (robots.txt
 * says no), or a dead letter when robots.txt could not be had (the site did not
 * answer: retried later by whoever re-queues dead letters), and forgotten. */
static void disallow(broker *b, guard_origin *o, dispatch_item *it) {
    int r = o->dead[0] ? frontier_dead(&b->fr, it->url, "robots", o->dead, zc_wall_ms())
                       : frontier_exclude(&b->fr, it->url, "robots");
    if (r < 0) broker_redis_failed(b, "exclude");
    else if (o->dead[0]) zc_warn("dead_letter", "url=%s stage=robots reason=\"%s\"", it->url, o->dead);
    else zc_info("excluded", "url=%s reason=robots", it->url);
    b->closed_leases = 1;
    dispatch_drop(&b->d, it);
}

/* The rules of o are known: its host's own rate from Crawl-delay, the gate
 * opened, every URL of o parked at the host and disallowed excluded. */
static void robots_apply(broker *b, guard_origin *o, zc_robots *rules, const char *dead) {
    zc_robots_free(o->rules);
    o->rules = rules;
    snprintf(o->dead, sizeof(o->dead), "%s", dead);
    origin_known(b->robots, o);
    o->fetching = 0;
    long delay = zc_robots_crawl_delay_ms(rules);
    double rate = 0;
    if (delay > 0) {
        rate = 1000.0 / (double)delay;
        if (b->conf->rate > 0 && b->conf->rate < rate) rate = b->conf->rate;
    }
    if (dispatch_host_set(&b->d, o->url, 0, rate) != 0) zc_warn("robots_rate", "origin=%s reason=out_of_memory", o->origin);
    size_t excluded = 0, olen = strlen(o->origin);
    dispatch_item *it = dispatch_host_parked(&b->d, o->url), *next;
    for (; it; it = next) {
        next = it->next;
        if (strncmp(it->url, o->origin, olen) || (it->url[olen] && it->url[olen] != '/' && it->url[olen] != '?'))
            continue;
        if (!zc_robots_allowed(rules, url_path(it->url))) {
            disallow(b, o, it);
            excluded++;
        }
    }
    zc_info("robots", "origin=%s crawl_delay_ms=%ld disallowed_parked=%zu unreachable=%d", o->origin, delay, excluded,
            o->dead[0] != 0);
}

/* Parks o's robots.txt request at the head of its (gated) host's line. */
static void robots_request(broker *b, guard_origin *o, int64_t now) {
    int bad = 0;
    /* A crawled URL of that name (a link to it) serves as the request. */
    dispatch_item *it = dispatch_find(&b->d, o->url);
    if (!it) it = dispatch_park(&b->d, o->url, o->tries, zc_wall_ms() + b->conf->lease_ms, &bad);
    if (!it) {
        o->next_try = now + 1000; /* out of memory: try later */
        return;
    }
    dispatch_pass(&b->d, it);
    o->fetching = 1;
}

/* Parses a cached record "<status> <fetched wall ms>\n<body>" (an older record,
 * "<status>\n<body>", counts as fetched now) into rules and *fetched. Returns
 * rules, or NULL. */
static zc_robots *from_record(const char *rec, size_t len, int64_t *fetched) {
    const char *nl = memchr(rec, '\n', len);
    if (!nl) return NULL;
    char *end;
    long status = strtol(rec, &end, 10);
    long long at = *end == ' ' ? strtoll(end + 1, NULL, 10) : 0;
    *fetched = at > 0 ? (int64_t)at : zc_wall_ms();
    return zc_robots_for_status(status, nl + 1, len - (size_t)(nl + 1 - rec), GUARD_AGENT);
}

void broker_guard_parked(broker *b, dispatch_item *it) {
    struct guard_robots *g = b->robots;
    char origin[ZC_SCOPE_ORIGIN_MAX], err[128];
    if (b->conf->ignore_robots || zc_scope_origin(it->url, origin, sizeof(origin), err, sizeof(err)) != 0) return;
    guard_origin *o = origin_find(g, origin, strlen(origin));
    if (o && o->state == ROBOTS_KNOWN && robots_stale(b, o->fetched) &&
        origin_expire(b, o, it->url) == 0)
        return; /* it waits, parked behind the gate, for the fresh rules */
    if (o && o->state == ROBOTS_KNOWN) {
        if (!zc_robots_allowed(o->rules, url_path(it->url))) disallow(b, o, it);
        return;
    }
    if (o) return; /* asked for already; the host is gated until the answer */
    if (!(o = origin_add(g, origin)) || dispatch_host_set(&b->d, it->url, 1, -1) != 0) {
        zc_warn("robots_skipped", "origin=%s reason=out_of_memory", origin);
        if (o) origin_undo(g, o);
        return;
    }
    char *rec = NULL;
    size_t len = 0;
    long pi;
    int cached;
    if (g->pre && zc_strmap_get(g->pre, origin, strlen(origin), &pi)) { /* read with its lease batch */
        rec = g->pre_rec[pi];
        len = g->pre_len[pi];
        g->pre_rec[pi] = NULL;
        cached = rec != NULL;
    } else if ((cached = frontier_robots_get(&b->fr, origin, &rec, &len)) < 0) {
        broker_redis_failed(b, "robots");
    }
    if (cached == 1) {
        int64_t fetched;
        zc_robots *rules = from_record(rec, len, &fetched);
        free(rec);
        if (rules && robots_stale(b, fetched)) {
            zc_robots_free(rules); /* Redis keeps it a day; a shorter --robots-ttl-s wants a fresh one */
            rules = NULL;
        }
        if (rules) {
            o->fetched = fetched;
            zc_info("robots_cached", "origin=%s", origin);
            robots_apply(b, o, rules, "");
            return;
        }
    }
    robots_request(b, o, zc_now_ms());
}

void broker_guard_robots_prefetch(broker *b, char *const *urls, size_t n) {
    struct guard_robots *g = b->robots;
    pre_clear(g);
    if (b->conf->ignore_robots || n == 0) return;
    char(*o)[ZC_SCOPE_ORIGIN_MAX] = malloc(n * sizeof(*o));
    char **v = malloc(n * sizeof(*v)), err[128];
    g->pre = zc_strmap_new();
    g->pre_rec = calloc(n, sizeof(*g->pre_rec));
    g->pre_len = calloc(n, sizeof(*g->pre_len));
    size_t k = 0;
    if (!o || !v || !g->pre || !g->pre_rec || !g->pre_len) goto fail; /* each asked for alone */
    for (size_t i = 0; i < n; i++) {
        if (zc_scope_origin(urls[i], o[k], sizeof(o[k]), err, sizeof(err)) != 0) continue;
        size_t len = strlen(o[k]);
        if (origin_find(g, o[k], len) || zc_strmap_get(g->pre, o[k], len, NULL)) continue;
        if (zc_strmap_put(g->pre, o[k], len, (long)k) != 0) break; /* the rest asked for alone */
        v[k] = o[k];
        k++;
    }
    if (k == 0) goto fail;
    if (frontier_robots_mget(&b->fr, v, k, g->pre_rec, g->pre_len) < 0) {
        broker_redis_failed(b, "robots");
        goto fail;
    }
    g->npre = k;
    free(o);
    free(v);
    return;
fail:
    pre_clear(g);
    free(o);
    free(v);
}

static void robots_retry(broker *b, guard_origin *o, const char *why) {
    o->fetching = 0;
    o->tries++;
    if (o->tries > b->conf->max_retries) {
        /* RFC 9309 2.3.1.4: unreachable means disallow all. The origin's URLs
         * become dead letters (the crawl ends, exit 1, and says why) rather than
         * wait forever or count as excluded by a site that never answered. */
        zc_warn("robots_unreachable", "origin=%s tries=%d reason=\"%s\"", o->origin, o->tries, why);
        zc_robots *rules = zc_robots_for_status(0, "", 0, GUARD_AGENT);
        char dead[160];
        snprintf(dead, sizeof(dead), "robots.txt unreachable after %d tries: %.100s", o->tries, why);
        o->fetched = zc_wall_ms();
        if (rules) robots_apply(b, o, rules, dead);
        else o->next_try = zc_now_ms() + 1000;
        return;
    }
    int64_t d = b->conf->retry_base_ms;
    for (int i = 1; i < o->tries && d < b->conf->retry_max_ms; i++) d *= 2;
    if (d > b->conf->retry_max_ms) d = b->conf->retry_max_ms;
    o->next_try = zc_now_ms() + d;
    zc_warn("robots_retry", "origin=%s try=%d in_ms=%lld reason=\"%s\"", o->origin, o->tries, (long long)d, why);
}

/* Records the answer to o's request url in one Redis step: its lease closed when
 * it was a crawled URL too (it is no page), and, when st >= 0, the answer cached
 * as "<status> <fetched wall ms>\n<body>" (from_record's form) for later brokers
 * and restarts. A failure is noted. */
static void robots_record(broker *b, guard_origin *o, const char *url, long st, const char *body, size_t len) {
    char *rec = NULL;
    size_t rlen = 0;
    if (st >= 0) {
        size_t cut = len > ZC_ROBOTS_MAX_BYTES ? ZC_ROBOTS_MAX_BYTES : len;
        if ((rec = malloc(cut + 48)) != NULL) {
            int h = snprintf(rec, 48, "%ld %lld\n", st, (long long)zc_wall_ms());
            memcpy(rec + h, body, cut);
            rlen = (size_t)h + cut;
        } /* out of memory: not cached, the lease still closes */
    }
    if (frontier_robots_done(&b->fr, url, o->origin, rec, rlen, b->conf->robots_ttl_s) < 0)
        broker_redis_failed(b, "robots");
    free(rec);
}

int broker_guard_robots_done(broker *b, const char *url, const char *outcome, uint64_t status,
                             const char *body, size_t len) {
    /* Its own requests are "<origin>/robots.txt": the origin is found by name. */
    static const char suffix[] = "/robots.txt";
    size_t ulen = strlen(url), slen = sizeof(suffix) - 1;
    if (ulen <= slen || strcmp(url + ulen - slen, suffix)) return 0;
    guard_origin *o = origin_find(b->robots, url, ulen - slen);
    if (!o || !o->fetching || strcmp(o->url, url)) return 0;
    long st = (long)status;
    int robots = !strcmp(outcome, "robots_txt");
    zc_robots *rules = NULL;
    char why[128] = "out of memory";
    if (!robots && !strcmp(outcome, "ok")) {
        /* A fetcher that cannot hand the body back sent it downstream as a page. */
        zc_warn("robots_unreadable", "origin=%s reason=\"fetcher sent no robots_txt answer; allowing all\"", o->origin);
        rules = zc_robots_for_status(404, "", 0, GUARD_AGENT);
        robots_record(b, o, url, -1, NULL, 0);
    } else {
        if (!strcmp(outcome, "redirect")) st = 404; /* not followed across origins: unavailable */
        if ((robots || !strcmp(outcome, "fail") || st == 404) && st >= 200 && st < 500 && st != 429) {
            if (!robots) body = "", len = 0;
            rules = zc_robots_for_status(st, body, len, GUARD_AGENT);
        } else {
            snprintf(why, sizeof(why), "%s status %ld: %.*s", outcome, st, (int)(len > 80 ? 80 : len), body);
            broker_safe_text(why, sizeof(why), why); /* one line, no quotes */
        }
        robots_record(b, o, url, rules ? st : -1, body, len);
    }
    o->fetched = zc_wall_ms();
    if (rules) robots_apply(b, o, rules, "");
    else robots_retry(b, o, why);
    return 1;
}

void broker_guard_robots_tick(broker *b, int64_t now) {
    struct guard_robots *g = b->robots;
    for (size_t i = 0; i < g->nwaiting; i++) {
        guard_origin *o = &g->origins[g->waiting[i]];
        if (o->fetching && !dispatch_find(&b->d, o->url)) o->fetching = 0; /* its fetcher went away */
        if (!o->fetching && now >= o->next_try) robots_request(b, o, now);
    }
}
