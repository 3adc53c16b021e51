/* metrics.c -- the broker's HTTP server on --metrics (libmicrohttpd, one internal
 * polling thread): GET /metrics for Prometheus and the status page (/, /status.json,
 * status_page.c), each answer read from Redis (lib/zc_crawlstat) over the
 * thread's own connection; HTTP basic auth when a password file is given. */
#include "metrics.h"

#include <arpa/inet.h>
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

#include "status_page.h"
#include "zc_crawlstat.h"
#include "zc_log.h"
#include "zc_redis.h"
#include "zc_secret.h"
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
    char where[160]; /* Redis as the status page shows it: host:port[/db], no password */
    redisContext *rc;
    int redis_failing;        /* for logging a failure once, and the recovery */
    broker_status_page *page; /* the rates sampler */
    char auth[256];           /* "Basic " + base64("zcrawl:" password), "" when open */
};

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

/* Stage problems by role and condition (sink_down, sink_full ...), from the peers
 * the broker lists. */
static int render_conditions(zc_buf *b, const zc_crawlstat *s) {
    if (family(b, "zcrawl_stage_problem", "gauge",
               "Stages reporting a condition (sink_down, sink_full, sink_error ...), by role and condition."))
        return -1;
    zc_cs_counts c = { 0 };
    const cJSON *e;
    int rc = 0;
    cJSON_ArrayForEach(e, s->peers) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(e, "role");
        const cJSON *cond = cJSON_GetObjectItemCaseSensitive(e, "condition");
        char key[128];
        if (!cJSON_IsString(role) || !cJSON_IsString(cond)) continue;
        snprintf(key, sizeof(key), "%.15s\n%.100s", role->valuestring, cond->valuestring);
        if (zc_cs_counts_add(&c, key, 1) != 0) rc = -1;
    }
    size_t n;
    zc_cs_count *v = zc_cs_counts_sorted(&c, &n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *nl = strchr(v[i].name, '\n');
        *nl = '\0';
        if (out_printf(b, "zcrawl_stage_problem{role=\"") || broker_metrics_label(b, v[i].name) ||
            out_printf(b, "\",condition=\"") || broker_metrics_label(b, nl + 1) || out_printf(b, "\"} %lld\n", v[i].n))
            rc = -1;
    }
    zc_cs_counts_free_sorted(v, n);
    zc_cs_counts_free(&c);
    return rc;
}

/* Redis's own state: memory, and whether it takes writes. */
static int render_redis(zc_buf *b, const zc_crawlstat *s) {
    if (!s->redis_info) return 0;
    int writable = !(s->maxmemory > 0 && s->used_memory >= s->maxmemory && !strcmp(s->maxmemory_policy, "noeviction")) &&
                   strcmp(s->bgsave_status, "err") && strcmp(s->role, "slave");
    return metric_ll(b, "zcrawl_redis_used_memory_bytes", "gauge", "Redis's used_memory.", s->used_memory) ||
                   metric_ll(b, "zcrawl_redis_maxmemory_bytes", "gauge", "Redis's maxmemory (0: no limit).",
                             s->maxmemory) ||
                   metric_ll(b, "zcrawl_redis_writable", "gauge",
                             "0 when Redis refuses writes: at maxmemory under noeviction, a failed background save, a replica.",
                             writable)
               ? -1
               : 0;
}

/* robots.txt that could not be had: the origin's URLs became dead letters. */
static int render_robots(zc_buf *b, const zc_crawlstat *s) {
    if (metric_ll(b, "zcrawl_robots_unreachable_origins", "gauge",
                  "Origins whose robots.txt could not be had (among the newest dead letters).",
                  (long long)s->nrobots_unreachable) ||
        family(b, "zcrawl_robots_unreachable_urls", "gauge",
               "Dead letters of an origin whose robots.txt could not be had (the newest 20 origins)."))
        return -1;
    for (size_t i = 0; i < s->nrobots_unreachable && i < 20; i++)
        if (out_printf(b, "zcrawl_robots_unreachable_urls{origin=\"") ||
            broker_metrics_label(b, s->robots_unreachable[i].name) ||
            out_printf(b, "\"} %lld\n", s->robots_unreachable[i].n))
            return -1;
    return 0;
}

/* Messages the broker refused, by reason (the stats hash's refused_<reason>):
 * every reason shown, 0 until counted, so that an alert needs no absent(). */
static int render_refused(zc_buf *b, const zc_crawlstat *s) {
    if (family(b, "zcrawl_refused_messages_total", "counter",
               "Messages the broker refused, by reason: role (a HELLO claiming another role than its key's, or a "
               "message under another key), wrong_role, no_hello, not_held, role_change, size (over the bound in "
               "frames or bytes)."))
        return -1;
    for (int i = 0; zc_cs_refusals[i]; i++) {
        char field[48];
        long long v = 0;
        snprintf(field, sizeof(field), "refused_%s", zc_cs_refusals[i]);
        zc_redis_hget_ll(s->stats, field, &v);
        if (out_printf(b, "zcrawl_refused_messages_total{reason=\"%s\"} %lld\n", zc_cs_refusals[i], v)) return -1;
    }
    return 0;
}

/* Renders every metric from one read. Returns 0, or -1 when out of memory. */
/* A spec's counters (docs/SPEC.md, "Silent mistakes, counted"): fields null and
 * read, items skipped and tried, by page rule and field or template. */
static int render_spec(zc_buf *b, const zc_crawlstat *s) {
    zc_cs_spec *v;
    size_t n;
    if (zc_cs_spec_list(s->spec_counts, &v, &n) != 0) return -1;
    static const struct {
        int tpl, of;
        const char *name, *help;
    } F[] = {
        { 0, 0, "zcrawl_spec_field_null_total", "Documents in which a spec's field came out null." },
        { 0, 1, "zcrawl_spec_field_read_total", "Documents in which a spec's field was read." },
        { 1, 0, "zcrawl_spec_items_skipped_total", "List items (or follow values) a template could not use." },
        { 1, 1, "zcrawl_spec_items_tried_total", "List items (or follow values) a template was given." },
    };
    int rc = 0;
    for (size_t k = 0; k < sizeof(F) / sizeof(F[0]) && !rc; k++) {
        int any = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            if (v[i].tpl != F[k].tpl) continue;
            if (!any++ && family(b, F[k].name, "counter", F[k].help)) rc = -1;
            else if (out_printf(b, "%s{page=\"", F[k].name) || broker_metrics_label(b, v[i].page) ||
                     out_printf(b, "\",%s=\"", F[k].tpl ? "template" : "field") || broker_metrics_label(b, v[i].name) ||
                     out_printf(b, "\"} %lld\n", F[k].of ? v[i].of : v[i].bad))
                rc = -1;
        }
    }
    zc_cs_spec_free(v, n);
    return rc;
}

static int render(broker_metrics *m, const zc_crawlstat *s, zc_buf *b) {
    const redisReply *stats = s->stats, *meta = s->meta;
    const char *src;
    const char *state = zc_crawlstat_state(s, &src);
    const char *run_id = zc_redis_hget(meta, "run_id");
    if (metric_ll(b, "zcrawl_up", "gauge",
                  "1: the broker read its crawl's Redis for this scrape; 0: it could not (the reason is a comment).", 1))
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
                  s->waiting) ||
        metric_ll(b, "zcrawl_delayed_urls", "gauge", "URLs waiting for a retry (the delayed set).", s->delayed) ||
        metric_ll(b, "zcrawl_leases", "gauge", "URLs handed out and not yet durable (the leases set).", s->leases) ||
        metric_ll(b, "zcrawl_seeds_urls", "gauge", "URLs pushed to the seeds list, not yet taken.", s->seeds) ||
        metric_ll(b, "zcrawl_dead_list_entries", "gauge", "Entries in the dead letter list now.", s->dead) ||
        metric_ll(b, "zcrawl_gone_urls", "gauge", "URLs recorded as gone (404/410).", s->gone))
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
    long long waiting = 0;
    (void)zc_redis_hget_ll(stats, "hosts_waiting", &waiting);
    if (metric_ll(b, "zcrawl_hosts_waiting", "gauge",
                  "Hosts told to wait (429/503 with Retry-After); the stats hash's waits field and zcrawl status say until when.",
                  waiting))
        return -1;
    long long age = zc_crawlstat_stats_age(s);
    if (age >= 0 && (family(b, "zcrawl_stats_age_seconds", "gauge", "Seconds since the broker last wrote the stats hash.") ||
                     out_printf(b, "zcrawl_stats_age_seconds %.3f\n", (double)age / 1000.0)))
        return -1;
    for (size_t i = 0; i < sizeof(COUNTERS) / sizeof(COUNTERS[0]); i++) {
        v = 0;
        if (!zc_redis_hget_ll(stats, COUNTERS[i].field, &v) && !COUNTERS[i].always) continue;
        if (metric_ll(b, COUNTERS[i].name, "counter", COUNTERS[i].help, v)) return -1;
    }
    return render_refused(b, s) || render_conditions(b, s) || render_redis(b, s) || render_robots(b, s) ||
                   render_spec(b, s)
               ? -1
               : 0;
}

/* Reads the crawl (hosts_max: zc_crawlstat_read's) into s. Returns 0, or -1 with
 * a one-line reason in err (the connection is dropped; one retry on a fresh one
 * when a kept connection failed: Redis may have restarted). */
static int read_crawl(broker_metrics *m, long hosts_max, zc_crawlstat *s, char *err, size_t errlen) {
    for (int attempt = 0; attempt < 2; attempt++) {
        int cached = m->rc != NULL;
        if (!m->rc && !(m->rc = zc_redis_connect_crawl(&m->addr, m->crawl, METRICS_REDIS_TIMEOUT_MS, err, errlen)))
            return -1;
        if (zc_crawlstat_read(m->rc, m->crawl, hosts_max, s, err, errlen) == 0) return 0;
        /* Replies may still be pending or the socket broken: start afresh. */
        redisFree(m->rc);
        m->rc = NULL;
        if (!cached) return -1;
    }
    return -1;
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

/* Constant-time comparison of the Authorization header with the expected one. */
static int auth_ok(const broker_metrics *m, struct MHD_Connection *conn) {
    if (!m->auth[0]) return 1;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) return 0;
    size_t n = strlen(m->auth), hn = strlen(h);
    /* The scheme's name is case-insensitive; the credentials are not. */
    if (hn != n || strncasecmp(h, m->auth, 6) != 0) return 0;
    unsigned char d = 0;
    for (size_t i = 6; i < n; i++) d |= (unsigned char)(h[i] ^ m->auth[i]);
    return d == 0;
}

static enum MHD_Result unauthorized(struct MHD_Connection *conn) {
    static const char body[] = "zcrawl-broker: a password is needed (HTTP basic auth, user zcrawl)\n";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    enum MHD_Result ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8") ==
                                     MHD_YES &&
                                 MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                                         "Basic realm=\"zcrawl\", charset=\"UTF-8\"") == MHD_YES
                             ? MHD_queue_response(conn, MHD_HTTP_UNAUTHORIZED, resp)
                             : MHD_NO;
    MHD_destroy_response(resp);
    return ok;
}

/* The page's own files: no other origin may frame or feed it. */
static enum MHD_Result asset_reply(struct MHD_Connection *conn, const void *data, size_t len, const char *type) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    enum MHD_Result ok = MHD_YES;
    const char *hdr[][2] = {
        { MHD_HTTP_HEADER_CONTENT_TYPE, type },
        { MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY,
          "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'" },
        { MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff" },
        { MHD_HTTP_HEADER_CACHE_CONTROL, "no-store" },
        { "Referrer-Policy", "no-referrer" },
    };
    for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]) && ok == MHD_YES; i++)
        ok = MHD_add_response_header(resp, hdr[i][0], hdr[i][1]);
    if (ok == MHD_YES) ok = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* /metrics and /status.json: one read of the crawl each. While Redis cannot be
 * read, /metrics answers zcrawl_up 0 (so an alert can tell Redis from the broker)
 * and /status.json 503, each with the reason. */
static enum MHD_Result read_reply(broker_metrics *m, struct MHD_Connection *conn, int json) {
    zc_buf b = { 0 };
    char err[400];
    zc_crawlstat s;
    int rc = read_crawl(m, json ? STATUS_PAGE_HOSTS_MAX : 0, &s, err, sizeof(err));
    if (rc == 0) {
        int oom = json ? broker_status_page_json(m->page, &s, m->crawl, m->where, &b) : render(m, &s, &b);
        zc_crawlstat_free(&s);
        if (oom) {
            zc_buf_free(&b);
            return text_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "zcrawl metrics unavailable: out of memory", NULL);
        }
        if (m->redis_failing) zc_info("metrics_redis_ok", "crawl=%s", m->crawl);
        m->redis_failing = 0;
        enum MHD_Result ok = reply(conn, MHD_HTTP_OK, json ? "application/json" : CONTENT_TYPE, &b, NULL);
        zc_buf_free(&b);
        return ok;
    }
    if (!m->redis_failing) zc_warn("metrics_redis_failed", "reason=\"%s\"", err);
    m->redis_failing = 1;
    char line[480];
    snprintf(line, sizeof(line), "zcrawl metrics unavailable: %s", err);
    if (json) return text_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, line, NULL);
    for (char *p = line; *p; p++)
        if (*p == '\n') *p = ' ';
    if (out_printf(&b, "# %s\n", line) || metric_ll(&b, "zcrawl_up", "gauge",
                                                    "1: the broker read its crawl's Redis for this scrape; 0: it "
                                                    "could not (the reason is a comment).",
                                                    0)) {
        zc_buf_free(&b);
        return MHD_NO;
    }
    enum MHD_Result ok = reply(conn, MHD_HTTP_OK, CONTENT_TYPE, &b, NULL);
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
    if (!auth_ok(m, conn)) return unauthorized(conn);
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return text_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET /metrics", "GET, HEAD");
    const void *data;
    size_t len;
    const char *type;
    if (broker_status_page_asset(url, &data, &len, &type)) return asset_reply(conn, data, len, type);
    if (!strcmp(url, "/status.json")) return read_reply(m, conn, 1);
    if (!strcmp(url, "/metrics")) return read_reply(m, conn, 0);
    return text_reply(conn, MHD_HTTP_NOT_FOUND, "not found: the status page is at /, metrics at /metrics", NULL);
}

/* ---- lifetime ---- */

int broker_metrics_loopback(const char *host) {
    unsigned char a[16];
    if (!strcmp(host, "localhost")) return 1;
    if (inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char one[16] = { [15] = 1 };
        return memcmp(a, one, 16) == 0;
    }
    return 0;
}

int broker_metrics_check(const char *addr, const char *password_file, int open_ok, char *err, size_t errlen) {
    char host[256];
    int port;
    if (broker_metrics_parse_addr(addr, host, sizeof(host), &port, err, errlen) != 0) return -1;
    if ((!password_file || !*password_file) && !open_ok && !broker_metrics_loopback(host)) {
        snprintf(err, errlen,
                 "--metrics %s is not loopback: give --metrics-password-file FILE (HTTP basic auth, user zcrawl), "
                 "bind 127.0.0.1, or say --insecure",
                 addr);
        return -1;
    }
    return 0;
}

/* Reads the password (the file's first line) and makes the expected header:
 * "Basic " + base64("zcrawl:" password). Returns 0, or -1 with a reason in err. */
static int load_auth(broker_metrics *m, const char *path, char *err, size_t errlen) {
    static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char pw[160], plain[180];
    if (zc_secret_read("--metrics-password-file", path, pw, 129, err, errlen) != 0) return -1;
    int pl = snprintf(plain, sizeof(plain), "zcrawl:%s", pw);
    char *o = m->auth + snprintf(m->auth, sizeof(m->auth), "Basic ");
    for (int i = 0; i < pl; i += 3) {
        unsigned v = (unsigned char)plain[i] << 16 | (i + 1 < pl ? (unsigned char)plain[i + 1] << 8 : 0) |
                     (i + 2 < pl ? (unsigned char)plain[i + 2] : 0);
        *o++ = B64[v >> 18 & 63];
        *o++ = B64[v >> 12 & 63];
        *o++ = i + 1 < pl ? B64[v >> 6 & 63] : '=';
        *o++ = i + 2 < pl ? B64[v & 63] : '=';
    }
    *o = '\0';
    memset(pw, 0, sizeof(pw));
    memset(plain, 0, sizeof(plain));
    return 0;
}

broker_metrics *broker_metrics_start(const char *addr, const char *redis_uri, const char *crawl,
                                     const char *password_file, char *err, size_t errlen) {
    char host[256];
    int port, fd = -1, masked = 0;
    sigset_t all, old;
    broker_metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (broker_metrics_parse_addr(addr, host, sizeof(host), &port, err, errlen) != 0) goto err;
    if (password_file && *password_file && load_auth(m, password_file, err, errlen) != 0) goto err;
    if (zc_redis_parse(redis_uri, &m->addr, err, errlen) != 0) goto err;
    if (snprintf(m->crawl, sizeof(m->crawl), "%s", crawl) >= (int)sizeof(m->crawl)) {
        snprintf(err, errlen, "crawl name too long");
        goto err;
    }
    if (m->addr.db) snprintf(m->where, sizeof(m->where), "%.100s:%d/%d", m->addr.host, m->addr.port, m->addr.db);
    else snprintf(m->where, sizeof(m->where), "%.100s:%d", m->addr.host, m->addr.port);
    if ((fd = listen_on(addr, host, port, err, errlen)) < 0) goto err;
    if (!(m->page = broker_status_page_start(&m->addr, crawl, err, errlen))) goto err;
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
    /* The broker's first line (security_line.c) says where it listens and how it is guarded. */
    return m;
err:
    if (masked) pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (m->d) MHD_stop_daemon(m->d); /* it closes fd */
    else if (fd >= 0) close(fd);
    broker_status_page_stop(m->page);
    memset(m->auth, 0, sizeof(m->auth));
    free(m);
    return NULL;
}

void broker_metrics_stop(broker_metrics *m) {
    if (!m) return;
    MHD_stop_daemon(m->d);
    broker_status_page_stop(m->page);
    if (m->rc) redisFree(m->rc);
    memset(m->auth, 0, sizeof(m->auth));
    free(m);
}
