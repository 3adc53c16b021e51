/* fetch_pages.h -- the fetcher's pages socket: PAGE out to parsers (or the broker's
 * pages-in), each body handed to ZeroMQ without a copy.
 *
 * A PUSH: pages queue only for parsers that are connected, so with several none
 * gets pages while it is down, and with none the pages wait in the pool. A body
 * counts in the pool's held bytes until ZeroMQ's I/O thread frees it. */
#ifndef FETCH_PAGES_H
#define FETCH_PAGES_H

#include <stddef.h>
#include <stdint.h>

#include "fetch_config.h"
#include "fetch_xfer.h"

typedef struct fetch_pages {
    void *sock;
    int fd; /* its ZMQ_FD, for the event base */
    uint64_t bytes, lost;
} fetch_pages;

/* Opens the PUSH socket on cfg->pages. Returns 0, or -1 with a reason in err;
 * fetch_pages_close frees what was made either way. */
int fetch_pages_open(fetch_pages *pg, void *zctx, const fetch_config *cfg, char *err, size_t errlen);
void fetch_pages_close(fetch_pages *pg);
/* 1 when the socket takes a page now. The ZMQ_EVENTS query re-arms the
 * edge-triggered ZMQ_FD, so ask before going back to sleep. */
int fetch_pages_writable(fetch_pages *pg);
/* Sends x's PAGE; its body goes to ZeroMQ (x keeps none). Returns 0, or -1 with a
 * reason (the page is lost: the broker asks for it again). */
int fetch_pages_send(fetch_pages *pg, fetch_pool *pool, fetch_xfer *x, char *reason, size_t reasonlen);

#endif
