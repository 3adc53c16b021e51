/* zc_endpoint.c -- binds or connects a ZeroMQ socket to each endpoint of a list. */
#include "zc_endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "zc_curve.h"
#include "zc_msg.h"

#define ENDPOINT_MAX 256
#define SERVER_MAX   16

int zc_endpoint_ok(const char *e) {
    const char *sep = e ? strstr(e, "://") : NULL;
    return sep && sep > e && sep[3] != '\0';
}

/* Takes the next endpoint of the list at *p into ep (without its '@' or '>') and
 * its "#ROLE" into server, sets *bind, and moves *p past it. Returns 1, 0 at the
 * end of the list, or -1 with a reason in err when the entry is malformed. */
static int endpoint_next(const char **p, const char *spec, char *ep, size_t cap, int *bind, char *server,
                         char *err, size_t errlen) {
    if (!*p) return 0;
    const char *end = strchr(*p, ',');
    size_t n = end ? (size_t)(end - *p) : strlen(*p);
    *bind = n > 0 && **p == '@';
    size_t skip = n > 0 && (**p == '@' || **p == '>');
    if (n == 0 || n - skip >= cap) {
        snprintf(err, errlen, "'%.200s' is not a list of endpoints such as tcp://host:5556", spec);
        return -1;
    }
    memcpy(ep, *p + skip, n - skip);
    ep[n - skip] = '\0';
    server[0] = '\0';
    char *hash = strchr(ep, '#');
    if (hash) {
        *hash = '\0';
        const char *role = hash + 1;
        if (*bind) {
            snprintf(err, errlen, "'%.200s#%.20s': a bound endpoint serves with this stage's own key; "
                                  "'#ROLE' belongs on connects",
                     ep, role);
            return -1;
        }
        if (strcmp(role, "broker") && strcmp(role, "fetcher") && strcmp(role, "parser") &&
            strcmp(role, "writer")) {
            snprintf(err, errlen, "'%.200s#%.20s': the role after '#' is broker, fetcher, parser or writer",
                     ep, role);
            return -1;
        }
        snprintf(server, SERVER_MAX, "%s", role);
    }
    if (!zc_endpoint_ok(ep)) {
        snprintf(err, errlen, "'%.200s' is not an endpoint such as tcp://host:5556", ep);
        return -1;
    }
    *p = end ? end + 1 : NULL;
    return 1;
}

int zc_endpoint_foreach(const char *spec, zc_endpoint_fn fn, void *arg, char *err, size_t errlen) {
    char ep[ENDPOINT_MAX], server[SERVER_MAX];
    int bind, rc;
    const char *p = spec;
    if (!spec || !*spec) {
        snprintf(err, errlen, "no endpoint given");
        return -1;
    }
    while ((rc = endpoint_next(&p, spec, ep, sizeof(ep), &bind, server, err, errlen)) == 1) {
        if (!fn) continue;
        int r = fn(ep, bind, server, arg, err, errlen);
        if (r != 0) return r;
    }
    return rc;
}

int zc_endpoint_list_ok(const char *spec, char *err, size_t errlen) {
    return zc_endpoint_foreach(spec, NULL, NULL, err, errlen);
}

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
