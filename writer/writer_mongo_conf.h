/* writer_mongo_conf.h -- the MongoDB sink's settings: names, write concern, checked before connecting.
 *
 * What the flags and the URI say about where and how documents are written, and
 * the checks that refuse a setting which could never work (a name MongoDB refuses,
 * a write concern that is never acknowledged) before anything connects. */
#ifndef WRITER_MONGO_CONF_H
#define WRITER_MONGO_CONF_H

#include <mongoc/mongoc.h>

/* How batches are written: the plain way (one unordered bulk of upserts by _id),
 * or around FerretDB's limits (writer_ferretdb.c). AUTO picks FerretDB's way only
 * when the server's buildInfo says it is FerretDB. */
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
    long wtimeout_ms;           /* < 0: the URI's, else 10000; 0: none */
    int create_indexes;         /* create the isbn/score/tags indexes at open */
    long server_timeout_ms;     /* serverSelectionTimeoutMS unless the URI sets it; 0: 5000 */
    writer_mongo_server server; /* AUTO in production; tests force a path */
} writer_mongo_opts;

/* Checks the names and the write concern in o without connecting. Returns 0, or
 * -1 with a one-line reason in err (the caller's flags are wrong). */
int writer_mongo_check_opts(const writer_mongo_opts *o, char *err, size_t errlen);

/* Return 0 when name can be a database (collection) name, else -1 with a reason
 * in err. */
int writer_mongo_check_db(const char *name, char *err, size_t errlen);
int writer_mongo_check_coll(const char *name, char *err, size_t errlen);

#define WRITER_MONGO_WTIMEOUT_MS 10000 /* wtimeout when neither the flag nor the URI gives one */

/* Builds the write concern: base (the URI's, as the driver parsed it; NULL: none)
 * with what the flags give on top: spec ("majority", or w >= 1 in decimal; NULL
 * keeps base's w, or 1 when base has none), journal (1: j:true), wtimeout_ms (>= 0:
 * that, 0 meaning none; < 0: base's, else WRITER_MONGO_WTIMEOUT_MS). w=0 is
 * refused: an unacknowledged write can never be confirmed. Returns a new write
 * concern the caller destroys, or NULL with a reason in err. */
mongoc_write_concern_t *writer_mongo_write_concern_new(const char *spec, const mongoc_write_concern_t *base,
                                                       int journal, long wtimeout_ms,
                                                       char *err, size_t errlen);

#endif
