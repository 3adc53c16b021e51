/* guard_robots.h -- robots.txt (RFC 9309): before the first URL of an origin goes
 * out, its rules are read from the cache in Redis or asked for with a JOB at the
 * head of its host's (gated) line; URLs they disallow are recorded as excluded,
 * Crawl-delay becomes the host's rate, and an origin whose robots.txt cannot be
 * had is retried with backoff, then its URLs become dead letters. */
#ifndef BROKER_GUARD_ROBOTS_H
#define BROKER_GUARD_ROBOTS_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

#define GUARD_AGENT        "zcrawl" /* robots.txt product token */
#define GUARD_ROBOTS_TTL_S 86400    /* cached robots.txt lives a day */

/* Sets up the origins' state (b->robots). Returns 0, or -1 when out of memory. */
int broker_guard_robots_open(broker *b);
void broker_guard_robots_close(broker *b);
/* A leased URL was just parked: applies its origin's robots.txt rules (a URL
 * they disallow is recorded as excluded and dropped), or holds its host until
 * they are known and asks for them. Never fails (Redis failures are noted). */
void broker_guard_parked(broker *b, dispatch_item *it);
/* The leased urls[0..n) are about to be parked: the cached rules of every
 * origin among them not seen before are read from Redis in one command, so that
 * broker_guard_parked asks for none of them alone. Valid until the next call.
 * Never fails (whatever was not read is asked for alone; Redis failures are
 * noted). */
void broker_guard_robots_prefetch(broker *b, char *const *urls, size_t n);
/* A fetcher answered DONE for url, whose slot was freed. Returns 1 when url was
 * a robots.txt request of the broker's (then handled here), else 0. */
int broker_guard_robots_done(broker *b, const char *url, const char *outcome, uint64_t status,
                             const char *body, size_t len);
/* Periodic: asks again for the robots.txt whose retry is due, or whose request
 * went away with its fetcher. */
void broker_guard_robots_tick(broker *b, int64_t now);

#endif
