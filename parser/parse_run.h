/* parse_run.h -- the parser's loop: pages in from fetchers, DISCOVERED to the broker
 * or DOC to the writers out, HOLD and STATUS for what waits (the fetcher's
 * new/run/free shape). */
#ifndef PARSE_RUN_H
#define PARSE_RUN_H

#include <stddef.h>

#include "spec.h"
#include "zc_proof.h"

/* What main.c's flags say. The strings and proof must outlive the parser. */
typedef struct parse_run_conf {
    const char *broker, *pages, *docs, *name, *spec_name;
    long hb_ms, hold_ms, max_held;
    const zc_proof_key *proof; /* the crawl secret: a page must prove its lease; off: nothing checked */
} parse_run_conf;

typedef struct parser parser;

/* Opens the sockets and the broker connection. spec is borrowed: it must outlive
 * the parser. Returns the parser, or NULL with a one-line reason in err. */
parser *parse_run_new(const parse_run_conf *c, const spec_t *spec, char *err, size_t errlen);
/* Runs until a signal or the broker's SHUTDOWN, then drains what it can. Returns
 * the exit code: 0, or 1 when polling failed. */
int parse_run_loop(parser *P);
/* Closes everything; NULL is a no-op. */
void parse_run_free(parser *P);

#endif
