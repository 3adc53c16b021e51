/* fetch_redirect.h -- which redirects a fetcher follows itself, and which URLs are
 * the broker's own robots.txt requests.
 *
 * A redirect is followed here, not by libcurl, so that each hop is judged before
 * it is requested: only within the job URL's origin (scheme, host, port), at most
 * max_redirs; a redirect elsewhere ends the job with DONE "redirect" and the
 * target, and the broker decides. */
#ifndef FETCH_REDIRECT_H
#define FETCH_REDIRECT_H

#include <stddef.h>

/* What to do with a redirect from a job whose URL is job_url to target (absolute,
 * as CURLINFO_REDIRECT_URL gives it) after hops redirects already followed. */
typedef enum {
    FETCH_REDIR_FOLLOW = 0, /* same origin, under the limit: fetch target now */
    FETCH_REDIR_REPORT,     /* another origin or scheme: DONE redirect, the broker decides */
    FETCH_REDIR_TOO_MANY,   /* same origin, but max_redirs already followed */
    FETCH_REDIR_BAD         /* target is not a URL zcrawl can carry (unparsable, too long) */
} fetch_redir;
fetch_redir fetch_redirect_decide(const char *job_url, const char *target, long hops, long max_redirs);
/* 1 when a and b are absolute URLs with the same scheme, host and port (default
 * ports made explicit; scheme and host compared without case), 0 when they
 * differ, -1 when either cannot be parsed. */
int fetch_same_origin(const char *a, const char *b);
/* 1 when url (len bytes, not NUL-terminated) has exactly the path /robots.txt:
 * the broker's own request for an origin's rules (docs/PROTOCOL.md), answered to
 * it, never sent downstream. */
int fetch_is_robots(const char *url, size_t len);

#endif
