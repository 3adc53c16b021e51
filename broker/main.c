/* main.c -- zcrawl-broker: flags, then open, loop and close around the modules of
 * broker.h. The broker owns the crawl's state in Redis, hands URLs to fetchers
 * under credit-based flow control and per-host caps, closes leases when outcomes
 * are durable, runs the two streamer devices, and ends a batch crawl. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "broker.h"
#include "guard.h"
#include "security_line.h"
#include "zc_curve.h"
#include "zc_flags.h"
#include "zc_log.h"
#include "zc_signal.h"
#include "zc_time.h"

#define PROG BROKER_PROG

#define die(code, ...) zc_die(code, PROG, __VA_ARGS__)

/* Parses flags and checks every start URL; exits 2 on a usage error. Returns the
 * number of START_URL arguments (argv[1..n]). */
static int parse_conf(broker_conf *conf, int argc, char **argv) {
    const zc_flag flags[] = {
        { "redis", "ZCRAWL_REDIS", ZC_FLAG_STR, &conf->redis, "Redis URI redis://[:pass@]host:port[/db]", 0, 0 },
        { "crawl", "ZCRAWL_CRAWL", ZC_FLAG_STR, &conf->crawl, "crawl name: its keys are zcrawl:{<crawl>}:*", 0, 0 },
        { "start", "ZCRAWL_START_URL", ZC_FLAG_STR, &conf->start, "start URL (more can follow the flags as arguments)", 0, 0 },
        { "mode", "ZCRAWL_MODE", ZC_FLAG_STR, &conf->mode, "batch (exit when done) or service (wait for seeds)", 0, 0 },
        { "control", "ZCRAWL_CONTROL", ZC_FLAG_STR, &conf->control, "bind: ROUTER for every stage", 0, 0 },
        { "pages-in", "ZCRAWL_PAGES_IN", ZC_FLAG_STR, &conf->pages_in, "bind: PULL pages from fetchers", 0, 0 },
        { "pages-out", "ZCRAWL_PAGES_OUT", ZC_FLAG_STR, &conf->pages_out, "bind: PUSH pages to parsers", 0, 0 },
        { "docs-in", "ZCRAWL_DOCS_IN", ZC_FLAG_STR, &conf->docs_in, "bind: PULL documents from parsers", 0, 0 },
        { "docs-out", "ZCRAWL_DOCS_OUT", ZC_FLAG_STR, &conf->docs_out, "bind: PUSH documents to writers", 0, 0 },
        { "max-per-host", "ZCRAWL_MAX_PER_HOST", ZC_FLAG_INT, &conf->max_per_host, "requests in flight per host, all fetchers together", 1, 100000 },
        { "rate", "ZCRAWL_RATE", ZC_FLAG_DOUBLE, &conf->rate, "requests per second per host (0: no limit)", 0, 1e6 },
        { "lease-ms", "ZCRAWL_LEASE_MS", ZC_FLAG_INT, &conf->lease_ms, "lease of a handed-out URL before it comes back", 500, 86400000 },
        { "recover-ms", "ZCRAWL_RECOVER_MS", ZC_FLAG_INT, &conf->recover_ms, "at start, leases of a previous broker end within this", 0, 86400000 },
        { "max-retries", "ZCRAWL_MAX_RETRIES", ZC_FLAG_INT, &conf->max_retries, "transient failures before a dead letter", 0, 1000 },
        { "retry-base-ms", "ZCRAWL_RETRY_BASE_MS", ZC_FLAG_INT, &conf->retry_base_ms, "first retry delay (doubles, with jitter)", 1, 3600000 },
        { "retry-max-ms", "ZCRAWL_RETRY_MAX_MS", ZC_FLAG_INT, &conf->retry_max_ms, "longest retry delay", 1, 86400000 },
        { "heartbeat-ms", "ZCRAWL_HEARTBEAT_MS", ZC_FLAG_INT, &conf->heartbeat_ms, "heartbeat interval; peers expire after 3", 50, 60000 },
        { "stats-ms", "ZCRAWL_STATS_MS", ZC_FLAG_INT, &conf->stats_ms, "how often the stats hash is written", 100, 60000 },
        { "window", "ZCRAWL_WINDOW", ZC_FLAG_INT, &conf->window, "open leases at most (fetched, not yet written or parsed); 0: 4 x the fetchers' concurrency, at least 256", 0, 100000000 },
        { "fresh", "ZCRAWL_FRESH", ZC_FLAG_BOOL, &conf->fresh, "delete the crawl's keys first and start it over", 0, 0 },
        { "linger-ms", "ZCRAWL_LINGER_MS", ZC_FLAG_INT, &conf->linger_ms, "crawl already complete: answer SHUTDOWN to stages this long before exiting", 0, 600000 },
        { "redis-fail-limit-ms", "ZCRAWL_REDIS_FAIL_LIMIT_MS", ZC_FLAG_INT, &conf->redis_fail_limit_ms, "Redis down or refusing writes this long: the crawl fails (exit 4)", 1000, 86400000 },
        { "max-retry-delay-ms", "ZCRAWL_MAX_RETRY_DELAY_MS", ZC_FLAG_INT, &conf->max_retry_delay_ms, "cap on Retry-After and retry backoff", 0, 86400000 },
        { "hwm", "ZCRAWL_HWM", ZC_FLAG_INT, &conf->hwm, "ZeroMQ high-water mark of the streamers", 10, 10000000 },
        { "log-level", "ZCRAWL_LOG_LEVEL", ZC_FLAG_STR, &conf->log_level, "debug, info, warn or error", 0, 0 },
        { "max-credit", "ZCRAWL_MAX_CREDIT", ZC_FLAG_INT, &conf->max_credit, "JOBs one fetcher may hold at once; a HELLO or CREDIT asking more is clamped", 1, 10000000 },
        { "job-timeout-ms", "ZCRAWL_JOB_TIMEOUT_MS", ZC_FLAG_INT, &conf->job_timeout_ms, "a JOB unanswered this long goes back to the frontier (and that fetcher's credit to 0)", 1000, 86400000 },
        { "allow-host", "ZCRAWL_ALLOW_HOST", ZC_FLAG_STR, &conf->allow_host, "hosts in scope besides the start URLs' origins: example.com,*.example.com", 0, 0 },
        { "ignore-robots", "ZCRAWL_IGNORE_ROBOTS", ZC_FLAG_BOOL, &conf->ignore_robots, "do not fetch or obey robots.txt", 0, 0 },
        { "metrics", "ZCRAWL_METRICS", ZC_FLAG_STR, &conf->metrics, "serve Prometheus /metrics and the status page (/) on ADDR (host:port or :port; off when empty)", 0, 0 },
        { "metrics-password-file", "ZCRAWL_METRICS_PASSWORD_FILE", ZC_FLAG_STR, &conf->metrics_password_file, "password of --metrics (HTTP basic auth, user zcrawl); needed unless ADDR is loopback", 0, 0 },
        ZC_CURVE_FLAGS,
        ZC_FLAGS_END,
    };
    int npos = 0;
    zc_flags_parse_or_exit(flags, argc, argv, &npos, PROG, "[flags] [START_URL...]",
                           "The broker of a zcrawl crawl: state in Redis, work to fetchers, pages and\n"
                           "documents through its streamers, SHUTDOWN to every stage when a batch crawl ends.");
    if (conf->start && *conf->start && broker_check_start(conf->start) != 0) exit(2);
    for (int i = 1; i <= npos; i++)
        if (broker_check_start(argv[i]) != 0) exit(2);
    if (strcmp(conf->mode, "batch") && strcmp(conf->mode, "service"))
        die(2, "--mode must be batch or service, not '%s'", conf->mode);
    char merr[256];
    if (conf->allow_host && broker_guard_check_hosts(conf->allow_host, merr, sizeof(merr)) != 0)
        die(2, "--allow-host: %s", merr);
    if (conf->metrics && *conf->metrics &&
        broker_metrics_check(conf->metrics, conf->metrics_password_file, zc_curve_opt_insecure, merr, sizeof(merr)) != 0)
        die(2, "%s", merr);
    return npos;
}

/* Opens Redis, binds every endpoint, starts the streamers, then begins the run
 * and seeds: a broker that cannot serve leaves Redis as it found it. Returns 0
 * to crawl, 1 when the crawl is complete already, or an exit code after a
 * one-line message on stderr (what was opened is closed by close_all). */
static int open_all(broker *b, char *const *args, size_t nargs) {
    char err[512];
    const broker_conf *conf = b->conf;
    if (dispatch_init(&b->d, (int)conf->max_per_host, conf->rate) != 0) {
        snprintf(err, sizeof(err), "out of memory");
        goto err;
    }
    if (frontier_open(&b->fr, conf->redis, conf->crawl, err, sizeof(err)) != 0) goto err;
    const char *eps[] = { conf->control, conf->pages_in, conf->pages_out, conf->docs_in, conf->docs_out, NULL };
    if (zc_curve_setup("broker", eps, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: error: %s\n", PROG, err);
        return BROKER_EXIT_USAGE; /* secure or explicit: configuration */
    }
    if (!(b->ctx = zmq_ctx_new())) {
        snprintf(err, sizeof(err), "zmq_ctx_new: %s", zmq_strerror(errno));
        goto err;
    }
    b->router = broker_bind_socket(b->ctx, ZMQ_ROUTER, conf->control, "fetcher,parser,writer", 100000, err,
                                   sizeof(err));
    if (!b->router || broker_monitor_open(b, err, sizeof(err)) != 0 ||
        broker_streamers_start(b, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: error: %s\n", PROG, err);
        return BROKER_EXIT_USAGE; /* an endpoint that cannot be bound is configuration */
    }
    if (conf->metrics && *conf->metrics &&
        !(b->metrics = broker_metrics_start(conf->metrics, conf->redis, conf->crawl, conf->metrics_password_file, err,
                                            sizeof(err)))) {
        fprintf(stderr, "%s: error: %s\n", PROG, err);
        return BROKER_EXIT_USAGE; /* the address is taken: configuration */
    }
    broker_security_log(conf); /* the first line, once all is bound: what protects each endpoint */
    int begun = broker_begin(b);
    if (begun != 0) return begun < 0 ? BROKER_EXIT_FAILED : 1;
    if (broker_guard_open(b, args, nargs, err, sizeof(err)) != 0) goto err;
    if (broker_seed(b, conf->start, args, nargs) != 0) return BROKER_EXIT_FAILED;
    long clamped = frontier_clamp_leases(&b->fr, zc_wall_ms() + conf->recover_ms);
    if (clamped < 0) {
        snprintf(err, sizeof(err), "%s", b->fr.err);
        goto err;
    }
    if (clamped > 0) zc_info("recovering", "leases=%ld due_within_ms=%ld", clamped, conf->recover_ms);
    long hosts = frontier_recover_hosts(&b->fr, zc_wall_ms()); /* nobody holds a checked-out host now */
    if (hosts < 0) {
        snprintf(err, sizeof(err), "%s", b->fr.err);
        goto err;
    }
    zc_info("started", "crawl=%s mode=%s control=%s max_per_host=%ld lease_ms=%ld", conf->crawl,
            conf->mode, conf->control, conf->max_per_host, conf->lease_ms);
    return 0;
err:
    fprintf(stderr, "%s: error: %s\n", PROG, err);
    return BROKER_EXIT_FAILED;
}

/* One turn: wait for the ROUTER or the next timer, handle messages, heartbeats,
 * maintenance and dispatch. Returns -1 when polling fails, else 0. */
static int turn(broker *b) {
    int64_t now = zc_now_ms();
    int64_t timeout = b->next_hb - now;
    if (b->next_maint - now < timeout) timeout = b->next_maint - now;
    int64_t rw = dispatch_rate_wait(&b->d, now);
    if (rw >= 0 && rw < timeout) timeout = rw;
    if (timeout < 0) timeout = 0;
    zmq_pollitem_t items[2] = { { b->router, 0, ZMQ_POLLIN, 0 }, { b->monitor, 0, ZMQ_POLLIN, 0 } };
    if (zmq_poll(items, 2, (long)timeout) < 0) {
        if (errno == EINTR) return 0;
        zc_error("poll_failed", "reason=\"%s\"", zmq_strerror(errno));
        return -1;
    }
    now = zc_now_ms();
    /* A turn never waits longer than a heartbeat; much longer means we were not
     * running (SIGSTOP, a starved machine, a Redis call that hung). */
    if (b->last_turn && now - b->last_turn > 2 * b->conf->heartbeat_ms) broker_stalled(b, now, now - b->last_turn);
    b->last_turn = now;
    broker_read_control(b, now);
    /* Leases closed while nothing is left in memory: the crawl may be complete,
     * so look now rather than at the next maintenance tick. */
    if (b->closed_leases && dispatch_nitems(&b->d) == 0) b->next_maint = now;
    b->closed_leases = 0;
    if (now >= b->next_hb) {
        broker_heartbeat(b, now);
        b->next_hb = now + b->conf->heartbeat_ms;
    }
    if (!broker_redis_ok(b, now)) return 0;
    if (now >= b->next_maint) {
        b->next_maint = now + broker_maint_interval(b);
        if (broker_maintain(b, now)) {
            b->done = 1;
            return 0;
        }
    }
    /* While Redis fails nothing new goes out: an outcome could not be recorded. */
    if (!b->redis_bad_since) broker_fill_and_dispatch(b, now);
    return 0;
}

/* Runs the crawl to its end; returns the exit code. */
static int run(broker *b) {
    int64_t now = zc_now_ms();
    b->next_hb = now + b->conf->heartbeat_ms;
    b->next_maint = b->next_stats = now;
    while (!b->done && !b->failed && !zc_signal_stop_requested())
        if (turn(b) != 0) broker_fail(b, "cannot poll the control socket: %s", zmq_strerror(errno));
    if (b->done && !b->failed) {
        broker_shutdown_stages(b);
    } else if (!b->meta_lost) { /* a crawl whose state is gone gets no writes back */
        if (!b->failed) zc_info("stopping", "signal=%d", zc_signal_stop_requested());
        broker_release(b);
    }
    frontier_counts c;
    if (!frontier_broken(&b->fr) && !b->meta_lost && frontier_read_counts(&b->fr, &c) == 0)
        broker_write_stats(b, &c, zc_now_ms(), b->done ? "done" : (b->failed ? "failed" : "stopped"));
    return broker_end(b);
}

static void close_all(broker *b) {
    broker_monitor_close(b);
    if (b->router) zmq_close(b->router);
    broker_streamers_stop(b);
    if (b->ctx) zmq_ctx_term(b->ctx);
    broker_metrics_stop(b->metrics);
    frontier_close(&b->fr);
    broker_guard_close(b);
    dispatch_free(&b->d);
    broker_drop_reports(b);
    zc_buf_free(&b->job_urls);
    zc_buf_free(&b->job_attempts);
}

int main(int argc, char **argv) {
    broker_conf conf = {
        .redis = "redis://127.0.0.1:6379",
        .crawl = "default",
        .start = NULL,
        .mode = "batch",
        .log_level = "info",
        .control = "tcp://*:5555",
        .pages_in = "tcp://*:5556",
        .pages_out = "tcp://*:5557",
        .docs_in = "tcp://*:5558",
        .docs_out = "tcp://*:5559",
        .max_per_host = 8,
        .lease_ms = 30000,
        .max_retries = 5,
        .retry_base_ms = 500,
        .retry_max_ms = 30000,
        .heartbeat_ms = 1000,
        .recover_ms = 10000,
        .stats_ms = 1000,
        .hwm = 10000,
        .rate = 0,
        .linger_ms = 5000,
        .redis_fail_limit_ms = 600000,
        .max_retry_delay_ms = 600000,
        .max_credit = 10000,
        .job_timeout_ms = 120000,
    };
    int npos = parse_conf(&conf, argc, argv);
    zc_log_level lvl;
    if (zc_log_parse_level(conf.log_level, &lvl) != 0) die(2, "bad --log-level '%s'", conf.log_level);
    zc_log_init("broker", lvl);
    zc_rand_seed(0);
    if (zc_signal_install() != 0) die(1, "cannot install signal handlers");

    broker b;
    memset(&b, 0, sizeof(b));
    b.conf = &conf;
    b.batch = !strcmp(conf.mode, "batch");
    b.started_wall = zc_wall_ms();
    int rc = open_all(&b, argv + 1, (size_t)npos);
    if (rc == 0) rc = run(&b);
    else if (rc == 1) rc = broker_linger(&b);
    close_all(&b);
    return rc;
}
