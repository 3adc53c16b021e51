/* sim_apis.h -- the emulator's GitHub-, Stripe- and Hacker News-shaped APIs over the same books.
 *
 * Each book is also a GitHub repository, a Stripe customer and a Hacker News item,
 * served as those APIs answer (docs/SITESIM.md, "Real APIs"):
 *   GET /orgs/{org}/repos, /organizations/9919/repos   ?per_page (30, at most 100), page
 *       a top-level array; the next page in the Link header, naming the organization by number
 *   GET /v1/customers   ?limit (10; 1 to 100, else 400), starting_after
 *       {"object": "list", "url", "has_more", "data": [...]}
 *   GET /v0/topstories.json   the stories' ids
 *   GET /v0/item/{id}.json    a story or comment whose kids are more items, to any
 *       depth; a deleted item is `null` (200) or {"deleted": true}, an unknown one `null`
 * With a token (the environment's ZCRAWL_SITESIM_TOKEN) the GitHub and Stripe paths
 * answer 401 to a request without "Authorization: Bearer TOKEN". Records hold
 * nulls, non-ASCII text and HTML entities as the real ones do. */
#ifndef SIM_APIS_H
#define SIM_APIS_H

#include <stddef.h>

#include "sim_buf.h"
#include "sim_catalog.h"

/* Nonzero when path (decoded) is one of these APIs'. */
int sim_apis_match(const char *path);

/* Answers a GET of path with query q[0..qn) into body, and any extra header lines
 * ("Name: value\r\n") into extra (NUL-terminated, "" when none). auth is the
 * request's Authorization header (NULL when none), token the one demanded (NULL
 * or "": none), origin "http://host:port" for the links. Returns the status. */
int sim_apis_answer(const sim_catalog *c, const char *path, const char *q, size_t qn, const char *auth, size_t authlen,
                    const char *token, const char *origin, sim_buf *body, char *extra, size_t extralen);

#endif
