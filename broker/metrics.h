/* metrics.h -- the broker's HTTP server on --metrics: GET /metrics in the
 * Prometheus text format and the status page (/, /status.json), read from the
 * crawl's Redis keys on each request; HTTP basic auth with a password file. */
#ifndef BROKER_METRICS_H
#define BROKER_METRICS_H

#include <stddef.h>

#include "zc_buf.h"

typedef struct broker_metrics broker_metrics;

/* Splits "host:port", ":port" (every IPv4 interface) or "[v6]:port" into host
 * (empty for none) and port. Returns 0, or -1 with a one-line reason in err. */
int broker_metrics_parse_addr(const char *addr, char *host, size_t hostlen, int *port,
                              char *err, size_t errlen);

/* 1 when host is a loopback address (127.0.0.0/8, ::1, localhost), else 0 ("": every interface). */
int broker_metrics_loopback(const char *host);

/* Checks addr as broker_metrics_parse_addr does, before anything starts; an
 * address beyond loopback needs a password_file unless open_ok (--insecure).
 * Returns 0, or -1 with a one-line reason in err. */
int broker_metrics_check(const char *addr, const char *password_file, int open_ok, char *err, size_t errlen);

/* Binds addr and serves /metrics and the status page from its own thread with
 * its own Redis connection to redis_uri (made at the first request, remade after
 * a failure), so it never touches the broker's state. With password_file (its
 * first line) every request needs HTTP basic auth as user zcrawl. Returns the
 * server, or NULL with a one-line reason in err when addr is bad or cannot be
 * bound, or the password file cannot be read. */
broker_metrics *broker_metrics_start(const char *addr, const char *redis_uri, const char *crawl,
                                     const char *password_file, char *err, size_t errlen);

/* Stops the server and frees it; NULL is fine. */
void broker_metrics_stop(broker_metrics *m);

/* Appends v to out as a Prometheus label value (backslash, double quote and
 * newline escaped). Returns 0, or -1 when out of memory. */
int broker_metrics_label(zc_buf *out, const char *v);

#endif
