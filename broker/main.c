/* main.c -- zcrawl-broker: flags (conf.c), then open, the turn and close, on top
 * of the layers broker.h draws. The broker owns the crawl's state in Redis, hands
 * URLs to fetchers under credit-based flow control and per-host caps, closes
 * leases when outcomes are durable, runs the two streamer devices, and ends a
 * batch crawl. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "broker.h"
#include "conf.h"
#include "control.h"
#include "counts.h"
#include "crawl.h"
#include "guard.h"
#include "jobs.h"
#include "liveness.h"
#include "maintain.h"
#include "outage.h"
#include "peer_io.h"
#include "report.h"
#include "streamer.h"
#include "security_line.h"
#include "zc_curve.h"
#include "zc_log.h"
#include "zc_signal.h"
#include "zc_time.h"

/* Prints the one-line error and returns the exit code of a configuration the
 * broker cannot serve with (keys, endpoints, the /metrics address). */
static int usage_error(const char *err) {
    fprintf(stderr, "%s: error: %s\n", BROKER_PROG, err);
    return BROKER_EXIT_USAGE;
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
    if (zc_curve_setup("broker", eps, err, sizeof(err)) != 0) return usage_error(err); /* secure or explicit */
    char secret_path[4096];                                                            /* --secret-file, or crawl.secret beside --keys */
    if (zc_proof_load(&b->proof, zc_proof_secret_path(zc_proof_opt_secret_file, zc_curve_opt_keys, secret_path, sizeof(secret_path)), err, sizeof(err)) != 0) return usage_error(err);
    if (!(b->ctx = zmq_ctx_new())) {
        snprintf(err, sizeof(err), "zmq_ctx_new: %s", zmq_strerror(errno));
        goto err;
    }
    b->router = broker_bind_socket(b->ctx, ZMQ_ROUTER, conf->control, "fetcher,parser,writer", 100000, err,
                                   sizeof(err));
    if (!b->router || broker_monitor_open(b, err, sizeof(err)) != 0 ||
        broker_streamers_start(b, err, sizeof(err)) != 0)
        return usage_error(err); /* an endpoint that cannot be bound */
    if (conf->metrics && *conf->metrics &&
        !(b->metrics = broker_metrics_start(conf->metrics, conf->redis, conf->crawl, conf->metrics_password_file, err,
                                            sizeof(err))))
        return usage_error(err);            /* the address is taken */
    broker_security_log(conf, b->proof.on); /* the first line, once all is bound: what protects each endpoint */
    int begun = broker_begin(b);
    if (begun != 0) return begun == -2 ? BROKER_EXIT_USAGE : begun < 0 ? BROKER_EXIT_FAILED
                                                                       : 1;
    if (broker_guard_open(b, args, nargs, err, sizeof(err)) != 0) goto err;
    if (broker_seed(b, conf->start, args, nargs) != 0) return BROKER_EXIT_FAILED;
    if (broker_take_over(b) != 0) return BROKER_EXIT_FAILED;
    zc_info("started", "crawl=%s mode=%s control=%s max_per_host=%ld lease_ms=%ld", conf->crawl,
            conf->mode, conf->control, conf->max_per_host, conf->lease_ms);
    return 0;
err:
    fprintf(stderr, "%s: error: %s\n", BROKER_PROG, err);
    return BROKER_EXIT_FAILED;
}

/* Maintenance, in this order: the meta first, before any write (a Redis that
 * came back empty is not crawled on as if it held this crawl); then the end of a
 * Redis outage and the replay of the reports kept during it; then the periodic
 * work. Returns 1 when a batch crawl is complete, else 0. */
static int maintenance(broker *b, int64_t now) {
    if (broker_check_meta(b) != 0 || frontier_broken(&b->fr)) return 0;
    if (b->redis_bad_since) {
        if (broker_outage_end(b, now) != 0) return 0;
        broker_replay_reports(b);
    }
    int done = broker_maintain(b, now);
    if (!b->redis_bad_since) b->redis_trouble_since = 0; /* a whole maintenance worked */
    return done;
}

/* One turn: wait for the ROUTER or the next timer, handle messages, heartbeats,
 * maintenance and dispatch. Returns -1 when polling fails, else 0. */
static int turn(broker *b) {
    int64_t now = zc_now_ms();
    int64_t timeout = b->next_hb - now;
    /* Redis unreachable: nothing but the reconnect is due (maintenance waits for
     * it, and nothing goes out), so the turn sleeps until then instead of spinning
     * on a maintenance that stays due. */
    int64_t maint = frontier_broken(&b->fr) && b->next_redis_try ? b->next_redis_try : b->next_maint;
    if (maint - now < timeout) timeout = maint - now;
    int64_t rw = b->redis_bad_since ? -1 : dispatch_rate_wait(&b->d, now); /* nothing is dispatched meanwhile */
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
        if (maintenance(b, now)) {
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
    broker_counts_free(b);
    zc_buf_free(&b->job_urls);
    zc_buf_free(&b->job_attempts);
    zc_buf_free(&b->job_proofs);
    sodium_memzero(&b->proof, sizeof(b->proof));
}

int main(int argc, char **argv) {
    broker_conf conf;
    int npos = broker_conf_parse(&conf, argc, argv);
    zc_log_level lvl;
    if (zc_log_parse_level(conf.log_level, &lvl) != 0) zc_die(2, BROKER_PROG, "bad --log-level '%s'", conf.log_level);
    zc_log_init("broker", lvl);
    zc_rand_seed(0);
    if (zc_signal_install() != 0) zc_die(1, BROKER_PROG, "cannot install signal handlers");

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
