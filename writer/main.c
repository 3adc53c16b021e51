/* main.c -- zcrawl-writer: DOCs from the parsers, in batches, into MongoDB or a JSON Lines file.
 *
 * One thread, one loop: PULL DOC messages from the broker's docs-out streamer,
 * gather them into a batch, flush the batch to the sink when it is full or its
 * first document has waited --batch-ms, and only once the sink acknowledged the
 * whole batch tell the broker WRITTEN(urls). A failed flush keeps the batch, stops
 * reading (the unread DOCs stay queued or go to other writers) and retries with
 * doubling backoff. A DOC whose BSON is unusable goes back as DEAD(url, "write"). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>
#include <zmq.h>

#include "zc_curve.h"
#include "zc_endpoint.h"
#include "zc_flags.h"
#include "zc_log.h"
#include "zc_msg.h"
#include "zc_peer.h"
#include "zc_signal.h"
#include "zc_time.h"
#include "writer_doc.h"
#include "writer_jsonl.h"
#include "writer_mongo.h"
#include "writer_sink.h"

#define PROG "zcrawl-writer"
#define WRITER_DEFAULT_OUT "zcrawl-books.jsonl"
#define WRITER_MAX_REJECTS 3       /* sink refusals before a document goes DEAD */
#define WRITER_OUTBOX_MAX 4096     /* reports waiting for the broker socket */
#define WRITER_RETRY_BASE_MS 100
#define WRITER_RETRY_MAX_MS 5000
#define WRITER_URL_MAX 8192

/* One document of the pending batch; url and doc are owned by the entry. */
typedef struct writer_entry {
    char *url;
    size_t url_len;
    bson_t *doc;
    int rejects;
    char reason[256];
} writer_entry;

/* A report to the broker waiting to be sent; data[] are owned (malloc). */
typedef struct writer_report {
    zc_msg_type type;
    int n;
    char *data[3];
    size_t len[3];
} writer_report;

typedef struct writer {
    long batch_max, batch_ms, batch_bytes, drain_ms, stats_ms;
    writer_sink sink;
    void *ctx, *docs;
    zc_peer peer;
    /* the pending batch */
    writer_entry *e;
    const bson_t **docv;
    size_t n, bytes;
    int64_t first_ms;
    int failing, attempt;
    int64_t retry_at;
    /* reports for the broker */
    writer_report *out;
    size_t out_head, out_n;
    int shutdown;
    int64_t next_stats;
    /* counters */
    uint64_t received, written, batches, retries, dead, bad, reports_dropped;
} writer;

static void writer_entry_free(writer_entry *e) {
    free(e->url);
    if (e->doc) bson_destroy(e->doc);
    memset(e, 0, sizeof(*e));
}

static void writer_report_free(writer_report *r) {
    for (int i = 0; i < r->n; i++) free(r->data[i]);
    memset(r, 0, sizeof(*r));
}

/* Queues a report; takes ownership of data[0..n) (freed here on failure). */
static void writer_report_push(writer *w, zc_msg_type type, int n, char **data, const size_t *len) {
    if (w->out_n == WRITER_OUTBOX_MAX) {
        /* The broker has been unreachable for long: drop the oldest report. Its
         * leases stay open and the broker hands those URLs out again later. */
        writer_report_free(&w->out[w->out_head]);
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
static void writer_report_send(writer *w) {
    while (w->out_n > 0) {
        writer_report *r = &w->out[w->out_head];
        zc_frame f[3];
        for (int i = 0; i < r->n; i++) f[i] = (zc_frame){ r->data[i], r->len[i], NULL, NULL };
        if (zc_peer_send(&w->peer, r->type, f, r->n) != 0) {
            static int64_t last_log;
            int64_t now = zc_now_ms();
            if (errno != EAGAIN && now - last_log >= 1000) {
                zc_warn("report_send_failed", "type=%s queued=%zu reason=\"%s\"", zc_msg_type_name(r->type),
                        w->out_n, zmq_strerror(errno));
                last_log = now;
            }
            return;
        }
        writer_report_free(r);
        w->out_head = (w->out_head + 1) % WRITER_OUTBOX_MAX;
        w->out_n--;
    }
}

/* Copies len bytes into a new NUL-terminated string, or NULL when out of memory. */
static char *writer_strndup(const char *s, size_t len) {
    char *d = malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

/* Tells the broker the document for url can never be written. */
static void writer_dead(writer *w, const char *url, size_t url_len, const char *reason) {
    char q[300], uq[300];
    char *d[3] = { writer_strndup(url, url_len), writer_strndup("write", 5), writer_strndup(reason, strlen(reason)) };
    size_t l[3] = { url_len, 5, strlen(reason) };
    w->dead++;
    zc_warn("doc_dead", "url=%s reason=%s dead=%llu", zc_log_q(uq, sizeof(uq), d[0] ? d[0] : "?"),
            zc_log_q(q, sizeof(q), reason), (unsigned long long)w->dead);
    if (!d[0] || !d[1] || !d[2]) {
        for (int i = 0; i < 3; i++) free(d[i]);
        zc_error("out_of_memory", "what=dead_report");
        return;
    }
    writer_report_push(w, ZC_MSG_DEAD, 3, d, l);
}

/* Takes one DOC message: checks it and adds it to the batch, or reports it DEAD. */
static void writer_take_doc(writer *w, const zc_msg *m) {
    size_t ulen, blen;
    const char *url = zc_msg_data(m, 0, &ulen);
    const uint8_t *data = (const uint8_t *)zc_msg_data(m, 1, &blen);
    char err[512];
    w->received++;
    if (ulen == 0 || ulen > WRITER_URL_MAX || memchr(url, '\n', ulen) || memchr(url, '\0', ulen)) {
        w->bad++;
        zc_warn("bad_message", "from=docs reason=\"DOC url is empty, over %d bytes, or holds a newline or NUL\" "
                "bad=%llu", WRITER_URL_MAX, (unsigned long long)w->bad);
        return;
    }
    if (writer_doc_check(data, blen, err, sizeof(err)) != 0) {
        writer_dead(w, url, ulen, err);
        return;
    }
    writer_entry *e = &w->e[w->n];
    e->url = writer_strndup(url, ulen);
    e->url_len = ulen;
    e->doc = bson_new_from_data(data, blen);
    e->rejects = 0;
    e->reason[0] = '\0';
    if (!e->url || !e->doc) {
        /* Not the document's fault: drop it unconfirmed, its lease brings it back. */
        writer_entry_free(e);
        zc_error("out_of_memory", "what=doc bytes=%zu", blen);
        return;
    }
    if (w->n == 0) w->first_ms = zc_now_ms();
    w->n++;
    w->bytes += blen;
}

static int writer_batch_full(const writer *w) {
    return w->n >= (size_t)w->batch_max || w->bytes >= (size_t)w->batch_bytes;
}

/* Reads waiting DOCs without blocking until the batch is full or none is left.
 * Returns how many messages were consumed (good or bad). */
static size_t writer_read_docs(writer *w) {
    size_t got = 0, limit = (size_t)w->batch_max + 256;
    char err[256], q[300];
    while (!writer_batch_full(w) && got < limit) {
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
            writer_take_doc(w, &m);
        }
        zc_msg_close(&m);
    }
    return got;
}

/* The sink refused docv[index]: counted against that entry. */
static void writer_reject(void *arg, size_t index, const char *reason) {
    writer *w = arg;
    if (index >= w->n) return;
    w->e[index].rejects++;
    snprintf(w->e[index].reason, sizeof(w->e[index].reason), "%s", reason);
}

/* Writes the pending batch. On success reports WRITTEN and empties the batch; on
 * failure keeps it, schedules a retry and retires documents the sink refused
 * WRITER_MAX_REJECTS times. Returns 0 on success, -1 on failure. */
static int writer_flush(writer *w) {
    char err[640], q[700];
    size_t n = w->n;
    for (size_t i = 0; i < n; i++) w->docv[i] = w->e[i].doc;
    int64_t t0 = zc_now_ms();
    int rc = w->sink.write_batch(w->sink.impl, w->docv, n, writer_reject, w, err, sizeof(err));
    int64_t now = zc_now_ms();
    if (rc == 0) {
        size_t total = 0;
        for (size_t i = 0; i < n; i++) total += w->e[i].url_len + 1;
        char *buf = malloc(total);
        if (buf) {
            size_t off = 0;
            for (size_t i = 0; i < n; i++) {
                if (i) buf[off++] = '\n';
                memcpy(buf + off, w->e[i].url, w->e[i].url_len);
                off += w->e[i].url_len;
            }
            size_t len = off;
            writer_report_push(w, ZC_MSG_WRITTEN, 1, &buf, &len);
        } else {
            zc_error("out_of_memory", "what=written_report docs=%zu", n);
        }
        if (w->attempt > 0)
            zc_info("write_recovered", "sink=%s docs=%zu attempts=%d", w->sink.kind, n, w->attempt + 1);
        zc_debug("batch_written", "sink=%s docs=%zu bytes=%zu ms=%lld", w->sink.kind, n, w->bytes,
                 (long long)(now - t0));
        w->written += n;
        w->batches++;
        for (size_t i = 0; i < n; i++) writer_entry_free(&w->e[i]);
        w->n = 0;
        w->bytes = 0;
        w->failing = 0;
        w->attempt = 0;
        writer_report_send(w);
        return 0;
    }
    int64_t delay = zc_backoff_ms(w->attempt, WRITER_RETRY_BASE_MS, WRITER_RETRY_MAX_MS);
    w->attempt++;
    w->retries++;
    zc_warn("write_failed", "sink=%s docs=%zu attempt=%d retry_in_ms=%lld reason=%s", w->sink.kind, n,
            w->attempt, (long long)delay, zc_log_q(q, sizeof(q), err));
    size_t k = 0;
    w->bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (w->e[i].rejects >= WRITER_MAX_REJECTS) {
            writer_dead(w, w->e[i].url, w->e[i].url_len, w->e[i].reason);
            writer_entry_free(&w->e[i]);
            continue;
        }
        if (k != i) {
            w->e[k] = w->e[i];
            memset(&w->e[i], 0, sizeof(w->e[i]));
        }
        w->bytes += w->e[k].doc->len;
        k++;
    }
    w->n = k;
    if (w->n == 0) {
        w->failing = 0;
        w->attempt = 0;
    } else {
        w->failing = 1;
        w->retry_at = now + delay;
    }
    writer_report_send(w);
    return -1;
}

/* Handles everything waiting on the broker socket. */
static void writer_control(writer *w) {
    for (;;) {
        zc_msg m;
        int rc = zc_peer_recv(&w->peer, &m);
        if (rc == -1) return;
        if (rc == -2) {
            w->bad++;
            continue;
        }
        if (m.type == ZC_MSG_SHUTDOWN) {
            if (!w->shutdown) zc_info("shutdown_received", "pending=%zu", w->n);
            w->shutdown = 1;
        } else {
            w->bad++;
            zc_warn("bad_message", "from=broker reason=\"unexpected %s\" bad=%llu", zc_msg_type_name(m.type),
                    (unsigned long long)w->bad);
        }
        zc_msg_close(&m);
    }
}

static void writer_stats(writer *w, const char *event) {
    zc_info(event, "sink=%s received=%llu written=%llu batches=%llu retries=%llu dead=%llu bad=%llu "
            "pending=%zu reports_queued=%zu broker_reconnects=%llu", w->sink.kind,
            (unsigned long long)w->received, (unsigned long long)w->written, (unsigned long long)w->batches,
            (unsigned long long)w->retries, (unsigned long long)w->dead, (unsigned long long)w->bad, w->n,
            w->out_n, (unsigned long long)w->peer.reconnects);
}

/* One turn of the loop: waits at most timeout_ms for the broker socket and, when
 * want_docs is set, the docs socket; then handles what came, heartbeats and
 * queued reports. */
static void writer_turn(writer *w, int64_t timeout_ms, int want_docs) {
    int64_t now = zc_now_ms();
    int64_t t = timeout_ms, pt = zc_peer_timeout(&w->peer, now);
    if (pt < t) t = pt;
    if (w->out_n > 0 && w->peer.sock && t > 20) t = 20;
    if (w->stats_ms > 0 && w->next_stats - now < t) t = w->next_stats - now;
    if (t < 0) t = 0;
    zmq_pollitem_t items[2];
    int ni = 0, dx = -1;
    if (w->peer.sock) items[ni++] = (zmq_pollitem_t){ w->peer.sock, 0, ZMQ_POLLIN, 0 };
    if (want_docs) {
        dx = ni;
        items[ni++] = (zmq_pollitem_t){ w->docs, 0, ZMQ_POLLIN, 0 };
    }
    int rc = zmq_poll(items, ni, (long)t);
    if (rc < 0 && errno != EINTR) {
        zc_error("poll_failed", "reason=\"%s\"", zmq_strerror(errno));
        zc_signal_request_stop(SIGTERM);
        return;
    }
    if (rc > 0 && dx >= 0 && (items[dx].revents & ZMQ_POLLIN)) writer_read_docs(w);
    writer_control(w);
    now = zc_now_ms();
    if (zc_peer_tick(&w->peer, now, 0)) zc_info("broker_hello_again", "pending=%zu", w->n);
    writer_report_send(w);
    if (w->stats_ms > 0 && now >= w->next_stats) {
        writer_stats(w, "stats");
        w->next_stats = now + w->stats_ms;
    }
}

/* The main loop: runs until SHUTDOWN or a signal. */
static void writer_run(writer *w) {
    while (!zc_signal_stop_requested() && !w->shutdown) {
        int64_t now = zc_now_ms(), timeout = w->peer.hb_ivl_ms;
        int full = writer_batch_full(w);
        if (w->n > 0) {
            int64_t due = w->failing ? w->retry_at : full ? now : w->first_ms + w->batch_ms;
            if (now >= due) {
                writer_flush(w);
                continue;
            }
            timeout = due - now;
        }
        writer_turn(w, timeout, !w->failing && !full);
    }
}

/* Flushes what is pending before exit, retrying until --drain-ms runs out. After
 * SHUTDOWN the DOCs already queued on the socket are taken too; after a signal
 * reading stops at once. Returns 0 when nothing is left unwritten. */
static int writer_drain(writer *w) {
    int64_t deadline = zc_now_ms() + w->drain_ms;
    int more = w->shutdown && !zc_signal_stop_requested();
    zc_info("draining", "pending=%zu reason=%s", w->n, more ? "shutdown" : "signal");
    while (zc_now_ms() < deadline) {
        int64_t now = zc_now_ms();
        if (w->n > 0 && w->failing && now < w->retry_at) {
            int64_t until = w->retry_at < deadline ? w->retry_at : deadline;
            writer_turn(w, until - now, 0);
            continue;
        }
        if (more && !w->failing && !writer_batch_full(w)) {
            if (writer_read_docs(w) == 0) more = 0;
            continue;
        }
        if (w->n == 0) break;
        writer_flush(w);
        writer_control(w);
        if (zc_peer_tick(&w->peer, zc_now_ms(), 0)) zc_info("broker_hello_again", "pending=%zu", w->n);
    }
    /* Hand the last reports to the socket; its linger delivers them on close. */
    int64_t end = zc_now_ms() + 1000;
    writer_report_send(w);
    while (w->out_n > 0 && zc_now_ms() < end) writer_turn(w, 20, 0);
    if (w->n > 0 || w->out_n > 0)
        zc_error("unflushed", "docs=%zu reports=%zu", w->n, w->out_n);
    return w->n == 0 ? 0 : 1;
}

#define die(code, ...) zc_die(code, PROG, __VA_ARGS__)

int main(int argc, char **argv) {
    const char *broker = "tcp://127.0.0.1:5555", *docs_ep = "tcp://127.0.0.1:5559";
    const char *mongo_uri = NULL, *out = NULL, *db = NULL, *coll = NULL, *wc = NULL;
    const char *name = NULL, *level_s = "info";
    int journal = 0, skip_indexes = 0;
    long batch = 500, batch_ms = 20, batch_bytes = 8L << 20, drain_ms = 10000, hb_ms = 1000;
    long stats_ms = 10000, wtimeout_ms = 10000, server_timeout_ms = 5000;
    const zc_flag flags[] = {
        { "broker", "ZCRAWL_BROKER", ZC_FLAG_STR, &broker, "broker control endpoint (DEALER connects)", 0, 0 },
        { "docs", "ZCRAWL_DOCS_OUT", ZC_FLAG_STR, &docs_ep, "where documents come from (PULL): the broker's docs-out, or '@endpoint' to bind for parsers; a list", 0, 0 },
        { "mongo", "ZCRAWL_MONGO", ZC_FLAG_STR, &mongo_uri,
          "MongoDB URI (else $MONGODB_URI); without one, documents go to --out", 0, 0 },
        { "db", "ZCRAWL_DB", ZC_FLAG_STR, &db, "database (none: the URI's, else zcrawl)", 0, 0 },
        { "collection", "ZCRAWL_COLLECTION", ZC_FLAG_STR, &coll, "collection (none: books)", 0, 0 },
        { "write-concern", "ZCRAWL_WRITE_CONCERN", ZC_FLAG_STR, &wc,
          "w: majority or a number >= 1 (none: the URI's w, else 1)", 0, 0 },
        { "journal", "ZCRAWL_JOURNAL", ZC_FLAG_BOOL, &journal, "ask MongoDB for j:true", 0, 0 },
        { "wtimeout-ms", "ZCRAWL_WTIMEOUT_MS", ZC_FLAG_INT, &wtimeout_ms, "write concern timeout, 0: none", 0,
          86400000 },
        { "server-timeout-ms", "ZCRAWL_SERVER_TIMEOUT_MS", ZC_FLAG_INT, &server_timeout_ms,
          "serverSelectionTimeoutMS unless the URI sets it", 1, 600000 },
        { "skip-indexes", "ZCRAWL_SKIP_INDEXES", ZC_FLAG_BOOL, &skip_indexes,
          "do not create the isbn_1, score_-1 and tags_1 indexes at start", 0, 0 },
        { "out", "ZCRAWL_OUT", ZC_FLAG_STR, &out, "JSON Lines file to append to (none: " WRITER_DEFAULT_OUT ")", 0, 0 },
        { "batch", "ZCRAWL_BATCH", ZC_FLAG_INT, &batch, "flush after this many documents", 1, 100000 },
        { "batch-ms", "ZCRAWL_BATCH_MS", ZC_FLAG_INT, &batch_ms, "flush when the oldest document waited this long",
          1, 600000 },
        { "batch-bytes", "ZCRAWL_BATCH_BYTES", ZC_FLAG_INT, &batch_bytes, "flush after this many BSON bytes",
          1024, 1L << 30 },
        { "drain-ms", "ZCRAWL_DRAIN_MS", ZC_FLAG_INT, &drain_ms, "at exit, retry the last batch this long", 0,
          3600000 },
        { "heartbeat-ms", "ZCRAWL_HEARTBEAT_MS", ZC_FLAG_INT, &hb_ms, "heartbeat interval to the broker", 10,
          600000 },
        { "stats-ms", "ZCRAWL_STATS_MS", ZC_FLAG_INT, &stats_ms, "log counters this often, 0: never", 0, 86400000 },
        { "name", "ZCRAWL_NAME", ZC_FLAG_STR, &name, "name told to the broker (none: writer-HOST-PID)", 0, 0 },
        { "log-level", "ZCRAWL_LOG_LEVEL", ZC_FLAG_STR, &level_s, "debug, info, warn or error", 0, 0 },
        ZC_CURVE_FLAGS,
        ZC_FLAGS_END
    };
    zc_flags_parse_or_exit(flags, argc, argv, NULL, PROG, "[flags]",
        "Takes DOC messages from the broker's docs-out endpoint, upserts them by _id into MongoDB in\n"
        "unordered bulk writes (or appends them to a JSON Lines file) in batches, and reports WRITTEN\n"
        "to the broker only after the sink acknowledged the whole batch. While the sink fails, the\n"
        "batch is kept and retried with backoff and no new DOCs are read.\n"
        "\n"
        "Sink: --mongo / $ZCRAWL_MONGO, else --out / $ZCRAWL_OUT, else $MONGODB_URI, else the file\n"
        WRITER_DEFAULT_OUT " in the current folder. Giving both --mongo and --out is an error.\n"
        "JSON Lines: one relaxed extended JSON document per line, appended with O_APPEND, each batch\n"
        "in one write(2) and fdatasync'ed before it is confirmed. The file is an append log: a retried\n"
        "or re-crawled document appears again and its last line wins. Several writers may share one\n"
        "file on a local filesystem (whole-batch appends do not interleave); on NFS give each its own.");

    zc_log_level level;
    if (zc_log_parse_level(level_s, &level) != 0)
        die(2, "--log-level: '%s' is not debug, info, warn or error", level_s);
    zc_log_init("writer", level);
    if (name && (strlen(name) == 0 || strlen(name) >= sizeof(((zc_peer *)0)->name) || strpbrk(name, "\n\r")))
        die(2, "--name: '%s' must be 1..63 bytes on one line", name);
    if (mongo_uri && *mongo_uri && out && *out)
        die(2, "give --mongo or --out, not both (--out %s)", out);
    if (!(mongo_uri && *mongo_uri) && !(out && *out)) {
        const char *env = getenv("MONGODB_URI");
        if (env && *env) mongo_uri = env;
        else out = WRITER_DEFAULT_OUT;
    }
    int use_mongo = mongo_uri && *mongo_uri && !(out && *out);
    writer_mongo_opts mo = { mongo_uri, db, coll, wc, journal, wtimeout_ms, !skip_indexes, server_timeout_ms };
    char err[640];
    if (use_mongo && writer_mongo_check_opts(&mo, err, sizeof(err)) != 0) die(2, "%s", err);
    if (zc_curve_setup("writer", (const char *[]){ broker, docs_ep, NULL }, err, sizeof(err)) != 0) die(2, "%s", err);
    if (zc_signal_install() != 0) die(1, "cannot install signal handlers: %s", strerror(errno));
    zc_rand_seed(0);

    static writer w; /* large and zeroed; one per process */
    w.batch_max = batch;
    w.batch_ms = batch_ms;
    w.batch_bytes = batch_bytes;
    w.drain_ms = drain_ms;
    w.stats_ms = stats_ms;
    w.e = calloc((size_t)batch, sizeof(*w.e));
    w.docv = calloc((size_t)batch, sizeof(*w.docv));
    w.out = calloc(WRITER_OUTBOX_MAX, sizeof(*w.out));
    if (!w.e || !w.docv || !w.out) die(1, "out of memory");

    /* Endpoints first: a malformed one is a flag error, found before the sink is touched. */
    w.ctx = zmq_ctx_new();
    if (!w.ctx) die(1, "zmq_ctx_new: %s", zmq_strerror(errno));
    w.docs = zmq_socket(w.ctx, ZMQ_PULL);
    if (!w.docs) die(1, "zmq_socket: %s", zmq_strerror(errno));
    /* A small receive queue: while this writer cannot write, the streamer sends
     * to other writers instead of piling DOCs up here. */
    int hwm = (int)batch, linger = 0;
    if (zmq_setsockopt(w.docs, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 || zc_msg_limit(w.docs) != 0 ||
        zmq_setsockopt(w.docs, ZMQ_LINGER, &linger, sizeof(linger)) != 0)
        die(1, "zmq_setsockopt: %s", zmq_strerror(errno));
    if (zc_endpoint_attach(w.ctx, w.docs, docs_ep, err, sizeof(err)) != 0) die(2, "--docs: %s", err);
    if (zc_peer_open(&w.peer, w.ctx, broker, "writer", name, hb_ms, 0, err, sizeof(err)) != 0) die(2, "%s", err);
    writer_mongo_log_to_zc();
    mongoc_init();
    if (use_mongo) {
        writer_mongo *m = writer_mongo_open(&mo, err, sizeof(err));
        if (!m) {
            mongoc_cleanup();
            die(1, "%s", err);
        }
        writer_mongo_sink(&w.sink, m);
        zc_info("sink_ready", "sink=mongo db=%s collection=%s indexes=%s", writer_mongo_db(m),
                writer_mongo_collection(m), skip_indexes ? "skipped" : "ok");
    } else {
        writer_jsonl *j = writer_jsonl_open(out, err, sizeof(err));
        if (!j) {
            mongoc_cleanup();
            die(1, "%s", err);
        }
        writer_jsonl_sink(&w.sink, j);
        char q[600];
        zc_info("sink_ready", "sink=jsonl out=%s", zc_log_q(q, sizeof(q), out));
    }

    w.next_stats = zc_now_ms() + stats_ms;
    zc_info("started", "name=%s broker=%s docs=%s batch=%ld batch_ms=%ld", w.peer.name, broker, docs_ep, batch,
            batch_ms);

    writer_run(&w);
    int sig = zc_signal_stop_requested();
    if (sig) zc_info("stopping", "signal=%d pending=%zu", sig, w.n);
    int rc = writer_drain(&w);
    writer_stats(&w, "exit");

    zc_peer_close(&w.peer);
    if (zmq_close(w.docs) != 0) zc_warn("zmq_close_failed", "reason=\"%s\"", zmq_strerror(errno));
    while (zmq_ctx_term(w.ctx) != 0) {
        if (errno != EINTR) {
            zc_warn("zmq_ctx_term_failed", "reason=\"%s\"", zmq_strerror(errno));
            break;
        }
    }
    w.sink.close(w.sink.impl);
    mongoc_cleanup();
    for (size_t i = 0; i < w.n; i++) writer_entry_free(&w.e[i]);
    while (w.out_n > 0) {
        writer_report_free(&w.out[w.out_head]);
        w.out_head = (w.out_head + 1) % WRITER_OUTBOX_MAX;
        w.out_n--;
    }
    free(w.e);
    free(w.docv);
    free(w.out);
    return rc;
}
