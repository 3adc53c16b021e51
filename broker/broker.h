/* broker.h -- the broker's lifetime struct, and the two helpers every layer may
 * use on it (broker.c): the crawl failing, and the window of open leases.
 *
 * The broker's files call each other one way only, down these layers (a file
 * calls files of the layers below its own, never one beside it or above;
 * scripts/layers.py checks it on every test run):
 *
 *   main                     the process: open, the turn, close
 *   conf control jobs maintain security_line
 *                            the flags; the turn's steps: read the ROUTER, hand
 *                            out JOBs, periodic work; the first log line
 *   report                   the reports that close leases (live and replayed)
 *   guard crawl              the guards' lifetime and tick; a crawl's start,
 *                            meta and end
 *   liveness guard_*         policy: who is alive; refusals and recall, credit,
 *                            scope, robots.txt, JOB timeouts
 *   peer_io outage status_peers
 *                            peer I/O (send, bad messages, frames); Redis-outage
 *                            state (failure, backoff, reports kept for replay);
 *                            the peers as JSON for the stats hash
 *   broker streamer metrics  this file's helpers; the streamer and /metrics threads
 *   status_page              the status page and /status.json that metrics serves
 *   frontier frontier_meta dispatch
 *                            Redis steps (Lua scripts, broker/lua) and the crawl's
 *                            meta; work in hand (memory only)
 *   frontier_cmd             the Redis command layer (MOVED, EVALSHA, NOSCRIPT)
 *
 * A message from a stage enters at control, goes down to the handler that
 * records it and back; an outage found on the way is state in outage.c that
 * main.c's turn acts on (replay after recovery, then maintenance, then
 * dispatch). Each module has its own header. Where a change goes: who may send
 * what (a role, a key) is guard_refuse.c's; what the broker does while Redis
 * fails, outage.c's (what is kept, report.c's); a new Redis step is a script in
 * broker/lua/ and a function in frontier.c; a new module takes a layer in
 * scripts/layers.py. */
#ifndef BROKER_H
#define BROKER_H

#include <pthread.h>
#include <stdint.h>

#include "dispatch.h"
#include "frontier.h"
#include "metrics.h"
#include "zc_buf.h"
#include "zc_msg.h"
#include "zc_proof.h"

#define BROKER_PROG "zcrawl-broker"

/* Exit codes (the README's table). */
enum { BROKER_EXIT_COMPLETE = 0,
       BROKER_EXIT_DEAD_LETTERS = 1,
       BROKER_EXIT_USAGE = 2,
       BROKER_EXIT_STOPPED = 3,
       BROKER_EXIT_FAILED = 4 };

typedef struct broker_conf {
    const char *redis, *crawl, *start, *mode, *log_level;
    const char *control, *pages_in, *pages_out, *docs_in, *docs_out, *metrics, *metrics_password_file;
    long max_per_host, lease_ms, max_retries, retry_base_ms, retry_max_ms, heartbeat_ms;
    long recover_ms, stats_ms, hwm, window, linger_ms, redis_fail_limit_ms, max_retry_delay_ms;
    int fresh;
    long max_credit, job_timeout_ms; /* guard_credit.c, guard_timeout.c */
    const char *allow_host;
    const char *identity; /* what the crawl is (start URLs, spec, sink); "" or NULL: not said */
    int ignore_robots;
    long robots_ttl_s; /* a robots.txt is fetched again when older (RFC 9309: a day at most) */
    double rate;
} broker_conf;

/* The state of each concern, owned by its module (opaque here). */
struct broker_report;  /* outage.c: a report kept while Redis fails */
struct guard_refusals; /* guard_refuse.c */
struct guard_scope;    /* guard_scope.c */
struct guard_robots;   /* guard_robots.c */

/* One struct for the broker's lifetime. */
/* A host told to wait (429/503 with Retry-After): shown until it may be asked again. */
#define BROKER_WAITS_MAX 8
typedef struct broker_wait {
    char host[272];
    int64_t until_wall; /* wall ms */
    int status;
    int64_t retry_after_ms;
} broker_wait;

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
    int64_t next_sweep;          /* the next look for stray hosts (maintain.c) */
    int64_t redis_bad_since;     /* monotonic ms of the first failure not yet followed by a write that worked */
    int64_t redis_trouble_since; /* the same, until a whole maintenance worked: the outage clock */
    int64_t redis_log_at;        /* next time a Redis failure may be logged */
    int64_t maint_backoff;       /* maintenance interval while Redis fails */
    long long open_leases;       /* ZCARD leases at the last maintenance, plus leases since */
    long long fetched_unflushed;
    long long bad_messages;
    frontier_counts last; /* for per-second rates */
    int64_t last_stats_at;
    int closed_leases;             /* this turn's messages closed leases */
    zc_buf job_urls, job_attempts; /* the JOB being built */
    zc_buf job_proofs;             /* its proofs of lease, when the crawl secret is on */
    zc_proof_key proof;            /* the crawl secret (--secret-file), or off */
    int done;                      /* a batch crawl is complete */
    int failed;                    /* the crawl cannot finish: fail_reason says why */
    int meta_lost;                 /* its meta hash is gone: never write it again */
    long long dead_before;         /* a crawl complete before this run: its dead letters */
    char fail_reason[300];
    char run_id[17];
    frontier_counts at_start;                      /* counters when this run began: the summary counts the difference */
    struct broker_report *reports, **reports_tail; /* kept while Redis fails, oldest first */
    size_t nreports;
    int replay_fails;                    /* the oldest kept report failed this often with Redis up */
    broker_wait waits[BROKER_WAITS_MAX]; /* hosts backing off, the latest ending kept when full */
    broker_metrics *metrics;             /* /metrics server, NULL when off */
    struct guard_refusals *refusals;
    struct guard_scope *scope;
    struct guard_robots *robots;
    long long unanswered;         /* JOBs taken back for a timeout, not yet counted in Redis */
    struct broker_counts *counts; /* a spec's counters from the parsers, not yet in Redis (counts.c) */
    char problem[256];            /* the broker's own trouble (Redis), "" when none */
    int64_t problem_since;        /* wall ms */
} broker;

/* The crawl cannot finish: records why (the first reason wins), logs it, and
 * ends the loop (b->failed). Never fails. */
void broker_fail(broker *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The window of open leases in force: --window, or 4 x the fetchers' concurrency
 * (their credit at its peak; at least 256) when it is 0. */
long broker_window(const broker *b);

#endif
