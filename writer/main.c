/* main.c -- zcrawl-writer: flags and the sink around the writer's loop (writer_run). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "writer_jsonl.h"
#include "writer_mongo.h"
#include "writer_run.h"
#include "zc_curve.h"
#include "zc_endpoint.h"
#include "zc_flags.h"
#include "zc_log.h"
#include "zc_peer.h"
#include "zc_proof.h"
#include "zc_signal.h"
#include "zc_time.h"

#define PROG               "zcrawl-writer"
#define WRITER_DEFAULT_OUT "zcrawl-books.jsonl"

#define die(code, ...) zc_die(code, PROG, __VA_ARGS__)

/* Opens the sink, MongoDB when mo is set, else the JSON Lines file out, into s;
 * exits 1 with one line when it cannot. mongoc_init() must have been called. */
static void open_sink(writer_sink *s, const writer_mongo_opts *mo, const char *out, int skip_indexes) {
    char err[768];
    writer_mongo_log_to_zc();
    if (mo) {
        writer_mongo *m = writer_mongo_open(mo, err, sizeof(err));
        if (!m) {
            mongoc_cleanup();
            die(1, "%s", err);
        }
        writer_mongo_sink(s, m);
        zc_info("sink_ready", "sink=mongo db=%s collection=%s server=%s indexes=%s", writer_mongo_db(m),
                writer_mongo_collection(m), writer_mongo_server_name(m), skip_indexes ? "skipped" : "ok");
    } else {
        writer_jsonl *j = writer_jsonl_open(out, err, sizeof(err));
        if (!j) {
            mongoc_cleanup();
            die(1, "%s", err);
        }
        writer_jsonl_sink(s, j);
        char q[600];
        zc_info("sink_ready", "sink=jsonl out=%s ids=%zu", zc_log_q(q, sizeof(q), out), writer_jsonl_ids(j));
    }
}

/* Flags, the sink, then the loop: new, run, free. Its length is the flag table and
 * the help text. */
int main(int argc, char **argv) {
    writer_config c;
    writer_config_defaults(&c);
    const char *mongo_uri = NULL, *out = NULL, *db = NULL, *coll = NULL, *wc = NULL, *level_s = "info";
    int journal = 0, skip_indexes = 0;
    long wtimeout_ms = -1, server_timeout_ms = 5000;
    const zc_flag flags[] = {
        { "broker", "ZCRAWL_BROKER", ZC_FLAG_STR, &c.broker, "broker control endpoint (DEALER connects)", 0, 0 },
        { "docs", "ZCRAWL_DOCS_OUT", ZC_FLAG_STR, &c.docs, "where documents come from (PULL): the broker's docs-out, or '@endpoint' to bind for parsers; a list", 0, 0 },
        { "mongo", "ZCRAWL_MONGO", ZC_FLAG_STR, &mongo_uri, "MongoDB URI (else $MONGODB_URI); without one, documents go to --out", 0, 0 },
        { "db", "ZCRAWL_DB", ZC_FLAG_STR, &db, "database (none: the URI's, else zcrawl)", 0, 0 },
        { "collection", "ZCRAWL_COLLECTION", ZC_FLAG_STR, &coll, "collection (none: books)", 0, 0 },
        { "write-concern", "ZCRAWL_WRITE_CONCERN", ZC_FLAG_STR, &wc, "w: majority or a number >= 1 (none: the URI's w, else 1)", 0, 0 },
        { "journal", "ZCRAWL_JOURNAL", ZC_FLAG_BOOL, &journal, "ask MongoDB for j:true (else the URI's journal)", 0, 0 },
        { "wtimeout-ms", "ZCRAWL_WTIMEOUT_MS", ZC_FLAG_INT, &wtimeout_ms, "write concern timeout, 0: none (none given: the URI's wtimeoutMS, else 10000)", 0, 86400000 },
        { "server-timeout-ms", "ZCRAWL_SERVER_TIMEOUT_MS", ZC_FLAG_INT, &server_timeout_ms, "serverSelectionTimeoutMS unless the URI sets it", 1, 600000 },
        { "skip-indexes", "ZCRAWL_SKIP_INDEXES", ZC_FLAG_BOOL, &skip_indexes, "do not create the isbn_1, score_-1 and tags_1 indexes at start", 0, 0 },
        { "out", "ZCRAWL_OUT", ZC_FLAG_STR, &out, "JSON Lines file to append to (none: " WRITER_DEFAULT_OUT ")", 0, 0 },
        { "batch", "ZCRAWL_BATCH", ZC_FLAG_INT, &c.batch, "flush after this many documents at most (fewer while the sink fails or is slow)", 1, 100000 },
        { "batch-ms", "ZCRAWL_BATCH_MS", ZC_FLAG_INT, &c.batch_ms, "flush when the oldest document waited this long", 1, 600000 },
        { "batch-bytes", "ZCRAWL_BATCH_BYTES", ZC_FLAG_INT, &c.batch_bytes, "flush after this many BSON bytes", 1024, 1L << 30 },
        { "max-held-bytes", "ZCRAWL_MAX_HELD_BYTES", ZC_FLAG_INT, &c.max_held_bytes, "stop reading documents while holding this many bytes", 1024, 1L << 40 },
        { "lease-ms", "ZCRAWL_LEASE_MS", ZC_FLAG_INT, &c.lease_ms, "the broker's --lease-ms (none: 30000); --hold-ms is at most a third of it", 500, 86400000 },
        { "hold-ms", "ZCRAWL_HOLD_MS", ZC_FLAG_INT, &c.hold_ms, "HOLD (lease renewal) for documents held longer than this, this often (none: a third of --lease-ms)", 10, 3600000 },
        { "sink-fail-limit", "ZCRAWL_SINK_FAIL_LIMIT", ZC_FLAG_INT, &c.sink_fail_limit_s, "seconds of sink failure without a success before exiting 4", 1, 604800 },
        { "sink-retry-max-ms", "ZCRAWL_SINK_RETRY_MAX_MS", ZC_FLAG_INT, &c.retry_max_ms, "longest pause between retries of a failing sink", 100, 3600000 },
        { "drain-ms", "ZCRAWL_DRAIN_MS", ZC_FLAG_INT, &c.drain_ms, "at exit, keep writing what is held this long", 0, 3600000 },
        { "heartbeat-ms", "ZCRAWL_HEARTBEAT_MS", ZC_FLAG_INT, &c.heartbeat_ms, "heartbeat interval to the broker", 10, 600000 },
        { "stats-ms", "ZCRAWL_STATS_MS", ZC_FLAG_INT, &c.stats_ms, "log counters this often, 0: never", 0, 86400000 },
        { "name", "ZCRAWL_NAME", ZC_FLAG_STR, &c.name, "name told to the broker (none: writer-HOST-PID)", 0, 0 },
        { "log-level", "ZCRAWL_LOG_LEVEL", ZC_FLAG_STR, &level_s, "debug, info, warn or error", 0, 0 },
        ZC_CURVE_FLAGS,
        ZC_PROOF_FLAGS,
        ZC_FLAGS_END
    };
    zc_flags_parse_or_exit(flags, argc, argv, NULL, PROG, "[flags]",
                           "Takes DOC messages from the broker's docs-out endpoint and writes them in batches: upserts by\n"
                           "_id into MongoDB (one unordered bulk per batch), or appends to a JSON Lines file; WRITTEN goes\n"
                           "to the broker only after the sink acknowledged the whole batch. The sink runs in a thread of\n"
                           "its own, so however slow it is the writer keeps heartbeating and renews the leases of what it\n"
                           "holds (HOLD). A failing sink is reported (STATUS), retried with backoff and, after\n"
                           "--sink-fail-limit seconds without a success, given up: exit 4, nothing unwritten confirmed.\n"
                           "\n"
                           "Sink: --mongo / $ZCRAWL_MONGO, else --out / $ZCRAWL_OUT, else $MONGODB_URI, else the file\n" WRITER_DEFAULT_OUT " in the current folder. Giving both --mongo and --out is an error.\n"
                           "JSON Lines: one relaxed extended JSON document per line, each _id once. At open the writer\n"
                           "learns the _ids in the file and cuts a torn last line; it appends whole batches under an\n"
                           "exclusive lock (flock), fdatasync'ed before they are confirmed, skipping documents whose _id\n"
                           "is in the file already, and cuts a failed append back to the last whole line. Several writers\n"
                           "may share one file on a local filesystem.");

    zc_log_level level;
    char err[1100];
    if (zc_log_parse_level(level_s, &level) != 0) die(2, "--log-level: '%s' is not debug, info, warn or error", level_s);
    zc_log_init("writer", level);
    if (c.name && (strlen(c.name) >= 64 || !zc_log_plain(c.name))) {
        char q[300];
        die(2, "--name %s: 1..63 bytes of printable ASCII without spaces, quotes, '=' or '\\' only",
            zc_log_q(q, sizeof(q), c.name));
    }
    c.hold_ms = zc_peer_hold_ms(c.lease_ms, c.hold_ms, err, sizeof(err));
    if (c.hold_ms < 0) die(2, "%s", err);
    if (mongo_uri && *mongo_uri && out && *out) die(2, "give --mongo or --out, not both (--out %s)", out);
    if (!(mongo_uri && *mongo_uri) && !(out && *out)) {
        const char *env = getenv("MONGODB_URI");
        if (env && *env) mongo_uri = env;
        else out = WRITER_DEFAULT_OUT;
    }
    int use_mongo = mongo_uri && *mongo_uri && !(out && *out);
    writer_mongo_opts mo = { mongo_uri, db, coll, wc, journal, wtimeout_ms, !skip_indexes, server_timeout_ms, WRITER_MONGO_AUTO };
    if (use_mongo && writer_mongo_check_opts(&mo, err, sizeof(err)) != 0) die(2, "%s", err);
    /* Endpoints first: a malformed one is a flag error, found before the sink is touched. */
    if (!zc_endpoint_ok(c.broker)) die(2, "--broker: '%s' is not an endpoint such as tcp://host:5555", c.broker);
    if (zc_endpoint_list_ok(c.docs, err, sizeof(err)) != 0) die(2, "--docs: %s", err);
    if (zc_curve_setup("writer", (const char *[]){ c.broker, c.docs, NULL }, err, sizeof(err)) != 0) die(2, "%s", err);
    static zc_proof_key proof;
    char secret_path[4096]; /* --secret-file, or crawl.secret beside --keys */
    if (zc_proof_load(&proof, zc_proof_secret_path(zc_proof_opt_secret_file, zc_curve_opt_keys, secret_path, sizeof(secret_path)), err, sizeof(err)) != 0) die(2, "%s", err);
    c.proof = &proof;
    if (zc_signal_install() != 0) die(1, "cannot install signal handlers: %s", strerror(errno));
    zc_rand_seed(0);

    writer_sink sink;
    mongoc_init();
    open_sink(&sink, use_mongo ? &mo : NULL, out, skip_indexes);
    writer_run *w = writer_run_new(&c, &sink, err, sizeof(err));
    if (!w) {
        mongoc_cleanup();
        die(1, "%s", err);
    }
    int rc = writer_run_loop(w, err, sizeof(err));
    if (writer_run_free(w) == 0) mongoc_cleanup();
    if (rc == WRITER_EXIT_GAVE_UP) die(WRITER_EXIT_GAVE_UP, "%s", err);
    return rc;
}
