/* fetch_config.h -- the fetcher's settings: what the flags fill in, with defaults. */
#ifndef FETCH_CONFIG_H
#define FETCH_CONFIG_H

typedef struct fetch_config {
    const char *broker; /* control endpoint the DEALER connects to */
    const char *pages;  /* pages-in endpoint the PUSH connects to */
    const char *name;   /* name in HELLO; "" or NULL for role-host-pid */
    const char *user_agent;
    const char *proxy; /* "" or NULL for none */
    long concurrency;  /* transfer slots = credit granted in HELLO */
    long max_body;     /* bytes of decoded body before "body too large" */
    long connect_timeout_ms;
    long timeout_ms; /* whole transfer, redirects included */
    long heartbeat_ms;
    long drain_ms;                     /* how long SHUTDOWN/SIGTERM waits for transfers */
    long pages_hwm;                    /* ZMQ_SNDHWM of the pages socket */
    long stats_ms;                     /* counters logged this often */
    long recv_buffer;                  /* curl's receive buffer per transfer; 0 = automatic */
    long max_redirs;                   /* redirects to the job URL itself followed per job */
    long max_retry_after_ms;           /* cap on the Retry-After passed to the broker */
    long max_held_bytes;               /* page bytes held before credit stops and transfers pause */
    int allow_private;                 /* connect to loopback, private, link-local, ... addresses */
    const char *allow_private_origins; /* comma-separated origins exempt from the guard; "" or NULL: none */
    const char *spec;                  /* --spec: the crawl spec whose "headers" go with requests; NULL for none */
    const char *spec_origins;          /* --spec-origins: the URLs whose origins get them (comma-separated) */
    const struct fetch_spec *headers;  /* spec and spec_origins loaded (fetch_spec.h); NULL for none */
} fetch_config;

/* Fills cfg with the documented defaults (all strings static). */
void fetch_config_defaults(fetch_config *cfg);

/* 0 when cfg's numbers are usable, -1 when one is out of range (the flags table
 * keeps them in range; this guards callers that fill cfg themselves). */
int fetch_config_check(const fetch_config *cfg);

/* curl's receive buffer for a transfer: configured when > 0, else about 1 MiB
 * shared by all transfers, between 1 KiB and 16 KiB. */
long fetch_recv_buffer_size(long configured, long concurrency);

/* Connections libcurl may keep open for reuse: the concurrency and a few idle.
 * Transfers started at or above it close their connection when done. */
long fetch_keep_conns(long concurrency);
/* CURLMOPT_MAXCONNECTS: above what fetch_keep_conns lets libcurl hold (every slot
 * starting a connection just under the budget), so libcurl never closes one itself. */
long fetch_max_conns(long concurrency);

#endif
