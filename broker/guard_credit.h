/* guard_credit.h -- the credit a fetcher may hold: what a HELLO or CREDIT asks
 * for, clamped so that credit and JOBs held stay within --max-credit: per key
 * with CURVE (all the connections of one key together), per connection
 * without. */
#ifndef BROKER_GUARD_CREDIT_H
#define BROKER_GUARD_CREDIT_H

#include <stdint.h>

#include "broker.h"

/* Credit a fetcher may hold: c (plus what it is owed) clamped so that its
 * credit + held, plus the credit + held of the other connections under its key
 * (p->key, set before), stay <= --max-credit; a clamp is logged and what was
 * not granted is owed to it (p->owed). Never fails. */
long broker_guard_credit(broker *b, int peer, uint64_t c);
/* Periodic: grants fetchers the credit they are owed as far as their key has
 * room again (a sibling left or answered its JOBs). Never fails. */
void broker_guard_credit_tick(broker *b);

#endif
