/* frontier.h -- the crawl's durable state in Redis: the per-host frontier (a
 * queue per host and a heap of hosts by the time each may be fetched next),
 * seen-set, leases, delayed retries, dead letters and counters, all under
 * zcrawl:{<crawl>}:, on the Redis Cluster node that serves that slot; and the
 * scope and robots.txt cache of the guards.
 *
 * Every change that must be atomic is one Lua script (broker/lua/), so a crash of
 * the broker or of Redis between two calls never loses a URL: a URL is always in
 * the frontier, the delayed set, a lease, or closed (written, gone or dead). A
 * call that fails returns -1 (fr->err says why, frontier_cmd.h) and leaves Redis
 * unchanged or changed whole. The connection is frontier_cmd.h's, the crawl's
 * meta frontier_meta.h's. */
#ifndef FRONTIER_H
#define FRONTIER_H

#include <stddef.h>
#include <stdint.h>

#include "frontier_cmd.h"

/* A URL taken from the frontier under lease. url is malloc'd; the caller owns it. */
typedef struct frontier_lease {
    char *url;
    int attempt;
    int host; /* index into the hosts array of frontier_lease_batch */
} frontier_lease;

/* A host checked out by a lease, with the politeness state saved for it (0 in a
 * field: none saved). key is malloc'd; the caller owns it. */
typedef struct frontier_host {
    char *key;        /* host:port, as zc_url_host() writes it */
    int cap;          /* its in-flight cap */
    int64_t until_ms; /* wall-clock ms its back-off ends */
    int64_t delay_ms; /* its own interval between requests (Crawl-delay, rate) */
} frontier_host;

/* What the broker tells the frontier about one host: put it back in ready at
 * release_at (wall ms; -1: it stays checked out), and/or save its state (save 0:
 * leave the saved state; save 1: write cap, until, delay; save -1: delete it). */
typedef struct frontier_host_sync {
    const char *key;
    int64_t release_at;
    int save;
    int cap;
    int64_t until_ms, delay_ms;
} frontier_host_sync;

typedef struct frontier_counts {
    long long queued, leased, delayed, seeds, dead, gone;
    long long fetched, parsed, written, retried, expired;
    int done;
} frontier_counts;

/* Adds the URLs not seen before (by fingerprint of their canonical form) to the
 * frontier and closes parent's lease (parent may be NULL), atomically. URLs that
 * are not valid http(s) are skipped and counted in *bad. Returns the number added,
 * -2 when parent is given but not leased (nothing changed), or -1. */
long frontier_discover(frontier *fr, const char *parent, char *const *urls, size_t n,
                       int64_t now_ms, size_t *bad);
/* Takes up to max URLs from the hosts ready at now_ms (earliest first), at most
 * per_host from each (less when the host's saved cap is lower), into the leases
 * with deadline now+lease_ms, and checks those hosts out until
 * frontier_sync_hosts() releases them. Fills out[] and hosts[] (up to max each;
 * *nhosts of them). Returns how many URLs, or -1. */
long frontier_lease_batch(frontier *fr, frontier_lease *out, size_t max, int64_t now_ms,
                          int64_t lease_ms, int per_host, frontier_host *hosts, size_t *nhosts);
/* Saves host state and releases checked-out hosts (see frontier_host_sync), in
 * one script. Returns 0 or -1. */
int frontier_sync_hosts(frontier *fr, const frontier_host_sync *h, size_t n);
/* After a broker restart: every checked-out host goes back to ready (at its
 * back-off time if later than now). Returns how many, or -1. */
long frontier_recover_hosts(frontier *fr, int64_t now_ms);
/* Hands back the strays: hosts checked out in Redis for which holds(arg, host) is 0
 * (the broker holds none of their URLs: a lease whose host it could not keep
 * in memory). Each goes back to ready as frontier_recover_hosts() puts it.
 * Returns how many, or -1 with fr->err. */
long frontier_release_strays(frontier *fr, int64_t now_ms, int (*holds)(void *arg, const char *host), void *arg);
/* Pushes the deadline of the leases still open among urls to deadline. Returns 0 or -1. */
int frontier_renew(frontier *fr, char *const *urls, size_t n, int64_t deadline_ms);
/* A downstream stage still holds urls: every one of them that is leased gets a
 * deadline of at least deadline_ms, in one script; others are ignored. Returns how
 * many were extended, or -1. */
long frontier_hold(frontier *fr, char *const *urls, size_t n, int64_t deadline_ms);
/* Closes url's lease and puts it back at the head of its host's queue (if the lease
 * was still open). With max_retries >= 0 the loss counts an attempt (a JOB lost
 * with its fetcher or never answered), and a URL lost more than max_retries times
 * becomes a dead letter ("lease lost N times"). Returns 1 if requeued, 0 if the
 * lease was closed already, -2 if dead-lettered, -1 on a Redis error. */
int frontier_requeue(frontier *fr, const char *url, int max_retries);
/* A transient failure: closes the lease and delays url by exponential backoff with
 * jitter (at least retry_after_ms), or dead-letters it after max_retries. Returns
 * the attempt number (>=1) when delayed, -2 when dead-lettered, 0 when the lease
 * was already closed, -1 on error. */
int frontier_retry(frontier *fr, const char *url, int64_t retry_after_ms, int64_t base_ms,
                   int64_t max_ms, int max_retries, const char *reason, int64_t now_ms);
/* The page does not exist (404/410): closes the lease and records url in gone.
 * Returns 1 if the lease was open, 0 if not, -1. */
int frontier_gone(frontier *fr, const char *url, int status, int64_t now_ms);
/* The page cannot be used: closes the lease and pushes a dead letter with stage
 * and reason. Returns 1 if the lease was open, 0 if not, -1. */
int frontier_dead(frontier *fr, const char *url, const char *stage, const char *reason,
                  int64_t now_ms);
/* Closes the leases of written documents. Returns how many were open, or -1. */
long frontier_written(frontier *fr, char *const *urls, size_t n);
/* Requeues expired leases (each counts an attempt: one past max_retries makes the
 * URL a dead letter, "lease expired N times"), promotes due delayed URLs, moves new
 * seeds in (bad ones are logged and dropped). Returns the number of URLs moved or
 * taken off the seeds list, or -1. */
long frontier_maintain(frontier *fr, int64_t now_ms, int max_retries);
/* After a broker restart nobody holds the old leases: brings every deadline later
 * than deadline_ms forward to it. Returns how many changed, or -1. */
long frontier_clamp_leases(frontier *fr, int64_t deadline_ms);
/* Pushes every open lease's deadline ms later: after an outage in which nobody
 * could renew or close one. Returns how many, or -1. */
long frontier_shift_leases(frontier *fr, int64_t ms);
/* Adds to the counters in the stats hash (fetched and the like). */
int frontier_count(frontier *fr, const char *field, long long by);
/* Adds by[i] to field[i] of the spec_counts hash (a spec's nulls and skips,
 * docs/REDIS.md), n of them in one pipeline. Returns 0, or -1 (fr->err). */
int frontier_spec_counts(frontier *fr, const char *const *field, const long long *by, size_t n);
/* Reads queue sizes and counters. Returns 0 or -1. */
int frontier_read_counts(frontier *fr, frontier_counts *c);
/* Writes the stats hash: the given field/value pairs (NULL-terminated list). */
int frontier_write_stats(frontier *fr, const char *const *kv);
/* A fetch of url was redirected to target (NULL: out of scope, dropped): closes
 * url's lease, counts redirected, queues target unless seen, atomically. Returns 1
 * queued, 0 not (seen or NULL), -2 when url is not leased (nothing changed), -1. */
int frontier_redirect(frontier *fr, const char *url, const char *target);
/* Closes url's lease and records it in the excluded hash with reason ("robots").
 * Returns 1 if the lease was open, 0 if not, -1. */
int frontier_exclude(frontier *fr, const char *url, const char *reason);
/* The cached robots.txt record of origin: 1 with *out (malloc'd, NUL-terminated,
 * caller frees) and *len, 0 when none is cached, -1 on error. */
int frontier_robots_get(frontier *fr, const char *origin, char **out, size_t *len);
/* The cached records of origins[0..n) in one command (MGET): out[i] as
 * frontier_robots_get gives it (malloc'd, or NULL when none is cached) and
 * lens[i]. Returns 0, or -1 (every out[i] NULL then). */
int frontier_robots_mget(frontier *fr, char *const *origins, size_t n, char **out, size_t *lens);
/* The broker's robots.txt request url of origin was answered, in one Redis step:
 * the record data[0..len) cached for ttl_s seconds (data NULL: nothing cached),
 * and url's lease closed as excluded "robots_txt" when it was a crawled URL too.
 * Returns 1 if a lease closed, 0 if not, -1. */
int frontier_robots_done(frontier *fr, const char *url, const char *origin, const char *data, size_t len,
                         long ttl_s);
/* Calls each(arg, origin) for every origin of the crawl's scope set. Returns how
 * many, or -1. */
long frontier_scope_load(frontier *fr, void (*each)(void *arg, const char *origin), void *arg);
/* Adds an origin to the crawl's scope set. Returns 0 or -1. */
int frontier_scope_add(frontier *fr, const char *origin);
/* Adds origins[0..n) to the crawl's scope set in one command. Returns 0 or -1. */
int frontier_scope_add_many(frontier *fr, char *const *origins, size_t n);
/* Earliest due time in the delayed set, or -1 when it is empty (or on error). */
int64_t frontier_next_delayed(frontier *fr);

#endif
