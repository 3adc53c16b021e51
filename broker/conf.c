/* conf.c -- the broker's flags (each with its ZCRAWL_ variable), their defaults,
 * and the checks made before anything starts (conf.h). */
#include "conf.h"

#include <stdlib.h>
#include <string.h>

#include "crawl.h"
#include "guard_robots.h"
#include "guard_scope.h"
#include "zc_curve.h"
#include "zc_flags.h"
#include "zc_log.h"
#include "zc_proof.h"

#define die(code, ...) zc_die(code, BROKER_PROG, __VA_ARGS__)

/* The defaults: the README's and --help's. */
static void conf_defaults(broker_conf *conf) {
    *conf = (broker_conf){
        .redis = "redis://127.0.0.1:6379",
        .crawl = "default",
        .start = NULL,
        .mode = "batch",
        .log_level = "info",
        .control = "tcp://*:5555",
        .pages_in = "tcp://*:5556",
        .pages_out = "tcp://*:5557",
        .docs_in = "tcp://*:5558",
        .docs_out = "tcp://*:5559",
        .max_per_host = 8,
        .lease_ms = 30000,
        .max_retries = 5,
        .retry_base_ms = 500,
        .retry_max_ms = 30000,
        .heartbeat_ms = 1000,
        .recover_ms = 10000,
        .stats_ms = 1000,
        .hwm = 10000,
        .rate = 0,
        .linger_ms = 5000,
        .redis_fail_limit_ms = 600000,
        .max_retry_delay_ms = 600000,
        .max_credit = 10000,
        .job_timeout_ms = 120000,
        .robots_ttl_s = GUARD_ROBOTS_TTL_S,
    };
}

int broker_conf_parse(broker_conf *conf, int argc, char **argv) {
    conf_defaults(conf);

    const zc_flag flags[] = {
        { "redis", "ZCRAWL_REDIS", ZC_FLAG_STR, &conf->redis, "Redis URI redis://[:pass@]host:port[/db]", 0, 0 },
        { "crawl", "ZCRAWL_CRAWL", ZC_FLAG_STR, &conf->crawl, "crawl name: its keys are zcrawl:{<crawl>}:*", 0, 0 },
        { "start", "ZCRAWL_START_URL", ZC_FLAG_STR, &conf->start, "start URL (more can follow the flags as arguments)", 0, 0 },
        { "mode", "ZCRAWL_MODE", ZC_FLAG_STR, &conf->mode, "batch (exit when done) or service (wait for seeds)", 0, 0 },
        { "control", "ZCRAWL_CONTROL", ZC_FLAG_STR, &conf->control, "bind: ROUTER for every stage", 0, 0 },
        { "pages-in", "ZCRAWL_PAGES_IN", ZC_FLAG_STR, &conf->pages_in, "bind: PULL pages from fetchers", 0, 0 },
        { "pages-out", "ZCRAWL_PAGES_OUT", ZC_FLAG_STR, &conf->pages_out, "bind: PUSH pages to parsers", 0, 0 },
        { "docs-in", "ZCRAWL_DOCS_IN", ZC_FLAG_STR, &conf->docs_in, "bind: PULL documents from parsers", 0, 0 },
        { "docs-out", "ZCRAWL_DOCS_OUT", ZC_FLAG_STR, &conf->docs_out, "bind: PUSH documents to writers", 0, 0 },
        { "max-per-host", "ZCRAWL_MAX_PER_HOST", ZC_FLAG_INT, &conf->max_per_host, "requests in flight per host, all fetchers together", 1, 100000 },
        { "rate", "ZCRAWL_RATE", ZC_FLAG_DOUBLE, &conf->rate, "requests per second per host (0: no limit)", 0, 1e6 },
        { "lease-ms", "ZCRAWL_LEASE_MS", ZC_FLAG_INT, &conf->lease_ms, "lease of a handed-out URL before it comes back", 500, 86400000 },
        { "recover-ms", "ZCRAWL_RECOVER_MS", ZC_FLAG_INT, &conf->recover_ms, "at start, leases of a previous broker end within this", 0, 86400000 },
        { "max-retries", "ZCRAWL_MAX_RETRIES", ZC_FLAG_INT, &conf->max_retries, "transient failures before a dead letter", 0, 1000 },
        { "retry-base-ms", "ZCRAWL_RETRY_BASE_MS", ZC_FLAG_INT, &conf->retry_base_ms, "first retry delay (doubles, with jitter)", 1, 3600000 },
        { "retry-max-ms", "ZCRAWL_RETRY_MAX_MS", ZC_FLAG_INT, &conf->retry_max_ms, "longest retry delay", 1, 86400000 },
        { "heartbeat-ms", "ZCRAWL_HEARTBEAT_MS", ZC_FLAG_INT, &conf->heartbeat_ms, "heartbeat interval; peers expire after 3", 50, 60000 },
        { "stats-ms", "ZCRAWL_STATS_MS", ZC_FLAG_INT, &conf->stats_ms, "how often the stats hash is written", 100, 60000 },
        { "window", "ZCRAWL_WINDOW", ZC_FLAG_INT, &conf->window, "open leases at most (fetched, not yet written or parsed); 0: 4 x the fetchers' concurrency, at least 256", 0, 100000000 },
        { "identity", "ZCRAWL_IDENTITY", ZC_FLAG_STR, &conf->identity, "what this crawl is (start URLs, spec, sink), recorded in its meta: a run that says another is refused (exit 2)", 0, 0 },
        { "fresh", "ZCRAWL_FRESH", ZC_FLAG_BOOL, &conf->fresh, "delete the crawl's keys first and start it over", 0, 0 },
        { "linger-ms", "ZCRAWL_LINGER_MS", ZC_FLAG_INT, &conf->linger_ms, "crawl already complete: answer SHUTDOWN to stages this long before exiting", 0, 600000 },
        { "redis-fail-limit-ms", "ZCRAWL_REDIS_FAIL_LIMIT_MS", ZC_FLAG_INT, &conf->redis_fail_limit_ms, "Redis down or refusing writes this long: the crawl fails (exit 4)", 1000, 86400000 },
        { "max-retry-delay-ms", "ZCRAWL_MAX_RETRY_DELAY_MS", ZC_FLAG_INT, &conf->max_retry_delay_ms, "cap on Retry-After and retry backoff", 0, 86400000 },
        { "hwm", "ZCRAWL_HWM", ZC_FLAG_INT, &conf->hwm, "ZeroMQ high-water mark of the streamers", 10, 10000000 },
        { "log-level", "ZCRAWL_LOG_LEVEL", ZC_FLAG_STR, &conf->log_level, "debug, info, warn or error", 0, 0 },
        { "max-credit", "ZCRAWL_MAX_CREDIT", ZC_FLAG_INT, &conf->max_credit, "JOBs the fetchers of one key (without keys: one fetcher) may hold at once; more is clamped", 1, 10000000 },
        { "job-timeout-ms", "ZCRAWL_JOB_TIMEOUT_MS", ZC_FLAG_INT, &conf->job_timeout_ms, "a JOB unanswered this long goes back to the frontier (and that fetcher's credit to 0)", 1000, 86400000 },
        { "allow-host", "ZCRAWL_ALLOW_HOST", ZC_FLAG_STR, &conf->allow_host, "hosts in scope besides the start URLs' origins: example.com,*.example.com", 0, 0 },
        { "ignore-robots", "ZCRAWL_IGNORE_ROBOTS", ZC_FLAG_BOOL, &conf->ignore_robots, "do not fetch or obey robots.txt", 0, 0 },
        { "robots-ttl-s", "ZCRAWL_ROBOTS_TTL_S", ZC_FLAG_INT, &conf->robots_ttl_s, "an origin's robots.txt is fetched again once this old (RFC 9309: a day at most)", 1, GUARD_ROBOTS_TTL_S },
        { "metrics", "ZCRAWL_METRICS", ZC_FLAG_STR, &conf->metrics, "serve Prometheus /metrics and the status page (/) on ADDR (host:port or :port; off when empty)", 0, 0 },
        { "metrics-password-file", "ZCRAWL_METRICS_PASSWORD_FILE", ZC_FLAG_STR, &conf->metrics_password_file, "password of --metrics (HTTP basic auth, user zcrawl); needed unless ADDR is loopback", 0, 0 },
        ZC_CURVE_FLAGS,
        ZC_PROOF_FLAGS,
        ZC_FLAGS_END,
    };
    int npos = 0;
    zc_flags_parse_or_exit(flags, argc, argv, &npos, BROKER_PROG, "[flags] [START_URL...]",
                           "The broker of a zcrawl crawl: state in Redis, work to fetchers, pages and\n"
                           "documents through its streamers, SHUTDOWN to every stage when a batch crawl ends.");
    if (conf->start && *conf->start && broker_check_start(conf->start) != 0) exit(2);
    for (int i = 1; i <= npos; i++)
        if (broker_check_start(argv[i]) != 0) exit(2);
    if (strcmp(conf->mode, "batch") && strcmp(conf->mode, "service"))
        die(2, "--mode must be batch or service, not '%s'", conf->mode);
    char merr[256];
    if (conf->allow_host && broker_guard_check_hosts(conf->allow_host, merr, sizeof(merr)) != 0)
        die(2, "--allow-host: %s", merr);
    if (conf->metrics && *conf->metrics && broker_metrics_check(conf->metrics, conf->metrics_password_file, zc_curve_opt_insecure, merr, sizeof(merr)) != 0)
        die(2, "%s", merr);
    return npos;
}
