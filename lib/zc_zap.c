/* zc_zap.c -- the ZAP handler and the watch on failed handshakes (zc_zap.h). */
#include "zc_zap.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "zc_log.h"
#include "zc_time.h"

#define ZAP_ENDPOINT     "inproc://zeromq.zap.01" /* fixed by ZeroMQ's RFC 27 */
#define ZAP_CTL          "inproc://zc-curve-ctl"  /* monitor endpoints to watch */
#define ZAP_LOG_EVERY_MS 1000

static atomic_int zap_running;
static atomic_ullong zap_refused;
/* Written by zc_zap_start before the thread starts; only read by it afterwards. */
static const zc_cert_store *zap_keys;
static void *zap_ctx;

uint64_t zc_zap_refused(void) { return (uint64_t)atomic_load(&zap_refused); }

static int zap_send(void *s, const char *frame, size_t len, int more) {
    return zmq_send(s, frame, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/* Rate-limited logging of refusals: at most one line a second, with the count of
 * the lines left out since the last one. Only the ZAP thread calls it. */
typedef struct zap_log {
    int64_t last;
    unsigned long long quiet;
} zap_log;

static void refusal(zap_log *lg, const char *event, const char *fmt_tail, const char *a, const char *b,
                    const char *why) {
    unsigned long long total = atomic_fetch_add(&zap_refused, 1) + 1;
    int64_t now = zc_now_ms();
    if (now - lg->last < ZAP_LOG_EVERY_MS) {
        lg->quiet++;
        return;
    }
    char qa[160], qb[80];
    zc_warn(event, fmt_tail, zc_log_q(qa, sizeof(qa), a), zc_log_q(qb, sizeof(qb), b), why, total, lg->quiet);
    lg->last = now;
    lg->quiet = 0;
}

/* Nonzero when the role of the key called name (up to its first '-' or '.')
 * is one of the comma-separated roles in domain[0..dlen). */
static int role_admitted(const char *name, const char *domain, size_t dlen) {
    size_t rl = strcspn(name, "-.");
    const char *p = domain, *end = domain + dlen;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (n == rl && memcmp(p, name, rl) == 0) return 1;
        p += n + 1;
    }
    return 0;
}

/* Judges one request (frames f[0..n)) and answers it. Returns -1 when the
 * socket failed (the context is ending). */
static int zap_handle(void *s, zmq_msg_t *f, int n, zap_log *lg) {
    const char *status = "400", *text = "key not authorized", *user = "";
    int ok = 0;
    if (n < 6 || zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0) {
        status = "500";
        text = "bad ZAP request";
    } else if (zmq_msg_size(&f[5]) == 5 && !memcmp(zmq_msg_data(&f[5]), "CURVE", 5) && n >= 7 &&
               zmq_msg_size(&f[6]) == 32) {
        const uint8_t *key = zmq_msg_data(&f[6]);
        for (int i = 0; i < zap_keys->n; i++) {
            if (memcmp(zap_keys->keys[i].key, key, 32) != 0) continue;
            if (!role_admitted(zap_keys->keys[i].name, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]))) {
                text = "key's role not admitted on this endpoint";
                break;
            }
            ok = 1;
            status = "200";
            text = "OK";
            user = zap_keys->keys[i].name;
            break;
        }
    } else {
        text = "CURVE only";
    }
    if (!ok) {
        char addr[64] = "", key[ZC_CERT_Z85_LEN + 1] = "-";
        if (n >= 4) {
            size_t al = zmq_msg_size(&f[3]) < sizeof(addr) - 1 ? zmq_msg_size(&f[3]) : sizeof(addr) - 1;
            memcpy(addr, zmq_msg_data(&f[3]), al);
            addr[al] = '\0';
        }
        if (n >= 7 && zmq_msg_size(&f[6]) == 32 && !zmq_z85_encode(key, zmq_msg_data(&f[6]), 32))
            snprintf(key, sizeof(key), "-");
        refusal(lg, "auth_refused", "address=%s key=%s reason=\"%s\" refused=%llu suppressed=%llu", addr, key,
                text);
    }
    if (n < 2) return 0; /* nothing to answer to: libzmq never sends this */
    if (zap_send(s, "1.0", 3, 1) != 0 ||
        zap_send(s, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), 1) != 0 ||
        zap_send(s, status, 3, 1) != 0 || zap_send(s, text, strlen(text), 1) != 0 ||
        zap_send(s, user, strlen(user), 1) != 0 || zap_send(s, "", 0, 0) != 0)
        return -1;
    return 0;
}

/* Reads every frame of one message into f[0..8) (the rest are dropped). Returns
 * the number of frames, or -1 when the socket failed. */
static int recv_frames(void *s, zmq_msg_t *f) {
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        if (zmq_msg_init(&m) != 0) goto err;
        if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (errno == EINTR) continue;
            if (errno == EAGAIN && n == 0) return 0;
            goto err;
        }
        more = zmq_msg_more(&m);
        if (n < 8) f[n++] = m;
        else zmq_msg_close(&m);
    }
    return n;
err:
    for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
    return -1;
}

/* ---- handshakes that failed before ZAP ---- */

static atomic_ullong hs_refused;
static pthread_mutex_t hs_log_lock = PTHREAD_MUTEX_INITIALIZER;
static zap_log hs_log; /* under hs_log_lock: the ZAP thread and a socket's own monitor share it */

uint64_t zc_zap_handshakes_refused(void) { return (uint64_t)atomic_load(&hs_refused); }

/* What a failed handshake's event value most likely means, for the log. */
static const char *handshake_detail(unsigned event, uint32_t value) {
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) return "handshake not completed (peer hung up or junk)";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) return "no CURVE (mechanism mismatch)";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC) return "cryptographic error: not this server's key?";
    return "protocol error";
}

void zc_zap_handshake_event(unsigned event, uint32_t value, const char *endpoint) {
    /* ZMQ_EVENT_HANDSHAKE_FAILED_AUTH is a refusal the ZAP handler counted and
     * logged already, with the key and the address: it is not counted twice. */
    if (event != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && event != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) return;
    unsigned long long total = atomic_fetch_add(&hs_refused, 1) + 1;
    int64_t now = zc_now_ms();
    unsigned long long quiet = 0;
    int say = 0;
    if (pthread_mutex_lock(&hs_log_lock) != 0) return; /* counted; the line is only lost */
    if (now - hs_log.last < ZAP_LOG_EVERY_MS) {
        hs_log.quiet++;
    } else {
        say = 1;
        quiet = hs_log.quiet;
        hs_log.last = now;
        hs_log.quiet = 0;
    }
    pthread_mutex_unlock(&hs_log_lock);
    if (!say) return;
    char qe[160], code[32];
    int protocol = event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
    if (protocol) snprintf(code, sizeof(code), "code=0x%08x", (unsigned)value); /* a ZMQ_PROTOCOL_ERROR_* */
    else snprintf(code, sizeof(code), "errno=%u", (unsigned)value);
    zc_warn("handshake_refused", "endpoint=%s reason=%s detail=\"%s\" %s refused=%llu suppressed=%llu",
            zc_log_q(qe, sizeof(qe), endpoint ? endpoint : ""), protocol ? "protocol" : "other",
            handshake_detail(event, value), code, total, quiet);
}

/* One event of a server socket's monitor, read by the ZAP thread: frame 0 holds
 * the 16-bit event and its 32-bit value, frame 1 the endpoint. */
static void monitor_event(zmq_msg_t *f, int n) {
    if (n < 2 || zmq_msg_size(&f[0]) != 6) return;
    uint16_t ev;
    uint32_t value;
    memcpy(&ev, zmq_msg_data(&f[0]), sizeof(ev));
    memcpy(&value, (const char *)zmq_msg_data(&f[0]) + 2, sizeof(value));
    char ep[128];
    size_t el = zmq_msg_size(&f[1]) < sizeof(ep) - 1 ? zmq_msg_size(&f[1]) : sizeof(ep) - 1;
    memcpy(ep, zmq_msg_data(&f[1]), el);
    ep[el] = '\0';
    zc_zap_handshake_event(ev, value, ep);
}

#define ZAP_MONITORS 16

/* The ZAP thread: answers ZAP requests on socks[0], takes the names of monitor
 * endpoints on socks[1] (one per server socket) and watches them. */
static void *zap_main(void *arg) {
    void **start = arg;
    void *socks[2 + ZAP_MONITORS] = { start[0], start[1] };
    void *ctx = start[2];
    free(start);
    int ns = 2;
    zap_log lg = { 0, 0 };
    for (;;) {
        zmq_pollitem_t items[2 + ZAP_MONITORS];
        for (int i = 0; i < ns; i++) items[i] = (zmq_pollitem_t){ socks[i], 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(items, ns, -1) < 0) {
            if (errno == EINTR) continue;
            break; /* ETERM: the context is ending */
        }
        int failed = 0, polled = ns; /* a monitor added below is polled next turn */
        for (int i = 0; i < polled && !failed; i++) {
            if (!(items[i].revents & ZMQ_POLLIN)) continue;
            zmq_msg_t f[8];
            int n = recv_frames(socks[i], f);
            if (n < 0) {
                failed = 1;
                break;
            }
            if (i == 0 && n > 0) {
                failed = zap_handle(socks[0], f, n, &lg) != 0;
            } else if (i == 1 && n > 0 && ns < 2 + ZAP_MONITORS) {
                char ep[64];
                size_t el = zmq_msg_size(&f[0]) < sizeof(ep) - 1 ? zmq_msg_size(&f[0]) : sizeof(ep) - 1;
                memcpy(ep, zmq_msg_data(&f[0]), el);
                ep[el] = '\0';
                void *m = zmq_socket(ctx, ZMQ_PAIR);
                int linger = 0;
                if (m && zmq_setsockopt(m, ZMQ_LINGER, &linger, sizeof(linger)) == 0 && zmq_connect(m, ep) == 0) {
                    socks[ns++] = m;
                    zc_debug("handshake_watch", "monitor=%s", ep);
                } else {
                    zc_warn("monitor_failed", "endpoint=%s reason=\"%s\"", ep, zmq_strerror(errno));
                    if (m) zmq_close(m);
                }
            } else if (i >= 2 && n > 0) {
                monitor_event(f, n);
            }
            for (int k = 0; k < n; k++) zmq_msg_close(&f[k]);
        }
        if (failed) break;
    }
    for (int i = 0; i < ns; i++) zmq_close(socks[i]);
    atomic_store(&zap_running, 0);
    return NULL;
}

int zc_zap_start(void *ctx, const zc_cert_store *keys, char *err, size_t errlen) {
    if (atomic_load(&zap_running)) {
        if (zap_ctx == ctx) return 0;
        snprintf(err, errlen, "a ZAP handler already runs on another ZeroMQ context");
        return -1;
    }
    if (keys->n == 0) {
        snprintf(err, errlen, "%s", keys->err);
        return -1;
    }
    zap_keys = keys;
    void **start = calloc(3, sizeof(*start));
    void *rep = zmq_socket(ctx, ZMQ_REP), *ctl = zmq_socket(ctx, ZMQ_PULL);
    int linger = 0, rc = 0;
    if (!start || !rep || !ctl) {
        snprintf(err, errlen, "cannot start the ZAP handler: %s", start ? zmq_strerror(errno) : "out of memory");
        goto err;
    }
    if (zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof(linger)) != 0 || zmq_bind(rep, ZAP_ENDPOINT) != 0 ||
        zmq_setsockopt(ctl, ZMQ_LINGER, &linger, sizeof(linger)) != 0 || zmq_bind(ctl, ZAP_CTL) != 0) {
        snprintf(err, errlen, "cannot start the ZAP handler: %s", zmq_strerror(errno));
        goto err;
    }
    start[0] = rep;
    start[1] = ctl;
    start[2] = ctx;
    /* Signals stay with the main thread, whose poll they must interrupt. */
    sigset_t all, old;
    pthread_attr_t attr;
    pthread_t t;
    sigfillset(&all);
    rc = pthread_attr_init(&attr);
    if (rc == 0) {
        rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (rc == 0) rc = pthread_sigmask(SIG_BLOCK, &all, &old);
        if (rc == 0) {
            atomic_store(&zap_running, 1);
            rc = pthread_create(&t, &attr, zap_main, start);
            if (rc != 0) atomic_store(&zap_running, 0);
            int mrc = pthread_sigmask(SIG_SETMASK, &old, NULL);
            if (rc == 0 && mrc != 0) zc_warn("sigmask_failed", "reason=\"%s\"", strerror(mrc));
        }
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the ZAP handler: %s", strerror(rc));
        goto err;
    }
    zap_ctx = ctx;
    return 0;
err:
    if (rep) zmq_close(rep);
    if (ctl) zmq_close(ctl);
    free(start);
    return -1;
}

int zc_zap_watch(void *ctx, void *sock, char *err, size_t errlen) {
    static atomic_int seq;
    char mon[64];
    snprintf(mon, sizeof(mon), "inproc://zc-curve-monitor-%d", atomic_fetch_add(&seq, 1));
    if (zmq_socket_monitor(sock, mon, ZC_ZAP_MONITOR_EVENTS) != 0) {
        snprintf(err, errlen, "zmq_socket_monitor: %s", zmq_strerror(errno));
        return -1;
    }
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 1000, ok = push && zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof(linger)) == 0 && zmq_connect(push, ZAP_CTL) == 0 && zmq_send(push, mon, strlen(mon), 0) >= 0;
    if (!ok) snprintf(err, errlen, "cannot watch handshakes: %s", zmq_strerror(errno));
    if (push) zmq_close(push);
    return ok ? 0 : -1;
}
