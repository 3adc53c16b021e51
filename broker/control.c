/* control.c -- the broker's control socket: what waits on the ROUTER is read
 * (connection events first) and each message goes to its handler: HELLO,
 * HEARTBEAT, CREDIT, HOLD and STATUS here, the reports that close leases in
 * report.c. Each handler checks its frames and drops what it cannot use.
 *
 * Nothing a stage sends counts before its HELLO, and each role sends only its own
 * messages (guard_refuse.c): CREDIT from fetchers, HOLD from parsers and
 * writers. With CURVE keys a peer's role is its key's (the ZAP User-Id each
 * message carries): a HELLO claiming another is refused, and so is a message
 * under another key than its peer's HELLO. While Redis fails, reports go to
 * report.c to be kept for a replay.
 *
 * A message is read frame by frame and bounded (CONTROL_MAX_BYTES, the frames
 * its type carries); what is over the bound is freed as it is read, refused and
 * counted (reason size). Every string a peer sends is quoted by zc_log_q when
 * it is logged. */
#include "control.h"
#include "counts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "guard_credit.h"
#include "guard_refuse.h"
#include "liveness.h"
#include "outage.h"
#include "peer_io.h"
#include "report.h"
#include "zc_log.h"
#include "zc_time.h"

/* The largest control message, all frames after the header: a DONE robots_txt
 * carries 500 KiB, a DISCOVERED every link of a page (within the 64 MiB a frame
 * may have). */
#define CONTROL_MAX_BYTES ((size_t)ZC_MSG_MAX_BYTES)

static void on_hello(broker *b, int peer, const zc_msg *m) {
    char role[16], name[64];
    uint64_t credit;
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p) return; /* out of memory or an identity too long: it will say HELLO again */
    /* A name is 1 to 63 bytes that stand unquoted in a log line (zc_log_plain), so
     * it reads the same in every log line and status list. */
    if (zc_msg_str(m, 0, role, sizeof(role)) != 0 || zc_msg_str(m, 1, name, sizeof(name)) != 0 || !zc_log_plain(name) ||
        zc_msg_u64(m, 2, &credit) != 0 || credit > 1000000) { /* --concurrency is at most 10000 */
        broker_bad_message(b, "HELLO with bad role, name or credit");
        return;
    }
    dispatch_role r = dispatch_role_parse(role);
    if (r == DISPATCH_OTHER) {
        broker_bad_message(b, "HELLO with unknown role");
        return;
    }
    if (!broker_guard_hello_key(b, peer, m->user, r)) return; /* another role than its key's */
    if (p->role != DISPATCH_OTHER && p->role != r) {
        /* Its JOBs and reports were judged by the first role; one connection, one role. */
        broker_guard_refuse(b, GUARD_ROLE_CHANGE, "HELLO", peer, role);
        return;
    }
    p->role = r;
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->key, sizeof(p->key), "%s", m->user);
    p->owed = 0; /* a HELLO says all its free slots afresh */
    p->credit = r == DISPATCH_FETCHER ? broker_guard_credit(b, peer, credit) : 0;
    dispatch_peer_capacity(p);
    broker_guard_remember(b, peer);
    char qk[80];
    zc_info("peer_joined", "role=%s name=%s credit=%ld key=%s", role, name, p->credit,
            zc_log_q(qk, sizeof(qk), m->user[0] ? m->user : "-"));
    if (b->done) broker_send(b, peer, ZC_MSG_SHUTDOWN, NULL, 0);
}

static void on_credit(broker *b, int peer, const zc_msg *m) {
    uint64_t n;
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (zc_msg_u64(m, 0, &n) != 0) {
        broker_bad_message(b, "CREDIT with a bad number");
        return;
    }
    if (!broker_guard_admitted(b, peer, ZC_MSG_CREDIT)) return;
    if (n > 1000000000) n = 1000000000; /* the cap below clamps it further; no overflow */
    p->credit = broker_guard_credit(b, peer, (uint64_t)(p->credit > 0 ? p->credit : 0) + (uint64_t)p->owed + n);
    dispatch_peer_capacity(p);
}

/* HOLD: a parser or writer still holds these URLs (received, alive, not yet
 * reported). Each one still leased gets now + lease_ms; the others (closed, or
 * expired and requeued) are ignored. A stage that was dropped for silence is
 * known again by its connection (guard_refuse.c), so its HOLDs still count. */
static void on_hold(broker *b, int peer, const zc_msg *m) {
    char *list = broker_frame_dup(m, 0);
    if (!list) {
        broker_bad_message(b, "HOLD with a NUL byte");
        return;
    }
    if (!broker_guard_admitted(b, peer, ZC_MSG_HOLD)) {
        free(list);
        return;
    }
    char **urls;
    size_t n = broker_split_urls(list, &urls);
    if (!urls) zc_warn("out_of_memory", "what=HOLD effect=\"leases not extended\"");
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
    if (!broker_guard_admitted(b, peer, ZC_MSG_STATUS)) return; /* no name to report under yet */
    char qn[160];
    if (!strcmp(cond, "ok")) {
        if (p->cond[0]) zc_info("peer_ok", "name=%s was=%s", zc_log_q(qn, sizeof(qn), p->name), p->cond);
        p->cond[0] = '\0';
        return;
    }
    const char *d = zc_msg_data(m, 1, &len);
    if (len >= sizeof(p->detail)) len = sizeof(p->detail) - 1;
    if (strcmp(cond, p->cond)) {
        char qd[4 * sizeof(p->detail) + 3];
        p->cond_since = zc_wall_ms();
        zc_warn("peer_problem", "name=%s condition=%s detail=%s", zc_log_q(qn, sizeof(qn), p->name), cond,
                zc_log_qn(qd, sizeof(qd), d, len));
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
    if (peer < 0 && m->type != ZC_MSG_HELLO) peer = broker_guard_recall(b, id, idlen, m->user);
    if (peer == -2) return; /* its routing id under another key: refused */
    if (!broker_guard_key_admitted(b, peer, m->type, m->user)) return;
    /* The connection it came over (ZMQ_SRCFD, deprecated but the only way to
     * match a ROUTER peer with its monitor events), so that its closing can be
     * told apart from silence: from a frame the peer sent (zc_msg_recv), since
     * the ROUTER's identity frame has none. */
    broker_peer_seen(b, peer, m->srcfd, now);
    if (needs_redis(m->type) && (frontier_broken(&b->fr) || b->redis_bad_since)) {
        /* HOLD needs no replay: the outage's length is given back to every lease. */
        if (m->type != ZC_MSG_HOLD) broker_report_while_failing(b, peer, m);
        return;
    }
    switch (m->type) {
    case ZC_MSG_HELLO: on_hello(b, peer, m); break;
    case ZC_MSG_HEARTBEAT: break;
    case ZC_MSG_CREDIT: on_credit(b, peer, m); break;
    case ZC_MSG_DONE:
    case ZC_MSG_DISCOVERED:
    case ZC_MSG_WRITTEN:
    case ZC_MSG_DEAD: broker_on_report(b, peer, m); break;
    case ZC_MSG_HOLD: on_hold(b, peer, m); break;
    case ZC_MSG_STATUS: on_status(b, peer, m); break;
    case ZC_MSG_COUNTS: broker_on_counts(b, peer, m); break;
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
        int r = zc_msg_recv_max(b->router, &m, ZMQ_DONTWAIT, 1, CONTROL_MAX_BYTES, err, sizeof(err));
        if (r == -1) break;
        broker_monitor_drain(b, now);
        if (r == -3) {
            broker_guard_refuse(b, GUARD_TOO_LONG, "message", -1, err);
            continue;
        }
        if (r == -2) {
            broker_bad_message(b, err);
            continue;
        }
        broker_on_message(b, &m, now);
        zc_msg_close(&m);
    }
}
