/* writer_ferretdb.h -- the MongoDB sink's way around FerretDB 1.24's limits.
 *
 * FerretDB speaks MongoDB's wire protocol over SQLite or PostgreSQL, with two
 * limits a crawl meets: every update scans the collection (0.1-0.3 s per
 * replacement), and an unordered bulk stops at its first error. So on FerretDB a
 * batch goes in first as one bulk insert (a crawl mostly brings documents never
 * seen); when some _id exists already (a re-crawl, a retry whose first ack was
 * lost, a concurrent writer), one find by _id sorts the batch into new documents,
 * inserted in one bulk, and existing ones, replaced by _id in small chunks. The
 * end state is the plain way's: each document stored under its _id. */
#ifndef WRITER_FERRETDB_H
#define WRITER_FERRETDB_H

#include <stddef.h>
#include <mongoc/mongoc.h>

#include "writer_mongo_bulk.h"

/* Sets *is_ferretdb from the server's buildInfo reply, which FerretDB marks with
 * a ferretdbVersion field. Returns 0, or -1 with a reason in err (the command
 * failed). */
int writer_ferretdb_detect(mongoc_client_t *client, int *is_ferretdb, char *err, size_t errlen);

/* Writes docs[all[0..n)] (distinct string _ids) as described above. Returns 0, or
 * -1 with a reason in err and t->cond set; documents the server refuses for
 * themselves go to reject (t->nrej counts them). */
int writer_ferretdb_write(writer_mongo_target *t, const bson_t *const *docs, size_t n, const size_t *all,
                          writer_reject_fn reject, void *arg, char *err, size_t errlen);

#endif
