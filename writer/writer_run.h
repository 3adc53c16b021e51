/* writer_run.h -- the writer's loop: DOCs in, batches to the sink thread, reports out.
 *
 * One writer_run owns, for the life of the process, the ZeroMQ context, the PULL
 * socket documents come from, the DEALER connection to the broker (zc_peer, with
 * its heartbeats) and the sink thread (writer_worker). The loop holds the documents
 * it received in arrival order, bounded by bytes, and keeps reading while the sink
 * fails; hands the oldest ones to the sink thread as one batch when the batch is
 * full or its first document has waited --batch-ms (a batch halves after a failed
 * or slow write and doubles after quick ones, within 1..--batch); and tells the
 * broker WRITTEN only once the sink acknowledged the whole batch. Because the loop never blocks in the sink, it keeps heartbeating
 * however slow the sink is, and it renews the leases of what it holds: HOLD for
 * every URL held longer than --hold-ms, again every --hold-ms. A failing sink is
 * reported as STATUS (sink_full, sink_down, sink_error; again every 5 s; ok once
 * it works again), retried with doubling backoff, and given up after
 * --sink-fail-limit of uninterrupted failure. */
#ifndef WRITER_RUN_H
#define WRITER_RUN_H

#include "zc_proof.h"
#include <stddef.h>

#include "writer_sink.h"

typedef struct writer_config {
    const char *broker;  /* control endpoint the DEALER connects to */
    const char *docs;    /* endpoint list the PULL attaches to ('@' binds) */
    const char *name;    /* name in HELLO; NULL or "" for writer-HOST-PID */
    long batch;          /* documents per batch at most (batches shrink and grow below it) */
    long batch_ms;       /* how long the first document of a batch may wait */
    long batch_bytes;    /* BSON bytes per batch at most */
    long max_held_bytes; /* stop reading documents above this many bytes held */
    long lease_ms;       /* the broker's --lease-ms, for the log */
    long hold_ms;        /* HOLD for what is held longer than this, this often: <= lease_ms / 3 */
    long heartbeat_ms;
    long drain_ms;             /* at exit, how long to keep writing what is held */
    long stats_ms;             /* counters logged this often, 0: never */
    long retry_max_ms;         /* longest pause between retries of a failing sink */
    long sink_fail_limit_s;    /* give up after this long of failure without a success */
    const zc_proof_key *proof; /* the crawl secret: a DOC must prove its lease; NULL or off: nothing checked */
} writer_config;

/* Fills c with the documented defaults (strings static). */
void writer_config_defaults(writer_config *c);

typedef struct writer_run writer_run;

/* Exit codes of writer_run_loop (the stages' contract). */
#define WRITER_EXIT_OK        0 /* everything received was written or given back */
#define WRITER_EXIT_UNFLUSHED 1 /* stopped with documents unwritten (unconfirmed: they come back) */
#define WRITER_EXIT_GAVE_UP   4 /* the sink failed for longer than --sink-fail-limit */

/* Creates the loop over sink (owned by the loop from then on, also on failure):
 * ZeroMQ context and sockets (HELLO is sent here), sink thread. c's strings must
 * outlive the loop. Returns NULL with a one-line reason in err (bad endpoint,
 * out of memory, a library call failed). */
writer_run *writer_run_new(const writer_config *c, writer_sink *sink, char *err, size_t errlen);
/* Runs until SHUTDOWN from the broker or SIGINT/SIGTERM, then drains for at most
 * drain_ms. Returns a WRITER_EXIT_* code; for WRITER_EXIT_GAVE_UP a one-line
 * reason is in err. */
int writer_run_loop(writer_run *w, char *err, size_t errlen);
/* Frees everything the loop owns and closes the sink. NULL is fine. Returns 0, or
 * -1 when the sink thread was still inside a write after a second's wait: then it
 * is left running with the sink, and the caller must not clean up the libraries
 * the sink uses (the process is about to end). */
int writer_run_free(writer_run *w);

#endif
