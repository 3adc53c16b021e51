/* dispatch.h -- the broker's in-memory view of work in hand: URLs it leased and
 * parked per host, URLs out at fetchers, the peers and their credit.
 *
 * Pure bookkeeping, no I/O: the broker's main loop asks it what to send and tells
 * it what came back. Every URL it holds is also leased in Redis; if the broker
 * dies, the leases expire and nothing is lost. */
#ifndef DISPATCH_H
#define DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#define DISPATCH_ID_MAX 256

typedef struct dispatch_item {
    char *url;                    /* owned */
    int host;                     /* index into hosts */
    int peer;                     /* fetcher holding it, -1 while parked */
    int attempt;
    int64_t deadline;             /* lease deadline last written to Redis */
    int64_t sent_at;
    int pass;                     /* goes through its host's gate (robots.txt) */
    struct dispatch_item *prev, *next;  /* in a host's parked list or a peer's list */
    struct dispatch_item *hnext;        /* hash chain by url */
} dispatch_item;

typedef struct dispatch_list {
    dispatch_item *head, *tail;
    size_t n;
} dispatch_list;

typedef struct dispatch_host {
    char key[272];                /* host:port */
    int inflight;
    double cap;                   /* effective cap: AIMD below --max-per-host on 429/503 */
    int ok_streak;
    double tokens;                /* --rate token bucket */
    int64_t tokens_at;
    double rate;                  /* this host's own rate (Crawl-delay), 0: the global one */
    int gated;                    /* only items with pass go out (rules not known yet) */
    dispatch_list parked;
} dispatch_host;

typedef enum { DISPATCH_FETCHER, DISPATCH_PARSER, DISPATCH_WRITER, DISPATCH_OTHER } dispatch_role;

typedef struct dispatch_peer {
    unsigned char id[DISPATCH_ID_MAX];
    size_t idlen;
    int used;
    dispatch_role role;
    char name[64];
    long credit;
    long capacity;                /* most JOBs it has taken at once: credit + held, at its peak */
    int paused;                   /* silent: no JOBs go to it, its credit counts for nothing */
    int closed;                   /* its connection closed: paused for good */
    int fd;                       /* its connection's socket at the broker (ZMQ_SRCFD), -1 unknown */
    int64_t last_seen;
    dispatch_list held;           /* JOBs sent and not answered by DONE */
    char cond[32];                /* newest non-ok STATUS condition, "" when ok */
    char detail[160];             /* its one-line detail */
    int64_t cond_since;           /* wall ms when this condition began */
} dispatch_peer;

typedef struct dispatch {
    int max_per_host;
    double rate;                  /* per host per second; 0 = unlimited */
    dispatch_host *hosts;
    size_t nhosts, cap_hosts;
    dispatch_peer *peers;
    size_t npeers;                /* slots used, some may be free (used == 0) */
    dispatch_item **buckets;
    size_t nbuckets, nitems;
    size_t nparked, ninflight;
    size_t next_host;             /* round-robin start */
} dispatch;

/* Sets up an empty dispatcher. Returns 0, or -1 when out of memory. */
int dispatch_init(dispatch *d, int max_per_host, double rate);
/* Frees everything it holds (URLs included). */
void dispatch_free(dispatch *d);

/* Takes a leased URL (url is copied). Returns the item, or NULL when the URL is
 * already held, is not http(s) (*bad set) or memory runs out. */
dispatch_item *dispatch_park(dispatch *d, const char *url, int attempt, int64_t deadline, int *bad);
dispatch_item *dispatch_find(dispatch *d, const char *url);
/* Forgets an item wherever it is (parked or held) and frees it. */
void dispatch_drop(dispatch *d, dispatch_item *it);

/* Finds or adds a peer by identity. Returns its index, or -1 when out of memory
 * or the identity is too long. */
int dispatch_peer_get(dispatch *d, const void *id, size_t idlen, int create);
void dispatch_peer_forget(dispatch *d, int peer);
/* Credit of the fetchers that are not paused. */
long dispatch_total_credit(const dispatch *d);
/* Capacity (credit plus JOBs held, at its peak) of the fetchers not paused: their
 * concurrency, as far as the broker can tell. */
long dispatch_total_capacity(const dispatch *d);
/* Notes a fetcher's credit changed: its capacity is at least credit + held. */
void dispatch_peer_capacity(dispatch_peer *p);
int dispatch_count_role(const dispatch *d, dispatch_role role);

/* Picks the next JOB to send: a parked item whose host is under its cap and rate,
 * and the fetcher with the most credit. Moves the item to that fetcher (credit
 * spent, host in flight counted). Returns NULL when nothing can go now. */
dispatch_item *dispatch_next(dispatch *d, int64_t now);
/* A fetcher answered DONE for it: frees the host slot. ok/throttled feed the
 * AIMD cap (throttled = 429 or 503). The caller then drops the item. */
void dispatch_answered(dispatch *d, dispatch_item *it, int throttled);
/* Gates url's host (gated 1: only items with pass go out; 0: all) and sets its
 * own rate in requests per second (rate < 0 keeps it, 0 uses the global rate).
 * Returns 0, or -1 when url is not http(s) or memory runs out. */
int dispatch_host_set(dispatch *d, const char *url, int gated, double rate);
/* Moves a parked item to the head of its host's line and lets it through the gate. */
void dispatch_pass(dispatch *d, dispatch_item *it);
/* The first item parked at url's host (follow ->next for the others), or NULL. */
dispatch_item *dispatch_host_parked(dispatch *d, const char *url);
/* Milliseconds until a rate-limited host gets its next token, or -1. */
int64_t dispatch_rate_wait(const dispatch *d, int64_t now);

/* The peer in slot i, or NULL when the slot is out of range or free. Slots run
 * from 0 to dispatch_peer_slots(d) - 1; an index stays valid until forgotten. */
dispatch_peer *dispatch_peer_at(dispatch *d, int i);
size_t dispatch_peer_slots(const dispatch *d);
/* Fills out[] with up to cap items whose lease deadline is before horizon, parked
 * or out at a fetcher for which keep(arg, peer) is nonzero (keep NULL: all).
 * Returns how many. */
size_t dispatch_expiring(dispatch *d, int64_t horizon, int (*keep)(void *arg, int peer), void *arg,
                         dispatch_item **out, size_t cap);
/* Any parked item (to hand back on shutdown), or NULL when none is parked. */
dispatch_item *dispatch_any_parked(dispatch *d);
/* The oldest item out at peer, or NULL. */
dispatch_item *dispatch_first_held(dispatch *d, int peer);
static inline size_t dispatch_nitems(const dispatch *d) { return d->nitems; }
static inline size_t dispatch_nparked(const dispatch *d) { return d->nparked; }
static inline size_t dispatch_ninflight(const dispatch *d) { return d->ninflight; }

#endif
