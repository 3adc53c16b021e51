/* writer_mongo.c -- the MongoDB sink: unordered bulk upserts by _id with mongo-c-driver. */
#include "writer_mongo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_log.h"
#include "zc_secret.h"

#define MONGO_DEFAULT_DB         "zcrawl"
#define MONGO_DEFAULT_COLL       "books"
#define MONGO_CONNECT_TIMEOUT_MS 2000
#define MONGO_SOCKET_TIMEOUT_MS  30000

struct writer_mongo {
    mongoc_uri_t *uri;
    mongoc_client_t *client;
    mongoc_collection_t *coll;
    mongoc_write_concern_t *wc;
    char db[64];
    char coll_name[128];
    int ferretdb; /* the server is FerretDB: write through mongo_write_ferretdb */
    int cond;     /* WRITER_SINK_* kind of the last failure */
    size_t nrej;  /* documents reported to reject in the current batch */
};

/* Returns 0 when name can be a database name, else -1 with a reason in err. */
static int mongo_check_db(const char *name, char *err, size_t errlen) {
    if (!name || !*name) {
        snprintf(err, errlen, "empty database name");
        return -1;
    }
    if (strlen(name) >= 64) {
        snprintf(err, errlen, "database name '%s' is longer than 63 bytes", name);
        return -1;
    }
    if (strpbrk(name, "/\\. \"$*<>:|?")) {
        snprintf(err, errlen, "database name '%s' holds one of / \\ . space \" $ * < > : | ?", name);
        return -1;
    }
    return 0;
}

/* Returns 0 when name can be a collection name, else -1 with a reason in err. */
static int mongo_check_coll(const char *name, char *err, size_t errlen) {
    if (!name || !*name) {
        snprintf(err, errlen, "empty collection name");
        return -1;
    }
    if (strlen(name) >= 128) {
        snprintf(err, errlen, "collection name is longer than 127 bytes");
        return -1;
    }
    if (strchr(name, '$') || strncmp(name, "system.", 7) == 0) {
        snprintf(err, errlen, "collection name '%s' holds '$' or starts with 'system.'", name);
        return -1;
    }
    return 0;
}

mongoc_write_concern_t *writer_mongo_write_concern_new(const char *spec, const mongoc_write_concern_t *base,
                                                       int journal, long wtimeout_ms,
                                                       char *err, size_t errlen) {
    mongoc_write_concern_t *wc = NULL;
    if (wtimeout_ms < 0) {
        snprintf(err, errlen, "negative write concern timeout");
        return NULL;
    }
    if (spec && *spec) {
        wc = mongoc_write_concern_new();
        if (!wc) goto oom;
        if (strcmp(spec, "majority") == 0) {
            mongoc_write_concern_set_wmajority(wc, 0);
        } else {
            char *end;
            errno = 0;
            long w = strtol(spec, &end, 10);
            if (errno || end == spec || *end || w < 0 || w > 1000) {
                snprintf(err, errlen, "write concern '%s' is neither 'majority' nor a number 1..1000", spec);
                goto err;
            }
            if (w == 0) {
                snprintf(err, errlen, "write concern w=0 is never acknowledged, so no write could be confirmed");
                goto err;
            }
            mongoc_write_concern_set_w(wc, (int32_t)w);
        }
    } else {
        wc = base ? mongoc_write_concern_copy(base) : mongoc_write_concern_new();
        if (!wc) goto oom;
        int32_t w = mongoc_write_concern_get_w(wc);
        if (w == MONGOC_WRITE_CONCERN_W_UNACKNOWLEDGED || w == MONGOC_WRITE_CONCERN_W_ERRORS_IGNORED) {
            snprintf(err, errlen, "the URI asks for w=0, which is never acknowledged, so no write could be confirmed");
            goto err;
        }
        if (w == MONGOC_WRITE_CONCERN_W_DEFAULT) mongoc_write_concern_set_w(wc, 1);
    }
    if (journal) mongoc_write_concern_set_journal(wc, true);
    if (wtimeout_ms > 0) mongoc_write_concern_set_wtimeout_int64(wc, (int64_t)wtimeout_ms);
    if (!mongoc_write_concern_is_acknowledged(wc)) {
        snprintf(err, errlen, "write concern is not acknowledged");
        goto err;
    }
    return wc;
oom:
    snprintf(err, errlen, "out of memory");
err:
    if (wc) mongoc_write_concern_destroy(wc);
    return NULL;
}

int writer_mongo_check_opts(const writer_mongo_opts *o, char *err, size_t errlen) {
    if (o->db && mongo_check_db(o->db, err, errlen) != 0) return -1;
    if (o->collection && mongo_check_coll(o->collection, err, errlen) != 0) return -1;
    mongoc_write_concern_t *wc = writer_mongo_write_concern_new(o->write_concern, NULL, o->journal,
                                                                o->wtimeout_ms, err, errlen);
    if (!wc) return -1;
    mongoc_write_concern_destroy(wc);
    return 0;
}

/* Sets an int32 URI option unless the URI already gives it. Returns 0 or -1. */
/* A URI that names a user but no password takes the one in the file
 * $ZCRAWL_MONGO_PASSWORD_FILE names (a Docker secret, a systemd credential); without
 * that file such a URI is refused here (libmongoc 1.23 crashes on it in SCRAM),
 * unless its mechanism needs no password. Returns 0, or -1 with a one-line reason
 * in err. */
static int mongo_password_file(mongoc_uri_t *uri, char *err, size_t errlen) {
    const char *path = getenv(WRITER_MONGO_PASSWORD_FILE_ENV);
    const char *user = mongoc_uri_get_username(uri), *mech = mongoc_uri_get_auth_mechanism(uri);
    if (!user || mongoc_uri_get_password(uri)) return 0;
    if (mech && (!strcmp(mech, "MONGODB-X509") || !strcmp(mech, "GSSAPI") || !strcmp(mech, "MONGODB-AWS")))
        return 0;
    if (!path || !*path) {
        snprintf(err, errlen,
                 "the MongoDB URI names user %.64s but no password: give it in the file %s names (or in the URI)",
                 user, WRITER_MONGO_PASSWORD_FILE_ENV);
        return -1;
    }
    char pw[256];
    int rc = zc_secret_read(WRITER_MONGO_PASSWORD_FILE_ENV, path, pw, sizeof(pw), err, errlen);
    if (rc == 0 && !mongoc_uri_set_password(uri, pw)) {
        snprintf(err, errlen, "%s: the password is not valid UTF-8", WRITER_MONGO_PASSWORD_FILE_ENV);
        rc = -1;
    }
    memset(pw, 0, sizeof(pw));
    return rc;
}

static int mongo_uri_default(mongoc_uri_t *uri, const char *key, int32_t v, char *err, size_t errlen) {
    if (mongoc_uri_has_option(uri, key)) return 0;
    if (!mongoc_uri_set_option_as_int32(uri, key, v)) {
        snprintf(err, errlen, "cannot set URI option %s", key);
        return -1;
    }
    return 0;
}

/* Creates the query indexes, one createIndexes command each (FerretDB 1.24 drops
 * the connection when one command names several indexes that exist already).
 * Idempotent: same names and keys as before. Returns 0, or -1 with the server's
 * reason in err. */
static int mongo_create_indexes(writer_mongo *w, char *err, size_t errlen) {
    static const struct {
        const char *field;
        int dir;
        const char *name;
    } idx[] = {
        { "isbn", 1, "isbn_1" },
        { "score", -1, "score_-1" },
        { "tags", 1, "tags_1" },
    };
    mongoc_database_t *db = mongoc_client_get_database(w->client, w->db);
    if (!db) {
        snprintf(err, errlen, "cannot get database handle");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(idx) / sizeof(idx[0]); i++) {
        bson_t cmd = BSON_INITIALIZER, arr, spec, key, reply;
        bson_error_t e;
        int ok = BSON_APPEND_UTF8(&cmd, "createIndexes", w->coll_name) &&
                 BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr) &&
                 BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &spec) &&
                 BSON_APPEND_DOCUMENT_BEGIN(&spec, "key", &key) &&
                 BSON_APPEND_INT32(&key, idx[i].field, idx[i].dir) &&
                 bson_append_document_end(&spec, &key) &&
                 BSON_APPEND_UTF8(&spec, "name", idx[i].name) &&
                 bson_append_document_end(&arr, &spec) &&
                 bson_append_array_end(&cmd, &arr);
        if (!ok) {
            snprintf(err, errlen, "cannot build the createIndexes command");
            bson_destroy(&cmd);
            rc = -1;
            break;
        }
        /* reply is always initialized by the call, even on failure. */
        if (!mongoc_database_write_command_with_opts(db, &cmd, NULL, &reply, &e)) {
            /* 85/86: an index on these keys exists under other options or another
             * name: the index is there, which is all this writer needs. */
            if (e.code == 85 || e.code == 86) {
                char q[256];
                zc_warn("index_conflict", "index=%s reason=%s", idx[i].name, zc_log_q(q, sizeof(q), e.message));
            } else {
                snprintf(err, errlen, "createIndexes %s on %s.%s failed: %s", idx[i].name, w->db, w->coll_name,
                         e.message);
                rc = -1;
            }
        }
        bson_destroy(&reply);
        bson_destroy(&cmd);
    }
    mongoc_database_destroy(db);
    return rc;
}

/* Set while writer_mongo_open runs: what the driver logs then is repeated in the
 * error open returns, and a failed start must print one line only. */
static int mongo_log_quiet;

/* mongo-c-driver's own log lines, as logfmt through zc_log. */
static void mongo_log_handler(mongoc_log_level_t level, const char *domain, const char *message, void *arg) {
    char q[512];
    (void)arg;
    if (level >= MONGOC_LOG_LEVEL_DEBUG) return;
    /* Servers without sessions (FerretDB) refuse endSessions at every client close. */
    if (mongo_log_quiet || level >= MONGOC_LOG_LEVEL_MESSAGE || strstr(message, "endSessions")) {
        zc_debug("mongoc", "domain=%s msg=%s", domain, zc_log_q(q, sizeof(q), message));
    } else if (level == MONGOC_LOG_LEVEL_WARNING) {
        zc_warn("mongoc", "domain=%s msg=%s", domain, zc_log_q(q, sizeof(q), message));
    } else {
        zc_error("mongoc", "domain=%s msg=%s", domain, zc_log_q(q, sizeof(q), message));
    }
}

void writer_mongo_log_to_zc(void) { mongoc_log_set_handler(mongo_log_handler, NULL); }

static writer_mongo *mongo_open(const writer_mongo_opts *o, char *err, size_t errlen);

/* Sets w->ferretdb from the server's buildInfo reply, which FerretDB marks with a
 * ferretdbVersion field. Returns 0, or -1 with a reason in err. */
static int mongo_detect_ferretdb(writer_mongo *w, char *err, size_t errlen) {
    bson_t cmd = BSON_INITIALIZER, reply;
    bson_error_t e;
    bson_iter_t it;
    if (!BSON_APPEND_INT32(&cmd, "buildInfo", 1)) {
        snprintf(err, errlen, "cannot build buildInfo");
        bson_destroy(&cmd);
        return -1;
    }
    bool ok = mongoc_client_command_simple(w->client, "admin", &cmd, NULL, &reply, &e);
    if (ok) w->ferretdb = bson_iter_init_find(&it, &reply, "ferretdbVersion");
    else snprintf(err, errlen, "buildInfo failed: %s", e.message);
    bson_destroy(&reply);
    bson_destroy(&cmd);
    return ok ? 0 : -1;
}

writer_mongo *writer_mongo_open(const writer_mongo_opts *o, char *err, size_t errlen) {
    mongo_log_quiet = 1;
    writer_mongo *w = mongo_open(o, err, errlen);
    mongo_log_quiet = 0;
    return w;
}

static writer_mongo *mongo_open(const writer_mongo_opts *o, char *err, size_t errlen) {
    bson_error_t e;
    bson_t ping = BSON_INITIALIZER, reply;
    writer_mongo *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!o->uri || !*o->uri) {
        snprintf(err, errlen, "no MongoDB URI");
        goto err;
    }
    w->uri = mongoc_uri_new_with_error(o->uri, &e);
    if (!w->uri) {
        snprintf(err, errlen, "bad MongoDB URI: %s", e.message);
        goto err;
    }
    if (mongo_password_file(w->uri, err, errlen) != 0) goto err;
    const char *db = o->db ? o->db : mongoc_uri_get_database(w->uri);
    if (!db || !*db) db = MONGO_DEFAULT_DB;
    const char *coll = o->collection ? o->collection : MONGO_DEFAULT_COLL;
    if (mongo_check_db(db, err, errlen) != 0 || mongo_check_coll(coll, err, errlen) != 0) goto err;
    snprintf(w->db, sizeof(w->db), "%s", db);
    snprintf(w->coll_name, sizeof(w->coll_name), "%s", coll);

    /* Short timeouts: a failed write is simply retried later, and a stuck one
     * holds up every batch behind it. */
    long sst = o->server_timeout_ms > 0 ? o->server_timeout_ms : 5000;
    if (mongo_uri_default(w->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, (int32_t)sst, err, errlen) != 0 ||
        mongo_uri_default(w->uri, MONGOC_URI_CONNECTTIMEOUTMS, MONGO_CONNECT_TIMEOUT_MS, err, errlen) != 0 ||
        mongo_uri_default(w->uri, MONGOC_URI_SOCKETTIMEOUTMS, MONGO_SOCKET_TIMEOUT_MS, err, errlen) != 0)
        goto err;
    if (!mongoc_uri_get_appname(w->uri) && !mongoc_uri_set_appname(w->uri, "zcrawl-writer")) {
        snprintf(err, errlen, "cannot set the URI's appname");
        goto err;
    }
    w->wc = writer_mongo_write_concern_new(o->write_concern, mongoc_uri_get_write_concern(w->uri),
                                           o->journal, o->wtimeout_ms, err, errlen);
    if (!w->wc) goto err;

    w->client = mongoc_client_new_from_uri_with_error(w->uri, &e);
    if (!w->client) {
        snprintf(err, errlen, "cannot create MongoDB client: %s", e.message);
        goto err;
    }
    if (!mongoc_client_set_error_api(w->client, MONGOC_ERROR_API_VERSION_2)) {
        snprintf(err, errlen, "cannot set the driver's error API");
        goto err;
    }
    if (!BSON_APPEND_INT32(&ping, "ping", 1)) {
        snprintf(err, errlen, "cannot build ping");
        goto err;
    }
    bool pinged = mongoc_client_command_simple(w->client, "admin", &ping, NULL, &reply, &e);
    bson_destroy(&reply); /* initialized by the call either way */
    if (!pinged) {
        snprintf(err, errlen, "cannot reach MongoDB: %s", e.message);
        goto err;
    }
    if (o->server == WRITER_MONGO_AUTO) {
        if (mongo_detect_ferretdb(w, err, errlen) != 0) goto err;
    } else {
        w->ferretdb = o->server == WRITER_MONGO_FERRETDB;
    }
    w->coll = mongoc_client_get_collection(w->client, w->db, w->coll_name);
    if (!w->coll) {
        snprintf(err, errlen, "cannot get collection handle");
        goto err;
    }
    if (o->create_indexes && mongo_create_indexes(w, err, errlen) != 0) goto err;
    bson_destroy(&ping);
    return w;
err:
    bson_destroy(&ping);
    writer_mongo_close(w);
    return NULL;
}

/* Reads an integer count from a bulk reply (0 when absent). */
static int64_t mongo_reply_count(const bson_t *reply, const char *key) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_NUMBER(&it)) return bson_iter_as_int64(&it);
    return 0;
}

/* Counts the write errors a bulk reply lists. */
static size_t mongo_write_errors(const bson_t *reply) {
    bson_iter_t it, arr;
    size_t count = 0;
    if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &arr))
        return 0;
    while (bson_iter_next(&arr)) count++;
    return count;
}

/* Server error codes that say "try again", not "this document is wrong" (the
 * retryable-writes list of the drivers' specification, plus a few). */
static int mongo_transient_code(uint32_t code) {
    static const uint32_t codes[] = { 6, 7, 50, 63, 89, 91, 134, 150, 189, 262, 9001, 10107, 11600, 11602,
                                      13388, 13435, 13436 };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i] == code) return 1;
    return 0;
}

/* Server error codes that say the server is out of disk space. */
static int mongo_full_code(uint32_t code) { return code == 14031; }

/* The kind of failure a driver error is: the server gone or not writable now
 * (down), out of disk (full), or anything else. */
static int mongo_classify(const bson_error_t *e) {
    if (e->domain == MONGOC_ERROR_SERVER_SELECTION || e->domain == MONGOC_ERROR_STREAM ||
        e->domain == MONGOC_ERROR_PROTOCOL)
        return WRITER_SINK_DOWN;
    if (mongo_full_code(e->code) || strstr(e->message, "No space left")) return WRITER_SINK_FULL;
    if (mongo_transient_code(e->code)) return WRITER_SINK_DOWN;
    return WRITER_SINK_ERROR;
}

/* After a bulk failed with write errors, writes docs[idx[0..k)] one by one to
 * find the ones at fault, since the errors' indexes cannot be trusted (FerretDB
 * 1.24 stops at the first error of an unordered bulk and reports it at index 0).
 * Each document the server refuses for itself goes to reject; a transport or
 * write concern failure ends the search (the whole batch is retried later). */
static void mongo_find_culprits(writer_mongo *w, const bson_t *const *docs, const size_t *idx, size_t k,
                                writer_reject_fn reject, void *arg) {
    bson_t opts = BSON_INITIALIZER;
    if (!BSON_APPEND_BOOL(&opts, "upsert", true) || !mongoc_write_concern_append(w->wc, &opts)) {
        bson_destroy(&opts);
        return;
    }
    for (size_t j = 0; j < k; j++) {
        size_t i = idx[j];
        bson_iter_t it;
        bson_t sel = BSON_INITIALIZER, reply;
        bson_error_t e;
        if (!bson_iter_init_find(&it, docs[i], "_id") || !bson_append_iter(&sel, "_id", 3, &it)) {
            bson_destroy(&sel);
            reject(arg, i, "document has no usable _id");
            w->nrej++;
            continue;
        }
        bool ok = mongoc_collection_replace_one(w->coll, &sel, docs[i], &opts, &reply, &e);
        bson_destroy(&reply);
        bson_destroy(&sel);
        if (ok) continue;
        if (e.domain != MONGOC_ERROR_SERVER && e.domain != MONGOC_ERROR_COMMAND &&
            e.domain != MONGOC_ERROR_BSON && e.domain != MONGOC_ERROR_COLLECTION)
            break; /* stream, server selection, write concern: not this document */
        if (mongo_transient_code(e.code)) continue;
        /* A duplicate _id is an upsert race with another writer: the retry wins. */
        if ((e.code == 11000 || e.code == 11001 || e.code == 12582) && strstr(e.message, "_id")) continue;
        char reason[300];
        if (mongo_classify(&e) != WRITER_SINK_ERROR) break; /* the server, not this document */
        if (snprintf(reason, sizeof(reason), "MongoDB refused the document (error %u): %s", e.code, e.message) >=
            (int)sizeof(reason))
            memcpy(reason + sizeof(reason) - 4, "...", 4); /* a reason is one line: cut, and say so */
        reject(arg, i, reason);
        w->nrej++;
    }
    bson_destroy(&opts);
}

/* Runs docs[idx[0..k)] as one unordered bulk of inserts (insert set) or of
 * replace_one({_id}, doc, upsert). Returns 0 when the server acknowledged all k;
 * else -1 with a reason in err, and *write_errors set when the server answered
 * with write errors (some document's problem, or an existing _id for an insert)
 * rather than not answering. */
static int mongo_bulk(writer_mongo *w, const bson_t *const *docs, const size_t *idx, size_t k, int insert,
                      int *write_errors, char *err, size_t errlen) {
    bson_t opts = BSON_INITIALIZER, dopts = BSON_INITIALIZER, reply;
    bson_error_t e;
    mongoc_bulk_operation_t *bulk = NULL;
    int have_reply = 0, rc = -1;
    const char *what = insert ? "insert" : "upsert";

    *write_errors = 0;
    w->cond = WRITER_SINK_ERROR;
    if (!BSON_APPEND_BOOL(&opts, "ordered", false) || !mongoc_write_concern_append(w->wc, &opts) ||
        (!insert && !BSON_APPEND_BOOL(&dopts, "upsert", true)) ||
        /* writer_doc_check has applied the driver's checks already. */
        !BSON_APPEND_BOOL(&dopts, "validate", false)) {
        snprintf(err, errlen, "cannot build bulk options");
        goto done;
    }
    bulk = mongoc_collection_create_bulk_operation_with_opts(w->coll, &opts);
    if (!bulk) {
        snprintf(err, errlen, "cannot create bulk operation");
        goto done;
    }
    for (size_t j = 0; j < k; j++) {
        const bson_t *doc = docs[idx[j]];
        bool queued;
        if (insert) {
            queued = mongoc_bulk_operation_insert_with_opts(bulk, doc, &dopts, &e);
        } else {
            bson_iter_t it;
            bson_t sel = BSON_INITIALIZER;
            if (!bson_iter_init_find(&it, doc, "_id") || !bson_append_iter(&sel, "_id", 3, &it)) {
                bson_destroy(&sel);
                snprintf(err, errlen, "document %zu has no usable _id", idx[j]);
                goto done;
            }
            queued = mongoc_bulk_operation_replace_one_with_opts(bulk, &sel, doc, &dopts, &e);
            bson_destroy(&sel);
        }
        if (!queued) {
            snprintf(err, errlen, "driver refused document %zu: %s", idx[j], e.message);
            *write_errors = 1;
            w->cond = WRITER_SINK_ERROR;
            goto done;
        }
    }
    uint32_t server = mongoc_bulk_operation_execute(bulk, &reply, &e);
    have_reply = 1;
    if (server == 0) {
        size_t nwe = mongo_write_errors(&reply);
        *write_errors = nwe > 0;
        w->cond = mongo_classify(&e);
        snprintf(err, errlen, "bulk %s of %zu failed (error %u.%u, %zu write errors): %s", what, k, e.domain,
                 e.code, nwe, e.message);
        goto done;
    }
    /* Each insert inserted; each replace_one with upsert matched or upserted. */
    int64_t done_n = insert ? mongo_reply_count(&reply, "nInserted")
                            : mongo_reply_count(&reply, "nMatched") + mongo_reply_count(&reply, "nUpserted");
    if (done_n != (int64_t)k) {
        snprintf(err, errlen, "server acknowledged %lld of %zu documents in a bulk %s", (long long)done_n, k,
                 what);
        goto done;
    }
    rc = 0;
done:
    if (have_reply) bson_destroy(&reply);
    if (bulk) mongoc_bulk_operation_destroy(bulk);
    bson_destroy(&dopts);
    bson_destroy(&opts);
    return rc;
}

typedef struct mongo_id {
    const char *s;
    uint32_t len;
    size_t i;
} mongo_id;

static int mongo_id_cmp(const void *a, const void *b) {
    const mongo_id *x = a, *y = b;
    uint32_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, m);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

#define MONGO_IN_MAX_BYTES (8 * 1024 * 1024) /* keeps the $in query well under 16 MB */

/* Marks in exists[] the documents whose _id (a string) is in the collection now,
 * with one find({_id: {$in: ...}}). When the ids are too many bytes for one
 * query, marks all. Returns 0, or -1 with a reason in err. */
static int mongo_existing(writer_mongo *w, const bson_t *const *docs, size_t n, char *exists, char *err,
                          size_t errlen) {
    mongo_id *ids = calloc(n, sizeof(*ids));
    bson_t filter = BSON_INITIALIZER, in_doc, arr, opts = BSON_INITIALIZER, proj;
    mongoc_cursor_t *cur = NULL;
    size_t bytes = 0;
    int rc = -1;
    if (!ids) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, docs[i], "_id") || !BSON_ITER_HOLDS_UTF8(&it)) {
            snprintf(err, errlen, "document %zu has no string _id", i);
            goto done;
        }
        ids[i].s = bson_iter_utf8(&it, &ids[i].len);
        ids[i].i = i;
        bytes += ids[i].len + 16;
    }
    if (bytes > MONGO_IN_MAX_BYTES) {
        memset(exists, 1, n);
        rc = 0;
        goto done;
    }
    memset(exists, 0, n);
    qsort(ids, n, sizeof(*ids), mongo_id_cmp);
    int ok = BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in_doc) && BSON_APPEND_ARRAY_BEGIN(&in_doc, "$in", &arr);
    char key[24];
    size_t k = 0; /* array keys must run 0, 1, 2 ... with no gap for a skipped duplicate */
    for (size_t i = 0; ok && i < n; i++) {
        if (i > 0 && mongo_id_cmp(&ids[i - 1], &ids[i]) == 0) continue;
        snprintf(key, sizeof(key), "%zu", k++);
        ok = bson_append_utf8(&arr, key, -1, ids[i].s, (int)ids[i].len);
    }
    ok = ok && bson_append_array_end(&in_doc, &arr) && bson_append_document_end(&filter, &in_doc) &&
         BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj) && BSON_APPEND_INT32(&proj, "_id", 1) &&
         bson_append_document_end(&opts, &proj);
    if (!ok) {
        snprintf(err, errlen, "cannot build the _id query");
        goto done;
    }
    cur = mongoc_collection_find_with_opts(w->coll, &filter, &opts, NULL);
    if (!cur) {
        snprintf(err, errlen, "cannot create cursor");
        goto done;
    }
    const bson_t *found;
    while (mongoc_cursor_next(cur, &found)) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, found, "_id") || !BSON_ITER_HOLDS_UTF8(&it)) continue;
        mongo_id key_id = { NULL, 0, 0 };
        key_id.s = bson_iter_utf8(&it, &key_id.len);
        mongo_id *hit = bsearch(&key_id, ids, n, sizeof(*ids), mongo_id_cmp);
        if (!hit) continue;
        /* The same _id may come several times in one batch: mark every copy. */
        size_t at = (size_t)(hit - ids), lo = at, hi = at + 1;
        while (lo > 0 && mongo_id_cmp(&ids[lo - 1], &key_id) == 0) lo--;
        while (hi < n && mongo_id_cmp(&ids[hi], &key_id) == 0) hi++;
        for (size_t h = lo; h < hi; h++) exists[ids[h].i] = 1;
    }
    bson_error_t e;
    if (mongoc_cursor_error(cur, &e)) {
        snprintf(err, errlen, "finding existing _ids failed (error %u.%u): %s", e.domain, e.code, e.message);
        goto done;
    }
    rc = 0;
done:
    if (cur) mongoc_cursor_destroy(cur);
    bson_destroy(&opts);
    bson_destroy(&filter);
    free(ids);
    return rc;
}

/* The plain thing, for MongoDB: one unordered bulk of replace_one({_id}, doc,
 * upsert) for the whole batch. After write errors the documents at fault are
 * found one by one. Returns 0 or -1 (w->cond says what kind of failure). */
static int mongo_write_plain(writer_mongo *w, const bson_t *const *docs, size_t n, const size_t *all,
                             writer_reject_fn reject, void *arg, char *err, size_t errlen) {
    int we = 0;
    if (mongo_bulk(w, docs, all, n, 0, &we, err, errlen) == 0) return 0;
    if (we && reject) mongo_find_culprits(w, docs, all, n, reject, arg);
    return -1;
}

#define MONGO_REPLACE_CHUNK 32 /* replacements per bulk: FerretDB 1.24 takes 0.1-0.3 s each */

/* FerretDB 1.24's workarounds, used only when the server is FerretDB: there every
 * update scans the collection (0.1-0.3 s per replacement) and an unordered bulk
 * stops at its first error. So a batch goes in first as one bulk insert (a crawl
 * mostly brings documents never seen); when some _id exists already (a re-crawl,
 * a retry whose first ack was lost, a concurrent writer), one find by _id sorts
 * the batch into new documents, inserted in one bulk, and existing ones, replaced
 * by _id in chunks of MONGO_REPLACE_CHUNK. Returns 0 or -1 (w->cond set). */
static int mongo_write_ferretdb(writer_mongo *w, const bson_t *const *docs, size_t n, const size_t *all,
                                writer_reject_fn reject, void *arg, char *err, size_t errlen) {
    size_t *fresh = malloc(n * sizeof(*fresh)), *old = malloc(n * sizeof(*old)), nfresh = 0, nold = 0;
    char *exists = malloc(n);
    int we = 0, rc = -1;
    if (!fresh || !old || !exists) {
        snprintf(err, errlen, "out of memory for a batch of %zu", n);
        w->cond = WRITER_SINK_ERROR;
        goto done;
    }
    if (mongo_bulk(w, docs, all, n, 1, &we, err, errlen) == 0) {
        rc = 0;
        goto done;
    }
    if (!we) goto done; /* the server did not answer: retry later */
    if (mongo_existing(w, docs, n, exists, err, errlen) != 0) {
        w->cond = WRITER_SINK_DOWN;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (exists[i]) old[nold++] = i;
        else fresh[nfresh++] = i;
    }
    if (nfresh > 0 && mongo_bulk(w, docs, fresh, nfresh, 1, &we, err, errlen) != 0) {
        if (we && reject) mongo_find_culprits(w, docs, fresh, nfresh, reject, arg);
        goto done;
    }
    for (size_t off = 0; off < nold; off += MONGO_REPLACE_CHUNK) {
        size_t k = nold - off < MONGO_REPLACE_CHUNK ? nold - off : MONGO_REPLACE_CHUNK;
        if (mongo_bulk(w, docs, old + off, k, 0, &we, err, errlen) != 0) {
            if (we && reject) mongo_find_culprits(w, docs, old + off, k, reject, arg);
            goto done;
        }
    }
    rc = 0;
done:
    free(fresh);
    free(old);
    free(exists);
    return rc;
}

/* Maps the index of a deduplicated batch back to the caller's. */
typedef struct mongo_rej_map {
    writer_reject_fn reject;
    void *arg;
    const size_t *orig;
} mongo_rej_map;

static void mongo_reject_mapped(void *arg, size_t index, const char *reason) {
    mongo_rej_map *m = arg;
    m->reject(m->arg, m->orig[index], reason);
}

static int mongo_id_index_cmp(const void *a, const void *b) {
    const mongo_id *x = a, *y = b;
    int c = mongo_id_cmp(a, b);
    if (c) return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Keeps, of documents sharing an _id, the last copy: fills orig[] with the indexes
 * kept, in batch order, and returns how many (0 with err set when out of memory). */
static size_t mongo_dedup(const bson_t *const *docs, size_t n, size_t *orig, char *err, size_t errlen) {
    mongo_id *ids = malloc(n * sizeof(*ids));
    char *keep = malloc(n);
    size_t k = 0;
    if (!ids || !keep) {
        snprintf(err, errlen, "out of memory for a batch of %zu", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        bson_iter_t it;
        ids[i].i = i;
        ids[i].s = "";
        ids[i].len = 0;
        if (bson_iter_init_find(&it, docs[i], "_id") && BSON_ITER_HOLDS_UTF8(&it))
            ids[i].s = bson_iter_utf8(&it, &ids[i].len);
    }
    qsort(ids, n, sizeof(*ids), mongo_id_index_cmp);
    for (size_t i = 0; i < n; i++) keep[ids[i].i] = i + 1 == n || mongo_id_cmp(&ids[i], &ids[i + 1]) != 0;
    for (size_t i = 0; i < n; i++)
        if (keep[i]) orig[k++] = i;
done:
    free(ids);
    free(keep);
    return k;
}

int writer_mongo_write_batch(writer_mongo *w, const bson_t *const *docs, size_t n,
                             writer_reject_fn reject, void *arg, char *err, size_t errlen) {
    if (n == 0) return WRITER_SINK_OK;
    size_t *orig = malloc(n * sizeof(*orig)), *all = malloc(n * sizeof(*all));
    const bson_t **uniq = malloc(n * sizeof(*uniq));
    int rc = -1;
    w->nrej = 0;
    w->cond = WRITER_SINK_ERROR;
    if (!orig || !all || !uniq) {
        snprintf(err, errlen, "out of memory for a batch of %zu", n);
        goto done;
    }
    /* One write per _id: a redelivered document may come twice in one batch, and
     * the order in which a server applies an unordered bulk is its own. */
    size_t k = mongo_dedup(docs, n, orig, err, errlen);
    if (k == 0) goto done;
    for (size_t i = 0; i < k; i++) {
        uniq[i] = docs[orig[i]];
        all[i] = i;
    }
    mongo_rej_map map = { reject, arg, orig };
    writer_reject_fn rf = reject ? mongo_reject_mapped : NULL;
    rc = w->ferretdb ? mongo_write_ferretdb(w, uniq, k, all, rf, &map, err, errlen)
                     : mongo_write_plain(w, uniq, k, all, rf, &map, err, errlen);
done:
    free(orig);
    free(all);
    free(uniq);
    if (rc == 0) return WRITER_SINK_OK;
    return w->nrej > 0 ? WRITER_SINK_REJECTED : w->cond;
}

int writer_mongo_is_ferretdb(const writer_mongo *w) { return w->ferretdb; }
const char *writer_mongo_server_name(const writer_mongo *w) { return w->ferretdb ? "ferretdb" : "mongodb"; }

const char *writer_mongo_db(const writer_mongo *w) { return w->db; }
const char *writer_mongo_collection(const writer_mongo *w) { return w->coll_name; }

void writer_mongo_close(writer_mongo *w) {
    if (!w) return;
    if (w->coll) mongoc_collection_destroy(w->coll);
    if (w->client) mongoc_client_destroy(w->client);
    if (w->wc) mongoc_write_concern_destroy(w->wc);
    if (w->uri) mongoc_uri_destroy(w->uri);
    free(w);
}

static int mongo_sink_write(void *impl, const bson_t *const *docs, size_t n, writer_reject_fn reject,
                            void *arg, size_t *already, char *err, size_t errlen) {
    *already = 0; /* an upsert does not say whether the document was there before */
    return writer_mongo_write_batch(impl, docs, n, reject, arg, err, errlen);
}

static void mongo_sink_close(void *impl) { writer_mongo_close(impl); }

void writer_mongo_sink(writer_sink *s, writer_mongo *w) {
    s->kind = "mongo";
    s->impl = w;
    s->write_batch = mongo_sink_write;
    s->close = mongo_sink_close;
}
