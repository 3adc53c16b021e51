/* jobs.h -- the broker's hand-out: leases URLs as the fetchers' credit and the
 * window allow (credit-based flow control, zguide) and sends the JOBs dispatch
 * picks. */
#ifndef BROKER_JOBS_H
#define BROKER_JOBS_H

#include <stdint.h>

#include "broker.h"

/* Leases as many URLs as the fetchers have credit for and sends every JOB that
 * per-host caps and rates allow now. Never fails: Redis failures are noted
 * (outage.h) and nothing more is leased until it works again. */
void broker_fill_and_dispatch(broker *b, int64_t now);

#endif
