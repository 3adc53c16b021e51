/* fetch_pages.c -- the fetcher's pages socket: PAGE out without a copy. */
#include "fetch_pages.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "zc_buf.h"
#include "zc_endpoint.h"
#include "zc_log.h"
#include "zc_msg.h"

int fetch_pages_open(fetch_pages *pg, void *zctx, const fetch_config *cfg, char *err, size_t errlen) {
    pg->fd = -1;
    pg->bytes = pg->lost = 0;
    pg->sock = zc_endpoint_socket(zctx, ZMQ_PUSH, (int)cfg->pages_hwm, 2000, cfg->pages, NULL, err, errlen);
    if (!pg->sock) return -1;
    size_t sz = sizeof(pg->fd);
    if (zmq_getsockopt(pg->sock, ZMQ_FD, &pg->fd, &sz) != 0) {
        snprintf(err, errlen, "zmq_getsockopt(ZMQ_FD): %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

void fetch_pages_close(fetch_pages *pg) {
    if (pg->sock && zmq_close(pg->sock) != 0)
        zc_warn("zmq_close_failed", "socket=pages reason=\"%s\"", zmq_strerror(errno));
    pg->sock = NULL;
}

int fetch_pages_writable(fetch_pages *pg) {
    int ev = 0;
    size_t sz = sizeof(ev);
    if (zmq_getsockopt(pg->sock, ZMQ_EVENTS, &ev, &sz) != 0) {
        zc_warn("zmq_events_failed", "socket=pages reason=\"%s\"", zmq_strerror(errno));
        return 0;
    }
    return (ev & ZMQ_POLLOUT) != 0;
}

/* The response's Link headers (RFC 8288), several joined by ", " as one header
 * would hold them, into b (NUL-terminated, "" when there is none), at most
 * FETCH_LINK_MAX bytes: a link cut there is the parser's to refuse. Never fails:
 * when memory runs out b is left as it was. */
#define FETCH_LINK_MAX 16384
static void link_header(fetch_xfer *x, zc_buf *b) {
    struct curl_header *h = NULL;
    for (size_t i = 0;; i++) {
        if (curl_easy_header(x->easy, "Link", i, CURLH_HEADER, -1, &h) != CURLHE_OK || !h || !h->value) break;
        size_t n = strlen(h->value);
        if (b->len + n + 2 > FETCH_LINK_MAX) break;
        if ((b->len && zc_buf_add(b, ", ", 2, 0) != 0) || zc_buf_add(b, h->value, n, 0) != 0) break;
        if (h->amount <= i + 1) break;
    }
}

int fetch_pages_send(fetch_pages *pg, fetch_pool *pool, fetch_xfer *x, char *reason, size_t reasonlen) {
    char sbuf[24], fbuf[24], tbuf[24];
    /* The URL actually fetched: the last redirect hop's, or the job's. */
    const char *final_url = x->hop_url ? x->hop_url : x->url;
    const char *ctype = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ctype) != CURLE_OK || !ctype) ctype = "";
    snprintf(sbuf, sizeof(sbuf), "%ld", x->status);
    snprintf(fbuf, sizeof(fbuf), "%" PRId64, x->fetched_at_ms);
    snprintf(tbuf, sizeof(tbuf), "%" PRId64, x->total_ms);
    zc_buf link = { 0 };
    link_header(x, &link);
    size_t len;
    char *body = fetch_xfer_take_body(pool, x, &len);
    zc_frame f[9] = {
        { x->url, x->url_len, NULL, NULL },
        ZC_FSTR(final_url),
        ZC_FSTR(sbuf),
        ZC_FSTR(ctype),
        ZC_FSTR(fbuf),
        ZC_FSTR(tbuf),
        body ? (zc_frame){ body, len, fetch_pool_body_free, pool } : (zc_frame){ "", 0, NULL, NULL },
        { link.p ? link.p : "", link.len, NULL, NULL },
        { x->proof, x->proof_len, NULL, NULL }, /* proof: the JOB's, echoed */
    };
    /* ZeroMQ (or zc_msg_send on failure) frees the body now. */
    int rc = zc_msg_send(pg->sock, NULL, ZC_MSG_PAGE, f, 9, ZMQ_DONTWAIT);
    zc_buf_free(&link);
    if (rc == 0) {
        pg->bytes += len;
        return 0;
    }
    snprintf(reason, reasonlen, "pages send failed: %s", zmq_strerror(errno));
    pg->lost++;
    zc_warn("page_lost", "reason=\"%s\"", reason);
    return -1;
}
