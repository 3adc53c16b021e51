/* parse_json.h -- a page's JSON: the body checks, the page arena, ids from JSON values.
 *
 * Every body is untrusted: it is checked for size, UTF-8, NUL bytes, \u escapes and
 * nesting depth before cJSON sees it, then parsed into a bump arena that the whole
 * tree leaves at once (parse_json_release). State: the body cap and the arena, both
 * of the one thread that parses. */
#ifndef PARSE_JSON_H
#define PARSE_JSON_H

#include <stddef.h>
#include <cjson/cJSON.h>

#define PARSE_MAX_DEPTH        64         /* deepest [ / { nesting accepted */
#define PARSE_DEFAULT_MAX_BODY (8u << 20) /* 8 MiB */
#define PARSE_ID_MAX           32         /* longest id of digits */

/* Sets / reads the largest body parse_json accepts (bytes, > 0). */
void parse_set_max_body(size_t n);
size_t parse_max_body(void);

/* Checks body (size, UTF-8, NUL bytes, depth) and parses it into the page arena.
 * Returns the root, or NULL with a one-line reason in err (the reason never quotes
 * the body); either way parse_json_release() ends the page (the tree goes with it). */
cJSON *parse_json(const char *body, size_t len, char *err, size_t errlen);
void parse_json_release(void);
/* Frees the arena's memory kept between pages (call at exit). */
void parse_json_free(void);

/* An id from a JSON value: a string of 1..PARSE_ID_MAX digits, or a whole number
 * in [0, 2^53). Returns 0 with the digits in out, or -1. */
int parse_json_id(const cJSON *v, char *out, size_t outlen);

#endif
