/* metrics.h -- the broker's Prometheus endpoint: GET /metrics in the text
 * exposition format, read from the crawl's Redis keys on each scrape. */
#ifndef BROKER_METRICS_H
#define BROKER_METRICS_H

#include <stddef.h>

#include "zc_buf.h"

typedef struct broker_metrics broker_metrics;

/* Splits "host:port", ":port" (every IPv4 interface) or "[v6]:port" into host
 * (empty for none) and port. Returns 0, or -1 with a one-line reason in err. */
int broker_metrics_parse_addr(const char *addr, char *host, size_t hostlen, int *port,
                              char *err, size_t errlen);

/* Checks addr as broker_metrics_parse_addr does, before anything starts.
 * Returns 0, or -1 with a one-line reason in err. */
int broker_metrics_check(const char *addr, char *err, size_t errlen);

/* Binds addr and serves /metrics from its own thread with its own Redis
 * connection to redis_uri (made at the first scrape, remade after a failure), so
 * it never touches the broker's state. Returns the server, or NULL with a
 * one-line reason in err when addr is bad or cannot be bound. */
broker_metrics *broker_metrics_start(const char *addr, const char *redis_uri, const char *crawl,
                                     char *err, size_t errlen);

/* Stops the server and frees it; NULL is fine. */
void broker_metrics_stop(broker_metrics *m);

/* Appends v to out as a Prometheus label value (backslash, double quote and
 * newline escaped). Returns 0, or -1 when out of memory. */
int broker_metrics_label(zc_buf *out, const char *v);

#endif
