/* fetch_config.c -- the fetcher's settings: defaults and derived sizes. */
#include "fetch_config.h"

#include <string.h>

/* Automatic receive buffer: all of curl's buffers together near 1 MiB, each
 * between 1 and 16 KiB (curl's default). 1000 transfers then fit in 30 MB. */
#define FETCH_RECV_BUDGET (1024L * 1024)
#define FETCH_RECV_MIN    1024L
#define FETCH_RECV_MAX    (16L * 1024)

void fetch_config_defaults(fetch_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->broker = "tcp://127.0.0.1:5555";
    cfg->pages = "tcp://127.0.0.1:5556";
    cfg->name = "";
    cfg->user_agent = "zcrawl/0.1 (+https://github.com/zcrawl/zcrawl; polite distributed crawler)";
    cfg->proxy = "";
    cfg->concurrency = 64;
    cfg->max_body = 8L * 1024 * 1024;
    cfg->connect_timeout_ms = 5000;
    cfg->timeout_ms = 30000;
    cfg->heartbeat_ms = 1000;
    cfg->drain_ms = 5000;
    cfg->pages_hwm = 1000;
    cfg->stats_ms = 10000;
    cfg->recv_buffer = 0;
    cfg->max_redirs = 5;
    cfg->max_retry_after_ms = 600000;
    cfg->max_held_bytes = 64L * 1024 * 1024;
    cfg->allow_private = 0;
    cfg->allow_private_origins = "";
}

int fetch_config_check(const fetch_config *cfg) {
    if (cfg->concurrency < 1 || cfg->max_body < 1 || cfg->heartbeat_ms < 1 || cfg->stats_ms < 1 ||
        cfg->drain_ms < 0 || cfg->max_redirs < 0 || cfg->max_retry_after_ms < 0 || cfg->max_held_bytes < 1)
        return -1;
    return 0;
}

long fetch_recv_buffer_size(long configured, long concurrency) {
    if (configured > 0) return configured;
    long b = FETCH_RECV_BUDGET / (concurrency > 0 ? concurrency : 1);
    if (b > FETCH_RECV_MAX) b = FETCH_RECV_MAX;
    if (b < FETCH_RECV_MIN) b = FETCH_RECV_MIN;
    return b & ~1023L; /* whole KiB */
}

long fetch_keep_conns(long concurrency) { return concurrency + 16; }

long fetch_max_conns(long concurrency) { return 2 * fetch_keep_conns(concurrency); }
