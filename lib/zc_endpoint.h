/* zc_endpoint.h -- attaching a ZeroMQ socket to a list of endpoints, each bound or connected. */
#ifndef ZC_ENDPOINT_H
#define ZC_ENDPOINT_H

#include <stddef.h>

/* Nonzero when e looks like one ZeroMQ endpoint, "transport://address"; the rest
 * is zmq_bind's or zmq_connect's to judge. */
int zc_endpoint_ok(const char *e);

/* Attaches sock to every endpoint of spec, a comma-separated list in which "@ep"
 * binds and "ep" or ">ep" connects (the convention of CZMQ's zsock_attach). So a
 * parser can bind "@tcp://0.0.0.0:6000" for fetchers that connect to it directly, and a
 * fetcher can connect one PUSH to several parsers: "tcp://p1:6000,tcp://p2:6000".
 * Returns 0, or -1 with a one-line reason in err (a malformed list, or the first
 * endpoint that cannot be bound or connected). */
int zc_endpoint_attach(void *sock, const char *spec, char *err, size_t errlen);

/* Checks spec the way zc_endpoint_attach does, without a socket. Returns 0, or -1
 * with a one-line reason in err. */
int zc_endpoint_list_ok(const char *spec, char *err, size_t errlen);

#endif
