/* zc_peer.c -- a stage's DEALER connection to the broker (Paranoid Pirate worker). */
#include "zc_peer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zc_curve.h"
#include "zc_log.h"
#include "zc_time.h"

#define PEER_LIVENESS    3  /* intervals of silence before the broker is dead */
#define PEER_BACKOFF_MAX 32 /* intervals */

/* Creates the socket, connects and says HELLO. Returns 0, or -1 with err set. */
static int peer_connect(zc_peer *p, int credit, char *err, size_t errlen) {
    p->sock = zmq_socket(p->ctx, ZMQ_DEALER);
    if (!p->sock) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return -1;
    }
    int linger = 2000, hwm = 100000;
    if (zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_setsockopt(p->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 || zc_msg_limit(p->sock) != 0) {
        snprintf(err, errlen, "zmq_setsockopt: %s", zmq_strerror(errno));
        goto err;
    }
    if (zc_curve_connect(p->sock, p->endpoint, NULL, err, errlen) != 0) goto err;
    char cbuf[24];
    snprintf(cbuf, sizeof(cbuf), "%d", credit < 0 ? 0 : credit);
    zc_frame f[3] = { ZC_FSTR(p->role), ZC_FSTR(p->name), ZC_FSTR(cbuf) };
    if (zc_msg_send(p->sock, NULL, ZC_MSG_HELLO, f, 3, ZMQ_DONTWAIT) != 0) {
        snprintf(err, errlen, "cannot send HELLO: %s", zmq_strerror(errno));
        goto err;
    }
    int64_t now = zc_now_ms();
    p->last_recv_ms = now;
    p->last_send_ms = now;
    p->reconnect_at = 0;
    return 0;
err:
    zmq_close(p->sock);
    p->sock = NULL;
    return -1;
}

int zc_peer_open(zc_peer *p, void *ctx, const char *endpoint, const char *role,
                 const char *name, int64_t hb_ivl_ms, int credit, char *err, size_t errlen) {
    memset(p, 0, sizeof(*p));
    p->ctx = ctx;
    p->hb_ivl_ms = hb_ivl_ms > 0 ? hb_ivl_ms : 1000;
    p->backoff_ms = p->hb_ivl_ms;
    if (snprintf(p->endpoint, sizeof(p->endpoint), "%s", endpoint) >= (int)sizeof(p->endpoint)) {
        snprintf(err, errlen, "broker endpoint too long");
        return -1;
    }
    snprintf(p->role, sizeof(p->role), "%s", role);
    if (name && *name) {
        if (strlen(name) >= sizeof(p->name)) {
            snprintf(err, errlen, "name '%s' is longer than %zu bytes", name, sizeof(p->name) - 1);
            return -1;
        }
        snprintf(p->name, sizeof(p->name), "%s", name);
    } else {
        char host[40];
        if (gethostname(host, sizeof(host)) != 0) snprintf(host, sizeof(host), "host");
        host[sizeof(host) - 1] = '\0';
        snprintf(p->name, sizeof(p->name), "%s-%s-%d", role, host, (int)getpid());
    }
    return peer_connect(p, credit, err, errlen);
}

void zc_peer_close(zc_peer *p) {
    if (p->sock) zmq_close(p->sock);
    p->sock = NULL;
}

int zc_peer_tick(zc_peer *p, int64_t now, int credit) {
    if (p->reconnect_at) {
        if (now < p->reconnect_at) return 0;
        char err[256];
        if (peer_connect(p, credit, err, sizeof(err)) != 0) {
            zc_warn("broker_reconnect_failed", "reason=\"%s\"", err);
            p->reconnect_at = now + p->backoff_ms;
            return 0;
        }
        p->reconnects++;
        zc_info("broker_reconnected", "endpoint=%s credit=%d", p->endpoint, credit);
        return 1;
    }
    /* A gap between ticks this long means this process was not running (SIGSTOP,
     * a starved machine, a blocking call): the broker's heartbeats are waiting in
     * the socket, unread. Judge the broker only on time we could hear it; a
     * needless reconnect would make the broker take back our work. */
    if (p->last_tick_ms && now - p->last_tick_ms > PEER_LIVENESS * p->hb_ivl_ms) p->last_recv_ms = now;
    p->last_tick_ms = now;
    if (now - p->last_recv_ms > PEER_LIVENESS * p->hb_ivl_ms) {
        /* A CURVE handshake that fails looks like silence from here: say where to look. */
        zc_warn("broker_silent", "endpoint=%s silent_ms=%lld reconnect_in_ms=%lld%s", p->endpoint,
                (long long)(now - p->last_recv_ms), (long long)p->backoff_ms,
                zc_curve_enabled() ? " hint=\"with keys: is broker.key this broker's, and does its authorized/ list "
                                     "this stage's key?\""
                                   : "");
        zc_peer_close(p);
        p->reconnect_at = now + p->backoff_ms;
        if (p->backoff_ms < PEER_BACKOFF_MAX * p->hb_ivl_ms) p->backoff_ms *= 2;
        return 0;
    }
    if (now - p->last_send_ms >= p->hb_ivl_ms) {
        if (zc_msg_send(p->sock, NULL, ZC_MSG_HEARTBEAT, NULL, 0, ZMQ_DONTWAIT) == 0)
            p->last_send_ms = now;
    }
    return 0;
}

int64_t zc_peer_timeout(const zc_peer *p, int64_t now) {
    int64_t t;
    if (p->reconnect_at) t = p->reconnect_at - now;
    else {
        int64_t hb = p->last_send_ms + p->hb_ivl_ms - now;
        int64_t dead = p->last_recv_ms + PEER_LIVENESS * p->hb_ivl_ms + 1 - now;
        t = hb < dead ? hb : dead;
    }
    return t < 0 ? 0 : t;
}

int zc_peer_send(zc_peer *p, zc_msg_type type, const zc_frame *frames, int n) {
    if (!p->sock) {
        for (int i = 0; i < n; i++)
            if (frames[i].ffn) frames[i].ffn((void *)frames[i].data, frames[i].hint);
        errno = EAGAIN;
        return -1;
    }
    if (zc_msg_send(p->sock, NULL, type, frames, n, ZMQ_DONTWAIT) != 0) return -1;
    p->last_send_ms = zc_now_ms();
    return 0;
}

int zc_peer_recv(zc_peer *p, zc_msg *m) {
    char err[256];
    if (!p->sock) {
        errno = EAGAIN;
        return -1;
    }
    for (;;) {
        int rc = zc_msg_recv(p->sock, m, ZMQ_DONTWAIT, 0, err, sizeof(err));
        if (rc == -1) return -1;
        if (rc == -2) {
            /* Junk is no sign of life: a non-ZeroMQ server must not keep us here. */
            p->dropped++;
            zc_warn("bad_message", "from=broker reason=\"%s\" dropped=%llu", err,
                    (unsigned long long)p->dropped);
            return -2;
        }
        p->last_recv_ms = zc_now_ms();
        p->backoff_ms = p->hb_ivl_ms;
        if (m->type == ZC_MSG_HEARTBEAT) {
            zc_msg_close(m);
            continue;
        }
        return 0;
    }
}

long zc_peer_hold_ms(long lease_ms, long hold_ms, char *err, size_t errlen) {
    long most = lease_ms / 3 > 0 ? lease_ms / 3 : 1;
    if (hold_ms <= 0) return most;
    if (hold_ms > most) {
        snprintf(err, errlen,
                 "--hold-ms %ld is more than a third of --lease-ms %ld: a lease could run out before its HOLD "
                 "(leave --hold-ms out: it is a third of the lease)",
                 hold_ms, lease_ms);
        return -1;
    }
    return hold_ms;
}
