/* zc_peer.h -- a stage's DEALER connection to the broker (zguide's Paranoid Pirate
 * worker side).
 *
 * The peer says HELLO on connect, sends a HEARTBEAT every interval when it has
 * sent nothing else, and counts the broker dead after three silent intervals:
 * then it closes the socket and reconnects with doubling backoff (capped), saying
 * HELLO again. Every message received from the broker counts as a sign of life.
 *
 * A socket monitor on the DEALER tells what silence cannot: a handshake the two
 * sides cannot agree on (keys against a broker without, no keys against one with,
 * a key the broker does not list) is logged on this side within a tick, with
 * what to change; a reconnect is logged (and counted) once its handshake
 * succeeded, not when a socket is merely opened again. */
#ifndef ZC_PEER_H
#define ZC_PEER_H

#include <stdint.h>
#include "zc_msg.h"

typedef struct zc_peer {
    void *ctx;
    void *sock;
    void *mon; /* PAIR reading sock's monitor events */
    char endpoint[256];
    char role[16];
    char name[64];
    int64_t hb_ivl_ms;    /* heartbeat interval */
    int64_t last_recv_ms; /* last message from the broker */
    int64_t last_send_ms;
    int64_t backoff_ms;     /* next reconnect delay: doubles up to 32 intervals */
    int64_t reconnect_at;   /* 0 when connected */
    int64_t last_tick_ms;   /* previous zc_peer_tick */
    uint64_t reconnects;    /* reconnects whose handshake succeeded */
    uint64_t dropped;       /* malformed or unexpected messages received */
    int handshake_ok;       /* this socket's handshake succeeded */
    int reopened;           /* this socket replaced one: log the reconnect once it works */
    uint64_t hs_failed;     /* failed handshakes since the last that worked */
    int64_t hs_log_at;      /* next time a failed handshake may be logged */
    int hs_logged_specific; /* a failure that says why was logged */
} zc_peer;

/* Connects to endpoint and sends HELLO with credit. name is what the broker logs
 * (NULL or "": ROLE-HOST-PID). Returns 0, or -1 with a reason in err (bad
 * endpoint, socket failure, name longer than 63 bytes). */
int zc_peer_open(zc_peer *p, void *ctx, const char *endpoint, const char *role,
                 const char *name, int64_t hb_ivl_ms, int credit, char *err, size_t errlen);
void zc_peer_close(zc_peer *p);
/* Heartbeats, liveness and reconnects: call at least every zc_peer_timeout() ms.
 * credit is what a fresh HELLO grants after a reconnect. Returns 1 when the peer
 * reconnected in this call (the broker forgot our credit), else 0. A reconnect
 * replaces p->sock, so a loop watching its ZMQ_FD must fetch it again. */
int zc_peer_tick(zc_peer *p, int64_t now, int credit);
/* Milliseconds until zc_peer_tick has something to do (>= 0). */
int64_t zc_peer_timeout(const zc_peer *p, int64_t now);
/* Sends a message to the broker (non-blocking). Returns 0, or -1 (errno EAGAIN
 * when the queue to the broker is full). */
int zc_peer_send(zc_peer *p, zc_msg_type type, const zc_frame *frames, int n);
/* Receives one message without blocking. HEARTBEATs are absorbed (they only
 * prove the broker alive). Returns 0 with m filled, -1 when nothing else is
 * waiting, -2 for a malformed message (counted in dropped and logged). */
int zc_peer_recv(zc_peer *p, zc_msg *m);

/* Leases held downstream (docs/PROTOCOL.md, HOLD): the lease a stage assumes when
 * none is given, as the broker's default --lease-ms. */
#define ZC_PEER_LEASE_MS 30000

/* The interval at which a stage HOLDs what it holds, for leases of lease_ms:
 * hold_ms when given (> 0), else a third of lease_ms. A document's first HOLD comes
 * up to one interval after it arrived, which may itself be an interval after its
 * lease was last renewed upstream; a third leaves a third of the lease for the way
 * there. Returns the interval, or -1 with a one-line reason in err when hold_ms is
 * over a third of lease_ms (settings that contradict each other). */
long zc_peer_hold_ms(long lease_ms, long hold_ms, char *err, size_t errlen);

#endif
