/* guard_credit.h -- the credit a fetcher may hold: what a HELLO or CREDIT asks
 * for, clamped so that credit and JOBs held stay within --max-credit. */
#ifndef BROKER_GUARD_CREDIT_H
#define BROKER_GUARD_CREDIT_H

#include <stdint.h>

#include "broker.h"

/* Credit a fetcher may hold: c clamped so that credit + held <= --max-credit;
 * a clamp is logged. Never fails. */
long broker_guard_credit(broker *b, int peer, uint64_t c);

#endif
