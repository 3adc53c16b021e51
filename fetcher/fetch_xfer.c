/* fetch_xfer.c -- the fetcher's transfers: easy handles, bodies, held page bytes. */
#include "fetch_xfer.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch_redirect.h"
#include "fetch_spec.h"
#include "zc_list.h"
#include "zc_log.h"
#include "zc_robots.h"
#include "zc_time.h"

#define FETCH_BODY_MIN (16 * 1024) /* first body allocation; doubles from here */
/* libcurl's DNS cache lifetime: an entry is dropped this long after it was made,
 * by one transfer a second (see conn_policy). libcurl's hash of it has a fixed 71
 * slots, so each lookup walks about (new hosts a second x this) / 71 entries:
 * 10 s rather than libcurl's 60 keeps that short at a thousand new hosts a
 * second, and a host still asked for is resolved again only every 10 s. */
#define FETCH_DNS_TTL_S    10
#define FETCH_DNS_SWEEP_MS 1000
/* An idle connection is closed after this long unused: it is worth something only
 * for a host asked again soon, and its slot serves a newer one. */
#define FETCH_CONN_MAXAGE_S 10

ZC_LIST_DEFINE(list, fetch_xfer_list, fetch_xfer)

static fetch_xfer *list_pop(fetch_xfer_list *q) {
    fetch_xfer *x = q->head;
    if (x) list_unlink(q, x);
    return x;
}

/* ---- held bytes ------------------------------------------------------------ */

int64_t fetch_pool_held(fetch_pool *p) { return p->held + (int64_t)atomic_load(&p->zmq_bytes); }

/* A transfer may grow past the limit only when nothing else can free memory:
 * it is the oldest and no finished page waits anywhere. Without this, partial
 * bodies alone could fill the budget and every transfer would wait forever. */
static int may_exceed(fetch_pool *p, const fetch_xfer *x) {
    return x == p->active.head && !p->pending.head && atomic_load(&p->zmq_bytes) == 0;
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

/* CURLOPT_WRITEFUNCTION: appends to the body, growing it geometrically up to the
 * cap. Returning short aborts the transfer (CURLE_WRITE_ERROR); returning
 * CURL_WRITEFUNC_PAUSE keeps the bytes in libcurl (and the rest in the kernel's
 * socket buffer) until fetch_pool_resume lets the transfer go on. */
static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userp) {
    fetch_xfer *x = userp;
    fetch_pool *p = x->pool;
    size_t got = size * nmemb, n = got;
    size_t max = x->robots ? ZC_ROBOTS_MAX_BYTES : (size_t)p->cfg->max_body;
    if (n > max - x->len) {
        if (!x->robots) {
            x->too_large = 1;
            return 0;
        }
        n = max - x->len; /* the rest of robots.txt counts for nothing: end it here */
        x->capped = 1;
    }
    if (n && fetch_pool_held(p) + (int64_t)n > p->cfg->max_held_bytes && !may_exceed(p, x)) {
        if (!x->paused) {
            x->paused = 1;
            p->paused_n++;
            p->st.pauses++;
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
    p->held += (int64_t)n;
    return x->capped ? 0 : got; /* short: libcurl ends the transfer (CURLE_WRITE_ERROR) */
}

/* Drops x's body (and its weight in the held bytes); the buffer stays for reuse
 * unless drop is set. */
static void body_reset(fetch_pool *p, fetch_xfer *x, int drop) {
    p->held -= (int64_t)x->len;
    x->len = 0;
    if (drop) {
        free(x->body);
        x->body = NULL;
        x->cap = 0;
    }
}

/* Forgets that x is paused (it left libcurl, or is let go on). */
static void unpaused(fetch_pool *p, fetch_xfer *x) {
    if (!x->paused) return;
    x->paused = 0;
    p->paused_n--;
}

static void resume(fetch_pool *p, fetch_xfer *x) {
    unpaused(p, x);
    CURLcode rc = curl_easy_pause(x->easy, CURLPAUSE_CONT);
    if (rc != CURLE_OK) zc_warn("curl_unpause_failed", "reason=\"%s\"", curl_easy_strerror(rc));
}

/* libcurl delivers the bytes it kept, which may pause a transfer again at once. */
void fetch_pool_resume(fetch_pool *p) {
    if (p->paused_n == 0) return;
    fetch_xfer *x = p->active.head, *next;
    if (fetch_pool_held(p) >= p->cfg->max_held_bytes) {
        if (x && x->paused && may_exceed(p, x)) resume(p, x);
        return;
    }
    for (; x && p->paused_n > 0 && fetch_pool_held(p) < p->cfg->max_held_bytes; x = next) {
        next = x->next;
        if (x->paused) resume(p, x);
    }
}

char *fetch_xfer_take_body(fetch_pool *p, fetch_xfer *x, size_t *len) {
    *len = x->len;
    if (x->body && x->cap - x->len > 64 * 1024) { /* give back the doubling slack */
        char *b = realloc(x->body, x->len ? x->len : 1);
        if (b) x->body = b;
    }
    char *body = x->body;
    /* Counted before the send: the I/O thread may free it at once. */
    if (body) atomic_fetch_add(&p->zmq_bytes, (long long)malloc_usable_size(body));
    p->held -= (int64_t)x->len;
    x->body = NULL;
    x->len = x->cap = 0;
    return body;
}

/* Called on ZeroMQ's I/O thread once the bytes are written (or dropped): they
 * leave the held bytes only then. */
void fetch_pool_body_free(void *data, void *hint) {
    fetch_pool *p = hint;
    atomic_fetch_sub(&p->zmq_bytes, (long long)malloc_usable_size(data));
    free(data);
}

/* ---- slots ------------------------------------------------------------------ */

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
static fetch_xfer *xfer_new(fetch_pool *p, char *err, size_t errlen) {
    const fetch_config *c = p->cfg;
    fetch_xfer *x = calloc(1, sizeof(*x));
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->pool = p;
    x->guard.on = p->guard;
    x->guard.sockets = &p->sockets;
    x->easy = curl_easy_init();
    if (!x->easy) {
        snprintf(err, errlen, "curl_easy_init failed");
        goto err;
    }
    XSET(CURLOPT_PRIVATE, (void *)x);
    XSET(CURLOPT_SHARE, p->share);
    XSET(CURLOPT_WRITEFUNCTION, write_cb);
    XSET(CURLOPT_WRITEDATA, (void *)x);
    XSET(CURLOPT_OPENSOCKETFUNCTION, fetch_guard_open);
    XSET(CURLOPT_OPENSOCKETDATA, (void *)&x->guard);
    XSET(CURLOPT_CLOSESOCKETFUNCTION, fetch_guard_close);
    XSET(CURLOPT_CLOSESOCKETDATA, (void *)&p->sockets);
    XSET(CURLOPT_DNS_CACHE_TIMEOUT, -1L); /* pruned by time here, see conn_policy */
    XSET(CURLOPT_MAXAGE_CONN, (long)FETCH_CONN_MAXAGE_S);
    XSET(CURLOPT_NOSIGNAL, 1L);
    XSET(CURLOPT_ACCEPT_ENCODING, "");
    /* Redirects are followed by fetch_xfer_finish, hop by hop, after the origin check. */
    XSET(CURLOPT_FOLLOWLOCATION, 0L);
    XSET(CURLOPT_PROTOCOLS_STR, "http,https");
    XSET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    XSET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    XSET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
    XSET(CURLOPT_USERAGENT, c->user_agent);
    XSET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
    /* Only --proxy: "" keeps libcurl from taking one from the environment, and
     * behind a proxy NO_PROXY must not send requests around it (and its guard). */
    XSET(CURLOPT_PROXY, c->proxy ? c->proxy : "");
    if (c->proxy && *c->proxy) XSET(CURLOPT_NOPROXY, "");
    XSET(CURLOPT_BUFFERSIZE, p->recv_buffer);
    if (p->http2) {
        CURLcode rc = curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        if (rc != CURLE_OK) {
            p->http2 = 0; /* libcurl without HTTP/2: say so once, go on with 1.1 */
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

void fetch_xfer_recycle(fetch_pool *p, fetch_xfer *x) {
    unpaused(p, x);
    free(x->url);
    x->url = NULL;
    x->url_len = 0;
    free(x->hop_url);
    x->hop_url = NULL;
    body_reset(p, x, 1);
    p->busy--;
    p->freed++;
    list_push(&p->idle, x);
}

/* Sets the limit of x's body for its kind of job, and what the end of x's transfer
 * does to libcurl's caches, so that no cost grows with the number of hosts
 * crawled. libcurl 7.88 has two caches that do:
 * - DNS: every finished transfer walks the whole DNS cache for entries older than
 *   CURLOPT_DNS_CACHE_TIMEOUT, and the cache holds every host resolved within it
 *   (20 000 hosts: a third of the fetcher's time). Here transfers keep entries
 *   forever (-1: no walk) but one a second walks with FETCH_DNS_TTL_S, so entries
 *   still live FETCH_DNS_TTL_S and the walk is once a second, not per transfer.
 * - connections: when the cache holds more than CURLMOPT_MAXCONNECTS, returning a
 *   connection closes the oldest idle one, found by walking every host's bundle,
 *   and leaves that host's empty bundle behind: the walk grows with every host
 *   ever connected (the other third). Here libcurl's limit is kept out of reach
 *   and a transfer started while libcurl holds keep_conns sockets or more closes
 *   its connection when done (CURLOPT_FORBID_REUSE), which removes its bundle;
 *   idle connections age out after FETCH_CONN_MAXAGE_S. One host reuses every
 *   connection (they never exceed the concurrency); many hosts keep a few.
 * Returns 0, or -1 with a reason. */
static int conn_policy(fetch_pool *p, fetch_xfer *x, char *reason, size_t reasonlen) {
    int64_t now = zc_now_ms();
    unsigned sweep = now >= p->next_dns_sweep, no_reuse = p->sockets >= p->keep_conns;
    CURLcode rc = CURLE_OK;
    /* robots.txt is cut by write_cb, never refused for its Content-Length. */
    if (x->robots != x->h_robots &&
        (rc = curl_easy_setopt(x->easy, CURLOPT_MAXFILESIZE_LARGE,
                               x->robots ? (curl_off_t)0 : (curl_off_t)p->cfg->max_body)) == CURLE_OK)
        x->h_robots = x->robots;
    if (rc == CURLE_OK && sweep != x->dns_sweep &&
        (rc = curl_easy_setopt(x->easy, CURLOPT_DNS_CACHE_TIMEOUT, sweep ? (long)FETCH_DNS_TTL_S : -1L)) == CURLE_OK)
        x->dns_sweep = sweep;
    if (rc == CURLE_OK && no_reuse != x->no_reuse &&
        (rc = curl_easy_setopt(x->easy, CURLOPT_FORBID_REUSE, (long)no_reuse)) == CURLE_OK)
        x->no_reuse = no_reuse;
    if (rc != CURLE_OK) {
        snprintf(reason, reasonlen, "curl: %s", curl_easy_strerror(rc));
        return -1;
    }
    if (sweep) p->next_dns_sweep = now + FETCH_DNS_SWEEP_MS;
    return 0;
}

/* Points x's handle at url with ms left of the job's time and adds it to the multi
 * handle. Returns 0, or -1 with a reason. */
static int xfer_run(fetch_pool *p, fetch_xfer *x, const char *url, long ms, char *reason, size_t reasonlen) {
    CURLcode rc = curl_easy_setopt(x->easy, CURLOPT_URL, url);
    if (rc == CURLE_OK) rc = curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, ms);
    /* The spec's headers for the crawl's origins only, decided again at every hop. */
    if (rc == CURLE_OK && p->cfg->headers)
        rc = curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, fetch_spec_for(p->cfg->headers, url));
    if (rc != CURLE_OK) {
        snprintf(reason, reasonlen, "curl: %s", curl_easy_strerror(rc));
        return -1;
    }
    CURLMcode mc = curl_multi_add_handle(p->multi, x->easy);
    if (mc != CURLM_OK) {
        snprintf(reason, reasonlen, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        return -1;
    }
    list_push(&p->active, x);
    return 0;
}

static int refuse(fetch_result *r, fetch_outcome o, const char *reason) {
    r->outcome = o;
    r->status = 0;
    r->retry_after_ms = 0;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    return -1;
}

int fetch_xfer_start(fetch_pool *p, const char *url, size_t len, const char *proof, size_t plen, fetch_result *r) {
    p->st.jobs++;
    if (p->busy >= p->cfg->concurrency) {
        /* The broker went over our credit: refuse without giving credit back. */
        p->st.rejected++;
        zc_warn("over_credit", "busy=%ld concurrency=%ld rejected=%" PRIu64, p->busy, p->cfg->concurrency,
                p->st.rejected);
        return refuse(r, FETCH_RETRY, "fetcher over credit");
    }
    p->busy++;
    if (len == 0 || len > ZC_URL_MAX || memchr(url, '\0', len)) {
        p->busy--;
        p->freed++;
        return refuse(r, FETCH_FAIL, "bad url");
    }
    char reason[256];
    fetch_xfer *x = list_pop(&p->idle);
    if (!x && !(x = xfer_new(p, reason, sizeof(reason)))) {
        zc_error("transfer_failed", "reason=\"%s\"", reason);
        p->busy--;
        p->freed++;
        return refuse(r, FETCH_RETRY, reason);
    }
    x->url = malloc(len + 1);
    if (!x->url) {
        fetch_xfer_recycle(p, x);
        return refuse(r, FETCH_RETRY, "out of memory");
    }
    memcpy(x->url, url, len);
    x->url[len] = '\0';
    x->url_len = len;
    if (plen >= sizeof(x->proof)) plen = 0; /* fetch_link refuses such a JOB: never here */
    memcpy(x->proof, proof, plen);
    x->proof[plen] = '\0';
    x->proof_len = plen;
    x->len = x->cap = 0;
    x->body = NULL;
    x->too_large = x->oom = x->paused = x->capped = 0;
    x->robots = (unsigned)fetch_is_robots(url, len);
    fetch_guard_reset(&x->guard);
    /* Its redirect hops that the fetcher follows keep the origin (fetch_redirect.c). */
    x->guard.exempt = (unsigned)fetch_guard_exempt(p->cfg->allow_private_origins, x->url);
    x->status = x->redir_status = 0;
    x->hops = 0;
    x->started_ms = zc_now_ms();
    if (conn_policy(p, x, reason, sizeof(reason)) != 0 ||
        xfer_run(p, x, x->url, p->cfg->timeout_ms, reason, sizeof(reason)) != 0) {
        /* The slot goes back idle; recycling gives the credit back. */
        fetch_xfer_recycle(p, x);
        return refuse(r, FETCH_RETRY, reason);
    }
    return 0;
}

/* ---- endings ---------------------------------------------------------------- */

/* Starts the next hop of a same-origin redirect on x's handle, with what is left
 * of the job's timeout. Returns 0, or -1 with a reason (the job then ends). */
static int xfer_follow(fetch_pool *p, fetch_xfer *x, const char *target, char *reason, size_t reasonlen) {
    int64_t left = p->cfg->timeout_ms - (zc_now_ms() - x->started_ms);
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
    body_reset(p, x, 0);
    x->too_large = x->oom = x->capped = 0;
    fetch_guard_reset(&x->guard);
    return xfer_run(p, x, x->hop_url, (long)left, reason, reasonlen);
}

/* robots.txt that cannot be had through its redirects: unavailable, as RFC 9309
 * 2.3.1.2 has it for too many hops (the broker then allows everything, as for a
 * 4xx). The answer is status (the last 3xx) and no body. */
static fetch_end robots_unavailable(fetch_pool *p, fetch_xfer *x, long status, const char *why) {
    zc_info("robots_unavailable", "url=%.*s status=%ld hops=%ld reason=\"%s\"", (int)x->url_len, x->url, status, x->hops,
            why);
    body_reset(p, x, 0);
    x->status = status;
    return FETCH_END_ROBOTS;
}

/* A 3xx with a Location: follow it, or end the job with r (DONE) or as an
 * unavailable robots.txt. */
static fetch_end xfer_redirect(fetch_pool *p, fetch_xfer *x, long status, fetch_result *r) {
    const char *target = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &target) != CURLE_OK || !target)
        return x->robots ? robots_unavailable(p, x, status, "no Location") : FETCH_END_DONE;
    fetch_redir d = fetch_redirect_decide(x->url, target, x->hops, p->cfg->max_redirs, x->robots);
    if (d == FETCH_REDIR_FOLLOW) {
        x->redir_status = status;
        if (xfer_follow(p, x, target, r->reason, sizeof(r->reason)) == 0) return FETCH_END_HOP;
        r->outcome = FETCH_RETRY;
        return FETCH_END_DONE;
    }
    if (x->robots) return robots_unavailable(p, x, status, d == FETCH_REDIR_TOO_MANY ? "too many redirects" : "bad redirect target");
    if (d == FETCH_REDIR_REPORT) {
        r->outcome = FETCH_REDIRECT;
        fetch_redirect_report(target, r->reason, sizeof(r->reason));
    } else if (d == FETCH_REDIR_TOO_MANY) {
        r->outcome = FETCH_FAIL;
        snprintf(r->reason, sizeof(r->reason), "too many redirects (%ld)", x->hops);
    } else {
        r->outcome = FETCH_FAIL;
        snprintf(r->reason, sizeof(r->reason), "bad redirect target");
    }
    return FETCH_END_DONE;
}

/* robots.txt cut at ZC_ROBOTS_MAX_BYTES: what libcurl called a write error is the
 * end of what counts, and a line cut in two counts for nothing. */
static void robots_trim(fetch_pool *p, fetch_xfer *x) {
    const char *nl = x->len ? memrchr(x->body, '\n', x->len) : NULL;
    size_t keep = nl ? (size_t)(nl - x->body) + 1 : x->len;
    p->held -= (int64_t)(x->len - keep);
    x->len = keep;
}

fetch_end fetch_xfer_finish(fetch_pool *p, fetch_xfer *x, CURLcode rc, fetch_result *r) {
    long status = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    list_unlink(&p->active, x);
    unpaused(p, x);
    r->status = status;
    r->retry_after_ms = 0;
    x->total_ms = zc_now_ms() - x->started_ms;
    x->fetched_at_ms = zc_wall_ms();
    if (x->capped && rc == CURLE_WRITE_ERROR) {
        robots_trim(p, x);
        rc = CURLE_OK;
    }
    if (rc != CURLE_OK && fetch_guard_refused_all(&x->guard)) {
        p->st.blocked++;
        zc_info("blocked", "ip=%s hops=%ld", x->guard.blocked_ip, x->hops);
        if (x->robots && x->hops > 0) return robots_unavailable(p, x, x->redir_status, "redirect to a blocked address");
        /* Every address of the host was refused by the guard: asking again gives the
         * same answer, so this is a dead letter, not a retry. */
        r->outcome = FETCH_FAIL;
        snprintf(r->reason, sizeof(r->reason), "blocked address %s", x->guard.blocked_ip);
    } else {
        r->outcome = fetch_classify(rc, status, x->too_large, x->oom, r->reason, sizeof(r->reason));
        if (rc == CURLE_OK && status >= 300 && status <= 399 && !x->too_large && !x->oom) {
            fetch_end e = xfer_redirect(p, x, status, r);
            if (e != FETCH_END_DONE) return e;
        }
    }
    x->status = status;
    if (r->outcome == FETCH_OK && x->robots) return FETCH_END_ROBOTS;
    if (r->outcome == FETCH_OK) {
        list_push(&p->pending, x);
        return FETCH_END_PAGE;
    }
    if (r->outcome == FETCH_RETRY) {
        curl_off_t secs = 0;
        if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &secs) != CURLE_OK) secs = 0;
        r->retry_after_ms = fetch_retry_after_ms(secs, p->cfg->max_retry_after_ms);
    }
    return FETCH_END_DONE;
}

fetch_xfer *fetch_pool_next_page(fetch_pool *p) { return list_pop(&p->pending); }

fetch_xfer *fetch_pool_abort_next(fetch_pool *p) {
    fetch_xfer *x = list_pop(&p->active);
    if (x) {
        CURLMcode mc = curl_multi_remove_handle(p->multi, x->easy);
        if (mc != CURLM_OK) zc_warn("curl_remove_failed", "reason=\"%s\"", curl_multi_strerror(mc));
        unpaused(p, x);
        return x;
    }
    return list_pop(&p->pending);
}

/* ---- the pool --------------------------------------------------------------- */

void fetch_pool_open(fetch_pool *p, const fetch_config *cfg, CURLM *multi, CURLSH *share, int guard) {
    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    p->multi = multi;
    p->share = share;
    p->guard = guard;
    p->http2 = 1;
    p->recv_buffer = fetch_recv_buffer_size(cfg->recv_buffer, cfg->concurrency);
    p->keep_conns = fetch_keep_conns(cfg->concurrency);
    atomic_init(&p->zmq_bytes, 0);
}

void fetch_pool_close(fetch_pool *p) {
    fetch_xfer *x;
    while ((x = list_pop(&p->active))) {
        if (p->multi) {
            CURLMcode mc = curl_multi_remove_handle(p->multi, x->easy);
            if (mc != CURLM_OK) zc_warn("curl_remove_failed", "reason=\"%s\"", curl_multi_strerror(mc));
        }
        xfer_free(x);
    }
    while ((x = list_pop(&p->pending))) xfer_free(x);
    while ((x = list_pop(&p->idle))) xfer_free(x);
}
