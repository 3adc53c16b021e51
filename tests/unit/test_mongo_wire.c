/* test_mongo_wire.c -- proof that mongo-c-driver and the writer's sink work against the server in MONGODB_URI.
 *
 * Needs a MongoDB-wire server (mongod or FerretDB) named by MONGODB_URI; without one
 * every server test is skipped with a loud line on stderr (the pytest wrapper
 * tests/integration/test_mongo_wire.py starts one and runs this binary). Each run
 * works in fresh collections of database zcrawl_test and drops them at the end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <mongoc/mongoc.h>

#include "writer_mongo.h"

#define WIRE_DB "zcrawl_test"

typedef struct wire {
    mongoc_client_t *client;
    mongoc_collection_t *coll;
    char coll_name[64];
    char sink_coll[64];
    const char *uri;
} wire;

static wire g_wire;

static int group_setup(void **state) {
    bson_error_t e;
    mongoc_init();
    *state = NULL;
    const char *uri = getenv("MONGODB_URI");
    if (!uri || !*uri) {
        fprintf(stderr, "\n*** test_mongo_wire: MONGODB_URI is not set: EVERY MONGODB WIRE TEST IS SKIPPED ***\n"
                        "*** (run tests/integration/test_mongo_wire.py, which starts a server)         ***\n\n");
        return 0;
    }
    mongoc_uri_t *u = mongoc_uri_new_with_error(uri, &e);
    if (!u) {
        fprintf(stderr, "test_mongo_wire: bad MONGODB_URI: %s\n", e.message);
        return -1;
    }
    if (!mongoc_uri_has_option(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS) &&
        !mongoc_uri_set_option_as_int32(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000)) {
        mongoc_uri_destroy(u);
        return -1;
    }
    g_wire.client = mongoc_client_new_from_uri_with_error(u, &e);
    mongoc_uri_destroy(u);
    if (!g_wire.client) {
        fprintf(stderr, "test_mongo_wire: cannot create client: %s\n", e.message);
        return -1;
    }
    g_wire.uri = uri;
    snprintf(g_wire.coll_name, sizeof(g_wire.coll_name), "wire_%d_%ld", (int)getpid(), (long)time(NULL));
    snprintf(g_wire.sink_coll, sizeof(g_wire.sink_coll), "sink_%d_%ld", (int)getpid(), (long)time(NULL));
    g_wire.coll = mongoc_client_get_collection(g_wire.client, WIRE_DB, g_wire.coll_name);
    if (!g_wire.coll) return -1;
    *state = &g_wire;
    return 0;
}

static void drop_quietly(mongoc_client_t *client, const char *name) {
    bson_error_t e;
    mongoc_collection_t *c = mongoc_client_get_collection(client, WIRE_DB, name);
    if (!c) return;
    if (!mongoc_collection_drop(c, &e) && strstr(e.message, "not found") == NULL)
        fprintf(stderr, "test_mongo_wire: drop %s: %s\n", name, e.message);
    mongoc_collection_destroy(c);
}

static int group_teardown(void **state) {
    wire *w = *state;
    if (w) {
        drop_quietly(w->client, w->coll_name);
        drop_quietly(w->client, w->sink_coll);
        mongoc_collection_destroy(w->coll);
        mongoc_client_destroy(w->client);
    }
    mongoc_cleanup();
    return 0;
}

#define NEED_SERVER(state)                                                             \
    do {                                                                               \
        if (*(state) == NULL) {                                                        \
            fprintf(stderr, "*** %s SKIPPED: MONGODB_URI is not set ***\n", __func__); \
            skip();                                                                    \
        }                                                                              \
    } while (0)

/* Server-side count of the documents in coll matching filter (the `count` command). */
static int64_t count_docs(mongoc_collection_t *coll, const bson_t *filter) {
    bson_t cmd = BSON_INITIALIZER, reply, empty = BSON_INITIALIZER;
    bson_error_t e;
    bson_iter_t it;
    int64_t n = -1;
    assert_true(BSON_APPEND_UTF8(&cmd, "count", mongoc_collection_get_name(coll)));
    assert_true(BSON_APPEND_DOCUMENT(&cmd, "query", filter ? filter : &empty));
    bool ok = mongoc_collection_command_simple(coll, &cmd, NULL, &reply, &e);
    if (!ok) fprintf(stderr, "count failed: %s\n", e.message);
    assert_true(ok);
    if (bson_iter_init_find(&it, &reply, "n") && BSON_ITER_HOLDS_NUMBER(&it)) n = bson_iter_as_int64(&it);
    bson_destroy(&reply);
    bson_destroy(&cmd);
    bson_destroy(&empty);
    return n;
}

static int64_t reply_int(const bson_t *reply, const char *key) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_NUMBER(&it)) return bson_iter_as_int64(&it);
    return -1;
}

static void test_handshake_ping(void **state) {
    NEED_SERVER(state);
    wire *w = *state;
    bson_t cmd = BSON_INITIALIZER, reply;
    bson_error_t e;
    bson_iter_t it;
    assert_true(BSON_APPEND_INT32(&cmd, "ping", 1));
    bool ok = mongoc_client_command_simple(w->client, "admin", &cmd, NULL, &reply, &e);
    if (!ok) fprintf(stderr, "ping failed: %s\n", e.message);
    assert_true(ok);
    assert_true(bson_iter_init_find(&it, &reply, "ok"));
    assert_true(bson_iter_as_double(&it) == 1.0);
    bson_destroy(&reply);
    bson_destroy(&cmd);
}

static void test_insert_and_count(void **state) {
    NEED_SERVER(state);
    wire *w = *state;
    bson_error_t e;
    bson_t *doc = BCON_NEW("_id", BCON_UTF8("first"), "name", BCON_UTF8("\xe4\xb9\xa6 book"), "n", BCON_INT32(1));
    bool ok = mongoc_collection_insert_one(w->coll, doc, NULL, NULL, &e);
    if (!ok) fprintf(stderr, "insert failed: %s\n", e.message);
    assert_true(ok);
    bson_destroy(doc);
    assert_int_equal(count_docs(w->coll, NULL), 1);
}

/* One unordered bulk of 20 replace_one(upsert) by _id, with round in each document. */
static void bulk_upsert_round(wire *w, int round, int64_t *matched, int64_t *upserted) {
    bson_error_t e;
    bson_t opts = BSON_INITIALIZER, ropts = BSON_INITIALIZER, reply;
    assert_true(BSON_APPEND_BOOL(&opts, "ordered", false));
    assert_true(BSON_APPEND_BOOL(&ropts, "upsert", true));
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(w->coll, &opts);
    assert_non_null(bulk);
    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof(id), "b%d", i);
        bson_t *sel = BCON_NEW("_id", BCON_UTF8(id));
        bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "round", BCON_INT32(round), "tags", "[", BCON_UTF8("x"),
                               BCON_UTF8("y"), "]");
        bool ok = mongoc_bulk_operation_replace_one_with_opts(bulk, sel, doc, &ropts, &e);
        if (!ok) fprintf(stderr, "replace_one: %s\n", e.message);
        assert_true(ok);
        bson_destroy(sel);
        bson_destroy(doc);
    }
    uint32_t server = mongoc_bulk_operation_execute(bulk, &reply, &e);
    if (!server) fprintf(stderr, "bulk failed: %s\n", e.message);
    assert_true(server != 0);
    *matched = reply_int(&reply, "nMatched");
    *upserted = reply_int(&reply, "nUpserted");
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
    bson_destroy(&ropts);
    bson_destroy(&opts);
}

static void test_bulk_upsert_idempotent(void **state) {
    NEED_SERVER(state);
    wire *w = *state;
    int64_t matched, upserted;
    int64_t before = count_docs(w->coll, NULL);
    bulk_upsert_round(w, 1, &matched, &upserted);
    assert_int_equal(upserted, 20);
    assert_int_equal(matched, 0);
    assert_int_equal(count_docs(w->coll, NULL), before + 20);
    bulk_upsert_round(w, 2, &matched, &upserted);
    assert_int_equal(upserted, 0);
    assert_int_equal(matched, 20);
    assert_int_equal(count_docs(w->coll, NULL), before + 20);
    bson_t *q = BCON_NEW("round", BCON_INT32(2));
    assert_int_equal(count_docs(w->coll, q), 20);
    bson_destroy(q);
}

static void test_unique_index_rejects_duplicate(void **state) {
    NEED_SERVER(state);
    wire *w = *state;
    bson_error_t e;
    bson_t reply;
    bson_t *cmd = BCON_NEW("createIndexes", BCON_UTF8(w->coll_name), "indexes", "[", "{", "key", "{", "isbn",
                           BCON_INT32(1), "}", "name", BCON_UTF8("isbn_unique"), "unique", BCON_BOOL(true), "}",
                           "]");
    bool ok = mongoc_collection_write_command_with_opts(w->coll, cmd, NULL, &reply, &e);
    if (!ok) fprintf(stderr, "createIndexes: %s\n", e.message);
    assert_true(ok);
    bson_destroy(&reply);
    bson_destroy(cmd);

    bson_t *a = BCON_NEW("_id", BCON_UTF8("u1"), "isbn", BCON_UTF8("978-7-111"));
    bson_t *b = BCON_NEW("_id", BCON_UTF8("u2"), "isbn", BCON_UTF8("978-7-111"));
    ok = mongoc_collection_insert_one(w->coll, a, NULL, NULL, &e);
    if (!ok) fprintf(stderr, "insert u1: %s\n", e.message);
    assert_true(ok);
    memset(&e, 0, sizeof(e));
    ok = mongoc_collection_insert_one(w->coll, b, NULL, NULL, &e);
    assert_false(ok);
    assert_int_equal(e.code, 11000);
    bson_destroy(a);
    bson_destroy(b);
    bson_t *q = BCON_NEW("isbn", BCON_UTF8("978-7-111"));
    assert_int_equal(count_docs(w->coll, q), 1);
    bson_destroy(q);
    /* 1 (insert) + 20 (bulk) + 1 (u1) */
    assert_int_equal(count_docs(w->coll, NULL), 22);
}

/* 1 when the server's buildInfo names FerretDB (asked here, not by the sink). */
static int server_is_ferretdb(wire *w) {
    bson_t *cmd = BCON_NEW("buildInfo", BCON_INT32(1)), reply;
    bson_error_t e;
    bson_iter_t it;
    assert_true(mongoc_client_command_simple(w->client, "admin", cmd, NULL, &reply, &e));
    int yes = bson_iter_init_find(&it, &reply, "ferretdbVersion");
    bson_destroy(&reply);
    bson_destroy(cmd);
    return yes;
}

/* The sink's whole contract, through the path `server` picks (AUTO: the one the
 * server calls for), in collection coll. */
static void sink_contract(wire *w, writer_mongo_server server, const char *coll) {
    char err[512];
    writer_mongo_opts o = { w->uri, WIRE_DB, coll, NULL, 0, 10000, 1, 5000, server };
    writer_mongo *m = writer_mongo_open(&o, err, sizeof(err));
    if (!m) fprintf(stderr, "writer_mongo_open: %s\n", err);
    assert_non_null(m);
    int want_ferret = server == WRITER_MONGO_AUTO ? server_is_ferretdb(w) : server == WRITER_MONGO_FERRETDB;
    assert_int_equal(writer_mongo_is_ferretdb(m), want_ferret);
    bson_t *docs[10];
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", 7952970 + i);
        docs[i] = BCON_NEW("_id", BCON_UTF8(id), "isbn", BCON_UTF8(id), "score", BCON_DOUBLE(8.0 + i / 10.0));
    }
    for (int round = 0; round < 2; round++) {
        int rc = writer_mongo_write_batch(m, (const bson_t *const *)docs, 10, NULL, NULL, err, sizeof(err));
        if (rc != 0) fprintf(stderr, "write_batch: %s\n", err);
        assert_int_equal(rc, 0);
    }
    mongoc_collection_t *c = mongoc_client_get_collection(w->client, WIRE_DB, coll);
    assert_int_equal(count_docs(c, NULL), 10);
    /* Half existing, half new, and one _id twice (the later copy wins). */
    bson_t *mix[11];
    for (int i = 0; i < 11; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", 7952975 + (i < 10 ? i : 9));
        mix[i] = BCON_NEW("_id", BCON_UTF8(id), "round", BCON_INT32(i < 10 ? 3 : 4));
    }
    int rc = writer_mongo_write_batch(m, (const bson_t *const *)mix, 11, NULL, NULL, err, sizeof(err));
    if (rc != 0) fprintf(stderr, "write_batch mix: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(count_docs(c, NULL), 15);
    bson_t *q3 = BCON_NEW("round", BCON_INT32(3)), *q4 = BCON_NEW("_id", BCON_UTF8("7952984"), "round", BCON_INT32(4));
    assert_int_equal(count_docs(c, q3), 9);
    assert_int_equal(count_docs(c, q4), 1);
    bson_destroy(q3);
    bson_destroy(q4);
    for (int i = 0; i < 11; i++) bson_destroy(mix[i]);
    /* The indexes the sink created at open. */
    mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(c, NULL);
    const bson_t *ix;
    int seen = 0;
    while (mongoc_cursor_next(cur, &ix)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, ix, "name") && BSON_ITER_HOLDS_UTF8(&it)) {
            const char *n = bson_iter_utf8(&it, NULL);
            if (!strcmp(n, "isbn_1") || !strcmp(n, "score_-1") || !strcmp(n, "tags_1")) seen++;
        }
    }
    bson_error_t e;
    assert_false(mongoc_cursor_error(cur, &e));
    mongoc_cursor_destroy(cur);
    assert_int_equal(seen, 3);
    mongoc_collection_destroy(c);
    /* Opening again finds the indexes there and is fine with it. */
    writer_mongo *m2 = writer_mongo_open(&o, err, sizeof(err));
    if (!m2) fprintf(stderr, "writer_mongo_open again: %s\n", err);
    assert_non_null(m2);
    writer_mongo_close(m2);
    for (int i = 0; i < 10; i++) bson_destroy(docs[i]);
    writer_mongo_close(m);
}

static void test_writer_mongo_sink(void **state) {
    NEED_SERVER(state);
    sink_contract(*state, WRITER_MONGO_AUTO, ((wire *)*state)->sink_coll);
}

/* The plain path (one bulk of upserts) is MongoDB's; FerretDB takes it too, only
 * slower, so it is checked here whatever the server. */
static void test_writer_mongo_sink_plain(void **state) {
    NEED_SERVER(state);
    wire *w = *state;
    char coll[80];
    snprintf(coll, sizeof(coll), "%s_plain", w->sink_coll);
    sink_contract(w, WRITER_MONGO_PLAIN, coll);
    drop_quietly(w->client, coll);
}

/* FerretDB's path works on MongoDB too (it is only needless there). */
static void test_writer_mongo_sink_ferretdb(void **state) {
    NEED_SERVER(state);
    wire *w = *state;
    char coll[80];
    snprintf(coll, sizeof(coll), "%s_ferret", w->sink_coll);
    sink_contract(w, WRITER_MONGO_FERRETDB, coll);
    drop_quietly(w->client, coll);
}

typedef struct rejects {
    int n;
    size_t index;
    char reason[256];
} rejects;

static void on_reject(void *arg, size_t index, const char *reason) {
    rejects *r = arg;
    r->n++;
    r->index = index;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

/* A duplicate in a unique index other than _id fails that document alone, every
 * time: the sink reports it through reject, and the batch is not confirmed. */
static void reject_contract(wire *w, writer_mongo_server server) {
    char err[512];
    bson_error_t e;
    bson_t reply;
    /* The wire collection has the unique isbn index and u1 with isbn 978-7-111. */
    writer_mongo_opts o = { w->uri, WIRE_DB, w->coll_name, NULL, 0, 10000, 0, 5000, server };
    writer_mongo *m = writer_mongo_open(&o, err, sizeof(err));
    assert_non_null(m);
    bson_t *docs[3] = {
        BCON_NEW("_id", BCON_UTF8("r1"), "isbn", BCON_UTF8("r-1")),
        BCON_NEW("_id", BCON_UTF8("r2"), "isbn", BCON_UTF8("978-7-111")),
        BCON_NEW("_id", BCON_UTF8("r3"), "isbn", BCON_UTF8("r-3")),
    };
    rejects r = { 0, 0, "" };
    int rc = writer_mongo_write_batch(m, (const bson_t *const *)docs, 3, on_reject, &r, err, sizeof(err));
    assert_int_equal(rc, WRITER_SINK_REJECTED);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.index, 1);
    assert_non_null(strstr(r.reason, "11000"));
    /* The good two are in (FerretDB stops an unordered bulk at its first error, so
     * r3 comes from the sink's one-by-one search); writing them again is harmless. */
    bson_t *q = BCON_NEW("_id", "{", "$in", "[", BCON_UTF8("r1"), BCON_UTF8("r3"), "]", "}");
    assert_int_equal(count_docs(w->coll, q), 2);
    bson_destroy(q);
    rc = writer_mongo_write_batch(m, (const bson_t *const *)docs, 1, on_reject, &r, err, sizeof(err));
    assert_int_equal(rc, 0);
    for (int i = 0; i < 3; i++) bson_destroy(docs[i]);
    writer_mongo_close(m);
    /* Leave the wire collection as the earlier tests expect it. */
    bson_t *del = BCON_NEW("_id", "{", "$in", "[", BCON_UTF8("r1"), BCON_UTF8("r3"), "]", "}");
    assert_true(mongoc_collection_delete_many(w->coll, del, NULL, &reply, &e));
    bson_destroy(&reply);
    bson_destroy(del);
}

static void test_writer_mongo_reject(void **state) {
    NEED_SERVER(state);
    reject_contract(*state, WRITER_MONGO_AUTO);
}

static void test_writer_mongo_reject_plain(void **state) {
    NEED_SERVER(state);
    reject_contract(*state, WRITER_MONGO_PLAIN);
}

/* Needs no server: nothing listens on port 1. */
static void test_writer_mongo_unreachable(void **state) {
    (void)state;
    char err[512];
    writer_mongo_opts o = { "mongodb://127.0.0.1:1/?connectTimeoutMS=500", NULL, NULL, NULL, 0, 0, 1, 1000, WRITER_MONGO_AUTO };
    writer_mongo *m = writer_mongo_open(&o, err, sizeof(err));
    assert_null(m);
    assert_non_null(strstr(err, "cannot reach MongoDB"));
    o.uri = "http://not-mongo/";
    m = writer_mongo_open(&o, err, sizeof(err));
    assert_null(m);
    assert_non_null(strstr(err, "bad MongoDB URI"));
}

static void test_write_concern_parse(void **state) {
    (void)state;
    char err[256];
    mongoc_write_concern_t *wc = writer_mongo_write_concern_new(NULL, NULL, 0, 0, err, sizeof(err));
    assert_non_null(wc);
    assert_int_equal(mongoc_write_concern_get_w(wc), 1);
    mongoc_write_concern_destroy(wc);
    wc = writer_mongo_write_concern_new("majority", NULL, 1, 5000, err, sizeof(err));
    assert_non_null(wc);
    assert_true(mongoc_write_concern_get_wmajority(wc));
    assert_true(mongoc_write_concern_get_journal(wc));
    mongoc_write_concern_destroy(wc);
    wc = writer_mongo_write_concern_new("3", NULL, 0, 0, err, sizeof(err));
    assert_non_null(wc);
    assert_int_equal(mongoc_write_concern_get_w(wc), 3);
    mongoc_write_concern_destroy(wc);
    assert_null(writer_mongo_write_concern_new("0", NULL, 0, 0, err, sizeof(err)));
    assert_null(writer_mongo_write_concern_new("some", NULL, 0, 0, err, sizeof(err)));
    assert_null(writer_mongo_write_concern_new("-1", NULL, 0, 0, err, sizeof(err)));
}

/* The driver parses w, journal and wtimeoutMS from the URI; a flag overrides only
 * its own part, and a flag left at its default (-1 for the timeout) overrides
 * nothing the URI says. */
static void test_write_concern_from_uri(void **state) {
    (void)state;
    char err[256];
    mongoc_uri_t *uri = mongoc_uri_new("mongodb://h/?w=majority&journal=true&wtimeoutMS=5000");
    assert_non_null(uri);
    const mongoc_write_concern_t *base = mongoc_uri_get_write_concern(uri);
    mongoc_write_concern_t *wc = writer_mongo_write_concern_new(NULL, base, 0, -1, err, sizeof(err));
    assert_non_null(wc);
    assert_true(mongoc_write_concern_get_wmajority(wc));
    assert_true(mongoc_write_concern_get_journal(wc));
    assert_int_equal(mongoc_write_concern_get_wtimeout_int64(wc), 5000);
    mongoc_write_concern_destroy(wc);
    wc = writer_mongo_write_concern_new("2", base, 0, 700, err, sizeof(err));
    assert_non_null(wc);
    assert_int_equal(mongoc_write_concern_get_w(wc), 2);
    assert_true(mongoc_write_concern_get_journal(wc));
    assert_int_equal(mongoc_write_concern_get_wtimeout_int64(wc), 700);
    mongoc_write_concern_destroy(wc);
    mongoc_uri_destroy(uri);
    /* Nothing in the URI: w 1 and a 10 s timeout. */
    uri = mongoc_uri_new("mongodb://h/");
    wc = writer_mongo_write_concern_new(NULL, mongoc_uri_get_write_concern(uri), 0, -1, err, sizeof(err));
    assert_non_null(wc);
    assert_int_equal(mongoc_write_concern_get_w(wc), 1);
    assert_int_equal(mongoc_write_concern_get_wtimeout_int64(wc), WRITER_MONGO_WTIMEOUT_MS);
    mongoc_write_concern_destroy(wc);
    mongoc_uri_destroy(uri);
    uri = mongoc_uri_new("mongodb://h/?w=0");
    assert_null(writer_mongo_write_concern_new(NULL, mongoc_uri_get_write_concern(uri), 0, -1, err, sizeof(err)));
    assert_non_null(strstr(err, "w=0"));
    mongoc_uri_destroy(uri);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_ping),
        cmocka_unit_test(test_insert_and_count),
        cmocka_unit_test(test_bulk_upsert_idempotent),
        cmocka_unit_test(test_unique_index_rejects_duplicate),
        cmocka_unit_test(test_writer_mongo_sink),
        cmocka_unit_test(test_writer_mongo_sink_plain),
        cmocka_unit_test(test_writer_mongo_sink_ferretdb),
        cmocka_unit_test(test_writer_mongo_reject),
        cmocka_unit_test(test_writer_mongo_reject_plain),
        cmocka_unit_test(test_writer_mongo_unreachable),
        cmocka_unit_test(test_write_concern_parse),
        cmocka_unit_test(test_write_concern_from_uri),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
