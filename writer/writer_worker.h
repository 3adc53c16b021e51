/* writer_worker.h -- the sink thread: a sink's batch writes, off the writer's loop.
 *
 * A database call may block for seconds (a slow or unreachable MongoDB, a disk
 * that stalls); the writer's loop must keep answering the broker meanwhile, or it
 * is declared dead and the documents it holds are fetched again. So the loop hands
 * each batch to one thread that owns the sink, over an inproc ZeroMQ PAIR (zguide's
 * pattern for threads: share nothing, pass messages), and polls the same pair for
 * the answer alongside its other sockets. One batch is in flight at a time; the job
 * and everything it points to belong to the loop again once it came back. */
#ifndef WRITER_WORKER_H
#define WRITER_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <bson/bson.h>

#include "writer_sink.h"

#define WRITER_REASON_MAX 256

/* One batch to write. docs and the reject arrays (cap entries) are the caller's. */
typedef struct writer_job {
    const bson_t **docs;
    size_t n, cap;
    /* filled in by the sink thread */
    int rc;          /* WRITER_SINK_OK or a WRITER_SINK_* failure */
    size_t already;  /* found stored before, confirmed all the same */
    int64_t ms;      /* how long the write took */
    int64_t op_ms;   /* its longest round trip to the store (the sink's op_ms, else ms) */
    size_t nrej;     /* documents the sink refused: */
    size_t *rej_idx; /*   their indexes in docs */
    char (*rej_reason)[WRITER_REASON_MAX];
    char err[640];
} writer_job;

typedef struct writer_worker writer_worker;

/* Starts the sink thread for sink (which it uses from then on; the caller keeps
 * ownership and must not touch it until writer_worker_free). Returns the worker,
 * or NULL with a reason in err (socket or thread creation failed). */
writer_worker *writer_worker_start(void *zmq_ctx, writer_sink *sink, char *err, size_t errlen);
/* The socket to poll for ZMQ_POLLIN: a finished job is waiting. */
void *writer_worker_socket(writer_worker *w);
/* Hands job to the sink thread. Returns 0, or -1 when a job is in flight already
 * or the message cannot be sent (errno set). */
int writer_worker_submit(writer_worker *w, writer_job *job);
/* The finished job, or NULL when none is waiting (never blocks). */
writer_job *writer_worker_take(writer_worker *w);
/* 1 while a job is in flight. */
int writer_worker_busy(const writer_worker *w);
/* Waits up to wait_ms for a job in flight (its result is dropped), stops the
 * thread and frees the worker. Returns 0, or -1 when the thread was still inside
 * a write: then it is left running, with its socket and the sink, for the process
 * to end (the ZeroMQ context must then not be terminated, nor the sink closed). */
int writer_worker_free(writer_worker *w, int64_t wait_ms);

#endif
