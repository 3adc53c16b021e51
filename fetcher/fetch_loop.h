/* fetch_loop.h -- the fetcher's single event loop: curl multi + ZeroMQ on one epoll.
 *
 * One fetch_loop owns everything for the life of the process: the ZeroMQ context,
 * the DEALER connection to the broker (zc_peer), the PUSH socket for pages, the
 * epoll set, the curl multi handle and every transfer. Sockets that curl opens
 * are registered through CURLMOPT_SOCKETFUNCTION, curl's single timer through
 * CURLMOPT_TIMERFUNCTION becomes the epoll_wait timeout, and both ZeroMQ sockets
 * join the same epoll set through ZMQ_FD. Flow control is zguide's credit scheme:
 * HELLO grants --concurrency, each JOB spends one, finished transfers are given
 * back in one batched CREDIT per loop iteration, and withheld while the pages
 * held in memory (bodies being received, waiting for the pages socket, or queued
 * inside ZeroMQ) weigh more than max_held_bytes; transfers that would add to them
 * are paused meanwhile (CURL_WRITEFUNC_PAUSE), so memory is bounded by bytes.
 *
 * Redirects are followed here, not by libcurl, so each hop can be checked: only
 * within the job URL's origin (scheme, host, port), at most max_redirs; a
 * redirect elsewhere ends the job with DONE "redirect" and the target. Every
 * socket opens through one callback that refuses non-public addresses (zc_addr)
 * unless allow_private: the address actually connected, after DNS. */
#ifndef FETCH_LOOP_H
#define FETCH_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

typedef struct fetch_config {
    const char *broker; /* control endpoint the DEALER connects to */
    const char *pages;  /* pages-in endpoint the PUSH connects to */
    const char *name;   /* name in HELLO; "" or NULL for role-host-pid */
    const char *user_agent;
    const char *proxy; /* "" or NULL for none */
    long concurrency;  /* transfer slots = credit granted in HELLO */
    long max_body;     /* bytes of decoded body before "body too large" */
    long connect_timeout_ms;
    long timeout_ms; /* whole transfer, redirects included */
    long heartbeat_ms;
    long drain_ms;           /* how long SHUTDOWN/SIGTERM waits for transfers */
    long pages_hwm;          /* ZMQ_SNDHWM of the pages socket */
    long stats_ms;           /* counters logged this often */
    long recv_buffer;        /* curl's receive buffer per transfer; 0 = automatic */
    long max_redirs;         /* same-origin redirects followed per job */
    long max_retry_after_ms; /* cap on the Retry-After passed to the broker */
    long max_held_bytes;     /* page bytes held before credit stops and transfers pause */
    int allow_private;       /* connect to loopback, private, link-local, ... addresses */
} fetch_config;

/* Fills cfg with the documented defaults (all strings static). */
void fetch_config_defaults(fetch_config *cfg);

/* curl's receive buffer for a transfer: configured when > 0, else about 1 MiB
 * shared by all transfers, between 1 KiB and 16 KiB. */
long fetch_recv_buffer_size(long configured, long concurrency);

typedef struct fetch_loop fetch_loop;

/* Creates the loop: ZeroMQ context and sockets (HELLO is sent here), epoll set,
 * curl multi handle. cfg's strings must outlive the loop. Returns NULL with a
 * one-line reason in err (bad endpoint, out of memory, a library call failed).
 * curl_global_init() must have been called. */
fetch_loop *fetch_loop_new(const fetch_config *cfg, char *err, size_t errlen);
/* Runs until SHUTDOWN from the broker or SIGINT/SIGTERM (zc_signal), then drains
 * for at most drain_ms and answers the rest with DONE retry "shutdown". Returns 0
 * after a clean drain, or -1 with a reason in err when the loop itself failed
 * (epoll or curl multi errors). */
int fetch_loop_run(fetch_loop *l, char *err, size_t errlen);
/* Frees everything the loop owns; aborts transfers still running. NULL is fine. */
void fetch_loop_free(fetch_loop *l);

/* What a finished transfer means for the broker. */
typedef enum { FETCH_OK = 0,
               FETCH_RETRY,
               FETCH_FAIL,
               FETCH_REDIRECT } fetch_outcome;

/* "ok", "retry", "fail" or "redirect". */
const char *fetch_outcome_name(fetch_outcome o);
/* Classifies a transfer from curl's result, the HTTP status (0 if none) and
 * whether the body went over the cap; writes the DONE reason into reason
 * ("" for ok, "http 503", "curl: Timeout was reached", "body too large"). */
fetch_outcome fetch_classify(CURLcode rc, long status, int too_large, int oom,
                             char *reason, size_t reasonlen);
/* The delay to pass on from CURLINFO_RETRY_AFTER (seconds; libcurl parses both
 * delay-seconds and HTTP-dates, 0 when absent or unparsable): in milliseconds,
 * 0 for a negative value, at most cap_ms. */
int64_t fetch_retry_after_ms(curl_off_t secs, int64_t cap_ms);

/* What to do with a redirect from a job whose URL is job_url to target (absolute,
 * as CURLINFO_REDIRECT_URL gives it) after hops redirects already followed. */
typedef enum {
    FETCH_REDIR_FOLLOW = 0, /* same origin, under the limit: fetch target now */
    FETCH_REDIR_REPORT,     /* another origin or scheme: DONE redirect, the broker decides */
    FETCH_REDIR_TOO_MANY,   /* same origin, but max_redirs already followed */
    FETCH_REDIR_BAD         /* target is not a URL zcrawl can carry (unparsable, too long) */
} fetch_redir;
fetch_redir fetch_redirect_decide(const char *job_url, const char *target, long hops, long max_redirs);
/* 1 when a and b are absolute URLs with the same scheme, host and port (default
 * ports made explicit; scheme and host compared without case), 0 when they
 * differ, -1 when either cannot be parsed. */
int fetch_same_origin(const char *a, const char *b);

#endif
