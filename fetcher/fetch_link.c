/* fetch_link.c -- the fetcher's link to the broker: JOBs in, DONE and CREDIT out. */
#include "fetch_link.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "zc_log.h"
#include "zc_proof.h"
#include "zc_robots.h"
#include "zc_url.h"

int fetch_link_open(fetch_link *k, void *zctx, const fetch_config *cfg, char *err, size_t errlen) {
    memset(k, 0, sizeof(*k));
    if (zc_peer_open(&k->peer, zctx, cfg->broker, "fetcher", cfg->name, cfg->heartbeat_ms, (int)cfg->concurrency,
                     err, errlen) != 0)
        return -1;
    k->open = 1;
    return 0;
}

void fetch_link_close(fetch_link *k) {
    if (k->open) {
        fetch_link_flush(k); /* the last answers go out before the socket lingers them away */
        zc_peer_close(&k->peer);
        k->open = 0;
    }
    zc_buf_free(&k->done_ok);
}

void *fetch_link_socket(const fetch_link *k) { return k->open ? k->peer.sock : NULL; }

static void count(fetch_link *k, fetch_outcome o) {
    if (o == FETCH_OK) k->st.ok++;
    else if (o == FETCH_RETRY) k->st.retry++;
    else if (o == FETCH_REDIRECT) k->st.redirect++;
    else k->st.fail++;
}

static void log_done(const char *url, size_t len, fetch_outcome o, long status, const char *rbuf, const char *reason) {
    char qu[512], qr[256];
    char ubuf[ZC_URL_MAX + 1];
    size_t ul = len < ZC_URL_MAX ? len : ZC_URL_MAX;
    memcpy(ubuf, url, ul);
    ubuf[ul] = '\0';
    zc_debug("done", "url=%s outcome=%s status=%ld retry_after_ms=%s reason=%s", zc_log_q(qu, sizeof(qu), ubuf),
             fetch_outcome_name(o), status, rbuf, zc_log_q(qr, sizeof(qr), reason));
}

void fetch_link_done(fetch_link *k, const char *url, size_t len, fetch_outcome o, long status,
                     int64_t retry_after_ms, const char *reason) {
    char sbuf[24], rbuf[24];
    snprintf(sbuf, sizeof(sbuf), "%ld", status);
    snprintf(rbuf, sizeof(rbuf), "%" PRId64, o == FETCH_RETRY ? retry_after_ms : 0);
    zc_frame f[5] = { { url, len, NULL, NULL }, ZC_FSTR(fetch_outcome_name(o)), ZC_FSTR(sbuf), ZC_FSTR(rbuf), ZC_FSTR(reason) };
    count(k, o);
    if (zc_log_enabled(ZC_LOG_DEBUG)) log_done(url, len, o, status, rbuf, reason);
    if (o == FETCH_OK && status == 200 && zc_buf_add(&k->done_ok, url, len, '\n') == 0) {
        k->done_ok_n++;
        return;
    }
    if (zc_peer_send(&k->peer, ZC_MSG_DONE, f, 5) != 0) {
        k->st.lost++;
        zc_warn("done_lost", "outcome=%s reason=\"%s\" lost=%" PRIu64, fetch_outcome_name(o), zmq_strerror(errno),
                k->st.lost);
    }
}

void fetch_link_robots(fetch_link *k, const char *url, size_t len, long status, const char *body, size_t blen) {
    char sbuf[24];
    snprintf(sbuf, sizeof(sbuf), "%ld", status);
    if (blen > ZC_ROBOTS_MAX_BYTES) blen = ZC_ROBOTS_MAX_BYTES;
    zc_frame f[5] = { { url, len, NULL, NULL }, ZC_FSTR("robots_txt"), ZC_FSTR(sbuf), ZC_FSTR("0"), { body ? body : "", body ? blen : 0, NULL, NULL } };
    k->st.ok++;
    if (zc_peer_send(&k->peer, ZC_MSG_DONE, f, 5) != 0) {
        k->st.lost++;
        zc_warn("done_lost", "outcome=robots_txt reason=\"%s\" lost=%" PRIu64, zmq_strerror(errno), k->st.lost);
    }
}

void fetch_link_flush(fetch_link *k) {
    if (k->done_ok_n == 0) return;
    zc_frame f[5] = { { k->done_ok.p, k->done_ok.len, NULL, NULL }, ZC_FSTR("ok"), ZC_FSTR("200"), ZC_FSTR("0"), ZC_FSTR("") };
    if (zc_peer_send(&k->peer, ZC_MSG_DONE, f, 5) != 0) {
        k->st.lost += (uint64_t)k->done_ok_n;
        zc_warn("done_lost", "outcome=ok urls=%ld reason=\"%s\" lost=%" PRIu64, k->done_ok_n, zmq_strerror(errno),
                k->st.lost);
    }
    k->done_ok.len = 0;
    k->done_ok_n = 0;
}

int fetch_link_credit(fetch_link *k, long n) {
    char nbuf[24];
    snprintf(nbuf, sizeof(nbuf), "%ld", n);
    zc_frame f[1] = { ZC_FSTR(nbuf) };
    if (zc_peer_send(&k->peer, ZC_MSG_CREDIT, f, 1) != 0) {
        zc_warn("credit_send_failed", "n=%ld reason=\"%s\"", n, zmq_strerror(errno));
        return -1;
    }
    k->st.credits += (uint64_t)n;
    return 0;
}

int fetch_link_tick(fetch_link *k, int64_t now, long hello_credit) {
    return zc_peer_tick(&k->peer, now, (int)hello_credit) == 1;
}

int64_t fetch_link_timeout(const fetch_link *k, int64_t now) { return zc_peer_timeout(&k->peer, now); }

/* NULL when a JOB's attempts frame holds one decimal number per URL and its
 * proofs frame is empty or holds one proof (at most ZC_PROOF_MAX - 1 bytes) per
 * URL; else what is wrong. */
static const char *job_wrong(const zc_msg *m) {
    size_t ulen, alen, plen;
    const char *urls = zc_msg_data(m, 0, &ulen), *att = zc_msg_data(m, 1, &alen), *pr = zc_msg_data(m, 2, &plen);
    size_t nu = 1, na = 1, np = 1, run = 0;
    for (size_t i = 0; i < ulen; i++) nu += urls[i] == '\n';
    for (size_t i = 0; i < alen; i++) {
        if (att[i] == '\n') na++;
        else if (att[i] < '0' || att[i] > '9') return "JOB attempts are not one number per url";
    }
    if (na != nu || alen == 0 || att[0] == '\n' || att[alen - 1] == '\n')
        return "JOB attempts are not one number per url";
    for (size_t i = 0; i < plen; i++) {
        if (pr[i] == '\n') {
            np++;
            run = 0;
        } else if (++run >= ZC_PROOF_MAX) {
            return "JOB proof too long";
        }
    }
    if (plen > 0 && np != nu) return "JOB proofs are not one per url";
    return NULL;
}

/* The next '\n'-separated item of frame i from *pos: 0 when none is left. */
static int next_item(const zc_msg *m, int i, size_t *pos, const char **item, size_t *len) {
    size_t flen;
    const char *f = zc_msg_data(m, i, &flen);
    if (*pos > flen) return 0;
    const char *p = f + *pos, *nl = memchr(p, '\n', flen - *pos);
    *item = p;
    *len = nl ? (size_t)(nl - p) : flen - *pos;
    *pos += *len + 1;
    return 1;
}

int fetch_link_job_url(const zc_msg *m, size_t *pos, size_t *ppos, const char **url, size_t *len, const char **proof,
                       size_t *plen) {
    if (!next_item(m, 0, pos, url, len)) return 0;
    size_t flen;
    zc_msg_data(m, 2, &flen);
    if (flen == 0 || !next_item(m, 2, ppos, proof, plen)) {
        *proof = "";
        *plen = 0;
    }
    return 1;
}

/* Whether m is one the fetcher acts on; others are logged, counted and closed. */
static fetch_link_kind accept_msg(fetch_link *k, zc_msg *m) {
    if (m->type == ZC_MSG_JOB) { /* one URL, or several: urls, attempts and proofs, each '\n'-separated */
        const char *wrong = job_wrong(m);
        if (!wrong) return FETCH_LINK_JOB;
        k->st.dropped++;
        zc_warn("bad_message", "from=broker reason=\"%s\" dropped=%" PRIu64, wrong, k->st.dropped);
    } else if (m->type == ZC_MSG_SHUTDOWN) {
        zc_msg_close(m);
        return FETCH_LINK_SHUTDOWN;
    } else {
        k->st.dropped++;
        zc_warn("bad_message", "from=broker reason=\"unexpected %s\" dropped=%" PRIu64, zc_msg_type_name(m->type),
                k->st.dropped);
    }
    zc_msg_close(m);
    return FETCH_LINK_NONE;
}

fetch_link_kind fetch_link_recv(fetch_link *k, zc_msg *m) {
    for (;;) {
        if (!fetch_link_socket(k)) return FETCH_LINK_NONE;
        int ev = 0;
        size_t sz = sizeof(ev);
        if (zmq_getsockopt(k->peer.sock, ZMQ_EVENTS, &ev, &sz) != 0) {
            zc_warn("zmq_events_failed", "socket=broker reason=\"%s\"", zmq_strerror(errno));
            return FETCH_LINK_NONE;
        }
        if (!(ev & ZMQ_POLLIN)) return FETCH_LINK_NONE;
        int rc = zc_peer_recv(&k->peer, m);
        if (rc == -2) {
            k->st.dropped++;
            continue;
        }
        if (rc != 0) {
            if (errno == EAGAIN) continue; /* heartbeats only: ask ZMQ_EVENTS again */
            zc_warn("broker_recv_failed", "reason=\"%s\"", zmq_strerror(errno));
            return FETCH_LINK_NONE;
        }
        fetch_link_kind kind = accept_msg(k, m);
        if (kind != FETCH_LINK_NONE) return kind;
    }
}
