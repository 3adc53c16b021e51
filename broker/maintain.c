/* maintain.c -- the broker's periodic work: Redis reconnects, heartbeats and peer
 * expiry (Paranoid Pirate), lease renewal, expired leases and due retries, the
 * stats hash, and noticing that a batch crawl is complete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "guard.h"
#include "zc_log.h"
#include "zc_time.h"

void broker_redis_failed(broker *b, const char *what) {
    zc_warn("redis_error", "op=%s reason=\"%s\"", what, b->fr.err);
    if (frontier_broken(&b->fr) && b->next_redis_try == 0) {
        b->redis_backoff = 100;
        b->next_redis_try = zc_now_ms() + b->redis_backoff;
    }
}

int broker_redis_ok(broker *b, int64_t now) {
    if (!frontier_broken(&b->fr)) return 1;
    if (b->next_redis_try == 0) b->next_redis_try = now;
    if (now < b->next_redis_try) return 0;
    if (frontier_reconnect(&b->fr) == 0) {
        zc_info("redis_reconnected", "host=%s port=%d", b->fr.addr.host, b->fr.addr.port);
        b->next_redis_try = 0;
        b->redis_backoff = 100;
        return 1;
    }
    b->redis_backoff = b->redis_backoff * 2 > 5000 ? 5000 : b->redis_backoff * 2;
    b->next_redis_try = now + b->redis_backoff;
    zc_warn("redis_unreachable", "reason=\"%s\" retry_in_ms=%lld", b->fr.err, (long long)b->redis_backoff);
    return 0;
}

/* Forgets a peer; every JOB it held goes back to the head of the frontier. */
static void expire_peer(broker *b, int peer) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    size_t held = p->held.n, requeued = 0;
    dispatch_item *it;
    while ((it = dispatch_first_held(&b->d, peer)) != NULL) {
        dispatch_answered(&b->d, it, 0);
        if (!frontier_broken(&b->fr)) {
            int rc = frontier_requeue(&b->fr, it->url);
            if (rc < 0) broker_redis_failed(b, "requeue");
            else requeued += (size_t)rc;
        }
        dispatch_drop(&b->d, it);
    }
    zc_warn("peer_expired", "name=%s held=%zu requeued=%zu", p->name, held, requeued);
    dispatch_peer_forget(&b->d, peer);
}

void broker_heartbeat(broker *b, int64_t now) {
    int64_t dead_after = 3 * b->conf->heartbeat_ms;
    for (size_t i = 0; i < dispatch_peer_slots(&b->d); i++) {
        dispatch_peer *p = dispatch_peer_at(&b->d, (int)i);
        if (!p) continue;
        if (now - p->last_seen > dead_after) expire_peer(b, (int)i);
        else broker_send(b, (int)i, ZC_MSG_HEARTBEAT, NULL, 0);
    }
}

/* Renews the leases of every URL the broker still holds that would expire within
 * half a lease: parked ones and those out at live fetchers. */
static void renew_leases(broker *b, int64_t wall) {
    size_t cap = dispatch_nitems(&b->d);
    if (cap == 0) return;
    char **urls = malloc(cap * sizeof(*urls));
    dispatch_item **items = malloc(cap * sizeof(*items));
    if (!urls || !items) goto out;
    size_t n = dispatch_expiring(&b->d, wall + b->conf->lease_ms / 2, NULL, NULL, items, cap);
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

static const char *role_name(dispatch_role r) {
    return r == DISPATCH_FETCHER ? "fetcher" : r == DISPATCH_PARSER ? "parser" : r == DISPATCH_WRITER ? "writer" : "stage";
}

/* Appends one problem to buf (used bytes in *off); stops quietly when full. */
static void problem_add(char *buf, size_t len, size_t *off, const char *what, int64_t since, int64_t wall) {
    if (*off >= len) return;
    int n = snprintf(buf + *off, len - *off, "%s%s (%lld s)", *off ? "; " : "", what,
                     (long long)((wall - since) / 1000));
    *off = n < 0 ? *off : (size_t)n >= len - *off ? len : *off + (size_t)n;
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
        snprintf(what, sizeof(what), "%s %s %s: %s", role_name(p->role), p->name, p->cond, p->detail);
        problem_add(buf, len, &off, what, p->cond_since, wall);
    }
}

void broker_write_stats(broker *b, const frontier_counts *c, int64_t now, const char *state) {
    double secs = b->last_stats_at ? (double)(now - b->last_stats_at) / 1000.0 : 0;
    char v[16][32], problem[512];
    int i = 0;
    broker_problem(b, problem, sizeof(problem));
#define STAT(fmt, val) (snprintf(v[i], sizeof(v[i]), fmt, val), v[i++])
    const char *kv[] = {
        "queued", STAT("%lld", c->queued + c->delayed),
        "frontier", STAT("%lld", c->queued),
        "delayed", STAT("%lld", c->delayed),
        "leased", STAT("%lld", c->leased),
        "in_flight", STAT("%zu", dispatch_ninflight(&b->d)),
        "parked", STAT("%zu", dispatch_nparked(&b->d)),
        "fetchers", STAT("%d", dispatch_count_role(&b->d, DISPATCH_FETCHER)),
        "parsers", STAT("%d", dispatch_count_role(&b->d, DISPATCH_PARSER)),
        "writers", STAT("%d", dispatch_count_role(&b->d, DISPATCH_WRITER)),
        "fetched_per_s", STAT("%.1f", secs > 0 ? (double)(c->fetched - b->last.fetched) / secs : 0.0),
        "written_per_s", STAT("%.1f", secs > 0 ? (double)(c->written - b->last.written) / secs : 0.0),
        "updated_at", STAT("%lld", (long long)zc_wall_ms()),
        "started_at", STAT("%lld", (long long)b->started_wall),
        "bad_messages", STAT("%lld", b->bad_messages),
        "state", state,
        "problem", problem,
        NULL, NULL,
    };
#undef STAT
    if (frontier_write_stats(&b->fr, kv) < 0) broker_redis_failed(b, "stats");
    b->last = *c;
    b->last_stats_at = now;
}

int broker_maintain(broker *b, int64_t now) {
    int64_t wall = zc_wall_ms();
    if (frontier_maintain(&b->fr, wall) < 0) { broker_redis_failed(b, "maintain"); return 0; }
    renew_leases(b, wall);
    broker_guard_tick(b, now);
    if (b->fetched_unflushed) {
        if (frontier_count(&b->fr, "fetched", b->fetched_unflushed) < 0) { broker_redis_failed(b, "count"); return 0; }
        b->fetched_unflushed = 0;
    }
    frontier_counts c;
    if (frontier_read_counts(&b->fr, &c) < 0) { broker_redis_failed(b, "counts"); return 0; }
    int idle = c.queued == 0 && c.leased == 0 && c.delayed == 0 && c.seeds == 0 &&
               dispatch_nitems(&b->d) == 0;
    if (now >= b->next_stats || (idle && b->batch)) {
        broker_write_stats(b, &c, now, idle ? (b->batch ? "done" : "idle") : "running");
        b->next_stats = now + b->conf->stats_ms;
    }
    if (idle && b->batch) {
        zc_info("crawl_complete", "crawl=%s fetched=%lld written=%lld parsed=%lld retried=%lld dead=%lld gone=%lld expired=%lld",
                b->fr.crawl, c.fetched, c.written, c.parsed, c.retried, c.dead, c.gone, c.expired);
        return 1;
    }
    return 0;
}

void broker_release(broker *b) {
    size_t n = 0;
    dispatch_item *it;
    while ((it = dispatch_any_parked(&b->d)) != NULL) {
        if (!frontier_broken(&b->fr) && frontier_requeue(&b->fr, it->url) > 0) n++;
        dispatch_drop(&b->d, it);
    }
    if (n) zc_info("released", "requeued=%zu", n);
    if (b->fetched_unflushed && !frontier_broken(&b->fr) &&
        frontier_count(&b->fr, "fetched", b->fetched_unflushed) == 0)
        b->fetched_unflushed = 0;
}
