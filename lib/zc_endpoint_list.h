/* zc_endpoint_list.h -- lists of ZeroMQ endpoints as the stages' flags give them:
 * comma-separated, "@ep" binds and "ep" or ">ep" connects (the convention of
 * CZMQ's zsock_attach), a connect may end in "#ROLE" (the role whose keypair the
 * stage bound there serves with, lib/zc_curve.h). Text only: no socket. */
#ifndef ZC_ENDPOINT_LIST_H
#define ZC_ENDPOINT_LIST_H

#include <stddef.h>

/* Nonzero when e looks like one ZeroMQ endpoint, "transport://address"; the rest
 * is zmq_bind's or zmq_connect's to judge. */
int zc_endpoint_ok(const char *e);

/* Checks spec the way zc_endpoint_attach (zc_endpoint.h) does, without a socket. Returns 0, or -1
 * with a one-line reason in err. */
int zc_endpoint_list_ok(const char *spec, char *err, size_t errlen);

/* Calls fn for each entry of spec in order, with the endpoint (without its '@',
 * '>' or "#ROLE"), whether it binds, and the ROLE ("" for none). Stops at the
 * first entry for which fn returns nonzero and returns that; fn writes its reason
 * into err. Returns 0 after the last entry, or -1 with a reason in err when spec
 * is malformed. */
typedef int (*zc_endpoint_fn)(const char *ep, int bind, const char *server, void *arg, char *err,
                              size_t errlen);
int zc_endpoint_foreach(const char *spec, zc_endpoint_fn fn, void *arg, char *err, size_t errlen);

#endif
