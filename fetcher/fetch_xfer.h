/* fetch_xfer.h -- the fetcher's transfers: easy handles, their bodies, and the page
 * bytes they hold.
 *
 * A fetch_pool owns every transfer slot for the life of the loop: an easy handle
 * reused from job to job (options that never change are set once), on one of
 * three lists: active (in the multi handle), pending (a finished page waiting for
 * the pages socket) and idle. The pool counts the slots taken (busy) and those
 * freed and not yet given back to the broker as credit (freed), and the page
 * bytes held: bodies being received or waiting, and bodies handed to ZeroMQ that
 * its I/O thread has not freed yet. Past max_held_bytes a transfer that would
 * add bytes is paused (CURL_WRITEFUNC_PAUSE: the rest waits in the kernel's socket
 * buffers) until fetch_pool_resume lets it go on; the oldest goes on when nothing
 * else can free memory, so partial bodies never wait on each other forever.
 *
 * Redirect hops the job may follow (fetch_redirect.h) are started here on the same
 * handle; everything else that ends a transfer is handed back to the caller as a
 * fetch_result to report. Sockets open through the address guard (fetch_guard.h).
 * A robots.txt request keeps the first ZC_ROBOTS_MAX_BYTES of its body, cut after
 * the last whole line, however large the file and whatever --max-body says (RFC
 * 9309 2.5); a redirect it cannot follow (too many hops, a target that is not
 * http(s) or that the guard refuses) makes it unavailable: the 3xx, no body. */
#ifndef FETCH_XFER_H
#define FETCH_XFER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

#include "fetch_config.h"
#include "fetch_guard.h"
#include "fetch_outcome.h"
#include "zc_proof.h"
#include "zc_url.h"

typedef struct fetch_pool fetch_pool;
typedef struct fetch_xfer fetch_xfer;

/* One transfer slot and the job it runs. The slot owns url, hop_url and body
 * until the body is taken (fetch_xfer_take_body) or the slot is recycled. */
struct fetch_xfer {
    fetch_pool *pool;
    CURL *easy;
    fetch_xfer *prev, *next;
    char *url; /* the JOB url exactly (malloc'd, NUL-terminated) */
    size_t url_len;
    char *hop_url;            /* the redirect hop being fetched (malloc'd); NULL on the first */
    char proof[ZC_PROOF_MAX]; /* the JOB's proof of lease, echoed with the PAGE ("" without one) */
    size_t proof_len;
    char *body;         /* malloc'd; handed to ZeroMQ with the PAGE */
    size_t len, cap;    /* len counts in the pool's held bytes */
    int64_t started_ms; /* monotonic: the job's timeout covers every hop */
    int64_t fetched_at_ms;
    int64_t total_ms;
    long status;
    long hops;         /* redirects followed */
    long redir_status; /* the last redirect a robots.txt request followed */
    unsigned too_large : 1, oom : 1, paused : 1;
    unsigned robots : 1;    /* the broker's robots.txt request (fetch_is_robots) */
    unsigned capped : 1;    /* robots.txt cut at ZC_ROBOTS_MAX_BYTES */
    unsigned h_robots : 1;  /* the handle's CURLOPT_MAXFILESIZE is robots.txt's */
    unsigned no_reuse : 1;  /* CURLOPT_FORBID_REUSE: its connection closes after it */
    unsigned dns_sweep : 1; /* its end prunes libcurl's DNS cache (fetch_xfer.c) */
    fetch_guard guard;
};

/* A doubly-linked list of transfers (zc_list). */
typedef struct fetch_xfer_list {
    fetch_xfer *head, *tail;
    long n;
} fetch_xfer_list;

struct fetch_pool {
    const fetch_config *cfg; /* the loop's; outlives the pool */
    CURLM *multi;            /* the event base's; not owned */
    CURLSH *share;           /* the event base's; not owned */
    int http2;               /* CURL_HTTP_VERSION_2TLS accepted */
    int guard;               /* refuse non-public addresses */
    long recv_buffer;        /* CURLOPT_BUFFERSIZE of every easy handle */
    fetch_xfer_list active, pending, idle;
    long busy;              /* slots taken: active transfers + pages waiting to go */
    long freed;             /* slots freed and not yet given back in a CREDIT */
    int64_t held;           /* body bytes in active transfers and pending pages */
    atomic_llong zmq_bytes; /* bodies handed to ZeroMQ and not yet freed by its I/O thread */
    long paused_n;          /* transfers paused because held bytes are over the limit */
    long sockets;           /* sockets libcurl holds open: connections in use or idle */
    long keep_conns;        /* connections libcurl may keep for reuse (a budget, not a cap) */
    int64_t next_dns_sweep; /* monotonic ms: the next transfer started after it prunes DNS */
    struct {
        uint64_t jobs, blocked, pauses, rejected;
    } st;
};

/* What ended a transfer, for the caller to report (DONE). */
typedef struct fetch_result {
    fetch_outcome outcome;
    long status;
    int64_t retry_after_ms;
    char reason[ZC_URL_MAX + CURL_ERROR_SIZE + 16];
} fetch_result;

typedef enum {
    FETCH_END_HOP,    /* the next redirect hop runs: nothing to report yet */
    FETCH_END_PAGE,   /* a page: the slot waits on the pending list for the pages socket */
    FETCH_END_ROBOTS, /* the broker's robots.txt: answer with the slot's status and body (ok) */
    FETCH_END_DONE    /* answer with the result; then recycle the slot */
} fetch_end;

/* Prepares an empty pool whose transfers run in multi and share its data with
 * share (both the event base's). Cannot fail. */
void fetch_pool_open(fetch_pool *p, const fetch_config *cfg, CURLM *multi, CURLSH *share, int guard);
/* Removes active transfers from the multi handle and frees every slot. */
void fetch_pool_close(fetch_pool *p);

/* Starts a JOB's URL in a slot, keeping its proof of lease (plen bytes, less than
 * ZC_PROOF_MAX; 0: none) for the PAGE. Returns 0, or -1 with the DONE to answer
 * in r: a job over the concurrency (its credit is not given back: the broker
 * overspent), a bad URL or a failure (the slot is freed and counts as freed). */
int fetch_xfer_start(fetch_pool *p, const char *url, size_t len, const char *proof, size_t plen, fetch_result *r);
/* A transfer left the multi handle with rc: follows a redirect the job may
 * follow, queues a page, or fills r with what to report. */
fetch_end fetch_xfer_finish(fetch_pool *p, fetch_xfer *x, CURLcode rc, fetch_result *r);
/* Returns a slot to the idle list, dropping the job's state, and frees its slot. */
void fetch_xfer_recycle(fetch_pool *p, fetch_xfer *x);
/* Hands x's body to the caller (NULL when empty; *len its bytes), who passes it
 * to ZeroMQ with fetch_pool_body_free: its bytes count as held until then. */
char *fetch_xfer_take_body(fetch_pool *p, fetch_xfer *x, size_t *len);
/* ZeroMQ's free function for a body from fetch_xfer_take_body (hint: the pool). */
void fetch_pool_body_free(void *data, void *hint);

/* The next pending page, or NULL. */
fetch_xfer *fetch_pool_next_page(fetch_pool *p);
/* Takes the next unfinished transfer for an abort (removed from the multi handle
 * when active), or NULL when none is left. */
fetch_xfer *fetch_pool_abort_next(fetch_pool *p);
/* Lets paused transfers go on once the held bytes are under the limit again (or
 * the oldest one, when nothing else can free memory). */
void fetch_pool_resume(fetch_pool *p);
/* Page bytes held: bodies being received or waiting, and not yet freed by ZeroMQ. */
int64_t fetch_pool_held(fetch_pool *p);

#endif
