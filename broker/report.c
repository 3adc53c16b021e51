/* report.c -- the reports that close leases: DONE (fetchers), DISCOVERED
 * (parsers), WRITTEN (writers), DEAD (parsers, writers), as they arrive or
 * replayed after a Redis outage. Only URLs a report's sender may report count:
 * a DONE only for URLs out at that fetcher; the Lua scripts that close leases
 * ignore URLs that are not leased. Refusals go through guard_refuse.c. */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "guard_refuse.h"
#include "guard_robots.h"
#include "guard_scope.h"
#include "outage.h"
#include "peer_io.h"
#include "zc_log.h"
#include "zc_time.h"

/* Frees the fetch slot url held at peer. Returns 1, or 0 when url is not out at
 * that fetcher (another one's, requeued after its fetcher expired, or a broker
 * restart): the answer is then not this peer's to give. */
static int release_slot(broker *b, int peer, const char *url, int throttled) {
    dispatch_item *it = dispatch_find(&b->d, url);
    if (!it || it->peer < 0 || it->peer != peer) return 0;
    dispatch_answered(&b->d, it, throttled);
    dispatch_drop(&b->d, it);
    return 1;
}

/* Notes that its host was told to wait (Retry-After), so the stats hash can say
 * until when and why: a wait nobody names looks like a stalled crawl. Never fails. */
static void note_wait(broker *b, const dispatch_item *it, int status, int64_t retry_after_ms) {
    const dispatch_host *h = it->host >= 0 && (size_t)it->host < b->d.nhosts ? &b->d.hosts[it->host] : NULL;
    if (!h || retry_after_ms <= 0 || h->backoff_wall <= zc_wall_ms()) return;
    broker_wait *w = NULL, *soonest = &b->waits[0];
    for (int i = 0; i < BROKER_WAITS_MAX && !w; i++) {
        broker_wait *x = &b->waits[i];
        if (!strcmp(x->host, h->key) || x->until_wall <= zc_wall_ms()) w = x;
        else if (x->until_wall < soonest->until_wall) soonest = x;
    }
    if (!w) w = soonest;
    snprintf(w->host, sizeof(w->host), "%s", h->key);
    w->until_wall = h->backoff_wall;
    w->status = status;
    w->retry_after_ms = retry_after_ms;
}

/* Returns -1 when Redis failed (the outcome is not recorded), else 0. */
static int on_done_retry(broker *b, const char *url, uint64_t status, uint64_t retry_after, const char *reason) {
    const broker_conf *c = b->conf;
    /* A site's Retry-After: 100000 must not park a URL for a day. */
    int64_t cap = c->max_retry_delay_ms;
    int64_t after = retry_after > (uint64_t)cap ? cap : (int64_t)retry_after;
    int64_t max = c->retry_max_ms > cap ? cap : c->retry_max_ms;
    int rc = frontier_retry(&b->fr, url, after, c->retry_base_ms < max ? c->retry_base_ms : max, max,
                            (int)c->max_retries, reason, zc_wall_ms());
    char qu[ZC_LOG_QURL], qr[ZC_LOG_QREASON];
    if (rc == -2)
        zc_warn("dead_letter", "url=%s stage=fetch reason=%s", zc_log_q(qu, sizeof(qu), url),
                zc_log_q(qr, sizeof(qr), reason));
    else if (rc < 0) broker_redis_failed(b, "retry");
    else
        zc_debug("retry", "url=%s attempt=%d status=%llu reason=%s", zc_log_q(qu, sizeof(qu), url), rc,
                 (unsigned long long)status, zc_log_q(qr, sizeof(qr), reason));
    return rc == -1 ? -1 : 0;
}

/* DONE redirect: the fetcher stopped at a redirect to another origin (target).
 * Like a DISCOVERED of one URL: a target out of scope is dropped and counted,
 * one in scope queued unless seen; the lease closes either way. Returns -1 when
 * Redis failed. */
static int on_done_redirect(broker *b, int peer, const char *url, const char *target) {
    int in = target && broker_guard_in_scope(b, target);
    int r = frontier_redirect(&b->fr, url, in ? target : NULL);
    if (r == -2) broker_guard_refuse(b, GUARD_NOT_LEASED, "DONE", peer, url);
    else if (r < 0) {
        broker_redis_failed(b, "redirect");
        return -1;
    } else {
        if (!in) broker_guard_out_of_scope(b, 1);
        char qu[ZC_LOG_QURL];
        zc_info("redirected", "url=%s target_in_scope=%d queued=%d", zc_log_q(qu, sizeof(qu), url), in, r);
    }
    return 0;
}

/* Records one URL's outcome other than ok. Returns -1 when Redis failed. */
static int record_outcome(broker *b, int peer, const char *url, const char *outcome, uint64_t status,
                          uint64_t retry_after, const char *reason, const zc_msg *m) {
    int64_t wall = zc_wall_ms();
    if (!strcmp(outcome, "retry")) return on_done_retry(b, url, status, retry_after, reason);
    if (!strcmp(outcome, "robots_txt")) { /* a link to /robots.txt: no page, its lease closes */
        if (frontier_exclude(&b->fr, url, "robots_txt") < 0) {
            broker_redis_failed(b, "exclude");
            return -1;
        }
        return 0;
    }
    if (!strcmp(outcome, "redirect")) {
        char *target = broker_frame_dup(m, 4); /* the whole target, longer than reason may hold */
        int rc = on_done_redirect(b, peer, url, target);
        free(target);
        return rc;
    }
    if (!strcmp(outcome, "fail") && (status == 404 || status == 410)) {
        if (frontier_gone(&b->fr, url, (int)status, wall) < 0) {
            broker_redis_failed(b, "gone");
            return -1;
        }
        char qu[ZC_LOG_QURL];
        zc_debug("gone", "url=%s status=%llu", zc_log_q(qu, sizeof(qu), url), (unsigned long long)status);
    } else if (!strcmp(outcome, "fail")) {
        if (frontier_dead(&b->fr, url, "fetch", reason, wall) < 0) {
            broker_redis_failed(b, "dead");
            return -1;
        }
        char qu[ZC_LOG_QURL], qr[ZC_LOG_QREASON];
        zc_warn("dead_letter", "url=%s stage=fetch status=%llu reason=%s", zc_log_q(qu, sizeof(qu), url),
                (unsigned long long)status, zc_log_q(qr, sizeof(qr), reason));
    }
    return 0;
}

/* What on_done does with a DONE: free the slots and record (as it arrives), only
 * free the slots (it arrives while Redis fails), or only record (replayed). */
enum { DONE_LIVE,
       DONE_RELEASE,
       DONE_REPLAY };

/* DONE: one URL, or several separated by '\n' that share the outcome (fetchers
 * batch their ok answers). Only URLs out at this fetcher count; released (may
 * be NULL) gets them, so that what is kept for a replay holds nothing else.
 * Returns -1 when an outcome could not be recorded (Redis failed), else 0. */
static int on_done(broker *b, int peer, const zc_msg *m, int mode, zc_buf *released) {
    char outcome[16], reason[256];
    uint64_t status, retry_after;
    char *urls = broker_frame_dup(m, 0);
    if (!urls || zc_msg_str(m, 1, outcome, sizeof(outcome)) != 0 || zc_msg_u64(m, 2, &status) != 0 ||
        zc_msg_u64(m, 3, &retry_after) != 0) {
        free(urls);
        if (mode != DONE_REPLAY) broker_bad_message(b, "DONE with bad fields");
        return 0;
    }
    if (!broker_guard_admitted(b, peer, ZC_MSG_DONE)) {
        free(urls);
        return 0;
    }
    if (zc_msg_str(m, 4, reason, sizeof(reason)) != 0) snprintf(reason, sizeof(reason), "(unreadable)");
    int ok = !strcmp(outcome, "ok"), failed = 0;
    size_t blen;
    const char *body = zc_msg_data(m, 4, &blen);
    char *save = NULL;
    for (char *u = strtok_r(urls, "\n", &save); u; u = strtok_r(NULL, "\n", &save)) {
        if (mode != DONE_REPLAY && (status == 429 || status == 503)) { /* the host's back-off, kept across restarts */
            dispatch_item *held = dispatch_find(&b->d, u);
            if (held && held->peer == peer) {
                dispatch_backoff(&b->d, held, zc_now_ms(), zc_wall_ms(), (int64_t)retry_after);
                note_wait(b, held, (int)status, (int64_t)retry_after);
            }
        }
        if (mode != DONE_REPLAY && !release_slot(b, peer, u, status == 429 || status == 503)) {
            /* Not out at this fetcher: another's, or requeued (its lease decides). */
            broker_guard_refuse(b, GUARD_NOT_HELD, "DONE", peer, u);
            continue;
        }
        /* The broker's own robots.txt request: no lease, nothing to replay. */
        if (mode != DONE_REPLAY && broker_guard_robots_done(b, u, outcome, status, body, blen)) continue;
        if (released && zc_buf_add(released, u, strlen(u), '\n') != 0 && mode == DONE_RELEASE)
            continue;                   /* not kept for replay: its lease decides */
        if (ok) b->fetched_unflushed++; /* counted in memory, written at maintenance */
        else if (mode != DONE_RELEASE && !failed &&
                 record_outcome(b, peer, u, outcome, status, retry_after, reason, m) < 0)
            failed = 1;
    }
    free(urls);
    /* The slots are free again either way; an unknown outcome leaves the leases to expire. */
    if (!ok && strcmp(outcome, "retry") && strcmp(outcome, "fail") && strcmp(outcome, "redirect") &&
        strcmp(outcome, "robots_txt") && mode != DONE_REPLAY)
        broker_bad_message(b, "DONE with unknown outcome");
    return failed ? -1 : 0;
}

/* A writer's DISCOVERED closes a page whose documents it wrote: it must carry the
 * page's proof of lease (the DOC's, fourth frame), or a writer's key alone could
 * close any page's lease and queue what it likes. Returns 1 when m may be taken,
 * else 0 (refused and counted). Without the crawl secret every one is taken:
 * nothing tells a writer from a forger then (docs/PROTOCOL.md). */
static int discovered_proven(broker *b, int peer, const zc_msg *m) {
    dispatch_peer *p = peer == BROKER_PEER_REPLAY ? NULL : dispatch_peer_at(&b->d, peer);
    if (!b->proof.on || !p || p->role != DISPATCH_WRITER) return 1;
    size_t ulen, plen;
    const char *url = zc_msg_data(m, 0, &ulen), *proof = zc_msg_data(m, 3, &plen);
    if (zc_proof_check(&b->proof, url, ulen, proof, plen) == ZC_PROOF_OK) return 1;
    char detail[160];
    snprintf(detail, sizeof(detail), "%.*s", (int)(ulen < 150 ? ulen : 150), url);
    broker_guard_refuse(b, GUARD_UNPROVEN, "DISCOVERED", peer, detail);
    return 0;
}

/* Returns -1 when Redis failed, else 0 (for this and the next two handlers). */
static int on_discovered(broker *b, int peer, const zc_msg *m) {
    char *parent = broker_frame_dup(m, 0), *list = broker_frame_dup(m, 1);
    long added = 0;
    if (!parent || !list) {
        broker_bad_message(b, "DISCOVERED with a NUL byte");
        goto out;
    }
    if (!broker_guard_admitted(b, peer, ZC_MSG_DISCOVERED)) goto out;
    if (!discovered_proven(b, peer, m)) goto out;
    char **urls;
    size_t n = broker_split_urls(list, &urls), bad = 0, in = 0;
    if (!urls) { /* the page's lease stays open: fetched again when it runs out, nothing lost */
        char qp[ZC_LOG_QURL];
        zc_warn("out_of_memory", "what=DISCOVERED parent=%s effect=\"its lease stays open\"",
                zc_log_q(qp, sizeof(qp), parent));
        goto out;
    }
    for (size_t i = 0; i < n; i++) /* only URLs in scope go on */
        if (broker_guard_in_scope(b, urls[i])) urls[in++] = urls[i];
    added = frontier_discover(&b->fr, parent, urls, in, zc_wall_ms(), &bad);
    free(urls);
    if (added == -2) {
        broker_guard_refuse(b, GUARD_NOT_LEASED, "DISCOVERED", peer, parent);
        added = 0;
    } else if (added < 0) {
        broker_redis_failed(b, "discover");
    } else {
        /* A writer's: the page's documents are written; they count as written. */
        uint64_t docs = 0;
        if (m->nframes >= 3 && zc_msg_u64(m, 2, &docs) == 0 && docs > 0 &&
            frontier_count(&b->fr, "written", (long long)(docs < 1000000 ? docs : 1000000)) != 0)
            broker_redis_failed(b, "discover");
        char qp[ZC_LOG_QURL];
        zc_debug("discovered", "parent=%s urls=%zu new=%ld bad=%zu out_of_scope=%zu", zc_log_q(qp, sizeof(qp), parent),
                 n, added, bad, n - in);
        if (n > in) broker_guard_out_of_scope(b, (long)(n - in));
    }
    if (bad) {
        char qp[ZC_LOG_QURL];
        zc_warn("bad_urls", "parent=%s count=%zu", zc_log_q(qp, sizeof(qp), parent), bad);
    }
out:
    free(parent);
    free(list);
    return added < 0 ? -1 : 0;
}

static int on_written(broker *b, int peer, const zc_msg *m) {
    char *list = broker_frame_dup(m, 0);
    if (!list) {
        broker_bad_message(b, "WRITTEN with a NUL byte");
        return 0;
    }
    if (!broker_guard_admitted(b, peer, ZC_MSG_WRITTEN)) {
        free(list);
        return 0;
    }
    char **urls;
    size_t n = broker_split_urls(list, &urls);
    if (!urls) zc_warn("out_of_memory", "what=WRITTEN effect=\"its leases run out; the pages are fetched again\"");
    long rc = frontier_written(&b->fr, urls, n);
    if (rc < 0) broker_redis_failed(b, "written");
    else if ((size_t)rc < n) /* written twice (a redelivery) or never leased */
        for (size_t i = 0; i < n - (size_t)rc; i++)
            broker_guard_refuse(b, GUARD_NOT_LEASED, "WRITTEN", peer, n == 1 ? urls[0] : "(some of a batch)");
    free(urls);
    free(list);
    return rc < 0 ? -1 : 0;
}

static int on_dead(broker *b, int peer, const zc_msg *m) {
    char *url = broker_frame_dup(m, 0), *stage = broker_frame_dup(m, 1), *reason = broker_frame_dup(m, 2);
    int rc = 0, r = 0;
    if (!url || !stage || !reason || strlen(stage) > 32) {
        broker_bad_message(b, "DEAD with bad fields");
    } else if (!broker_guard_admitted(b, peer, ZC_MSG_DEAD)) {
        /* refused */
    } else if (!strcmp(stage, "gone")) {
        /* The parser read the page and it says its item is gone (a null body, a
         * spec's gone_if): recorded as gone with the status it came with, not dead. */
        if ((r = frontier_gone(&b->fr, url, 200, zc_wall_ms())) < 0) {
            broker_redis_failed(b, "gone");
            rc = -1;
        } else if (r == 0) {
            broker_guard_refuse(b, GUARD_NOT_LEASED, "DEAD", peer, url);
        } else {
            zc_debug("gone", "url=%s status=200 reason=\"%.200s\"", url, reason);
        }
    } else if ((r = frontier_dead(&b->fr, url, stage, reason, zc_wall_ms())) < 0) {
        broker_redis_failed(b, "dead");
        rc = -1;
    } else if (r == 0) {
        broker_guard_refuse(b, GUARD_NOT_LEASED, "DEAD", peer, url);
    } else {
        char qu[ZC_LOG_QURL], qs[140], qr[ZC_LOG_QREASON];
        zc_warn("dead_letter", "url=%s stage=%s reason=%s", zc_log_q(qu, sizeof(qu), url), zc_log_q(qs, sizeof(qs), stage),
                zc_log_q(qr, sizeof(qr), reason));
    }
    free(url);
    free(stage);
    free(reason);
    return rc;
}

/* Records a report from peer (BROKER_PEER_REPLAY: kept, admitted when it came).
 * Returns -1 when Redis failed, else 0. */
static int handle_report(broker *b, int peer, const zc_msg *m) {
    b->closed_leases = 1;
    switch (m->type) {
    case ZC_MSG_DONE: return on_done(b, peer, m, peer == BROKER_PEER_REPLAY ? DONE_REPLAY : DONE_LIVE, NULL);
    case ZC_MSG_DISCOVERED: return on_discovered(b, peer, m);
    case ZC_MSG_WRITTEN: return on_written(b, peer, m);
    case ZC_MSG_DEAD: return on_dead(b, peer, m);
    default: return 0;
    }
}

/* A report whose replay failed this often while Redis was up and taking writes
 * (WRONGTYPE on a hand-edited key, a redirect target that has no canonical form)
 * can never be recorded: retrying it would hold every report behind it, and the
 * outage would start again each time. */
#define REPLAY_TRIES 3

/* Makes each URL of a report that cannot be recorded a dead letter with the
 * error; a URL whose dead letter cannot be written either is left to its lease
 * (logged). Never fails. */
static void report_dead(broker *b, const zc_msg *m) {
    char reason[400], why[300];
    snprintf(why, sizeof(why), "%.290s", b->fr.err);
    snprintf(reason, sizeof(reason), "the broker could not record %s %d times: %s", zc_msg_type_name(m->type),
             REPLAY_TRIES, why);
    char *list = broker_frame_dup(m, 0), *save = NULL;
    for (char *u = list ? strtok_r(list, "\n", &save) : NULL; u; u = strtok_r(NULL, "\n", &save)) {
        int r = frontier_dead(&b->fr, u, "broker", reason, zc_wall_ms());
        if (r < 0) zc_error("report_dropped", "url=%s reason=\"%s\" dead_letter_failed=\"%s\"", u, why, b->fr.err);
        else zc_warn("dead_letter", "url=%s stage=broker reason=\"%s\"", u, reason);
    }
    free(list);
}

void broker_replay_reports(broker *b) {
    size_t n = 0;
    const zc_msg *m;
    while ((m = broker_kept_report(b)) != NULL && !b->redis_bad_since) {
        if (handle_report(b, BROKER_PEER_REPLAY, m) < 0) {
            /* Redis away or refusing writes again: kept for the next try. */
            if (frontier_broken(&b->fr) || frontier_refused(&b->fr) || ++b->replay_fails < REPLAY_TRIES) break;
            /* Redis is up and this report alone fails: not an outage. */
            b->redis_bad_since = 0;
            report_dead(b, m);
        }
        b->replay_fails = 0;
        broker_kept_report_done(b);
        n++;
    }
    if (n) zc_info("reports_replayed", "count=%zu kept=%zu", n, b->nreports);
}

/* Keeps a DONE for replay cut to the URLs that were out at its fetcher (a replay
 * checks no slots). Returns 1 if kept, 0 if not (nothing to record, memory). */
static int keep_done(broker *b, zc_msg *m, const zc_buf *released) {
    char outcome[16];
    if (released->len == 0 || zc_msg_str(m, 1, outcome, sizeof(outcome)) != 0 || !strcmp(outcome, "ok")) return 0;
    zmq_msg_close(&m->frames[0]);
    if (zmq_msg_init_size(&m->frames[0], released->len) != 0) {
        zmq_msg_init(&m->frames[0]);
        return 0;
    }
    memcpy(zmq_msg_data(&m->frames[0]), released->p, released->len);
    return broker_keep_report(b, m);
}

/* A report that arrives while Redis fails: a DONE frees its fetch slots now; what
 * needs recording is kept for replay, or dropped when it cannot be (its lease
 * will expire and the URL come back, which loses nothing). Only what its sender
 * may report is kept. */
void broker_report_while_failing(broker *b, int peer, zc_msg *m) {
    if (!broker_guard_admitted(b, peer, m->type)) return;
    if (m->type == ZC_MSG_DISCOVERED && !discovered_proven(b, peer, m)) return;
    int kept;
    if (m->type == ZC_MSG_DONE) {
        zc_buf released = { 0 };
        on_done(b, peer, m, DONE_RELEASE, &released);
        kept = keep_done(b, m, &released) || released.len == 0;
        zc_buf_free(&released);
    } else {
        kept = broker_keep_report(b, m);
    }
    if (!kept) zc_debug("report_dropped", "type=%s reason=redis_failing", zc_msg_type_name(m->type));
}

void broker_on_report(broker *b, int peer, zc_msg *m) {
    if (m->type == ZC_MSG_DONE) {
        zc_buf released = { 0 };
        b->closed_leases = 1;
        if (on_done(b, peer, m, DONE_LIVE, &released) < 0 && !keep_done(b, m, &released))
            zc_debug("report_dropped", "type=DONE reason=redis_failed");
        zc_buf_free(&released);
        return;
    }
    if (handle_report(b, peer, m) < 0 && !broker_keep_report(b, m))
        zc_debug("report_dropped", "type=%s reason=redis_failed", zc_msg_type_name(m->type));
}
