/* maintain.c -- the broker's periodic work: lease renewal, expired leases and
 * due retries, the guards' tick, the stats hash, and noticing that a batch crawl
 * is complete. Peers' liveness is liveness.c's, a Redis outage outage.c's. */
#include "maintain.h"
#include "counts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawl.h"
#include "guard.h"
#include "outage.h"
#include "zc_zap.h"
#include "status_peers.h"
#include "zc_log.h"
#include "zc_time.h"

static int peer_live(void *arg, int peer) {
    dispatch_peer *p = dispatch_peer_at(arg, peer);
    return p && !p->paused;
}

/* Forgets the items whose lease ran out without renewal (out at a silent fetcher,
 * or anywhere while Redis was away): Redis puts them back in the frontier, and a
 * copy kept here would be handed out twice. */
static void drop_lapsed(broker *b, int64_t wall) {
    dispatch_item *items[256];
    size_t n, total = 0;
    while ((n = dispatch_expiring(&b->d, wall, NULL, NULL, items, 256)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (items[i]->peer >= 0) dispatch_answered(&b->d, items[i], DISPATCH_UNANSWERED);
            dispatch_drop(&b->d, items[i]);
        }
        total += n;
    }
    if (total) zc_warn("leases_lapsed", "urls=%zu", total);
}

/* Renews the leases of every URL the broker still holds that would expire within
 * half a lease: parked ones and those out at live fetchers. A silent fetcher's
 * leases run to their deadline (liveness.c says why). */
static void renew_leases(broker *b, int64_t wall) {
    size_t cap = dispatch_nitems(&b->d);
    if (cap == 0) return;
    char **urls = malloc(cap * sizeof(*urls));
    dispatch_item **items = malloc(cap * sizeof(*items));
    if (!urls || !items) goto out;
    size_t n = dispatch_expiring(&b->d, wall + b->conf->lease_ms / 2, peer_live, &b->d, items, cap);
    if (n == 0) goto out;
    for (size_t i = 0; i < n; i++) urls[i] = items[i]->url;
    int64_t deadline = wall + b->conf->lease_ms;
    if (frontier_renew(&b->fr, urls, n, deadline) < 0) broker_redis_failed(b, "renew");
    else
        for (size_t i = 0; i < n; i++) items[i]->deadline = deadline;
out:
    free(urls);
    free(items);
}

/* Appends one problem to buf (used bytes in *off); stops quietly when full. */
static void problem_add(char *buf, size_t len, size_t *off, const char *what, int64_t since, int64_t wall) {
    if (*off >= len) return;
    int n = snprintf(buf + *off, len - *off, "%s%s (%lld s)", *off ? "; " : "", what,
                     (long long)((wall - since) / 1000));
    *off = n < 0 ? *off : (size_t)n >= len - *off ? len
                                                  : *off + (size_t)n;
}

void broker_problem(broker *b, char *buf, size_t len) {
    size_t off = 0;
    int64_t wall = zc_wall_ms();
    buf[0] = '\0';
    if (b->problem[0]) problem_add(buf, len, &off, b->problem, b->problem_since, wall);
    for (size_t i = 0; i < dispatch_peer_slots(&b->d); i++) {
        dispatch_peer *p = dispatch_peer_at(&b->d, (int)i);
        if (!p || !p->cond[0]) continue;
        char what[300];
        snprintf(what, sizeof(what), "%s %s %s: %s", dispatch_role_name(p->role), p->name, p->cond, p->detail);
        problem_add(buf, len, &off, what, p->cond_since, wall);
    }
}

/* The hosts told to wait that still wait, "host until TIME (429, Retry-After N s)"
 * joined by "; ", into buf; how many into *n. */
static void waits_line(broker *b, char *buf, size_t len, int *n) {
    int64_t wall = zc_wall_ms();
    size_t off = 0;
    *n = 0;
    buf[0] = '\0';
    for (int i = 0; i < BROKER_WAITS_MAX; i++) {
        const broker_wait *w = &b->waits[i];
        if (!w->host[0] || w->until_wall <= wall) continue;
        char when[32];
        int k = snprintf(buf + off, len - off, "%s%s until %s (%d, Retry-After %lld s)", off ? "; " : "", w->host,
                         zc_time_utc(w->until_wall, ZC_TIME_ISO, "?", when, sizeof(when)), w->status,
                         (long long)(w->retry_after_ms / 1000));
        (*n)++;
        if (k < 0 || (size_t)k >= len - off) break;
        off += (size_t)k;
    }
}

void broker_write_stats(broker *b, const frontier_counts *c, int64_t now, const char *state) {
    broker_counts_flush(b); /* a spec's counters go with the stats, the last ones with the last */
    double secs = b->last_stats_at ? (double)(now - b->last_stats_at) / 1000.0 : 0;
    char v[19][32], problem[512], waits[1024];
    int i = 0, nwaits = 0;
    broker_problem(b, problem, sizeof(problem));
    waits_line(b, waits, sizeof(waits), &nwaits);
    zc_buf peers = { 0 }; /* status_peers.c: who is connected, for zcrawl status and the status page */
    int peers_ok = broker_peers_json(&b->d, now, zc_wall_ms(), &peers) == 0;
#define STAT(fmt, val) (snprintf(v[i], sizeof(v[i]), fmt, val), v[i++])
    const char *kv[] = {
        "queued",
        STAT("%lld", c->queued + c->delayed),
        "frontier",
        STAT("%lld", c->queued),
        "delayed",
        STAT("%lld", c->delayed),
        "leased",
        STAT("%lld", c->leased),
        "window",
        STAT("%ld", broker_window(b)),
        "in_flight",
        STAT("%zu", dispatch_ninflight(&b->d)),
        "parked",
        STAT("%zu", dispatch_nparked(&b->d)),
        "fetchers",
        STAT("%d", dispatch_count_role(&b->d, DISPATCH_FETCHER)),
        "parsers",
        STAT("%d", dispatch_count_role(&b->d, DISPATCH_PARSER)),
        "writers",
        STAT("%d", dispatch_count_role(&b->d, DISPATCH_WRITER)),
        "fetched_per_s",
        STAT("%.1f", secs > 0 ? (double)(c->fetched - b->last.fetched) / secs : 0.0),
        "written_per_s",
        STAT("%.1f", secs > 0 ? (double)(c->written - b->last.written) / secs : 0.0),
        "updated_at",
        STAT("%lld", (long long)zc_wall_ms()),
        "started_at",
        STAT("%lld", (long long)b->started_wall),
        "bad_messages",
        STAT("%lld", b->bad_messages),
        "auth_refused",
        STAT("%llu", (unsigned long long)zc_zap_refused()),
        "refused_handshakes",
        STAT("%llu", (unsigned long long)zc_zap_handshakes_refused()),
        "state",
        state,
        "problem",
        problem,
        "waits",
        waits,
        "hosts_waiting",
        STAT("%d", nwaits),
        "peers",
        peers_ok ? peers.p : "[]",
        NULL,
        NULL,
    };
#undef STAT
    if (frontier_write_stats(&b->fr, kv) < 0) broker_redis_failed(b, "stats");
    zc_buf_free(&peers);
    b->last = *c;
    b->last_stats_at = now;
}

/* How often the frontier's checked-out hosts are compared with the ones the broker
 * holds. A stray waits at most this long; the look costs one ZRANGE of the hosts
 * checked out (at most the window's worth) and a script only when it finds one. */
#define STRAY_SWEEP_MS 5000

static int holds_host(void *arg, const char *host) { return dispatch_host_holds(arg, host); }

/* A host checked out in Redis whose URLs the broker does not hold (a lease whose
 * host it could not keep in memory) would never be leased again, and the crawl
 * never end: it goes back to ready. */
static void sweep_strays(broker *b, int64_t now, int64_t wall) {
    if (!b->next_sweep) b->next_sweep = now + STRAY_SWEEP_MS; /* a starting broker recovered every host */
    if (now < b->next_sweep) return;
    b->next_sweep = now + STRAY_SWEEP_MS;
    long n = frontier_release_strays(&b->fr, wall, holds_host, &b->d);
    if (n < 0) broker_redis_failed(b, "strays");
    else if (n > 0) zc_warn("hosts_strayed", "count=%ld effect=\"checked out but held by nobody: handed back\"", n);
}

int broker_maintain(broker *b, int64_t now) {
    int64_t wall = zc_wall_ms();
    if (frontier_maintain(&b->fr, wall, (int)b->conf->max_retries) < 0) {
        broker_redis_failed(b, "maintain");
        return 0;
    }
    drop_lapsed(b, wall);
    renew_leases(b, wall);
    sweep_strays(b, now, wall);
    broker_guard_tick(b, now);
    if (broker_flush_count(b, "fetched", &b->fetched_unflushed) != 0) return 0;
    frontier_counts c;
    if (frontier_read_counts(&b->fr, &c) < 0) {
        broker_redis_failed(b, "counts");
        return 0;
    }
    b->open_leases = c.leased;
    int idle = c.queued == 0 && c.leased == 0 && c.delayed == 0 && c.seeds == 0 &&
               dispatch_nitems(&b->d) == 0;
    /* Zero counts end a batch crawl only if they are its own: meta read again after
     * them (Redis emptied between the check that began this maintenance, in
     * main.c, and the counts reads as idle). */
    if (idle && b->batch && broker_check_meta(b) != 0) return 0;
    if (now >= b->next_stats || (idle && b->batch)) {
        broker_write_stats(b, &c, now, idle ? (b->batch ? "done" : "idle") : "running");
        b->next_stats = now + b->conf->stats_ms;
    }
    return idle && b->batch;
}

void broker_release(broker *b) {
    size_t n = 0;
    dispatch_item *it;
    while ((it = dispatch_any_parked(&b->d)) != NULL) {
        if (!frontier_broken(&b->fr) && frontier_requeue(&b->fr, it->url, -1) > 0) n++; /* never went out */
        dispatch_drop(&b->d, it);
    }
    if (n) zc_info("released", "requeued=%zu", n);
    if (b->fetched_unflushed && !frontier_broken(&b->fr) &&
        frontier_count(&b->fr, "fetched", b->fetched_unflushed) == 0)
        b->fetched_unflushed = 0;
}
