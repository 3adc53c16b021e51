/* writer_mongo_bulk.h -- one bulk write to a MongoDB collection, and what its failure means.
 *
 * The wire step under both ways of writing a batch (writer_mongo.c's plain
 * upserts, writer_ferretdb.c's inserts first): one unordered bulk of inserts or of
 * replace_one({_id}, doc, upsert) under the collection's write concern, a driver error
 * sorted into the sink's failure kinds (down, full, any other), and the search for
 * the documents at fault after write errors. */
#ifndef WRITER_MONGO_BULK_H
#define WRITER_MONGO_BULK_H

#include <stddef.h>
#include <stdint.h>
#include <mongoc/mongoc.h>

#include "writer_sink.h"

/* Where a batch goes and what became of it. coll is borrowed from the sink, which
 * outlives every call; every write takes the collection's write concern. */
typedef struct writer_mongo_target {
    mongoc_collection_t *coll;
    int cond;      /* WRITER_SINK_* kind of the last failure */
    size_t nrej;   /* documents reported to reject since the caller zeroed it */
    int64_t op_ms; /* the longest round trip to the server since the caller zeroed it */
} writer_mongo_target;

/* A document's string _id (s points into the document) and its index in the batch. */
typedef struct writer_mongo_id {
    const char *s;
    uint32_t len;
    size_t i;
} writer_mongo_id;

/* Notes that one round trip to the server took from t0 (zc_now_ms) until now. */
void writer_mongo_op_done(writer_mongo_target *t, int64_t t0);

/* qsort/bsearch order of writer_mongo_id by _id bytes (not by index). */
int writer_mongo_id_cmp(const void *a, const void *b);

/* The kind of failure a driver error is: WRITER_SINK_DOWN (the server gone or not
 * writable now), WRITER_SINK_FULL (out of disk) or WRITER_SINK_ERROR. */
int writer_mongo_classify(const bson_error_t *e);

/* Runs docs[idx[0..k)] as one unordered bulk of inserts (insert set) or of
 * replace_one({_id}, doc, upsert). Returns 0 when the server acknowledged all k;
 * else -1 with a reason in err and t->cond set, and *write_errors set when the
 * server answered with write errors (some document's problem, or an existing _id
 * for an insert) rather than not answering. */
int writer_mongo_bulk(writer_mongo_target *t, const bson_t *const *docs, const size_t *idx, size_t k, int insert,
                      int *write_errors, char *err, size_t errlen);

/* After a bulk failed with write errors, writes docs[idx[0..k)] one by one to find
 * the ones at fault, since the errors' indexes cannot be trusted (FerretDB 1.24
 * stops at the first error of an unordered bulk and reports it at index 0). Each
 * document the server refuses for itself goes to reject and counts in t->nrej; a
 * transport or write concern failure ends the search (the whole batch is retried
 * later). */
void writer_mongo_culprits(writer_mongo_target *t, const bson_t *const *docs, const size_t *idx, size_t k,
                           writer_reject_fn reject, void *arg);

#endif
