/* control.c -- the broker's handlers for messages from stages on the ROUTER:
 * HELLO, HEARTBEAT, CREDIT, DONE, DISCOVERED, WRITTEN, DEAD, HOLD, STATUS. One small function
 * per message type; each checks its frames and drops what it cannot use.
 *
 * Nothing a stage sends counts before its HELLO, and each role sends only its own
 * reports (may_send): DONE and CREDIT from fetchers, and a DONE only for URLs out
 * at that fetcher; DISCOVERED from parsers; WRITTEN from writers; DEAD and HOLD
 * from parsers and writers. The Lua scripts that close leases ignore URLs that are
 * not leased. Refusals go through guard.c (logged, counted). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "broker.h"
#include "guard.h"
#include "zc_log.h"
#include "zc_time.h"

void broker_send(broker *b, int peer, zc_msg_type type, const zc_frame *f, int n) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p) return;
    zmq_msg_t id;
    if (zmq_msg_init_size(&id, p->idlen) != 0) return;
    memcpy(zmq_msg_data(&id), p->id, p->idlen);
    if (zc_msg_send(b->router, &id, type, f, n, ZMQ_DONTWAIT) != 0)
        zc_debug("send_failed", "type=%s reason=\"%s\"", zc_msg_type_name(type), zmq_strerror(errno));
    zmq_msg_close(&id);
}

void broker_shutdown_stages(broker *b) {
    for (size_t i = 0; i < dispatch_peer_slots(&b->d); i++)
        if (dispatch_peer_at(&b->d, (int)i)) broker_send(b, (int)i, ZC_MSG_SHUTDOWN, NULL, 0);
}

void broker_bad_message(broker *b, const char *why) {
    b->bad_messages++;
    zc_warn("bad_message", "reason=\"%s\" dropped=%lld", why, b->bad_messages);
}

/* Splits a '\n'-separated URL frame into an array of pointers into buf. Returns
 * the count; *out is NULL (and the count 0) when out of memory. */
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

/* Frame i as a malloc'd C string, or NULL when it holds a NUL byte or memory runs out. */
static char *frame_dup(const zc_msg *m, int i) {
    size_t len;
    const char *d = zc_msg_data(m, i, &len);
    if (memchr(d, '\0', len)) return NULL;
    return strndup(d, len);
}

/* 1 when a peer of role r may send type t. */
static int may_send(dispatch_role r, zc_msg_type t) {
    switch (t) {
    case ZC_MSG_CREDIT: case ZC_MSG_DONE: return r == DISPATCH_FETCHER;
    case ZC_MSG_DISCOVERED: return r == DISPATCH_PARSER;
    case ZC_MSG_WRITTEN: return r == DISPATCH_WRITER;
    case ZC_MSG_DEAD: case ZC_MSG_HOLD: return r == DISPATCH_PARSER || r == DISPATCH_WRITER;
    default: return r != DISPATCH_OTHER;
    }
}

/* A well-formed report counts only from a peer that said HELLO with a role that
 * sends it. Returns 1, or 0 after refusing it (logged, counted). A malformed
 * message is a bad message whoever sent it, so handlers parse first. */
static int admitted(broker *b, int peer, zc_msg_type t) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p || p->role == DISPATCH_OTHER) {
        broker_guard_refuse(b, GUARD_NO_HELLO, zc_msg_type_name(t), peer, "");
        return 0;
    }
    if (!may_send(p->role, t)) {
        broker_guard_refuse(b, GUARD_WRONG_ROLE, zc_msg_type_name(t), peer,
                            p->role == DISPATCH_FETCHER ? "from a fetcher" : p->role == DISPATCH_PARSER ? "from a parser" : "from a writer");
        return 0;
    }
    return 1;
}

static void on_hello(broker *b, int peer, const zc_msg *m) {
    char role[16], name[64];
    uint64_t credit;
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p) return; /* out of memory or an identity too long: it will say HELLO again */
    if (zc_msg_str(m, 0, role, sizeof(role)) != 0 || zc_msg_str(m, 1, name, sizeof(name)) != 0 ||
        zc_msg_u64(m, 2, &credit) != 0 || credit > 1000000) { /* --concurrency is at most 10000 */
        broker_bad_message(b, "HELLO with bad role, name or credit");
        return;
    }
    dispatch_role r = !strcmp(role, "fetcher") ? DISPATCH_FETCHER : !strcmp(role, "parser") ? DISPATCH_PARSER
                    : !strcmp(role, "writer") ? DISPATCH_WRITER : DISPATCH_OTHER;
    if (r == DISPATCH_OTHER) {
        broker_bad_message(b, "HELLO with unknown role");
        return;
    }
    if (p->role != DISPATCH_OTHER && p->role != r) {
        /* Its JOBs and reports were judged by the first role; one connection, one role. */
        broker_guard_refuse(b, GUARD_ROLE_CHANGE, "HELLO", peer, role);
        return;
    }
    p->role = r;
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->credit = r == DISPATCH_FETCHER ? broker_guard_credit(b, peer, credit) : 0;
    broker_guard_remember(b, peer);
    zc_info("peer_joined", "role=%s name=%s credit=%ld", role, name, p->credit);
    if (b->done) broker_send(b, peer, ZC_MSG_SHUTDOWN, NULL, 0);
}

static void on_credit(broker *b, int peer, const zc_msg *m) {
    uint64_t n;
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (zc_msg_u64(m, 0, &n) != 0) {
        broker_bad_message(b, "CREDIT with a bad number");
        return;
    }
    if (!admitted(b, peer, ZC_MSG_CREDIT)) return;
    if (n > 1000000000) n = 1000000000; /* the cap below clamps it further; no overflow */
    p->credit = broker_guard_credit(b, peer, (uint64_t)(p->credit > 0 ? p->credit : 0) + n);
}

/* Frees the fetch slot url held at peer. Returns 1, or 0 when url is not out at
 * that fetcher (another one's, requeued after its fetcher expired, or a broker
 * restart): the answer is then not this peer's to give. */
static int release_slot(broker *b, int peer, const char *url, int throttled) {
    dispatch_item *it = dispatch_find(&b->d, url);
    if (!it || it->peer < 0 || it->peer != peer) return 0;
    dispatch_answered(&b->d, it, throttled);
    dispatch_drop(&b->d, it);
    return 1;
}

static void on_done_retry(broker *b, const char *url, uint64_t status, uint64_t retry_after, const char *reason) {
    const broker_conf *c = b->conf;
    /* A site's Retry-After: 100000 must not park a URL for a day. */
    int64_t cap = c->max_retry_delay_ms;
    int64_t after = retry_after > (uint64_t)cap ? cap : (int64_t)retry_after;
    int64_t max = c->retry_max_ms > cap ? cap : c->retry_max_ms;
    int rc = frontier_retry(&b->fr, url, after, c->retry_base_ms < max ? c->retry_base_ms : max, max,
                            (int)c->max_retries, reason, zc_wall_ms());
    if (rc == -2) zc_warn("dead_letter", "url=%s stage=fetch reason=\"%s\"", url, reason);
    else if (rc < 0) broker_redis_failed(b, "retry");
    else zc_debug("retry", "url=%s attempt=%d status=%llu reason=\"%s\"", url, rc, (unsigned long long)status, reason);
}

/* DONE redirect: the fetcher stopped at a redirect to another origin (target).
 * Like a DISCOVERED of one URL: a target out of scope is dropped and counted,
 * one in scope queued unless seen; the lease closes either way. */
static void on_done_redirect(broker *b, int peer, const char *url, const char *target) {
    int in = target && broker_guard_in_scope(b, target);
    int r = frontier_redirect(&b->fr, url, in ? target : NULL);
    if (r == -2) broker_guard_refuse(b, GUARD_NOT_LEASED, "DONE", peer, url);
    else if (r < 0) broker_redis_failed(b, "redirect");
    else {
        if (!in) broker_guard_out_of_scope(b, 1);
        zc_info("redirected", "url=%s target_in_scope=%d queued=%d", url, in, r);
    }
}

/* One URL's outcome. */
static void on_done_url(broker *b, int peer, const char *url, const char *outcome, uint64_t status,
                        uint64_t retry_after, const char *reason, const zc_msg *m) {
    if (!release_slot(b, peer, url, status == 429 || status == 503)) {
        broker_guard_refuse(b, GUARD_NOT_HELD, "DONE", peer, url);
        return;
    }
    size_t blen;
    const char *body = zc_msg_data(m, 4, &blen);
    if (broker_guard_robots_done(b, url, outcome, status, body, blen)) return;
    int64_t wall = zc_wall_ms();
    if (!strcmp(outcome, "redirect")) {
        char *target = frame_dup(m, 4);
        on_done_redirect(b, peer, url, target);
        free(target);
    } else if (!strcmp(outcome, "ok")) {
        b->fetched_unflushed++;
    } else if (!strcmp(outcome, "retry")) {
        on_done_retry(b, url, status, retry_after, reason);
    } else if (!strcmp(outcome, "fail") && (status == 404 || status == 410)) {
        if (frontier_gone(&b->fr, url, (int)status, wall) < 0) broker_redis_failed(b, "gone");
        else zc_debug("gone", "url=%s status=%llu", url, (unsigned long long)status);
    } else if (!strcmp(outcome, "fail")) {
        if (frontier_dead(&b->fr, url, "fetch", reason, wall) < 0) broker_redis_failed(b, "dead");
        else zc_warn("dead_letter", "url=%s stage=fetch status=%llu reason=\"%s\"", url,
                     (unsigned long long)status, reason);
    }
}

/* DONE: one URL, or several separated by '\n' that share the outcome (fetchers
 * batch their ok answers). */
static void on_done(broker *b, int peer, const zc_msg *m) {
    char outcome[16], reason[256];
    uint64_t status, retry_after;
    char *urls = frame_dup(m, 0);
    if (!urls || zc_msg_str(m, 1, outcome, sizeof(outcome)) != 0 || zc_msg_u64(m, 2, &status) != 0 ||
        zc_msg_u64(m, 3, &retry_after) != 0) {
        free(urls);
        broker_bad_message(b, "DONE with bad fields");
        return;
    }
    if (!admitted(b, peer, ZC_MSG_DONE)) {
        free(urls);
        return;
    }
    if (zc_msg_str(m, 4, reason, sizeof(reason)) != 0) snprintf(reason, sizeof(reason), "(unreadable)");
    char *save = NULL;
    for (char *u = strtok_r(urls, "\n", &save); u; u = strtok_r(NULL, "\n", &save))
        on_done_url(b, peer, u, outcome, status, retry_after, reason, m);
    free(urls);
    /* The slots are free again either way; an unknown outcome leaves the leases to expire. */
    if (strcmp(outcome, "ok") && strcmp(outcome, "retry") && strcmp(outcome, "fail") &&
        strcmp(outcome, "redirect") && strcmp(outcome, "robots_txt"))
        broker_bad_message(b, "DONE with unknown outcome");
}

/* Redis is down: nothing durable can be recorded, so a report is dropped (its
 * lease will expire and the URL come back, which loses nothing). A DONE still
 * frees its fetch slots. */
static void drop_report(broker *b, int peer, const zc_msg *m) {
    zc_debug("report_dropped", "type=%s reason=redis_down", zc_msg_type_name(m->type));
    if (m->type != ZC_MSG_DONE) return;
    char *urls = frame_dup(m, 0), *save = NULL;
    for (char *u = urls ? strtok_r(urls, "\n", &save) : NULL; u; u = strtok_r(NULL, "\n", &save))
        release_slot(b, peer, u, 0);
    free(urls);
}

static void on_discovered(broker *b, int peer, const zc_msg *m) {
    char *parent = frame_dup(m, 0), *list = frame_dup(m, 1);
    if (!parent || !list) {
        broker_bad_message(b, "DISCOVERED with a NUL byte");
        goto out;
    }
    if (!admitted(b, peer, ZC_MSG_DISCOVERED)) goto out;
    char **urls;
    size_t n = split_urls(list, &urls), bad = 0, in = 0;
    for (size_t i = 0; i < n; i++) /* only URLs in scope go on */
        if (broker_guard_in_scope(b, urls[i])) urls[in++] = urls[i];
    long added = frontier_discover(&b->fr, parent, urls, in, zc_wall_ms(), &bad);
    free(urls);
    if (added == -2) broker_guard_refuse(b, GUARD_NOT_LEASED, "DISCOVERED", peer, parent);
    else if (added < 0) broker_redis_failed(b, "discover");
    else {
        zc_debug("discovered", "parent=%s urls=%zu new=%ld bad=%zu out_of_scope=%zu", parent, n, added, bad, n - in);
        if (n > in) broker_guard_out_of_scope(b, (long)(n - in));
    }
    if (bad) zc_warn("bad_urls", "parent=%s count=%zu", parent, bad);
out:
    free(parent);
    free(list);
}

static void on_written(broker *b, int peer, const zc_msg *m) {
    char *list = frame_dup(m, 0);
    if (!list) {
        broker_bad_message(b, "WRITTEN with a NUL byte");
        return;
    }
    if (!admitted(b, peer, ZC_MSG_WRITTEN)) {
        free(list);
        return;
    }
    char **urls;
    size_t n = split_urls(list, &urls);
    long closed = frontier_written(&b->fr, urls, n);
    if (closed < 0) broker_redis_failed(b, "written");
    else if ((size_t)closed < n) /* written twice (a redelivery) or never leased */
        for (size_t i = 0; i < n - (size_t)closed; i++)
            broker_guard_refuse(b, GUARD_NOT_LEASED, "WRITTEN", peer, n == 1 ? urls[0] : "(some of a batch)");
    free(urls);
    free(list);
}

static void on_dead(broker *b, int peer, const zc_msg *m) {
    char *url = frame_dup(m, 0), *stage = frame_dup(m, 1), *reason = frame_dup(m, 2);
    int r = 0;
    if (!url || !stage || !reason || strlen(stage) > 32) {
        broker_bad_message(b, "DEAD with bad fields");
    } else if (!admitted(b, peer, ZC_MSG_DEAD)) {
        /* refused */
    } else if ((r = frontier_dead(&b->fr, url, stage, reason, zc_wall_ms())) < 0) {
        broker_redis_failed(b, "dead");
    } else if (r == 0) {
        broker_guard_refuse(b, GUARD_NOT_LEASED, "DEAD", peer, url);
    } else {
        zc_warn("dead_letter", "url=%s stage=%s reason=\"%.200s\"", url, stage, reason);
    }
    free(url);
    free(stage);
    free(reason);
}

/* HOLD: a parser or writer still holds these URLs (received, alive, not yet
 * reported). Each one still leased gets now + lease_ms; the others (closed, or
 * expired and requeued) are ignored. A stage that was dropped for silence says
 * HELLO again before its HOLDs count. */
static void on_hold(broker *b, int peer, const zc_msg *m) {
    char *list = frame_dup(m, 0);
    if (!list) {
        broker_bad_message(b, "HOLD with a NUL byte");
        return;
    }
    if (!admitted(b, peer, ZC_MSG_HOLD)) {
        free(list);
        return;
    }
    char **urls;
    size_t n = split_urls(list, &urls);
    long held = frontier_hold(&b->fr, urls, n, zc_wall_ms() + b->conf->lease_ms);
    if (held < 0) broker_redis_failed(b, "hold");
    else zc_debug("hold", "urls=%zu extended=%ld", n, held);
    free(urls);
    free(list);
}

/* A STATUS condition is one word: letters, digits, '_' or '-'. */
static int cond_ok(const char *c) {
    if (!*c) return 0;
    for (; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            return 0;
    return 1;
}

/* STATUS: the stage's newest condition. A non-ok one is kept (with when it began)
 * until the stage says ok or is forgotten; maintain.c publishes it as problem. */
static void on_status(broker *b, int peer, const zc_msg *m) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    char cond[sizeof(p->cond)];
    size_t len;
    if (zc_msg_str(m, 0, cond, sizeof(cond)) != 0 || !cond_ok(cond)) {
        broker_bad_message(b, "STATUS with a bad condition");
        return;
    }
    if (!admitted(b, peer, ZC_MSG_STATUS)) return; /* no name to report under yet */
    if (!strcmp(cond, "ok")) {
        if (p->cond[0]) zc_info("peer_ok", "name=%s was=%s", p->name, p->cond);
        p->cond[0] = '\0';
        return;
    }
    const char *d = zc_msg_data(m, 1, &len);
    if (len >= sizeof(p->detail)) len = sizeof(p->detail) - 1;
    if (strcmp(cond, p->cond)) {
        p->cond_since = zc_wall_ms();
        zc_warn("peer_problem", "name=%s condition=%s detail=\"%.*s\"", p->name, cond, (int)len, d);
    }
    snprintf(p->cond, sizeof(p->cond), "%s", cond);
    for (size_t i = 0; i < len; i++) /* one line: control bytes become spaces */
        p->detail[i] = (unsigned char)d[i] < 0x20 || d[i] == 0x7f ? ' ' : d[i];
    p->detail[len] = '\0';
}

static int needs_redis(zc_msg_type t) {
    return t == ZC_MSG_DONE || t == ZC_MSG_DISCOVERED || t == ZC_MSG_WRITTEN || t == ZC_MSG_DEAD ||
           t == ZC_MSG_HOLD;
}

void broker_on_message(broker *b, zc_msg *m, int64_t now) {
    const void *id = zmq_msg_data(&m->identity);
    size_t idlen = zmq_msg_size(&m->identity);
    int peer = dispatch_peer_get(&b->d, id, idlen, m->type == ZC_MSG_HELLO);
    if (peer < 0 && m->type != ZC_MSG_HELLO) peer = broker_guard_recall(b, id, idlen);
    /* The connection it came over, so that its closing can be told apart. */
    broker_peer_seen(b, peer, zmq_msg_get(&m->identity, ZMQ_SRCFD), now);
    if (needs_redis(m->type) && frontier_broken(&b->fr)) {
        drop_report(b, peer, m);
        return;
    }
    switch (m->type) {
    case ZC_MSG_HELLO: on_hello(b, peer, m); break;
    case ZC_MSG_HEARTBEAT: break;
    case ZC_MSG_CREDIT: on_credit(b, peer, m); break;
    case ZC_MSG_DONE: on_done(b, peer, m); break;
    case ZC_MSG_DISCOVERED: on_discovered(b, peer, m); b->closed_leases = 1; break;
    case ZC_MSG_WRITTEN: on_written(b, peer, m); b->closed_leases = 1; break;
    case ZC_MSG_DEAD: on_dead(b, peer, m); b->closed_leases = 1; break;
    case ZC_MSG_HOLD: on_hold(b, peer, m); break;
    case ZC_MSG_STATUS: on_status(b, peer, m); break;
    default: broker_bad_message(b, "message type not for the broker"); break;
    }
}
