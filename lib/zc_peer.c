/* zc_peer.c -- a stage's DEALER connection to the broker (Paranoid Pirate worker). */
#include "zc_peer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zc_curve.h"
#include "zc_log.h"
#include "zc_time.h"

#define PEER_LIVENESS    3     /* intervals of silence before the broker is dead */
#define PEER_BACKOFF_MAX 32    /* intervals */
#define PEER_HS_LOG_MS   10000 /* a failing handshake is logged at most this often (libzmq retries it every 100 ms) */
#define PEER_MON_EVENTS                                                                                           \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | \
     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

/* Watches sock's handshakes through an inproc PAIR of its own. Returns 0, or -1
 * with err set (sock is left to the caller). */
static int monitor_open(zc_peer *p, char *err, size_t errlen) {
    static unsigned long long seq;
    char ep[96];
    snprintf(ep, sizeof(ep), "inproc://zc-peer-monitor-%d-%llu", (int)getpid(), ++seq);
    if (zmq_socket_monitor(p->sock, ep, PEER_MON_EVENTS) != 0) {
        snprintf(err, errlen, "zmq_socket_monitor: %s", zmq_strerror(errno));
        return -1;
    }
    int linger = 0;
    if (!(p->mon = zmq_socket(p->ctx, ZMQ_PAIR)) || zmq_setsockopt(p->mon, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_connect(p->mon, ep) != 0) {
        snprintf(err, errlen, "monitor socket: %s", zmq_strerror(errno));
        if (p->mon) zmq_close(p->mon);
        p->mon = NULL;
        return -1;
    }
    return 0;
}

/* What a failed handshake means, and what to change on which side. */
static void handshake_failed(zc_peer *p, unsigned event, uint32_t value, int64_t now) {
    p->hs_failed++;
    /* A close without detail can come before the broker's greeting is read: a later
     * event that says why is logged at once, once. */
    int specific = event != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (now < p->hs_log_at && !(specific && !p->hs_logged_specific)) return;
    p->hs_log_at = now + PEER_HS_LOG_MS;
    p->hs_logged_specific |= specific;
    const char *why, *hint;
    char code[32] = "";
    int keyed = zc_curve_enabled();
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        snprintf(code, sizeof(code), " zap_status=%u", (unsigned)value);
        why = "the broker refused this stage's key";
        hint = "list this role's public key in the broker's authorized/ (file name: ROLE[-anything].key) and "
               "restart it";
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
        why = keyed ? "the broker runs without CURVE keys, this stage with them"
                    : "the broker wants CURVE keys, this stage has none (--insecure)";
        hint = keyed ? "give the broker --keys DIR, or run this stage with --insecure too"
                     : "give this stage --keys DIR holding broker.key and its ROLE.key_secret";
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        snprintf(code, sizeof(code), " protocol_error=0x%x", (unsigned)value);
        why = "the broker and this stage do not agree on the handshake";
        hint = keyed ? "is broker.key this broker's public key?" : "is the endpoint a zcrawl broker's?";
    } else {
        why = "the broker closed the handshake";
        hint = keyed ? "does the broker run with --keys too, and is broker.key its public key?"
                     : "does the broker run with --insecure too, and is the endpoint a zcrawl broker's?";
    }
    zc_warn("broker_handshake_failed", "endpoint=%s reason=\"%s\"%s failed=%llu hint=\"%s\"", p->endpoint, why, code,
            (unsigned long long)p->hs_failed, hint);
}

/* The broker answered: a reopened socket is a reconnect now. */
static void handshake_ok(zc_peer *p, int credit_known, int credit) {
    if (p->hs_failed && !p->handshake_ok)
        zc_info("broker_handshake_ok", "endpoint=%s after_failed=%llu", p->endpoint, (unsigned long long)p->hs_failed);
    p->handshake_ok = 1;
    p->hs_failed = 0;
    p->hs_log_at = 0;
    p->hs_logged_specific = 0;
    if (p->reopened) {
        p->reopened = 0;
        p->reconnects++;
        if (credit_known) zc_info("broker_reconnected", "endpoint=%s credit=%d", p->endpoint, credit);
        else zc_info("broker_reconnected", "endpoint=%s", p->endpoint);
    }
}

/* Reads every monitor event waiting. */
static void monitor_drain(zc_peer *p, int64_t now, int credit) {
    while (p->mon) {
        zmq_msg_t a, b;
        zmq_msg_init(&a);
        if (zmq_msg_recv(&a, p->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&a);
            return;
        }
        /* Two frames: 2 bytes event and 4 bytes value, then the endpoint. */
        unsigned event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&a) >= 6) {
            const uint8_t *d = zmq_msg_data(&a);
            uint16_t e;
            memcpy(&e, d, 2);
            memcpy(&value, d + 2, 4);
            event = e;
        }
        int more = zmq_msg_more(&a);
        zmq_msg_close(&a);
        if (more) {
            zmq_msg_init(&b);
            if (zmq_msg_recv(&b, p->mon, ZMQ_DONTWAIT) < 0) zc_debug("monitor_frame_lost", "endpoint=%s", p->endpoint);
            zmq_msg_close(&b);
        }
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            p->last_recv_ms = now; /* the broker answered: silence counts from here, not from the connect */
            handshake_ok(p, 1, credit);
        } else if (event & PEER_MON_EVENTS) handshake_failed(p, event, value, now);
    }
}

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
    if (monitor_open(p, err, errlen) != 0) goto err;
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
    p->handshake_ok = 0;
    return 0;
err:
    zc_peer_close(p);
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
        if (!zc_log_plain(name)) { /* the broker refuses any other HELLO */
            char q[200];
            snprintf(err, errlen, "name %s: printable ASCII without spaces, quotes, '=' or '\\' only",
                     zc_log_q(q, sizeof(q), name));
            return -1;
        }
        snprintf(p->name, sizeof(p->name), "%s", name);
    } else {
        char host[40];
        if (gethostname(host, sizeof(host)) != 0) snprintf(host, sizeof(host), "host");
        host[sizeof(host) - 1] = '\0';
        snprintf(p->name, sizeof(p->name), "%s-%s-%d", role, host, (int)getpid());
        for (char *c = p->name; *c; c++) { /* a host name is plain; whatever it is, the name stays so */
            unsigned char u = (unsigned char)*c;
            if (u <= ' ' || u >= 0x7f || u == '"' || u == '=' || u == '\\') *c = '_';
        }
    }
    return peer_connect(p, credit, err, errlen);
}

void zc_peer_close(zc_peer *p) {
    if (p->sock) {
        if (p->mon && zmq_socket_monitor(p->sock, NULL, 0) != 0)
            zc_debug("monitor_stop_failed", "reason=\"%s\"", zmq_strerror(errno));
        zmq_close(p->sock);
    }
    if (p->mon) zmq_close(p->mon);
    p->sock = NULL;
    p->mon = NULL;
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
        p->reopened = 1; /* logged as a reconnect once its handshake succeeds */
        return 1;
    }
    monitor_drain(p, now, credit);
    /* A gap between ticks this long means this process was not running (SIGSTOP,
     * a starved machine, a blocking call): the broker's heartbeats are waiting in
     * the socket, unread. Judge the broker only on time we could hear it; a
     * needless reconnect would make the broker take back our work. */
    if (p->last_tick_ms && now - p->last_tick_ms > PEER_LIVENESS * p->hb_ivl_ms) p->last_recv_ms = now;
    p->last_tick_ms = now;
    if (now - p->last_recv_ms > PEER_LIVENESS * p->hb_ivl_ms) {
        /* Silence after a handshake that worked: the broker is gone or stalled. Without
         * one: a failed handshake was said above; else nothing answers at all. */
        if (p->handshake_ok)
            zc_warn("broker_silent", "endpoint=%s silent_ms=%lld reconnect_in_ms=%lld", p->endpoint,
                    (long long)(now - p->last_recv_ms), (long long)p->backoff_ms);
        else if (!p->hs_failed)
            zc_warn("broker_unreachable", "endpoint=%s waited_ms=%lld retry_in_ms=%lld hint=\"is the broker running, "
                                          "and is this its control endpoint?\"",
                    p->endpoint, (long long)(now - p->last_recv_ms), (long long)p->backoff_ms);
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
        if (!p->handshake_ok) handshake_ok(p, 0, 0); /* a message is proof enough */
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
