/* fetch_link.h -- the fetcher's link to the broker: JOBs in, DONE and CREDIT out.
 *
 * A fetch_link wraps the DEALER connection (zc_peer: HELLO, heartbeats, reconnects,
 * zguide's Paranoid Pirate worker side) for the life of the loop. Flow control is
 * zguide's credit scheme: HELLO grants --concurrency, each JOB's URL spends one,
 * and the caller gives freed slots back with fetch_link_credit. The common answer,
 * ok with status 200, waits for fetch_link_flush to go in one DONE with the others
 * of the same turn of the loop; every other answer goes at once. */
#ifndef FETCH_LINK_H
#define FETCH_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "fetch_config.h"
#include "fetch_outcome.h"
#include "zc_buf.h"
#include "zc_msg.h"
#include "zc_peer.h"

typedef struct fetch_link {
    zc_peer peer;
    int open;
    zc_buf done_ok; /* URLs fetched with 200 since the last DONE batch, '\n'-separated */
    long done_ok_n;
    struct {
        uint64_t ok, retry, fail, redirect, credits, dropped, lost;
    } st;
} fetch_link;

/* What fetch_link_recv received. */
typedef enum { FETCH_LINK_NONE = 0,
               FETCH_LINK_JOB,
               FETCH_LINK_SHUTDOWN } fetch_link_kind;

/* Connects to the broker and says HELLO with cfg->concurrency credit. Returns 0,
 * or -1 with a reason in err (bad endpoint, socket failure). */
int fetch_link_open(fetch_link *k, void *zctx, const fetch_config *cfg, char *err, size_t errlen);
/* Sends the batched answers, then closes the connection. Fine on a link never opened. */
void fetch_link_close(fetch_link *k);
/* The DEALER socket (replaced by a reconnect), or NULL. */
void *fetch_link_socket(const fetch_link *k);

/* Receives the next message the broker sent without blocking: a JOB (m holds it:
 * walk its URLs with fetch_link_job_url, then zc_msg_close), SHUTDOWN, or NONE
 * when nothing is waiting. Bad messages are logged, counted and skipped. Runs
 * until ZMQ_EVENTS says nothing waits, which re-arms the edge-triggered ZMQ_FD. */
fetch_link_kind fetch_link_recv(fetch_link *k, zc_msg *m);
/* The next URL of a JOB: *url and *len, and its proof of lease *proof and *plen
 * (empty when the JOB has none: an older broker, or one without the crawl
 * secret), *pos and *ppos advanced; 0 when none is left. Start both at 0. */
int fetch_link_job_url(const zc_msg *m, size_t *pos, size_t *ppos, const char **url, size_t *len, const char **proof,
                       size_t *plen);

/* DONE for one URL (len bytes). Never fails: a DONE the socket refuses is
 * counted as lost and logged (the broker's job timeout takes the URL back). */
void fetch_link_done(fetch_link *k, const char *url, size_t len, fetch_outcome o, long status,
                     int64_t retry_after_ms, const char *reason);
/* DONE robots_txt: the status and the body (at most ZC_ROBOTS_MAX_BYTES) of the
 * broker's own robots.txt request. Never fails, as fetch_link_done. */
void fetch_link_robots(fetch_link *k, const char *url, size_t len, long status, const char *body, size_t blen);
/* Sends the batched ok answers as one DONE(urls, ok, 200). */
void fetch_link_flush(fetch_link *k);
/* Sends CREDIT n. Returns 0, or -1 when the socket refused it (try again later). */
int fetch_link_credit(fetch_link *k, long n);
/* Heartbeats and reconnects (zc_peer_tick); a fresh HELLO grants hello_credit.
 * Returns 1 when the link reconnected in this call, else 0. */
int fetch_link_tick(fetch_link *k, int64_t now, long hello_credit);
/* Milliseconds until fetch_link_tick has something to do. */
int64_t fetch_link_timeout(const fetch_link *k, int64_t now);

#endif
