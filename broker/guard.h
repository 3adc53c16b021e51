/* guard.h -- what the broker lets stages and sites change: roles and leases of
 * the stages' reports, credit, the crawl's scope, redirects and robots.txt.
 *
 * control.c asks before it acts on a message; jobs.c shows it every URL it
 * parks (robots.txt rules); maintain.c gives it a tick. Refusals are logged at
 * most once a second per reason and counted in the stats hash. */
#ifndef BROKER_GUARD_H
#define BROKER_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

#define GUARD_AGENT        "zcrawl" /* robots.txt product token */
#define GUARD_ROBOTS_TTL_S 86400    /* cached robots.txt lives a day */

typedef enum {
    GUARD_NO_HELLO,    /* a report from a peer that has not said HELLO */
    GUARD_WRONG_ROLE,  /* a report its role may not send */
    GUARD_NOT_HELD,    /* DONE for a URL not out at this fetcher */
    GUARD_NOT_LEASED,  /* DISCOVERED, redirect, WRITTEN or DEAD for a URL not leased */
    GUARD_ROLE_CHANGE, /* HELLO with another role than the peer said before */
    GUARD_NREASONS
} guard_reason;

/* Checks an --allow-host list. Returns 0, or -1 with a reason in err. */
int broker_guard_check_hosts(const char *list, char *err, size_t errlen);
/* Builds the scope (origins in the crawl's scope set, of starts[0..n) and of
 * conf->start, plus --allow-host) and hooks seeds into it. Returns 0, or -1 with
 * a reason in err (bad --allow-host, Redis, out of memory). */
int broker_guard_open(broker *b, char *const *starts, size_t n, char *err, size_t errlen);
void broker_guard_close(broker *b);

/* 1 when url is in the crawl's scope. */
int broker_guard_in_scope(broker *b, const char *url);
/* Counts n URLs dropped as out of scope. */
void broker_guard_out_of_scope(broker *b, long n);
/* Counts one refused message (or URL report) and logs it, at most once a second
 * per reason. */
void broker_guard_refuse(broker *b, guard_reason why, const char *type, int peer, const char *detail);
/* Remembers the role and name a peer said in its HELLO, so that a parser or
 * writer forgotten for silence is known again by its next message. */
void broker_guard_remember(broker *b, int peer);
/* A message came from an identity dispatch does not know: when it said HELLO
 * before on that connection as a parser or writer, it is a peer again (same role
 * and name) and its index is returned; else -1. */
int broker_guard_recall(broker *b, const void *id, size_t idlen);
/* Credit a fetcher may hold: c clamped so that credit + held <= --max-credit;
 * a clamp is logged. */
long broker_guard_credit(broker *b, int peer, uint64_t c);

/* A leased URL was just parked: applies its origin's robots.txt rules (a URL
 * they disallow is recorded as excluded and dropped), or holds its host until
 * they are known and asks for them. */
void broker_guard_parked(broker *b, dispatch_item *it);
/* A fetcher answered DONE for url, whose slot was freed. Returns 1 when url was
 * a robots.txt request of the broker's (then handled here), else 0. */
int broker_guard_robots_done(broker *b, const char *url, const char *outcome, uint64_t status,
                             const char *body, size_t len);

/* Periodic: counters to the stats hash, JOBs unanswered past --job-timeout-ms
 * taken back, robots.txt requests retried. */
void broker_guard_tick(broker *b, int64_t now);

#endif
