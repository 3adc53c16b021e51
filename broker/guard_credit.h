/* guard_credit.h -- the credit a fetcher may hold: what a HELLO or CREDIT asks
 * for, clamped so that credit and JOBs held stay within --max-credit: per key
 * with CURVE (all the connections of one key together), per connection
 * without. */
#ifndef BROKER_GUARD_CREDIT_H
#define BROKER_GUARD_CREDIT_H

#include <stdint.h>

#include "broker.h"

/* Credit a fetcher may hold: c clamped so that its credit + held, plus the
 * credit + held of the other connections under its key (p->key, set before),
 * stay <= --max-credit; a clamp is logged. Never fails. */
long broker_guard_credit(broker *b, int peer, uint64_t c);

#endif
