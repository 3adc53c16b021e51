/* control.c -- the broker's handlers for messages from stages on the ROUTER:
 * HELLO, HEARTBEAT, CREDIT, DONE, DISCOVERED, WRITTEN, DEAD, HOLD, STATUS. One
 * small function per message type; each checks its frames and drops what it
 * cannot use. Reports that Redis cannot take now are kept and replayed.
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
    if (!v) {
        *out = NULL;
        return 0;
    }
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

/* The peer of a replayed report: admitted when it arrived. */
#define PEER_REPLAY (-2)

/* 1 when a peer of role r may send type t. */
static int may_send(dispatch_role r, zc_msg_type t) {
    switch (t) {
    case ZC_MSG_CREDIT:
    case ZC_MSG_DONE: return r == DISPATCH_FETCHER;
    case ZC_MSG_DISCOVERED: return r == DISPATCH_PARSER;
    case ZC_MSG_WRITTEN: return r == DISPATCH_WRITER;
    case ZC_MSG_DEAD:
    case ZC_MSG_HOLD: return r == DISPATCH_PARSER || r == DISPATCH_WRITER;
    default: return r != DISPATCH_OTHER;
    }
}

/* A well-formed report counts only from a peer that said HELLO with a role that
 * sends it. Returns 1, or 0 after refusing it (logged, counted). A malformed
 * message is a bad message whoever sent it, so handlers parse first. */
static int admitted(broker *b, int peer, zc_msg_type t) {
    if (peer == PEER_REPLAY) return 1;
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p || p->role == DISPATCH_OTHER) {
        broker_guard_refuse(b, GUARD_NO_HELLO, zc_msg_type_name(t), peer, "");
        return 0;
    }
    if (!may_send(p->role, t)) {
        broker_guard_refuse(b, GUARD_WRONG_ROLE, zc_msg_type_name(t), peer,
                            p->role == DISPATCH_FETCHER ? "from a fetcher" : (p->role == DISPATCH_PARSER ? "from a parser" : "from a writer"));
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
    dispatch_role r = dispatch_role_parse(role);
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
    dispatch_peer_capacity(p);
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
    dispatch_peer_capacity(p);
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

/* Returns -1 when Redis failed (the outcome is not recorded), else 0. */
static int on_done_retry(broker *b, const char *url, uint64_t status, uint64_t retry_after, const char *reason) {
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
    return rc == -1 ? -1 : 0;
}

/* DONE redirect: the fetcher stopped at a redirect to another origin (target).
 * Like a DISCOVERED of one URL: a target out of scope is dropped and counted,
 * one in scope queued unless seen; the lease closes either way. Returns -1 when
 * Redis failed. */
static int on_done_redirect(broker *b, int peer, const char *url, const char *target) {
    int in = target && broker_guard_in_scope(b, target);
    int r = frontier_redirect(&b->fr, url, in ? target : NULL);
    if (r == -2) broker_guard_refuse(b, GUARD_NOT_LEASED, "DONE", peer, url);
    else if (r < 0) {
        broker_redis_failed(b, "redirect");
        return -1;
    } else {
        if (!in) broker_guard_out_of_scope(b, 1);
        zc_info("redirected", "url=%s target_in_scope=%d queued=%d", url, in, r);
    }
    return 0;
}

/* Records one URL's outcome other than ok. Returns -1 when Redis failed. */
static int record_outcome(broker *b, int peer, const char *url, const char *outcome, uint64_t status,
                          uint64_t retry_after, const char *reason, const zc_msg *m) {
    int64_t wall = zc_wall_ms();
    if (!strcmp(outcome, "retry")) return on_done_retry(b, url, status, retry_after, reason);
    if (!strcmp(outcome, "robots_txt")) { /* a link to /robots.txt: no page, its lease closes */
        if (frontier_exclude(&b->fr, url, "robots_txt") < 0) {
            broker_redis_failed(b, "exclude");
            return -1;
        }
        return 0;
    }
    if (!strcmp(outcome, "redirect")) {
        char *target = frame_dup(m, 4); /* the whole target, longer than reason may hold */
        int rc = on_done_redirect(b, peer, url, target);
        free(target);
        return rc;
    }
    if (!strcmp(outcome, "fail") && (status == 404 || status == 410)) {
        if (frontier_gone(&b->fr, url, (int)status, wall) < 0) {
            broker_redis_failed(b, "gone");
            return -1;
        }
        zc_debug("gone", "url=%s status=%llu", url, (unsigned long long)status);
    } else if (!strcmp(outcome, "fail")) {
        if (frontier_dead(&b->fr, url, "fetch", reason, wall) < 0) {
            broker_redis_failed(b, "dead");
            return -1;
        }
        zc_warn("dead_letter", "url=%s stage=fetch status=%llu reason=\"%s\"", url, (unsigned long long)status, reason);
    }
    return 0;
}

/* What on_done does with a DONE: free the slots and record (as it arrives), only
 * free the slots (it arrives while Redis fails), or only record (replayed). */
enum { DONE_LIVE,
       DONE_RELEASE,
       DONE_REPLAY };

/* DONE: one URL, or several separated by '\n' that share the outcome (fetchers
 * batch their ok answers). Only URLs out at this fetcher count; released (may
 * be NULL) gets them, so that what is kept for a replay holds nothing else.
 * Returns -1 when an outcome could not be recorded (Redis failed), else 0. */
static int on_done(broker *b, int peer, const zc_msg *m, int mode, zc_buf *released) {
    char outcome[16], reason[256];
    uint64_t status, retry_after;
    char *urls = frame_dup(m, 0);
    if (!urls || zc_msg_str(m, 1, outcome, sizeof(outcome)) != 0 || zc_msg_u64(m, 2, &status) != 0 ||
        zc_msg_u64(m, 3, &retry_after) != 0) {
        free(urls);
        if (mode != DONE_REPLAY) broker_bad_message(b, "DONE with bad fields");
        return 0;
    }
    if (!admitted(b, peer, ZC_MSG_DONE)) {
        free(urls);
        return 0;
    }
    if (zc_msg_str(m, 4, reason, sizeof(reason)) != 0) snprintf(reason, sizeof(reason), "(unreadable)");
    int ok = !strcmp(outcome, "ok"), failed = 0;
    size_t blen;
    const char *body = zc_msg_data(m, 4, &blen);
    char *save = NULL;
    for (char *u = strtok_r(urls, "\n", &save); u; u = strtok_r(NULL, "\n", &save)) {
        if (mode != DONE_REPLAY && (status == 429 || status == 503)) { /* the host's back-off, kept across restarts */
            dispatch_item *held = dispatch_find(&b->d, u);
            if (held && held->peer == peer) dispatch_backoff(&b->d, held, zc_now_ms(), zc_wall_ms(), (int64_t)retry_after);
        }
        if (mode != DONE_REPLAY && !release_slot(b, peer, u, status == 429 || status == 503)) {
            /* Not out at this fetcher: another's, or requeued (its lease decides). */
            broker_guard_refuse(b, GUARD_NOT_HELD, "DONE", peer, u);
            continue;
        }
        /* The broker's own robots.txt request: no lease, nothing to replay. */
        if (mode != DONE_REPLAY && broker_guard_robots_done(b, u, outcome, status, body, blen)) continue;
        if (released && zc_buf_add(released, u, strlen(u), '\n') != 0 && mode == DONE_RELEASE)
            continue;                   /* not kept for replay: its lease decides */
        if (ok) b->fetched_unflushed++; /* counted in memory, written at maintenance */
        else if (mode != DONE_RELEASE && !failed &&
                 record_outcome(b, peer, u, outcome, status, retry_after, reason, m) < 0)
            failed = 1;
    }
    free(urls);
    /* The slots are free again either way; an unknown outcome leaves the leases to expire. */
    if (!ok && strcmp(outcome, "retry") && strcmp(outcome, "fail") && strcmp(outcome, "redirect") &&
        strcmp(outcome, "robots_txt") && mode != DONE_REPLAY)
        broker_bad_message(b, "DONE with unknown outcome");
    return failed ? -1 : 0;
}

/* Returns -1 when Redis failed, else 0 (for this and the next two handlers). */
static int on_discovered(broker *b, int peer, const zc_msg *m) {
    char *parent = frame_dup(m, 0), *list = frame_dup(m, 1);
    long added = 0;
    if (!parent || !list) {
        broker_bad_message(b, "DISCOVERED with a NUL byte");
        goto out;
    }
    if (!admitted(b, peer, ZC_MSG_DISCOVERED)) goto out;
    char **urls;
    size_t n = split_urls(list, &urls), bad = 0, in = 0;
    for (size_t i = 0; i < n; i++) /* only URLs in scope go on */
        if (broker_guard_in_scope(b, urls[i])) urls[in++] = urls[i];
    added = frontier_discover(&b->fr, parent, urls, in, zc_wall_ms(), &bad);
    free(urls);
    if (added == -2) {
        broker_guard_refuse(b, GUARD_NOT_LEASED, "DISCOVERED", peer, parent);
        added = 0;
    } else if (added < 0) {
        broker_redis_failed(b, "discover");
    } else {
        zc_debug("discovered", "parent=%s urls=%zu new=%ld bad=%zu out_of_scope=%zu", parent, n, added, bad, n - in);
        if (n > in) broker_guard_out_of_scope(b, (long)(n - in));
    }
    if (bad) zc_warn("bad_urls", "parent=%s count=%zu", parent, bad);
out:
    free(parent);
    free(list);
    return added < 0 ? -1 : 0;
}

static int on_written(broker *b, int peer, const zc_msg *m) {
    char *list = frame_dup(m, 0);
    if (!list) {
        broker_bad_message(b, "WRITTEN with a NUL byte");
        return 0;
    }
    if (!admitted(b, peer, ZC_MSG_WRITTEN)) {
        free(list);
        return 0;
    }
    char **urls;
    size_t n = split_urls(list, &urls);
    long rc = frontier_written(&b->fr, urls, n);
    if (rc < 0) broker_redis_failed(b, "written");
    else if ((size_t)rc < n) /* written twice (a redelivery) or never leased */
        for (size_t i = 0; i < n - (size_t)rc; i++)
            broker_guard_refuse(b, GUARD_NOT_LEASED, "WRITTEN", peer, n == 1 ? urls[0] : "(some of a batch)");
    free(urls);
    free(list);
    return rc < 0 ? -1 : 0;
}

static int on_dead(broker *b, int peer, const zc_msg *m) {
    char *url = frame_dup(m, 0), *stage = frame_dup(m, 1), *reason = frame_dup(m, 2);
    int rc = 0, r = 0;
    if (!url || !stage || !reason || strlen(stage) > 32) {
        broker_bad_message(b, "DEAD with bad fields");
    } else if (!admitted(b, peer, ZC_MSG_DEAD)) {
        /* refused */
    } else if ((r = frontier_dead(&b->fr, url, stage, reason, zc_wall_ms())) < 0) {
        broker_redis_failed(b, "dead");
        rc = -1;
    } else if (r == 0) {
        broker_guard_refuse(b, GUARD_NOT_LEASED, "DEAD", peer, url);
    } else {
        zc_warn("dead_letter", "url=%s stage=%s reason=\"%.200s\"", url, stage, reason);
    }
    free(url);
    free(stage);
    free(reason);
    return rc;
}

/* HOLD: a parser or writer still holds these URLs (received, alive, not yet
 * reported). Each one still leased gets now + lease_ms; the others (closed, or
 * expired and requeued) are ignored. A stage that was dropped for silence is
 * known again by its connection (guard.c), so its HOLDs still count. */
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

#define REPORTS_MAX 100000 /* kept while Redis fails; beyond, their leases decide */

/* An outcome that could not be recorded would cost a fetch more once its lease
 * runs out. So while Redis fails, reports (DONE other than ok, DISCOVERED,
 * WRITTEN, DEAD) are kept in order and replayed when it takes writes again.
 * Takes m's frames. Returns 1 if kept, 0 if not (full, out of memory). */
static int keep_report(broker *b, zc_msg *m) {
    if (b->nreports >= REPORTS_MAX) return 0;
    broker_report *r = calloc(1, sizeof(*r));
    if (!r) return 0;
    r->m.type = m->type;
    for (int i = 0; i < m->nframes; i++) {
        zmq_msg_init(&r->m.frames[i]);
        zmq_msg_move(&r->m.frames[i], &m->frames[i]);
    }
    r->m.nframes = m->nframes;
    if (!b->reports_tail) b->reports_tail = &b->reports;
    *b->reports_tail = r;
    b->reports_tail = &r->next;
    b->nreports++;
    return 1;
}

/* Records a report from peer (PEER_REPLAY: kept, admitted when it came).
 * Returns -1 when Redis failed, else 0. */
static int handle_report(broker *b, int peer, const zc_msg *m) {
    b->closed_leases = 1;
    switch (m->type) {
    case ZC_MSG_DONE: return on_done(b, peer, m, peer == PEER_REPLAY ? DONE_REPLAY : DONE_LIVE, NULL);
    case ZC_MSG_DISCOVERED: return on_discovered(b, peer, m);
    case ZC_MSG_WRITTEN: return on_written(b, peer, m);
    case ZC_MSG_DEAD: return on_dead(b, peer, m);
    default: return 0;
    }
}

void broker_replay_reports(broker *b) {
    size_t n = 0;
    while (b->reports && !b->redis_bad_since) {
        broker_report *r = b->reports;
        if (handle_report(b, PEER_REPLAY, &r->m) < 0) break; /* Redis failed again: kept for the next try */
        b->reports = r->next;
        if (!b->reports) b->reports_tail = &b->reports;
        b->nreports--;
        zc_msg_close(&r->m);
        free(r);
        n++;
    }
    if (n) zc_info("reports_replayed", "count=%zu kept=%zu", n, b->nreports);
}

void broker_drop_reports(broker *b) {
    while (b->reports) {
        broker_report *r = b->reports;
        b->reports = r->next;
        zc_msg_close(&r->m);
        free(r);
    }
    b->reports_tail = &b->reports;
    b->nreports = 0;
}

/* Keeps a DONE for replay cut to the URLs that were out at its fetcher (a replay
 * checks no slots). Returns 1 if kept, 0 if not (nothing to record, memory). */
static int keep_done(broker *b, zc_msg *m, const zc_buf *released) {
    char outcome[16];
    if (released->len == 0 || zc_msg_str(m, 1, outcome, sizeof(outcome)) != 0 || !strcmp(outcome, "ok")) return 0;
    zmq_msg_close(&m->frames[0]);
    if (zmq_msg_init_size(&m->frames[0], released->len) != 0) {
        zmq_msg_init(&m->frames[0]);
        return 0;
    }
    memcpy(zmq_msg_data(&m->frames[0]), released->p, released->len);
    return keep_report(b, m);
}

/* A report that arrives while Redis fails: a DONE frees its fetch slots now; what
 * needs recording is kept for replay, or dropped when it cannot be (its lease
 * will expire and the URL come back, which loses nothing). Only what its sender
 * may report is kept. */
static void report_while_failing(broker *b, int peer, zc_msg *m) {
    if (!admitted(b, peer, m->type)) return;
    int kept;
    if (m->type == ZC_MSG_DONE) {
        zc_buf released = { 0 };
        on_done(b, peer, m, DONE_RELEASE, &released);
        kept = keep_done(b, m, &released) || released.len == 0;
        zc_buf_free(&released);
    } else {
        kept = keep_report(b, m);
    }
    if (!kept) zc_debug("report_dropped", "type=%s reason=redis_failing", zc_msg_type_name(m->type));
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
    /* The connection it came over (ZMQ_SRCFD, deprecated but the only way to
     * match a ROUTER peer with its monitor events), so that its closing can be
     * told apart from silence. */
    broker_peer_seen(b, peer, zmq_msg_get(&m->identity, ZMQ_SRCFD), now);
    if (needs_redis(m->type) && (frontier_broken(&b->fr) || b->redis_bad_since)) {
        /* HOLD needs no replay: the outage's length is given back to every lease. */
        if (m->type != ZC_MSG_HOLD) report_while_failing(b, peer, m);
        return;
    }
    switch (m->type) {
    case ZC_MSG_HELLO: on_hello(b, peer, m); break;
    case ZC_MSG_HEARTBEAT: break;
    case ZC_MSG_CREDIT: on_credit(b, peer, m); break;
    case ZC_MSG_DONE: {
        zc_buf released = { 0 };
        b->closed_leases = 1;
        if (on_done(b, peer, m, DONE_LIVE, &released) < 0 && !keep_done(b, m, &released))
            zc_debug("report_dropped", "type=DONE reason=redis_failed");
        zc_buf_free(&released);
        break;
    }
    case ZC_MSG_DISCOVERED:
    case ZC_MSG_WRITTEN:
    case ZC_MSG_DEAD:
        if (handle_report(b, peer, m) < 0 && !keep_report(b, m))
            zc_debug("report_dropped", "type=%s reason=redis_failed", zc_msg_type_name(m->type));
        break;
    case ZC_MSG_HOLD: on_hold(b, peer, m); break;
    case ZC_MSG_STATUS: on_status(b, peer, m); break;
    default: broker_bad_message(b, "message type not for the broker"); break;
    }
}

/* Receives what waits on the ROUTER (at most 2000 messages a turn). Connection
 * events are taken before each message: a close reported before a message was
 * received is handled before it, so a new connection that got a closed one's
 * socket number is never taken for the old one. */
void broker_read_control(broker *b, int64_t now) {
    char err[256];
    broker_monitor_drain(b, now);
    for (int k = 0; k < 2000; k++) {
        zc_msg m;
        int r = zc_msg_recv(b->router, &m, ZMQ_DONTWAIT, 1, err, sizeof(err));
        if (r == -1) break;
        broker_monitor_drain(b, now);
        if (r == -2) {
            broker_bad_message(b, err);
            continue;
        }
        broker_on_message(b, &m, now);
        zc_msg_close(&m);
    }
}
