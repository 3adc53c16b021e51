/* metrics.c -- the broker's Prometheus endpoint (libmicrohttpd, one internal
 * polling thread): each scrape reads the crawl's stats and meta hashes and the
 * sizes of its keys from Redis over the thread's own connection. */
#include "metrics.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis.h>
#include <microhttpd.h>
#include <pthread.h>

#include "zc_log.h"
#include "zc_redis.h"
#include "zc_time.h"

#define METRICS_REDIS_TIMEOUT_MS 2000
#define METRICS_CONN_LIMIT       32
#define METRICS_CONN_TIMEOUT_S   10
#define CONTENT_TYPE             "text/plain; version=0.0.4; charset=utf-8"

/* One struct for the server's lifetime. The Redis context is used only by the
 * daemon's single polling thread (every request handler runs there). */
struct broker_metrics {
    struct MHD_Daemon *d;
    zc_redis_addr addr;
    char crawl[64];
    char keys[8][192];
    redisContext *rc;
    int redis_failing; /* for logging a failure once, and the recovery */
};

enum { K_STATS,
       K_META,
       K_FRONTIER,
       K_LEASES,
       K_DELAYED,
       K_DEAD,
       K_GONE,
       K_SEEDS,
       K_N };
static const char *const KEY_NAMES[K_N] = { "stats", "meta", "waiting", "leases", "delayed", "dead", "gone", "seeds" };
/* waiting is a counter (a string): a read-only script returns it as an integer. */
static const char *const KEY_CMDS[K_N] = { "HGETALL %s", "HGETALL %s",
                                           "EVAL_RO return(tonumber(redis.call('GET',KEYS[1]))or(0)) 1 %s",
                                           "ZCARD %s", "ZCARD %s", "LLEN %s", "HLEN %s", "LLEN %s" };

/* Counters of the stats hash as metrics. always: shown as 0 before the broker
 * first counts them; the others appear once a broker writes them. */
static const struct {
    const char *field, *name, *help;
    int always;
} COUNTERS[] = {
    { "fetched", "zcrawl_pages_fetched_total", "Pages downloaded.", 1 },
    { "discovered", "zcrawl_urls_discovered_total", "New URLs added to the frontier.", 1 },
    { "parsed", "zcrawl_pages_parsed_total", "Pages the parsers finished.", 1 },
    { "written", "zcrawl_documents_written_total", "Documents acknowledged by a writer's sink.", 1 },
    { "retried", "zcrawl_retries_total", "Transient failures put back for a retry.", 1 },
    { "dead", "zcrawl_dead_letters_total", "URLs given up on (the dead list).", 1 },
    { "gone", "zcrawl_pages_gone_total", "Pages that answered 404 or 410.", 1 },
    { "expired", "zcrawl_leases_expired_total", "Leases that ran out and were requeued.", 1 },
    { "redirected", "zcrawl_redirects_total", "Redirects to another origin, treated as discovered URLs.", 0 },
    { "out_of_scope", "zcrawl_out_of_scope_total", "URLs dropped as outside the crawl's scope.", 0 },
    { "robots", "zcrawl_robots_excluded_total", "URLs disallowed by robots.txt.", 0 },
    { "bad_messages", "zcrawl_bad_messages_total", "Malformed messages the broker dropped (since it started).", 1 },
    { "auth_refused", "zcrawl_auth_refused_total", "Connections refused for want of a listed CURVE key (since it started).", 0 },
    { "refused_handshakes", "zcrawl_refused_handshakes_total",
      "CURVE handshakes that failed before a key was judged: no CURVE, a wrong server key (since it started).", 0 },
};

/* States a crawl can be in: the meta hash's and the stats hash's. */
static const char *const STATES[] = { "running", "idle", "complete", "done", "stopped", "failed", NULL };

/* ---- address ---- */

int broker_metrics_parse_addr(const char *addr, char *host, size_t hostlen, int *port,
                              char *err, size_t errlen) {
    const char *h = addr, *hend, *p;
    if (addr[0] == '[') {
        hend = strchr(addr, ']');
        if (!hend || hend[1] != ':') {
            snprintf(err, errlen, "bad --metrics address '%s': expected [v6addr]:port", addr);
            return -1;
        }
        h = addr + 1;
        p = hend + 2;
    } else {
        hend = strrchr(addr, ':');
        if (!hend) {
            snprintf(err, errlen, "bad --metrics address '%s': expected host:port or :port", addr);
            return -1;
        }
        p = hend + 1;
    }
    if ((size_t)(hend - h) >= hostlen) {
        snprintf(err, errlen, "bad --metrics address '%s': host too long", addr);
        return -1;
    }
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (!*p || *end || errno || v < 1 || v > 65535) {
        snprintf(err, errlen, "bad --metrics address '%s': port must be 1-65535", addr);
        return -1;
    }
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = '\0';
    *port = (int)v;
    return 0;
}

int broker_metrics_check(const char *addr, char *err, size_t errlen) {
    char host[256];
    int port;
    return broker_metrics_parse_addr(addr, host, sizeof(host), &port, err, errlen);
}

/* Opens a listening socket on host:port. Returns it, or -1 with a one-line
 * reason in err. */
static int listen_on(const char *addr, const char *host, int port, char *err, size_t errlen) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char ports[8];
    snprintf(ports, sizeof(ports), "%d", port);
    int g = getaddrinfo(*host ? host : "0.0.0.0", ports, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "--metrics %s: %s", addr, gai_strerror(g));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) snprintf(err, errlen, "--metrics %s: cannot listen: %s", addr, strerror(saved));
    return fd;
}

/* ---- exposition text ---- */

static int out_printf(zc_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || zc_buf_reserve(b, (size_t)n + 1) != 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int broker_metrics_label(zc_buf *out, const char *v) {
    for (; *v; v++) {
        const char *rep = NULL;
        if (*v == '\\') rep = "\\\\";
        else if (*v == '"') rep = "\\\"";
        else if (*v == '\n') rep = "\\n";
        if (zc_buf_add(out, rep ? rep : v, rep ? 2 : 1, 0) != 0) return -1;
    }
    return 0;
}

static int family(zc_buf *b, const char *name, const char *type, const char *help) {
    return out_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int metric_ll(zc_buf *b, const char *name, const char *type, const char *help, long long v) {
    return family(b, name, type, help) || out_printf(b, "%s %lld\n", name, v) ? -1 : 0;
}

/* Renders every metric from one read. Returns 0, or -1 when out of memory. */
static int render(broker_metrics *m, redisReply *const *r, zc_buf *b) {
    const redisReply *stats = r[K_STATS], *meta = r[K_META];
    const char *state = zc_redis_hget(meta, "state");
    if (!state || !*state) state = zc_redis_hget(stats, "state");
    if (!state || !*state) state = "unknown";
    const char *run_id = zc_redis_hget(meta, "run_id");
    if (metric_ll(b, "zcrawl_up", "gauge",
                  "1: the broker read its crawl's Redis for this scrape (a scrape that cannot answers 503).", 1))
        return -1;
    if (family(b, "zcrawl_info", "gauge", "The crawl this broker serves; always 1.") ||
        out_printf(b, "zcrawl_info{crawl=\"") || broker_metrics_label(b, m->crawl) ||
        out_printf(b, "\",run_id=\"") || broker_metrics_label(b, run_id ? run_id : "") ||
        out_printf(b, "\"} 1\n"))
        return -1;
    if (family(b, "zcrawl_crawl_state", "gauge",
               "1 for the crawl's state (the meta hash's, else the stats hash's), 0 for the others."))
        return -1;
    int known = 0;
    for (int i = 0; STATES[i]; i++) {
        int is = !strcmp(state, STATES[i]);
        known |= is;
        if (out_printf(b, "zcrawl_crawl_state{state=\"%s\"} %d\n", STATES[i], is)) return -1;
    }
    if (!known && (out_printf(b, "zcrawl_crawl_state{state=\"") || broker_metrics_label(b, state) || out_printf(b, "\"} 1\n")))
        return -1;
    if (metric_ll(b, "zcrawl_frontier_urls", "gauge", "URLs waiting to be fetched (in the per-host queues).",
                  r[K_FRONTIER]->integer) ||
        metric_ll(b, "zcrawl_delayed_urls", "gauge", "URLs waiting for a retry (the delayed set).",
                  r[K_DELAYED]->integer) ||
        metric_ll(b, "zcrawl_leases", "gauge", "URLs handed out and not yet durable (the leases set).",
                  r[K_LEASES]->integer) ||
        metric_ll(b, "zcrawl_seeds_urls", "gauge", "URLs pushed to the seeds list, not yet taken.",
                  r[K_SEEDS]->integer) ||
        metric_ll(b, "zcrawl_dead_list_entries", "gauge", "Entries in the dead letter list now.",
                  r[K_DEAD]->integer) ||
        metric_ll(b, "zcrawl_gone_urls", "gauge", "URLs recorded as gone (404/410).", r[K_GONE]->integer))
        return -1;
    long long v;
    if (family(b, "zcrawl_peers", "gauge", "Stages connected to the broker, by role."))
        return -1;
    static const char *const roles[][2] = { { "fetcher", "fetchers" }, { "parser", "parsers" }, { "writer", "writers" } };
    for (int i = 0; i < 3; i++) {
        v = 0;
        zc_redis_hget_ll(stats, roles[i][1], &v);
        if (out_printf(b, "zcrawl_peers{role=\"%s\"} %lld\n", roles[i][0], v)) return -1;
    }
    v = 0;
    zc_redis_hget_ll(stats, "in_flight", &v);
    if (metric_ll(b, "zcrawl_in_flight_jobs", "gauge", "Jobs out at fetchers.", v)) return -1;
    v = 0;
    zc_redis_hget_ll(stats, "parked", &v);
    if (metric_ll(b, "zcrawl_parked_urls", "gauge", "URLs leased by the broker, waiting for a per-host slot.", v))
        return -1;
    const char *problem = zc_redis_hget(stats, "problem");
    if (metric_ll(b, "zcrawl_problem", "gauge",
                  "1 while a stage reports a problem (the stats hash's problem field; zcrawl status shows it).",
                  problem && *problem ? 1 : 0))
        return -1;
    if (zc_redis_hget_ll(stats, "updated_at", &v)) {
        long long now = (long long)zc_wall_ms();
        if (family(b, "zcrawl_stats_age_seconds", "gauge",
                   "Seconds since the broker last wrote the stats hash.") ||
            out_printf(b, "zcrawl_stats_age_seconds %.3f\n", now > v ? (double)(now - v) / 1000.0 : 0.0))
            return -1;
    }
    for (size_t i = 0; i < sizeof(COUNTERS) / sizeof(COUNTERS[0]); i++) {
        v = 0;
        if (!zc_redis_hget_ll(stats, COUNTERS[i].field, &v) && !COUNTERS[i].always) continue;
        if (metric_ll(b, COUNTERS[i].name, "counter", COUNTERS[i].help, v)) return -1;
    }
    return 0;
}

/* Reads every key a scrape needs in one pipeline and renders them into b.
 * Returns 0, or -1 with a one-line reason in err (the connection is dropped). */
static int scrape_once(broker_metrics *m, zc_buf *b, char *err, size_t errlen) {
    redisReply *r[K_N] = { 0 };
    int rc = -1;
    if (!m->rc && !(m->rc = zc_redis_connect_crawl(&m->addr, m->crawl, METRICS_REDIS_TIMEOUT_MS, err, errlen))) return -1;
    for (int i = 0; i < K_N; i++) {
        if (redisAppendCommand(m->rc, KEY_CMDS[i], m->keys[i]) != REDIS_OK) {
            snprintf(err, errlen, "redis: %s", m->rc->errstr);
            goto err;
        }
    }
    for (int i = 0; i < K_N; i++) {
        void *v = NULL;
        if (redisGetReply(m->rc, &v) != REDIS_OK || !v) {
            snprintf(err, errlen, "redis: reading %s: %s", KEY_NAMES[i], m->rc->errstr[0] ? m->rc->errstr : "no reply");
            goto err;
        }
        r[i] = v;
        int want = i <= K_META ? REDIS_REPLY_ARRAY : REDIS_REPLY_INTEGER;
        if (r[i]->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis: reading %s: %s", KEY_NAMES[i], r[i]->str);
            goto err;
        }
        if (r[i]->type != want) {
            snprintf(err, errlen, "redis: reading %s: unexpected reply type %d", KEY_NAMES[i], r[i]->type);
            goto err;
        }
    }
    if (render(m, r, b) != 0) {
        snprintf(err, errlen, "out of memory");
        b->len = 0;
        rc = -2;
        goto out;
    }
    rc = 0;
    goto out;
err:
    /* Replies may still be pending or the socket broken: start afresh next time. */
    redisFree(m->rc);
    m->rc = NULL;
out:
    for (int i = 0; i < K_N; i++)
        if (r[i]) freeReplyObject(r[i]);
    return rc;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, zc_buf *body,
                             const char *allow) {
    struct MHD_Response *resp;
    if (body) {
        resp = MHD_create_response_from_buffer(body->len, body->p, MHD_RESPMEM_MUST_FREE);
        if (resp) memset(body, 0, sizeof(*body)); /* the response owns the bytes now */
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp) return MHD_NO;
    enum MHD_Result ok = MHD_YES;
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES) ok = MHD_NO;
    if (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES) ok = MHD_NO;
    if (ok == MHD_YES) ok = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result text_reply(struct MHD_Connection *conn, unsigned status, const char *line,
                                  const char *allow) {
    zc_buf b = { 0 };
    if (out_printf(&b, "%s\n", line) != 0) return MHD_NO;
    enum MHD_Result ok = reply(conn, status, "text/plain; charset=utf-8", &b, allow);
    zc_buf_free(&b);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
    broker_metrics *m = cls;
    (void)version;
    (void)upload_data;
    /* The first call for a request only announces its headers; answer on the second,
     * and ignore any body (upload_data_size is then consumed). */
    if (!*req_cls) {
        *req_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return text_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET /metrics", "GET, HEAD");
    if (!strcmp(url, "/"))
        return text_reply(conn, MHD_HTTP_OK, "zcrawl-broker: Prometheus metrics at /metrics", NULL);
    if (strcmp(url, "/metrics"))
        return text_reply(conn, MHD_HTTP_NOT_FOUND, "not found: metrics are at /metrics", NULL);
    zc_buf b = { 0 };
    char err[400];
    int cached = m->rc != NULL;
    int rc = scrape_once(m, &b, err, sizeof(err));
    if (rc == -1 && cached) {
        /* A cached connection may have died with a Redis restart: try a new one once. */
        b.len = 0;
        rc = scrape_once(m, &b, err, sizeof(err));
    }
    if (rc != 0) {
        zc_buf_free(&b);
        if (!m->redis_failing) zc_warn("metrics_redis_failed", "reason=\"%s\"", err);
        m->redis_failing = rc == -1;
        char line[480];
        snprintf(line, sizeof(line), "zcrawl metrics unavailable: %s", err);
        return text_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, line, NULL);
    }
    if (m->redis_failing) zc_info("metrics_redis_ok", "crawl=%s", m->crawl);
    m->redis_failing = 0;
    enum MHD_Result ok = reply(conn, MHD_HTTP_OK, CONTENT_TYPE, &b, NULL);
    zc_buf_free(&b);
    return ok;
}

/* ---- lifetime ---- */

broker_metrics *broker_metrics_start(const char *addr, const char *redis_uri, const char *crawl,
                                     char *err, size_t errlen) {
    char host[256];
    int port, fd = -1, masked = 0;
    sigset_t all, old;
    broker_metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (broker_metrics_parse_addr(addr, host, sizeof(host), &port, err, errlen) != 0) goto err;
    if (zc_redis_parse(redis_uri, &m->addr, err, errlen) != 0) goto err;
    if (snprintf(m->crawl, sizeof(m->crawl), "%s", crawl) >= (int)sizeof(m->crawl)) {
        snprintf(err, errlen, "crawl name too long");
        goto err;
    }
    for (int i = 0; i < K_N; i++) {
        if (zc_redis_key(m->keys[i], sizeof(m->keys[i]), crawl, KEY_NAMES[i]) != 0) {
            snprintf(err, errlen, "crawl name too long");
            goto err;
        }
    }
    if ((fd = listen_on(addr, host, port, err, errlen)) < 0) goto err;
    /* The daemon's thread inherits this mask: signals stay with the broker's own threads. */
    if (sigfillset(&all) != 0 || pthread_sigmask(SIG_BLOCK, &all, &old) != 0) {
        snprintf(err, errlen, "cannot block signals for the metrics thread");
        goto err;
    }
    masked = 1;
    m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, on_request, m,
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONN_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_CONN_TIMEOUT_S,
                            MHD_OPTION_END);
    if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0) {
        snprintf(err, errlen, "cannot restore the signal mask");
        goto err;
    }
    masked = 0;
    if (!m->d) {
        snprintf(err, errlen, "--metrics %s: cannot start the HTTP server", addr);
        goto err;
    }
    zc_info("metrics_listening", "addr=%s crawl=%s", addr, crawl);
    return m;
err:
    if (masked) pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (m->d) MHD_stop_daemon(m->d); /* it closes fd */
    else if (fd >= 0) close(fd);
    free(m);
    return NULL;
}

void broker_metrics_stop(broker_metrics *m) {
    if (!m) return;
    MHD_stop_daemon(m->d);
    if (m->rc) redisFree(m->rc);
    free(m);
}
