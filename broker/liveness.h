/* liveness.h -- which peers are alive, silent or gone (Paranoid Pirate
 * heartbeats plus the ROUTER's connection events; liveness.c says the rule). */
#ifndef BROKER_LIVENESS_H
#define BROKER_LIVENESS_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"

/* Watches the ROUTER's connections (zmq_socket_monitor). Returns 0, or -1 with a
 * reason in err. */
int broker_monitor_open(broker *b, char *err, size_t errlen);
void broker_monitor_close(broker *b);
/* Handles every connection event waiting: a fetcher whose connection closed is
 * gone and its JOBs go back to the frontier at once. Never fails. */
void broker_monitor_drain(broker *b, int64_t now);
/* A message from peer arrived over socket fd: it is alive. */
void broker_peer_seen(broker *b, int peer, int fd, int64_t now);
/* Heartbeats every peer; a silent fetcher is paused, a silent parser or writer
 * forgotten, a fetcher silent for a whole lease forgotten. Never fails. */
void broker_heartbeat(broker *b, int64_t now);
/* The broker itself did not run for gap ms (stopped, or starved): nobody is
 * judged on that time, and connections that close soon after are taken for
 * stages reconnecting, not dying. */
void broker_stalled(broker *b, int64_t now, int64_t gap);

#endif
