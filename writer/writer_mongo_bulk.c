/* writer_mongo_bulk.c -- one bulk write to a MongoDB collection, and what its failure means. */
#include "writer_mongo_bulk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_time.h"

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

void writer_mongo_op_done(writer_mongo_target *t, int64_t t0) {
    int64_t ms = zc_now_ms() - t0;
    if (ms > t->op_ms) t->op_ms = ms;
}

int writer_mongo_classify(const bson_error_t *e) {
    if (e->domain == MONGOC_ERROR_SERVER_SELECTION || e->domain == MONGOC_ERROR_STREAM ||
        e->domain == MONGOC_ERROR_PROTOCOL)
        return WRITER_SINK_DOWN;
    if (mongo_full_code(e->code) || strstr(e->message, "No space left")) return WRITER_SINK_FULL;
    if (mongo_transient_code(e->code)) return WRITER_SINK_DOWN;
    return WRITER_SINK_ERROR;
}

void writer_mongo_culprits(writer_mongo_target *t, const bson_t *const *docs, const size_t *idx, size_t k,
                           writer_reject_fn reject, void *arg) {
    bson_t opts = BSON_INITIALIZER;
    if (!BSON_APPEND_BOOL(&opts, "upsert", true)) {
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
            t->nrej++;
            continue;
        }
        int64_t t0 = zc_now_ms();
        bool ok = mongoc_collection_replace_one(t->coll, &sel, docs[i], &opts, &reply, &e);
        writer_mongo_op_done(t, t0);
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
        if (writer_mongo_classify(&e) != WRITER_SINK_ERROR) break; /* the server, not this document */
        if (snprintf(reason, sizeof(reason), "MongoDB refused the document (error %u): %s", e.code, e.message) >=
            (int)sizeof(reason))
            memcpy(reason + sizeof(reason) - 4, "...", 4); /* a reason is one line: cut, and say so */
        reject(arg, i, reason);
        t->nrej++;
    }
    bson_destroy(&opts);
}

int writer_mongo_bulk(writer_mongo_target *t, const bson_t *const *docs, const size_t *idx, size_t k, int insert,
                      int *write_errors, char *err, size_t errlen) {
    bson_t opts = BSON_INITIALIZER, dopts = BSON_INITIALIZER, reply;
    bson_error_t e;
    mongoc_bulk_operation_t *bulk = NULL;
    int have_reply = 0, rc = -1;
    const char *what = insert ? "insert" : "upsert";

    *write_errors = 0;
    t->cond = WRITER_SINK_ERROR;
    if (!BSON_APPEND_BOOL(&opts, "ordered", false) ||
        (!insert && !BSON_APPEND_BOOL(&dopts, "upsert", true)) ||
        /* writer_doc_check has applied the driver's checks already. */
        !BSON_APPEND_BOOL(&dopts, "validate", false)) {
        snprintf(err, errlen, "cannot build bulk options");
        goto done;
    }
    bulk = mongoc_collection_create_bulk_operation_with_opts(t->coll, &opts);
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
            t->cond = WRITER_SINK_ERROR;
            goto done;
        }
    }
    int64_t t0 = zc_now_ms();
    uint32_t server = mongoc_bulk_operation_execute(bulk, &reply, &e);
    writer_mongo_op_done(t, t0);
    have_reply = 1;
    if (server == 0) {
        size_t nwe = mongo_write_errors(&reply);
        *write_errors = nwe > 0;
        t->cond = writer_mongo_classify(&e);
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

int writer_mongo_id_cmp(const void *a, const void *b) {
    const writer_mongo_id *x = a, *y = b;
    uint32_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, m);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}
