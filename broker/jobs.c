/* jobs.c -- the broker's hand-out: leases URLs from the frontier as the fetchers'
 * credit allows (credit-based flow control, zguide), parks them per host, and
 * sends each fetcher one JOB per round with every URL dispatch gave it. */
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard_robots.h"
#include "outage.h"
#include "peer_io.h"
#include "zc_time.h"

#define LEASE_BATCH 512
#define JOB_BATCH   256 /* URLs per JOB message at most */

/* The proof of lease of it (zc_proof.h) into out, "" when the crawl secret is off.
 * Returns its length. */
static size_t item_proof(const broker *b, const dispatch_item *it, char out[ZC_PROOF_MAX]) {
    out[0] = '\0';
    if (!b->proof.on) return 0;
    return zc_proof_make(&b->proof, it->url, strlen(it->url), (unsigned)(it->attempt < 0 ? 0 : it->attempt), out);
}

/* Sends items[0..n) of one peer as a JOB per URL: the fallback when no memory is
 * left for a batch (the protocol allows both). */
static void send_singles(broker *b, int peer, dispatch_item **items, size_t n) {
    char attempt[16], proof[ZC_PROOF_MAX];
    for (size_t i = 0; i < n; i++) {
        snprintf(attempt, sizeof(attempt), "%d", items[i]->attempt);
        item_proof(b, items[i], proof);
        zc_frame f[3] = { ZC_FSTR(items[i]->url), ZC_FSTR(attempt), ZC_FSTR(proof) };
        broker_send(b, peer, ZC_MSG_JOB, f, 3);
    }
}

/* Sends items[0..n), just dispatched, as one JOB per fetcher: URLs, attempts and
 * proofs each as one '\n'-separated frame (proofs empty when the crawl secret is
 * off). items[] is reordered. */
static void send_jobs(broker *b, dispatch_item **items, size_t n) {
    while (n > 0) {
        int peer = items[0]->peer;
        size_t k = 0; /* this peer's items to the front: items[0..k) */
        for (size_t i = 0; i < n; i++)
            if (items[i]->peer == peer) {
                dispatch_item *t = items[k];
                items[k++] = items[i];
                items[i] = t;
            }
        char attempt[16], proof[ZC_PROOF_MAX];
        int oom = 0;
        b->job_urls.len = b->job_attempts.len = b->job_proofs.len = 0;
        for (size_t i = 0; i < k && !oom; i++) {
            int len = snprintf(attempt, sizeof(attempt), "%d", items[i]->attempt);
            oom = zc_buf_add(&b->job_urls, items[i]->url, strlen(items[i]->url), '\n') != 0 ||
                  zc_buf_add(&b->job_attempts, attempt, (size_t)len, '\n') != 0;
            if (!oom && b->proof.on)
                oom = zc_buf_add(&b->job_proofs, proof, item_proof(b, items[i], proof), '\n') != 0;
        }
        if (!oom) {
            zc_frame f[3] = { { b->job_urls.p, b->job_urls.len, NULL, NULL },
                              { b->job_attempts.p, b->job_attempts.len, NULL, NULL },
                              { b->job_proofs.len ? b->job_proofs.p : "", b->job_proofs.len, NULL, NULL } };
            broker_send(b, peer, ZC_MSG_JOB, f, 3);
        } else {
            send_singles(b, peer, items, k);
        }
        items += k;
        n -= k;
    }
}

/* Leases up to want URLs from the hosts whose turn has come (the frontier's ready
 * heap), at most a cap's worth from each, and parks them. A URL dispatch refuses
 * goes back: a dead letter when it is not http(s), its host's queue otherwise. */
static void fill(broker *b, long want, int64_t now) {
    frontier_lease leases[LEASE_BATCH];
    frontier_host hosts[LEASE_BATCH];
    int slot[LEASE_BATCH];
    size_t nhosts = 0;
    if (want > LEASE_BATCH) want = LEASE_BATCH;
    int64_t wall = zc_wall_ms();
    long got = frontier_lease_batch(&b->fr, leases, (size_t)want, wall, b->conf->lease_ms,
                                    (int)b->conf->max_per_host, hosts, &nhosts);
    if (got < 0) broker_redis_failed(b, "lease");
    else b->open_leases += got;
    if (got > 0) { /* robots.txt of the batch's new origins, in one command */
        char *urls[LEASE_BATCH];
        for (long i = 0; i < got; i++) urls[i] = leases[i].url;
        broker_guard_robots_prefetch(b, urls, (size_t)got);
    }
    for (size_t i = 0; i < nhosts; i++)
        slot[i] = dispatch_host_leased(&b->d, hosts[i].key, hosts[i].cap, hosts[i].until_ms, hosts[i].delay_ms,
                                       now, wall);
    for (long i = 0; i < got; i++) {
        int bad = 0;
        dispatch_item *it = dispatch_park(&b->d, leases[i].url, leases[i].attempt, wall + b->conf->lease_ms, &bad);
        if (it) broker_guard_parked(b, it); /* robots.txt */
        else {
            if (bad) {
                if (frontier_dead(&b->fr, leases[i].url, "broker", "not an http(s) URL", wall) < 0)
                    broker_redis_failed(b, "dead");
            } else if (frontier_requeue(&b->fr, leases[i].url, -1) < 0) { /* never went out */
                broker_redis_failed(b, "requeue");
            }
        }
        free(leases[i].url);
    }
    for (size_t i = 0; i < nhosts; i++) {
        dispatch_host_check(&b->d, slot[i]);
        free(hosts[i].key);
    }
}

/* Hands the hosts that want no more URLs now back to the frontier's ready heap
 * (at the time their rate or back-off allows) and saves changed host state.
 * Returns how many hosts were handed back ready now. */
static size_t sync_hosts(broker *b, int64_t now) {
    dispatch_sync s[256];
    frontier_host_sync f[256];
    int64_t wall = zc_wall_ms();
    size_t n, now_ready = 0;
    if (frontier_broken(&b->fr)) return 0;
    for (int round = 0; round < 64 && (n = dispatch_sync_take(&b->d, now, wall, s, 256)) > 0; round++) {
        for (size_t i = 0; i < n; i++) {
            f[i] = (frontier_host_sync){ s[i].key, s[i].release_at, s[i].save, s[i].cap, s[i].until_ms, s[i].delay_ms };
            if (s[i].release_at >= 0 && s[i].release_at <= wall) now_ready++;
        }
        int ok = frontier_sync_hosts(&b->fr, f, n) == 0;
        dispatch_sync_done(&b->d, s, n, ok);
        if (!ok) {
            broker_redis_failed(b, "hosts");
            return 0;
        }
    }
    return now_ready;
}

/* Leases what the fetchers have room for and sends every JOB dispatch allows. */
static void fill_and_send(broker *b, int64_t now) {
    long credit = dispatch_total_credit(&b->d), parked = (long)dispatch_nparked(&b->d);
    long want = credit - parked;
    /* End-to-end backpressure: every page fetched and not yet parsed and written
     * holds a lease, so open leases measure the whole pipeline's backlog. New
     * fetches start only while it is under the window: the fetch rate falls to
     * what the slowest stage sustains. */
    long room = broker_window(b) - (long)b->open_leases;
    if (want > room) want = room;
    if (want > 0 && !frontier_broken(&b->fr)) fill(b, want, now);
    dispatch_item *batch[JOB_BATCH], *it;
    size_t n = 0;
    while ((it = dispatch_next(&b->d, now)) != NULL) {
        batch[n++] = it;
        if (n == JOB_BATCH) {
            send_jobs(b, batch, n);
            n = 0;
        }
    }
    send_jobs(b, batch, n);
}

void broker_fill_and_dispatch(broker *b, int64_t now) {
    if (b->done) return;
    /* Hosts go back to the ready heap before a lease (answers this turn freed
     * their slots) and again after the JOBs (dispatch emptied them); a host
     * handed back ready now is leased again in this turn, not at the next one,
     * which may be a timer away when no message comes. */
    sync_hosts(b, now);
    for (int round = 0; round < 3; round++) {
        fill_and_send(b, now);
        if (sync_hosts(b, now) == 0) break;
    }
}
