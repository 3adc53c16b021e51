/* fetch_loop.c -- the fetcher's single event loop: curl multi + ZeroMQ on one epoll. */
#include "fetch_loop.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "fetch_event.h"
#include "fetch_guard.h"
#include "fetch_link.h"
#include "fetch_pages.h"
#include "fetch_xfer.h"
#include "zc_log.h"
#include "zc_signal.h"
#include "zc_time.h"

#define FETCH_MAX_EVENTS 256
/* Re-check this often while pages wait for the pages socket, transfers are paused
 * or credit is withheld: ZeroMQ frees sent pages on its own thread, without an
 * event on our epoll. */
#define FETCH_PENDING_RETRY_MS 50

struct fetch_loop {
    fetch_config cfg;
    void *zctx;
    fetch_event ev;
    fetch_pool pool;
    fetch_link link;
    fetch_pages pages;
    void *peer_sock_reg; /* the broker socket whose ZMQ_FD is in epoll */
    int peer_fd_reg;
    int draining;
    int64_t drain_deadline;
    int64_t next_stats;
    sigset_t waitmask; /* signal mask while in epoll_pwait */
};

/* ---- jobs in, answers out ------------------------------------------------------ */

static void begin_drain(fetch_loop *l, const char *why) {
    if (l->draining) return;
    l->draining = 1;
    l->drain_deadline = zc_now_ms() + l->cfg.drain_ms;
    zc_info("draining", "why=%s signal=%d in_flight=%ld pending_pages=%ld drain_ms=%ld", why,
            zc_signal_stop_requested(), l->pool.active.n, l->pool.pending.n, l->cfg.drain_ms);
}

/* Starts one JOB's URL with its proof of lease; whatever cannot start is answered at once. */
static void job_start(fetch_loop *l, const char *url, size_t len, const char *proof, size_t plen) {
    fetch_result r;
    if (l->draining) {
        l->pool.st.jobs++;
        fetch_link_done(&l->link, url, len, FETCH_RETRY, 0, 0, "shutdown");
        return;
    }
    if (fetch_xfer_start(&l->pool, url, len, proof, plen, &r) != 0)
        fetch_link_done(&l->link, url, len, r.outcome, r.status, r.retry_after_ms, r.reason);
}

/* A transfer left the multi handle: its next hop runs, or its page waits for the
 * pages socket, or it is answered now. */
static void xfer_finished(fetch_loop *l, fetch_xfer *x, CURLcode rc) {
    fetch_result r;
    switch (fetch_xfer_finish(&l->pool, x, rc, &r)) {
    case FETCH_END_HOP:
    case FETCH_END_PAGE:
        return;
    case FETCH_END_ROBOTS:
        fetch_link_robots(&l->link, x->url, x->url_len, x->status, x->body, x->len);
        break;
    case FETCH_END_DONE:
        fetch_link_done(&l->link, x->url, x->url_len, r.outcome, r.status, r.retry_after_ms, r.reason);
        break;
    }
    fetch_xfer_recycle(&l->pool, x);
}

/* curl_multi_socket_action plus the completion drain. Returns 0, or -1 when the
 * multi handle itself is broken. */
static int curl_action(fetch_loop *l, int fd, uint32_t events, char *err, size_t errlen) {
    int rc = fetch_event_action(&l->ev, fd, events, err, errlen);
    CURLcode res;
    CURL *easy;
    while ((easy = fetch_event_done(&l->ev, &res))) {
        char *priv = NULL;
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv) {
            zc_error("curl_private_missing", NULL);
            continue;
        }
        xfer_finished(l, (fetch_xfer *)(void *)priv, res);
    }
    return rc;
}

/* Sends waiting pages while the PUSH socket takes them, each followed by its DONE. */
static void pages_flush(fetch_loop *l, int force) {
    if (!force && !l->pool.pending.head) return;
    char reason[128];
    while (fetch_pages_writable(&l->pages)) {
        fetch_xfer *x = fetch_pool_next_page(&l->pool);
        if (!x) return;
        if (fetch_pages_send(&l->pages, &l->pool, x, reason, sizeof(reason)) == 0)
            fetch_link_done(&l->link, x->url, x->url_len, FETCH_OK, x->status, 0, "");
        else /* the body is gone with the failed send: the broker fetches again */
            fetch_link_done(&l->link, x->url, x->url_len, FETCH_RETRY, x->status, 0, reason);
        fetch_xfer_recycle(&l->pool, x);
    }
}

/* Drain deadline passed: every transfer and waiting page is answered "shutdown". */
static void abort_all(fetch_loop *l) {
    fetch_xfer *x;
    long n = 0;
    while ((x = fetch_pool_abort_next(&l->pool))) {
        fetch_link_done(&l->link, x->url, x->url_len, FETCH_RETRY, x->status, 0, "shutdown");
        fetch_xfer_recycle(&l->pool, x);
        n++;
    }
    if (n) zc_warn("drain_timeout", "aborted=%ld", n);
}

/* ---- credit and the broker socket ------------------------------------------------- */

/* Free slots the broker may use: none while pages wait, while the pages held
 * weigh more than --max-held-bytes, or while draining. */
static int credit_blocked(fetch_loop *l) {
    return l->draining || l->pool.pending.head != NULL || fetch_pool_held(&l->pool) >= l->cfg.max_held_bytes;
}

/* One CREDIT for every slot freed since the last one, after the DONE batch that
 * freed them. Returns 1 if one was sent. */
static int credit_flush(fetch_loop *l) {
    fetch_link_flush(&l->link);
    if (l->pool.freed <= 0 || credit_blocked(l) || !fetch_link_socket(&l->link)) return 0;
    if (fetch_link_credit(&l->link, l->pool.freed) != 0) return 0; /* kept for the next turn */
    l->pool.freed = 0;
    return 1;
}

/* Keeps the broker socket's ZMQ_FD in epoll: a tick may close the socket and open
 * a new one, so this runs right after every tick (before curl can reuse the old
 * descriptor number). */
static int peer_sync_fd(fetch_loop *l) {
    void *sock = fetch_link_socket(&l->link);
    if (sock == l->peer_sock_reg) return 0;
    if (l->peer_fd_reg >= 0) fetch_event_unwatch(&l->ev, l->peer_fd_reg);
    l->peer_sock_reg = NULL;
    l->peer_fd_reg = -1;
    if (!sock) return 0;
    int fd;
    size_t sz = sizeof(fd);
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &sz) != 0) {
        zc_error("zmq_fd_failed", "socket=broker reason=\"%s\"", zmq_strerror(errno));
        return -1;
    }
    if (fetch_event_watch(&l->ev, fd, EPOLLIN, FETCH_EV_PEER) != 0) {
        zc_error("epoll_add_failed", "socket=broker reason=\"%s\"", strerror(errno));
        return -1;
    }
    l->peer_sock_reg = sock;
    l->peer_fd_reg = fd;
    return 0;
}

/* Heartbeats and reconnects. A fresh HELLO grants every free slot (none while
 * credit is blocked; those are granted later by CREDIT). */
static int peer_tick(fetch_loop *l, int64_t now) {
    long free_slots = l->cfg.concurrency - l->pool.busy;
    if (free_slots < 0) free_slots = 0;
    if (fetch_link_tick(&l->link, now, credit_blocked(l) ? 0 : free_slots))
        l->pool.freed = credit_blocked(l) ? free_slots : 0;
    return peer_sync_fd(l);
}

/* Receives everything waiting from the broker: JOBs start here. */
static void peer_drain(fetch_loop *l) {
    zc_msg m;
    fetch_link_kind kind;
    while ((kind = fetch_link_recv(&l->link, &m)) != FETCH_LINK_NONE) {
        if (kind == FETCH_LINK_SHUTDOWN) {
            begin_drain(l, "shutdown");
            continue;
        }
        const char *url, *proof;
        size_t len, plen, pos = 0, ppos = 0;
        while (fetch_link_job_url(&m, &pos, &ppos, &url, &len, &proof, &plen)) job_start(l, url, len, proof, plen);
        zc_msg_close(&m);
    }
}

/* ---- the loop ---------------------------------------------------------------- */

static void log_stats(fetch_loop *l) {
    const fetch_pool *p = &l->pool;
    const fetch_link *k = &l->link;
    zc_info("stats", "jobs=%" PRIu64 " ok=%" PRIu64 " retry=%" PRIu64 " fail=%" PRIu64 " redirect=%" PRIu64 " blocked=%" PRIu64 " bytes=%" PRIu64 " in_flight=%ld pending_pages=%ld"
                     " held_bytes=%" PRId64 " paused=%ld pauses=%" PRIu64 " sockets=%ld credits=%" PRIu64 " dropped=%" PRIu64 " lost=%" PRIu64 " reconnects=%" PRIu64,
            p->st.jobs, k->st.ok, k->st.retry, k->st.fail, k->st.redirect, p->st.blocked, l->pages.bytes,
            p->active.n, p->pending.n, fetch_pool_held(&l->pool), p->paused_n, p->st.pauses, p->sockets, k->st.credits,
            k->st.dropped, k->st.lost, k->peer.reconnects);
}

static int loop_timeout(fetch_loop *l, int64_t now) {
    int64_t t = l->cfg.heartbeat_ms;
    int64_t p = fetch_link_timeout(&l->link, now);
    if (p < t) t = p;
    int64_t c = fetch_event_curl_wait(&l->ev, now);
    if (c >= 0 && c < t) t = c;
    if (l->next_stats - now < t) t = l->next_stats - now;
    int waiting = l->pool.pending.head || l->pool.paused_n > 0 ||
                  (l->pool.freed > 0 && !l->draining && credit_blocked(l));
    if (waiting && t > FETCH_PENDING_RETRY_MS) t = FETCH_PENDING_RETRY_MS;
    if (l->draining && l->drain_deadline - now < t) t = l->drain_deadline - now;
    return t < 0 ? 0 : (int)t;
}

/* One turn: wait, let curl work, then pages, credit and the broker. Returns 0, or
 * -1 with a reason when epoll or the multi handle failed. */
static int loop_turn(fetch_loop *l, int64_t now, char *err, size_t errlen) {
    struct epoll_event evs[FETCH_MAX_EVENTS];
    int n = fetch_event_wait(&l->ev, evs, FETCH_MAX_EVENTS, loop_timeout(l, now), &l->waitmask);
    if (n < 0) {
        snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
        return -1;
    }
    int pages_ev = 0;
    for (int i = 0; i < n; i++) {
        int kind = fetch_event_kind(&evs[i]);
        if (kind == FETCH_EV_CURL) {
            if (curl_action(l, fetch_event_fd(&evs[i]), evs[i].events, err, errlen) != 0) return -1;
        } else if (kind == FETCH_EV_PAGES) {
            pages_ev = 1;
        } /* FETCH_EV_PEER: peer_drain below runs every turn anyway */
    }
    now = zc_now_ms();
    if (fetch_event_curl_wait(&l->ev, now) == 0 && curl_action(l, CURL_SOCKET_TIMEOUT, 0, err, errlen) != 0) return -1;
    pages_flush(l, pages_ev);
    fetch_pool_resume(&l->pool);
    credit_flush(l);
    if (peer_tick(l, now) != 0) {
        snprintf(err, errlen, "cannot watch the broker socket");
        return -1;
    }
    peer_drain(l);                      /* JOBs start here; its ZMQ_EVENTS query re-arms ZMQ_FD */
    if (credit_flush(l)) peer_drain(l); /* JOBs refused at once give credit back */
    if (now >= l->next_stats) {
        log_stats(l);
        l->next_stats = now + l->cfg.stats_ms;
    }
    return 0;
}

int fetch_loop_run(fetch_loop *l, char *err, size_t errlen) {
    int rc = -1;
    sigset_t block, old;
    /* SIGINT/SIGTERM/SIGHUP only arrive inside epoll_pwait: no lost wake-up. */
    if (sigemptyset(&block) != 0 || sigaddset(&block, SIGINT) != 0 || sigaddset(&block, SIGTERM) != 0 ||
        sigaddset(&block, SIGHUP) != 0 || sigprocmask(SIG_BLOCK, &block, &old) != 0) {
        snprintf(err, errlen, "sigprocmask: %s", strerror(errno));
        return -1;
    }
    l->waitmask = old;
    if (sigdelset(&l->waitmask, SIGINT) != 0 || sigdelset(&l->waitmask, SIGTERM) != 0 ||
        sigdelset(&l->waitmask, SIGHUP) != 0) {
        snprintf(err, errlen, "sigdelset: %s", strerror(errno));
        goto out;
    }
    l->next_stats = zc_now_ms() + l->cfg.stats_ms;
    zc_info("started", "broker=%s pages=%s concurrency=%ld recv_buffer=%ld max_held_bytes=%ld "
                       "max_redirs=%ld guard=%s name=%s",
            l->cfg.broker, l->cfg.pages, l->cfg.concurrency, l->pool.recv_buffer, l->cfg.max_held_bytes,
            l->cfg.max_redirs, l->pool.guard ? "on" : "off", l->link.peer.name);
    for (;;) {
        if (zc_signal_stop_requested()) begin_drain(l, "signal");
        int64_t now = zc_now_ms();
        if (l->draining) {
            if (!l->pool.active.head && !l->pool.pending.head) break;
            if (now >= l->drain_deadline) {
                abort_all(l);
                break;
            }
        }
        if (loop_turn(l, now, err, errlen) != 0) goto out;
    }
    rc = 0;
    log_stats(l);
    zc_info("stopped", "reason=%s", zc_signal_stop_requested() ? "signal" : "shutdown");
out:
    if (sigprocmask(SIG_SETMASK, &old, NULL) != 0 && rc == 0) {
        snprintf(err, errlen, "sigprocmask: %s", strerror(errno));
        rc = -1;
    }
    return rc;
}

/* ---- setup and teardown ------------------------------------------------------ */

fetch_loop *fetch_loop_new(const fetch_config *cfg, char *err, size_t errlen) {
    fetch_loop *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->cfg = *cfg;
    l->ev.epfd = -1;
    l->peer_fd_reg = -1;
    l->pages.fd = -1;
    if (fetch_config_check(&l->cfg) != 0) {
        snprintf(err, errlen, "bad configuration");
        goto err;
    }
    if (fetch_event_open(&l->ev, fetch_max_conns(l->cfg.concurrency), err, errlen) != 0) goto err;
    fetch_pool_open(&l->pool, &l->cfg, l->ev.multi, l->ev.share,
                    fetch_guard_wanted(l->cfg.allow_private, l->cfg.allow_private_origins, l->cfg.proxy));
    l->zctx = zmq_ctx_new();
    if (!l->zctx) {
        snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
        goto err;
    }
    if (fetch_pages_open(&l->pages, l->zctx, &l->cfg, err, errlen) != 0) goto err;
    if (fetch_event_watch(&l->ev, l->pages.fd, EPOLLIN, FETCH_EV_PAGES) != 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        goto err;
    }
    if (fetch_link_open(&l->link, l->zctx, &l->cfg, err, errlen) != 0) goto err;
    if (peer_sync_fd(l) != 0) {
        snprintf(err, errlen, "cannot watch the broker socket");
        goto err;
    }
    return l;
err:
    fetch_loop_free(l);
    return NULL;
}

void fetch_loop_free(fetch_loop *l) {
    if (!l) return;
    fetch_pool_close(&l->pool);
    fetch_event_close(&l->ev);
    fetch_link_close(&l->link);
    fetch_pages_close(&l->pages);
    if (l->zctx) {
        int rc;
        while ((rc = zmq_ctx_term(l->zctx)) != 0 && errno == EINTR) {
        }
        if (rc != 0) zc_warn("zmq_ctx_term_failed", "reason=\"%s\"", zmq_strerror(errno));
    }
    free(l);
}
