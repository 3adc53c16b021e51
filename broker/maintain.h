/* maintain.h -- the broker's periodic work and its stats hash. */
#ifndef BROKER_MAINTAIN_H
#define BROKER_MAINTAIN_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

/* Expired leases and due retries back to the frontier, seeds in, leases
 * renewed, the guards' tick, counters and stats. Call it once the meta is known
 * to be this run's and no Redis outage is open (main.c's turn). Returns 1 when a
 * batch crawl is complete (nothing waits, nothing is leased), else 0 (also when
 * Redis failed: noted, retried at the next maintenance). */
int broker_maintain(broker *b, int64_t now);
/* Renders the stats field problem into buf: the broker's own trouble and each
 * peer's newest non-ok STATUS, "; "-separated, cut to fit; "" when all is well. */
void broker_problem(broker *b, char *buf, size_t len);
/* Writes the stats hash with state ("running", "idle", "done", "stopped"). A
 * Redis failure is noted. */
void broker_write_stats(broker *b, const frontier_counts *c, int64_t now, const char *state);
/* On a stop: parked URLs go straight back to the frontier instead of waiting for
 * their leases to expire; counters not yet written are flushed. */
void broker_release(broker *b);

#endif
