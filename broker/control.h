/* control.h -- the broker's control socket (the ROUTER every stage talks to):
 * messages read and handed to their handlers. */
#ifndef BROKER_CONTROL_H
#define BROKER_CONTROL_H

#include <stdint.h>

#include "broker.h"

/* Handles one message received on the ROUTER; never fails (a bad message is
 * logged, counted and dropped). */
void broker_on_message(broker *b, zc_msg *m, int64_t now);
/* Receives and handles what waits on the ROUTER (at most 2000 messages a turn),
 * with the socket's monitor events first. Never fails. */
void broker_read_control(broker *b, int64_t now);

#endif
