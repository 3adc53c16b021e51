/* main.c -- zcrawl-fetcher: flags and setup around the fetch loop. */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <curl/curl.h>

#include "fetch_guard.h"
#include "fetch_loop.h"
#include "fetch_spec.h"
#include "zc_curve.h"
#include "zc_endpoint.h"
#include "zc_flags.h"
#include "zc_log.h"
#include "zc_signal.h"

#define PROG "zcrawl-fetcher"

#define die(code, ...) zc_die(code, PROG, __VA_ARGS__)

/* Every transfer needs a descriptor, and ZeroMQ a few more: raise the soft limit
 * toward the hard one when --concurrency asks for it. */
static void raise_nofile(long concurrency) {
    struct rlimit rl;
    rlim_t want = (rlim_t)concurrency * 2 + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want) ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            zc_warn("nofile_limit", "soft=%llu wanted=%llu reason=\"%s\"", (unsigned long long)old,
                    (unsigned long long)want, strerror(errno));
        else if (rl.rlim_cur < want)
            zc_warn("nofile_limit", "soft=%llu wanted=%llu", (unsigned long long)rl.rlim_cur,
                    (unsigned long long)want);
    }
}

int main(int argc, char **argv) {
    fetch_config cfg;
    fetch_config_defaults(&cfg);
    const char *log_level = "info";
    zc_flag flags[] = {
        { "broker", "ZCRAWL_BROKER", ZC_FLAG_STR, &cfg.broker, "broker control endpoint (DEALER connects)", 0, 0 },
        { "pages", "ZCRAWL_PAGES_IN", ZC_FLAG_STR, &cfg.pages, "where pages go (PUSH): the broker's pages-in, or parsers directly; a list, '@' binds", 0, 0 },
        { "pages-in", NULL, ZC_FLAG_STR, &cfg.pages, "same as --pages", 0, 0 },
        { "concurrency", "ZCRAWL_CONCURRENCY", ZC_FLAG_INT, &cfg.concurrency, "transfers at once (credit)", 1, 10000 },
        { "max-body", "ZCRAWL_MAX_BODY", ZC_FLAG_INT, &cfg.max_body, "largest decoded body in bytes", 1024, 1073741824 },
        { "connect-timeout-ms", "ZCRAWL_CONNECT_TIMEOUT_MS", ZC_FLAG_INT, &cfg.connect_timeout_ms, "connect timeout", 1, 600000 },
        { "timeout-ms", "ZCRAWL_TIMEOUT_MS", ZC_FLAG_INT, &cfg.timeout_ms, "whole-transfer timeout", 1, 3600000 },
        { "user-agent", "ZCRAWL_USER_AGENT", ZC_FLAG_STR, &cfg.user_agent, "User-Agent header", 0, 0 },
        { "proxy", "ZCRAWL_PROXY", ZC_FLAG_STR, &cfg.proxy, "proxy URL (curl syntax), empty for none; http_proxy and the like are ignored", 0, 0 },
        { "name", "ZCRAWL_NAME", ZC_FLAG_STR, &cfg.name, "name in HELLO (default fetcher-HOST-PID)", 0, 0 },
        { "heartbeat-ms", "ZCRAWL_HEARTBEAT_MS", ZC_FLAG_INT, &cfg.heartbeat_ms, "heartbeat interval", 10, 600000 },
        { "drain-ms", "ZCRAWL_DRAIN_MS", ZC_FLAG_INT, &cfg.drain_ms, "wait for transfers at shutdown", 0, 600000 },
        { "recv-buffer", "ZCRAWL_RECV_BUFFER", ZC_FLAG_INT, &cfg.recv_buffer, "curl receive buffer per transfer, 0 = 1 MiB / concurrency within 1..16 KiB", 0, 524288 },
        { "pages-hwm", "ZCRAWL_PAGES_HWM", ZC_FLAG_INT, &cfg.pages_hwm, "pages queued in ZeroMQ per parser before backpressure (their bytes count in --max-held-bytes)", 1, 1000000 },
        { "max-held-bytes", "ZCRAWL_MAX_HELD_BYTES", ZC_FLAG_INT, &cfg.max_held_bytes, "page bytes held (received, waiting, queued in ZeroMQ) before credit stops and transfers pause", 65536, 68719476736.0 },
        { "max-redirs", "ZCRAWL_MAX_REDIRS", ZC_FLAG_INT, &cfg.max_redirs, "redirects to the same URL (canonical form: a trailing slash, case, default port) followed per URL; any other target goes to the broker", 0, 50 },
        { "max-retry-after-ms", "ZCRAWL_MAX_RETRY_AFTER_MS", ZC_FLAG_INT, &cfg.max_retry_after_ms, "cap on a server's Retry-After passed to the broker", 0, 86400000 },
        { "allow-private", "ZCRAWL_ALLOW_PRIVATE", ZC_FLAG_BOOL, &cfg.allow_private, "connect to loopback, private, link-local and other special addresses (refused by default)", 0, 0 },
        { "allow-private-origin", "ZCRAWL_ALLOW_PRIVATE_ORIGIN", ZC_FLAG_STR, &cfg.allow_private_origins, "origins (comma-separated, scheme://host:port) that may reach those addresses; every other origin may not", 0, 0 },
        { "spec", "ZCRAWL_SPEC", ZC_FLAG_STR, &cfg.spec, "crawl spec whose \"headers\" go with every request to --spec-origins (values from the environment)", 0, 0 },
        { "spec-origins", "ZCRAWL_SPEC_ORIGINS", ZC_FLAG_STR, &cfg.spec_origins, "comma-separated URLs (the start URLs): the origins that get the spec's headers, no other", 0, 0 },
        { "log-level", "ZCRAWL_LOG_LEVEL", ZC_FLAG_STR, &log_level, "debug, info, warn or error", 0, 0 },
        ZC_CURVE_FLAGS,
        ZC_FLAGS_END,
    };
    zc_flags_parse_or_exit(flags, argc, argv, NULL, PROG, "[flags]",
                           "Fetches the URLs the broker hands out (JOB) with libcurl, pushes\n"
                           "every page downstream (PAGE) and reports each outcome (DONE).");
    zc_log_level level;
    if (!log_level || zc_log_parse_level(log_level, &level) != 0)
        die(2, "--log-level: '%s' is not debug, info, warn or error", log_level ? log_level : "");
    char err[512];
    if (!zc_endpoint_ok(cfg.broker)) die(2, "--broker: '%s' is not an endpoint such as tcp://host:5555", cfg.broker ? cfg.broker : "");
    if (zc_endpoint_list_ok(cfg.pages, err, sizeof(err)) != 0) die(2, "--pages: %s", err);
    if (!cfg.user_agent) cfg.user_agent = "";
    if (cfg.recv_buffer != 0 && cfg.recv_buffer < 1024) die(2, "--recv-buffer: %ld is below 1024", cfg.recv_buffer);
    if (fetch_guard_check_origins(cfg.allow_private_origins, err, sizeof(err)) != 0) die(2, "--allow-private-origin: %s", err);
    if (cfg.name && strlen(cfg.name) >= 64) die(2, "--name '%s' is longer than 63 bytes", cfg.name);
    fetch_spec spec = { 0 };
    if (cfg.spec && *cfg.spec) {
        if (fetch_spec_load(&spec, cfg.spec, cfg.spec_origins, err, sizeof(err)) != 0) die(2, "--spec: %s", err);
        cfg.headers = &spec;
    }
    if (zc_curve_setup("fetcher", (const char *[]){ cfg.broker, cfg.pages, NULL }, err, sizeof(err)) != 0) die(2, "%s", err);
    zc_log_init("fetcher", level);
    if (cfg.headers && spec.n) {
        char q[600];
        zc_info("spec_headers", "spec=%s headers=%d origins=%zu shown=%s", cfg.spec, spec.n,
                zc_scope_norigins(spec.origins), zc_log_q(q, sizeof(q), spec.shown));
    }

    if (zc_signal_install() != 0) die(1, "cannot install signal handlers: %s", strerror(errno));
    raise_nofile(cfg.concurrency);
    /* One malloc arena for the loop and ZeroMQ's I/O thread (which frees the page
     * bodies it sent): a second arena holds on to its own free pages, which at 1000
     * transfers is a megabyte or two of resident memory for nothing. A hint only:
     * where it is refused (a sanitizer's allocator) nothing else changes. */
    (void)mallopt(M_ARENA_MAX, 1);
    /* Bodies of 256 KiB and more get their own mappings, returned to the system
     * when freed, so resident memory follows the held bytes (--max-held-bytes)
     * down again; glibc's sliding threshold would otherwise serve them from the
     * heap after the first free. */
    (void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    CURLcode crc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (crc != CURLE_OK) die(1, "curl_global_init: %s", curl_easy_strerror(crc));

    fetch_loop *l = fetch_loop_new(&cfg, err, sizeof(err));
    if (!l) {
        fetch_spec_free(&spec);
        curl_global_cleanup();
        die(1, "%s", err);
    }
    int rc = fetch_loop_run(l, err, sizeof(err));
    if (rc != 0) zc_error("fatal", "reason=\"%s\"", err);
    fetch_loop_free(l);
    fetch_spec_free(&spec);
    curl_global_cleanup();
    return rc == 0 ? 0 : 1;
}
