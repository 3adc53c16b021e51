/* guard_refuse.h -- who may say what: a report counts only from a peer that said
 * HELLO with a role that sends it; refusals are logged at most once a second per
 * reason and counted in the stats hash; a parser or writer forgotten for silence
 * is known again (recalled) by its connection's identity. */
#ifndef BROKER_GUARD_REFUSE_H
#define BROKER_GUARD_REFUSE_H

#include <stddef.h>

#include "broker.h"

/* The peer of a replayed report: admitted when it arrived. */
#define BROKER_PEER_REPLAY (-2)

typedef enum {
    GUARD_NO_HELLO,    /* a report from a peer that has not said HELLO */
    GUARD_WRONG_ROLE,  /* a report its role may not send */
    GUARD_NOT_HELD,    /* DONE for a URL not out at this fetcher */
    GUARD_NOT_LEASED,  /* DISCOVERED, redirect, WRITTEN or DEAD for a URL not leased */
    GUARD_ROLE_CHANGE, /* HELLO with another role than the peer said before */
    GUARD_UNPROVEN,    /* a writer's DISCOVERED without the page's proof of lease */
    GUARD_NREASONS
} guard_reason;

/* Sets up the refusals' state (b->refusals). Returns 0, or -1 when out of memory. */
int broker_guard_refuse_open(broker *b);
void broker_guard_refuse_close(broker *b);

/* A well-formed message of type t counts only from a peer that said HELLO with a
 * role that sends it (BROKER_PEER_REPLAY: always). Returns 1, or 0 after
 * refusing it (logged, counted). A malformed message is a bad message whoever
 * sent it, so handlers parse first. */
int broker_guard_admitted(broker *b, int peer, zc_msg_type t);
/* Counts one refused message (or URL report) and logs it, at most once a second
 * per reason. */
void broker_guard_refuse(broker *b, guard_reason why, const char *type, int peer, const char *detail);
/* Remembers the role and name a peer said in its HELLO, so that a parser or
 * writer forgotten for silence is known again by its next message. */
void broker_guard_remember(broker *b, int peer);
/* A message came from an identity dispatch does not know: when it said HELLO
 * before on that connection as a parser or writer, it is a peer again (same role
 * and name) and its index is returned; else -1. */
int broker_guard_recall(broker *b, const void *id, size_t idlen);
/* Adds the refusals counted since the last call to the stats hash (a failure
 * keeps them for the next call). */
void broker_guard_refuse_flush(broker *b);

#endif
