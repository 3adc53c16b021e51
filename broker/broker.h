/* broker.h -- the broker's lifetime struct and the modules that work on it.
 *
 * main.c parses flags, opens everything and runs the loop; control.c handles the
 * stages' messages; jobs.c leases URLs and sends JOBs; maintain.c does the
 * periodic work (heartbeats, lease renewal, expiry, stats, completion); streamer.c
 * runs the two streamer devices; crawl.c seeds a crawl. Dispatch (dispatch.h) and
 * Redis (frontier.h) are reached only through their own functions. */
#ifndef BROKER_H
#define BROKER_H

#include <pthread.h>
#include <stdint.h>

#include "dispatch.h"
#include "frontier.h"
#include "metrics.h"
#include "zc_buf.h"
#include "zc_msg.h"

#define BROKER_PROG "zcrawl-broker"

typedef struct broker_guard broker_guard;

typedef struct broker_conf {
    const char *redis, *crawl, *start, *mode, *log_level;
    const char *control, *pages_in, *pages_out, *docs_in, *docs_out, *metrics, *metrics_password_file;
    long max_per_host, lease_ms, max_retries, retry_base_ms, retry_max_ms, heartbeat_ms;
    long recover_ms, stats_ms, hwm, window, linger_ms, redis_fail_limit_ms, max_retry_delay_ms;
    int fresh;
    long max_credit, job_timeout_ms; /* guard.c */
    const char *allow_host;
    int ignore_robots;
    double rate;
} broker_conf;

/* A report kept while Redis fails, replayed when it takes writes again. */
typedef struct broker_report {
    zc_msg m; /* payload frames only */
    struct broker_report *next;
} broker_report;

/* One struct for the broker's lifetime. */
typedef struct broker {
    broker_conf *conf;
    void *ctx, *router, *monitor;
    void *pull_pages, *push_pages, *pull_docs, *push_docs;
    pthread_t streamers[2];
    int nstreamers;
    frontier fr;
    dispatch d;
    int batch;
    int64_t started_wall;
    int64_t last_turn, stall_grace_until;
    int64_t next_hb, next_maint, next_stats, next_redis_try, redis_backoff;
    int64_t redis_bad_since; /* monotonic ms of the first failure not yet followed by a write that worked */
    int64_t redis_log_at;    /* next time a Redis failure may be logged */
    int64_t maint_backoff;   /* maintenance interval while Redis fails */
    long long open_leases;   /* ZCARD leases at the last maintenance, plus leases since */
    long long fetched_unflushed;
    long long bad_messages;
    frontier_counts last; /* for per-second rates */
    int64_t last_stats_at;
    int closed_leases;             /* this turn's messages closed leases */
    zc_buf job_urls, job_attempts; /* the JOB being built */
    int done;                      /* a batch crawl is complete */
    int failed;                    /* the crawl cannot finish: fail_reason says why */
    int meta_lost;                 /* its meta hash is gone: never write it again */
    char fail_reason[300];
    char run_id[17];
    frontier_counts at_start;               /* counters when this run began: the summary counts the difference */
    broker_report *reports, **reports_tail; /* kept while Redis fails, oldest first */
    size_t nreports;
    broker_metrics *metrics;    /* /metrics server, NULL when off */
    struct broker_guard *guard; /* scope, robots.txt, refusals (guard.c) */
    char problem[256];          /* the broker's own trouble (Redis), "" when none */
    int64_t problem_since;      /* wall ms */
} broker;

/* ---- control.c: messages from stages ---- */

/* Handles one message received on the ROUTER; never fails (a bad message is
 * logged, counted and dropped). */
void broker_on_message(broker *b, zc_msg *m, int64_t now);
/* Receives and handles what waits on the ROUTER (at most 2000 messages a turn),
 * with the socket's monitor events first. Never fails. */
void broker_read_control(broker *b, int64_t now);
/* Sends a message to a peer without blocking; a full or gone peer is logged at
 * debug level and the message dropped. */
void broker_send(broker *b, int peer, zc_msg_type type, const zc_frame *f, int n);
void broker_bad_message(broker *b, const char *why);
/* Replays the reports kept while Redis failed (it takes writes again), oldest
 * first; stops, keeping the rest, if Redis fails again. */
void broker_replay_reports(broker *b);
/* Frees the reports still kept (at exit: their leases decide). */
void broker_drop_reports(broker *b);
/* SHUTDOWN to every known peer. */
void broker_shutdown_stages(broker *b);

/* ---- jobs.c: leases from Redis, JOBs to fetchers ---- */

/* Leases as many URLs as the fetchers have credit for and sends every JOB that
 * per-host caps and rates allow now. Redis failures are reported through
 * broker_redis_failed. */
void broker_fill_and_dispatch(broker *b, int64_t now);
/* The window of open leases in force: --window, or 4 x the fetchers' concurrency
 * (their credit at its peak; at least 256) when it is 0. */
long broker_window(const broker *b);

/* ---- maintain.c: periodic work ---- */

/* Logs a failed Redis call (b->fr.err) and schedules a reconnect if the
 * connection broke. */
void broker_redis_failed(broker *b, const char *what);
/* Returns 1 when Redis is usable, else 0 (reconnecting with doubling backoff).
 * Fails the crawl once Redis has failed for longer than --redis-fail-limit-ms. */
int broker_redis_ok(broker *b, int64_t now);
/* Milliseconds to the next maintenance: 200, or a backoff while Redis fails. */
int64_t broker_maint_interval(const broker *b);
/* Expired leases, due retries, seeds, lease renewal, counters and stats. Returns
 * 1 when a batch crawl is complete (nothing waits, nothing is leased), else 0. */
int broker_maintain(broker *b, int64_t now);
/* Renders the stats field problem into buf: the broker's own trouble and each
 * peer's newest non-ok STATUS, "; "-separated, cut to fit; "" when all is well. */
void broker_problem(broker *b, char *buf, size_t len);
/* Writes the stats hash with state ("running", "idle", "done", "stopped"). */
void broker_write_stats(broker *b, const frontier_counts *c, int64_t now, const char *state);
/* On a stop: parked URLs go straight back to the frontier instead of waiting for
 * their leases to expire; counters not yet written are flushed. */
void broker_release(broker *b);

/* ---- liveness.c: which peers are alive, silent or gone ---- */

/* Watches the ROUTER's connections (zmq_socket_monitor). Returns 0, or -1 with a
 * reason in err. */
int broker_monitor_open(broker *b, char *err, size_t errlen);
void broker_monitor_close(broker *b);
/* Handles every connection event waiting: a fetcher whose connection closed is
 * gone and its JOBs go back to the frontier at once. */
void broker_monitor_drain(broker *b, int64_t now);
/* A message from peer arrived over socket fd: it is alive. */
void broker_peer_seen(broker *b, int peer, int fd, int64_t now);
/* Heartbeats every peer; a silent fetcher is paused, a silent parser or writer
 * forgotten, a fetcher silent for a whole lease forgotten. */
void broker_heartbeat(broker *b, int64_t now);
/* The broker itself did not run for gap ms (stopped, or starved): nobody is
 * judged on that time, and connections that close soon after are taken for
 * stages reconnecting, not dying. */
void broker_stalled(broker *b, int64_t now, int64_t gap);

/* ---- streamer.c: the two streamer devices (zguide) ---- */

/* Opens a socket of type, sets its high-water marks, and binds it (with keys, a
 * CURVE server admitting the roles in peers, lib/zc_curve.h). Returns the
 * socket, or NULL with a reason in err. */
void *broker_bind_socket(void *ctx, int type, const char *endpoint, const char *peers, long hwm, char *err,
                         size_t errlen);
/* Binds the four data endpoints and starts one zmq_proxy thread per direction.
 * Returns 0, or -1 with a reason in err (sockets already bound are closed by
 * broker_streamers_stop). */
int broker_streamers_start(broker *b, char *err, size_t errlen);
/* Closes what start left unowned, shuts the context down and joins the threads. */
void broker_streamers_stop(broker *b);

/* ---- crawl.c: a crawl's start, meta and end ---- */

/* Exit codes (the README's table). */
enum { BROKER_EXIT_COMPLETE = 0,
       BROKER_EXIT_DEAD_LETTERS = 1,
       BROKER_EXIT_USAGE = 2,
       BROKER_EXIT_STOPPED = 3,
       BROKER_EXIT_FAILED = 4 };

/* Begins this run in the crawl's meta hash (after --fresh cleared the crawl).
 * Returns 0 to crawl, 1 when the crawl is complete already (the one line is
 * printed), or -1 after a one-line message on stderr (state lost, Redis). */
int broker_begin(broker *b);
/* Checks that the meta hash is still this run's; if not, marks the crawl failed
 * (b->failed) and returns -1. Returns 0 while ours, or on a Redis error (retried). */
int broker_check_meta(broker *b);
/* The crawl cannot finish: logs why, ends the loop. */
void broker_fail(broker *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The crawl was complete already: answers SHUTDOWN to every stage that speaks
 * within --linger-ms. Returns the exit code (0). */
int broker_linger(broker *b);
/* Ends this run: meta state, the summary line (this run's counts), and returns
 * the exit code. */
int broker_end(broker *b);

/* Checks a start URL. Returns -1 after a one-line message on stderr when it is
 * not an absolute http(s) URL zcrawl can crawl. */
int broker_check_start(const char *url);
/* Seeds start (may be NULL or "") and args[0..nargs) in one Redis call. Returns
 * 0, or -1 after a one-line message on stderr. */
int broker_seed(broker *b, const char *start, char *const *args, size_t nargs);

#endif
