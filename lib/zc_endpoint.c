/* zc_endpoint.c -- binds or connects a ZeroMQ socket to each endpoint of a list. */
#include "zc_endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#define ENDPOINT_MAX 256

int zc_endpoint_ok(const char *e) {
    const char *sep = e ? strstr(e, "://") : NULL;
    return sep && sep > e && sep[3] != '\0';
}

/* Takes the next endpoint of the list at *p into ep (without its '@' or '>'), sets
 * *bind, and moves *p past it. Returns 1, 0 at the end of the list, or -1 with a
 * reason in err when the entry is malformed. */
static int endpoint_next(const char **p, const char *spec, char *ep, size_t cap, int *bind, char *err,
                         size_t errlen) {
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
    if (!zc_endpoint_ok(ep)) {
        snprintf(err, errlen, "'%.200s' is not an endpoint such as tcp://host:5556", ep);
        return -1;
    }
    *p = end ? end + 1 : NULL;
    return 1;
}

int zc_endpoint_list_ok(const char *spec, char *err, size_t errlen) {
    char ep[ENDPOINT_MAX];
    int bind, rc;
    const char *p = spec;
    if (!spec || !*spec) {
        snprintf(err, errlen, "no endpoint given");
        return -1;
    }
    while ((rc = endpoint_next(&p, spec, ep, sizeof(ep), &bind, err, errlen)) == 1) {}
    return rc;
}

int zc_endpoint_attach(void *sock, const char *spec, char *err, size_t errlen) {
    char ep[ENDPOINT_MAX];
    int bind, rc;
    const char *p = spec;
    if (zc_endpoint_list_ok(spec, err, errlen) != 0) return -1;
    while ((rc = endpoint_next(&p, spec, ep, sizeof(ep), &bind, err, errlen)) == 1) {
        if ((bind ? zmq_bind(sock, ep) : zmq_connect(sock, ep)) != 0) {
            snprintf(err, errlen, "cannot %s %s: %s", bind ? "bind" : "connect to", ep, zmq_strerror(errno));
            return -1;
        }
    }
    return rc;
}
