/* cli_conf.c -- the flags of `zcrawl run` and `zcrawl demo` (one table, each flag
 * with its env twin), their checks, and the command that resumes a crawl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "zc_curve.h"
#include "zc_redact.h"
#include "zc_flags.h"
#include "zc_log.h"
#include "zc_redis.h"

static const char *SUMMARY =
    "Runs a whole crawl on this host: a private redis-server (its data in the state\n"
    "folder, so the same command resumes) unless --redis is given, the broker, and\n"
    "the fetchers, parsers and writers. Exit codes: 0 complete, 1 complete with dead\n"
    "letters, 2 usage error, 3 stopped by a signal (resumable), 4 failed.";

/* The flags of run and demo; a new flag is one line here (and, when a stage takes
 * it, one line in that stage's argv builder in cli_stages.c). */
static void conf_flags(cli_conf *c, zc_flag *out, size_t cap) {
    const zc_flag flags[] = {
        { "fetchers", "ZCRAWL_FETCHERS", ZC_FLAG_INT, &c->fetchers, "fetcher processes", 1, 64 },
        { "parsers", "ZCRAWL_PARSERS", ZC_FLAG_INT, &c->parsers, "parser processes", 1, 64 },
        { "writers", "ZCRAWL_WRITERS", ZC_FLAG_INT, &c->writers, "writer processes", 1, 64 },
        { "mongo", "ZCRAWL_MONGO", ZC_FLAG_STR, &c->mongo, "MongoDB URI to write into", 0, 0 },
        { "out", "ZCRAWL_OUT", ZC_FLAG_STR, &c->out, "JSON Lines file to write into (when no --mongo)", 0, 0 },
        { "redis", "ZCRAWL_REDIS", ZC_FLAG_STR, &c->redis, "Redis URI (default: a private redis-server)", 0, 0 },
        { "state", "ZCRAWL_STATE", ZC_FLAG_STR, &c->state,
          "private Redis's data folder (default: ./.zcrawl/<crawl>)", 0, 0 },
        { "crawl", "ZCRAWL_CRAWL", ZC_FLAG_STR, &c->crawl, "crawl name (Redis keys zcrawl:{<crawl>}:*)", 0, 0 },
        { "seeds", "ZCRAWL_SEEDS", ZC_FLAG_STR, &c->seeds, "file of start URLs, one a line ('#' comments)", 0, 0 },
        { "spec", "ZCRAWL_SPEC", ZC_FLAG_STR, &c->spec,
          "crawl spec for the parsers (docs/SPEC.md; default: the built-in books spec)", 0, 0 },
        { "allow-private", "ZCRAWL_ALLOW_PRIVATE", ZC_FLAG_BOOL, &c->allow_private,
          "let fetchers reach loopback and private addresses (on by itself when a start URL is on one)", 0, 0 },
        { "allow-host", "ZCRAWL_ALLOW_HOST", ZC_FLAG_STR, &c->allow_host,
          "hosts in scope besides the start URLs' origins: example.com,*.example.com", 0, 0 },
        { "ignore-robots", "ZCRAWL_IGNORE_ROBOTS", ZC_FLAG_BOOL, &c->ignore_robots, "do not fetch or obey robots.txt", 0, 0 },
        { "metrics", "ZCRAWL_METRICS", ZC_FLAG_STR, &c->metrics,
          "the broker's status page (/) and Prometheus /metrics on ADDR (127.0.0.1:9108; beyond loopback it needs "
          "ZCRAWL_METRICS_PASSWORD_FILE)",
          0, 0 },
        { "fresh", NULL, ZC_FLAG_BOOL, &c->fresh, "start the crawl over: delete its keys (and empty --out)", 0, 0 },
        { "max-per-host", "ZCRAWL_MAX_PER_HOST", ZC_FLAG_INT, &c->max_per_host, "requests in flight per host", 1, 100000 },
        { "rate", "ZCRAWL_RATE", ZC_FLAG_DOUBLE, &c->rate, "requests per second per host (0: no limit)", 0, 1e6 },
        { "concurrency", "ZCRAWL_CONCURRENCY", ZC_FLAG_INT, &c->concurrency, "transfers per fetcher", 1, 100000 },
        { "lease-ms", "ZCRAWL_LEASE_MS", ZC_FLAG_INT, &c->lease_ms, "lease of a handed-out URL", 500, 86400000 },
        { "max-retries", "ZCRAWL_MAX_RETRIES", ZC_FLAG_INT, &c->max_retries, "transient failures before a dead letter", 0, 1000 },
        { "timeout", "ZCRAWL_TIMEOUT", ZC_FLAG_INT, &c->timeout_s, "stop after this many seconds, resumable (0: never)", 0, 864000 },
        { "max-restarts", "ZCRAWL_MAX_RESTARTS", ZC_FLAG_INT, &c->max_restarts,
          "restarts of a failing stage within --restart-window", 0, SUP_MAX_BUDGET },
        { "restart-window", "ZCRAWL_RESTART_WINDOW", ZC_FLAG_INT, &c->restart_window_s,
          "seconds over which --max-restarts counts", 1, 86400 },
        { "log-level", "ZCRAWL_LOG_LEVEL", ZC_FLAG_STR, &c->log_level, "stages' log level", 0, 0 },
        { "log-dir", "ZCRAWL_LOG_DIR", ZC_FLAG_STR, &c->log_dir,
          "folder for the stages' logs, kept (default: a temp folder, removed when the crawl completes)", 0, 0 },
        { "bin-dir", "ZCRAWL_BIN_DIR", ZC_FLAG_STR, &c->bin_dir, "folder of zcrawl-* (default: beside zcrawl)", 0, 0 },
        { "no-progress", NULL, ZC_FLAG_BOOL, &c->no_progress, "no progress lines, only problems and the summary", 0, 0 },
        { "via-broker", "ZCRAWL_VIA_BROKER", ZC_FLAG_BOOL, &c->via_broker,
          "pages and documents through the broker's streamers, not straight from stage to stage", 0, 0 },
        { "books", "ZCRAWL_DEMO_BOOKS", ZC_FLAG_INT, &c->books, "demo: books the emulator serves", 1, 10000000 },
        { "latency-ms", "ZCRAWL_DEMO_LATENCY_MS", ZC_FLAG_INT, &c->latency_ms, "demo: emulator latency", 0, 600000 },
        { "jitter-ms", "ZCRAWL_DEMO_JITTER_MS", ZC_FLAG_INT, &c->jitter_ms, "demo: emulator latency jitter", 0, 600000 },
        { "seed", "ZCRAWL_DEMO_SEED", ZC_FLAG_INT, &c->seed, "demo: emulator seed", 0, 2147483647 },
        ZC_CURVE_FLAGS, /* --keys DIR instead of fresh keys in the log folder; --insecure for none */
        ZC_FLAGS_END,
    };
    if (sizeof(flags) / sizeof(*flags) > cap) zc_die(1, CLI_PROG, "flag table too small");
    memcpy(out, flags, sizeof(flags));
}

/* The checks that need more than one flag or more than a range. */
static void conf_check(const cli_conf *c) {
    zc_log_level lvl;
    char why[256];
    if (zc_log_parse_level(c->log_level, &lvl) != 0) zc_die(CLI_EXIT_USAGE, CLI_PROG, "bad --log-level '%s'", c->log_level);
    if (zc_redis_crawl_check(c->crawl, why, sizeof(why)) != 0) zc_die(CLI_EXIT_USAGE, CLI_PROG, "--crawl: %s", why);
    if (c->redis) {
        zc_redis_addr ra;
        if (zc_redis_parse(c->redis, &ra, why, sizeof(why)) != 0) zc_die(CLI_EXIT_USAGE, CLI_PROG, "--redis: %s", why);
        if (c->state)
            zc_die(CLI_EXIT_USAGE, CLI_PROG, "give --state or --redis, not both (with --redis the crawl's state is in that Redis)");
    }
    if (c->mongo && c->out) zc_die(CLI_EXIT_USAGE, CLI_PROG, "give --mongo or --out, not both");
}

void cli_conf_parse(cli_conf *c, int argc, char **argv, int *npos, const char *synopsis) {
    zc_flag flags[40];
    conf_flags(c, flags, sizeof(flags) / sizeof(*flags));
    /* The flags parser moves positional arguments; the resume command keeps the
     * order the user typed. */
    c->resume_cmd = cli_resume_command(argv[0], argc, argv);
    if (!c->resume_cmd) zc_die(1, CLI_PROG, "out of memory");
    zc_flags_parse_or_exit(flags, argc - 1, argv + 1, npos, CLI_PROG, synopsis, SUMMARY);
    conf_check(c);
}

cli_conf cli_conf_defaults(void) {
    cli_conf c = {
        .fetchers = 2,
        .parsers = 1,
        .writers = 1,
        .max_per_host = 8,
        .concurrency = 64,
        .lease_ms = 30000,
        .timeout_s = 0,
        .max_restarts = 5,
        .restart_window_s = 60,
        .max_retries = 5,
        .books = 9040,
        .seed = 1,
        .crawl = "default",
        .log_level = "info",
    };
    return c;
}

void cli_conf_usage(FILE *f, const char *synopsis, const char *summary) {
    cli_conf c = cli_conf_defaults();
    zc_flag flags[40];
    conf_flags(&c, flags, sizeof(flags) / sizeof(*flags));
    zc_flags_usage(f, CLI_PROG, synopsis, summary ? summary : SUMMARY, flags);
}

/* Appends s to *buf shell-quoted (as is when it holds only safe characters). */
static int quote_add(char **buf, size_t *len, size_t *cap, const char *s) {
    size_t need = strlen(s) * 4 + 4;
    if (*len + need >= *cap) {
        size_t ncap = (*len + need) * 2;
        char *p = realloc(*buf, ncap);
        if (!p) return -1;
        *buf = p;
        *cap = ncap;
    }
    char *o = *buf + *len;
    if (*len) *o++ = ' ';
    int safe = *s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-") == strlen(s);
    if (!safe) *o++ = '\'';
    for (; *s; s++) {
        if (!safe && *s == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *s;
        }
    }
    if (!safe) *o++ = '\'';
    *o = '\0';
    *len = (size_t)(o - *buf);
    return 0;
}

char *cli_resume_command(const char *prog, int argc, char **argv) {
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (quote_add(&buf, &len, &cap, prog) != 0) goto oom;
    for (int i = 1; i < argc; i++) {
        /* --fresh again would start over instead of resuming. */
        if (!strcmp(argv[i], "--fresh") || !strncmp(argv[i], "--fresh=", 8)) continue;
        /* It is printed: a URI's password shows as *** (the user puts it back). */
        size_t n = strlen(argv[i]) + 16;
        char *shown = malloc(n);
        if (!shown) goto oom;
        int rc = quote_add(&buf, &len, &cap, zc_redact_uri(shown, n, argv[i]));
        free(shown);
        if (rc != 0) goto oom;
    }
    return buf;
oom:
    free(buf);
    return NULL;
}

void cli_conf_free(cli_conf *c) {
    free(c->resume_cmd);
    c->resume_cmd = NULL;
    free(c->private_origins);
    c->private_origins = NULL;
}
