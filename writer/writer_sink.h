/* writer_sink.h -- the interface every document sink of the writer implements.
 *
 * A sink takes a batch of validated BSON documents (each with a string `_id`) and
 * either makes all of them durable as far as it can tell (returns 0) or fails as a
 * whole (returns -1): the caller then keeps the batch and retries it later, so a
 * sink's write must be idempotent per `_id` or documented as an append log.
 * Documents the sink refuses for a reason of their own (not a transport problem)
 * are reported one by one through the reject callback, so the caller can retire
 * them after a few tries instead of retrying them forever. */
#ifndef WRITER_SINK_H
#define WRITER_SINK_H

#include <stddef.h>
#include <bson/bson.h>

/* Called for document docs[index] that the sink refused; reason is one line,
 * valid only during the call. */
typedef void (*writer_reject_fn)(void *arg, size_t index, const char *reason);

typedef struct writer_sink {
    const char *kind; /* "mongo" or "jsonl" */
    void *impl;       /* owned by the sink, freed by close */
    /* Writes docs[0..n). Returns 0 once everything is acknowledged, or -1 with a
     * one-line reason in err: nothing in the batch may be confirmed then. */
    int (*write_batch)(void *impl, const bson_t *const *docs, size_t n,
                       writer_reject_fn reject, void *arg, char *err, size_t errlen);
    void (*close)(void *impl);
} writer_sink;

#endif
