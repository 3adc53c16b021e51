/* zc_endpoint_list.c -- lists of ZeroMQ endpoints, each to bind or connect (zc_endpoint_list.h). */
#include "zc_endpoint_list.h"

#include <stdio.h>
#include <string.h>

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
