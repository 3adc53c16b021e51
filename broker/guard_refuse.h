/* guard_refuse.h -- who may say what: a report counts only from a peer that said
 * HELLO with a role that sends it; with CURVE keys a peer's role is its key's
 * (the ZAP User-Id of each message: "fetcher", "parser-2", role first) and a
 * HELLO claiming another is refused; refusals are logged at most once a second
 * per reason and counted in the stats hash (refused_messages, and
 * refused_<reason> for each reason); a parser or writer forgotten for silence is
 * known again (recalled) by its connection's identity and its key. */
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
    GUARD_KEY_ROLE,    /* with keys: a HELLO claiming another role than its key's, or a
                        * message under another key than the peer's HELLO */
    GUARD_TOO_LONG,    /* a message over the bound in frames or bytes */
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
/* Remembers the role, name and key a peer said its HELLO with, so that a parser
 * or writer forgotten for silence is known again by its next message. */
void broker_guard_remember(broker *b, int peer);
/* A message under key (the ZAP User-Id, "" without keys) came from an identity
 * dispatch does not know: when it said HELLO before on that identity as a parser
 * or writer under the same key, it is a peer again (same role, name and key) and
 * its index is returned; -2 when it did so under another key (the message is
 * refused, reason role: drop it); else -1. */
int broker_guard_recall(broker *b, const void *id, size_t idlen, const char *key);

/* The role a key's name gives: its first word up to '-' or '.' ("parser-2":
 * parser); DISPATCH_OTHER for "" or any other word. */
dispatch_role broker_guard_key_role(const char *key);
/* With keys, a HELLO claiming role r under key counts only when r is the key's
 * role. Returns 1 (also without keys), or 0 after refusing it (reason role). */
int broker_guard_hello_key(broker *b, int peer, const char *key, dispatch_role r);
/* A message of type t under key from a peer that said HELLO counts only under
 * the key it said HELLO with (a routing id reused by another key, after the
 * peer left, speaks for nobody). Returns 1 (also for a peer without HELLO, and
 * without keys), or 0 after refusing it (reason role). */
int broker_guard_key_admitted(broker *b, int peer, zc_msg_type t, const char *key);
/* Adds the refusals counted since the last call to the stats hash (a failure
 * keeps them for the next call). */
void broker_guard_refuse_flush(broker *b);

#endif
