/* fetch_guard.h -- the SSRF guard: every connection a transfer opens is judged by
 * the address libcurl is about to connect to.
 *
 * libcurl opens every socket through CURLOPT_OPENSOCKETFUNCTION with the address
 * it chose after DNS (for each address of the host it tries), so the guard judges
 * the address really used: a name that resolves to a public address for a check
 * and to 127.0.0.1 for the connection is refused. Loopback, private, link-local
 * and other special addresses (lib/zc_addr.c) are refused unless the guard is off.
 * Every socket libcurl opens and closes (CURLOPT_CLOSESOCKETFUNCTION) is counted
 * here too, so the fetcher knows how many connections libcurl holds. */
#ifndef FETCH_GUARD_H
#define FETCH_GUARD_H

#include <curl/curl.h>

/* One transfer's view of the guard; reset with fetch_guard_reset at each request. */
typedef struct fetch_guard {
    int on;              /* refuse non-public addresses */
    long *sockets;       /* open sockets of every transfer (the pool's count) */
    char blocked_ip[48]; /* the last address refused */
    unsigned blocked : 1, opened : 1;
    unsigned exempt : 1; /* this request's origin was named by the user (--allow-private-origin) */
} fetch_guard;

/* Whether the guard is on for these settings (origins, the exempt ones, are said
 * once in the log when there are any): off with allow_private, and off
 * behind a proxy (every connection then goes to the proxy, which must judge the
 * addresses behind it; said once in the log, naming the proxy). The proxy
 * variables of the environment (http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY, ...)
 * are never used (the transfers set CURLOPT_PROXY and CURLOPT_NOPROXY); those
 * set are named once in the log as ignored. */
int fetch_guard_wanted(int allow_private, const char *origins, const char *proxy);
/* Whether url's origin is one of list (comma-separated origins as zc_scope_origin
 * writes them, e.g. "http://127.0.0.1:8080"): those the user named may reach
 * private addresses while the guard stays on for every other origin. 0 for an
 * empty or NULL list and for a URL without an origin. */
int fetch_guard_exempt(const char *list, const char *url);
/* 0 when every entry of list is an origin in that form, else -1 with the first
 * that is not in err. */
int fetch_guard_check_origins(const char *list, char *err, size_t errlen);
/* Forgets what the previous request of a transfer saw. */
void fetch_guard_reset(fetch_guard *g);
/* CURLOPT_OPENSOCKETFUNCTION with CURLOPT_OPENSOCKETDATA a fetch_guard: a refused
 * address gives CURL_SOCKET_BAD (libcurl then tries the host's next address, if
 * any) and is remembered in blocked_ip; else a new socket. */
curl_socket_t fetch_guard_open(void *guard, curlsocktype purpose, struct curl_sockaddr *a);
/* CURLOPT_CLOSESOCKETFUNCTION with CURLOPT_CLOSESOCKETDATA the count of open
 * sockets (a long that outlives the multi handle: libcurl closes connections
 * long after the transfer that opened them). Returns close's result. */
int fetch_guard_close(void *sockets, curl_socket_t s);
/* 1 when every address of the request was refused by the guard (no socket was
 * opened): asking again gives the same answer. */
int fetch_guard_refused_all(const fetch_guard *g);

#endif
