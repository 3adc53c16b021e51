/* writer_jsonl.h -- the JSON Lines sink: one relaxed extended JSON line per document.
 *
 * The file is an append log opened with O_APPEND: a document written twice (a
 * retried batch, a re-crawl) appears twice, and the last line for an _id wins.
 * Each batch is rendered into one buffer and appended with a single write(2)
 * (looping only on a short write), then fdatasync'ed before it counts as written.
 * On a local filesystem O_APPEND makes each whole-batch write land in one piece,
 * so several writers may share one file; on NFS give each writer its own file. */
#ifndef WRITER_JSONL_H
#define WRITER_JSONL_H

#include "writer_sink.h"

typedef struct writer_jsonl writer_jsonl;

/* Opens (creating, mode 0644) path for appending. Returns the sink's state, owned
 * by the caller and freed by writer_jsonl_close, or NULL with a reason in err. */
writer_jsonl *writer_jsonl_open(const char *path, char *err, size_t errlen);

/* Appends docs[0..n) as n lines and syncs them to disk. Returns 0, or -1 with a
 * reason in err (render, write or sync failure): nothing may be confirmed then,
 * and a part of the batch may already be in the file. A document that cannot be
 * rendered is also reported through reject. */
int writer_jsonl_write_batch(writer_jsonl *j, const bson_t *const *docs, size_t n,
                             writer_reject_fn reject, void *arg, char *err, size_t errlen);

/* Bytes appended so far by this sink. */
unsigned long long writer_jsonl_bytes(const writer_jsonl *j);

void writer_jsonl_close(writer_jsonl *j);

/* Fills s with the sink interface over j (owned by s from then on). */
void writer_jsonl_sink(writer_sink *s, writer_jsonl *j);

#endif
