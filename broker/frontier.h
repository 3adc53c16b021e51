/* frontier.h -- the crawl's durable state in Redis: the per-host frontier (a
 * queue per host and a heap of hosts by the time each may be fetched next),
 * seen-set, leases, delayed retries, dead letters and counters, all under
 * zcrawl:{<crawl>}:, on the Redis Cluster node that serves that slot.
 *
 * Every change that must be atomic is one Lua script, so a crash of the broker or
 * of Redis between two calls never loses a URL: a URL is always in the frontier,
 * the delayed set, a lease, or closed (written, gone or dead). Errors are kept in
 * the context (fr->err); a call that fails returns -1 and leaves Redis unchanged
 * or changed whole. After a connection error, frontier_reconnect() must succeed
 * before any other call. */
#ifndef FRONTIER_H
#define FRONTIER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis.h>

#include "zc_redis.h"

#define FRONTIER_KEY_MAX 160

typedef struct frontier {
    redisContext *rc;
    zc_redis_addr addr;
    char crawl[64];
    char err[512];
    void (*seed_hook)(void *arg, const char *url); /* sees each good seed before it is queued */
    void *seed_arg;
    int refused; /* the last command was refused: OOM, READONLY, MISCONF */
    char k_frontier[FRONTIER_KEY_MAX], k_seen[FRONTIER_KEY_MAX], k_leases[FRONTIER_KEY_MAX],
        k_delayed[FRONTIER_KEY_MAX], k_retries[FRONTIER_KEY_MAX], k_dead[FRONTIER_KEY_MAX],
        k_gone[FRONTIER_KEY_MAX], k_stats[FRONTIER_KEY_MAX], k_seeds[FRONTIER_KEY_MAX],
        k_meta[FRONTIER_KEY_MAX], k_ready[FRONTIER_KEY_MAX], k_active[FRONTIER_KEY_MAX],
        k_waiting[FRONTIER_KEY_MAX];
} frontier;

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

/* What a crawl's meta hash said when a run began. */
typedef struct frontier_meta {
    char state[16];     /* new, running, stopped, failed, complete, lost, or url_form */
    long long ended_at; /* ms since the epoch, 0 when unknown */
    long long written;
    long long url_form; /* the crawl's canonical URL form (ZC_URL_FORM when ours) */
} frontier_meta;

/* Parses redis://[:password@]host[:port][/db] and connects. Returns 0, or -1 with
 * a reason in err (bad URI, unreachable server, bad crawl name). */
int frontier_open(frontier *fr, const char *uri, const char *crawl, char *err, size_t errlen);
void frontier_close(frontier *fr);
/* Drops the connection and connects again. Returns 0, or -1 (fr->err). */
int frontier_reconnect(frontier *fr);
/* Nonzero when the last failure was a connection error (reconnect needed). */
int frontier_broken(const frontier *fr);
/* Nonzero when the last command was refused because Redis takes no writes now
 * (maxmemory reached, a read-only replica, failing persistence). */
int frontier_refused(const frontier *fr);

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
/* Pushes the deadline of the leases still open among urls to deadline. Returns 0 or -1. */
int frontier_renew(frontier *fr, char *const *urls, size_t n, int64_t deadline_ms);
/* A downstream stage still holds urls: every one of them that is leased gets a
 * deadline of at least deadline_ms, in one script; others are ignored. Returns how
 * many were extended, or -1. */
long frontier_hold(frontier *fr, char *const *urls, size_t n, int64_t deadline_ms);
/* Closes url's lease and puts it back at the head of its host's queue (if the lease
 * was still open). Returns 1 if requeued, 0 if the lease was closed already, -1. */
int frontier_requeue(frontier *fr, const char *url);
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
/* Requeues expired leases, promotes due delayed URLs, moves new seeds in (bad ones
 * are logged and dropped). Returns the number of URLs moved or taken off the seeds
 * list, or -1. */
long frontier_maintain(frontier *fr, int64_t now_ms);
/* After a broker restart nobody holds the old leases: brings every deadline later
 * than deadline_ms forward to it. Returns how many changed, or -1. */
long frontier_clamp_leases(frontier *fr, int64_t deadline_ms);
/* Pushes every open lease's deadline ms later: after an outage in which nobody
 * could renew or close one. Returns how many, or -1. */
long frontier_shift_leases(frontier *fr, int64_t ms);
/* Adds to the counters in the stats hash (fetched and the like). */
int frontier_count(frontier *fr, const char *field, long long by);
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
/* Caches origin's robots.txt record for ttl_s seconds. Returns 0 or -1. */
int frontier_robots_set(frontier *fr, const char *origin, const char *data, size_t len, long ttl_s);
/* Calls each(arg, origin) for every origin of the crawl's scope set. Returns how
 * many, or -1. */
long frontier_scope_load(frontier *fr, void (*each)(void *arg, const char *origin), void *arg);
/* Adds an origin to the crawl's scope set. Returns 0 or -1. */
int frontier_scope_add(frontier *fr, const char *origin);
/* Earliest due time in the delayed set, or -1 when it is empty (or on error). */
int64_t frontier_next_delayed(frontier *fr);

/* Starts a run in the crawl's meta hash: state running, run_id, started_at (and
 * created_at and url_form for a new crawl), atomically. Left unchanged when the
 * crawl is complete, lost (a seen-set without meta: its state is gone), or
 * url_form (its fingerprints are of another canonical form). prev says which.
 * Returns 0 or -1. */
int frontier_begin(frontier *fr, const char *run_id, int64_t now_ms, frontier_meta *prev);
/* Is the crawl still ours? Returns 1 (meta says run_id), 0 (meta gone), 2 (another
 * run_id, copied into other), or -1 on error. */
int frontier_run_check(frontier *fr, const char *run_id, char *other, size_t otherlen);
/* Ends our run: state, reason, ended_at, written, only while meta's run_id is
 * ours. Returns 1 when written, 0 when not ours, -1 on error. */
int frontier_end(frontier *fr, const char *run_id, const char *state, const char *reason, int64_t now_ms,
                 long long written);
/* Deletes every key of the crawl (SCAN MATCH zcrawl:{crawl}:*, UNLINK). Returns
 * how many, or -1. */
long frontier_clear(frontier *fr);

#endif
