/* guard_scope.h -- the crawl's scope: the origins of its start URLs and seeds
 * (kept in the crawl's scope set in Redis, for later brokers) plus --allow-host
 * patterns. URLs outside it are dropped and counted (out_of_scope). */
#ifndef BROKER_GUARD_SCOPE_H
#define BROKER_GUARD_SCOPE_H

#include <stddef.h>

#include "broker.h"

/* Checks an --allow-host list. Returns 0, or -1 with a reason in err. */
int broker_guard_check_hosts(const char *list, char *err, size_t errlen);
/* Builds the scope (b->scope: origins in the crawl's scope set, of starts[0..n)
 * and of conf->start, plus --allow-host) and hooks seeds into it. Returns 0, or
 * -1 with a reason in err (bad --allow-host, Redis, out of memory). */
int broker_guard_scope_open(broker *b, char *const *starts, size_t n, char *err, size_t errlen);
void broker_guard_scope_close(broker *b);
/* 1 when url is in the crawl's scope. */
int broker_guard_in_scope(broker *b, const char *url);
/* Counts n URLs dropped as out of scope. */
void broker_guard_out_of_scope(broker *b, long n);
/* Adds the URLs counted out of scope since the last call to the stats hash (a
 * failure keeps them for the next call). */
void broker_guard_scope_flush(broker *b);

#endif
