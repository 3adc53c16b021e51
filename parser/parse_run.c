/* parse_run.c -- the parser's loop: pages in, DISCOVERED or DOC out, HOLD and STATUS
 * for what waits (flags and setup are main.c's). */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bson/bson.h>
#include <zmq.h>

#include "parse_book.h"
#include "parse_run.h"
#include "spec.h"
#include "zc_buf.h"
#include "zc_curve.h"
#include "zc_endpoint.h"
#include "zc_flags.h"
#include "zc_log.h"
#include "zc_msg.h"
#include "zc_peer.h"
#include "zc_signal.h"
#include "zc_time.h"
#include "zc_url.h"

#define STATS_IVL_MS     10000
#define READ_BATCH       64   /* pages read per poll round */
#define FLUSH_MS         2000 /* how long a stop waits for queued output */
#define LINGER_MS        2000
#define SOCK_HWM         1000
#define RETRY_MS         50    /* poll timeout while output waits for room */
#define HOLD_MAX_URLS    1000  /* urls in one HOLD frame */
#define STATUS_REPEAT_MS 5000  /* a condition other than ok is said again this often */
#define UNPROVEN_MS      60000 /* pages_unproven is the condition this long after the last such page */

/* ---------- state ---------- */

/* A BSON document shared by us and ZeroMQ: freed when both let go. The extra
 * reference lets a send that failed with EAGAIN be retried without a copy. */
typedef struct doc_blob {
    atomic_int refs;
    uint8_t *data;
    size_t len;
} doc_blob;

/* An outgoing message that found no room: it waits in its destination's queue,
 * in order, while the parser goes on reading pages until --max-held-bytes. */
typedef struct outmsg {
    struct outmsg *next;
    zc_msg_type type;
    int n;      /* frames other than the doc */
    char *f[3]; /* owned copies of the frames other than the doc; f[0] is the page's url */
    size_t flen[3];
    doc_blob *doc;     /* DOC: the second frame */
    size_t bytes;      /* what it holds, counted against --max-held-bytes */
    int64_t received;  /* when its page arrived */
    int64_t next_hold; /* when its url is next reported in a HOLD */
} outmsg;

/* One FIFO per destination: the broker (0) and the documents' PUSH socket (1). */
typedef struct outq {
    outmsg *head, *tail;
    size_t n;
} outq;

typedef struct stats {
    uint64_t pages, lists, details, docs, discovered, dead, bad, skipped, send_failed, blocked;
    uint64_t holds, hold_urls, lost, gone, dropped;
    uint64_t unproven; /* pages dropped without a valid proof of lease */
} stats;

struct parser {
    parse_run_conf c;
    void *ctx, *pull, *push;
    zc_peer peer;
    outq q[2];
    size_t held_bytes;     /* bytes of every queued message */
    int page_waits;        /* another page was read behind the one being handled */
    int64_t page_received; /* when the page being handled arrived */
    const char *proof;     /* its proof of lease (PAGE's 9th frame), for its DOCs; valid while it is handled */
    size_t proof_len;
    int64_t next_hold_scan;
    char status[24];        /* the condition the broker last heard: "ok" or "output_blocked" */
    int64_t status_next;    /* when a condition other than ok is said again */
    int64_t unproven_at;    /* when the last page without a valid proof of lease came; 0: never */
    int64_t unproven_log;   /* when such a page was last logged (one line a second at most) */
    spec_out out;           /* what a page yields: its URLs (out.urls) */
    spec_counts *counts;    /* fields that came out null, items skipped (docs/SPEC.md, "Silent mistakes, counted"), since
                               they were last reported to the broker (COUNTS) */
    spec_counts *total;     /* all of them, for the log */
    uint64_t counts_logged; /* their total when they were last logged */
    int64_t counts_due;     /* when a COUNTS may go again while pages keep coming */
    const spec_t *spec;
    stats st;
    int peer_open; /* peer needs zc_peer_close */
};

/* ---------- output ---------- */

static void blob_unref(void *data, void *hint) {
    (void)data;
    doc_blob *b = hint;
    if (atomic_fetch_sub(&b->refs, 1) == 1) {
        bson_free(b->data);
        free(b);
    }
}

static void outmsg_free(outmsg *o) {
    for (int i = 0; i < 3; i++) free(o->f[i]);
    if (o->doc) blob_unref(NULL, o->doc);
    free(o);
}

/* One try at sending frames f[0..n) (with doc as the second frame when set). Returns
 * 0 when sent, 1 when there was no room (EAGAIN/EINTR), -1 on another error. The
 * caller's reference to doc is kept in every case. */
static int try_send(parser *P, int to_push, zc_msg_type type, const zc_frame *f, int n,
                    doc_blob *doc) {
    zc_frame fr[4];
    int k = 0;
    for (int i = 0; i < n; i++) {
        fr[k++] = f[i];
        if (i == 0 && doc) {
            atomic_fetch_add(&doc->refs, 1); /* ZeroMQ's, released through blob_unref */
            fr[k++] = (zc_frame){ doc->data, doc->len, blob_unref, doc };
        }
    }
    n = k;
    int rc = to_push ? zc_msg_send(P->push, NULL, type, fr, n, ZMQ_DONTWAIT)
                     : zc_peer_send(&P->peer, type, fr, n);
    if (rc == 0) return 0;
    return (errno == EAGAIN || errno == EINTR) ? 1 : -1;
}

/* Sends a message now, or queues it behind the ones already waiting for the same
 * destination (order is kept). Takes over the caller's reference to doc. */
static void out_send(parser *P, int to_push, zc_msg_type type, const zc_frame *f, int n,
                     doc_blob *doc) {
    outq *q = &P->q[to_push];
    if (!q->head) {
        int rc = try_send(P, to_push, type, f, n, doc);
        if (rc == 0) {
            if (doc) blob_unref(NULL, doc);
            return;
        }
        if (rc < 0) {
            P->st.send_failed++;
            zc_error("send_failed", "type=%s to=%s reason=\"%s\"", zc_msg_type_name(type),
                     to_push ? "docs" : "broker", zmq_strerror(errno));
            if (doc) blob_unref(NULL, doc);
            return;
        }
    }
    outmsg *o = calloc(1, sizeof(*o));
    if (!o) goto oom;
    o->bytes = sizeof(*o) + (doc ? doc->len : 0);
    for (int i = 0; i < n; i++) {
        if (!(o->f[i] = malloc(f[i].len ? f[i].len : 1))) goto oom;
        memcpy(o->f[i], f[i].data, f[i].len);
        o->flen[i] = f[i].len;
        o->bytes += f[i].len;
    }
    o->type = type;
    o->n = n;
    o->doc = doc;
    o->received = P->page_received;
    o->next_hold = o->received + P->c.hold_ms;
    if (q->tail) q->tail->next = o;
    else q->head = o;
    q->tail = o;
    q->n++;
    P->held_bytes += o->bytes;
    P->st.blocked++;
    zc_debug("output_blocked", "type=%s to=%s held=%zu held_bytes=%zu", zc_msg_type_name(type),
             to_push ? "docs" : "broker", P->q[0].n + P->q[1].n, P->held_bytes);
    return;
oom:
    zc_error("out_of_memory", "what=held_message type=%s", zc_msg_type_name(type));
    P->st.send_failed++;
    if (o) {
        o->doc = NULL;
        outmsg_free(o);
    }
    if (doc) blob_unref(NULL, doc);
}

/* Sends what waits for destination to_push, in order, until there is no room.
 * Returns 1 while something still waits, else 0. */
static int queue_flush(parser *P, int to_push) {
    outq *q = &P->q[to_push];
    while (q->head) {
        outmsg *o = q->head;
        zc_frame f[3];
        for (int i = 0; i < o->n; i++) f[i] = (zc_frame){ o->f[i], o->flen[i], NULL, NULL };
        int rc = try_send(P, to_push, o->type, f, o->n, o->doc);
        if (rc == 1) return 1;
        if (rc < 0) {
            P->st.send_failed++;
            zc_error("send_failed", "type=%s to=%s reason=\"%s\"", zc_msg_type_name(o->type),
                     to_push ? "docs" : "broker", zmq_strerror(errno));
        } else {
            zc_debug("output_unblocked", "type=%s waited_ms=%lld", zc_msg_type_name(o->type),
                     (long long)(zc_now_ms() - o->received));
        }
        q->head = o->next;
        if (!q->head) q->tail = NULL;
        q->n--;
        P->held_bytes -= o->bytes;
        outmsg_free(o);
    }
    return 0;
}

static size_t held_count(const parser *P) {
    return P->q[0].n + P->q[1].n;
}

/* Sends one HOLD of the '\n'-joined urls in b (the broker extends their leases). */
static void hold_frame(parser *P, zc_buf *b, size_t nurls) {
    if (!b->len) return;
    zc_frame f[1] = { { b->p, b->len, NULL, NULL } };
    if (zc_peer_send(&P->peer, ZC_MSG_HOLD, f, 1) == 0) {
        P->st.holds++;
        P->st.hold_urls += nurls;
    } else {
        /* the broker's queue is full: the next scan tries again */
        zc_debug("hold_not_sent", "urls=%zu reason=\"%s\"", nurls, zmq_strerror(errno));
    }
    b->len = 0;
}

/* HOLD (docs/PROTOCOL.md): every url held longer than --hold-ms is reported, again
 * every --hold-ms while it is still held, at most HOLD_MAX_URLS a frame. */
static void hold_scan(parser *P, int64_t now) {
    zc_buf b = { 0 };
    size_t n = 0;
    for (int d = 0; d < 2; d++) {
        for (outmsg *o = P->q[d].head; o; o = o->next) {
            if (o->next_hold > now || o->type == ZC_MSG_COUNTS) continue; /* COUNTS holds no url */
            o->next_hold = now + P->c.hold_ms;
            if (zc_buf_add(&b, o->f[0], o->flen[0], '\n') != 0) {
                zc_error("out_of_memory", "what=hold_frame");
                zc_buf_free(&b);
                return;
            }
            if (++n == HOLD_MAX_URLS) {
                hold_frame(P, &b, n);
                n = 0;
            }
        }
    }
    hold_frame(P, &b, n);
    zc_buf_free(&b);
}

/* STATUS (COMMON.md): "output_blocked" once a message has waited --hold-ms for room,
 * else "pages_unproven" for UNPROVEN_MS after a page without a valid proof of lease
 * was dropped (the broker shows it as a problem, with the count), repeated every
 * STATUS_REPEAT_MS while it lasts, "ok" when everything has gone. */
static void status_tick(parser *P, int64_t now) {
    const outmsg *oldest = NULL;
    for (int d = 0; d < 2; d++)
        if (P->q[d].head && (!oldest || P->q[d].head->received < oldest->received)) oldest = P->q[d].head;
    const char *cond = oldest && now - oldest->received >= P->c.hold_ms       ? "output_blocked"
                       : P->unproven_at && now - P->unproven_at < UNPROVEN_MS ? "pages_unproven"
                                                                              : "ok";
    int changed = strcmp(cond, P->status) != 0;
    if (!changed && (!strcmp(cond, "ok") || now < P->status_next)) return;
    char detail[200] = "";
    if (!strcmp(cond, "output_blocked"))
        snprintf(detail, sizeof(detail), "%zu pages held (%zu bytes), the oldest for %lld s: no room towards the %s",
                 held_count(P), P->held_bytes, (long long)((now - oldest->received) / 1000),
                 P->q[1].head ? "writers" : "broker");
    else if (!strcmp(cond, "pages_unproven"))
        snprintf(detail, sizeof(detail), "%llu pages dropped without a valid proof of lease, the last %lld s ago "
                                         "(a forged page, or a broker without --secret-file)",
                 (unsigned long long)P->st.unproven, (long long)((now - P->unproven_at) / 1000));
    zc_frame f[2] = { ZC_FSTR(cond), ZC_FSTR(detail) };
    if (zc_peer_send(&P->peer, ZC_MSG_STATUS, f, 2) != 0) return; /* said on a later tick */
    if (changed) zc_info("status", "condition=%s detail=\"%s\"", cond, detail);
    snprintf(P->status, sizeof(P->status), "%s", cond);
    P->status_next = now + STATUS_REPEAT_MS;
}

/* ---------- pages ---------- */

/* Reports url as a dead letter with reason. */
static void send_dead(parser *P, const char *url, size_t ulen, const char *reason) {
    char q1[512], q2[512], u[ZC_URL_MAX + 1];
    size_t n = ulen < ZC_URL_MAX ? ulen : ZC_URL_MAX;
    memcpy(u, url, n);
    u[n] = '\0';
    P->st.dead++;
    zc_warn("page_dead", "url=%s reason=%s", zc_log_q(q1, sizeof(q1), u),
            zc_log_q(q2, sizeof(q2), reason));
    zc_frame f[3] = { { url, ulen, NULL, NULL }, ZC_FSTR("parse"), ZC_FSTR(reason) };
    out_send(P, 0, ZC_MSG_DEAD, f, 3, NULL);
}

/* Nonzero when d counted something since the last report. */
static int counts_pending(const spec_counts *d) {
    for (int i = 0; i < d->nfield; i++)
        if (d->seen[i]) return 1;
    for (int i = 0; i < d->ntpl; i++)
        if (d->tried[i]) return 1;
    return 0;
}

/* Adds the counters of d to t (both spec_counts_for the same spec); d is zeroed. */
static void counts_move(spec_counts *t, spec_counts *d) {
    for (int i = 0; i < d->nfield; i++)
        t->seen[i] += d->seen[i], t->null[i] += d->null[i], t->swapped[i] += d->swapped[i];
    for (int i = 0; i < d->ntpl; i++) t->tried[i] += d->tried[i], t->skipped[i] += d->skipped[i];
    for (int i = 0; i < d->npart; i++) t->part_skipped[i] += d->part_skipped[i];
    spec_counts_zero(d);
}

#define COUNTS_EVERY_MS 1000
/* COUNTS (docs/PROTOCOL.md): the counters since the last report, before the
 * outcome of the page that made them, once a second while pages keep coming and
 * whenever none waits (idle: no page was read behind this one; or at the end),
 * so the broker has a crawl's last counters before its last lease closes; then
 * added to the totals the log shows. When memory runs out they are lost (logged).
 * Whether a page waits comes from the read ahead (read_pages), and nothing
 * pending costs nothing: before, every page and every turn of the loop asked
 * ZeroMQ (ZMQ_EVENTS: a poll and a getpid in libzmq), 9200 polls in a crawl of
 * 9543 pages. */
static void counts_report(parser *P, int idle) {
    int64_t now = zc_now_ms();
    if (!counts_pending(P->counts) || (!idle && now < P->counts_due)) return;
    zc_buf b = { 0 };
    int lines = spec_counts_report(P->spec, P->counts, &b);
    if (lines < 0) zc_error("out_of_memory", "what=spec_counts");
    if (lines > 0 && P->peer_open) {
        zc_frame f[1] = { { b.p, b.len, NULL, NULL } };
        out_send(P, 0, ZC_MSG_COUNTS, f, 1, NULL);
    }
    zc_buf_free(&b);
    counts_move(P->total, P->counts);
    P->counts_due = now + COUNTS_EVERY_MS;
}

/* Reports url as gone: a DEAD whose stage is "gone" (docs/PROTOCOL.md), which the
 * broker records as gone, not as a dead letter. */
static void send_gone(parser *P, const char *url, size_t ulen, const char *reason) {
    char q[512];
    P->st.gone++;
    zc_debug("page_gone", "url=%.*s reason=%s", (int)(ulen < ZC_URL_MAX ? ulen : ZC_URL_MAX), url,
             zc_log_q(q, sizeof(q), reason));
    zc_frame f[3] = { { url, ulen, NULL, NULL }, ZC_FSTR("gone"), ZC_FSTR(reason) };
    out_send(P, 0, ZC_MSG_DEAD, f, 3, NULL);
}

/* Nonzero when the content type mentions json (any case). */
static int is_json_type(const char *ct, size_t len) {
    for (size_t i = 0; i + 4 <= len; i++)
        if (strncasecmp(ct + i, "json", 4) == 0) return 1;
    return 0;
}

/* Sends the DOC of a page whose documents come with URLs to crawl, or of a list
 * page (one or more documents, one after another in data): url, the documents,
 * proof, urls. The writer says DISCOVERED (url, urls, documents) once all are
 * written: the URLs enter the frontier and the lease closes then, so neither is
 * lost when a writer dies (docs/PROTOCOL.md). */
static void send_docs(parser *P, const char *url, size_t ulen, const uint8_t *data, size_t len, size_t ndocs,
                      const parse_urls *u) {
    doc_blob *b = malloc(sizeof(*b));
    uint8_t *copy = b ? bson_malloc(len ? len : 1) : NULL;
    if (!copy) {
        free(b);
        send_dead(P, url, ulen, "out of memory");
        return;
    }
    memcpy(copy, data, len);
    atomic_init(&b->refs, 1);
    b->data = copy;
    b->len = len;
    P->st.docs += ndocs;
    zc_frame f[3] = { { url, ulen, NULL, NULL }, { P->proof, P->proof_len, NULL, NULL }, { u->buf ? u->buf : "", u->len, NULL, NULL } };
    out_send(P, 1, ZC_MSG_DOC, f, 3, b);
}

static void on_list(parser *P, const spec_match *sm, const char *url, size_t ulen, const char *body, size_t blen,
                    int64_t fetched_at, const char *link) {
    char err[256], q[512], q2[128];
    parse_urls *u = &P->out.urls;
    P->st.lists++;
    spec_page pg = { url, body, blen, fetched_at, link };
    int lrc = spec_list(P->spec, sm, &pg, &P->out, err, sizeof(err));
    counts_report(P, !P->page_waits);
    if (lrc != 0) {
        send_dead(P, url, ulen, err);
        return;
    }
    if (P->out.docs.dropped) {
        char q3[200];
        P->st.dropped += P->out.docs.dropped;
        zc_warn("list_items_dropped", "url=%s dropped=%zu reason=%s", zc_log_q(q, sizeof(q), url), P->out.docs.dropped,
                zc_log_q(q3, sizeof(q3), P->out.docs.why));
    }
    if (u->skipped) {
        P->st.skipped += u->skipped;
        zc_warn("list_items_skipped", "url=%s skipped=%zu placeholder=%s reason=\"a field of item_url missing or unusable\"",
                zc_log_q(q, sizeof(q), url), u->skipped, zc_log_q(q2, sizeof(q2), u->skipped_at ? u->skipped_at : ""));
    }
    if (u->truncated) zc_warn("list_count_capped", "url=%s list_pages=%zu", zc_log_q(q, sizeof(q), url), u->nlist);
    zc_debug("list_parsed", "url=%s details=%zu list_pages=%zu", zc_log_q(q, sizeof(q), url), u->ndetail, u->nlist);
    P->st.discovered += u->n;
    if (P->out.docs.n) { /* the writer closes the page once its documents are written */
        send_docs(P, url, ulen, P->out.docs.buf, P->out.docs.len, P->out.docs.n, u);
        return;
    }
    zc_frame f[2] = { { url, ulen, NULL, NULL }, { u->buf ? u->buf : "", u->len, NULL, NULL } };
    out_send(P, 0, ZC_MSG_DISCOVERED, f, 2, NULL);
}

/* An item page: its document goes to the writers as DOC (url, BSON, the page's proof). */
static void on_detail(parser *P, const spec_match *sm, const char *url, size_t ulen, const char *body,
                      size_t blen, int64_t fetched_at, const char *proof, size_t plen) {
    char err[256];
    P->st.details++;
    /* Sized for the page up front: the document is about as long as the body, and
     * growing from libbson's 128 inline bytes would copy it five times. */
    bson_t *doc = bson_sized_new(blen < (size_t)INT32_MAX - 1024 ? blen + 1024 : 1024);
    if (!doc) {
        send_dead(P, url, ulen, "out of memory");
        return;
    }
    P->out.doc = doc;
    spec_page pg = { url, body, blen, fetched_at, NULL };
    int rc = spec_item(P->spec, sm, &pg, &P->out, err, sizeof(err));
    P->out.doc = NULL;
    counts_report(P, !P->page_waits);
    if (rc == SPEC_GONE) {
        bson_destroy(doc);
        send_gone(P, url, ulen, "the page says its item is null or deleted");
        return;
    }
    if (rc != 0) {
        bson_destroy(doc);
        send_dead(P, url, ulen, err);
        return;
    }
    if (P->out.urls.n) { /* an item page that follows URLs: they go with its document */
        P->st.discovered += P->out.urls.n;
        send_docs(P, url, ulen, bson_get_data(doc), doc->len, 1, &P->out.urls);
        bson_destroy(doc);
        return;
    }
    doc_blob *b = malloc(sizeof(*b));
    uint32_t dlen = 0;
    uint8_t *data = bson_destroy_with_steal(doc, true, &dlen);
    if (!b || !data) {
        free(b);
        bson_free(data);
        send_dead(P, url, ulen, "out of memory");
        return;
    }
    atomic_init(&b->refs, 1);
    b->data = data;
    b->len = dlen;
    P->st.docs++;
    zc_frame f[2] = { { url, ulen, NULL, NULL }, { proof, plen, NULL, NULL } };
    out_send(P, 1, ZC_MSG_DOC, f, 2, b);
}

/* 1 when the page's proof of lease (PAGE's 9th frame) is valid for its url, or
 * no crawl secret is given; else the page is counted, logged (at most one line a
 * second, the url escaped) and 0 returned: it is dropped without a word to the
 * broker, whose lease (if any) runs on, since a DEAD on a forger's word would
 * close a real page's lease. */
static int page_proven(parser *P, const char *url, size_t ulen, const char *proof, size_t plen) {
    if (!P->c.proof || !P->c.proof->on) return 1;
    zc_proof_verdict v = zc_proof_check(P->c.proof, url, ulen, proof, plen);
    if (v == ZC_PROOF_OK) return 1;
    P->st.unproven++;
    P->unproven_at = P->page_received;
    if (P->page_received - P->unproven_log >= 1000) {
        char u[ZC_URL_MAX + 1], q[512];
        size_t n = ulen < ZC_URL_MAX ? ulen : ZC_URL_MAX;
        memcpy(u, url, n);
        u[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if (!u[i]) u[i] = '?';
        P->unproven_log = P->page_received;
        zc_warn("page_unproven", "url=%s proof=%s pages_unproven=%llu reason=\"dropped: %s\"",
                zc_log_q(q, sizeof(q), u), zc_proof_verdict_name(v), (unsigned long long)P->st.unproven,
                v == ZC_PROOF_MISSING     ? "no proof of lease (a fetcher of an older release, or a broker without "
                                            "--secret-file, or a page nobody leased)"
                : v == ZC_PROOF_MALFORMED ? "its proof of lease is not ATTEMPT:32 hex digits"
                                          : "its proof of lease is not this URL's under the crawl secret");
    }
    return 0;
}

/* The PAGE's link frame as a C string in buf, or NULL when the PAGE is of the older
 * form without one (link pagination then says so) or the frame cannot be one. */
static const char *page_link(const zc_msg *m, const char *url, char *buf, size_t buflen) {
    char q[512];
    if (m->nframes < 8) return NULL;
    if (zc_msg_str(m, 7, buf, buflen) == 0) return buf;
    zc_warn("bad_link", "url=%s reason=\"Link header too long or holds a NUL byte\"", zc_log_q(q, sizeof(q), url));
    return NULL;
}

/* Handles one PAGE: url, final_url, status, content_type, fetched_at_ms, total_ms,
 * body, link, proof (or the older form, without link and proof, which has no proof). */
static void on_page(parser *P, zc_msg *m) {
    char url[ZC_URL_MAX + 1], reason[160], q[512];
    size_t ulen, ctlen, blen, plen;
    const char *uraw = zc_msg_data(m, 0, &ulen);
    const char *proof = zc_msg_data(m, 8, &plen);
    P->st.pages++;
    P->page_received = zc_now_ms();
    if (ulen == 0) {
        P->st.bad++;
        zc_warn("bad_message", "from=pages reason=\"PAGE with an empty url\" bad=%llu",
                (unsigned long long)P->st.bad);
        return;
    }
    /* Before anything that reports to the broker: a forged page closes no lease. */
    if (!page_proven(P, uraw, ulen, proof, plen)) return;
    P->proof = proof;
    P->proof_len = plen;
    if (zc_msg_str(m, 0, url, sizeof(url)) != 0) {
        send_dead(P, uraw, ulen, "bad url (too long or holds a NUL byte)");
        return;
    }
    uint64_t status = 0, fetched = 0;
    if (zc_msg_u64(m, 2, &status) != 0 || status < 200 || status > 299) {
        snprintf(reason, sizeof(reason), "status %llu", (unsigned long long)status);
        send_dead(P, url, ulen, reason);
        return;
    }
    const char *ct = zc_msg_data(m, 3, &ctlen);
    if (!is_json_type(ct, ctlen)) {
        size_t n = ctlen < 80 ? ctlen : 80, k = 0;
        char clean[81];
        for (size_t i = 0; i < n; i++)
            clean[k++] = (ct[i] >= 0x20 && ct[i] < 0x7f) ? ct[i] : '?';
        clean[k] = '\0';
        snprintf(reason, sizeof(reason), ctlen ? "content-type %s" : "content-type missing", clean);
        send_dead(P, url, ulen, reason);
        return;
    }
    if (zc_msg_u64(m, 4, &fetched) != 0 || fetched > (uint64_t)INT64_MAX) {
        zc_warn("bad_fetched_at", "url=%s reason=\"not a number; using now\"", zc_log_q(q, sizeof(q), url));
        fetched = (uint64_t)zc_wall_ms();
    }
    const char *body = zc_msg_data(m, 6, &blen);
    spec_match sm;
    switch (spec_classify(P->spec, url, &sm)) {
    case PARSE_KIND_LIST: {
        char link[16384 + 1];
        on_list(P, &sm, url, ulen, body, blen, (int64_t)fetched, page_link(m, url, link, sizeof(link)));
        break;
    }
    case PARSE_KIND_DETAIL:
        on_detail(P, &sm, url, ulen, body, blen, (int64_t)fetched, proof, plen);
        break;
    default:
        snprintf(reason, sizeof(reason), "unknown page kind: no page rule of spec %.60s matches the url", spec_name(P->spec));
        send_dead(P, url, ulen, reason);
        break;
    }
}

/* Receives the next page from the PULL socket into m, skipping (and counting) bad
 * messages; got counts every message taken. Returns 1, or 0 when none waits. */
static int next_page(parser *P, zc_msg *m, int *got) {
    char err[256];
    for (;;) {
        int rc = zc_msg_recv(P->pull, m, ZMQ_DONTWAIT, 0, err, sizeof(err));
        if (rc == -1) return 0;
        (*got)++;
        if (rc == -2) {
            P->st.bad++;
            zc_warn("bad_message", "from=pages reason=\"%s\" bad=%llu", err, (unsigned long long)P->st.bad);
            continue;
        }
        if (m->type == ZC_MSG_PAGE) return 1;
        P->st.bad++;
        zc_warn("bad_message", "from=pages reason=\"unexpected %s\" bad=%llu", zc_msg_type_name(m->type),
                (unsigned long long)P->st.bad);
        zc_msg_close(m);
    }
}

/* Reads up to READ_BATCH messages from the PULL socket, one page ahead of the one
 * it handles: P->page_waits says whether another page follows it (its COUNTS can
 * wait then), known from the read that comes anyway. Returns how many. */
static int read_pages(parser *P) {
    zc_msg m[2];
    int got = 0, cur = 0;
    if (P->held_bytes >= (size_t)P->c.max_held || zc_signal_stop_requested() || !next_page(P, &m[0], &got)) return got;
    for (;;) {
        int more = got < READ_BATCH && P->held_bytes < (size_t)P->c.max_held && !zc_signal_stop_requested() &&
                   next_page(P, &m[!cur], &got);
        P->page_waits = more;
        on_page(P, &m[cur]);
        zc_msg_close(&m[cur]);
        if (!more) break;
        cur = !cur;
    }
    P->page_waits = 0;
    return got;
}

/* Reads what the broker sent. Returns 1 when it said SHUTDOWN. */
static int read_broker(parser *P) {
    int shutdown = 0;
    for (int i = 0; i < 100; i++) {
        zc_msg m;
        int rc = zc_peer_recv(&P->peer, &m);
        if (rc == -1) break;
        if (rc == -2) {
            P->st.bad++;
            continue;
        }
        if (m.type == ZC_MSG_SHUTDOWN) {
            shutdown = 1;
        } else {
            P->st.bad++;
            zc_warn("bad_message", "from=broker reason=\"unexpected %s\" bad=%llu",
                    zc_msg_type_name(m.type), (unsigned long long)P->st.bad);
        }
        zc_msg_close(&m);
    }
    return shutdown;
}

static void log_stats(const parser *P, const char *event) {
    const stats *s = &P->st;
    zc_info(event, "pages=%llu lists=%llu details=%llu docs=%llu discovered=%llu dead=%llu "
                   "bad=%llu skipped_items=%llu blocked=%llu send_failed=%llu reconnects=%llu "
                   "held=%zu held_bytes=%zu holds=%llu hold_urls=%llu lost=%llu gone=%llu dropped_items=%llu pages_unproven=%llu",
            (unsigned long long)s->pages, (unsigned long long)s->lists,
            (unsigned long long)s->details, (unsigned long long)s->docs,
            (unsigned long long)s->discovered, (unsigned long long)s->dead,
            (unsigned long long)s->bad, (unsigned long long)s->skipped,
            (unsigned long long)s->blocked, (unsigned long long)s->send_failed,
            (unsigned long long)P->peer.reconnects, held_count(P), P->held_bytes,
            (unsigned long long)s->holds, (unsigned long long)s->hold_urls, (unsigned long long)s->lost,
            (unsigned long long)s->gone, (unsigned long long)s->dropped, (unsigned long long)s->unproven);
}

/* The spec's counters (fields that came out null, placeholders that skipped items),
 * one warning a line, when they changed since they were last logged or when final. */
static void log_counts(parser *P, int final) {
    counts_report(P, 1);
    const spec_counts *c = P->total;
    uint64_t total = 0;
    for (int i = 0; i < c->nfield; i++) total += c->null[i];
    for (int i = 0; i < c->ntpl; i++) total += c->skipped[i];
    if (total == P->counts_logged && !(final && total)) return;
    P->counts_logged = total;
    zc_buf b = { 0 };
    if (spec_counts_format(P->spec, c, &b) < 0) {
        zc_error("out_of_memory", "what=spec_counts");
        zc_buf_free(&b);
        return;
    }
    char q[512], q2[512], q3[128];
    for (char *line = b.p, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *f[6] = { NULL };
        int n = 0;
        for (char *t = line, *sv = NULL; n < 6 && (t = strtok_r(t, "\t", &sv)); t = NULL) f[n++] = t;
        /* a field null wherever it was read is the typo kind of mistake: a warning; one null here and there is data */
        if (n == 6 && !strcmp(f[0], "null"))
            zc_log(!strcmp(f[3], f[4]) ? ZC_LOG_WARN : ZC_LOG_INFO, "field_null", "page=%s field=%s null=%s of=%s swapped=%s",
                   zc_log_q(q, sizeof(q), f[1]), zc_log_q(q2, sizeof(q2), f[2]), f[3], f[4], f[5]);
        else if (n == 6)
            zc_warn("items_skipped", "page=%s template=%s placeholder=%s skipped=%s of=%s", zc_log_q(q, sizeof(q), f[1]),
                    zc_log_q(q2, sizeof(q2), f[2]), zc_log_q(q3, sizeof(q3), f[3]), f[4], f[5]);
    }
    zc_buf_free(&b);
}

/* ---------- setup ---------- */

parser *parse_run_new(const parse_run_conf *c, const spec_t *spec, char *err, size_t errlen) {
    parser *P = calloc(1, sizeof(*P));
    if (!P) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    P->c = *c;
    P->spec = spec;
    spec_out_init(&P->out);
    if (!(P->counts = spec_counts_for(spec)) || !(P->total = spec_counts_for(spec))) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    P->out.counts = P->counts;
    snprintf(P->status, sizeof(P->status), "ok");
    if (!(P->ctx = zmq_ctx_new())) {
        snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
        goto err;
    }
    if (!(P->pull = zc_endpoint_socket(P->ctx, ZMQ_PULL, SOCK_HWM, 0, c->pages, "pages", err, errlen)) ||
        !(P->push = zc_endpoint_socket(P->ctx, ZMQ_PUSH, SOCK_HWM, LINGER_MS, c->docs, "docs", err, errlen)))
        goto err;
    char why[512];
    if (zc_peer_open(&P->peer, P->ctx, c->broker, "parser", c->name, c->hb_ms, 0, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "--broker %s: %.400s", c->broker, why);
        goto err;
    }
    P->peer_open = 1;
    zc_info("started", "broker=%s pages=%s docs=%s name=%s heartbeat_ms=%ld hold_ms=%ld max_held_bytes=%ld spec=%s proof=%s",
            c->broker, c->pages, c->docs, P->peer.name, c->hb_ms, c->hold_ms, c->max_held, c->spec_name,
            c->proof && c->proof->on ? "checked" : "off");
    if ((!c->proof || !c->proof->on) && zc_curve_enabled()) /* keys, yet pages unbound to leases */
        zc_warn("proof_off", "reason=\"no --secret-file: pages are parsed without a proof of lease, so whoever can "
                             "push pages here (a fetcher's key) can hand in pages for URLs it was not given\"");
    return P;
err:
    parse_run_free(P);
    return NULL;
}

/* Drops what is still queued at the stop (its leases expire and the pages come back). */
static void drop_held(parser *P) {
    if (!held_count(P)) return;
    zc_error("output_lost", "messages=%zu bytes=%zu reason=\"no room before the stop deadline\"",
             held_count(P), P->held_bytes);
    for (int d = 0; d < 2; d++) {
        while (P->q[d].head) {
            outmsg *o = P->q[d].head;
            P->q[d].head = o->next;
            P->st.lost++;
            outmsg_free(o);
        }
        P->q[d].tail = NULL;
        P->q[d].n = 0;
    }
    P->held_bytes = 0;
}

/* The loop's wait: the broker's socket, pages while there is room, documents
 * while output waits; how long, at most. Returns the number of items. */
static int poll_items(parser *P, zmq_pollitem_t *items, int *i_peer, int *i_pull, int stopping) {
    int n = 0;
    *i_peer = *i_pull = -1;
    if (P->peer.sock) {
        short ev = ZMQ_POLLIN;
        if (P->q[0].head) ev |= ZMQ_POLLOUT;
        items[n] = (zmq_pollitem_t){ P->peer.sock, 0, ev, 0 };
        *i_peer = n++;
    }
    if (P->held_bytes < (size_t)P->c.max_held && !stopping) {
        items[n] = (zmq_pollitem_t){ P->pull, 0, ZMQ_POLLIN, 0 };
        *i_pull = n++;
    }
    if (P->q[1].head) items[n++] = (zmq_pollitem_t){ P->push, 0, ZMQ_POLLOUT, 0 };
    return n;
}

int parse_run_loop(parser *P) {
    int64_t now = zc_now_ms(), next_stats = now + STATS_IVL_MS, deadline = 0;
    int stopping = 0, draining = 0, rc = 0;
    P->next_hold_scan = now + P->c.hold_ms;
    for (;;) {
        now = zc_now_ms();
        zc_peer_tick(&P->peer, now, 0);
        int waiting = queue_flush(P, 0) | queue_flush(P, 1);
        if (waiting && now >= P->next_hold_scan) hold_scan(P, now);
        if (now >= P->next_hold_scan) P->next_hold_scan = now + (P->c.hold_ms < 1000 ? P->c.hold_ms / 4 + 1 : 250);
        status_tick(P, now);

        if (!stopping && zc_signal_stop_requested()) {
            stopping = 1;
            deadline = now + FLUSH_MS;
            zc_info("stopping", "signal=%d held=%zu", zc_signal_stop_requested(), held_count(P));
        }
        if (stopping && (!waiting || now >= deadline)) break;
        if (draining && now >= deadline) {
            zc_warn("drain_timeout", "held=%zu", held_count(P));
            break;
        }

        zmq_pollitem_t items[3];
        int i_peer, i_pull, n = poll_items(P, items, &i_peer, &i_pull, stopping);
        int64_t t = zc_peer_timeout(&P->peer, now);
        if (t > P->c.hb_ms) t = P->c.hb_ms;
        if (next_stats - now < t) t = next_stats - now;
        if ((waiting || draining || stopping) && t > RETRY_MS) t = RETRY_MS;
        if (t < 0) t = 0;
        if (zmq_poll(items, n, (long)t) < 0) {
            if (errno == EINTR) continue;
            zc_error("poll_failed", "reason=\"%s\"", zmq_strerror(errno));
            rc = 1;
            break;
        }
        if (i_peer >= 0 && (items[i_peer].revents & ZMQ_POLLIN) && read_broker(P) && !draining) {
            draining = 1;
            deadline = zc_now_ms() + FLUSH_MS;
            zc_info("shutdown_received", "held=%zu", held_count(P));
        }
        int got = 0;
        if (i_pull >= 0 && (items[i_pull].revents & ZMQ_POLLIN)) got = read_pages(P);
        if (draining && got == 0 && !held_count(P)) break;
        counts_report(P, 0);
        now = zc_now_ms();
        if (now >= next_stats) {
            log_stats(P, "stats");
            log_counts(P, 0);
            next_stats = now + STATS_IVL_MS;
        }
    }
    drop_held(P);
    log_stats(P, "stopped");
    log_counts(P, 1);
    return rc;
}

void parse_run_free(parser *P) {
    if (!P) return;
    spec_out_free(&P->out);
    spec_counts_free(P->counts);
    spec_counts_free(P->total);
    if (P->peer_open) zc_peer_close(&P->peer);
    if (P->pull) zmq_close(P->pull);
    if (P->push) zmq_close(P->push);
    if (P->ctx) zmq_ctx_term(P->ctx);
    free(P);
}
