/* zc_endpoint.c -- binds or connects a ZeroMQ socket to each endpoint of a list. */
#include "zc_endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "zc_curve.h"
#include "zc_msg.h"

static int attach_one(const char *ep, int bind, const char *server, void *arg, char *err, size_t errlen) {
    void **cs = arg; /* { ctx, sock } */
    return bind ? zc_curve_bind(cs[0], cs[1], ep, NULL, err, errlen)
                : zc_curve_connect(cs[1], ep, *server ? server : NULL, err, errlen);
}

int zc_endpoint_attach(void *ctx, void *sock, const char *spec, char *err, size_t errlen) {
    if (zc_endpoint_list_ok(spec, err, errlen) != 0) return -1;
    void *cs[2] = { ctx, sock };
    return zc_endpoint_foreach(spec, attach_one, cs, err, errlen);
}

void *zc_endpoint_socket(void *ctx, int type, int hwm, int linger_ms, const char *spec, const char *flag,
                         char *err, size_t errlen) {
    void *s = zmq_socket(ctx, type);
    if (!s) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int push = type == ZMQ_PUSH, immediate = 1;
    if (zmq_setsockopt(s, push ? ZMQ_SNDHWM : ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger_ms, sizeof(linger_ms)) != 0 || zc_msg_limit(s) != 0 ||
        (push && zmq_setsockopt(s, ZMQ_IMMEDIATE, &immediate, sizeof(immediate)) != 0)) {
        snprintf(err, errlen, "zmq_setsockopt: %s", zmq_strerror(errno));
        goto err;
    }
    /* The reason goes after the flag's name, so it is never cut to fit a copy. */
    size_t o = 0;
    if (flag) {
        int n = snprintf(err, errlen, "--%s: ", flag);
        if (n > 0 && (size_t)n < errlen) o = (size_t)n;
    }
    if (zc_endpoint_attach(ctx, s, spec, err + o, errlen - o) != 0) goto err;
    return s;
err:
    zmq_close(s);
    return NULL;
}
