/* fetch_loop.c -- the fetcher's single event loop: curl multi + ZeroMQ on one epoll. */
#include "fetch_loop.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "zc_addr.h"
#include "zc_buf.h"
#include "zc_endpoint.h"
#include "zc_log.h"
#include "zc_robots.h"
#include "zc_list.h"
#include "zc_msg.h"
#include "zc_peer.h"
#include "zc_signal.h"
#include "zc_time.h"
#include "zc_url.h"

#define FETCH_BODY_MIN   (16 * 1024) /* first body allocation; doubles from here */
#define FETCH_MAX_EVENTS 256
/* Re-check this often while pages wait for the pages socket, transfers are paused
 * or credit is withheld: ZeroMQ frees sent pages on its own thread, without an
 * event on our epoll. */
#define FETCH_PENDING_RETRY_MS 50
/* Automatic receive buffer: all of curl's buffers together near 1 MiB, each
 * between 1 and 16 KiB (curl's default). 1000 transfers then fit in 30 MB. */
#define FETCH_RECV_BUDGET (1024L * 1024)
#define FETCH_RECV_MIN    1024L
#define FETCH_RECV_MAX    (16L * 1024)

/* epoll_data.u64 = kind << 32 | fd */
enum { EV_CURL = 1,
       EV_PEER = 2,
       EV_PAGES = 3 };
#define EV_TAG(kind, fd) (((uint64_t)(kind) << 32) | (uint32_t)(fd))

typedef struct fetch_xfer fetch_xfer;

/* A doubly-linked list of transfers (active, pending pages, idle handles). */
typedef struct fetch_list {
    fetch_xfer *head, *tail;
    long n;
} fetch_list;

/* One transfer slot: an easy handle that is reused from job to job, and the state
 * of the job it runs. The slot owns url and body until they are handed over. */
struct fetch_xfer {
    fetch_loop *loop;
    CURL *easy;
    fetch_xfer *prev, *next;
    char *url; /* the JOB url exactly (malloc'd, NUL-terminated) */
    size_t url_len;
    char *hop_url;      /* the redirect hop being fetched (malloc'd); NULL on the first */
    char *body;         /* malloc'd; handed to ZeroMQ with the PAGE */
    size_t len, cap;    /* len counts in the loop's held bytes */
    int64_t started_ms; /* monotonic: the job's timeout covers every hop */
    int64_t fetched_at_ms;
    int64_t total_ms;
    long status;
    long hops; /* redirects followed */
    unsigned too_large : 1, oom : 1, paused : 1, blocked : 1, opened : 1;
    char blocked_ip[48]; /* the last address the guard refused */
};

struct fetch_loop {
    fetch_config cfg;
    void *zctx;
    zc_peer peer;
    int peer_open;
    void *peer_sock_reg; /* the peer socket whose ZMQ_FD is in epoll */
    int peer_fd_reg;
    void *pages;
    int pages_fd;
    int epfd;
    CURLM *multi;
    CURLSH *share;         /* the TLS session cache of every easy handle */
    int64_t curl_deadline; /* monotonic ms, -1 when curl wants no timer */
    fetch_list active, pending, idle;
    long busy;      /* slots taken: active transfers + pages waiting to go */
    long ungranted; /* slots freed and not yet given back in a CREDIT */
    zc_buf done_ok; /* URLs fetched with 200 since the last DONE batch, '\n'-separated */
    long done_ok_n;
    int draining;
    int64_t drain_deadline;
    int http2;              /* CURL_HTTP_VERSION_2TLS accepted */
    int guard;              /* refuse non-public addresses (no --allow-private, no proxy) */
    long recv_buffer;       /* CURLOPT_BUFFERSIZE of every easy handle */
    int64_t held;           /* body bytes in active transfers and pending pages */
    atomic_llong zmq_bytes; /* bodies handed to ZeroMQ and not yet freed by its I/O thread */
    long paused_n;          /* transfers paused because held bytes are over the limit */
    int64_t next_stats;
    sigset_t waitmask; /* signal mask while in epoll_pwait */
    struct {
        uint64_t jobs, ok, retry, fail, redirect, blocked, pauses, bytes, dropped, credits, rejected, lost,
            pages_full;
    } st;
};

/* ---- small helpers ------------------------------------------------------ */

void fetch_config_defaults(fetch_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->broker = "tcp://127.0.0.1:5555";
    cfg->pages = "tcp://127.0.0.1:5556";
    cfg->name = "";
    cfg->user_agent = "zcrawl/0.1 (+https://github.com/zcrawl/zcrawl; polite distributed crawler)";
    cfg->proxy = "";
    cfg->concurrency = 64;
    cfg->max_body = 8L * 1024 * 1024;
    cfg->connect_timeout_ms = 5000;
    cfg->timeout_ms = 30000;
    cfg->heartbeat_ms = 1000;
    cfg->drain_ms = 5000;
    cfg->pages_hwm = 1000;
    cfg->stats_ms = 10000;
    cfg->recv_buffer = 0;
    cfg->max_redirs = 5;
    cfg->max_retry_after_ms = 600000;
    cfg->max_held_bytes = 64L * 1024 * 1024;
    cfg->allow_private = 0;
}

long fetch_recv_buffer_size(long configured, long concurrency) {
    if (configured > 0) return configured;
    long b = FETCH_RECV_BUDGET / (concurrency > 0 ? concurrency : 1);
    if (b > FETCH_RECV_MAX) b = FETCH_RECV_MAX;
    if (b < FETCH_RECV_MIN) b = FETCH_RECV_MIN;
    return b & ~1023L; /* whole KiB */
}

ZC_LIST_DEFINE(list, fetch_list, fetch_xfer)

static fetch_xfer *list_pop(fetch_list *q) {
    fetch_xfer *x = q->head;
    if (x) list_unlink(q, x);
    return x;
}

const char *fetch_outcome_name(fetch_outcome o) {
    switch (o) {
    case FETCH_OK: return "ok";
    case FETCH_RETRY: return "retry";
    case FETCH_REDIRECT: return "redirect";
    default: return "fail";
    }
}

fetch_outcome fetch_classify(CURLcode rc, long status, int too_large, int oom,
                             char *reason, size_t reasonlen) {
    if (too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(reason, reasonlen, "body too large");
        return FETCH_FAIL;
    }
    if (oom) {
        snprintf(reason, reasonlen, "out of memory");
        return FETCH_RETRY;
    }
    if (rc == CURLE_OK) {
        if (status >= 200 && status <= 299) {
            snprintf(reason, reasonlen, "%s", "");
            return FETCH_OK;
        }
        snprintf(reason, reasonlen, "http %ld", status);
        if (status == 408 || status == 429 || (status >= 500 && status <= 599) || status < 100)
            return FETCH_RETRY;
        return FETCH_FAIL; /* 404/410 gone, other 4xx, unfollowed 3xx, odd codes */
    }
    snprintf(reason, reasonlen, "curl: %s", curl_easy_strerror(rc));
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
        return FETCH_FAIL; /* asking again gives the same answer */
    default:
        return FETCH_RETRY; /* timeouts, refused/reset connections, partial bodies, DNS */
    }
}

int64_t fetch_retry_after_ms(curl_off_t secs, int64_t cap_ms) {
    if (secs <= 0 || cap_ms <= 0) return 0;
    if (secs >= cap_ms / 1000 + 1) return cap_ms; /* also keeps secs * 1000 from overflowing */
    int64_t ms = (int64_t)secs * 1000;
    return ms > cap_ms ? cap_ms : ms;
}

/* Scheme, host and port (with CURLU_DEFAULT_PORT) of url into three strings the
 * caller frees with curl_free. Returns 0, or -1 when url has no scheme or host. */
static int url_origin(const char *url, char **scheme, char **host, char **port) {
    *scheme = *host = *port = NULL;
    CURLU *u = curl_url();
    if (!u) return -1;
    int rc = -1;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, scheme, 0) != CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_HOST, host, 0) != CURLUE_OK) goto out;
    /* A scheme libcurl has no default port for (file:, gopher:, ...) gets none. */
    if (curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) != CURLUE_OK) *port = NULL;
    rc = 0;
out:
    curl_url_cleanup(u);
    if (rc != 0) {
        curl_free(*scheme);
        curl_free(*host);
        *scheme = *host = NULL;
    }
    return rc;
}

int fetch_same_origin(const char *a, const char *b) {
    char *sa, *ha, *pa, *sb, *hb, *pb;
    if (url_origin(a, &sa, &ha, &pa) != 0) return -1;
    int same = -1;
    if (url_origin(b, &sb, &hb, &pb) == 0) {
        same = strcasecmp(sa, sb) == 0 && strcasecmp(ha, hb) == 0 && pa && pb && strcmp(pa, pb) == 0;
        curl_free(sb);
        curl_free(hb);
        curl_free(pb);
    }
    curl_free(sa);
    curl_free(ha);
    curl_free(pa);
    return same;
}

fetch_redir fetch_redirect_decide(const char *job_url, const char *target, long hops, long max_redirs) {
    if (!target || !*target) return FETCH_REDIR_BAD;
    size_t n = strlen(target);
    if (n > ZC_URL_MAX) return FETCH_REDIR_BAD;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)target[i] <= 0x20 || target[i] == 0x7F) return FETCH_REDIR_BAD;
    int same = fetch_same_origin(job_url, target);
    if (same < 0) {
        /* No host (file:///etc/passwd, mailto:x): another origin, when it parses at all. */
        CURLU *u = curl_url();
        int parses = u && curl_url_set(u, CURLUPART_URL, target, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK;
        curl_url_cleanup(u);
        return parses ? FETCH_REDIR_REPORT : FETCH_REDIR_BAD;
    }
    if (!same) return FETCH_REDIR_REPORT;
    return hops >= max_redirs ? FETCH_REDIR_TOO_MANY : FETCH_REDIR_FOLLOW;
}

/* ---- epoll registration --------------------------------------------------- */

/* Adds or modifies fd in the epoll set, whichever applies. Returns 0 or -1/errno. */
static int ep_set(fetch_loop *l, int fd, uint32_t events, uint64_t tag, int known) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = tag;
    int op = known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->epfd, op, fd, &ev) == 0) return 0;
    if (op == EPOLL_CTL_ADD && errno == EEXIST) op = EPOLL_CTL_MOD;
    else if (op == EPOLL_CTL_MOD && errno == ENOENT) op = EPOLL_CTL_ADD;
    else return -1;
    return epoll_ctl(l->epfd, op, fd, &ev);
}

static void ep_del(fetch_loop *l, int fd) {
    if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) != 0 && errno != ENOENT && errno != EBADF)
        zc_warn("epoll_del_failed", "fd=%d reason=\"%s\"", fd, strerror(errno));
}

/* Keeps the broker socket's ZMQ_FD in epoll: zc_peer_tick may close the socket and
 * open a new one, so this runs right after every tick (before curl can reuse the
 * old descriptor number). */
static int peer_sync_fd(fetch_loop *l) {
    void *sock = l->peer.sock;
    if (sock == l->peer_sock_reg) return 0;
    if (l->peer_fd_reg >= 0) ep_del(l, l->peer_fd_reg);
    l->peer_sock_reg = NULL;
    l->peer_fd_reg = -1;
    if (!sock) return 0;
    int fd;
    size_t sz = sizeof(fd);
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &sz) != 0) {
        zc_error("zmq_fd_failed", "socket=broker reason=\"%s\"", zmq_strerror(errno));
        return -1;
    }
    if (ep_set(l, fd, EPOLLIN, EV_TAG(EV_PEER, fd), 0) != 0) {
        zc_error("epoll_add_failed", "socket=broker reason=\"%s\"", strerror(errno));
        return -1;
    }
    l->peer_sock_reg = sock;
    l->peer_fd_reg = fd;
    return 0;
}

/* ---- curl callbacks ---------------------------------------------------- */

/* CURLMOPT_SOCKETFUNCTION: mirrors what curl wants to wait for into epoll. */
static int curl_sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)easy;
    fetch_loop *l = userp;
    if (what == CURL_POLL_REMOVE) {
        ep_del(l, s); /* curl forgets socketp with the socket */
        return 0;
    }
    uint32_t events = 0;
    if (what & CURL_POLL_IN) events |= EPOLLIN;
    if (what & CURL_POLL_OUT) events |= EPOLLOUT;
    if (ep_set(l, s, events, EV_TAG(EV_CURL, s), socketp != NULL) != 0) {
        /* The transfer then ends by its own timeout, reported as a retry. */
        zc_error("epoll_add_failed", "fd=%d reason=\"%s\"", (int)s, strerror(errno));
        return 0;
    }
    if (!socketp && curl_multi_assign(l->multi, s, l) != CURLM_OK)
        zc_warn("curl_assign_failed", "fd=%d", (int)s);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl's single timer becomes the epoll_wait deadline. */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    fetch_loop *l = userp;
    l->curl_deadline = timeout_ms < 0 ? -1 : zc_now_ms() + timeout_ms;
    return 0;
}

/* 1 when the response being received has a Content-Encoding other than identity
 * (libcurl decodes it, so the body grows past Content-Length). */
static int xfer_encoded(fetch_xfer *x) {
    struct curl_header *h = NULL;
    if (curl_easy_header(x->easy, "Content-Encoding", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h) return 0;
    return strcasecmp(h->value, "identity") != 0;
}

/* The first body allocation: Content-Length when the server said it (times four
 * for a compressed body, which curl decodes), else FETCH_BODY_MIN; at least n,
 * at most max. Small pages then cost what they weigh. */
static size_t body_first_cap(fetch_xfer *x, size_t n, size_t max) {
    size_t cap = FETCH_BODY_MIN;
    curl_off_t cl = -1;
    if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl > 0)
        cap = (uint64_t)cl > max ? max : (size_t)cl * (xfer_encoded(x) ? 4 : 1);
    if (cap < n) cap = n;
    return cap > max ? max : cap;
}

/* Page bytes this fetcher holds: bodies being received or waiting for the pages
 * socket, and bodies ZeroMQ has not sent yet. */
static int64_t held_bytes(fetch_loop *l) { return l->held + (int64_t)atomic_load(&l->zmq_bytes); }

/* A transfer may grow past the limit only when nothing else can free memory:
 * it is the oldest and no finished page waits anywhere. Without this, partial
 * bodies alone could fill the budget and every transfer would wait forever. */
static int may_exceed(fetch_loop *l, const fetch_xfer *x) {
    return x == l->active.head && !l->pending.head && atomic_load(&l->zmq_bytes) == 0;
}

/* CURLOPT_WRITEFUNCTION: appends to the body, growing it geometrically up to the
 * cap. Returning short aborts the transfer (CURLE_WRITE_ERROR); returning
 * CURL_WRITEFUNC_PAUSE keeps the bytes in libcurl (and the rest in the kernel's
 * socket buffer) until resume_paused lets the transfer go on. */
static size_t xfer_write_cb(char *ptr, size_t size, size_t nmemb, void *userp) {
    fetch_xfer *x = userp;
    fetch_loop *l = x->loop;
    size_t n = size * nmemb;
    size_t max = (size_t)l->cfg.max_body;
    if (n > max - x->len) {
        x->too_large = 1;
        return 0;
    }
    if (n && held_bytes(l) + (int64_t)n > l->cfg.max_held_bytes && !may_exceed(l, x)) {
        if (!x->paused) {
            x->paused = 1;
            l->paused_n++;
            l->st.pauses++;
        }
        return CURL_WRITEFUNC_PAUSE;
    }
    if (x->len + n > x->cap) {
        size_t cap = x->cap;
        if (cap == 0) cap = body_first_cap(x, n, max);
        while (cap < x->len + n) cap = cap > max / 2 ? max : cap * 2;
        char *b = realloc(x->body, cap);
        if (!b) {
            x->oom = 1;
            return 0;
        }
        x->body = b;
        x->cap = cap;
    }
    memcpy(x->body + x->len, ptr, n);
    x->len += n;
    l->held += (int64_t)n;
    return n;
}

/* CURLOPT_OPENSOCKETFUNCTION: every connection libcurl makes opens here, with
 * the address it is about to connect to (after DNS, for each address it tries),
 * so the SSRF guard judges the address really used: a name that resolves to a
 * public address for a check and to 127.0.0.1 for the connection is refused. */
static curl_socket_t xfer_open_cb(void *userp, curlsocktype purpose, struct curl_sockaddr *a) {
    fetch_xfer *x = userp;
    if (x->loop->guard && purpose == CURLSOCKTYPE_IPCXN) {
        zc_addr_class c = zc_addr_classify(&a->addr);
        if (c != ZC_ADDR_PUBLIC) {
            zc_addr_format(&a->addr, x->blocked_ip, sizeof(x->blocked_ip));
            x->blocked = 1;
            zc_debug("blocked_address", "ip=%s class=%s", x->blocked_ip, zc_addr_class_name(c));
            return CURL_SOCKET_BAD; /* libcurl tries the host's next address, if any */
        }
    }
    curl_socket_t s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (s != CURL_SOCKET_BAD) x->opened = 1;
    return s;
}

/* ---- transfers ------------------------------------------------------------- */

#define XSET(opt, val)                                              \
    do {                                                            \
        CURLcode rc_ = curl_easy_setopt(x->easy, opt, val);         \
        if (rc_ != CURLE_OK) {                                      \
            snprintf(err, errlen, "curl_easy_setopt(%s): %s", #opt, \
                     curl_easy_strerror(rc_));                      \
            goto err;                                               \
        }                                                           \
    } while (0)

/* Creates a slot with an easy handle carrying every option that does not change
 * from job to job. Returns NULL with a reason in err. */
static fetch_xfer *xfer_new(fetch_loop *l, char *err, size_t errlen) {
    const fetch_config *c = &l->cfg;
    fetch_xfer *x = calloc(1, sizeof(*x));
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->loop = l;
    x->easy = curl_easy_init();
    if (!x->easy) {
        snprintf(err, errlen, "curl_easy_init failed");
        goto err;
    }
    XSET(CURLOPT_PRIVATE, (void *)x);
    XSET(CURLOPT_SHARE, l->share);
    XSET(CURLOPT_WRITEFUNCTION, xfer_write_cb);
    XSET(CURLOPT_WRITEDATA, (void *)x);
    XSET(CURLOPT_OPENSOCKETFUNCTION, xfer_open_cb);
    XSET(CURLOPT_OPENSOCKETDATA, (void *)x);
    XSET(CURLOPT_NOSIGNAL, 1L);
    XSET(CURLOPT_ACCEPT_ENCODING, "");
    /* Redirects are followed by xfer_done, hop by hop, after the origin check. */
    XSET(CURLOPT_FOLLOWLOCATION, 0L);
    XSET(CURLOPT_PROTOCOLS_STR, "http,https");
    XSET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    XSET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    XSET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
    XSET(CURLOPT_USERAGENT, c->user_agent);
    XSET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
    if (c->proxy && *c->proxy) XSET(CURLOPT_PROXY, c->proxy);
    XSET(CURLOPT_BUFFERSIZE, l->recv_buffer);
    if (l->http2) {
        CURLcode rc = curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        if (rc != CURLE_OK) {
            l->http2 = 0; /* libcurl without HTTP/2: say so once, go on with 1.1 */
            zc_warn("http2_unavailable", "reason=\"%s\"", curl_easy_strerror(rc));
        }
    }
    return x;
err:
    if (x->easy) curl_easy_cleanup(x->easy);
    free(x);
    return NULL;
}

static void xfer_free(fetch_xfer *x) {
    if (!x) return;
    if (x->easy) curl_easy_cleanup(x->easy);
    free(x->url);
    free(x->hop_url);
    free(x->body);
    free(x);
}

/* Drops x's body (and its weight in the held bytes); the buffer stays for reuse
 * unless drop is set. */
static void xfer_body_reset(fetch_loop *l, fetch_xfer *x, int drop) {
    l->held -= (int64_t)x->len;
    x->len = 0;
    if (drop) {
        free(x->body);
        x->body = NULL;
        x->cap = 0;
    }
}

/* Forgets that x is paused (it left libcurl, or is let go on). */
static void xfer_unpaused(fetch_loop *l, fetch_xfer *x) {
    if (!x->paused) return;
    x->paused = 0;
    l->paused_n--;
}

/* Returns a slot to the idle list, dropping the job's state, and frees its credit. */
static void xfer_recycle(fetch_loop *l, fetch_xfer *x) {
    xfer_unpaused(l, x);
    free(x->url);
    x->url = NULL;
    x->url_len = 0;
    free(x->hop_url);
    x->hop_url = NULL;
    xfer_body_reset(l, x, 1);
    l->busy--;
    l->ungranted++;
    list_push(&l->idle, x);
}

/* Sends DONE to the broker and counts the outcome. */
static void send_done(fetch_loop *l, const char *url, size_t url_len, fetch_outcome o,
                      long status, int64_t retry_after_ms, const char *reason) {
    char sbuf[24], rbuf[24];
    snprintf(sbuf, sizeof(sbuf), "%ld", status);
    snprintf(rbuf, sizeof(rbuf), "%" PRId64, o == FETCH_RETRY ? retry_after_ms : 0);
    zc_frame f[5] = { { url, url_len, NULL, NULL }, ZC_FSTR(fetch_outcome_name(o)), ZC_FSTR(sbuf), ZC_FSTR(rbuf), ZC_FSTR(reason) };
    if (o == FETCH_OK) l->st.ok++;
    else if (o == FETCH_RETRY) l->st.retry++;
    else if (o == FETCH_REDIRECT) l->st.redirect++;
    else l->st.fail++;
    if (zc_log_enabled(ZC_LOG_DEBUG)) {
        char qu[512], qr[256];
        char ubuf[ZC_URL_MAX + 1];
        size_t ul = url_len < ZC_URL_MAX ? url_len : ZC_URL_MAX;
        memcpy(ubuf, url, ul);
        ubuf[ul] = '\0';
        zc_debug("done", "url=%s outcome=%s status=%ld retry_after_ms=%s reason=%s",
                 zc_log_q(qu, sizeof(qu), ubuf), fetch_outcome_name(o), status, rbuf,
                 zc_log_q(qr, sizeof(qr), reason));
    }
    /* The common answer, ok with 200, waits for done_flush to go in one DONE with
     * the others of this turn of the loop. */
    if (o == FETCH_OK && status == 200 && zc_buf_add(&l->done_ok, url, url_len, '\n') == 0) {
        l->done_ok_n++;
        return;
    }
    if (zc_peer_send(&l->peer, ZC_MSG_DONE, f, 5) != 0) {
        l->st.lost++;
        zc_warn("done_lost", "outcome=%s reason=\"%s\" lost=%" PRIu64, fetch_outcome_name(o),
                zmq_strerror(errno), l->st.lost);
    }
}

/* Sends the batched ok answers as one DONE(urls, ok, 200). */
static void done_flush(fetch_loop *l) {
    if (l->done_ok_n == 0) return;
    zc_frame f[5] = { { l->done_ok.p, l->done_ok.len, NULL, NULL }, ZC_FSTR("ok"), ZC_FSTR("200"), ZC_FSTR("0"), ZC_FSTR("") };
    if (zc_peer_send(&l->peer, ZC_MSG_DONE, f, 5) != 0) {
        l->st.lost += (uint64_t)l->done_ok_n;
        zc_warn("done_lost", "outcome=ok urls=%ld reason=\"%s\" lost=%" PRIu64, l->done_ok_n, zmq_strerror(errno),
                l->st.lost);
    }
    l->done_ok.len = 0;
    l->done_ok_n = 0;
}

/* Starts one JOB. Any failure is answered at once with DONE and the slot freed. */
static void job_start(fetch_loop *l, const char *url, size_t url_len) {
    char err[256];
    l->st.jobs++;
    if (l->draining) {
        send_done(l, url, url_len, FETCH_RETRY, 0, 0, "shutdown");
        return;
    }
    if (l->busy >= l->cfg.concurrency) {
        /* The broker went over our credit: refuse without giving credit back. */
        l->st.rejected++;
        zc_warn("over_credit", "busy=%ld concurrency=%ld rejected=%" PRIu64, l->busy,
                l->cfg.concurrency, l->st.rejected);
        send_done(l, url, url_len, FETCH_RETRY, 0, 0, "fetcher over credit");
        return;
    }
    l->busy++;
    if (url_len == 0 || url_len > ZC_URL_MAX || memchr(url, '\0', url_len)) {
        send_done(l, url, url_len, FETCH_FAIL, 0, 0, "bad url");
        l->busy--;
        l->ungranted++;
        return;
    }
    fetch_xfer *x = list_pop(&l->idle);
    if (!x && !(x = xfer_new(l, err, sizeof(err)))) goto fail;
    x->url = malloc(url_len + 1);
    if (!x->url) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail_x;
    }
    memcpy(x->url, url, url_len);
    x->url[url_len] = '\0';
    x->url_len = url_len;
    x->len = x->cap = 0;
    x->body = NULL;
    x->too_large = x->oom = x->paused = x->blocked = x->opened = 0;
    x->blocked_ip[0] = '\0';
    x->status = 0;
    x->hops = 0;
    x->started_ms = zc_now_ms();
    CURLcode rc = curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
    if (rc == CURLE_OK) rc = curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, l->cfg.timeout_ms);
    if (rc != CURLE_OK) {
        snprintf(err, sizeof(err), "curl: %s", curl_easy_strerror(rc));
        goto fail_x;
    }
    CURLMcode mc = curl_multi_add_handle(l->multi, x->easy);
    if (mc != CURLM_OK) {
        snprintf(err, sizeof(err), "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        goto fail_x;
    }
    list_push(&l->active, x);
    return;
fail_x:
    /* The slot goes back idle; xfer_recycle gives the credit back. */
    send_done(l, url, url_len, FETCH_RETRY, 0, 0, err);
    xfer_recycle(l, x);
    return;
fail:
    zc_error("transfer_failed", "reason=\"%s\"", err);
    send_done(l, url, url_len, FETCH_RETRY, 0, 0, err);
    l->busy--;
    l->ungranted++;
}

/* ZeroMQ's free function for a sent body, called on its I/O thread once the
 * bytes are written (or dropped): they leave the held bytes only then. */
static void body_free(void *data, void *hint) {
    fetch_loop *l = hint;
    atomic_fetch_sub(&l->zmq_bytes, (long long)malloc_usable_size(data));
    free(data);
}

/* Sends x's PAGE (the body without a copy) and then DONE ok, and recycles x.
 * Only called when the pages socket reported POLLOUT. */
static void page_send(fetch_loop *l, fetch_xfer *x) {
    char sbuf[24], fbuf[24], tbuf[24];
    /* The URL actually fetched: the last redirect hop's, or the job's. */
    const char *final_url = x->hop_url ? x->hop_url : x->url;
    const char *ctype = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ctype) != CURLE_OK || !ctype) ctype = "";
    snprintf(sbuf, sizeof(sbuf), "%ld", x->status);
    snprintf(fbuf, sizeof(fbuf), "%" PRId64, x->fetched_at_ms);
    snprintf(tbuf, sizeof(tbuf), "%" PRId64, x->total_ms);
    size_t len = x->len;
    if (x->body && x->cap - len > 64 * 1024) { /* give back the doubling slack */
        char *b = realloc(x->body, len ? len : 1);
        if (b) x->body = b;
    }
    zc_frame f[7] = {
        { x->url, x->url_len, NULL, NULL },
        ZC_FSTR(final_url),
        ZC_FSTR(sbuf),
        ZC_FSTR(ctype),
        ZC_FSTR(fbuf),
        ZC_FSTR(tbuf),
        x->body ? (zc_frame){ x->body, len, body_free, l } : (zc_frame){ "", 0, NULL, NULL },
    };
    /* Counted before the send: the I/O thread may free it at once. */
    if (x->body) atomic_fetch_add(&l->zmq_bytes, (long long)malloc_usable_size(x->body));
    l->held -= (int64_t)len;
    x->body = NULL; /* ZeroMQ (or zc_msg_send on failure) frees it now */
    x->len = x->cap = 0;
    if (zc_msg_send(l->pages, NULL, ZC_MSG_PAGE, f, 7, ZMQ_DONTWAIT) == 0) {
        l->st.bytes += len;
        send_done(l, x->url, x->url_len, FETCH_OK, x->status, 0, "");
    } else {
        /* The body is gone with the failed send: the broker fetches again. */
        char reason[128];
        snprintf(reason, sizeof(reason), "pages send failed: %s", zmq_strerror(errno));
        l->st.pages_full++;
        zc_warn("page_lost", "reason=\"%s\"", reason);
        send_done(l, x->url, x->url_len, FETCH_RETRY, x->status, 0, reason);
    }
    xfer_recycle(l, x);
}

/* Sends queued pages while the PUSH socket takes them. Always ends with a
 * ZMQ_EVENTS query, which re-arms the edge-triggered ZMQ_FD. */
static void pages_flush(fetch_loop *l, int force) {
    if (!force && !l->pending.head) return;
    for (;;) {
        int ev = 0;
        size_t sz = sizeof(ev);
        if (zmq_getsockopt(l->pages, ZMQ_EVENTS, &ev, &sz) != 0) {
            zc_warn("zmq_events_failed", "socket=pages reason=\"%s\"", zmq_strerror(errno));
            return;
        }
        if (!l->pending.head || !(ev & ZMQ_POLLOUT)) return;
        page_send(l, list_pop(&l->pending));
    }
}

/* Starts the next hop of a same-origin redirect on x's handle, with what is left
 * of the job's timeout. Returns 0, or -1 with a reason (the job then ends). */
static int xfer_follow(fetch_loop *l, fetch_xfer *x, const char *target, char *reason, size_t reasonlen) {
    int64_t left = l->cfg.timeout_ms - (zc_now_ms() - x->started_ms);
    if (left <= 0) {
        snprintf(reason, reasonlen, "curl: %s", curl_easy_strerror(CURLE_OPERATION_TIMEDOUT));
        return -1;
    }
    char *u = strdup(target);
    if (!u) {
        snprintf(reason, reasonlen, "out of memory");
        return -1;
    }
    free(x->hop_url);
    x->hop_url = u;
    x->hops++;
    xfer_body_reset(l, x, 0);
    x->too_large = x->oom = x->blocked = x->opened = 0;
    CURLcode rc = curl_easy_setopt(x->easy, CURLOPT_URL, x->hop_url);
    if (rc == CURLE_OK) rc = curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)left);
    if (rc != CURLE_OK) {
        snprintf(reason, reasonlen, "curl: %s", curl_easy_strerror(rc));
        return -1;
    }
    CURLMcode mc = curl_multi_add_handle(l->multi, x->easy);
    if (mc != CURLM_OK) {
        snprintf(reason, reasonlen, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        return -1;
    }
    list_push(&l->active, x);
    return 0;
}

/* A 3xx with a Location: follow it, or end the job. Returns 1 when the job goes
 * on with the next hop, else 0 with the outcome and reason of the DONE to send. */
static int xfer_redirect(fetch_loop *l, fetch_xfer *x, fetch_outcome *o, char *reason, size_t reasonlen) {
    const char *target = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &target) != CURLE_OK || !target) return 0;
    switch (fetch_redirect_decide(x->url, target, x->hops, l->cfg.max_redirs)) {
    case FETCH_REDIR_FOLLOW:
        if (xfer_follow(l, x, target, reason, reasonlen) == 0) return 1;
        *o = FETCH_RETRY;
        return 0;
    case FETCH_REDIR_REPORT:
        *o = FETCH_REDIRECT;
        snprintf(reason, reasonlen, "%s", target); /* fits: decide checked ZC_URL_MAX */
        return 0;
    case FETCH_REDIR_TOO_MANY:
        *o = FETCH_FAIL;
        snprintf(reason, reasonlen, "too many redirects (%ld)", x->hops);
        return 0;
    case FETCH_REDIR_BAD:
        *o = FETCH_FAIL;
        snprintf(reason, reasonlen, "bad redirect target");
        return 0;
    }
    return 0;
}

/* 1 when url's path is exactly /robots.txt: the broker's own request for an
 * origin's rules (docs/PROTOCOL.md), answered to it, never sent downstream. */
static int is_robots(const char *url, size_t len) {
    static const char tail[] = "/robots.txt";
    const char *a = memmem(url, len, "://", 3);
    if (!a) return 0;
    const char *p = memchr(a + 3, '/', len - (size_t)(a + 3 - url));
    return p && (size_t)(url + len - p) == sizeof(tail) - 1 && !memcmp(p, tail, sizeof(tail) - 1);
}

/* DONE robots_txt: status and the body (at most ZC_ROBOTS_MAX_BYTES) as the
 * reason frame. */
static void robots_done(fetch_loop *l, fetch_xfer *x) {
    char sbuf[24];
    snprintf(sbuf, sizeof(sbuf), "%ld", x->status);
    size_t len = x->len > ZC_ROBOTS_MAX_BYTES ? ZC_ROBOTS_MAX_BYTES : x->len;
    zc_frame f[5] = { { x->url, x->url_len, NULL, NULL }, ZC_FSTR("robots_txt"), ZC_FSTR(sbuf), ZC_FSTR("0"), { x->body ? x->body : "", x->body ? len : 0, NULL, NULL } };
    l->st.ok++;
    if (zc_peer_send(&l->peer, ZC_MSG_DONE, f, 5) != 0) {
        l->st.lost++;
        zc_warn("done_lost", "outcome=robots_txt reason=\"%s\" lost=%" PRIu64, zmq_strerror(errno), l->st.lost);
    }
}

/* A transfer finished: classify it, follow a redirect, queue its page or answer
 * DONE at once. */
static void xfer_done(fetch_loop *l, fetch_xfer *x, CURLcode rc) {
    char reason[ZC_URL_MAX + CURL_ERROR_SIZE + 16];
    long status = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    list_unlink(&l->active, x);
    xfer_unpaused(l, x);
    fetch_outcome o;
    if (rc != CURLE_OK && x->blocked && !x->opened) {
        /* Every address of the host was refused by the guard: asking again gives the
         * same answer, so this is a dead letter, not a retry. */
        o = FETCH_FAIL;
        snprintf(reason, sizeof(reason), "blocked address %s", x->blocked_ip);
        l->st.blocked++;
        zc_info("blocked", "ip=%s hops=%ld", x->blocked_ip, x->hops);
    } else {
        o = fetch_classify(rc, status, x->too_large, x->oom, reason, sizeof(reason));
        if (rc == CURLE_OK && status >= 300 && status <= 399 && !x->too_large && !x->oom &&
            xfer_redirect(l, x, &o, reason, sizeof(reason)))
            return; /* the next hop runs */
    }
    x->status = status;
    x->total_ms = zc_now_ms() - x->started_ms;
    x->fetched_at_ms = zc_wall_ms();
    if (o == FETCH_OK && is_robots(x->url, x->url_len)) {
        robots_done(l, x);
        xfer_recycle(l, x);
        return;
    }
    if (o == FETCH_OK) {
        list_push(&l->pending, x);
        return;
    }
    int64_t retry_after = 0;
    if (o == FETCH_RETRY) {
        curl_off_t secs = 0;
        if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &secs) != CURLE_OK) secs = 0;
        retry_after = fetch_retry_after_ms(secs, l->cfg.max_retry_after_ms);
    }
    send_done(l, x->url, x->url_len, o, status, retry_after, reason);
    xfer_recycle(l, x);
}

/* Lets paused transfers go on once the held bytes are under the limit again (or
 * the oldest one, when nothing else can free memory). libcurl delivers the
 * bytes it kept, which may pause a transfer again at once. */
static void resume_paused(fetch_loop *l) {
    if (l->paused_n == 0) return;
    fetch_xfer *x = l->active.head, *next;
    if (held_bytes(l) >= l->cfg.max_held_bytes) {
        if (x && x->paused && may_exceed(l, x)) {
            xfer_unpaused(l, x);
            CURLcode rc = curl_easy_pause(x->easy, CURLPAUSE_CONT);
            if (rc != CURLE_OK) zc_warn("curl_unpause_failed", "reason=\"%s\"", curl_easy_strerror(rc));
        }
        return;
    }
    for (; x && l->paused_n > 0 && held_bytes(l) < l->cfg.max_held_bytes; x = next) {
        next = x->next;
        if (!x->paused) continue;
        xfer_unpaused(l, x);
        CURLcode rc = curl_easy_pause(x->easy, CURLPAUSE_CONT);
        if (rc != CURLE_OK) zc_warn("curl_unpause_failed", "reason=\"%s\"", curl_easy_strerror(rc));
    }
}

/* Drains curl's completion queue; runs after every curl_multi_socket_action. */
static void curl_check_info(fetch_loop *l) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(l->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        char *priv = NULL;
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv) {
            zc_error("curl_private_missing", NULL);
            continue;
        }
        fetch_xfer *x = (fetch_xfer *)(void *)priv;
        CURLMcode mc = curl_multi_remove_handle(l->multi, easy);
        if (mc != CURLM_OK)
            zc_warn("curl_remove_failed", "reason=\"%s\"", curl_multi_strerror(mc));
        xfer_done(l, x, rc);
    }
}

/* curl_multi_socket_action plus the completion drain. Returns 0, or -1 when the
 * multi handle itself is broken. */
static int curl_action(fetch_loop *l, curl_socket_t s, int mask, char *err, size_t errlen) {
    int running = 0;
    CURLMcode mc = curl_multi_socket_action(l->multi, s, mask, &running);
    curl_check_info(l);
    if (mc != CURLM_OK) {
        snprintf(err, errlen, "curl_multi_socket_action: %s", curl_multi_strerror(mc));
        return -1;
    }
    return 0;
}

/* ---- the broker connection ------------------------------------------------- */

static void begin_drain(fetch_loop *l, const char *why) {
    if (l->draining) return;
    l->draining = 1;
    l->drain_deadline = zc_now_ms() + l->cfg.drain_ms;
    zc_info("draining", "why=%s signal=%d in_flight=%ld pending_pages=%ld drain_ms=%ld", why,
            zc_signal_stop_requested(), l->active.n, l->pending.n, l->cfg.drain_ms);
}

static void handle_msg(fetch_loop *l, zc_msg *m) {
    switch (m->type) {
    case ZC_MSG_JOB: { /* one URL, or several: urls and attempts, each '\n'-separated */
        size_t ulen, alen;
        const char *urls = zc_msg_data(m, 0, &ulen), *att = zc_msg_data(m, 1, &alen);
        size_t nu = 1, na = 1;
        for (size_t i = 0; i < ulen; i++) nu += urls[i] == '\n';
        for (size_t i = 0; i < alen; i++) {
            if (att[i] == '\n') na++;
            else if (att[i] < '0' || att[i] > '9') na = 0;
            if (na == 0) break;
        }
        if (na != nu || alen == 0 || att[0] == '\n' || att[alen - 1] == '\n') {
            l->st.dropped++;
            zc_warn("bad_message", "from=broker reason=\"JOB attempts are not one number per url\" dropped=%" PRIu64,
                    l->st.dropped);
            return;
        }
        for (size_t k = 0; k < nu; k++) {
            const char *nl = memchr(urls, '\n', ulen);
            size_t n = nl ? (size_t)(nl - urls) : ulen;
            job_start(l, urls, n);
            if (nl) {
                urls = nl + 1;
                ulen -= n + 1;
            }
        }
        return;
    }
    case ZC_MSG_SHUTDOWN:
        begin_drain(l, "shutdown");
        return;
    default:
        l->st.dropped++;
        zc_warn("bad_message", "from=broker reason=\"unexpected %s\" dropped=%" PRIu64,
                zc_msg_type_name(m->type), l->st.dropped);
        return;
    }
}

/* Receives everything waiting from the broker. ZMQ_FD is edge-triggered, so this
 * loops on ZMQ_EVENTS until POLLIN is gone; that query is the last operation. */
static void peer_drain(fetch_loop *l) {
    for (;;) {
        if (!l->peer.sock) return;
        int ev = 0;
        size_t sz = sizeof(ev);
        if (zmq_getsockopt(l->peer.sock, ZMQ_EVENTS, &ev, &sz) != 0) {
            zc_warn("zmq_events_failed", "socket=broker reason=\"%s\"", zmq_strerror(errno));
            return;
        }
        if (!(ev & ZMQ_POLLIN)) return;
        zc_msg m;
        int rc = zc_peer_recv(&l->peer, &m);
        if (rc == -2) {
            l->st.dropped++;
            continue;
        }
        if (rc != 0) {
            if (errno == EAGAIN) continue; /* heartbeats only: ask ZMQ_EVENTS again */
            zc_warn("broker_recv_failed", "reason=\"%s\"", zmq_strerror(errno));
            return;
        }
        handle_msg(l, &m);
        zc_msg_close(&m);
    }
}

/* Free slots the broker may use: none while pages wait, while the pages held
 * weigh more than --max-held-bytes, or while draining. */
static int credit_blocked(fetch_loop *l) {
    return l->draining || l->pending.head != NULL || held_bytes(l) >= l->cfg.max_held_bytes;
}

/* One CREDIT for every slot freed since the last one, after the DONE batch that
 * freed them. Returns 1 if one was sent. */
static int credit_flush(fetch_loop *l) {
    done_flush(l);
    if (l->ungranted <= 0 || credit_blocked(l) || !l->peer.sock) return 0;
    char nbuf[24];
    snprintf(nbuf, sizeof(nbuf), "%ld", l->ungranted);
    zc_frame f[1] = { ZC_FSTR(nbuf) };
    if (zc_peer_send(&l->peer, ZC_MSG_CREDIT, f, 1) != 0) {
        zc_warn("credit_send_failed", "n=%ld reason=\"%s\"", l->ungranted, zmq_strerror(errno));
        return 0; /* kept for the next iteration */
    }
    l->st.credits += (uint64_t)l->ungranted;
    l->ungranted = 0;
    return 1;
}

/* Heartbeats and reconnects. A fresh HELLO grants every free slot (none while
 * credit is blocked; those are granted later by CREDIT). */
static int peer_tick(fetch_loop *l, int64_t now) {
    long free_slots = l->cfg.concurrency - l->busy;
    if (free_slots < 0) free_slots = 0;
    int hello = credit_blocked(l) ? 0 : (int)free_slots;
    if (zc_peer_tick(&l->peer, now, hello) == 1)
        l->ungranted = credit_blocked(l) ? free_slots : 0;
    return peer_sync_fd(l);
}

/* ---- the loop ---------------------------------------------------------------- */

static void log_stats(fetch_loop *l) {
    zc_info("stats", "jobs=%" PRIu64 " ok=%" PRIu64 " retry=%" PRIu64 " fail=%" PRIu64 " redirect=%" PRIu64 " blocked=%" PRIu64 " bytes=%" PRIu64 " in_flight=%ld pending_pages=%ld"
                     " held_bytes=%" PRId64 " paused=%ld pauses=%" PRIu64 " credits=%" PRIu64 " dropped=%" PRIu64 " lost=%" PRIu64 " reconnects=%" PRIu64,
            l->st.jobs, l->st.ok, l->st.retry, l->st.fail, l->st.redirect, l->st.blocked, l->st.bytes,
            l->active.n, l->pending.n, held_bytes(l), l->paused_n, l->st.pauses, l->st.credits,
            l->st.dropped, l->st.lost, l->peer.reconnects);
}

static int loop_timeout(fetch_loop *l, int64_t now) {
    int64_t t = l->cfg.heartbeat_ms;
    int64_t p = zc_peer_timeout(&l->peer, now);
    if (p < t) t = p;
    if (l->curl_deadline >= 0 && l->curl_deadline - now < t) t = l->curl_deadline - now;
    if (l->next_stats - now < t) t = l->next_stats - now;
    int waiting = l->pending.head || l->paused_n > 0 || (l->ungranted > 0 && !l->draining && credit_blocked(l));
    if (waiting && t > FETCH_PENDING_RETRY_MS) t = FETCH_PENDING_RETRY_MS;
    if (l->draining && l->drain_deadline - now < t) t = l->drain_deadline - now;
    return t < 0 ? 0 : (int)t;
}

/* Drain deadline passed: every transfer and waiting page is answered "shutdown". */
static void abort_all(fetch_loop *l) {
    fetch_xfer *x;
    long n = 0;
    while ((x = list_pop(&l->active))) {
        CURLMcode mc = curl_multi_remove_handle(l->multi, x->easy);
        if (mc != CURLM_OK)
            zc_warn("curl_remove_failed", "reason=\"%s\"", curl_multi_strerror(mc));
        xfer_unpaused(l, x);
        send_done(l, x->url, x->url_len, FETCH_RETRY, 0, 0, "shutdown");
        xfer_recycle(l, x);
        n++;
    }
    while ((x = list_pop(&l->pending))) {
        send_done(l, x->url, x->url_len, FETCH_RETRY, x->status, 0, "shutdown");
        xfer_recycle(l, x);
        n++;
    }
    if (n) zc_warn("drain_timeout", "aborted=%ld", n);
}

int fetch_loop_run(fetch_loop *l, char *err, size_t errlen) {
    struct epoll_event evs[FETCH_MAX_EVENTS];
    int rc = -1;
    sigset_t block, old;
    /* SIGINT/SIGTERM only arrive inside epoll_pwait: no lost wake-up. */
    if (sigemptyset(&block) != 0 || sigaddset(&block, SIGINT) != 0 ||
        sigaddset(&block, SIGTERM) != 0 || sigprocmask(SIG_BLOCK, &block, &old) != 0) {
        snprintf(err, errlen, "sigprocmask: %s", strerror(errno));
        return -1;
    }
    l->waitmask = old;
    if (sigdelset(&l->waitmask, SIGINT) != 0 || sigdelset(&l->waitmask, SIGTERM) != 0) {
        snprintf(err, errlen, "sigdelset: %s", strerror(errno));
        goto out;
    }
    l->next_stats = zc_now_ms() + l->cfg.stats_ms;
    zc_info("started", "broker=%s pages=%s concurrency=%ld recv_buffer=%ld max_held_bytes=%ld "
                       "max_redirs=%ld guard=%s name=%s",
            l->cfg.broker, l->cfg.pages, l->cfg.concurrency,
            l->recv_buffer, l->cfg.max_held_bytes, l->cfg.max_redirs, l->guard ? "on" : "off", l->peer.name);
    for (;;) {
        if (zc_signal_stop_requested()) begin_drain(l, "signal");
        int64_t now = zc_now_ms();
        if (l->draining) {
            if (!l->active.head && !l->pending.head) break;
            if (now >= l->drain_deadline) {
                abort_all(l);
                break;
            }
        }
        int n = epoll_pwait(l->epfd, evs, FETCH_MAX_EVENTS, loop_timeout(l, now), &l->waitmask);
        if (n < 0) {
            if (errno != EINTR) {
                snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
                goto out;
            }
            n = 0;
        }
        int pages_ev = 0;
        for (int i = 0; i < n; i++) {
            uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32);
            int fd = (int)(uint32_t)evs[i].data.u64;
            if (kind == EV_CURL) {
                uint32_t e = evs[i].events;
                int mask = ((e & (EPOLLIN | EPOLLHUP)) ? CURL_CSELECT_IN : 0) |
                           ((e & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                           ((e & EPOLLERR) ? CURL_CSELECT_ERR : 0);
                if (curl_action(l, fd, mask, err, errlen) != 0) goto out;
            } else if (kind == EV_PAGES) {
                pages_ev = 1;
            } /* EV_PEER: peer_drain below runs every iteration anyway */
        }
        now = zc_now_ms();
        if (l->curl_deadline >= 0 && now >= l->curl_deadline) {
            l->curl_deadline = -1;
            if (curl_action(l, CURL_SOCKET_TIMEOUT, 0, err, errlen) != 0) goto out;
        }
        pages_flush(l, pages_ev);
        resume_paused(l);
        credit_flush(l);
        if (peer_tick(l, now) != 0) {
            snprintf(err, errlen, "cannot watch the broker socket");
            goto out;
        }
        peer_drain(l);                      /* JOBs start here; its ZMQ_EVENTS query re-arms ZMQ_FD */
        if (credit_flush(l)) peer_drain(l); /* JOBs refused at once give credit back */
        if (now >= l->next_stats) {
            log_stats(l);
            l->next_stats = now + l->cfg.stats_ms;
        }
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

#define MSET(opt, val)                                               \
    do {                                                             \
        CURLMcode mc_ = curl_multi_setopt(l->multi, opt, val);       \
        if (mc_ != CURLM_OK) {                                       \
            snprintf(err, errlen, "curl_multi_setopt(%s): %s", #opt, \
                     curl_multi_strerror(mc_));                      \
            goto err;                                                \
        }                                                            \
    } while (0)

fetch_loop *fetch_loop_new(const fetch_config *cfg, char *err, size_t errlen) {
    fetch_loop *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->cfg = *cfg;
    l->epfd = -1;
    l->peer_fd_reg = -1;
    l->pages_fd = -1;
    l->curl_deadline = -1;
    l->http2 = 1;
    l->recv_buffer = fetch_recv_buffer_size(l->cfg.recv_buffer, l->cfg.concurrency);
    atomic_init(&l->zmq_bytes, 0);
    if (l->cfg.concurrency < 1 || l->cfg.max_body < 1 || l->cfg.heartbeat_ms < 1 ||
        l->cfg.stats_ms < 1 || l->cfg.drain_ms < 0 || l->cfg.max_redirs < 0 ||
        l->cfg.max_retry_after_ms < 0 || l->cfg.max_held_bytes < 1) {
        snprintf(err, errlen, "bad configuration");
        goto err;
    }
    /* Through a proxy every connection goes to the proxy: the addresses behind it
     * are the proxy's to judge. */
    int proxied = l->cfg.proxy && *l->cfg.proxy;
    l->guard = !l->cfg.allow_private && !proxied;
    if (!l->cfg.allow_private && proxied)
        zc_warn("address_guard_off", "reason=\"a proxy is set: the proxy must refuse private addresses\"");

    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        goto err;
    }

    l->multi = curl_multi_init();
    if (!l->multi) {
        snprintf(err, errlen, "curl_multi_init failed");
        goto err;
    }
    MSET(CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
    MSET(CURLMOPT_SOCKETDATA, (void *)l);
    MSET(CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    MSET(CURLMOPT_TIMERDATA, (void *)l);
    MSET(CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    MSET(CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    MSET(CURLMOPT_MAXCONNECTS, l->cfg.concurrency + 16);

    /* One TLS session cache for all easy handles. Without it libcurl 7.88 gives
     * each handle its own (5 slots, 920 bytes calloc'd before the first transfer,
     * even of plain http: 4.6 MB at 5000 transfers), and every slot can keep an
     * SSL_SESSION alive. Shared (8 slots, least recently used out), a session
     * one handle got is resumed by any connection to that host. The multi handle
     * already shares connections and DNS. */
    l->share = curl_share_init();
    if (!l->share) {
        snprintf(err, errlen, "curl_share_init failed");
        goto err;
    }
    CURLSHcode sc = curl_share_setopt(l->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (sc != CURLSHE_OK) {
        snprintf(err, errlen, "curl_share_setopt(CURL_LOCK_DATA_SSL_SESSION): %s", curl_share_strerror(sc));
        goto err;
    }

    l->zctx = zmq_ctx_new();
    if (!l->zctx) {
        snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
        goto err;
    }
    /* A PUSH: pages queue only for parsers that are connected, so with several
     * none gets pages while it is down, and with none the pages wait here. */
    l->pages = zc_endpoint_socket(l->zctx, ZMQ_PUSH, (int)l->cfg.pages_hwm, 2000, l->cfg.pages, NULL, err, errlen);
    if (!l->pages) goto err;
    size_t sz = sizeof(l->pages_fd);
    if (zmq_getsockopt(l->pages, ZMQ_FD, &l->pages_fd, &sz) != 0) {
        snprintf(err, errlen, "zmq_getsockopt(ZMQ_FD): %s", zmq_strerror(errno));
        goto err;
    }
    if (ep_set(l, l->pages_fd, EPOLLIN, EV_TAG(EV_PAGES, l->pages_fd), 0) != 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        goto err;
    }

    if (zc_peer_open(&l->peer, l->zctx, l->cfg.broker, "fetcher", l->cfg.name, l->cfg.heartbeat_ms,
                     (int)l->cfg.concurrency, err, errlen) != 0)
        goto err;
    l->peer_open = 1;
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
    fetch_xfer *x;
    while ((x = list_pop(&l->active))) {
        if (l->multi) {
            CURLMcode mc = curl_multi_remove_handle(l->multi, x->easy);
            if (mc != CURLM_OK)
                zc_warn("curl_remove_failed", "reason=\"%s\"", curl_multi_strerror(mc));
        }
        xfer_free(x);
    }
    while ((x = list_pop(&l->pending))) xfer_free(x);
    while ((x = list_pop(&l->idle))) xfer_free(x);
    if (l->multi) {
        CURLMcode mc = curl_multi_cleanup(l->multi);
        if (mc != CURLM_OK)
            zc_warn("curl_multi_cleanup_failed", "reason=\"%s\"", curl_multi_strerror(mc));
    }
    if (l->share) { /* after every easy handle: a share in use is not freed */
        CURLSHcode sc = curl_share_cleanup(l->share);
        if (sc != CURLSHE_OK)
            zc_warn("curl_share_cleanup_failed", "reason=\"%s\"", curl_share_strerror(sc));
    }
    if (l->peer_open) {
        done_flush(l); /* the last answers go out before the socket lingers them away */
        zc_peer_close(&l->peer);
    }
    zc_buf_free(&l->done_ok);
    if (l->pages && zmq_close(l->pages) != 0)
        zc_warn("zmq_close_failed", "socket=pages reason=\"%s\"", zmq_strerror(errno));
    if (l->zctx) {
        int rc;
        while ((rc = zmq_ctx_term(l->zctx)) != 0 && errno == EINTR) {
        }
        if (rc != 0) zc_warn("zmq_ctx_term_failed", "reason=\"%s\"", zmq_strerror(errno));
    }
    if (l->epfd >= 0 && close(l->epfd) != 0)
        zc_warn("close_failed", "fd=epoll reason=\"%s\"", strerror(errno));
    free(l);
}
