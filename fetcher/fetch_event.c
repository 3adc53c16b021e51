/* fetch_event.c -- the fetcher's event base: epoll plus the curl multi handle. */
#include "fetch_event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zc_log.h"
#include "zc_time.h"

/* epoll_data.u64 = kind << 32 | fd */
#define EV_TAG(kind, fd) (((uint64_t)(kind) << 32) | (uint32_t)(fd))

int fetch_event_kind(const struct epoll_event *e) { return (int)(uint32_t)(e->data.u64 >> 32); }

int fetch_event_fd(const struct epoll_event *e) { return (int)(uint32_t)e->data.u64; }

/* Adds fd to the set or modifies it, trying first what known suggests. */
static int ep_set(fetch_event *ev, int fd, uint32_t events, int kind, int known) {
    struct epoll_event e;
    memset(&e, 0, sizeof(e));
    e.events = events;
    e.data.u64 = EV_TAG(kind, fd);
    int op = known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(ev->epfd, op, fd, &e) == 0) return 0;
    if (op == EPOLL_CTL_ADD && errno == EEXIST) op = EPOLL_CTL_MOD;
    else if (op == EPOLL_CTL_MOD && errno == ENOENT) op = EPOLL_CTL_ADD;
    else return -1;
    return epoll_ctl(ev->epfd, op, fd, &e);
}

int fetch_event_watch(fetch_event *ev, int fd, uint32_t events, int kind) { return ep_set(ev, fd, events, kind, 0); }

void fetch_event_unwatch(fetch_event *ev, int fd) {
    if (epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL) != 0 && errno != ENOENT && errno != EBADF)
        zc_warn("epoll_del_failed", "fd=%d reason=\"%s\"", fd, strerror(errno));
}

/* CURLMOPT_SOCKETFUNCTION: mirrors what curl wants to wait for into epoll. */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)easy;
    fetch_event *ev = userp;
    if (what == CURL_POLL_REMOVE) {
        fetch_event_unwatch(ev, s); /* curl forgets socketp with the socket */
        return 0;
    }
    uint32_t events = 0;
    if (what & CURL_POLL_IN) events |= EPOLLIN;
    if (what & CURL_POLL_OUT) events |= EPOLLOUT;
    if (ep_set(ev, s, events, FETCH_EV_CURL, socketp != NULL) != 0) {
        /* The transfer then ends by its own timeout, reported as a retry. */
        zc_error("epoll_add_failed", "fd=%d reason=\"%s\"", (int)s, strerror(errno));
        return 0;
    }
    if (!socketp && curl_multi_assign(ev->multi, s, ev) != CURLM_OK)
        zc_warn("curl_assign_failed", "fd=%d", (int)s);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl's single timer becomes a deadline of the loop. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    fetch_event *ev = userp;
    ev->curl_deadline = timeout_ms < 0 ? -1 : zc_now_ms() + timeout_ms;
    return 0;
}

#define MSET(opt, val)                                               \
    do {                                                             \
        CURLMcode mc_ = curl_multi_setopt(ev->multi, opt, val);      \
        if (mc_ != CURLM_OK) {                                       \
            snprintf(err, errlen, "curl_multi_setopt(%s): %s", #opt, \
                     curl_multi_strerror(mc_));                      \
            return -1;                                               \
        }                                                            \
    } while (0)

int fetch_event_open(fetch_event *ev, long maxconnects, char *err, size_t errlen) {
    ev->multi = NULL;
    ev->share = NULL;
    ev->curl_deadline = -1;
    ev->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ev->epfd < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        return -1;
    }
    ev->multi = curl_multi_init();
    if (!ev->multi) {
        snprintf(err, errlen, "curl_multi_init failed");
        return -1;
    }
    MSET(CURLMOPT_SOCKETFUNCTION, sock_cb);
    MSET(CURLMOPT_SOCKETDATA, (void *)ev);
    MSET(CURLMOPT_TIMERFUNCTION, timer_cb);
    MSET(CURLMOPT_TIMERDATA, (void *)ev);
    MSET(CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    MSET(CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    MSET(CURLMOPT_MAXCONNECTS, maxconnects);
    /* One TLS session cache for all easy handles. Without it libcurl 7.88 gives
     * each handle its own (5 slots, 920 bytes calloc'd before the first transfer,
     * even of plain http: 4.6 MB at 5000 transfers), and every slot can keep an
     * SSL_SESSION alive. Shared (8 slots, least recently used out), a session
     * one handle got is resumed by any connection to that host. The multi handle
     * already shares connections and DNS. */
    ev->share = curl_share_init();
    if (!ev->share) {
        snprintf(err, errlen, "curl_share_init failed");
        return -1;
    }
    CURLSHcode sc = curl_share_setopt(ev->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (sc != CURLSHE_OK) {
        snprintf(err, errlen, "curl_share_setopt(CURL_LOCK_DATA_SSL_SESSION): %s", curl_share_strerror(sc));
        return -1;
    }
    return 0;
}

void fetch_event_close(fetch_event *ev) {
    if (ev->multi) {
        CURLMcode mc = curl_multi_cleanup(ev->multi);
        if (mc != CURLM_OK) zc_warn("curl_multi_cleanup_failed", "reason=\"%s\"", curl_multi_strerror(mc));
        ev->multi = NULL;
    }
    if (ev->share) { /* after every easy handle: a share in use is not freed */
        CURLSHcode sc = curl_share_cleanup(ev->share);
        if (sc != CURLSHE_OK) zc_warn("curl_share_cleanup_failed", "reason=\"%s\"", curl_share_strerror(sc));
        ev->share = NULL;
    }
    if (ev->epfd >= 0 && close(ev->epfd) != 0) zc_warn("close_failed", "fd=epoll reason=\"%s\"", strerror(errno));
    ev->epfd = -1;
}

int64_t fetch_event_curl_wait(const fetch_event *ev, int64_t now) {
    if (ev->curl_deadline < 0) return -1;
    return ev->curl_deadline > now ? ev->curl_deadline - now : 0;
}

int fetch_event_wait(fetch_event *ev, struct epoll_event *evs, int max, int timeout_ms, const sigset_t *sigmask) {
    int n = epoll_pwait(ev->epfd, evs, max, timeout_ms, sigmask);
    if (n < 0 && errno == EINTR) return 0;
    return n;
}

int fetch_event_action(fetch_event *ev, int fd, uint32_t events, char *err, size_t errlen) {
    int mask = 0, running = 0;
    if (fd == CURL_SOCKET_TIMEOUT) ev->curl_deadline = -1;
    else mask = ((events & (EPOLLIN | EPOLLHUP)) ? CURL_CSELECT_IN : 0) | ((events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                ((events & EPOLLERR) ? CURL_CSELECT_ERR : 0);
    CURLMcode mc = curl_multi_socket_action(ev->multi, fd, mask, &running);
    if (mc != CURLM_OK) {
        snprintf(err, errlen, "curl_multi_socket_action: %s", curl_multi_strerror(mc));
        return -1;
    }
    return 0;
}

CURL *fetch_event_done(fetch_event *ev, CURLcode *rc) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(ev->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        *rc = msg->data.result;
        CURLMcode mc = curl_multi_remove_handle(ev->multi, easy);
        if (mc != CURLM_OK) zc_warn("curl_remove_failed", "reason=\"%s\"", curl_multi_strerror(mc));
        return easy;
    }
    return NULL;
}
