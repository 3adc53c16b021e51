/* guard.c -- the broker's checks on stages and sites: roles and leases of reports,
 * credit caps, JOBs a fetcher never answers, the crawl's scope, robots.txt. */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_log.h"
#include "zc_robots.h"
#include "zc_scope.h"
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
} guard_origin;

#define GUARD_KNOWN 512 /* identities remembered (oldest forgotten first) */

typedef struct guard_known {
    unsigned char id[DISPATCH_ID_MAX];
    size_t idlen;
    dispatch_role role;
    char name[64];
} guard_known;

struct broker_guard {
    guard_known known[GUARD_KNOWN];
    size_t nknown, next_known;
    zc_scope *scope;
    long long refused, out_of_scope, not_leased, unanswered; /* not yet in Redis */
    long long refused_total;
    struct {
        int64_t last;
        long long quiet;
    } log[GUARD_NREASONS]; /* rate limit */
    guard_origin *origins;
    size_t norigins, cap;
};

static const char *reason_name[GUARD_NREASONS] = {
    [GUARD_NO_HELLO] = "no_hello",
    [GUARD_WRONG_ROLE] = "wrong_role",
    [GUARD_NOT_HELD] = "not_held",
    [GUARD_NOT_LEASED] = "not_leased",
    [GUARD_ROLE_CHANGE] = "role_change",
};

/* ---- scope ---- */

static void seed_origin(void *arg, const char *url) {
    broker *b = arg;
    char err[128], o[ZC_SCOPE_ORIGIN_MAX];
    /* A seed is a start URL: the seeds list is written by whoever runs the crawl
     * (anyone who can write it can write the frontier too), so its origin joins
     * the scope, here and for later brokers. */
    if (zc_scope_add_origin(b->guard->scope, url, err, sizeof(err)) != 1) return;
    if (zc_scope_origin(url, o, sizeof(o), err, sizeof(err)) == 0 && frontier_scope_add(&b->fr, o) < 0)
        broker_redis_failed(b, "scope");
    else zc_info("scope_origin", "origin=%s from=seed", o);
}

static void load_origin(void *arg, const char *origin) {
    char err[128];
    zc_scope *s = arg;
    (void)zc_scope_add_origin(s, origin, err, sizeof(err));
}

static int add_start(broker *b, const char *url, char *err, size_t errlen) {
    char o[ZC_SCOPE_ORIGIN_MAX];
    int r = zc_scope_add_origin(b->guard->scope, url, err, errlen);
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

int broker_guard_open(broker *b, char *const *starts, size_t n, char *err, size_t errlen) {
    broker_guard *g = calloc(1, sizeof(*g));
    if (!g || !(g->scope = zc_scope_new())) {
        free(g);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->guard = g;
    const char *hosts = b->conf->allow_host;
    if (hosts && zc_scope_add_hosts(g->scope, hosts, err, errlen) != 0) return -1;
    if (frontier_scope_load(&b->fr, load_origin, g->scope) < 0) {
        snprintf(err, errlen, "%s", b->fr.err);
        return -1;
    }
    if (b->conf->start && *b->conf->start && add_start(b, b->conf->start, err, errlen) != 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (add_start(b, starts[i], err, errlen) != 0) return -1;
    b->fr.seed_hook = seed_origin;
    b->fr.seed_arg = b;
    zc_info("scope", "origins=%zu host_patterns=%zu robots=%s max_credit=%ld", zc_scope_norigins(g->scope),
            zc_scope_nhosts(g->scope), b->conf->ignore_robots ? "ignored" : "obeyed", b->conf->max_credit);
    return 0;
}

void broker_guard_close(broker *b) {
    broker_guard *g = b->guard;
    if (!g) return;
    for (size_t i = 0; i < g->norigins; i++) zc_robots_free(g->origins[i].rules);
    free(g->origins);
    zc_scope_free(g->scope);
    free(g);
    b->guard = NULL;
}

int broker_guard_in_scope(broker *b, const char *url) { return zc_scope_allows(b->guard->scope, url); }

void broker_guard_out_of_scope(broker *b, long n) { b->guard->out_of_scope += n; }

/* ---- refusals ---- */

/* Copies s into out as one quoted-safe line (no control bytes, no quotes). */
static void safe(char *out, size_t len, const char *s) {
    size_t i = 0;
    for (; s && s[i] && i + 1 < len; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '?' : (char)c;
    }
    out[i] = '\0';
}

void broker_guard_refuse(broker *b, guard_reason why, const char *type, int peer, const char *detail) {
    broker_guard *g = b->guard;
    if (why == GUARD_NOT_LEASED) g->not_leased++;
    else g->refused++;
    g->refused_total++;
    int64_t now = zc_now_ms();
    if (now - g->log[why].last < 1000) {
        g->log[why].quiet++;
        return;
    }
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    char name[64], d[200];
    safe(name, sizeof(name), p && p->name[0] ? p->name : "(unknown)");
    safe(d, sizeof(d), detail);
    zc_warn("refused", "reason=%s type=%s peer=\"%s\" detail=\"%s\" also_refused_since_last=%lld total=%lld",
            reason_name[why], type, name, d, g->log[why].quiet, g->refused_total);
    g->log[why].last = now;
    g->log[why].quiet = 0;
}

void broker_guard_remember(broker *b, int peer) {
    broker_guard *g = b->guard;
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p) return;
    guard_known *k = NULL;
    for (size_t i = 0; i < g->nknown && !k; i++)
        if (g->known[i].idlen == p->idlen && !memcmp(g->known[i].id, p->id, p->idlen)) k = &g->known[i];
    if (!k) {
        k = &g->known[g->next_known];
        g->next_known = (g->next_known + 1) % GUARD_KNOWN;
        if (g->nknown < GUARD_KNOWN) g->nknown++;
    }
    memcpy(k->id, p->id, p->idlen);
    k->idlen = p->idlen;
    k->role = p->role;
    snprintf(k->name, sizeof(k->name), "%s", p->name);
}

int broker_guard_recall(broker *b, const void *id, size_t idlen) {
    broker_guard *g = b->guard;
    for (size_t i = 0; i < g->nknown; i++) {
        guard_known *k = &g->known[i];
        if (k->idlen != idlen || memcmp(k->id, id, idlen)) continue;
        /* A fetcher's JOBs went back when it was forgotten: its DONEs are void. */
        if (k->role == DISPATCH_FETCHER) return -1;
        int peer = dispatch_peer_get(&b->d, id, idlen, 1);
        dispatch_peer *p = dispatch_peer_at(&b->d, peer);
        if (!p) return -1;
        p->role = k->role;
        p->credit = 0;
        snprintf(p->name, sizeof(p->name), "%s", k->name);
        zc_info("peer_recalled", "name=%s", p->name);
        return peer;
    }
    return -1;
}

long broker_guard_credit(broker *b, int peer, uint64_t c) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    long room = b->conf->max_credit - (p ? (long)p->held.n : 0);
    if (room < 0) room = 0;
    if (c > (uint64_t)room) {
        char name[64];
        safe(name, sizeof(name), p ? p->name : "");
        zc_warn("credit_clamped", "peer=\"%s\" asked=%llu granted=%ld max_credit=%ld", name,
                (unsigned long long)c, room, b->conf->max_credit);
        return room;
    }
    return (long)c;
}

/* ---- robots.txt ---- */

static guard_origin *origin_find(broker_guard *g, const char *origin) {
    for (size_t i = 0; i < g->norigins; i++)
        if (!strcmp(g->origins[i].origin, origin)) return &g->origins[i];
    return NULL;
}

static guard_origin *origin_add(broker_guard *g, const char *origin) {
    if (g->norigins == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        guard_origin *v = realloc(g->origins, cap * sizeof(*v));
        if (!v) return NULL;
        g->origins = v;
        g->cap = cap;
    }
    guard_origin *o = &g->origins[g->norigins++];
    memset(o, 0, sizeof(*o));
    snprintf(o->origin, sizeof(o->origin), "%s", origin);
    snprintf(o->url, sizeof(o->url), "%s/robots.txt", origin);
    o->state = ROBOTS_WAIT;
    return o;
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
    o->state = ROBOTS_KNOWN;
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

/* Parses a cached record "<status>\n<body>". Returns rules, or NULL. */
static zc_robots *from_record(const char *rec, size_t len) {
    const char *nl = memchr(rec, '\n', len);
    if (!nl) return NULL;
    long status = strtol(rec, NULL, 10);
    return zc_robots_for_status(status, nl + 1, len - (size_t)(nl + 1 - rec), GUARD_AGENT);
}

void broker_guard_parked(broker *b, dispatch_item *it) {
    broker_guard *g = b->guard;
    char origin[ZC_SCOPE_ORIGIN_MAX], err[128];
    if (b->conf->ignore_robots || zc_scope_origin(it->url, origin, sizeof(origin), err, sizeof(err)) != 0) return;
    guard_origin *o = origin_find(g, origin);
    if (o && o->state == ROBOTS_KNOWN) {
        if (!zc_robots_allowed(o->rules, url_path(it->url))) disallow(b, o, it);
        return;
    }
    if (o) return; /* asked for already; the host is gated until the answer */
    if (!(o = origin_add(g, origin)) || dispatch_host_set(&b->d, it->url, 1, -1) != 0) {
        zc_warn("robots_skipped", "origin=%s reason=out_of_memory", origin);
        if (o) g->norigins--;
        return;
    }
    char *rec;
    size_t len;
    int cached = frontier_robots_get(&b->fr, origin, &rec, &len);
    if (cached < 0) broker_redis_failed(b, "robots");
    if (cached == 1) {
        zc_robots *rules = from_record(rec, len);
        free(rec);
        if (rules) {
            zc_info("robots_cached", "origin=%s", origin);
            robots_apply(b, o, rules, "");
            return;
        }
    }
    robots_request(b, o, zc_now_ms());
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
        snprintf(dead, sizeof(dead), "robots.txt unreachable after %d tries: %s", o->tries, why);
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

int broker_guard_robots_done(broker *b, const char *url, const char *outcome, uint64_t status,
                             const char *body, size_t len) {
    broker_guard *g = b->guard;
    guard_origin *o = NULL;
    for (size_t i = 0; i < g->norigins && !o; i++)
        if (g->origins[i].fetching && !strcmp(g->origins[i].url, url)) o = &g->origins[i];
    if (!o) return 0;
    /* When it was a crawled URL too, its lease closes: it is no page. */
    if (frontier_exclude(&b->fr, url, "robots_txt") < 0) broker_redis_failed(b, "exclude");
    long st = (long)status;
    int robots = !strcmp(outcome, "robots_txt");
    if (!robots && !strcmp(outcome, "ok")) {
        /* A fetcher that cannot hand the body back sent it downstream as a page. */
        zc_warn("robots_unreadable", "origin=%s reason=\"fetcher sent no robots_txt answer; allowing all\"", o->origin);
        zc_robots *rules = zc_robots_for_status(404, "", 0, GUARD_AGENT);
        if (rules) robots_apply(b, o, rules, "");
        else robots_retry(b, o, "out of memory");
        return 1;
    }
    if (!strcmp(outcome, "redirect")) st = 404; /* not followed across origins: unavailable */
    if ((robots || !strcmp(outcome, "fail") || st == 404) && st >= 200 && st < 500 && st != 429) {
        if (!robots) body = "", len = 0;
        zc_robots *rules = zc_robots_for_status(st, body, len, GUARD_AGENT);
        if (!rules) {
            robots_retry(b, o, "out of memory");
            return 1;
        }
        /* Cached as "<status>\n<body>" for later brokers and restarts. */
        size_t cut = len > ZC_ROBOTS_MAX_BYTES ? ZC_ROBOTS_MAX_BYTES : len;
        char *rec = malloc(cut + 24);
        if (rec) {
            int h = snprintf(rec, 24, "%ld\n", st);
            memcpy(rec + h, body, cut);
            if (frontier_robots_set(&b->fr, o->origin, rec, (size_t)h + cut, GUARD_ROBOTS_TTL_S) < 0)
                broker_redis_failed(b, "robots");
            free(rec);
        }
        robots_apply(b, o, rules, "");
        return 1;
    }
    char why[128];
    snprintf(why, sizeof(why), "%s status %ld: %.*s", outcome, st, (int)(len > 80 ? 80 : len), body);
    safe(why, sizeof(why), why); /* one line, no quotes */
    robots_retry(b, o, why);
    return 1;
}

/* ---- tick ---- */

static void flush(broker *b, const char *field, long long *v) {
    if (!*v) return;
    if (frontier_count(&b->fr, field, *v) < 0) broker_redis_failed(b, "count");
    else *v = 0;
}

/* JOBs out at a fetcher longer than --job-timeout-ms go back to the frontier and
 * the fetcher's credit to 0: a fetcher that takes work and never answers (broken
 * or hostile) cannot hold the crawl; an honest one gets credit back as its
 * transfers end. */
static void take_back(broker *b, int64_t now) {
    for (size_t i = 0; i < dispatch_peer_slots(&b->d); i++) {
        dispatch_peer *p = dispatch_peer_at(&b->d, (int)i);
        if (!p || p->role != DISPATCH_FETCHER) continue;
        size_t n = 0;
        dispatch_item *it;
        while ((it = dispatch_first_held(&b->d, (int)i)) != NULL && now - it->sent_at > b->conf->job_timeout_ms) {
            dispatch_answered(&b->d, it, 0);
            if (frontier_requeue(&b->fr, it->url) < 0) broker_redis_failed(b, "requeue");
            dispatch_drop(&b->d, it);
            n++;
        }
        if (n) {
            char name[64];
            safe(name, sizeof(name), p->name);
            zc_warn("jobs_unanswered", "peer=\"%s\" taken_back=%zu after_ms=%ld credit_was=%ld", name, n,
                    b->conf->job_timeout_ms, p->credit);
            p->credit = 0;
            b->guard->unanswered += (long long)n;
        }
    }
}

void broker_guard_tick(broker *b, int64_t now) {
    broker_guard *g = b->guard;
    if (!g || frontier_broken(&b->fr)) return;
    take_back(b, now);
    for (size_t i = 0; i < g->norigins; i++) {
        guard_origin *o = &g->origins[i];
        if (o->state != ROBOTS_WAIT) continue;
        if (o->fetching && !dispatch_find(&b->d, o->url)) o->fetching = 0; /* its fetcher went away */
        if (!o->fetching && now >= o->next_try) robots_request(b, o, now);
    }
    flush(b, "refused_messages", &g->refused);
    flush(b, "out_of_scope", &g->out_of_scope);
    flush(b, "not_leased", &g->not_leased);
    flush(b, "unanswered", &g->unanswered);
}
