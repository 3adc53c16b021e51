/* writer_jsonl.h -- the JSON Lines sink: one relaxed extended JSON line per document, each _id once.
 *
 * On a regular file every document's _id appears in one line, however often the
 * document comes (a retried batch, a redelivery after a crash or a stall, a
 * re-crawl). The sink keeps the set of _ids the file holds: it reads the file at
 * open, and before each append it reads what other writers appended since. Each
 * batch is rendered into one buffer and appended, under an exclusive flock(2) on
 * the file, with one write(2) (looping on a short write), then fdatasync'ed before
 * it counts as written; documents whose _id is in the file already are skipped
 * (and confirmed all the same). A torn last line (a writer killed inside write(2))
 * and a failed append (ENOSPC part-way) are cut back to the last whole line with
 * ftruncate(2), under the same lock, so no reader ever meets half a document.
 * Several writers may share one file on a local filesystem; on NFS flock is only
 * as good as the server's locking. A pipe or a device (not a regular file) gets
 * plain appends: no lock, no reading back, at least once. */
#ifndef WRITER_JSONL_H
#define WRITER_JSONL_H

#include "writer_sink.h"

typedef struct writer_jsonl writer_jsonl;

/* Opens (creating, mode 0644) path for appending, learns the _ids it holds and
 * cuts a torn last line. Returns the sink's state, owned by the caller and freed
 * by writer_jsonl_close, or NULL with a reason in err. */
writer_jsonl *writer_jsonl_open(const char *path, char *err, size_t errlen);

/* Appends as lines the documents of docs[0..n) whose _id the file does not hold
 * yet (of several with one _id in the batch, the first), and syncs them to disk.
 * *already counts the ones skipped. Returns WRITER_SINK_OK, or with a reason in
 * err: WRITER_SINK_FULL (ENOSPC, EDQUOT, EFBIG), WRITER_SINK_REJECTED (a document
 * that cannot be rendered, also reported through reject), WRITER_SINK_ERROR
 * (anything else). After a failure the file holds none of the batch. */
int writer_jsonl_write_batch(writer_jsonl *j, const bson_t *const *docs, size_t n, writer_reject_fn reject,
                             void *arg, size_t *already, char *err, size_t errlen);

/* Bytes appended so far by this sink. */
unsigned long long writer_jsonl_bytes(const writer_jsonl *j);
/* How many distinct _ids the file is known to hold. */
size_t writer_jsonl_ids(const writer_jsonl *j);

void writer_jsonl_close(writer_jsonl *j);

/* Fills s with the sink interface over j (owned by s from then on). */
void writer_jsonl_sink(writer_sink *s, writer_jsonl *j);

#endif
