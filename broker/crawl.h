/* crawl.h -- a crawl's start, meta and end: start URLs checked and seeded, the
 * run begun in the meta hash (after --fresh cleared the crawl), the meta checked
 * to be still this run's, and the end of a run with its summary and exit code. */
#ifndef BROKER_CRAWL_H
#define BROKER_CRAWL_H

#include <stddef.h>

#include "broker.h"

/* Checks a start URL. Returns -1 after a one-line message on stderr when it is
 * not an absolute http(s) URL zcrawl can crawl. */
int broker_check_start(const char *url);
/* Seeds start (may be NULL or "") and args[0..nargs) in one Redis call. Returns
 * 0, or -1 after a one-line message on stderr. */
int broker_seed(broker *b, const char *start, char *const *args, size_t nargs);
/* Begins this run in the crawl's meta hash (after --fresh cleared the crawl).
 * Returns 0 to crawl, 1 when the crawl is complete already (the one line is
 * printed), -2 when the crawl of that name is recorded with another --identity,
 * or -1 after a one-line message on stderr (state lost, Redis). */
int broker_begin(broker *b);
/* After a broker's restart: the leases of the one before end within
 * --recover-ms (nobody renews them) and every host it had checked out goes back
 * to ready. Returns 0, or -1 after a one-line message on stderr (Redis). */
int broker_take_over(broker *b);
/* Checks that the meta hash is still this run's; if not, marks the crawl failed
 * (b->failed) and returns -1. Returns 0 while ours, or on a Redis error (noted,
 * retried at the next maintenance). */
int broker_check_meta(broker *b);
/* The crawl was complete already: answers SHUTDOWN to every stage that speaks
 * within --linger-ms. Returns the crawl's exit code (0, 1 with dead letters). */
int broker_linger(broker *b);
/* Ends this run: meta state, the summary line (this run's counts), and returns
 * the exit code. */
int broker_end(broker *b);

#endif
