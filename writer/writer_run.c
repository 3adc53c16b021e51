/* writer_run.c -- the writer's loop: DOCs in, batches to the sink thread, reports out. */
#include "writer_run.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "writer_doc.h"
#include "writer_worker.h"
#include "zc_buf.h"
#include "zc_curve.h"
#include "zc_endpoint.h"
#include "zc_list.h"
#include "zc_log.h"
#include "zc_msg.h"
#include "zc_peer.h"
#include "zc_signal.h"
#include "zc_time.h"

#define WRITER_MAX_REJECTS      3    /* sink refusals before a document goes DEAD */
#define WRITER_OUTBOX_MAX       4096 /* reports waiting for the broker socket */
#define WRITER_RETRY_BASE_MS    100
#define WRITER_URL_MAX          8192
#define WRITER_HOLD_PER_FRAME   1000 /* URLs per HOLD message (the protocol's limit) */
#define WRITER_STATUS_REPEAT_MS 5000
#define WRITER_READ_ROUND       256 /* DOCs read per poll round at most */

void writer_config_defaults(writer_config *c) {
    memset(c, 0, sizeof(*c));
    c->broker = "tcp://127.0.0.1:5555";
    c->docs = "tcp://127.0.0.1:5559";
    c->batch = 500;
    c->batch_ms = 20;
    c->batch_bytes = 8L << 20;
    c->max_held_bytes = 64L << 20;
    c->lease_ms = ZC_PEER_LEASE_MS;
    c->hold_ms = 0; /* a third of the lease (zc_peer_hold_ms) */
    c->heartbeat_ms = 1000;
    c->drain_ms = 10000;
    c->stats_ms = 10000;
    c->retry_max_ms = 10000;
    c->sink_fail_limit_s = 600;
}

/* One document held: received, not yet written nor given back. url and doc are
 * owned by the entry. */
typedef struct held {
    struct held *prev, *next;
    char *url;
    size_t url_len;
    bson_t *doc;
    int64_t since;    /* when it came */
    int64_t hold_due; /* next HOLD for it */
    int rejects;
    char reason[WRITER_REASON_MAX];
    /* A page's documents come in one DOC: only its last one reports the page, */
    unsigned silent : 1; /* so the others report nothing; */
    char *urls;          /* and with URLs (a list page's items, an item's follow) it says DISCOVERED */
    size_t urls_len;
    size_t page_docs; /* the last one: how many documents the page had */
    char *proof;      /* the last one: the page's proof of lease, for its DISCOVERED */
    size_t proof_len;
} held;

typedef struct held_list {
    held *head, *tail;
    size_t n;
} held_list;

ZC_LIST_DEFINE(held_list, held_list, held)

/* A report to the broker waiting to be sent; data[] are owned (malloc). */
typedef struct writer_report {
    zc_msg_type type;
    int n;
    char *data[4];
    size_t len[4];
} writer_report;

struct writer_run {
    writer_config c;
    writer_sink sink;
    void *ctx, *docs;
    zc_peer peer;
    writer_worker *worker;
    /* what is held, oldest first; the first `inflight` are the batch being written */
    held_list q;
    size_t held_bytes, inflight;
    writer_job job;
    size_t batch_max; /* documents per batch now: 1..--batch */
    int capped;       /* held_bytes reached --max-held-bytes: reading stopped */
    /* a failing sink */
    int failing, attempt;
    int64_t retry_at, fail_since;
    /* the condition told to the broker */
    char cond[16], cond_detail[640];
    int64_t cond_since, next_status;
    /* HOLD */
    int64_t next_hold;
    zc_buf hold_buf;
    /* reports for the broker */
    writer_report *out;
    size_t out_head, out_n;
    int shutdown, draining, gave_up;
    int64_t next_stats;
    char gave_up_why[1024];
    /* counters */
    uint64_t received, written, already, batches, retries, dead, bad, held_sent, reports_dropped, paused, resizes;
    uint64_t unproven;    /* DOCs dropped without a valid proof of lease */
    int64_t unproven_log; /* when one was last logged (one line a second at most) */
};

static void held_free(held *h) {
    free(h->url);
    free(h->urls);
    free(h->proof);
    if (h->doc) bson_destroy(h->doc);
    free(h);
}

static size_t held_size(const held *h) { return h->doc->len + h->url_len; }

/* Removes h (never one of the batch in flight) from the queue and frees it. */
static void held_drop(writer_run *w, held *h) {
    held_list_unlink(&w->q, h);
    w->held_bytes -= held_size(h);
    held_free(h);
}

/* ---- reports to the broker ---- */

static void report_free(writer_report *r) {
    for (int i = 0; i < r->n; i++) free(r->data[i]);
    memset(r, 0, sizeof(*r));
}

/* Queues a report; takes ownership of data[0..n) (freed here on failure). */
static void report_push(writer_run *w, zc_msg_type type, int n, char **data, const size_t *len) {
    if (w->out_n == WRITER_OUTBOX_MAX) {
        /* The broker has been unreachable for long: drop the oldest report. Its
         * leases stay open and the broker hands those URLs out again later. */
        report_free(&w->out[w->out_head]);
        w->out_head = (w->out_head + 1) % WRITER_OUTBOX_MAX;
        w->out_n--;
        w->reports_dropped++;
        zc_warn("report_dropped", "reason=\"outbox full\" dropped=%llu", (unsigned long long)w->reports_dropped);
    }
    writer_report *r = &w->out[(w->out_head + w->out_n) % WRITER_OUTBOX_MAX];
    r->type = type;
    r->n = n;
    for (int i = 0; i < n; i++) {
        r->data[i] = data[i];
        r->len[i] = len[i];
    }
    w->out_n++;
}

/* Sends queued reports in order until the socket refuses one. */
static void report_send(writer_run *w) {
    static int64_t last_log;
    while (w->out_n > 0) {
        writer_report *r = &w->out[w->out_head];
        zc_frame f[4];
        for (int i = 0; i < r->n; i++) f[i] = (zc_frame){ r->data[i], r->len[i], NULL, NULL };
        if (zc_peer_send(&w->peer, r->type, f, r->n) != 0) {
            int64_t now = zc_now_ms();
            if (errno != EAGAIN && now - last_log >= 1000) {
                zc_warn("report_send_failed", "type=%s queued=%zu reason=\"%s\"", zc_msg_type_name(r->type),
                        w->out_n, zmq_strerror(errno));
                last_log = now;
            }
            return;
        }
        report_free(r);
        w->out_head = (w->out_head + 1) % WRITER_OUTBOX_MAX;
        w->out_n--;
    }
}

/* Tells the broker the document for url can never be written. */
static void report_dead(writer_run *w, const char *url, size_t url_len, const char *reason) {
    char q[300], uq[300];
    char *d[3] = { strndup(url, url_len), strdup("write"), strdup(reason) };
    size_t l[3] = { url_len, 5, strlen(reason) };
    w->dead++;
    zc_warn("doc_dead", "url=%s reason=%s dead=%llu", zc_log_q(uq, sizeof(uq), d[0] ? d[0] : "?"),
            zc_log_q(q, sizeof(q), reason), (unsigned long long)w->dead);
    if (!d[0] || !d[1] || !d[2]) {
        for (int i = 0; i < 3; i++) free(d[i]);
        zc_error("out_of_memory", "what=dead_report");
        return;
    }
    report_push(w, ZC_MSG_DEAD, 3, d, l);
}

/* ---- STATUS: the sink's condition, told to the broker ---- */

static void status_send(writer_run *w, int64_t now) {
    zc_frame f[2] = { ZC_FSTR(w->cond), ZC_FSTR(w->cond_detail) };
    char q[700];
    if (zc_peer_send(&w->peer, ZC_MSG_STATUS, f, 2) != 0)
        zc_debug("status_send_failed", "reason=\"%s\"", zmq_strerror(errno));
    else
        zc_info("status", "condition=%s detail=%s for_s=%lld", w->cond, zc_log_q(q, sizeof(q), w->cond_detail),
                (long long)((now - w->cond_since) / 1000));
    w->next_status = strcmp(w->cond, "ok") ? now + WRITER_STATUS_REPEAT_MS : INT64_MAX;
}

/* Sets the condition; a change is sent at once, a non-ok one again every 5 s. */
static void status_set(writer_run *w, const char *cond, const char *detail, int64_t now) {
    int changed = strcmp(cond, w->cond) != 0;
    snprintf(w->cond_detail, sizeof(w->cond_detail), "%s", detail);
    for (char *p = w->cond_detail; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    if (!changed) return;
    snprintf(w->cond, sizeof(w->cond), "%s", cond);
    w->cond_since = now;
    status_send(w, now);
}

/* ---- intake ---- */

/* 1 when a DOC's proof of lease is valid for its url, or no crawl secret is
 * given; else it is counted, logged (at most a line a second) and 0 returned: the
 * document is dropped unconfirmed, and no DEAD closes a lease on its word. */
static int doc_proven(writer_run *w, const char *url, size_t ulen, const char *proof, size_t plen, int64_t now) {
    if (!w->c.proof || !w->c.proof->on) return 1;
    zc_proof_verdict v = zc_proof_check(w->c.proof, url, ulen, proof, plen);
    if (v == ZC_PROOF_OK) return 1;
    w->unproven++;
    if (now - w->unproven_log >= 1000) {
        char uq[300], *u = strndup(url, ulen);
        w->unproven_log = now;
        zc_warn("doc_unproven", "url=%s proof=%s docs_unproven=%llu reason=\"dropped: %s\"",
                zc_log_q(uq, sizeof(uq), u ? u : "?"), zc_proof_verdict_name(v), (unsigned long long)w->unproven,
                v == ZC_PROOF_MISSING     ? "no proof of lease (a parser without --secret-file or of an older release)"
                : v == ZC_PROOF_MALFORMED ? "its proof of lease is not ATTEMPT:32 hex digits"
                                          : "its proof of lease is not this URL's under the crawl secret");
        free(u);
    }
    return 0;
}

/* The length of the BSON document at data (its first four bytes, little-endian),
 * or 0 when fewer than 5 bytes are left or it runs past len. */
static size_t doc_len_at(const uint8_t *data, size_t len) {
    if (len < 5) return 0;
    uint32_t n = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    return n < 5 || n > len ? 0 : n;
}

/* Holds one document of a DOC. Returns it (queued), or NULL when memory ran out. */
static held *hold_one(writer_run *w, const char *url, size_t ulen, const uint8_t *data, size_t blen, int64_t now) {
    held *h = calloc(1, sizeof(*h));
    if (h) {
        h->url = strndup(url, ulen);
        h->doc = bson_new_from_data(data, blen);
    }
    if (!h || !h->url || !h->doc) {
        if (h) held_free(h);
        return NULL;
    }
    h->url_len = ulen;
    h->since = now;
    h->hold_due = now + w->c.hold_ms;
    if (h->hold_due < w->next_hold) w->next_hold = h->hold_due;
    held_list_push(&w->q, h);
    w->held_bytes += held_size(h);
    return h;
}

/* A DOC with a fourth frame (urls): a page's documents one after another, all
 * checked before any is held; the last one carries the URLs and reports the page
 * (DISCOVERED: url, urls, documents) once every one is written. A bad document
 * makes the whole page DEAD. */
static void take_page_docs(writer_run *w, const zc_msg *m, const char *url, size_t ulen, const uint8_t *data,
                           size_t blen, const char *proof, size_t plen, int64_t now) {
    char err[512];
    size_t ndocs = 0, at = 0, n;
    while (at < blen) {
        if (!(n = doc_len_at(data + at, blen - at))) {
            report_dead(w, url, ulen, "not a list of BSON documents (a bad length prefix)");
            return;
        }
        if (writer_doc_check(data + at, n, err, sizeof(err)) != 0) {
            report_dead(w, url, ulen, err);
            return;
        }
        at += n;
        ndocs++;
    }
    size_t ul;
    const char *urls = zc_msg_data(m, 3, &ul);
    char *copy = malloc(ul + 1);
    if (!copy) goto oom;
    memcpy(copy, urls, ul);
    copy[ul] = '\0';
    held *first = NULL, *h = NULL;
    for (at = 0; at < blen; at += n) {
        n = doc_len_at(data + at, blen - at);
        if (!(h = hold_one(w, url, ulen, data + at, n, now))) {
            free(copy);
            while (first) { /* take back what this page queued: its lease brings it back */
                held *next = first->next;
                held_drop(w, first);
                first = next;
            }
            goto oom;
        }
        if (!first) first = h;
        h->silent = 1;
    }
    if (!h) { /* no document: the page is closed as it was parsed */
        char *d[4] = { strndup(url, ulen), copy, strdup("0"), plen ? strndup(proof, plen) : strdup("") };
        size_t l[4] = { ulen, ul, 1, plen };
        if (!d[0] || !d[2] || !d[3]) {
            for (int i = 0; i < 4; i++) free(d[i]);
            goto oom;
        }
        report_push(w, ZC_MSG_DISCOVERED, 4, d, l);
        return;
    }
    h->silent = 0;
    h->urls = copy;
    h->urls_len = ul;
    h->page_docs = ndocs;
    /* Out of memory here: its DISCOVERED goes without a proof, is refused, and the lease brings the page back. */
    if (!(h->proof = plen ? strndup(proof, plen) : strdup(""))) goto oom;
    h->proof_len = plen;
    return;
oom:
    zc_error("out_of_memory", "what=page_docs bytes=%zu", blen);
}

/* Takes one DOC message (url, BSON document(s), proof[, urls]): checks its proof,
 * then holds it, or reports it DEAD. */
static void take_doc(writer_run *w, const zc_msg *m, int64_t now) {
    size_t ulen, blen, plen;
    const char *url = zc_msg_data(m, 0, &ulen);
    const uint8_t *data = (const uint8_t *)zc_msg_data(m, 1, &blen);
    const char *proof = zc_msg_data(m, 2, &plen);
    char err[512];
    w->received++;
    if (ulen == 0 || ulen > WRITER_URL_MAX || memchr(url, '\n', ulen) || memchr(url, '\0', ulen)) {
        w->bad++;
        zc_warn("bad_message", "from=docs reason=\"DOC url is empty, over %d bytes, or holds a newline or NUL\" "
                               "bad=%llu",
                WRITER_URL_MAX, (unsigned long long)w->bad);
        return;
    }
    if (!doc_proven(w, url, ulen, proof, plen, now)) return;
    if (m->nframes >= 4) {
        take_page_docs(w, m, url, ulen, data, blen, proof, plen, now);
        return;
    }
    if (writer_doc_check(data, blen, err, sizeof(err)) != 0) {
        report_dead(w, url, ulen, err);
        return;
    }
    /* Not the document's fault when memory runs out: dropped unconfirmed, its lease brings it back. */
    if (!hold_one(w, url, ulen, data, blen, now)) zc_error("out_of_memory", "what=doc bytes=%zu", blen);
}

static int intake_full(const writer_run *w) { return w->held_bytes >= (size_t)w->c.max_held_bytes; }

/* Says when reading stops at --max-held-bytes and starts again: meanwhile the
 * documents sent to this writer wait in queues where nobody renews their leases
 * (the broker's window keeps a crawl below the bound unless it is set low). */
static void intake_capped(writer_run *w, int capped) {
    if (capped == w->capped) return;
    w->capped = capped;
    if (capped)
        zc_warn("intake_full", "held=%zu held_bytes=%zu max_held_bytes=%ld reason=\"reading stops: documents queued "
                               "for this writer are not renewed and may be fetched again\"",
                w->q.n, w->held_bytes, w->c.max_held_bytes);
    else
        zc_info("intake_resumed", "held=%zu held_bytes=%zu", w->q.n, w->held_bytes);
}

/* Reads waiting DOCs without blocking while there is room. Returns how many
 * messages were consumed (good or bad). */
static size_t read_docs(writer_run *w) {
    size_t got = 0;
    char err[256], q[300];
    int64_t now = zc_now_ms();
    while (!intake_full(w) && got < WRITER_READ_ROUND) {
        zc_msg m;
        int rc = zc_msg_recv(w->docs, &m, ZMQ_DONTWAIT, 0, err, sizeof(err));
        if (rc == -1) {
            if (errno != EAGAIN && errno != EINTR)
                zc_warn("recv_failed", "socket=docs reason=\"%s\"", zmq_strerror(errno));
            break;
        }
        got++;
        if (rc == -2) {
            w->bad++;
            zc_warn("bad_message", "from=docs reason=%s bad=%llu", zc_log_q(q, sizeof(q), err),
                    (unsigned long long)w->bad);
            continue;
        }
        if (m.type != ZC_MSG_DOC) {
            w->bad++;
            zc_warn("bad_message", "from=docs reason=\"unexpected %s on the docs socket\" bad=%llu",
                    zc_msg_type_name(m.type), (unsigned long long)w->bad);
        } else {
            take_doc(w, &m, now);
        }
        zc_msg_close(&m);
    }
    if (intake_full(w)) {
        w->paused++;
        zc_debug("intake_paused", "held=%zu held_bytes=%zu max=%ld", w->q.n, w->held_bytes, w->c.max_held_bytes);
        intake_capped(w, 1);
    }
    return got;
}

/* ---- batches ---- */

/* Whether what is queued (not in flight) makes a full batch. */
static int batch_full(const writer_run *w) {
    size_t n = 0, bytes = 0;
    for (const held *h = w->q.head; h; h = h->next) {
        if (++n >= w->batch_max) return 1;
        bytes += h->doc->len;
        if (bytes >= (size_t)w->c.batch_bytes) return 1;
    }
    return 0;
}

/* When the next batch is due (INT64_MAX: nothing to write, or one in flight). */
static int64_t batch_due(const writer_run *w, int64_t now) {
    if (w->inflight || !w->q.head) return INT64_MAX;
    if (w->failing) return w->retry_at;
    if (w->draining || batch_full(w)) return now;
    return w->q.head->since + w->c.batch_ms;
}

/* Hands the oldest documents, up to batch_max and --batch-bytes, to the sink thread. */
static void batch_start(writer_run *w) {
    size_t n = 0, bytes = 0;
    for (held *h = w->q.head; h && n < w->batch_max; h = h->next) {
        if (n > 0 && bytes + h->doc->len > (size_t)w->c.batch_bytes) break;
        w->job.docs[n++] = h->doc;
        bytes += h->doc->len;
    }
    w->job.n = n;
    if (writer_worker_submit(w->worker, &w->job) != 0) {
        zc_error("sink_submit_failed", "reason=\"%s\"", zmq_strerror(errno));
        w->failing = 1;
        w->retry_at = zc_now_ms() + WRITER_RETRY_BASE_MS;
        return;
    }
    w->inflight = n;
}

/* DISCOVERED (url, urls, documents, proof) for the page whose last document h is:
 * the broker takes a writer's DISCOVERED only with the page's proof of lease. */
static void page_confirm(writer_run *w, held *h) {
    char num[24];
    snprintf(num, sizeof(num), "%zu", h->page_docs);
    char *d[4] = { strndup(h->url, h->url_len), h->urls, strdup(num), h->proof ? h->proof : strdup("") };
    size_t l[4] = { h->url_len, h->urls_len, strlen(num), h->proof ? h->proof_len : 0 };
    h->urls = h->proof = NULL; /* the report's now */
    if (!d[0] || !d[2] || !d[3]) {
        for (int i = 0; i < 4; i++) free(d[i]);
        zc_error("out_of_memory", "what=discovered_report");
        return;
    }
    report_push(w, ZC_MSG_DISCOVERED, 4, d, l);
}

/* WRITTEN for the first n held documents, which are then freed (a page's
 * documents but its last report nothing; its last says DISCOVERED). */
static void batch_confirm(writer_run *w, size_t n) {
    zc_buf b = { 0 };
    int oom = 0;
    for (held *h = w->q.head; h && n; n--) {
        held *next = h->next;
        if (h->urls) page_confirm(w, h);
        else if (!h->silent && !oom && zc_buf_add(&b, h->url, h->url_len, '\n') != 0) oom = 1;
        held_drop(w, h);
        h = next;
    }
    if (oom) {
        zc_error("out_of_memory", "what=written_report");
        zc_buf_free(&b);
        return;
    }
    if (!b.len) { /* every one was a page's */
        zc_buf_free(&b);
        return;
    }
    char *data = b.p;
    size_t len = b.len;
    report_push(w, ZC_MSG_WRITTEN, 1, &data, &len);
}

/* Gives up: the sink has failed without a success for longer than the limit. */
static void give_up(writer_run *w, int64_t now) {
    if (snprintf(w->gave_up_why, sizeof(w->gave_up_why),
                 "the %s sink has failed for %lld s (limit --sink-fail-limit %ld s): %s: %s; %zu documents held were "
                 "not confirmed, so the crawl resumes once a writer can write again",
                 w->sink.kind, (long long)((now - w->fail_since) / 1000), w->c.sink_fail_limit_s, w->cond,
                 w->cond_detail, w->q.n) >= (int)sizeof(w->gave_up_why))
        memcpy(w->gave_up_why + sizeof(w->gave_up_why) - 4, "...", 4);
    zc_error("giving_up", "reason=\"sink failing past the limit\" sink=%s for_s=%lld held=%zu", w->sink.kind,
             (long long)((now - w->fail_since) / 1000), w->q.n);
    w->gave_up = 1;
}

/* Adaptive batches: a batch that failed, or took longer than half the sink's
 * timeout, halves the batches after it (down to one document), so a slow link or
 * a struggling server gets writes it can finish in time instead of one that times
 * out again and again; a full batch written within a quarter of the timeout (or
 * at all, for a sink without one) doubles them again, up to --batch. n documents
 * took ms in their longest round trip to the store; ok says whether the sink took
 * them. */
static void batch_adapt(writer_run *w, size_t n, int64_t ms, int ok) {
    long tmo = w->sink.timeout_ms;
    size_t to = w->batch_max, cur = n < w->batch_max ? n : w->batch_max;
    const char *why;
    if (!ok) {
        to = cur / 2 ? cur / 2 : 1;
        why = tmo > 0 && ms >= tmo * 9 / 10 ? "timeout" : "failed";
    } else if (tmo > 0 && ms > tmo / 2) {
        to = cur / 2 ? cur / 2 : 1;
        why = "slow";
    } else if (n >= w->batch_max && (tmo <= 0 || ms < tmo / 4)) {
        to = w->batch_max * 2 < (size_t)w->c.batch ? w->batch_max * 2 : (size_t)w->c.batch;
        why = "quick";
    } else {
        return;
    }
    if (to == w->batch_max) return;
    zc_info("batch_resized", "from=%zu to=%zu why=%s docs=%zu op_ms=%lld sink_timeout_ms=%ld", w->batch_max, to, why, n,
            (long long)ms, tmo);
    w->batch_max = to;
    w->resizes++;
}

/* The STATUS detail of a failing sink: that the writer holds what comes meanwhile
 * (renewed by HOLD, so nothing is fetched again while this writer lives) up to its
 * bound, or has reached it; then the sink's error. In that order, as the broker
 * keeps the first 160 bytes; no count that changes with every retry, since a
 * changed detail is a new line on the operator's screen. */
static void status_failing(writer_run *w, int rc, const char *err, int64_t now) {
    char detail[sizeof(w->cond_detail)];
    int len = snprintf(detail, sizeof(detail), "%s %.1f MiB: %s",
                       w->capped ? "holding its bound, not reading:" : "holding what comes, up to",
                       w->c.max_held_bytes / 1048576.0, err);
    if (len >= (int)sizeof(detail)) memcpy(detail + sizeof(detail) - 4, "...", 4);
    status_set(w, writer_sink_condition(rc), detail, now);
}

/* What the sink thread answered for the batch in flight. */
static void batch_done(writer_run *w, writer_job *j) {
    int64_t now = zc_now_ms();
    size_t n = w->inflight;
    char q[700];
    w->inflight = 0;
    if (j->rc == WRITER_SINK_OK) {
        if (w->attempt > 0)
            zc_info("write_recovered", "sink=%s docs=%zu attempts=%d", w->sink.kind, n, w->attempt + 1);
        zc_debug("batch_written", "sink=%s docs=%zu already=%zu ms=%lld", w->sink.kind, n, j->already,
                 (long long)j->ms);
        batch_confirm(w, n);
        batch_adapt(w, n, j->op_ms, 1);
        w->written += n;
        w->already += j->already;
        w->batches++;
        w->failing = 0;
        w->attempt = 0;
        w->fail_since = 0;
        status_set(w, "ok", "", now);
        return;
    }
    /* Rejects count against their documents; the thrice refused go DEAD. */
    held *h = w->q.head;
    for (size_t i = 0; i < n && h; i++, h = h->next)
        for (size_t r = 0; r < j->nrej; r++)
            if (j->rej_idx[r] == i) {
                h->rejects++;
                snprintf(h->reason, sizeof(h->reason), "%s", j->rej_reason[r]);
            }
    h = w->q.head;
    for (size_t i = 0; i < n && h; i++) {
        held *next = h->next;
        if (h->rejects >= WRITER_MAX_REJECTS) {
            report_dead(w, h->url, h->url_len, h->reason);
            held_drop(w, h);
        }
        h = next;
    }
    int64_t delay = zc_backoff_ms(w->attempt, WRITER_RETRY_BASE_MS, w->c.retry_max_ms);
    w->attempt++;
    w->retries++;
    w->failing = 1;
    w->retry_at = now + delay;
    zc_warn("write_failed", "sink=%s docs=%zu attempt=%d retry_in_ms=%lld condition=%s reason=%s", w->sink.kind, n,
            w->attempt, (long long)delay, writer_sink_condition(j->rc), zc_log_q(q, sizeof(q), j->err));
    if (j->rc == WRITER_SINK_REJECTED) {
        /* The sink works; some documents are wrong, and are retired above. */
        w->fail_since = 0;
        status_set(w, "ok", "", now);
        return;
    }
    batch_adapt(w, n, j->op_ms, 0);
    if (!w->fail_since) w->fail_since = now - j->ms;
    status_failing(w, j->rc, j->err, now);
    if (now - w->fail_since >= w->c.sink_fail_limit_s * 1000) give_up(w, now);
}

/* ---- HOLD: lease renewal for what is held ---- */

static void hold_flush(writer_run *w, size_t n) {
    if (n == 0) return;
    zc_frame f = { w->hold_buf.p, w->hold_buf.len, NULL, NULL };
    if (zc_peer_send(&w->peer, ZC_MSG_HOLD, &f, 1) == 0) {
        w->held_sent += n;
        zc_debug("hold_sent", "urls=%zu", n);
    } else {
        zc_debug("hold_send_failed", "urls=%zu reason=\"%s\"", n, zmq_strerror(errno));
    }
    w->hold_buf.len = 0;
}

/* HOLD for every document held past its due time; at most 1000 URLs a frame. */
static void hold_round(writer_run *w, int64_t now) {
    if (now < w->next_hold) return;
    int64_t next = INT64_MAX;
    size_t n = 0;
    w->hold_buf.len = 0;
    for (held *h = w->q.head; h; h = h->next) {
        if (h->hold_due > now) {
            if (h->hold_due < next) next = h->hold_due;
            continue;
        }
        if (zc_buf_add(&w->hold_buf, h->url, h->url_len, '\n') != 0) {
            zc_error("out_of_memory", "what=hold");
            break;
        }
        h->hold_due = now + w->c.hold_ms;
        if (h->hold_due < next) next = h->hold_due;
        if (++n == WRITER_HOLD_PER_FRAME) {
            hold_flush(w, n);
            n = 0;
        }
    }
    hold_flush(w, n);
    w->next_hold = next;
}

/* ---- control socket ---- */

static void control(writer_run *w) {
    for (;;) {
        zc_msg m;
        int rc = zc_peer_recv(&w->peer, &m);
        if (rc == -1) return;
        if (rc == -2) {
            w->bad++;
            continue;
        }
        if (m.type == ZC_MSG_SHUTDOWN) {
            if (!w->shutdown) zc_info("shutdown_received", "held=%zu", w->q.n);
            w->shutdown = 1;
        } else {
            w->bad++;
            zc_warn("bad_message", "from=broker reason=\"unexpected %s\" bad=%llu", zc_msg_type_name(m.type),
                    (unsigned long long)w->bad);
        }
        zc_msg_close(&m);
    }
}

static void stats(writer_run *w, const char *event) {
    zc_info(event, "sink=%s received=%llu written=%llu already=%llu batches=%llu batch_max=%zu resizes=%llu "
                   "retries=%llu dead=%llu bad=%llu held=%zu held_bytes=%zu holds=%llu reports_queued=%zu "
                   "broker_reconnects=%llu condition=%s docs_unproven=%llu",
            w->sink.kind, (unsigned long long)w->received, (unsigned long long)w->written,
            (unsigned long long)w->already, (unsigned long long)w->batches, w->batch_max,
            (unsigned long long)w->resizes, (unsigned long long)w->retries, (unsigned long long)w->dead,
            (unsigned long long)w->bad, w->q.n, w->held_bytes, (unsigned long long)w->held_sent, w->out_n,
            (unsigned long long)w->peer.reconnects, w->cond, (unsigned long long)w->unproven);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* One turn of the loop: starts a due batch, waits at most until the next thing to
 * do (or until `until`) for the broker, the sink thread and, when want_docs is
 * set and there is room, the docs socket; then handles what came, heartbeats,
 * HOLD, STATUS and queued reports. */
static void turn(writer_run *w, int64_t until, int want_docs) {
    int64_t now = zc_now_ms();
    if (!w->gave_up && !writer_worker_busy(w->worker) && batch_due(w, now) <= now) batch_start(w);
    int64_t t = min64(until, now + w->c.heartbeat_ms) - now;
    t = min64(t, zc_peer_timeout(&w->peer, now));
    t = min64(t, batch_due(w, now) - now);
    t = min64(t, w->next_hold - now);
    t = min64(t, w->next_status - now);
    if (w->c.stats_ms > 0) t = min64(t, w->next_stats - now);
    if (w->failing && w->fail_since) t = min64(t, w->fail_since + w->c.sink_fail_limit_s * 1000 - now);
    if (w->out_n > 0 && w->peer.sock) t = min64(t, 20);
    if (t < 0) t = 0;
    zmq_pollitem_t items[3];
    int ni = 0, dx = -1, kx;
    if (w->peer.sock) items[ni++] = (zmq_pollitem_t){ w->peer.sock, 0, ZMQ_POLLIN, 0 };
    kx = ni;
    items[ni++] = (zmq_pollitem_t){ writer_worker_socket(w->worker), 0, ZMQ_POLLIN, 0 };
    /* Documents are read while the sink fails too: held here they are HOLDed, left
     * in the queues before this writer nobody renews them (docs/DELIVERY.md). */
    if (want_docs && !intake_full(w)) {
        dx = ni;
        items[ni++] = (zmq_pollitem_t){ w->docs, 0, ZMQ_POLLIN, 0 };
    }
    int rc = zmq_poll(items, ni, (long)t);
    if (rc < 0 && errno != EINTR) {
        zc_error("poll_failed", "reason=\"%s\"", zmq_strerror(errno));
        zc_signal_request_stop(SIGTERM);
        return;
    }
    if (rc > 0 && (items[kx].revents & ZMQ_POLLIN)) {
        writer_job *j = writer_worker_take(w->worker);
        if (j) batch_done(w, j);
    }
    if (rc > 0 && dx >= 0 && (items[dx].revents & ZMQ_POLLIN)) read_docs(w);
    if (w->capped && !intake_full(w)) intake_capped(w, 0);
    control(w);
    now = zc_now_ms();
    if (zc_peer_tick(&w->peer, now, 0)) {
        zc_info("broker_hello_again", "held=%zu", w->q.n);
        /* A new broker connection: it knows nothing of our condition nor holds. */
        if (strcmp(w->cond, "ok")) status_send(w, now);
        w->next_hold = now;
    }
    report_send(w);
    hold_round(w, now);
    if (now >= w->next_status) status_send(w, now);
    if (w->c.stats_ms > 0 && now >= w->next_stats) {
        stats(w, "stats");
        w->next_stats = now + w->c.stats_ms;
    }
    if (!w->gave_up && w->failing && w->fail_since && !writer_worker_busy(w->worker) &&
        now - w->fail_since >= w->c.sink_fail_limit_s * 1000)
        give_up(w, now);
}

/* After SHUTDOWN the DOCs already queued on the socket are taken too; after a
 * signal reading stops at once. Writing goes on, retries included, until nothing
 * is held or drain_ms ran out. Returns 0 when nothing is left unwritten. */
static int drain(writer_run *w) {
    int64_t deadline = zc_now_ms() + w->c.drain_ms;
    int more = w->shutdown && !zc_signal_stop_requested();
    w->draining = 1;
    zc_info("draining", "held=%zu reason=%s", w->q.n, more ? "shutdown" : "signal");
    while (!w->gave_up && zc_now_ms() < deadline) {
        if (more && !w->failing && !intake_full(w) && read_docs(w) > 0) continue;
        more = 0;
        if (!w->q.head && !writer_worker_busy(w->worker)) break;
        turn(w, deadline, 0);
    }
    /* Hand the last reports to the socket; its linger delivers them on close. */
    int64_t end = zc_now_ms() + 1000;
    report_send(w);
    while (w->out_n > 0 && zc_now_ms() < end) turn(w, end, 0);
    if (w->q.n > 0 || w->out_n > 0)
        zc_error("unflushed", "docs=%zu reports=%zu", w->q.n, w->out_n);
    return w->q.n == 0 ? 0 : 1;
}

int writer_run_loop(writer_run *w, char *err, size_t errlen) {
    int proof = w->c.proof && w->c.proof->on;
    zc_info("started", "name=%s broker=%s docs=%s sink=%s batch=%ld batch_ms=%ld lease_ms=%ld hold_ms=%ld "
                       "max_held_bytes=%ld sink_timeout_ms=%ld sink_fail_limit_s=%ld proof=%s",
            w->peer.name, w->c.broker, w->c.docs, w->sink.kind, w->c.batch, w->c.batch_ms, w->c.lease_ms,
            w->c.hold_ms, w->c.max_held_bytes, w->sink.timeout_ms, w->c.sink_fail_limit_s, proof ? "checked" : "off");
    if (!proof && zc_curve_enabled()) /* keys, yet documents unbound to leases */
        zc_warn("proof_off", "reason=\"no --secret-file: documents are written without a proof of lease, so whoever "
                             "can push documents here can write any\"");
    while (!zc_signal_stop_requested() && !w->shutdown && !w->gave_up) turn(w, INT64_MAX, 1);
    int sig = zc_signal_stop_requested();
    if (sig) zc_info("stopping", "signal=%d held=%zu", sig, w->q.n);
    int rc = w->gave_up ? WRITER_EXIT_GAVE_UP : drain(w);
    if (w->gave_up) rc = WRITER_EXIT_GAVE_UP;
    if (w->gave_up) {
        /* What was confirmed still goes out; nothing unwritten is. */
        int64_t end = zc_now_ms() + 1000;
        while (w->out_n > 0 && zc_now_ms() < end) turn(w, end, 0);
        snprintf(err, errlen, "%s", w->gave_up_why);
        rc = WRITER_EXIT_GAVE_UP;
    }
    stats(w, "exit");
    return rc;
}

writer_run *writer_run_new(const writer_config *c, writer_sink *sink, char *err, size_t errlen) {
    writer_run *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        sink->close(sink->impl);
        return NULL;
    }
    w->c = *c;
    w->sink = *sink;
    w->batch_max = (size_t)c->batch;
    snprintf(w->cond, sizeof(w->cond), "ok");
    w->next_status = w->next_hold = INT64_MAX;
    size_t cap = (size_t)c->batch;
    w->job.cap = cap;
    w->job.docs = calloc(cap, sizeof(*w->job.docs));
    w->job.rej_idx = calloc(cap, sizeof(*w->job.rej_idx));
    w->job.rej_reason = calloc(cap, sizeof(*w->job.rej_reason));
    w->out = calloc(WRITER_OUTBOX_MAX, sizeof(*w->out));
    if (!w->job.docs || !w->job.rej_idx || !w->job.rej_reason || !w->out) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    w->ctx = zmq_ctx_new();
    if (!w->ctx) {
        snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
        goto err;
    }
    /* A small receive queue: documents queued in ZeroMQ are renewed by nobody, so
     * they are better read into what this writer holds and HOLDs. */
    w->docs = zc_endpoint_socket(w->ctx, ZMQ_PULL, (int)c->batch, 0, c->docs, "docs", err, errlen);
    if (!w->docs) goto err;
    w->worker = writer_worker_start(w->ctx, &w->sink, err, errlen);
    if (!w->worker) goto err;
    if (zc_peer_open(&w->peer, w->ctx, c->broker, "writer", c->name, c->heartbeat_ms, 0, err, errlen) != 0) goto err;
    w->next_stats = zc_now_ms() + c->stats_ms;
    return w;
err:
    writer_run_free(w);
    return NULL;
}

int writer_run_free(writer_run *w) {
    if (!w) return 0;
    /* A sink thread stuck in a write keeps its socket, the sink and the batch:
     * terminating the context would wait for it forever. */
    int stuck = w->worker && writer_worker_free(w->worker, w->c.drain_ms > 1000 ? 1000 : w->c.drain_ms) != 0;
    zc_peer_close(&w->peer);
    if (stuck) return -1; /* the thread still reads the batch's documents: the process ends with them */
    if (w->docs && zmq_close(w->docs) != 0) zc_warn("zmq_close_failed", "reason=\"%s\"", zmq_strerror(errno));
    if (w->ctx) {
        while (zmq_ctx_term(w->ctx) != 0) {
            if (errno != EINTR) {
                zc_warn("zmq_ctx_term_failed", "reason=\"%s\"", zmq_strerror(errno));
                break;
            }
        }
    }
    if (w->sink.close) w->sink.close(w->sink.impl);
    while (w->q.head) held_drop(w, w->q.head);
    while (w->out_n > 0) {
        report_free(&w->out[w->out_head]);
        w->out_head = (w->out_head + 1) % WRITER_OUTBOX_MAX;
        w->out_n--;
    }
    zc_buf_free(&w->hold_buf);
    free(w->job.docs);
    free(w->job.rej_idx);
    free(w->job.rej_reason);
    free(w->out);
    free(w);
    return 0;
}
