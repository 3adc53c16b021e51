/* writer_mongo.c -- the MongoDB sink: unordered bulk upserts by _id with mongo-c-driver. */
#include "writer_mongo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "writer_ferretdb.h"
#include "writer_mongo_bulk.h"
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
    writer_mongo_target t; /* coll, and what became of the batch */
    char db[64];
    char coll_name[128];
    int ferretdb; /* the server is FerretDB: write through writer_ferretdb_write */
};

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

/* Sets an int32 URI option unless the URI already gives it. Returns 0 or -1. */
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

/* Completes uri with what the flags say: the timeouts it does not give, the
 * appname, and the write concern. Returns 0, or -1 with a reason in err. */
static int mongo_uri_settle(mongoc_uri_t *uri, const writer_mongo_opts *o, char *err, size_t errlen) {
    /* Short timeouts: a failed write is simply retried later, and a stuck one
     * holds up every batch behind it. */
    long sst = o->server_timeout_ms > 0 ? o->server_timeout_ms : 5000;
    if (mongo_uri_default(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, (int32_t)sst, err, errlen) != 0 ||
        mongo_uri_default(uri, MONGOC_URI_CONNECTTIMEOUTMS, MONGO_CONNECT_TIMEOUT_MS, err, errlen) != 0 ||
        mongo_uri_default(uri, MONGOC_URI_SOCKETTIMEOUTMS, MONGO_SOCKET_TIMEOUT_MS, err, errlen) != 0)
        return -1;
    if (!mongoc_uri_get_appname(uri) && !mongoc_uri_set_appname(uri, "zcrawl-writer")) {
        snprintf(err, errlen, "cannot set the URI's appname");
        return -1;
    }
    /* The flags on top of the URI's write concern, back into the URI: the client,
     * the collection and each of its writes take it from there. */
    mongoc_write_concern_t *wc = writer_mongo_write_concern_new(o->write_concern, mongoc_uri_get_write_concern(uri),
                                                                o->journal, o->wtimeout_ms, err, errlen);
    if (!wc) return -1;
    mongoc_uri_set_write_concern(uri, wc);
    mongoc_write_concern_destroy(wc);
    return 0;
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
    if (writer_mongo_check_db(db, err, errlen) != 0 || writer_mongo_check_coll(coll, err, errlen) != 0) goto err;
    snprintf(w->db, sizeof(w->db), "%s", db);
    snprintf(w->coll_name, sizeof(w->coll_name), "%s", coll);
    if (mongo_uri_settle(w->uri, o, err, errlen) != 0) goto err;

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
        if (writer_ferretdb_detect(w->client, &w->ferretdb, err, errlen) != 0) goto err;
    } else {
        w->ferretdb = o->server == WRITER_MONGO_FERRETDB;
    }
    w->coll = mongoc_client_get_collection(w->client, w->db, w->coll_name);
    if (!w->coll) {
        snprintf(err, errlen, "cannot get collection handle");
        goto err;
    }
    w->t.coll = w->coll;
    if (o->create_indexes && mongo_create_indexes(w, err, errlen) != 0) goto err;
    bson_destroy(&ping);
    return w;
err:
    bson_destroy(&ping);
    writer_mongo_close(w);
    return NULL;
}

/* The plain thing, for MongoDB: one unordered bulk of replace_one({_id}, doc,
 * upsert) for the whole batch. After write errors the documents at fault are
 * found one by one. Returns 0 or -1 (t->cond says what kind of failure). */
static int mongo_write_plain(writer_mongo_target *t, const bson_t *const *docs, size_t n, const size_t *all,
                             writer_reject_fn reject, void *arg, char *err, size_t errlen) {
    int we = 0;
    if (writer_mongo_bulk(t, docs, all, n, 0, &we, err, errlen) == 0) return 0;
    if (we && reject) writer_mongo_culprits(t, docs, all, n, reject, arg);
    return -1;
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
    const writer_mongo_id *x = a, *y = b;
    int c = writer_mongo_id_cmp(a, b);
    if (c) return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Keeps, of documents sharing an _id, the last copy: fills orig[] with the indexes
 * kept, in batch order, and returns how many (0 with err set when out of memory). */
static size_t mongo_dedup(const bson_t *const *docs, size_t n, size_t *orig, char *err, size_t errlen) {
    writer_mongo_id *ids = malloc(n * sizeof(*ids));
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
    for (size_t i = 0; i < n; i++) keep[ids[i].i] = i + 1 == n || writer_mongo_id_cmp(&ids[i], &ids[i + 1]) != 0;
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
    w->t.nrej = 0;
    w->t.op_ms = 0;
    w->t.cond = WRITER_SINK_ERROR;
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
    rc = w->ferretdb ? writer_ferretdb_write(&w->t, uniq, k, all, rf, &map, err, errlen)
                     : mongo_write_plain(&w->t, uniq, k, all, rf, &map, err, errlen);
done:
    free(orig);
    free(all);
    free(uniq);
    if (rc == 0) return WRITER_SINK_OK;
    return w->t.nrej > 0 ? WRITER_SINK_REJECTED : w->t.cond;
}

int writer_mongo_is_ferretdb(const writer_mongo *w) { return w->ferretdb; }
const char *writer_mongo_server_name(const writer_mongo *w) { return w->ferretdb ? "ferretdb" : "mongodb"; }

const char *writer_mongo_db(const writer_mongo *w) { return w->db; }
const char *writer_mongo_collection(const writer_mongo *w) { return w->coll_name; }

void writer_mongo_close(writer_mongo *w) {
    if (!w) return;
    if (w->coll) mongoc_collection_destroy(w->coll);
    if (w->client) mongoc_client_destroy(w->client);
    if (w->uri) mongoc_uri_destroy(w->uri);
    free(w);
}

static int mongo_sink_write(void *impl, const bson_t *const *docs, size_t n, writer_reject_fn reject,
                            void *arg, size_t *already, char *err, size_t errlen) {
    *already = 0; /* an upsert does not say whether the document was there before */
    return writer_mongo_write_batch(impl, docs, n, reject, arg, err, errlen);
}

static void mongo_sink_close(void *impl) { writer_mongo_close(impl); }

static int64_t mongo_sink_op_ms(void *impl) { return ((writer_mongo *)impl)->t.op_ms; }

void writer_mongo_sink(writer_sink *s, writer_mongo *w) {
    s->kind = "mongo";
    s->timeout_ms = mongoc_uri_get_option_as_int32(w->uri, MONGOC_URI_SOCKETTIMEOUTMS, MONGO_SOCKET_TIMEOUT_MS);
    s->impl = w;
    s->write_batch = mongo_sink_write;
    s->close = mongo_sink_close;
    s->op_ms = mongo_sink_op_ms;
}