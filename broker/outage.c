/* outage.c -- the broker's Redis-outage state (outage.h). */
#include "outage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "zc_log.h"
#include "zc_time.h"

#define REPORTS_MAX 100000 /* kept while Redis fails; beyond, their leases decide */

/* A report kept while Redis fails, replayed when it takes writes again. */
typedef struct broker_report {
    zc_msg m; /* payload frames only */
    struct broker_report *next;
} broker_report;

void broker_redis_failed(broker *b, const char *what) {
    int64_t now = zc_now_ms();
    if (!b->redis_bad_since) {
        b->redis_bad_since = now;
        b->maint_backoff = 200;
    }
    if (!b->redis_trouble_since) b->redis_trouble_since = now;
    if (frontier_refused(&b->fr) && !b->problem[0]) {
        snprintf(b->problem, sizeof(b->problem), "broker: redis refuses writes: %.200s", b->fr.err);
        b->problem_since = zc_wall_ms();
    }
    /* One line per 5 s: a Redis at maxmemory fails every call, hundreds a second. */
    if (now >= b->redis_log_at) {
        zc_warn("redis_error", "op=%s reason=\"%s\" failing_ms=%lld", what, b->fr.err,
                (long long)(now - b->redis_bad_since));
        b->redis_log_at = now + 5000;
    }
    if (frontier_broken(&b->fr) && b->next_redis_try == 0) {
        b->redis_backoff = 100;
        b->next_redis_try = now + b->redis_backoff;
    }
}

/* Fails the crawl once Redis has been failing longer than the limit. The clock
 * runs from the first failure until a whole maintenance worked: a write that
 * works between failures that come back each time (a hand-edited key of the wrong
 * type) does not restart it. Returns 1 then, else 0. */
static int redis_past_limit(broker *b, int64_t now) {
    if (!b->redis_bad_since || now - b->redis_trouble_since <= b->conf->redis_fail_limit_ms) return 0;
    broker_fail(b, "Redis %s for %lld s (--redis-fail-limit-ms %ld): %s",
                frontier_broken(&b->fr) ? "unreachable" : frontier_refused(&b->fr) ? "refusing writes"
                                                                                   : "failing",
                (long long)((now - b->redis_trouble_since) / 1000), b->conf->redis_fail_limit_ms, b->fr.err);
    return 1;
}

int broker_redis_ok(broker *b, int64_t now) {
    if (redis_past_limit(b, now)) return 0;
    if (!frontier_broken(&b->fr)) return 1;
    if (b->next_redis_try == 0) b->next_redis_try = now;
    if (now < b->next_redis_try) return 0;
    if (frontier_reconnect(&b->fr) == 0) {
        zc_info("redis_reconnected", "host=%s port=%d", b->fr.addr.host, b->fr.addr.port);
        b->next_maint = now; /* check the meta at once: Redis may have come back empty */
        b->next_redis_try = 0;
        b->redis_backoff = 100;
        return 1;
    }
    b->redis_backoff = b->redis_backoff * 2 > 5000 ? 5000 : b->redis_backoff * 2;
    b->next_redis_try = now + b->redis_backoff;
    broker_redis_failed(b, "connect");
    return 0;
}

/* Without the outage's length given back, pages already fetched and waiting
 * downstream would expire and be fetched again. */
int broker_outage_end(broker *b, int64_t now) {
    int64_t lost = now - b->redis_bad_since;
    long n = frontier_shift_leases(&b->fr, lost);
    if (n < 0) {
        broker_redis_failed(b, "shift_leases");
        b->maint_backoff = b->maint_backoff * 2 > 5000 ? 5000 : b->maint_backoff * 2;
        return -1;
    }
    /* The copies held here too, or maintenance would take them for lapsed and
     * forget URLs that fetchers still hold (their DONEs refused, their hosts'
     * slots freed while the fetches run). */
    dispatch_shift_deadlines(&b->d, lost);
    zc_info("redis_recovered", "failing_ms=%lld leases_extended=%ld", (long long)lost, n);
    b->redis_bad_since = 0;
    b->redis_log_at = 0;
    if (!strncmp(b->problem, "broker: redis", 13)) b->problem[0] = '\0';
    return 0;
}

int64_t broker_maint_interval(const broker *b) { return b->redis_bad_since ? b->maint_backoff : 200; }

int broker_flush_count(broker *b, const char *field, long long *v) {
    if (!*v) return 0;
    if (frontier_count(&b->fr, field, *v) < 0) {
        broker_redis_failed(b, "count");
        return -1;
    }
    *v = 0;
    return 0;
}

/* An outcome that could not be recorded would cost a fetch more once its lease
 * runs out: so reports are kept in order while Redis fails. */
int broker_keep_report(broker *b, zc_msg *m) {
    if (b->nreports >= REPORTS_MAX) return 0;
    broker_report *r = calloc(1, sizeof(*r));
    if (!r) return 0;
    r->m.type = m->type;
    for (int i = 0; i < m->nframes; i++) {
        zmq_msg_init(&r->m.frames[i]);
        zmq_msg_move(&r->m.frames[i], &m->frames[i]);
    }
    r->m.nframes = m->nframes;
    if (!b->reports_tail) b->reports_tail = &b->reports;
    *b->reports_tail = r;
    b->reports_tail = &r->next;
    b->nreports++;
    return 1;
}

const zc_msg *broker_kept_report(const broker *b) { return b->reports ? &b->reports->m : NULL; }

void broker_kept_report_done(broker *b) {
    broker_report *r = b->reports;
    if (!r) return;
    b->reports = r->next;
    if (!b->reports) b->reports_tail = &b->reports;
    b->nreports--;
    zc_msg_close(&r->m);
    free(r);
}

void broker_drop_reports(broker *b) {
    while (b->reports) {
        broker_report *r = b->reports;
        b->reports = r->next;
        zc_msg_close(&r->m);
        free(r);
    }
    b->reports_tail = &b->reports;
    b->nreports = 0;
}
