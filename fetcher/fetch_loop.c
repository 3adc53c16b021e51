/* fetch_loop.c -- the fetcher's single event loop: curl multi + ZeroMQ on one epoll. */
#include "fetch_loop.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <zmq.h>

#include "zc_buf.h"
#include "zc_endpoint.h"
#include "zc_log.h"
#include "zc_list.h"
#include "zc_msg.h"
#include "zc_peer.h"
#include "zc_signal.h"
#include "zc_time.h"
#include "zc_url.h"

#define FETCH_BODY_MIN (16 * 1024)   /* first body allocation; doubles from here */
#define FETCH_MAX_REDIRS 5L
#define FETCH_MAX_EVENTS 256
#define FETCH_PENDING_RETRY_MS 50    /* re-check a blocked pages socket this often */
#define FETCH_CTYPE_MAX 160
#define FETCH_DAY_MS (86400LL * 1000)
/* Automatic receive buffer: all of curl's buffers together near 1 MiB, each
 * between 1 and 16 KiB (curl's default). 1000 transfers then fit in 30 MB. */
#define FETCH_RECV_BUDGET (1024L * 1024)
#define FETCH_RECV_MIN 1024L
#define FETCH_RECV_MAX (16L * 1024)

/* epoll_data.u64 = kind << 32 | fd */
enum { EV_CURL = 1, EV_PEER = 2, EV_PAGES = 3 };
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
    char *url;            /* the JOB url exactly (malloc'd, NUL-terminated) */
    size_t url_len;
    char *body;           /* malloc'd; handed to ZeroMQ with the PAGE */
    size_t len, cap;
    int64_t retry_after_ms;
    int64_t fetched_at_ms;
    int64_t total_ms;
    long status;
    unsigned too_large : 1, oom : 1, encoded : 1;
    char ctype[FETCH_CTYPE_MAX];
};

struct fetch_loop {
    fetch_config cfg;
    void *zctx;
    zc_peer peer;
    int peer_open;
    void *peer_sock_reg;  /* the peer socket whose ZMQ_FD is in epoll */
    int peer_fd_reg;
    void *pages;
    int pages_fd;
    int epfd;
    CURLM *multi;
    int64_t curl_deadline;  /* monotonic ms, -1 when curl wants no timer */
    fetch_list active, pending, idle;
    long busy;             /* slots taken: active transfers + pages waiting to go */
    long ungranted;        /* slots freed and not yet given back in a CREDIT */
    zc_buf done_ok;        /* URLs fetched with 200 since the last DONE batch, '\n'-separated */
    long done_ok_n;
    int draining;
    int64_t drain_deadline;
    int http2;             /* CURL_HTTP_VERSION_2TLS accepted */
    long recv_buffer;      /* CURLOPT_BUFFERSIZE of every easy handle */
    int64_t next_stats;
    sigset_t waitmask;     /* signal mask while in epoll_pwait */
    struct {
        uint64_t jobs, ok, retry, fail, bytes, dropped, credits, rejected, lost, pages_full;
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

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int64_t fetch_retry_after_ms(const char *v, size_t len, int64_t now_wall_ms) {
    while (len && is_space(*v)) { v++; len--; }
    while (len && is_space(v[len - 1])) len--;
    if (len == 0) return 0;
    size_t i = 0;
    int64_t secs = 0;
    while (i < len && v[i] >= '0' && v[i] <= '9') {
        if (secs < FETCH_DAY_MS) secs = secs * 10 + (v[i] - '0');
        i++;
    }
    if (i == len) {
        int64_t ms = secs >= FETCH_DAY_MS / 1000 ? FETCH_DAY_MS : secs * 1000;
        return ms;
    }
    char buf[64];
    if (len >= sizeof(buf)) return 0;
    memcpy(buf, v, len);
    buf[len] = '\0';
    time_t t = curl_getdate(buf, NULL);
    if (t == (time_t)-1) return 0;
    int64_t ms = (int64_t)t * 1000 - now_wall_ms;
    if (ms < 0) return 0;
    return ms > FETCH_DAY_MS ? FETCH_DAY_MS : ms;
}

/* Matches "Name: value" case-insensitively; sets the trimmed value. */
static int header_value(const char *buf, size_t n, const char *name, const char **v, size_t *vlen) {
    size_t nl = strlen(name);
    if (n <= nl || buf[nl] != ':' || strncasecmp(buf, name, nl) != 0) return 0;
    const char *p = buf + nl + 1, *end = buf + n;
    while (p < end && is_space(*p)) p++;
    while (end > p && is_space(end[-1])) end--;
    *v = p;
    *vlen = (size_t)(end - p);
    return 1;
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

/* The first body allocation: Content-Length when the server said it (times four
 * for a compressed body, which curl decodes), else FETCH_BODY_MIN; at least n,
 * at most max. Small pages then cost what they weigh. */
static size_t body_first_cap(fetch_xfer *x, size_t n, size_t max) {
    size_t cap = FETCH_BODY_MIN;
    curl_off_t cl = -1;
    if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl > 0)
        cap = (uint64_t)cl > max ? max : (size_t)cl * (x->encoded ? 4 : 1);
    if (cap < n) cap = n;
    return cap > max ? max : cap;
}

/* CURLOPT_WRITEFUNCTION: appends to the body, growing it geometrically up to the
 * cap. Returning short aborts the transfer (CURLE_WRITE_ERROR). */
static size_t xfer_write_cb(char *ptr, size_t size, size_t nmemb, void *userp) {
    fetch_xfer *x = userp;
    size_t n = size * nmemb;
    size_t max = (size_t)x->loop->cfg.max_body;
    if (n > max - x->len) {
        x->too_large = 1;
        return 0;
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
    return n;
}

/* CURLOPT_HEADERFUNCTION: a status line starts a new response (redirects, 1xx);
 * Content-Type and Retry-After are kept from the last one. */
static size_t xfer_header_cb(char *buf, size_t size, size_t nitems, void *userp) {
    fetch_xfer *x = userp;
    size_t n = size * nitems;
    const char *v;
    size_t vlen;
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        x->ctype[0] = '\0';
        x->retry_after_ms = 0;
        x->encoded = 0;
        x->len = 0;
    } else if (header_value(buf, n, "content-encoding", &v, &vlen)) {
        x->encoded = !(vlen == 8 && strncasecmp(v, "identity", 8) == 0);
    } else if (header_value(buf, n, "content-type", &v, &vlen)) {
        if (vlen >= sizeof(x->ctype)) vlen = sizeof(x->ctype) - 1;
        memcpy(x->ctype, v, vlen);
        x->ctype[vlen] = '\0';
    } else if (header_value(buf, n, "retry-after", &v, &vlen)) {
        x->retry_after_ms = fetch_retry_after_ms(v, vlen, zc_wall_ms());
    }
    return n;
}

/* ---- transfers ------------------------------------------------------------- */

#define XSET(opt, val)                                                              \
    do {                                                                            \
        CURLcode rc_ = curl_easy_setopt(x->easy, opt, val);                         \
        if (rc_ != CURLE_OK) {                                                      \
            snprintf(err, errlen, "curl_easy_setopt(%s): %s", #opt,                 \
                     curl_easy_strerror(rc_));                                      \
            goto err;                                                               \
        }                                                                           \
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
    XSET(CURLOPT_WRITEFUNCTION, xfer_write_cb);
    XSET(CURLOPT_WRITEDATA, (void *)x);
    XSET(CURLOPT_HEADERFUNCTION, xfer_header_cb);
    XSET(CURLOPT_HEADERDATA, (void *)x);
    XSET(CURLOPT_NOSIGNAL, 1L);
    XSET(CURLOPT_ACCEPT_ENCODING, "");
    XSET(CURLOPT_FOLLOWLOCATION, 1L);
    XSET(CURLOPT_MAXREDIRS, FETCH_MAX_REDIRS);
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
    free(x->body);
    free(x);
}

/* Returns a slot to the idle list, dropping the job's state, and frees its credit. */
static void xfer_recycle(fetch_loop *l, fetch_xfer *x) {
    free(x->url);
    x->url = NULL;
    x->url_len = 0;
    free(x->body);
    x->body = NULL;
    x->len = x->cap = 0;
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
    zc_frame f[5] = { { url, url_len, NULL, NULL }, ZC_FSTR(fetch_outcome_name(o)),
                      ZC_FSTR(sbuf), ZC_FSTR(rbuf), ZC_FSTR(reason) };
    if (o == FETCH_OK) l->st.ok++;
    else if (o == FETCH_RETRY) l->st.retry++;
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
    zc_frame f[5] = { { l->done_ok.p, l->done_ok.len, NULL, NULL }, ZC_FSTR("ok"), ZC_FSTR("200"), ZC_FSTR("0"),
                      ZC_FSTR("") };
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
    x->too_large = x->oom = x->encoded = 0;
    x->retry_after_ms = 0;
    x->status = 0;
    x->ctype[0] = '\0';
    CURLcode rc = curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
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

static void body_free(void *data, void *hint) {
    (void)hint;
    free(data);
}

/* Sends x's PAGE (the body without a copy) and then DONE ok, and recycles x.
 * Only called when the pages socket reported POLLOUT. */
static void page_send(fetch_loop *l, fetch_xfer *x) {
    char sbuf[24], fbuf[24], tbuf[24];
    const char *final_url = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &final_url) != CURLE_OK || !final_url)
        final_url = x->url;
    snprintf(sbuf, sizeof(sbuf), "%ld", x->status);
    snprintf(fbuf, sizeof(fbuf), "%" PRId64, x->fetched_at_ms);
    snprintf(tbuf, sizeof(tbuf), "%" PRId64, x->total_ms);
    size_t len = x->len;
    if (x->body && x->cap - len > 64 * 1024) { /* give back the doubling slack */
        char *b = realloc(x->body, len ? len : 1);
        if (b) x->body = b;
    }
    zc_frame f[7] = {
        { x->url, x->url_len, NULL, NULL }, ZC_FSTR(final_url), ZC_FSTR(sbuf),
        ZC_FSTR(x->ctype), ZC_FSTR(fbuf), ZC_FSTR(tbuf),
        x->body ? (zc_frame){ x->body, len, body_free, NULL } : (zc_frame){ "", 0, NULL, NULL },
    };
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

/* A transfer finished: classify it, queue its page or answer DONE at once. */
static void xfer_done(fetch_loop *l, fetch_xfer *x, CURLcode rc) {
    char reason[CURL_ERROR_SIZE + 16];
    long status = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    curl_off_t total_us = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &total_us) != CURLE_OK) total_us = 0;
    list_unlink(&l->active, x);
    fetch_outcome o = fetch_classify(rc, status, x->too_large, x->oom, reason, sizeof(reason));
    x->status = status;
    x->total_ms = (int64_t)(total_us / 1000);
    x->fetched_at_ms = zc_wall_ms();
    if (o == FETCH_OK) {
        list_push(&l->pending, x);
        return;
    }
    send_done(l, x->url, x->url_len, o, status, x->retry_after_ms, reason);
    xfer_recycle(l, x);
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

/* Free slots the broker may use: none while pages wait or while draining. */
static int credit_blocked(const fetch_loop *l) { return l->draining || l->pending.head != NULL; }

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
    zc_info("stats", "jobs=%" PRIu64 " ok=%" PRIu64 " retry=%" PRIu64 " fail=%" PRIu64
            " bytes=%" PRIu64 " in_flight=%ld pending_pages=%ld credits=%" PRIu64
            " dropped=%" PRIu64 " lost=%" PRIu64 " reconnects=%" PRIu64,
            l->st.jobs, l->st.ok, l->st.retry, l->st.fail, l->st.bytes, l->active.n,
            l->pending.n, l->st.credits, l->st.dropped, l->st.lost, l->peer.reconnects);
}

static int loop_timeout(fetch_loop *l, int64_t now) {
    int64_t t = l->cfg.heartbeat_ms;
    int64_t p = zc_peer_timeout(&l->peer, now);
    if (p < t) t = p;
    if (l->curl_deadline >= 0 && l->curl_deadline - now < t) t = l->curl_deadline - now;
    if (l->next_stats - now < t) t = l->next_stats - now;
    if (l->pending.head && t > FETCH_PENDING_RETRY_MS) t = FETCH_PENDING_RETRY_MS;
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
    zc_info("started", "broker=%s pages=%s concurrency=%ld recv_buffer=%ld name=%s",
            l->cfg.broker, l->cfg.pages, l->cfg.concurrency, l->recv_buffer, l->peer.name);
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
        credit_flush(l);
        if (peer_tick(l, now) != 0) {
            snprintf(err, errlen, "cannot watch the broker socket");
            goto out;
        }
        peer_drain(l); /* JOBs start here; its ZMQ_EVENTS query re-arms ZMQ_FD */
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

#define MSET(opt, val)                                                               \
    do {                                                                             \
        CURLMcode mc_ = curl_multi_setopt(l->multi, opt, val);                       \
        if (mc_ != CURLM_OK) {                                                       \
            snprintf(err, errlen, "curl_multi_setopt(%s): %s", #opt,                 \
                     curl_multi_strerror(mc_));                                      \
            goto err;                                                                \
        }                                                                            \
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
    if (l->cfg.concurrency < 1 || l->cfg.max_body < 1 || l->cfg.heartbeat_ms < 1 ||
        l->cfg.stats_ms < 1 || l->cfg.drain_ms < 0) {
        snprintf(err, errlen, "bad configuration");
        goto err;
    }

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

    l->zctx = zmq_ctx_new();
    if (!l->zctx) {
        snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
        goto err;
    }
    l->pages = zmq_socket(l->zctx, ZMQ_PUSH);
    if (!l->pages) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        goto err;
    }
    /* ZMQ_IMMEDIATE: pages queue only for peers that are connected, so with several
     * parsers none gets pages while it is down, and with none the pages wait here. */
    int hwm = (int)l->cfg.pages_hwm, linger = 2000, immediate = 1;
    if (zmq_setsockopt(l->pages, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_setsockopt(l->pages, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(l->pages, ZMQ_IMMEDIATE, &immediate, sizeof(immediate)) != 0 || zc_msg_limit(l->pages) != 0) {
        snprintf(err, errlen, "zmq_setsockopt: %s", zmq_strerror(errno));
        goto err;
    }
    if (zc_endpoint_attach(l->zctx, l->pages, l->cfg.pages, err, errlen) != 0) goto err;
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
