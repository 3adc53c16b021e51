/* fetch_event.h -- the fetcher's event base: one epoll set, the curl multi handle
 * it drives (hiperfifo's shape), and what every easy handle shares.
 *
 * curl's sockets join the epoll set through CURLMOPT_SOCKETFUNCTION and its single
 * timer through CURLMOPT_TIMERFUNCTION becomes a deadline the caller waits for;
 * both feed curl_multi_socket_action, after which the caller drains finished
 * transfers with fetch_event_done. Other descriptors (ZeroMQ's ZMQ_FD) join the
 * same set with a kind of their own. Nothing here polls: the caller sleeps in
 * fetch_event_wait until a descriptor is ready or a deadline passes. */
#ifndef FETCH_EVENT_H
#define FETCH_EVENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <curl/curl.h>

/* What a ready descriptor is: fetch_event_kind() of an epoll_event. */
enum { FETCH_EV_CURL = 1,
       FETCH_EV_PEER = 2,
       FETCH_EV_PAGES = 3 };

typedef struct fetch_event {
    int epfd;
    CURLM *multi;
    CURLSH *share;         /* the TLS session cache of every easy handle */
    int64_t curl_deadline; /* monotonic ms, -1 when curl wants no timer */
} fetch_event;

/* Opens the epoll set, the multi handle (at most maxconnects idle connections
 * kept) and the share. Returns 0, or -1 with a reason in err; fetch_event_close
 * frees what was made either way. */
int fetch_event_open(fetch_event *ev, long maxconnects, char *err, size_t errlen);
/* Frees the multi handle, the share (every easy handle must be freed first) and
 * the set. */
void fetch_event_close(fetch_event *ev);

/* Watches fd for events (EPOLLIN, EPOLLOUT) as kind, adding or modifying whichever
 * applies. Returns 0, or -1 with errno. */
int fetch_event_watch(fetch_event *ev, int fd, uint32_t events, int kind);
/* Stops watching fd; a descriptor already closed or never watched is fine. */
void fetch_event_unwatch(fetch_event *ev, int fd);
/* Kind and descriptor of a ready event. */
int fetch_event_kind(const struct epoll_event *e);
int fetch_event_fd(const struct epoll_event *e);

/* Milliseconds until curl's timer is due (0 when due), or -1 when none is set. */
int64_t fetch_event_curl_wait(const fetch_event *ev, int64_t now);
/* epoll_pwait for at most timeout_ms with sigmask; returns the ready count (0 on
 * EINTR), or -1 with errno. */
int fetch_event_wait(fetch_event *ev, struct epoll_event *evs, int max, int timeout_ms, const sigset_t *sigmask);
/* curl_multi_socket_action for a ready curl socket (its epoll events), or for the
 * timer when fd is CURL_SOCKET_TIMEOUT. Returns 0, or -1 with a reason in err when
 * the multi handle itself is broken. */
int fetch_event_action(fetch_event *ev, int fd, uint32_t events, char *err, size_t errlen);
/* The next finished transfer (already removed from the multi handle) with its
 * result, or NULL when none is left. */
CURL *fetch_event_done(fetch_event *ev, CURLcode *rc);

#endif
