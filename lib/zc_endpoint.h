/* zc_endpoint.h -- attaching a ZeroMQ socket to a list of endpoints
 * (zc_endpoint_list.h, included), each bound or connected with CURVE when the
 * process has keys (zc_curve.h). */
#ifndef ZC_ENDPOINT_H
#define ZC_ENDPOINT_H

#include <stddef.h>

#include "zc_endpoint_list.h"

/* Attaches sock to every endpoint of spec, a comma-separated list in which "@ep"
 * binds and "ep" or ">ep" connects (the convention of CZMQ's zsock_attach). So a
 * parser can bind "@tcp://0.0.0.0:6000" for fetchers that connect to it directly, and a
 * fetcher can connect one PUSH to several parsers: "tcp://p1:6000,tcp://p2:6000".
 * A connect entry may end in "#ROLE": with CURVE keys (lib/zc_curve.h) the stage
 * bound there serves with ROLE's keypair ("tcp://p1:6000#parser"); without it the
 * server is the broker. Binds go through zc_curve_bind (ctx runs the ZAP handler),
 * connects through zc_curve_connect. Returns 0, or -1 with a one-line reason in err
 * (a malformed list, or the first endpoint that cannot be bound or connected). */
int zc_endpoint_attach(void *ctx, void *sock, const char *spec, char *err, size_t errlen);

/* Opens a stage's data socket: type ZMQ_PUSH or ZMQ_PULL, hwm its send (PUSH) or
 * receive (PULL) high-water mark, linger_ms its linger, the message size limit
 * (zc_msg_limit), and for a PUSH ZMQ_IMMEDIATE, so that messages queue only for
 * peers that are connected; then attaches it to spec. Returns the socket, or NULL
 * with a one-line reason in err; a spec that cannot be attached is named "--flag: "
 * in it when flag is not NULL. */
void *zc_endpoint_socket(void *ctx, int type, int hwm, int linger_ms, const char *spec, const char *flag,
                         char *err, size_t errlen);

#endif
