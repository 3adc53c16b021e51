/* counts.h -- COUNTS from parsers: a spec's nulls and skipped items, added up in Redis. */
#ifndef BROKER_COUNTS_H
#define BROKER_COUNTS_H

#include "broker.h"

/* Adds the counters of a parser's COUNTS (docs/PROTOCOL.md) to those waiting for
 * Redis. Never fails: a bad message is counted as one; counters past the table's
 * room are lost (logged: they are advisory, no lease depends on them). */
void broker_on_counts(broker *b, int peer, const zc_msg *m);
/* Adds what waits to the crawl's spec_counts hash (docs/REDIS.md), with every stats
 * write, the last one included. On a Redis failure they are lost (logged). */
void broker_counts_flush(broker *b);
void broker_counts_free(broker *b);

#endif
