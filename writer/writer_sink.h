/* writer_sink.h -- the interface every document sink of the writer implements.
 *
 * A sink takes a batch of validated BSON documents (each with a string `_id`) and
 * either makes all of them durable as far as it can tell (returns WRITER_SINK_OK)
 * or fails as a whole: the caller then keeps the batch and retries it later, so a
 * sink's write must be idempotent per `_id`. The failure code says what kind of
 * trouble it is (full, down, any other error), which the writer reports to the
 * broker as its STATUS. Documents the sink refuses for a reason of their own (not
 * a transport problem) are reported one by one through the reject callback and the
 * batch fails with WRITER_SINK_REJECTED, so the caller can retire them after a few
 * tries instead of retrying them forever.
 *
 * A sink is used by one thread at a time: the writer opens it in its main thread
 * and from then on only its sink thread (writer_worker) calls it. */
#ifndef WRITER_SINK_H
#define WRITER_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <bson/bson.h>

enum {
    WRITER_SINK_OK = 0,
    WRITER_SINK_ERROR = -1,    /* any other failure: EIO, write concern, out of memory */
    WRITER_SINK_DOWN = -2,     /* the database cannot be reached or does not take writes now */
    WRITER_SINK_FULL = -3,     /* no space left: ENOSPC, EDQUOT, a database out of disk */
    WRITER_SINK_REJECTED = -4, /* only documents reported through reject failed */
};

/* The STATUS condition word of a sink result: "ok", "sink_error", "sink_down",
 * "sink_full"; a rejected batch is "ok" (the sink itself is fine). */
const char *writer_sink_condition(int rc);

/* Called for document docs[index] that the sink refused; reason is one line,
 * valid only during the call. */
typedef void (*writer_reject_fn)(void *arg, size_t index, const char *reason);

typedef struct writer_sink {
    const char *kind; /* "mongo" or "jsonl" */
    void *impl;       /* owned by the sink, freed by close */
    long timeout_ms;  /* a write that takes this long fails (0: none), for the batch size */
    /* Writes docs[0..n). Returns WRITER_SINK_OK once everything is acknowledged,
     * with *already set to how many of them the sink found stored before and did
     * not store again; or a negative WRITER_SINK_* code with a one-line reason in
     * err: nothing in the batch may be confirmed then. */
    int (*write_batch)(void *impl, const bson_t *const *docs, size_t n, writer_reject_fn reject, void *arg,
                       size_t *already, char *err, size_t errlen);
    void (*close)(void *impl);
    /* The longest single round trip to the store in the last write_batch, in ms;
     * NULL when a write is one step (its whole time counts). */
    int64_t (*op_ms)(void *impl);
} writer_sink;

#endif
