/* liveness.c -- which peers are alive, silent or gone (Paranoid Pirate heartbeats
 * plus the ROUTER's connection events).
 *
 * Rule: a closed connection is a death, silence is not. A stage that is killed has
 * its connection closed by the kernel at once; the ROUTER's monitor reports
 * ZMQ_EVENT_DISCONNECTED with the socket, and each peer's messages carry their
 * socket (ZMQ_SRCFD), so the broker knows whose connection it was. A fetcher gone
 * that way has its JOBs requeued at once. A peer that is only silent (stopped,
 * starved, blocked in a slow call) keeps its work: after three heartbeats a silent
 * fetcher gets no more JOBs and its leases are no longer renewed, so they run to
 * their deadline (up to --lease-ms) and come back only if it stays silent that
 * long. A silent parser or writer is forgotten (it holds no JOBs; its HOLDs, when
 * it is alive again, keep its pages' leases).
 *
 * Cost: a fetcher whose host dies without closing the connection (power, network)
 * is only silent, so its URLs come back after the lease, not after 3 heartbeats.
 * And a stage that reconnects because the broker was silent closes its old
 * connection although it lives: after the broker's own stall such closes are
 * taken for reconnects (the leases run to their deadline instead).
 *
 * The ROUTER has one monitor, so this one replaces the watch zc_curve_bind put
 * on it: with keys it asks for the failed handshakes too and hands them to
 * zc_zap, which counts and logs them as it does for the streamers' sockets. */
#include "liveness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "outage.h"
#include "peer_io.h"
#include "zc_curve.h"
#include "zc_zap.h"
#include "zc_log.h"
#include "zc_time.h"

#define MONITOR_EP "inproc://zcrawl-broker-monitor"
#define LIVENESS   3 /* heartbeats of silence before a peer is silent */

int broker_monitor_open(broker *b, char *err, size_t errlen) {
    int events = ZMQ_EVENT_DISCONNECTED | (zc_curve_enabled() ? ZC_ZAP_MONITOR_EVENTS : 0);
    if (zmq_socket_monitor(b->router, MONITOR_EP, events) != 0) {
        snprintf(err, errlen, "zmq_socket_monitor: %s", zmq_strerror(errno));
        return -1;
    }
    b->monitor = zmq_socket(b->ctx, ZMQ_PAIR);
    if (!b->monitor) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return -1;
    }
    int linger = 0;
    if (zmq_setsockopt(b->monitor, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_connect(b->monitor, MONITOR_EP) != 0) {
        snprintf(err, errlen, "monitor socket: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

void broker_monitor_close(broker *b) {
    if (b->router) zmq_socket_monitor(b->router, NULL, 0);
    if (b->monitor) zmq_close(b->monitor);
    b->monitor = NULL;
}

/* Forgets a peer; every JOB it held whose lease is still open goes back to the
 * head of the frontier. */
static void expire_peer(broker *b, int peer, const char *why) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    size_t held = p->held.n, requeued = 0;
    dispatch_item *it;
    while ((it = dispatch_first_held(&b->d, peer)) != NULL) {
        dispatch_answered(&b->d, it, DISPATCH_UNANSWERED);
        if (!frontier_broken(&b->fr)) {
            /* An attempt: a page that kills its fetcher each time ends as a dead letter. */
            int rc = frontier_requeue(&b->fr, it->url, (int)b->conf->max_retries);
            if (rc == -2) zc_warn("dead_letter", "url=%s stage=broker reason=\"lease lost %ld times\"", it->url,
                                  b->conf->max_retries + 1);
            else if (rc < 0) broker_redis_failed(b, "requeue");
            else requeued += (size_t)rc;
        }
        dispatch_drop(&b->d, it);
    }
    zc_warn("peer_expired", "name=%s held=%zu requeued=%zu role=%s why=%s", p->name, held, requeued,
            dispatch_role_name(p->role), why);
    dispatch_peer_forget(&b->d, peer);
}

/* Connection fd closed: whoever spoke over it is gone. */
static void on_disconnected(broker *b, int fd, int64_t now) {
    for (size_t i = 0; i < dispatch_peer_slots(&b->d); i++) {
        dispatch_peer *p = dispatch_peer_at(&b->d, (int)i);
        if (!p || p->fd != fd) continue;
        if (p->role == DISPATCH_FETCHER && now < b->stall_grace_until) {
            /* Most likely a live fetcher reconnecting after our stall: its DONEs
             * will come over the new connection; the leases run meanwhile. */
            p->fd = -1;
            p->paused = p->closed = 1;
            zc_warn("peer_closed", "name=%s held=%zu why=after_broker_stall", p->name, p->held.n);
            continue;
        }
        expire_peer(b, (int)i, "disconnected");
    }
}

void broker_monitor_drain(broker *b, int64_t now) {
    /* A stall can fall inside a turn (SIGSTOP while the broker reads): the closes
     * that its stages' reconnects made are reported as soon as it runs again, so
     * the clock is read here too, not only when a turn begins (main.c), or those
     * closes would requeue JOBs that live fetchers still hold. */
    int64_t t = zc_now_ms();
    if (b->last_turn && t - b->last_turn > 2 * b->conf->heartbeat_ms) {
        broker_stalled(b, t, t - b->last_turn);
        b->last_turn = t;
    }
    if (t > now) now = t;
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, b->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        /* Frame 1: 16-bit event, 32-bit value (the fd, or why a handshake
         * failed); frame 2: the endpoint. */
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (const char *)zmq_msg_data(&ev) + 2, 4);
        }
        int more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        char ep[128] = "";
        if (more) {
            zmq_msg_init(&addr);
            if (zmq_msg_recv(&addr, b->monitor, 0) < 0) {
                zc_warn("monitor_failed", "reason=\"%s\"", zmq_strerror(errno));
            } else {
                size_t n = zmq_msg_size(&addr) < sizeof(ep) - 1 ? zmq_msg_size(&addr) : sizeof(ep) - 1;
                memcpy(ep, zmq_msg_data(&addr), n);
                ep[n] = '\0';
            }
            zmq_msg_close(&addr);
        }
        if (event == ZMQ_EVENT_DISCONNECTED) on_disconnected(b, (int)value, now);
        else zc_zap_handshake_event(event, value, ep);
    }
}

void broker_peer_seen(broker *b, int peer, int fd, int64_t now) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p) return;
    p->last_seen = now;
    if (p->closed) return; /* messages it sent before closing still arrive */
    if (fd >= 0) p->fd = fd;
    if (p->paused) {
        p->paused = 0;
        zc_info("peer_back", "name=%s held=%zu", p->name, p->held.n);
    }
}

void broker_heartbeat(broker *b, int64_t now) {
    int64_t silent_after = LIVENESS * b->conf->heartbeat_ms;
    for (size_t i = 0; i < dispatch_peer_slots(&b->d); i++) {
        dispatch_peer *p = dispatch_peer_at(&b->d, (int)i);
        if (!p) continue;
        int64_t silent = now - p->last_seen;
        if (silent > silent_after && p->role != DISPATCH_FETCHER) {
            expire_peer(b, (int)i, "silent");
            continue;
        }
        if (silent > b->conf->lease_ms) { /* its leases have run out by now */
            expire_peer(b, (int)i, "silent_past_lease");
            continue;
        }
        if (silent > silent_after && !p->paused) {
            p->paused = 1;
            zc_warn("peer_silent", "name=%s held=%zu silent_ms=%lld", p->name, p->held.n, (long long)silent);
        }
        broker_send(b, (int)i, ZC_MSG_HEARTBEAT, NULL, 0);
    }
}

void broker_stalled(broker *b, int64_t now, int64_t gap) {
    zc_warn("broker_stalled", "ms=%lld", (long long)gap);
    for (size_t i = 0; i < dispatch_peer_slots(&b->d); i++) {
        dispatch_peer *p = dispatch_peer_at(&b->d, (int)i);
        if (p && p->last_seen < now) p->last_seen = now;
    }
    /* Stages notice our silence after 3 heartbeats and reconnect within their
     * backoff; their old connections' closes arrive now or shortly after. */
    b->stall_grace_until = now + (LIVENESS + 2) * b->conf->heartbeat_ms;
}
