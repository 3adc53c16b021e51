/* broker.c -- the lifetime struct's own helpers: the crawl failing, and the
 * window of open leases. */
#include "broker.h"

#include <stdarg.h>
#include <stdio.h>

#include "zc_log.h"

void broker_fail(broker *b, const char *fmt, ...) {
    if (b->failed) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->fail_reason, sizeof(b->fail_reason), fmt, ap);
    va_end(ap);
    b->failed = 1;
    zc_error("crawl_failed", "crawl=%s reason=\"%s\"", b->conf->crawl, b->fail_reason);
}

long broker_window(const broker *b) {
    if (b->conf->window > 0) return b->conf->window;
    long w = 4 * dispatch_total_capacity(&b->d);
    return w < 256 ? 256 : w;
}
