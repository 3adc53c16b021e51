/* sim_site.h -- the emulated site: routing, faults, latency, admin pages and stats.
 *
 * The server hands every parsed request to sim_site_handle, which decides the
 * whole answer at once (status, bytes, delay, how it is delivered) into a
 * sim_reply; when the reply leaves (or is abandoned) the server calls
 * sim_site_finish, which does the accounting that depends on delivery. */
#ifndef SIM_SITE_H
#define SIM_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "sim_buf.h"
#include "sim_catalog.h"
#include "sim_heap.h"
#include "sim_http.h"
#include "sim_rng.h"

typedef enum { SIM_KIND_ADMIN = 0,
               SIM_KIND_LIST,
               SIM_KIND_DETAIL,
               SIM_KIND_OTHER } sim_kind;

typedef enum {
    SIM_SEND_FULL = 0, /* the whole answer */
    SIM_SEND_DROP,     /* close the connection instead of answering */
    SIM_SEND_TRUNCATE, /* headers and part of the body, then close */
    SIM_SEND_SLOW      /* headers, then the body in small chunks on a timer */
} sim_send;

#define SIM_KEY_MAX 80

/* One answer on its way out. The server owns it; out is the whole HTTP answer. */
typedef struct sim_reply {
    sim_timer timer;        /* delay, then slow-chunk pacing */
    struct sim_reply *next; /* the connection's FIFO */
    void *conn;             /* the owning connection (server's type) */
    sim_buf out;            /* status line, headers, body */
    size_t head_len;        /* bytes of status line and headers in out */
    size_t sent;            /* bytes written so far */
    size_t stop;            /* bytes to write in all (out.len, or less for truncate/HEAD) */
    int64_t delay_ms;
    sim_send send;
    int close_after; /* close the connection once this reply is out */
    int counted;     /* counted in requests and in_progress (not admin) */
    int track;       /* a clean 200/404 to record for duplicates on delivery */
    int status;
    sim_kind kind;
    int vhost;             /* virtual host index (--hosts), -1 for none */
    char key[SIM_KEY_MAX]; /* normalized path, for duplicates */
} sim_reply;

typedef struct sim_site_cfg {
    double fail_500, fail_429, fail_drop, fail_truncate, fail_slow;
    long retry_after; /* seconds, in Retry-After of 429 answers */
    long latency_ms, jitter_ms;
    long slow_chunk;       /* body bytes per slow chunk */
    long slow_interval_ms; /* pause between slow chunks */
    long max_limit;        /* larger list limits are clamped to this */
    char default_host[80]; /* host:port for next/previous without a usable Host */
    long hosts;            /* virtual hosts h0.localhost ... (0: one site, any Host) */
    long books;            /* books per virtual host */
    uint64_t seed;         /* virtual host i's catalogue is seeded by seed + i */
    double malformed_rate;
    const unsigned char *slow; /* hosts entries, 1 = slow (owned by the caller) or NULL */
    long slow_latency_ms;      /* delay of every /api/ answer of a slow host */
    const char *api_token;     /* the Bearer token the GitHub- and Stripe-shaped APIs demand (sim_apis.h), or NULL */
} sim_site_cfg;

/* One virtual host: its catalogue (made on its first request) and its counters. */
typedef struct sim_vhost {
    sim_catalog *cat;
    uint64_t requests, duplicates;
    int64_t in_progress, max_in_progress;
} sim_vhost;

typedef struct sim_seen {
    char **keys;
    unsigned char *vals; /* 200 or 4 (for 404) */
    size_t n, cap;
} sim_seen;

typedef struct sim_stats {
    uint64_t requests, list, detail, other;
    uint64_t duplicates;
    uint64_t f500, f429, fdrop, ftruncate, fslow, fmalformed;
    uint64_t list_pages_served, detail_pages_served;
    uint64_t status_200, status_400, status_404, status_405, status_other;
    uint64_t bytes_sent;
    int64_t max_in_progress;
} sim_stats;

typedef struct sim_site {
    sim_site_cfg cfg;
    const sim_catalog *cat;
    sim_rng rng;  /* per-request faults and jitter */
    sim_buf body; /* scratch for the body being rendered */
    sim_stats st;
    sim_seen seen;
    int64_t in_progress; /* gauge: never reset */
    int64_t connections; /* gauge kept by the server */
    uint64_t connections_total;
    int64_t started_ms;
    sim_vhost *vhosts; /* cfg.hosts entries, or NULL */
} sim_site;

/* Sets up the site over cat (borrowed, must outlive the site); with cfg->hosts > 0
 * also the virtual hosts (their catalogues are the site's own). Returns 0, or -1
 * when out of memory. */
int sim_site_init(sim_site *s, const sim_catalog *cat, const sim_site_cfg *cfg, uint64_t seed);
/* The virtual host a Host header names ("h7.localhost" or "h7.localhost:port"),
 * or -1 when it names none of the n. */
long sim_site_vhost_index(const char *host, size_t len, long n);
void sim_site_free(sim_site *s);

/* Allocates an empty reply (timer idle, buffers empty). Returns NULL when out of memory. */
sim_reply *sim_reply_new(void);
/* Empties r for reuse, keeping its buffer. */
void sim_reply_clear(sim_reply *r);
void sim_reply_free(sim_reply *r);

/* Decides the answer to req into r (cleared); keep_alive says whether the
 * connection stays open after it. Returns 0, or -1 when memory ran out (r is then
 * unusable and not counted: close the connection). */
int sim_site_handle(sim_site *s, const sim_request *req, int keep_alive, sim_reply *r);
/* A 400 answer for bytes that are not a request; it closes the connection.
 * Returns 0, or -1 when memory ran out. */
int sim_site_bad_request(sim_site *s, const char *why, sim_reply *r);
/* Accounting once r is done with: delivered says the whole answer went out. */
void sim_site_finish(sim_site *s, sim_reply *r, int delivered);

#endif
