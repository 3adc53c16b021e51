/* crawl.c -- a crawl's start, meta and end: start URLs checked before anything
 * starts and seeded in one call; the meta hash (state, run_id, times, reason,
 * written) that says whether a crawl is running, complete, stopped or failed; and
 * the end of a run, whose summary and exit code count this run only. */
#include "crawl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "frontier_meta.h"
#include "outage.h"
#include "peer_io.h"
#include "zc_log.h"
#include "zc_signal.h"
#include "zc_time.h"
#include "zc_url.h"

int broker_check_start(const char *url) {
    char why[128];
    if (zc_url_check(url, strlen(url), why, sizeof(why)) != 0) {
        fprintf(stderr, "%s: error: bad start URL '%s': %s\n", BROKER_PROG, url, why);
        return -1;
    }
    return 0;
}

int broker_seed(broker *b, const char *start, char *const *args, size_t nargs) {
    int has_start = start && *start;
    size_t n = nargs + (has_start ? 1 : 0);
    if (n == 0) return 0;
    char **urls = malloc(n * sizeof(*urls));
    if (!urls) {
        fprintf(stderr, "%s: error: out of memory\n", BROKER_PROG);
        return -1;
    }
    if (has_start) urls[0] = (char *)start;
    memcpy(urls + (has_start ? 1 : 0), args, nargs * sizeof(*urls));
    long added = frontier_discover(&b->fr, NULL, urls, n, zc_wall_ms(), NULL);
    if (added < 0) fprintf(stderr, "%s: error: cannot seed: %s\n", BROKER_PROG, b->fr.err);
    else if (n == 1) {
        char qu[ZC_LOG_QURL];
        zc_info("seeded", "crawl=%s url=%s new=%ld", b->fr.crawl, zc_log_q(qu, sizeof(qu), urls[0]), added);
    } else zc_info("seeded", "crawl=%s urls=%zu new=%ld", b->fr.crawl, n, added);
    free(urls);
    return added < 0 ? -1 : 0;
}

/* Nobody holds the leases and checked-out hosts of an earlier broker any more. */
int broker_take_over(broker *b) {
    long clamped = frontier_clamp_leases(&b->fr, zc_wall_ms() + b->conf->recover_ms);
    if (clamped > 0) zc_info("recovering", "leases=%ld due_within_ms=%ld", clamped, b->conf->recover_ms);
    if (clamped < 0 || frontier_recover_hosts(&b->fr, zc_wall_ms()) < 0) {
        fprintf(stderr, "%s: error: %s\n", BROKER_PROG, b->fr.err);
        return -1;
    }
    return 0;
}

int broker_begin(broker *b) {
    const char *crawl = b->conf->crawl;
    snprintf(b->run_id, sizeof(b->run_id), "%016llx", (unsigned long long)zc_rand());
    if (b->conf->fresh) {
        long n = frontier_clear(&b->fr);
        if (n < 0) goto redis_err;
        zc_info("fresh", "crawl=%s keys_deleted=%ld", crawl, n);
    }
    frontier_meta prev;
    if (frontier_begin(&b->fr, b->run_id, b->conf->identity, zc_wall_ms(), &prev) != 0) goto redis_err;
    if (!strcmp(prev.state, "identity")) {
        fprintf(stderr, "%s: error: crawl %s is another crawl (%s), not this one (%s): give this one its own --crawl "
                        "NAME (or --state DIR), or --fresh to start over in its place\n",
                BROKER_PROG, crawl, prev.identity, b->conf->identity);
        return -2;
    }
    if (!strcmp(prev.state, "lost")) {
        fprintf(stderr, "%s: error: crawl %s has URLs in Redis but no meta: its state was lost (Redis restarted "
                        "empty?) or written by an older zcrawl; --fresh starts it over\n",
                BROKER_PROG, crawl);
        return -1;
    }
    if (!strcmp(prev.state, "url_form")) {
        fprintf(stderr, "%s: error: crawl %s was begun by a zcrawl whose URL fingerprints differ (canonical form %lld, "
                        "this one %d): its seen set cannot be read; --fresh starts it over\n",
                BROKER_PROG, crawl,
                prev.url_form, ZC_URL_FORM);
        return -1;
    }
    if (!strcmp(prev.state, "complete")) {
        char when[32];
        printf("crawl %s already complete at %s, %lld documents", crawl,
               zc_time_utc(prev.ended_at, ZC_TIME_ISO, "an unknown time", when, sizeof(when)), prev.written);
        if (prev.dead > 0) printf(", %lld dead letters (LRANGE zcrawl:{%s}:dead 0 -1)", prev.dead, crawl);
        printf("; --fresh starts it over\n");
        fflush(stdout);
        b->dead_before = prev.dead;
        return 1;
    }
    if (frontier_read_counts(&b->fr, &b->at_start) != 0) goto redis_err;
    zc_info("run_started", "crawl=%s run_id=%s was=%s", crawl, b->run_id, prev.state);
    return 0;
redis_err:
    fprintf(stderr, "%s: error: %s\n", BROKER_PROG, b->fr.err);
    return -1;
}

int broker_check_meta(broker *b) {
    char other[32];
    int rc = frontier_run_check(&b->fr, b->run_id, other, sizeof(other));
    if (rc < 0) {
        broker_redis_failed(b, "meta");
        return 0;
    }
    if (rc == 0) {
        b->meta_lost = 1;
        broker_fail(b, "crawl %s lost its state in Redis (meta gone: Redis restarted empty or its keys were "
                       "deleted); what was done cannot be told; --fresh starts it over",
                    b->conf->crawl);
        return -1;
    }
    if (rc == 2) {
        broker_fail(b, "crawl %s was taken over by another broker (run_id %s, ours %s)", b->conf->crawl, other,
                    b->run_id);
        return -1;
    }
    return 0;
}

/* This run's share of a counter. */
#define RUN(c, f) ((c)->f - b->at_start.f)

static int end_complete(broker *b, const frontier_counts *c, double secs) {
    char reason[200] = "";
    if (c->dead > 0)
        snprintf(reason, sizeof(reason), "%lld dead letters in zcrawl:{%s}:dead", c->dead, b->conf->crawl);
    if (frontier_end(&b->fr, b->run_id, "complete", reason, zc_wall_ms(), c->written) < 0)
        broker_redis_failed(b, "meta");
    zc_info("crawl_complete", "crawl=%s run_id=%s fetched=%lld written=%lld parsed=%lld retried=%lld dead=%lld "
                              "gone=%lld expired=%lld total_written=%lld secs=%.1f",
            b->conf->crawl, b->run_id, RUN(c, fetched),
            RUN(c, written), RUN(c, parsed), RUN(c, retried), RUN(c, dead), RUN(c, gone), RUN(c, expired),
            c->written, secs);
    printf("crawl %s complete in %.1f s: %lld documents written this run (%lld in total), %lld pages "
           "fetched, %lld gone, %lld dead letters",
           b->conf->crawl, secs, RUN(c, written), c->written,
           RUN(c, fetched), RUN(c, gone), RUN(c, dead));
    if (c->dead > 0) printf(" (%lld in total: LRANGE zcrawl:{%s}:dead 0 -1)", c->dead, b->conf->crawl);
    printf("\n");
    return c->dead > 0 ? BROKER_EXIT_DEAD_LETTERS : BROKER_EXIT_COMPLETE;
}

int broker_end(broker *b) {
    frontier_counts c;
    int have = !frontier_broken(&b->fr) && !b->meta_lost && frontier_read_counts(&b->fr, &c) == 0;
    double secs = (double)(zc_wall_ms() - b->started_wall) / 1000.0;
    const char *crawl = b->conf->crawl;
    if (b->done && !b->failed && have) return end_complete(b, &c, secs);
    if (b->failed || b->done) { /* done without counts: Redis went away at the very end */
        if (!b->failed) broker_fail(b, "Redis went away as crawl %s ended", crawl);
        if (have && frontier_end(&b->fr, b->run_id, "failed", b->fail_reason, zc_wall_ms(), c.written) < 0)
            broker_redis_failed(b, "meta");
        fprintf(stderr, "%s: error: %s; the same command resumes it once the cause is fixed\n", BROKER_PROG,
                b->fail_reason);
        return BROKER_EXIT_FAILED;
    }
    char reason[64];
    snprintf(reason, sizeof(reason), "stopped by signal %d", zc_signal_stop_requested());
    if (have && frontier_end(&b->fr, b->run_id, "stopped", reason, zc_wall_ms(), c.written) < 0)
        broker_redis_failed(b, "meta");
    if (have)
        printf("crawl %s stopped (%s) after %.1f s: %lld documents written this run (%lld in total), %lld "
               "queued; the same command resumes it\n",
               crawl, reason, secs, RUN(&c, written), c.written,
               c.queued + c.delayed + c.leased);
    else
        printf("crawl %s stopped (%s) after %.1f s; Redis unreachable, meta not updated; the same command "
               "resumes it\n",
               crawl, reason, secs);
    return BROKER_EXIT_STOPPED;
}

/* The crawl was complete before we started: every stage that speaks within
 * --linger-ms gets SHUTDOWN, so stages started with us exit 0 at once instead of
 * waiting for a broker in reconnect backoff. */
int broker_linger(broker *b) {
    int64_t end = zc_now_ms() + b->conf->linger_ms;
    char err[256];
    b->done = 1;
    while (zc_now_ms() < end && !zc_signal_stop_requested()) {
        zmq_pollitem_t items[1] = { { b->router, 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll(items, 1, 100) < 0 && errno != EINTR) break;
        zc_msg m;
        int r;
        while ((r = zc_msg_recv(b->router, &m, ZMQ_DONTWAIT, 1, err, sizeof(err))) != -1) {
            if (r == -2) continue;
            int peer = dispatch_peer_get(&b->d, zmq_msg_data(&m.identity), zmq_msg_size(&m.identity), 1);
            broker_send(b, peer, ZC_MSG_SHUTDOWN, NULL, 0);
            zc_msg_close(&m);
        }
    }
    /* The crawl's own outcome: complete, with its dead letters or without. */
    return b->dead_before > 0 ? BROKER_EXIT_DEAD_LETTERS : BROKER_EXIT_COMPLETE;
}
