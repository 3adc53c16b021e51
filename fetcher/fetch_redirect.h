/* fetch_redirect.h -- which redirects a fetcher follows itself, and which URLs are
 * the broker's own robots.txt requests.
 *
 * A page's redirect is the broker's to follow: the job ends with DONE "redirect"
 * and the target, which the broker queues like a discovered URL, so the crawl's
 * scope, its dedup, robots.txt and the host's rate and cap all apply to it. The
 * one exception is a target that is the job URL itself in the crawl's canonical
 * form (zc_url: a trailing slash, the case of scheme and host, a default port,
 * the order of parameters): the broker would drop it as already seen, so the
 * fetcher follows it, at most max_redirs hops. A robots.txt request follows any
 * http(s) target itself, across origins too, at most FETCH_ROBOTS_MAX_REDIRS hops
 * (RFC 9309 2.3.1.2), so that its answer is the final body. Every hop connects
 * through the address guard like any request. */
#ifndef FETCH_REDIRECT_H
#define FETCH_REDIRECT_H

#include <stddef.h>

/* Redirect hops a robots.txt request follows (RFC 9309: at least five). */
#define FETCH_ROBOTS_MAX_REDIRS 5

/* What to do with a redirect from a job whose URL is job_url to target (absolute,
 * as CURLINFO_REDIRECT_URL gives it) after hops redirects already followed. */
typedef enum {
    FETCH_REDIR_FOLLOW = 0, /* fetch target now, on the same transfer */
    FETCH_REDIR_REPORT,     /* another URL: DONE redirect, the broker decides */
    FETCH_REDIR_TOO_MANY,   /* a hop to follow, but the limit is reached */
    FETCH_REDIR_BAD         /* target is not a URL zcrawl can carry or follow */
} fetch_redir;
/* robots: job_url is the broker's robots.txt request (fetch_is_robots). */
fetch_redir fetch_redirect_decide(const char *job_url, const char *target, long hops, long max_redirs, int robots);
/* 1 when a and b have the same canonical form (zc_url_canonical), 0 when they
 * differ, -1 when either has none (not an http(s) URL zcrawl can crawl). */
int fetch_same_url(const char *a, const char *b);
/* Writes target as DONE redirect reports it: its canonical form when it has one
 * (the broker then queues it at the host it names), else as it is (the broker
 * finds it out of scope). Cut to outlen; outlen > ZC_URL_MAX holds any target
 * fetch_redirect_decide did not call bad. */
void fetch_redirect_report(const char *target, char *out, size_t outlen);
/* 1 when url (len bytes, not NUL-terminated) has exactly the path /robots.txt:
 * the broker's own request for an origin's rules (docs/PROTOCOL.md), answered to
 * it, never sent downstream. */
int fetch_is_robots(const char *url, size_t len);

#endif
