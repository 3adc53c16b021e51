/* guard.h -- what the broker lets stages and sites change, one module per
 * concern: who may say what and recall (guard_refuse.h), credit
 * (guard_credit.h), the crawl's scope (guard_scope.h), robots.txt
 * (guard_robots.h), JOBs never answered (guard_timeout.h). This module opens and
 * closes their state and runs their periodic work.
 *
 * control.c and report.c ask the guards before they act on a message; jobs.c
 * shows robots.txt every URL it parks; maintain.c runs the tick. */
#ifndef BROKER_GUARD_H
#define BROKER_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

/* Opens every guard's state: the scope of starts[0..n) (guard_scope.h), the
 * refusals and the robots.txt origins. Returns 0, or -1 with a reason in err
 * (bad --allow-host, Redis, out of memory); broker_guard_close frees what was
 * opened. */
int broker_guard_open(broker *b, char *const *starts, size_t n, char *err, size_t errlen);
void broker_guard_close(broker *b);
/* Periodic: JOBs unanswered past --job-timeout-ms taken back, robots.txt
 * requests retried, counters to the stats hash. Does nothing while Redis is
 * unreachable. */
void broker_guard_tick(broker *b, int64_t now);

#endif
