/* zc_zap.h -- the ZAP handler (ZeroMQ RFC 27): one thread per process, on the
 * ZeroMQ context of the server sockets it judges. It admits a CURVE client whose
 * public key is in the store it was started with and whose role (the key's name
 * up to its first '-' or '.') is one of the comma-separated roles in the
 * socket's ZAP domain; it refuses everything else, counting and logging the
 * refusals (at most one line a second). Its reply names the admitted key in
 * User-Id, so a server reads who sent each message with
 * zmq_msg_gets(msg, "User-Id") ("fetcher", "parser-2", ...).
 *
 * The same thread counts and logs the handshakes of those sockets that fail
 * before ZAP judges a key (a peer without CURVE, a wrong server key). */
#ifndef ZC_ZAP_H
#define ZC_ZAP_H

#include <stddef.h>
#include <stdint.h>

#include "zc_cert.h"

/* Starts the handler on ctx, judging by keys (read by its thread from then on:
 * keys must outlive it and not change while it runs). Once per process: a second
 * call with the same ctx does nothing. Returns 0, or -1 with a reason in err
 * (keys empty: keys->err; another context; no thread or socket). */
int zc_zap_start(void *ctx, const zc_cert_store *keys, char *err, size_t errlen);

/* Watches sock's failed handshakes from the handler's thread: a monitor endpoint
 * of its own, whose name goes to the thread. A socket has one monitor: whoever
 * installs another on sock replaces this watch, so it must ask for
 * ZC_ZAP_MONITOR_EVENTS too and hand each to zc_zap_handshake_event. Returns 0,
 * or -1 with a reason in err. */
int zc_zap_watch(void *ctx, void *sock, char *err, size_t errlen);

/* Connections the handler refused since the process started: a key not in its
 * store, or one whose role does not belong on that endpoint. */
uint64_t zc_zap_refused(void);

/* The events of a server socket's monitor (zmq_socket_monitor) that tell of a
 * handshake failed before ZAP judged a key: a client without CURVE, one that
 * expects another server key, junk, a peer that hung up mid-handshake. (A ZAP
 * refusal, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, is counted by the handler itself.) */
#define ZC_ZAP_MONITOR_EVENTS (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)

/* Counts one monitor event of a server socket bound to endpoint when it is a
 * failed handshake (any other event is ignored) and logs it as
 * event=handshake_refused, at most one line a second per process with the
 * number left out. Safe from any thread. Never fails. */
void zc_zap_handshake_event(unsigned event, uint32_t value, const char *endpoint);

/* Handshakes refused before ZAP since the process started, as far as libzmq
 * reports them (it does for a client without CURVE and for a wrong server key). */
uint64_t zc_zap_handshakes_refused(void);

#endif
