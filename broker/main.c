/* main.c -- zcrawl-broker: owns the crawl's state in Redis, hands URLs to fetchers
 * under credit-based flow control and per-host caps, closes leases when outcomes
 * are durable, runs the two streamer devices, and ends a batch crawl. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zmq.h>

#include "dispatch.h"
#include "frontier.h"
#include "zc_buf.h"
#include "zc_curve.h"
#include "zc_flags.h"
#include "zc_log.h"
#include "zc_msg.h"
#include "zc_signal.h"
#include "zc_time.h"
#include "zc_url.h"

#define PROG "zcrawl-broker"
#define LEASE_BATCH 512
#define JOB_BATCH 256     /* URLs per JOB message at most */
#define MAINT_MS 200

typedef struct broker_conf {
    const char *redis, *crawl, *start, *mode, *log_level;
    const char *control, *pages_in, *pages_out, *docs_in, *docs_out;
    long max_per_host, lease_ms, max_retries, retry_base_ms, retry_max_ms, heartbeat_ms;
    long recover_ms, stats_ms, hwm;
    double rate;
} broker_conf;

/* One struct for the broker's lifetime. */
typedef struct broker {
    broker_conf *conf;
    void *ctx, *router;
    void *pull_pages, *push_pages, *pull_docs, *push_docs;
    pthread_t streamers[2];
    int nstreamers;
    frontier fr;
    dispatch d;
    int batch;
    int64_t started_wall;
    int64_t next_hb, next_maint, next_stats, next_redis_try, redis_backoff;
    long long fetched_unflushed;
    long long bad_messages;
    frontier_counts last;        /* for per-second rates */
    int64_t last_stats_at;
    int closed_leases;           /* this turn's messages closed leases */
    zc_buf job_urls, job_attempts; /* the JOB being built */
    int done;
} broker;

/* ---- streamer devices (zguide): PULL -> PUSH, one thread each ---- */

typedef struct streamer_arg { void *front, *back; const char *name; } streamer_arg;

static void *streamer_main(void *p) {
    streamer_arg *a = p;
    /* Returns when the context is shut down (ETERM). While the PUSH side is full,
     * zmq_proxy blocks in its send: a stalled parser costs nothing here. */
    zmq_proxy(a->front, a->back, NULL);
    zmq_close(a->front);
    zmq_close(a->back);
    free(a);
    return NULL;
}

static void *bind_socket(void *ctx, int type, const char *endpoint, long hwm, char *err, size_t errlen) {
    void *s = zmq_socket(ctx, type);
    if (!s) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int h = (int)hwm, linger = 1000;
    if (zmq_setsockopt(s, ZMQ_SNDHWM, &h, sizeof(h)) != 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &h, sizeof(h)) != 0 || zc_msg_limit(s) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) != 0) {
        snprintf(err, errlen, "zmq_setsockopt: %s", zmq_strerror(errno));
        goto err;
    }
    if (zc_curve_bind(ctx, s, endpoint, err, errlen) != 0) goto err;
    return s;
err:
    zmq_close(s);
    return NULL;
}

static int start_streamer(broker *b, void *front, void *back, const char *name, char *err, size_t errlen) {
    streamer_arg *a = malloc(sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->front = front;
    a->back = back;
    a->name = name;
    int rc = pthread_create(&b->streamers[b->nstreamers], NULL, streamer_main, a);
    if (rc != 0) {
        free(a);
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        return -1;
    }
    b->nstreamers++;
    return 0;
}

/* ---- Redis failures: log once, reconnect with doubling backoff ---- */

static void redis_failed(broker *b, const char *what) {
    zc_warn("redis_error", "op=%s reason=\"%s\"", what, b->fr.err);
    if (frontier_broken(&b->fr) && b->next_redis_try == 0) {
        b->redis_backoff = 100;
        b->next_redis_try = zc_now_ms() + b->redis_backoff;
    }
}

static int redis_ok(broker *b, int64_t now) {
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

/* ---- messages from stages ---- */

static void send_to_peer(broker *b, int peer, zc_msg_type type, const zc_frame *f, int n) {
    dispatch_peer *p = &b->d.peers[peer];
    zmq_msg_t id;
    if (zmq_msg_init_size(&id, p->idlen) != 0) return;
    memcpy(zmq_msg_data(&id), p->id, p->idlen);
    if (zc_msg_send(b->router, &id, type, f, n, ZMQ_DONTWAIT) != 0)
        zc_debug("send_failed", "type=%s reason=\"%s\"", zc_msg_type_name(type), zmq_strerror(errno));
    zmq_msg_close(&id);
}

/* Splits a '\n'-separated URL frame into a NULL-free array of pointers into buf. */
static size_t split_urls(char *buf, char ***out) {
    size_t n = 0, cap = 64;
    char **v = malloc(cap * sizeof(*v));
    if (!v) { *out = NULL; return 0; }
    char *save = NULL;
    for (char *u = strtok_r(buf, "\n", &save); u; u = strtok_r(NULL, "\n", &save)) {
        if (n == cap) {
            char **nv = realloc(v, cap * 2 * sizeof(*nv));
            if (!nv) break;
            v = nv;
            cap *= 2;
        }
        v[n++] = u;
    }
    *out = v;
    return n;
}

static char *frame_dup(const zc_msg *m, int i) {
    size_t len;
    const char *d = zc_msg_data(m, i, &len);
    if (memchr(d, '\0', len)) return NULL;
    return strndup(d, len);
}

static void bad_message(broker *b, const char *why) {
    b->bad_messages++;
    zc_warn("bad_message", "reason=\"%s\" dropped=%lld", why, b->bad_messages);
}

static void on_hello(broker *b, int peer, const zc_msg *m) {
    char role[16], name[64];
    uint64_t credit;
    if (zc_msg_str(m, 0, role, sizeof(role)) != 0 || zc_msg_str(m, 1, name, sizeof(name)) != 0 ||
        zc_msg_u64(m, 2, &credit) != 0 || credit > 1000000) {
        bad_message(b, "HELLO with bad role, name or credit");
        return;
    }
    dispatch_peer *p = &b->d.peers[peer];
    if (!strcmp(role, "fetcher")) p->role = DISPATCH_FETCHER;
    else if (!strcmp(role, "parser")) p->role = DISPATCH_PARSER;
    else if (!strcmp(role, "writer")) p->role = DISPATCH_WRITER;
    else {
        bad_message(b, "HELLO with unknown role");
        return;
    }
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->credit = (long)credit;
    zc_info("peer_joined", "role=%s name=%s credit=%ld", role, name, p->credit);
    if (b->done) send_to_peer(b, peer, ZC_MSG_SHUTDOWN, NULL, 0);
}

/* Frees the fetch slot url held. Returns 1, or 0 when url is not out at a fetcher
 * (requeued after its fetcher expired, or a broker restart): the lease in Redis
 * then decides what happens to it. */
static int release_slot(broker *b, const char *url, int throttled) {
    dispatch_item *it = dispatch_find(&b->d, url);
    if (!it || it->peer < 0) return 0;
    dispatch_answered(&b->d, it, throttled);
    dispatch_drop(&b->d, it);
    return 1;
}

/* One URL's outcome. */
static void on_done_url(broker *b, const char *url, const char *outcome, uint64_t status, uint64_t retry_after,
                        const char *reason) {
    if (!release_slot(b, url, status == 429 || status == 503)) {
        zc_debug("done_unknown", "url=%s outcome=%s", url, outcome);
        return;
    }
    int64_t wall = zc_wall_ms();
    if (!strcmp(outcome, "ok")) {
        b->fetched_unflushed++;
    } else if (!strcmp(outcome, "retry")) {
        int rc = frontier_retry(&b->fr, url, (int64_t)retry_after, b->conf->retry_base_ms,
                                b->conf->retry_max_ms, (int)b->conf->max_retries, reason, wall);
        if (rc < 0 && rc != -2) redis_failed(b, "retry");
        else if (rc == -2) zc_warn("dead_letter", "url=%s stage=fetch reason=\"%s\"", url, reason);
        else zc_debug("retry", "url=%s attempt=%d status=%llu reason=\"%s\"", url, rc,
                      (unsigned long long)status, reason);
    } else if (!strcmp(outcome, "fail") && (status == 404 || status == 410)) {
        if (frontier_gone(&b->fr, url, (int)status, wall) < 0) redis_failed(b, "gone");
        else zc_debug("gone", "url=%s status=%llu", url, (unsigned long long)status);
    } else if (!strcmp(outcome, "fail")) {
        if (frontier_dead(&b->fr, url, "fetch", reason, wall) < 0) redis_failed(b, "dead");
        else zc_warn("dead_letter", "url=%s stage=fetch status=%llu reason=\"%s\"", url,
                     (unsigned long long)status, reason);
    }
}

/* DONE: one URL, or several separated by '\n' that share the outcome (fetchers
 * batch their ok answers). */
static void on_done(broker *b, const zc_msg *m) {
    char outcome[8], reason[256];
    uint64_t status, retry_after;
    char *urls = frame_dup(m, 0);
    if (!urls || zc_msg_str(m, 1, outcome, sizeof(outcome)) != 0 || zc_msg_u64(m, 2, &status) != 0 ||
        zc_msg_u64(m, 3, &retry_after) != 0) {
        free(urls);
        bad_message(b, "DONE with bad fields");
        return;
    }
    if (zc_msg_str(m, 4, reason, sizeof(reason)) != 0) snprintf(reason, sizeof(reason), "(unreadable)");
    char *save = NULL;
    for (char *u = strtok_r(urls, "\n", &save); u; u = strtok_r(NULL, "\n", &save))
        on_done_url(b, u, outcome, status, retry_after, reason);
    free(urls);
    /* The slots are free again either way; an unknown outcome leaves the leases to expire. */
    if (strcmp(outcome, "ok") && strcmp(outcome, "retry") && strcmp(outcome, "fail"))
        bad_message(b, "DONE with unknown outcome");
}

static void on_discovered(broker *b, const zc_msg *m) {
    char *parent = frame_dup(m, 0), *list = frame_dup(m, 1);
    if (!parent || !list) {
        bad_message(b, "DISCOVERED with a NUL byte");
        goto out;
    }
    char **urls;
    size_t n = split_urls(list, &urls), bad = 0;
    long added = frontier_discover(&b->fr, parent, urls, n, zc_wall_ms(), &bad);
    free(urls);
    if (added < 0) redis_failed(b, "discover");
    else zc_debug("discovered", "parent=%s urls=%zu new=%ld bad=%zu", parent, n, added, bad);
    if (bad) zc_warn("bad_urls", "parent=%s count=%zu", parent, bad);
out:
    free(parent);
    free(list);
}

static void on_written(broker *b, const zc_msg *m) {
    char *list = frame_dup(m, 0);
    if (!list) {
        bad_message(b, "WRITTEN with a NUL byte");
        return;
    }
    char **urls;
    size_t n = split_urls(list, &urls);
    if (frontier_written(&b->fr, urls, n) < 0) redis_failed(b, "written");
    free(urls);
    free(list);
}

static void on_dead(broker *b, const zc_msg *m) {
    char *url = frame_dup(m, 0), *stage = frame_dup(m, 1), *reason = frame_dup(m, 2);
    if (!url || !stage || !reason || strlen(stage) > 32) {
        bad_message(b, "DEAD with bad fields");
    } else if (frontier_dead(&b->fr, url, stage, reason, zc_wall_ms()) < 0) {
        redis_failed(b, "dead");
    } else {
        zc_warn("dead_letter", "url=%s stage=%s reason=\"%.200s\"", url, stage, reason);
    }
    free(url);
    free(stage);
    free(reason);
}

static void on_message(broker *b, zc_msg *m, int64_t now) {
    const void *id = zmq_msg_data(&m->identity);
    size_t idlen = zmq_msg_size(&m->identity);
    int peer = dispatch_peer_get(&b->d, id, idlen, m->type == ZC_MSG_HELLO);
    if (peer >= 0) b->d.peers[peer].last_seen = now;
    int reports_need_redis = m->type == ZC_MSG_DONE || m->type == ZC_MSG_DISCOVERED ||
                             m->type == ZC_MSG_WRITTEN || m->type == ZC_MSG_DEAD;
    if (reports_need_redis && frontier_broken(&b->fr)) {
        /* Nothing durable can be recorded: the lease will expire and the URL
         * comes back, so dropping the report loses nothing. */
        zc_debug("report_dropped", "type=%s reason=redis_down", zc_msg_type_name(m->type));
        if (m->type == ZC_MSG_DONE) { /* the fetch slots are free all the same */
            char *urls = frame_dup(m, 0), *save = NULL;
            for (char *u = urls ? strtok_r(urls, "\n", &save) : NULL; u; u = strtok_r(NULL, "\n", &save))
                release_slot(b, u, 0);
            free(urls);
        }
        return;
    }
    switch (m->type) {
    case ZC_MSG_HELLO: on_hello(b, peer, m); break;
    case ZC_MSG_HEARTBEAT: break;
    case ZC_MSG_CREDIT: {
        uint64_t n;
        if (peer < 0) break; /* unknown peer: it will time out and say HELLO again */
        if (zc_msg_u64(m, 0, &n) != 0 || n > 1000000) bad_message(b, "CREDIT with a bad number");
        else if (b->d.peers[peer].role == DISPATCH_FETCHER) b->d.peers[peer].credit += (long)n;
        break;
    }
    case ZC_MSG_DONE: on_done(b, m); break;
    case ZC_MSG_DISCOVERED: on_discovered(b, m); b->closed_leases = 1; break;
    case ZC_MSG_WRITTEN: on_written(b, m); b->closed_leases = 1; break;
    case ZC_MSG_DEAD: on_dead(b, m); b->closed_leases = 1; break;
    default: bad_message(b, "message type not for the broker"); break;
    }
}

/* ---- periodic work ---- */

static void heartbeat_and_expire(broker *b, int64_t now) {
    int64_t dead_after = 3 * b->conf->heartbeat_ms;
    for (size_t i = 0; i < b->d.npeers; i++) {
        dispatch_peer *p = &b->d.peers[i];
        if (!p->used) continue;
        if (now - p->last_seen > dead_after) {
            size_t held = p->held.n, requeued = 0;
            while (p->held.head) {
                dispatch_item *it = p->held.head;
                dispatch_answered(&b->d, it, 0);
                if (!frontier_broken(&b->fr)) {
                    int rc = frontier_requeue(&b->fr, it->url);
                    if (rc < 0) redis_failed(b, "requeue");
                    else requeued += (size_t)rc;
                }
                dispatch_drop(&b->d, it);
            }
            zc_warn("peer_expired", "name=%s held=%zu requeued=%zu", p->name, held, requeued);
            dispatch_peer_forget(&b->d, (int)i);
            continue;
        }
        send_to_peer(b, (int)i, ZC_MSG_HEARTBEAT, NULL, 0);
    }
}

/* Renews the leases of every URL the broker still holds that would expire within
 * half a lease: parked ones and those out at live fetchers. */
static void renew_leases(broker *b, int64_t wall) {
    size_t cap = b->d.nitems, n = 0;
    if (cap == 0) return;
    char **urls = malloc(cap * sizeof(*urls));
    dispatch_item **items = malloc(cap * sizeof(*items));
    if (!urls || !items) goto out;
    int64_t horizon = wall + b->conf->lease_ms / 2;
    for (size_t bk = 0; bk < b->d.nbuckets; bk++)
        for (dispatch_item *it = b->d.buckets[bk]; it; it = it->hnext)
            if (it->deadline < horizon && n < cap) {
                items[n] = it;
                urls[n++] = it->url;
            }
    if (n == 0) goto out;
    int64_t deadline = wall + b->conf->lease_ms;
    if (frontier_renew(&b->fr, urls, n, deadline) < 0) redis_failed(b, "renew");
    else
        for (size_t i = 0; i < n; i++) items[i]->deadline = deadline;
out:
    free(urls);
    free(items);
}

/* Sends items[0..n), just dispatched, as one JOB per fetcher: URLs and attempts
 * each as one '\n'-separated frame. items[] is reordered. */
static void send_jobs(broker *b, dispatch_item **items, size_t n) {
    while (n > 0) {
        int peer = items[0]->peer;
        size_t k = 0; /* this peer's items to the front: items[0..k) */
        for (size_t i = 0; i < n; i++)
            if (items[i]->peer == peer) {
                dispatch_item *t = items[k];
                items[k++] = items[i];
                items[i] = t;
            }
        char attempt[16];
        int oom = 0;
        b->job_urls.len = b->job_attempts.len = 0;
        for (size_t i = 0; i < k && !oom; i++) {
            int len = snprintf(attempt, sizeof(attempt), "%d", items[i]->attempt);
            oom = zc_buf_add(&b->job_urls, items[i]->url, strlen(items[i]->url), '\n') != 0 ||
                  zc_buf_add(&b->job_attempts, attempt, (size_t)len, '\n') != 0;
        }
        if (!oom) {
            zc_frame f[2] = { { b->job_urls.p, b->job_urls.len, NULL, NULL },
                              { b->job_attempts.p, b->job_attempts.len, NULL, NULL } };
            send_to_peer(b, peer, ZC_MSG_JOB, f, 2);
        } else { /* no memory for a batch: one JOB each, which the protocol allows too */
            for (size_t i = 0; i < k; i++) {
                snprintf(attempt, sizeof(attempt), "%d", items[i]->attempt);
                zc_frame f[2] = { ZC_FSTR(items[i]->url), ZC_FSTR(attempt) };
                send_to_peer(b, peer, ZC_MSG_JOB, f, 2);
            }
        }
        items += k;
        n -= k;
    }
}

static void fill_and_dispatch(broker *b, int64_t now) {
    if (b->done) return;
    long credit = dispatch_total_credit(&b->d);
    if (credit > 0 && (long)b->d.nparked < credit && !frontier_broken(&b->fr)) {
        long want = credit - (long)b->d.nparked;
        if (want > LEASE_BATCH) want = LEASE_BATCH;
        frontier_lease leases[LEASE_BATCH];
        int64_t wall = zc_wall_ms();
        long got = frontier_lease_batch(&b->fr, leases, (size_t)want, wall, b->conf->lease_ms);
        if (got < 0) redis_failed(b, "lease");
        for (long i = 0; i < got; i++) {
            int bad = 0;
            if (!dispatch_park(&b->d, leases[i].url, leases[i].attempt, wall + b->conf->lease_ms, &bad)) {
                if (bad) {
                    if (frontier_dead(&b->fr, leases[i].url, "broker", "not an http(s) URL", wall) < 0)
                        redis_failed(b, "dead");
                } else if (frontier_requeue(&b->fr, leases[i].url) < 0) {
                    redis_failed(b, "requeue");
                }
            }
            free(leases[i].url);
        }
    }
    dispatch_item *batch[JOB_BATCH], *it;
    size_t n = 0;
    while ((it = dispatch_next(&b->d, now)) != NULL) {
        batch[n++] = it;
        if (n == JOB_BATCH) {
            send_jobs(b, batch, n);
            n = 0;
        }
    }
    send_jobs(b, batch, n);
}

static void write_stats(broker *b, const frontier_counts *c, int64_t now, const char *state) {
    double secs = b->last_stats_at ? (double)(now - b->last_stats_at) / 1000.0 : 0;
    char v[16][32];
    int i = 0;
#define STAT(fmt, val) (snprintf(v[i], sizeof(v[i]), fmt, val), v[i++])
    const char *kv[] = {
        "queued", STAT("%lld", c->queued + c->delayed),
        "frontier", STAT("%lld", c->queued),
        "delayed", STAT("%lld", c->delayed),
        "leased", STAT("%lld", c->leased),
        "in_flight", STAT("%zu", b->d.ninflight),
        "parked", STAT("%zu", b->d.nparked),
        "fetchers", STAT("%d", dispatch_count_role(&b->d, DISPATCH_FETCHER)),
        "parsers", STAT("%d", dispatch_count_role(&b->d, DISPATCH_PARSER)),
        "writers", STAT("%d", dispatch_count_role(&b->d, DISPATCH_WRITER)),
        "fetched_per_s", STAT("%.1f", secs > 0 ? (double)(c->fetched - b->last.fetched) / secs : 0.0),
        "written_per_s", STAT("%.1f", secs > 0 ? (double)(c->written - b->last.written) / secs : 0.0),
        "updated_at", STAT("%lld", (long long)zc_wall_ms()),
        "started_at", STAT("%lld", (long long)b->started_wall),
        "bad_messages", STAT("%lld", b->bad_messages),
        "auth_refused", STAT("%llu", (unsigned long long)zc_curve_refused()),
        "state", state,
        NULL, NULL,
    };
#undef STAT
    if (frontier_write_stats(&b->fr, kv) < 0) redis_failed(b, "stats");
    b->last = *c;
    b->last_stats_at = now;
}

/* Returns 1 when the crawl is complete: nothing waits, nothing is leased. */
static int maintain(broker *b, int64_t now) {
    int64_t wall = zc_wall_ms();
    if (frontier_maintain(&b->fr, wall) < 0) { redis_failed(b, "maintain"); return 0; }
    renew_leases(b, wall);
    if (b->fetched_unflushed) {
        if (frontier_count(&b->fr, "fetched", b->fetched_unflushed) < 0) { redis_failed(b, "count"); return 0; }
        b->fetched_unflushed = 0;
    }
    frontier_counts c;
    if (frontier_read_counts(&b->fr, &c) < 0) { redis_failed(b, "counts"); return 0; }
    int idle = c.queued == 0 && c.leased == 0 && c.delayed == 0 && c.seeds == 0 &&
               b->d.nitems == 0;
    if (now >= b->next_stats || (idle && b->batch)) {
        write_stats(b, &c, now, idle ? (b->batch ? "done" : "idle") : "running");
        b->next_stats = now + b->conf->stats_ms;
    }
    if (idle && b->batch) {
        zc_info("crawl_complete", "crawl=%s fetched=%lld written=%lld parsed=%lld retried=%lld dead=%lld gone=%lld expired=%lld",
                b->fr.crawl, c.fetched, c.written, c.parsed, c.retried, c.dead, c.gone, c.expired);
        return 1;
    }
    return 0;
}

/* ---- setup ---- */

/* Checks a start URL before anything starts. Returns -1 after a one-line message
 * on stderr when it is not an absolute http(s) URL zcrawl can crawl. */
static int check_start(const char *url) {
    char why[128];
    if (zc_url_check(url, strlen(url), why, sizeof(why)) != 0) {
        fprintf(stderr, "%s: error: bad start URL '%s': %s\n", PROG, url, why);
        return -1;
    }
    return 0;
}

/* Seeds the start URLs (checked already by check_start) in one Redis call.
 * Fails with a one-line message on stderr. */
static int seed(broker *b, char *const *urls, size_t n) {
    long added = frontier_discover(&b->fr, NULL, urls, n, zc_wall_ms(), NULL);
    if (added < 0) {
        fprintf(stderr, "%s: error: cannot seed: %s\n", PROG, b->fr.err);
        return -1;
    }
    if (n == 1) zc_info("seeded", "crawl=%s url=%s new=%ld", b->fr.crawl, urls[0], added);
    else zc_info("seeded", "crawl=%s urls=%zu new=%ld", b->fr.crawl, n, added);
    return 0;
}

/* Seeds --start (when given) and every START_URL argument together. */
static int seed_all(broker *b, const char *start, char *const *args, size_t nargs) {
    int has_start = start && *start;
    size_t n = nargs + (has_start ? 1 : 0);
    if (n == 0) return 0;
    char **urls = malloc(n * sizeof(*urls));
    if (!urls) {
        fprintf(stderr, "%s: error: out of memory\n", PROG);
        return -1;
    }
    if (has_start) urls[0] = (char *)start;
    memcpy(urls + (has_start ? 1 : 0), args, nargs * sizeof(*urls));
    int rc = seed(b, urls, n);
    free(urls);
    return rc;
}

static void shutdown_stages(broker *b) {
    for (size_t i = 0; i < b->d.npeers; i++)
        if (b->d.peers[i].used) send_to_peer(b, (int)i, ZC_MSG_SHUTDOWN, NULL, 0);
}

/* On SIGTERM: parked URLs go straight back to the frontier instead of waiting
 * for their leases to expire. */
static void release_parked(broker *b) {
    size_t n = 0;
    for (size_t h = 0; h < b->d.nhosts; h++) {
        while (b->d.hosts[h].parked.head) {
            dispatch_item *it = b->d.hosts[h].parked.head;
            if (!frontier_broken(&b->fr) && frontier_requeue(&b->fr, it->url) > 0) n++;
            dispatch_drop(&b->d, it);
        }
    }
    if (n) zc_info("released", "requeued=%zu", n);
}

int main(int argc, char **argv) {
    broker_conf conf = {
        .redis = "redis://127.0.0.1:6379", .crawl = "default", .start = NULL, .mode = "batch",
        .log_level = "info",
        .control = "tcp://*:5555", .pages_in = "tcp://*:5556", .pages_out = "tcp://*:5557",
        .docs_in = "tcp://*:5558", .docs_out = "tcp://*:5559",
        .max_per_host = 8, .lease_ms = 30000, .max_retries = 5, .retry_base_ms = 500,
        .retry_max_ms = 30000, .heartbeat_ms = 1000, .recover_ms = 10000, .stats_ms = 1000,
        .hwm = 10000, .rate = 0,
    };
    const zc_flag flags[] = {
        { "redis", "ZCRAWL_REDIS", ZC_FLAG_STR, &conf.redis, "Redis URI redis://[:pass@]host:port[/db]", 0, 0 },
        { "crawl", "ZCRAWL_CRAWL", ZC_FLAG_STR, &conf.crawl, "crawl name: its keys are zcrawl:{<crawl>}:*", 0, 0 },
        { "start", "ZCRAWL_START_URL", ZC_FLAG_STR, &conf.start, "start URL (more can follow the flags as arguments)", 0, 0 },
        { "mode", "ZCRAWL_MODE", ZC_FLAG_STR, &conf.mode, "batch (exit when done) or service (wait for seeds)", 0, 0 },
        { "control", "ZCRAWL_CONTROL", ZC_FLAG_STR, &conf.control, "bind: ROUTER for every stage", 0, 0 },
        { "pages-in", "ZCRAWL_PAGES_IN", ZC_FLAG_STR, &conf.pages_in, "bind: PULL pages from fetchers", 0, 0 },
        { "pages-out", "ZCRAWL_PAGES_OUT", ZC_FLAG_STR, &conf.pages_out, "bind: PUSH pages to parsers", 0, 0 },
        { "docs-in", "ZCRAWL_DOCS_IN", ZC_FLAG_STR, &conf.docs_in, "bind: PULL documents from parsers", 0, 0 },
        { "docs-out", "ZCRAWL_DOCS_OUT", ZC_FLAG_STR, &conf.docs_out, "bind: PUSH documents to writers", 0, 0 },
        { "max-per-host", "ZCRAWL_MAX_PER_HOST", ZC_FLAG_INT, &conf.max_per_host, "requests in flight per host, all fetchers together", 1, 100000 },
        { "rate", "ZCRAWL_RATE", ZC_FLAG_DOUBLE, &conf.rate, "requests per second per host (0: no limit)", 0, 1e6 },
        { "lease-ms", "ZCRAWL_LEASE_MS", ZC_FLAG_INT, &conf.lease_ms, "lease of a handed-out URL before it comes back", 500, 86400000 },
        { "recover-ms", "ZCRAWL_RECOVER_MS", ZC_FLAG_INT, &conf.recover_ms, "at start, leases of a previous broker end within this", 0, 86400000 },
        { "max-retries", "ZCRAWL_MAX_RETRIES", ZC_FLAG_INT, &conf.max_retries, "transient failures before a dead letter", 0, 1000 },
        { "retry-base-ms", "ZCRAWL_RETRY_BASE_MS", ZC_FLAG_INT, &conf.retry_base_ms, "first retry delay (doubles, with jitter)", 1, 3600000 },
        { "retry-max-ms", "ZCRAWL_RETRY_MAX_MS", ZC_FLAG_INT, &conf.retry_max_ms, "longest retry delay", 1, 86400000 },
        { "heartbeat-ms", "ZCRAWL_HEARTBEAT_MS", ZC_FLAG_INT, &conf.heartbeat_ms, "heartbeat interval; peers expire after 3", 50, 60000 },
        { "stats-ms", "ZCRAWL_STATS_MS", ZC_FLAG_INT, &conf.stats_ms, "how often the stats hash is written", 100, 60000 },
        { "hwm", "ZCRAWL_HWM", ZC_FLAG_INT, &conf.hwm, "ZeroMQ high-water mark of the streamers", 10, 10000000 },
        { "log-level", "ZCRAWL_LOG_LEVEL", ZC_FLAG_STR, &conf.log_level, "debug, info, warn or error", 0, 0 },
        ZC_CURVE_FLAGS,
        ZC_FLAGS_END,
    };
    int npos = 0;
    zc_flags_parse_or_exit(flags, argc, argv, &npos, PROG, "[flags] [START_URL...]",
                           "The broker of a zcrawl crawl: state in Redis, work to fetchers, pages and\n"
                           "documents through its streamers, SHUTDOWN to every stage when a batch crawl ends.");
    if (conf.start && *conf.start && check_start(conf.start) != 0) return 2;
    for (int i = 1; i <= npos; i++)
        if (check_start(argv[i]) != 0) return 2;
    zc_log_level lvl;
    if (zc_log_parse_level(conf.log_level, &lvl) != 0) {
        fprintf(stderr, "%s: error: bad --log-level '%s'\n", PROG, conf.log_level);
        return 2;
    }
    if (strcmp(conf.mode, "batch") && strcmp(conf.mode, "service")) {
        fprintf(stderr, "%s: error: --mode must be batch or service, not '%s'\n", PROG, conf.mode);
        return 2;
    }
    zc_log_init("broker", lvl);
    zc_rand_seed(0);
    if (zc_signal_install() != 0) {
        fprintf(stderr, "%s: error: cannot install signal handlers\n", PROG);
        return 1;
    }

    broker b;
    memset(&b, 0, sizeof(b));
    b.conf = &conf;
    b.batch = !strcmp(conf.mode, "batch");
    b.started_wall = zc_wall_ms();
    char err[512];
    int rc = 1;
    if (dispatch_init(&b.d, (int)conf.max_per_host, conf.rate) != 0) {
        fprintf(stderr, "%s: error: out of memory\n", PROG);
        return 1;
    }
    if (frontier_open(&b.fr, conf.redis, conf.crawl, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: error: %s\n", PROG, err);
        dispatch_free(&b.d);
        return 1;
    }
    const char *eps[] = { conf.control, conf.pages_in, conf.pages_out, conf.docs_in, conf.docs_out, NULL };
    if (zc_curve_setup("broker", eps, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: error: %s\n", PROG, err);
        rc = 2;
        goto out_redis;
    }
    b.ctx = zmq_ctx_new();
    if (!b.ctx) {
        fprintf(stderr, "%s: error: zmq_ctx_new: %s\n", PROG, zmq_strerror(errno));
        goto out_redis;
    }
    b.router = bind_socket(b.ctx, ZMQ_ROUTER, conf.control, 100000, err, sizeof(err));
    if (!b.router) goto bind_err;
    b.pull_pages = bind_socket(b.ctx, ZMQ_PULL, conf.pages_in, conf.hwm, err, sizeof(err));
    if (!b.pull_pages) goto bind_err;
    b.push_pages = bind_socket(b.ctx, ZMQ_PUSH, conf.pages_out, conf.hwm, err, sizeof(err));
    if (!b.push_pages) goto bind_err;
    b.pull_docs = bind_socket(b.ctx, ZMQ_PULL, conf.docs_in, conf.hwm, err, sizeof(err));
    if (!b.pull_docs) goto bind_err;
    b.push_docs = bind_socket(b.ctx, ZMQ_PUSH, conf.docs_out, conf.hwm, err, sizeof(err));
    if (!b.push_docs) goto bind_err;
    if (start_streamer(&b, b.pull_pages, b.push_pages, "pages", err, sizeof(err)) != 0) goto bind_err;
    b.pull_pages = b.push_pages = NULL; /* the thread owns them now */
    if (start_streamer(&b, b.pull_docs, b.push_docs, "docs", err, sizeof(err)) != 0) goto bind_err;
    b.pull_docs = b.push_docs = NULL;
    /* Seed only once every endpoint is bound: a broker that cannot serve leaves
     * Redis as it found it. */
    if (seed_all(&b, conf.start, argv + 1, (size_t)npos) != 0) goto out_zmq;
    long clamped = frontier_clamp_leases(&b.fr, zc_wall_ms() + conf.recover_ms);
    if (clamped < 0) {
        fprintf(stderr, "%s: error: %s\n", PROG, b.fr.err);
        goto out_zmq;
    }
    if (clamped > 0) zc_info("recovering", "leases=%ld due_within_ms=%ld", clamped, conf.recover_ms);
    zc_info("started", "crawl=%s mode=%s control=%s max_per_host=%ld lease_ms=%ld", conf.crawl,
            conf.mode, conf.control, conf.max_per_host, conf.lease_ms);

    int64_t now = zc_now_ms();
    b.next_hb = now + conf.heartbeat_ms;
    b.next_maint = now;
    b.next_stats = now;
    while (!zc_signal_stop_requested()) {
        now = zc_now_ms();
        int64_t timeout = b.next_hb - now;
        if (b.next_maint - now < timeout) timeout = b.next_maint - now;
        int64_t rw = dispatch_rate_wait(&b.d, now);
        if (rw >= 0 && rw < timeout) timeout = rw;
        if (timeout < 0) timeout = 0;
        zmq_pollitem_t items[1] = { { b.router, 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll(items, 1, (long)timeout) < 0) {
            if (errno == EINTR) continue;
            zc_error("poll_failed", "reason=\"%s\"", zmq_strerror(errno));
            break;
        }
        now = zc_now_ms();
        for (int k = 0; k < 2000; k++) {
            zc_msg m;
            int r = zc_msg_recv(b.router, &m, ZMQ_DONTWAIT, 1, err, sizeof(err));
            if (r == -1) break;
            if (r == -2) { bad_message(&b, err); continue; }
            on_message(&b, &m, now);
            zc_msg_close(&m);
        }
        /* Leases closed while nothing is left in memory: the crawl may be complete,
         * so look now rather than at the next maintenance tick. */
        if (b.closed_leases && b.d.nitems == 0) b.next_maint = now;
        b.closed_leases = 0;
        if (!redis_ok(&b, now)) {
            if (now >= b.next_hb) {
                heartbeat_and_expire(&b, now);
                b.next_hb = now + conf.heartbeat_ms;
            }
            continue;
        }
        if (now >= b.next_hb) {
            heartbeat_and_expire(&b, now);
            b.next_hb = now + conf.heartbeat_ms;
        }
        if (now >= b.next_maint) {
            b.next_maint = now + MAINT_MS;
            if (maintain(&b, now)) {
                b.done = 1;
                break;
            }
        }
        fill_and_dispatch(&b, now);
    }
    if (b.done) {
        shutdown_stages(&b);
        rc = 0;
    } else {
        if (zc_signal_stop_requested()) {
            zc_info("stopping", "signal=%d", zc_signal_stop_requested());
            rc = 0;
        }
        release_parked(&b);
        if (b.fetched_unflushed && !frontier_broken(&b.fr))
            frontier_count(&b.fr, "fetched", b.fetched_unflushed);
        frontier_counts c;
        if (!frontier_broken(&b.fr) && frontier_read_counts(&b.fr, &c) == 0)
            write_stats(&b, &c, zc_now_ms(), "stopped");
    }
    goto out_zmq;

bind_err:
    fprintf(stderr, "%s: error: %s\n", PROG, err);
out_zmq:
    if (b.router) zmq_close(b.router);
    if (b.pull_pages) zmq_close(b.pull_pages);
    if (b.push_pages) zmq_close(b.push_pages);
    if (b.pull_docs) zmq_close(b.pull_docs);
    if (b.push_docs) zmq_close(b.push_docs);
    if (zmq_ctx_shutdown(b.ctx) != 0) zc_warn("ctx_shutdown_failed", "reason=\"%s\"", zmq_strerror(errno));
    for (int i = 0; i < b.nstreamers; i++) pthread_join(b.streamers[i], NULL);
    zmq_ctx_term(b.ctx);
out_redis:
    frontier_close(&b.fr);
    dispatch_free(&b.d);
    zc_buf_free(&b.job_urls);
    zc_buf_free(&b.job_attempts);
    return rc;
}
