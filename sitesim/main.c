/* main.c -- zcrawl-sitesim: a deterministic, fault-injecting emulator of the target book site. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_catalog.h"
#include "sim_server.h"
#include "sim_site.h"
#include "zc_flags.h"
#include "zc_log.h"
#include "zc_signal.h"

#define PROG "zcrawl-sitesim"

static const char *k_summary =
    "Serves the book catalogue API of docs/SITESIM.md (GET /api/book/?limit=&offset=,\n"
    "GET /api/book/{id}[/]) from a catalogue generated from --seed and --books, with\n"
    "optional latency and per-request faults on /api/ paths. Admin pages (never\n"
    "delayed, faulted or counted): GET /__stats, GET /__ids, GET|POST /__reset.\n"
    "Every flag has an environment twin ZCRAWL_SITESIM_<FLAG> (upper case, '-' -> '_');\n"
    "a flag beats its variable.\n"
    "With --hosts N it serves N virtual hosts h0.localhost ... h{N-1}.localhost on\n"
    "its one port, chosen by the Host header, each its own catalogue of --books books\n"
    "(seeded by --seed + index); /__stats adds per-host counts.";

/* Parses "1,4,7-9" into slow[0..n). Returns 0, or -1 with a reason in err. */
static int parse_hosts_list(const char *s, unsigned char *slow, long n, char *err, size_t errlen) {
    const char *p = s;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p || a < 0) {
            snprintf(err, errlen, "bad --slow-hosts '%s' (want indices like 0,3,5-9)", s);
            return -1;
        }
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a) {
                snprintf(err, errlen, "bad --slow-hosts '%s' (want indices like 0,3,5-9)", s);
                return -1;
            }
            p = end;
        }
        if (b >= n) {
            snprintf(err, errlen, "--slow-hosts names host %ld but --hosts is %ld", b, n);
            return -1;
        }
        for (long i = a; i <= b; i++)
            slow[i] = 1;
        if (*p == ',')
            p++;
        else if (*p) {
            snprintf(err, errlen, "bad --slow-hosts '%s' (want indices like 0,3,5-9)", s);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *bind_addr = "127.0.0.1", *log_level = "info";
    long port = 8080, seed = 1;
    const char *slow_hosts = "";
    /* The flags write the site's settings straight into cfg: these are their defaults. */
    sim_site_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.books = 9040;
    cfg.retry_after = 1;
    cfg.slow_chunk = 64;
    cfg.slow_interval_ms = 20;
    cfg.max_limit = 1000;
    cfg.slow_latency_ms = 1000;
    cfg.api_token = getenv("ZCRAWL_SITESIM_TOKEN"); /* from the environment: never in a process's arguments */

    zc_flag flags[] = {
        { "port", "ZCRAWL_SITESIM_PORT", ZC_FLAG_INT, &port, "TCP port to listen on (0: any free port)", 0, 65535 },
        { "bind", "ZCRAWL_SITESIM_BIND", ZC_FLAG_STR, &bind_addr, "address to listen on", 0, 0 },
        { "seed", "ZCRAWL_SITESIM_SEED", ZC_FLAG_INT, &seed, "catalogue and fault seed: same seed, same site", 0, 9007199254740991.0 },
        { "books", "ZCRAWL_SITESIM_BOOKS", ZC_FLAG_INT, &cfg.books, "number of books (18 per default list page)", 0, (double)SIM_CATALOG_MAX_BOOKS },
        { "malformed-rate", "ZCRAWL_SITESIM_MALFORMED_RATE", ZC_FLAG_DOUBLE, &cfg.malformed_rate, "share of detail pages that always answer 200 with invalid JSON", 0, 1 },
        { "fail-500", "ZCRAWL_SITESIM_FAIL_500", ZC_FLAG_DOUBLE, &cfg.fail_500, "per-request chance of a 500 answer", 0, 1 },
        { "fail-429", "ZCRAWL_SITESIM_FAIL_429", ZC_FLAG_DOUBLE, &cfg.fail_429, "per-request chance of a 429 answer with Retry-After", 0, 1 },
        { "retry-after", "ZCRAWL_SITESIM_RETRY_AFTER", ZC_FLAG_INT, &cfg.retry_after, "seconds in the Retry-After header of 429 answers", 0, 3600 },
        { "fail-drop", "ZCRAWL_SITESIM_FAIL_DROP", ZC_FLAG_DOUBLE, &cfg.fail_drop, "per-request chance of closing the connection without an answer", 0, 1 },
        { "fail-truncate", "ZCRAWL_SITESIM_FAIL_TRUNCATE", ZC_FLAG_DOUBLE, &cfg.fail_truncate, "per-request chance of sending half the body (full Content-Length) then closing", 0, 1 },
        { "fail-slow", "ZCRAWL_SITESIM_FAIL_SLOW", ZC_FLAG_DOUBLE, &cfg.fail_slow, "per-request chance of trickling the body slowly", 0, 1 },
        { "slow-chunk", "ZCRAWL_SITESIM_SLOW_CHUNK", ZC_FLAG_INT, &cfg.slow_chunk, "body bytes per chunk of a slow answer", 1, 1048576 },
        { "slow-interval-ms", "ZCRAWL_SITESIM_SLOW_INTERVAL_MS", ZC_FLAG_INT, &cfg.slow_interval_ms, "pause between chunks of a slow answer", 1, 60000 },
        { "latency-ms", "ZCRAWL_SITESIM_LATENCY_MS", ZC_FLAG_INT, &cfg.latency_ms, "delay of every /api/ answer", 0, 600000 },
        { "jitter-ms", "ZCRAWL_SITESIM_JITTER_MS", ZC_FLAG_INT, &cfg.jitter_ms, "uniform +/- spread added to the delay", 0, 600000 },
        { "max-limit", "ZCRAWL_SITESIM_MAX_LIMIT", ZC_FLAG_INT, &cfg.max_limit, "larger list limits are clamped to this", 1, 1000000 },
        { "hosts", "ZCRAWL_SITESIM_HOSTS", ZC_FLAG_INT, &cfg.hosts, "serve this many virtual hosts hN.localhost, each --books books (0: one site)", 0, 1000000 },
        { "slow-hosts", "ZCRAWL_SITESIM_SLOW_HOSTS", ZC_FLAG_STR, &slow_hosts, "virtual hosts that answer after --slow-latency-ms: 0,3,5-9", 0, 0 },
        { "slow-latency-ms", "ZCRAWL_SITESIM_SLOW_LATENCY_MS", ZC_FLAG_INT, &cfg.slow_latency_ms, "delay of every /api/ answer of a --slow-hosts host", 0, 600000 },
        { "log-level", "ZCRAWL_SITESIM_LOG_LEVEL", ZC_FLAG_STR, &log_level, "debug, info, warn or error", 0, 0 },
        ZC_FLAGS_END,
    };
    zc_flags_parse_or_exit(flags, argc, argv, NULL, PROG, "[flags]", k_summary);

    zc_log_level level;
    if (zc_log_parse_level(log_level, &level) != 0) {
        fprintf(stderr, PROG ": error: bad --log-level %s (want debug, info, warn or error)\n", log_level);
        return 2;
    }
    if (cfg.fail_500 + cfg.fail_429 + cfg.fail_drop + cfg.fail_truncate + cfg.fail_slow > 1.0 + 1e-9) {
        fprintf(stderr, PROG ": error: the --fail-* rates add up to more than 1\n");
        return 2;
    }
    zc_log_init("sitesim", level);
    if (zc_signal_install() != 0) {
        fprintf(stderr, PROG ": error: cannot install signal handlers\n");
        return 1;
    }

    char err[256];
    unsigned char *slow = NULL;
    if (*slow_hosts) {
        if (cfg.hosts == 0) {
            fprintf(stderr, PROG ": error: --slow-hosts needs --hosts\n");
            return 2;
        }
        slow = calloc((size_t)cfg.hosts, 1);
        if (slow == NULL) {
            fprintf(stderr, PROG ": error: out of memory\n");
            return 1;
        }
        if (parse_hosts_list(slow_hosts, slow, cfg.hosts, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": error: %s\n", err);
            free(slow);
            return 2;
        }
    }
    sim_catalog cat;
    if (sim_catalog_init(&cat, (uint64_t)seed, cfg.books, cfg.malformed_rate, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": error: %s\n", err);
        free(slow);
        return 1;
    }
    cfg.seed = (uint64_t)seed;
    cfg.slow = slow;

    sim_site site;
    if (sim_site_init(&site, &cat, &cfg, (uint64_t)seed) != 0) {
        fprintf(stderr, PROG ": error: out of memory for %ld hosts\n", cfg.hosts);
        sim_site_free(&site);
        sim_catalog_free(&cat);
        free(slow);
        return 1;
    }
    sim_server *sv = sim_server_open(&site, bind_addr, port, err, sizeof err);
    if (sv == NULL) {
        fprintf(stderr, PROG ": error: %s\n", err);
        sim_site_free(&site);
        sim_catalog_free(&cat);
        free(slow);
        return 1;
    }
    int n = snprintf(site.cfg.default_host, sizeof site.cfg.default_host, "%s:%d",
                     strchr(bind_addr, ':') ? "localhost" : bind_addr, sim_server_port(sv));
    if (n < 0 || (size_t)n >= sizeof site.cfg.default_host)
        snprintf(site.cfg.default_host, sizeof site.cfg.default_host, "localhost:%d", sim_server_port(sv));

    char q[128];
    zc_info("listening", "bind=%s port=%d seed=%ld hosts=%ld books=%ld missing=%ld malformed=%ld "
                         "latency_ms=%ld jitter_ms=%ld fail_500=%g fail_429=%g fail_drop=%g "
                         "fail_truncate=%g fail_slow=%g",
            zc_log_q(q, sizeof q, bind_addr), sim_server_port(sv), seed, cfg.hosts, cfg.books,
            cat.nmissing, cat.nmalformed, cfg.latency_ms, cfg.jitter_ms, cfg.fail_500, cfg.fail_429,
            cfg.fail_drop, cfg.fail_truncate, cfg.fail_slow);

    int rc = 0;
    if (sim_server_run(sv, err, sizeof err) != 0) {
        zc_error("loop_failed", "reason=%s", zc_log_q(q, sizeof q, err));
        rc = 1;
    }
    zc_info("stopped", "requests=%llu list=%llu detail=%llu duplicates=%llu",
            (unsigned long long)site.st.requests, (unsigned long long)site.st.list,
            (unsigned long long)site.st.detail, (unsigned long long)site.st.duplicates);
    sim_server_close(sv);
    sim_site_free(&site);
    sim_catalog_free(&cat);
    free(slow);
    return rc;
}
