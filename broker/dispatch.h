/* dispatch.h -- the broker's in-memory view of work in hand: URLs it leased and
 * parked per host, URLs out at fetchers, the peers and their credit.
 *
 * Pure bookkeeping, no I/O: the broker's main loop asks it what to send and tells
 * it what came back. Every URL it holds is also leased in Redis; if the broker
 * dies, the leases expire and nothing is lost.
 *
 * Hosts live here only while the broker holds some of their URLs or has state
 * of theirs to write back: a host checked out of the frontier (out) is handed
 * back through dispatch_sync_take() once it has nothing parked and room under
 * its cap, and an idle host is forgotten (its state is in Redis). Hosts are
 * found by hash; dispatch_next() walks only the ring of hosts that have parked
 * URLs and room under their cap, so its cost does not grow with the number of
 * hosts the crawl has seen. */
#ifndef DISPATCH_H
#define DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#define DISPATCH_ID_MAX 256

typedef struct dispatch_item {
    char *url; /* owned */
    int host;  /* index into hosts */
    int peer;  /* fetcher holding it, -1 while parked */
    int attempt;
    int64_t deadline; /* lease deadline last written to Redis */
    int64_t sent_at;
    int pass;                          /* goes through its host's gate (robots.txt) */
    struct dispatch_item *prev, *next; /* in a host's parked list or a peer's list */
    struct dispatch_item *hnext;       /* hash chain by url */
} dispatch_item;

typedef struct dispatch_list {
    dispatch_item *head, *tail;
    size_t n;
} dispatch_list;

typedef struct dispatch_host {
    char key[272]; /* host:port */
    int inflight;
    double cap; /* effective cap: AIMD below --max-per-host on 429/503 */
    int ok_streak;
    double tokens; /* --rate token bucket */
    int64_t tokens_at;
    double rate;           /* this host's own rate (Crawl-delay), 0: the global one */
    int64_t backoff_until; /* monotonic ms: nothing goes to it before */
    int64_t backoff_wall;  /* the same in wall-clock ms (saved in Redis) */
    int gated;             /* only items with pass go out (rules not known yet); never forgotten while gated */
    int used;              /* the slot holds a host */
    int out;               /* checked out of the frontier: to be handed back */
    int dirty;             /* state changed since it was last saved */
    int syncing;           /* in the sync list */
    int in_ring;
    int hnext;        /* hash chain, or the free list */
    int rprev, rnext; /* the ring of hosts that may send */
    dispatch_list parked;
} dispatch_host;

/* One host to hand back to the frontier and/or whose state to save. */
typedef struct dispatch_sync {
    int host;           /* slot */
    const char *key;    /* valid until dispatch_sync_done */
    int64_t release_at; /* wall ms it may be fetched again; -1: keep it */
    int save;           /* 1 write the state, -1 delete it (back to defaults), 0 neither */
    int cap;
    int64_t until_ms, delay_ms;
} dispatch_sync;

typedef enum { DISPATCH_FETCHER,
               DISPATCH_PARSER,
               DISPATCH_WRITER,
               DISPATCH_OTHER } dispatch_role;

typedef struct dispatch_peer {
    unsigned char id[DISPATCH_ID_MAX];
    size_t idlen;
    int used;
    dispatch_role role;
    char name[64];
    char key[64]; /* the CURVE key it said HELLO with (ZAP User-Id), "" without keys */
    long credit;
    long owed;     /* credit it asked for and was not granted (its key was full): granted when room frees */
    long capacity; /* most JOBs it has taken at once: credit + held, at its peak */
    int paused;    /* silent: no JOBs go to it, its credit counts for nothing */
    int closed;    /* its connection closed: paused for good */
    int fd;        /* its connection's socket at the broker (ZMQ_SRCFD), -1 unknown */
    int64_t last_seen;
    dispatch_list held; /* JOBs sent and not answered by DONE */
    char cond[32];      /* newest non-ok STATUS condition, "" when ok */
    char detail[160];   /* its one-line detail */
    int64_t cond_since; /* wall ms when this condition began */
} dispatch_peer;

typedef struct dispatch {
    int max_per_host;
    double rate; /* per host per second; 0 = unlimited */
    dispatch_host *hosts;
    size_t nhosts, cap_hosts; /* slots ever used, allocated */
    size_t live_hosts;        /* slots holding a host */
    int free_host;            /* free slots, through hnext */
    int *hbuckets;            /* host hash: first slot of each chain, -1 */
    size_t nhbuckets;
    int ring; /* the ring's cursor, -1 when empty */
    size_t nring;
    int *sync; /* hosts waiting for dispatch_sync_take */
    size_t nsync, cap_sync;
    dispatch_peer *peers;
    size_t npeers; /* slots used, some may be free (used == 0) */
    dispatch_item **buckets;
    size_t nbuckets, nitems;
    size_t nparked, ninflight;
} dispatch;

/* Sets up an empty dispatcher. Returns 0, or -1 when out of memory. */
int dispatch_init(dispatch *d, int max_per_host, double rate);
/* Frees everything it holds (URLs included). */
void dispatch_free(dispatch *d);

/* Moves every held URL's lease deadline ms later (a Redis outage's length, which
 * Redis's leases got back too). Cannot fail. */
void dispatch_shift_deadlines(dispatch *d, int64_t ms);
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

/* "fetcher", "parser", "writer"; "stage" for DISPATCH_OTHER. */
const char *dispatch_role_name(dispatch_role role);

/* The role a HELLO names; DISPATCH_OTHER for any other word. */
dispatch_role dispatch_role_parse(const char *name);

/* Picks the next JOB to send: a parked item whose host is under its cap and rate,
 * and the fetcher with the most credit. Moves the item to that fetcher (credit
 * spent, host in flight counted). Returns NULL when nothing can go now. */
dispatch_item *dispatch_next(dispatch *d, int64_t now);
/* A fetcher answered DONE for it: frees the host slot. ok/throttled feed the
 * AIMD cap (throttled = 429 or 503). The caller then drops the item. */
void dispatch_answered(dispatch *d, dispatch_item *it, int throttled);
/* dispatch_answered's throttled for a JOB that got no answer (its fetcher died,
 * or it timed out): the slot is freed, the host's rate neither raised nor cut. */
#define DISPATCH_UNANSWERED (-1)
/* Gates url's host (gated 1: only items with pass go out; 0: all) and sets its
 * own rate in requests per second (rate < 0 keeps it, 0 uses the global rate);
 * the rate is saved in Redis (host:<host> delay) at the next sync. Returns 0, or
 * -1 when url is not http(s) or memory runs out. */
int dispatch_host_set(dispatch *d, const char *url, int gated, double rate);
/* Moves a parked item to the head of its host's line and lets it through the gate. */
void dispatch_pass(dispatch *d, dispatch_item *it);
/* The first item parked at url's host (follow ->next for the others), or NULL. */
dispatch_item *dispatch_host_parked(dispatch *d, const char *url);
/* A fetcher was throttled by it (429/503) with a Retry-After of retry_after_ms:
 * its host sends nothing before then (at most DISPATCH_BACKOFF_MAX_MS), saved in
 * Redis at the next sync. Without a Retry-After (0), or it NULL, nothing happens. */
#define DISPATCH_BACKOFF_MAX_MS 600000
void dispatch_backoff(dispatch *d, dispatch_item *it, int64_t now, int64_t wall, int64_t retry_after_ms);
/* Milliseconds until a host with parked URLs and room under its cap may send
 * (its rate's next token, its back-off's end), or -1 when none waits so. */
int64_t dispatch_rate_wait(const dispatch *d, int64_t now);

/* A lease checked host key out of the frontier with this saved state (0: none).
 * A host not in memory takes the state; one in memory keeps its own, newer.
 * Returns its slot, or -1 when out of memory. Park its URLs, then call
 * dispatch_host_check(). */
int dispatch_host_leased(dispatch *d, const char *key, int cap, int64_t until_wall, int64_t delay_ms,
                         int64_t now, int64_t wall);
/* 1 while this broker holds host key checked out: it has URLs of it parked or out,
 * or will hand it back at the next sync. A host checked out with nothing to hand
 * back (its place in the sync list was lost for memory) is put in it again and
 * counts as held. 0 when the broker holds nothing of it: a stray in Redis. */
int dispatch_host_holds(dispatch *d, const char *key);
/* Re-examines a host after its URLs were parked: one checked out with nothing
 * parked goes to the sync list; an idle one is forgotten. */
void dispatch_host_check(dispatch *d, int host);
/* Takes up to cap hosts off the sync list into out[] (release times from now and
 * wall). Returns how many. Each must be answered by dispatch_sync_done. */
size_t dispatch_sync_take(dispatch *d, int64_t now, int64_t wall, dispatch_sync *out, size_t cap);
/* The frontier took (ok) or did not take the entries of dispatch_sync_take: when
 * it did not they are tried again later. */
void dispatch_sync_done(dispatch *d, const dispatch_sync *s, size_t n, int ok);
/* Hosts in memory, and those checked out of the frontier. */
static inline size_t dispatch_nhosts(const dispatch *d) { return d->live_hosts; }

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
