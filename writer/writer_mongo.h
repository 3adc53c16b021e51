/* writer_mongo.h -- the MongoDB sink: unordered bulk upserts by _id with mongo-c-driver.
 *
 * One single-threaded mongoc_client_t, used by one thread at a time (the writer's
 * sink thread). A batch ends as "each document stored under its _id" under the
 * chosen write concern: on MongoDB by one unordered bulk of replace_one({_id},
 * doc, upsert); on FerretDB, whose updates are slow, by inserts first and
 * replacements only for the _ids already there. Writing the same batch again
 * changes nothing, which is what makes blind retries safe. The driver reconnects
 * by itself on the next operation after the server went away. The caller must
 * have called mongoc_init(). */
#ifndef WRITER_MONGO_H
#define WRITER_MONGO_H

#include <mongoc/mongoc.h>

#include "writer_sink.h"

typedef struct writer_mongo writer_mongo;

/* How batches are written: the plain way (one unordered bulk of upserts by _id),
 * or around FerretDB's limits (mongo_write_ferretdb in writer_mongo.c). AUTO picks
 * FerretDB's way only when the server's buildInfo says it is FerretDB. */
typedef enum { WRITER_MONGO_AUTO = 0,
               WRITER_MONGO_PLAIN,
               WRITER_MONGO_FERRETDB } writer_mongo_server;

/* The password of a URI that names a user but none, from a file. */
#define WRITER_MONGO_PASSWORD_FILE_ENV "ZCRAWL_MONGO_PASSWORD_FILE"

typedef struct writer_mongo_opts {
    const char *uri;            /* mongodb://... */
    const char *db;             /* NULL: the URI's database, else "zcrawl" */
    const char *collection;     /* NULL: "books" */
    const char *write_concern;  /* NULL: the URI's w, else 1; "majority" or a number >= 1 */
    int journal;                /* ask for j:true */
    long wtimeout_ms;           /* 0: none */
    int create_indexes;         /* create the isbn/score/tags indexes at open */
    long server_timeout_ms;     /* serverSelectionTimeoutMS unless the URI sets it; 0: 5000 */
    writer_mongo_server server; /* AUTO in production; tests force a path */
} writer_mongo_opts;

/* Checks the names and the write concern in o without connecting. Returns 0, or
 * -1 with a one-line reason in err (the caller's flags are wrong). */
int writer_mongo_check_opts(const writer_mongo_opts *o, char *err, size_t errlen);

/* Builds the write concern from spec ("majority", or w >= 1 in decimal; NULL gives
 * base's w, or 1 when base has none). w=0 is refused: an unacknowledged write can
 * never be confirmed. Returns a new write concern the caller destroys, or NULL
 * with a reason in err. */
mongoc_write_concern_t *writer_mongo_write_concern_new(const char *spec, const mongoc_write_concern_t *base,
                                                       int journal, long wtimeout_ms,
                                                       char *err, size_t errlen);

/* Parses the URI, connects, pings the server, asks it whether it is FerretDB
 * (o->server AUTO) and (optionally) creates the indexes.
 * Returns the sink's state, owned by the caller and freed by writer_mongo_close,
 * or NULL with a one-line reason in err (bad URI, unreachable server, refused
 * command). Never prints the URI, which may hold a password. */
writer_mongo *writer_mongo_open(const writer_mongo_opts *o, char *err, size_t errlen);

/* Writes docs[0..n) (each with a string _id) so that afterwards the collection
 * holds each under its _id, replacing what was there; of several documents with
 * one _id the last wins. Returns WRITER_SINK_OK when the server acknowledged all
 * under the write concern; otherwise nothing may be confirmed and writing the
 * batch again is harmless: WRITER_SINK_DOWN (server unreachable or not writable
 * now), WRITER_SINK_FULL (out of disk space), WRITER_SINK_REJECTED (documents the
 * server refuses for themselves, each reported through reject; not a duplicate
 * _id, which is a race with another writer cured by retrying), WRITER_SINK_ERROR
 * (anything else, write concern errors included), with a reason in err. */
int writer_mongo_write_batch(writer_mongo *w, const bson_t *const *docs, size_t n,
                             writer_reject_fn reject, void *arg, char *err, size_t errlen);

/* 1 when batches go through FerretDB's workarounds. */
int writer_mongo_is_ferretdb(const writer_mongo *w);
/* "mongodb" or "ferretdb", for logs. */
const char *writer_mongo_server_name(const writer_mongo *w);

/* Names of the database and collection in use (valid until close). */
const char *writer_mongo_db(const writer_mongo *w);
const char *writer_mongo_collection(const writer_mongo *w);

void writer_mongo_close(writer_mongo *w);

/* Sends the driver's own log lines through zc_log (process-wide). */
void writer_mongo_log_to_zc(void);

/* Fills s with the sink interface over w (owned by s from then on). */
void writer_mongo_sink(writer_sink *s, writer_mongo *w);

#endif
