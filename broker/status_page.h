/* status_page.h -- the broker's status page: the page itself (HTML, CSS and JS
 * compiled in), /status.json from one read of the crawl (lib/zc_crawlstat), and
 * the rates of the last minutes, sampled by a thread of its own. metrics.c
 * serves it on the --metrics address. */
#ifndef BROKER_STATUS_PAGE_H
#define BROKER_STATUS_PAGE_H

#include <stddef.h>

#include "zc_buf.h"
#include "zc_crawlstat.h"
#include "zc_redis.h"

#define STATUS_PAGE_HOSTS_MAX 10000 /* hosts of each of ready and active counted per refresh */
#define STATUS_PAGE_SAMPLE_MS 2000  /* one point of the rates chart */
#define STATUS_PAGE_POINTS    300   /* points kept: ten minutes */

typedef struct broker_status_page broker_status_page;

/* Starts the sampler: every STATUS_PAGE_SAMPLE_MS it reads the crawl's counters
 * over a Redis connection of its own (a is copied; a failure is retried at the
 * next tick). Returns it, or NULL with a one-line reason in err. */
broker_status_page *broker_status_page_start(const zc_redis_addr *a, const char *crawl, char *err, size_t errlen);
/* Stops the sampler and frees it; NULL is fine. */
void broker_status_page_stop(broker_status_page *p);

/* The page's file at url ("/", "/status.css", "/status.js"): sets *data, *len
 * and *type and returns 1, or returns 0 when url is none of them. */
int broker_status_page_asset(const char *url, const void **data, size_t *len, const char **type);

/* Renders /status.json: the read as zc_crawlstat_json has it, plus "history"
 * (interval_ms, points: [t_ms, pages/s, documents/s], oldest first). Returns 0,
 * or -1 when out of memory. */
int broker_status_page_json(broker_status_page *p, const zc_crawlstat *s, const char *crawl, const char *where,
                            zc_buf *out);

#endif
