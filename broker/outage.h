/* outage.h -- the broker's Redis-outage state: a failed call noted (logged at
 * most every 5 s, the problem published), reconnects with doubling backoff, the
 * crawl failed past --redis-fail-limit-ms, the outage's end (every open lease
 * gets its length back), and the reports kept meanwhile for a replay.
 *
 * While Redis fails nothing new goes out and no outcome is recorded; what
 * arrives is kept here (report.c decides what) and replayed, oldest first, by
 * the turn in main.c once the outage ends, before any maintenance. */
#ifndef BROKER_OUTAGE_H
#define BROKER_OUTAGE_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

/* Logs a failed Redis call (b->fr.err; what names it) and starts the outage:
 * b->redis_bad_since, a reconnect scheduled if the connection broke, the
 * problem "redis refuses writes" when Redis refused. Never fails. */
void broker_redis_failed(broker *b, const char *what);
/* Returns 1 when Redis is usable, else 0 (reconnecting with doubling backoff).
 * Fails the crawl (broker_fail) once Redis has failed for longer than
 * --redis-fail-limit-ms. */
int broker_redis_ok(broker *b, int64_t now);
/* After Redis failed, the first write that works ends the outage: every open
 * lease gets the outage's length back (nobody could renew or close one). Returns
 * 0 when Redis takes writes again (the outage is over), -1 when not yet. */
int broker_outage_end(broker *b, int64_t now);
/* Milliseconds to the next maintenance: 200, or a backoff while Redis fails. */
int64_t broker_maint_interval(const broker *b);
/* Adds *v to the stats hash's field: *v is 0 after it worked; on a failure it is
 * kept for the next try and the failure noted. Returns 0, or -1 on a failure. */
int broker_flush_count(broker *b, const char *field, long long *v);

/* Keeps a report (m's payload frames are taken; m keeps its identity) for a
 * replay. Returns 1 if kept, 0 if not (too many kept, out of memory): its lease
 * then decides. */
int broker_keep_report(broker *b, zc_msg *m);
/* The oldest report kept, or NULL when none is. Valid until the next call here. */
const zc_msg *broker_kept_report(const broker *b);
/* Forgets the oldest report kept (it was replayed). */
void broker_kept_report_done(broker *b);
/* Frees every report still kept (at exit: their leases decide). */
void broker_drop_reports(broker *b);

#endif
