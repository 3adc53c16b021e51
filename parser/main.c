/* main.c -- zcrawl-parser: turns fetched pages into new URLs and documents by a crawl
 * spec. Flags, then the loop of parse_run.c (new, run, free). */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "parse_book.h"
#include "parse_run.h"
#include "parse_try.h"
#include "spec.h"
#include "zc_curve.h"
#include "zc_flags.h"
#include "zc_log.h"
#include "zc_peer.h"
#include "zc_proof.h"
#include "zc_signal.h"

#define PROG "zcrawl-parser"

/* ---------- flags ---------- */

static const char *opt_broker = "tcp://127.0.0.1:5555";
static const char *opt_pages = "tcp://127.0.0.1:5557";
static const char *opt_docs = "tcp://127.0.0.1:5558";
static const char *opt_log_level = "info";
static const char *opt_name = NULL;
static long opt_hb_ms = 1000;
static long opt_max_body = PARSE_DEFAULT_MAX_BODY;
static const char *opt_spec = NULL;
static int opt_check_spec = 0;
static long opt_lease_ms = ZC_PEER_LEASE_MS;
static long opt_hold_ms = 0; /* a third of the lease */
static long opt_max_held = 64L << 20;
static const char *opt_try = NULL;
static const char *opt_page_url = NULL;
static const char *opt_link = NULL;

static const zc_flag parser_flags[] = {
    { "broker", "ZCRAWL_BROKER", ZC_FLAG_STR, &opt_broker,
      "broker control endpoint (DEALER connects)", 0, 0 },
    { "pages", "ZCRAWL_PAGES_OUT", ZC_FLAG_STR, &opt_pages,
      "where pages come from (PULL): the broker's pages-out, or '@endpoint' to bind for fetchers; a list", 0, 0 },
    { "docs", "ZCRAWL_DOCS_IN", ZC_FLAG_STR, &opt_docs,
      "where documents go (PUSH): the broker's docs-in, or writers directly; a list, '@' binds", 0, 0 },
    { "heartbeat-ms", "ZCRAWL_HEARTBEAT_MS", ZC_FLAG_INT, &opt_hb_ms,
      "heartbeat interval to the broker, ms", 10, 600000 },
    { "max-body", "ZCRAWL_MAX_BODY", ZC_FLAG_INT, &opt_max_body,
      "largest page body parsed, bytes (larger ones become dead letters)", 1024, 1 << 30 },
    { "spec", "ZCRAWL_SPEC", ZC_FLAG_STR, &opt_spec,
      "crawl spec (docs/SPEC.md): which pages are lists and items and how to read them (default: the built-in specs/books.json)", 0, 0 },
    { "lease-ms", "ZCRAWL_LEASE_MS", ZC_FLAG_INT, &opt_lease_ms,
      "the broker's --lease-ms (none: 30000); --hold-ms is at most a third of it", 500, 86400000 },
    { "hold-ms", "ZCRAWL_HOLD_MS", ZC_FLAG_INT, &opt_hold_ms,
      "a page held this long unsent (output blocked) is reported to the broker in a HOLD, again every hold-ms (none: a third of --lease-ms)", 100, 3600000 },
    { "max-held-bytes", "ZCRAWL_MAX_HELD_BYTES", ZC_FLAG_INT, &opt_max_held,
      "stop reading pages while the output waiting for room holds more than this", 4096, 1L << 40 },
    { "check-spec", NULL, ZC_FLAG_BOOL, &opt_check_spec,
      "only check the spec: print one line and exit 0, or the mistake and exit 2", 0, 0 },
    { "try", NULL, ZC_FLAG_STR, &opt_try,
      "only try the spec on one page (an http(s) URL it fetches, or a file): print what it yields, field by field; exit 0 when it yields something, 1 when not", 0, 0 },
    { "page-url", NULL, ZC_FLAG_STR, &opt_page_url,
      "with --try FILE: the URL the page came from (which rule matches, and {origin})", 0, 0 },
    { "link", NULL, ZC_FLAG_STR, &opt_link,
      "with --try FILE: the page's Link response header (for link pagination)", 0, 0 },
    { "log-level", "ZCRAWL_LOG_LEVEL", ZC_FLAG_STR, &opt_log_level,
      "debug, info, warn or error", 0, 0 },
    { "name", "ZCRAWL_NAME", ZC_FLAG_STR, &opt_name,
      "name this parser gives the broker (default parser-HOST-PID)", 0, 0 },
    ZC_CURVE_FLAGS,
    ZC_PROOF_FLAGS,
    ZC_FLAGS_END
};

#define die(code, ...) zc_die(code, PROG, __VA_ARGS__)

int main(int argc, char **argv) {
    zc_log_level level;
    char err[512];

    zc_flags_parse_or_exit(parser_flags, argc, argv, NULL, PROG, "[flags]",
                           "Parses fetched pages by a crawl spec (--spec, docs/SPEC.md; the built-in\n"
                           "one is specs/books.json): list pages become new URLs for the broker (items\n"
                           "and further pages), item pages become BSON documents for the writers. A\n"
                           "page no rule matches, or one that breaks its rule, becomes a dead letter.\n"
                           "A bad spec stops the parser before it connects (one line, exit 2).");
    if (zc_log_parse_level(opt_log_level, &level) != 0)
        die(2, "--log-level: '%s' is not debug, info, warn or error", opt_log_level);
    if ((opt_hold_ms = zc_peer_hold_ms(opt_lease_ms, opt_hold_ms, err, sizeof(err))) < 0) die(2, "%s", err);
    if (opt_name && strlen(opt_name) >= sizeof(((zc_peer *)0)->name))
        die(2, "--name: '%s' is longer than %zu bytes", opt_name, sizeof(((zc_peer *)0)->name) - 1);
    spec_t *loaded = NULL;
    const spec_t *spec;
    if (opt_spec && *opt_spec) {
        if (!(loaded = spec_load_file(opt_spec, err, sizeof(err)))) die(2, "--spec: %s", err);
        spec = loaded;
    } else if (!(spec = spec_default())) {
        die(2, "the built-in spec: out of memory");
    }
    const char *spec_name = opt_spec && *opt_spec ? opt_spec : "(built-in books)";
    if (opt_check_spec) {
        char hd[1024];
        const zc_headers *h = spec_headers(spec);
        printf("%s: spec %s ok%s%s\n", PROG, spec_name, h->n ? "; headers: " : "", h->n ? zc_headers_describe(h, hd, sizeof(hd)) : "");
        spec_free(loaded);
        parse_cleanup();
        return 0;
    }
    if (opt_try) {
        parse_set_max_body((size_t)opt_max_body);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) die(2, "curl_global_init failed");
        parse_try_conf tc = { opt_try, opt_page_url, opt_link, spec_name, 30000 };
        int rc = parse_try(spec, &tc, stdout, err, sizeof(err));
        spec_free(loaded);
        parse_cleanup();
        curl_global_cleanup();
        if (rc == 2) die(2, "%s", err);
        return rc;
    }
    if (opt_page_url || opt_link) die(2, "--page-url and --link go with --try");
    if (zc_curve_setup("parser", (const char *[]){ opt_broker, opt_pages, opt_docs, NULL }, err, sizeof(err)) != 0) die(2, "%s", err);
    zc_log_init("parser", level);
    parse_set_max_body((size_t)opt_max_body);
    if (zc_signal_install() != 0) die(2, "cannot install signal handlers");

    static zc_proof_key proof;
    char secret_path[4096]; /* --secret-file, or crawl.secret beside --keys */
    if (zc_proof_load(&proof, zc_proof_secret_path(zc_proof_opt_secret_file, zc_curve_opt_keys, secret_path, sizeof(secret_path)), err, sizeof(err)) != 0) die(2, "%s", err);
    parse_run_conf c = { .broker = opt_broker, .pages = opt_pages, .docs = opt_docs, .name = opt_name, .spec_name = opt_spec && *opt_spec ? opt_spec : "built-in:books", .hb_ms = opt_hb_ms, .hold_ms = opt_hold_ms, .max_held = opt_max_held, .proof = &proof };
    parser *P = parse_run_new(&c, spec, err, sizeof(err));
    if (!P) die(2, "%s", err);
    int rc = parse_run_loop(P);
    parse_run_free(P);
    spec_free(loaded);
    parse_cleanup();
    return rc;
}
