/* sim_server.c -- single-threaded epoll HTTP/1.1 server that delivers a sim_site's answers. */
#include "sim_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim_http.h"
#include "zc_log.h"
#include "zc_signal.h"
#include "zc_time.h"

#define MAX_QUEUE     64 /* pipelined answers waiting per connection */
#define MAX_EVENTS    256
#define MAX_WAIT_MS   200   /* the loop checks for SIGTERM at least this often */
#define POOL_MAX      4096  /* spare replies kept for reuse */
#define POOL_KEEP_BUF 65536 /* a spare reply keeps a buffer up to this size */

typedef struct conn {
    int fd;
    int closed;
    uint32_t events; /* current epoll interest */
    char *in;        /* SIM_HTTP_MAX_HEAD bytes, or NULL when idle */
    size_t in_len;
    long skip;          /* request body bytes still to discard */
    int rd_eof;         /* the peer sent FIN */
    int no_more;        /* no more requests: Connection: close or a bad request */
    int want_out;       /* the last write hit EAGAIN */
    sim_reply *qh, *qt; /* answers in request order */
    int qn;
    struct conn *prev, *next; /* live connections */
    struct conn *next_dead;
} conn;

struct sim_server {
    sim_site *site;
    int lfd, ep, spare_fd, port;
    sim_heap timers;
    conn *live;
    conn *dead; /* closed this round, freed after the event batch */
    sim_reply *pool;
    size_t npool;
    int64_t now;
    int64_t last_shed_log;
};

static sim_reply *reply_of(sim_timer *t) {
    return (sim_reply *)(void *)((char *)t - offsetof(sim_reply, timer));
}

static sim_reply *reply_get(sim_server *sv) {
    sim_reply *r = sv->pool;
    if (r) {
        sv->pool = r->next;
        sv->npool--;
        r->next = NULL;
        return r;
    }
    return sim_reply_new();
}

static void reply_put(sim_server *sv, sim_reply *r) {
    if (sv->npool < POOL_MAX && r->out.cap <= POOL_KEEP_BUF) {
        sim_reply_clear(r);
        r->next = sv->pool;
        sv->pool = r;
        sv->npool++;
    } else {
        sim_reply_free(r);
    }
}

static void conn_close(sim_server *sv, conn *c) {
    if (c->closed)
        return;
    c->closed = 1;
    sim_reply *r;
    while ((r = c->qh) != NULL) {
        c->qh = r->next;
        sim_heap_remove(&sv->timers, &r->timer);
        sim_site_finish(sv->site, r, 0);
        reply_put(sv, r);
    }
    c->qt = NULL;
    c->qn = 0;
    if (close(c->fd) != 0)
        zc_debug("close_failed", "fd=%d errno=%d", c->fd, errno);
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        sv->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next_dead = sv->dead;
    sv->dead = c;
    sv->site->connections--;
}

/* Appends r to c's queue, arming its delay. Returns 0, or -1 (c closed) when out of memory. */
static int conn_enqueue(sim_server *sv, conn *c, sim_reply *r) {
    r->conn = c;
    r->next = NULL;
    if (c->qt)
        c->qt->next = r;
    else
        c->qh = r;
    c->qt = r;
    c->qn++;
    if (r->delay_ms > 0) {
        r->timer.when = sv->now + r->delay_ms;
        if (sim_heap_push(&sv->timers, &r->timer) != 0) {
            zc_error("out_of_memory", "what=timer");
            conn_close(sv, c);
            return -1;
        }
    }
    return 0;
}

static void conn_read(sim_server *sv, conn *c) {
    if (c->in == NULL) {
        c->in = malloc(SIM_HTTP_MAX_HEAD);
        if (c->in == NULL) {
            zc_error("out_of_memory", "what=input");
            conn_close(sv, c);
            return;
        }
    }
    while (c->in_len < SIM_HTTP_MAX_HEAD) {
        size_t room = SIM_HTTP_MAX_HEAD - c->in_len;
        ssize_t n = read(c->fd, c->in + c->in_len, room);
        if (n > 0) {
            c->in_len += (size_t)n;
            if ((size_t)n < room)
                break;
            continue;
        }
        if (n == 0) {
            c->rd_eof = 1;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        zc_debug("read_failed", "fd=%d errno=%d", c->fd, errno);
        conn_close(sv, c);
        return;
    }
}

/* Turns buffered bytes into queued answers. */
static void conn_parse(sim_server *sv, conn *c) {
    size_t off = 0;
    while (!c->no_more && !c->closed) {
        if (c->skip > 0) {
            size_t avail = c->in_len - off;
            size_t take = avail < (size_t)c->skip ? avail : (size_t)c->skip;
            off += take;
            c->skip -= (long)take;
            if (c->skip > 0)
                break;
        }
        if (off == c->in_len || c->qn >= MAX_QUEUE)
            break;
        sim_request req;
        char err[128];
        long n = sim_http_parse(c->in + off, c->in_len - off, &req, err, sizeof err);
        if (n == 0) {
            if (c->rd_eof)
                off = c->in_len; /* a partial request nothing will complete */
            break;
        }
        sim_reply *r = reply_get(sv);
        if (r == NULL) {
            zc_error("out_of_memory", "what=reply");
            conn_close(sv, c);
            return;
        }
        int rc;
        if (n < 0 || req.content_length > SIM_HTTP_MAX_BODY) {
            const char *why = n < 0 ? err : "request body too large";
            char q[160];
            zc_debug("bad_request", "fd=%d reason=%s", c->fd, zc_log_q(q, sizeof q, why));
            rc = sim_site_bad_request(sv->site, why, r);
            c->no_more = 1;
        } else {
            off += (size_t)n;
            c->skip = req.content_length;
            rc = sim_site_handle(sv->site, &req, req.keep_alive, r);
            if (!req.keep_alive)
                c->no_more = 1;
            if (rc == 0 && zc_log_enabled(ZC_LOG_DEBUG)) {
                char path[256], q[300];
                int pn = req.path_len < sizeof path - 1 ? (int)req.path_len : (int)sizeof path - 1;
                memcpy(path, req.path, (size_t)pn);
                path[pn] = '\0';
                zc_debug("request", "fd=%d path=%s status=%d send=%d delay_ms=%lld", c->fd,
                         zc_log_q(q, sizeof q, path), r->status, (int)r->send,
                         (long long)r->delay_ms);
            }
        }
        if (rc != 0) {
            zc_error("out_of_memory", "what=answer");
            sim_site_finish(sv->site, r, 0);
            reply_put(sv, r);
            conn_close(sv, c);
            return;
        }
        if (conn_enqueue(sv, c, r) != 0)
            return;
    }
    if (c->closed)
        return;
    if (c->no_more) {
        c->in_len = 0;
    } else if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (c->in_len == 0) {
        free(c->in);
        c->in = NULL;
    }
}

/* Writes every answer at the head of the queue that is due. */
static void conn_flush(sim_server *sv, conn *c) {
    sim_reply *r;
    while (!c->closed && (r = c->qh) != NULL && r->timer.idx == SIM_TIMER_IDLE) {
        if (r->send == SIM_SEND_DROP) {
            conn_close(sv, c);
            return;
        }
        size_t end = r->stop;
        if (r->send == SIM_SEND_SLOW) {
            size_t from = r->sent < r->head_len ? r->head_len : r->sent;
            if (from + (size_t)sv->site->cfg.slow_chunk < end)
                end = from + (size_t)sv->site->cfg.slow_chunk;
        }
        while (r->sent < end) {
            ssize_t n = write(c->fd, r->out.p + r->sent, end - r->sent);
            if (n >= 0) {
                r->sent += (size_t)n;
                continue;
            }
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->want_out = 1;
                return;
            }
            zc_debug("write_failed", "fd=%d errno=%d", c->fd, errno);
            conn_close(sv, c);
            return;
        }
        c->want_out = 0;
        if (r->sent < r->stop) {
            /* slow: the next chunk after a pause */
            r->timer.when = sv->now + sv->site->cfg.slow_interval_ms;
            if (sim_heap_push(&sv->timers, &r->timer) != 0) {
                zc_error("out_of_memory", "what=timer");
                conn_close(sv, c);
            }
            return;
        }
        c->qh = r->next;
        if (c->qh == NULL)
            c->qt = NULL;
        c->qn--;
        int cut = r->send == SIM_SEND_TRUNCATE, close_after = r->close_after;
        sim_site_finish(sv->site, r, !cut);
        reply_put(sv, r);
        if (cut || close_after) {
            conn_close(sv, c);
            return;
        }
    }
}

static void conn_update(sim_server *sv, conn *c) {
    if (c->closed)
        return;
    uint32_t want = 0;
    if (!c->rd_eof && !c->no_more && c->qn < MAX_QUEUE && c->in_len < SIM_HTTP_MAX_HEAD)
        want |= EPOLLIN;
    if (c->want_out)
        want |= EPOLLOUT;
    if (want == c->events)
        return;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = want;
    ev.data.ptr = c;
    if (epoll_ctl(sv->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        zc_warn("epoll_ctl_failed", "fd=%d errno=%d", c->fd, errno);
        conn_close(sv, c);
        return;
    }
    c->events = want;
}

/* Parses, writes, and repeats while that makes progress (answering frees room in
 * the queue for requests still buffered). */
static void conn_pump(sim_server *sv, conn *c) {
    while (!c->closed) {
        int qn0 = c->qn;
        size_t in0 = c->in_len;
        conn_parse(sv, c);
        if (c->closed)
            return;
        conn_flush(sv, c);
        if (c->closed)
            return;
        if (c->in_len == 0 || c->no_more || (c->in_len == in0 && c->qn >= qn0))
            break;
    }
    if (c->qh == NULL && c->in_len == 0 && (c->rd_eof || c->no_more)) {
        conn_close(sv, c);
        return;
    }
    conn_update(sv, c);
}

static void conn_event(sim_server *sv, conn *c, uint32_t events) {
    if (c->closed)
        return;
    if ((events & EPOLLERR) || ((events & EPOLLHUP) && !(events & EPOLLIN))) {
        conn_close(sv, c);
        return;
    }
    if (events & EPOLLIN) {
        conn_read(sv, c);
        if (c->closed)
            return;
    }
    conn_pump(sv, c);
}

/* Out of descriptors: accept and close one connection with the spare descriptor,
 * so the backlog does not spin the loop. */
static void shed(sim_server *sv) {
    if (sv->now - sv->last_shed_log >= 1000) {
        zc_warn("too_many_connections", "open=%lld", (long long)sv->site->connections);
        sv->last_shed_log = sv->now;
    }
    if (sv->spare_fd < 0)
        return;
    if (close(sv->spare_fd) != 0)
        zc_debug("close_failed", "fd=%d errno=%d", sv->spare_fd, errno);
    int fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0 && close(fd) != 0)
        zc_debug("close_failed", "fd=%d errno=%d", fd, errno);
    sv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_accept(sim_server *sv) {
    for (int k = 0; k < 1024; k++) {
        int fd = accept4(sv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                shed(sv);
                return;
            }
            zc_warn("accept_failed", "errno=%d", errno);
            return;
        }
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            zc_debug("nodelay_failed", "fd=%d errno=%d", fd, errno);
        conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            zc_error("out_of_memory", "what=connection");
            if (close(fd) != 0)
                zc_debug("close_failed", "fd=%d errno=%d", fd, errno);
            continue;
        }
        c->fd = fd;
        c->events = EPOLLIN;
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            zc_warn("epoll_ctl_failed", "fd=%d errno=%d", fd, errno);
            if (close(fd) != 0)
                zc_debug("close_failed", "fd=%d errno=%d", fd, errno);
            free(c);
            continue;
        }
        c->next = sv->live;
        if (sv->live)
            sv->live->prev = c;
        sv->live = c;
        sv->site->connections++;
        sv->site->connections_total++;
    }
}

static void run_timers(sim_server *sv) {
    sv->now = zc_now_ms();
    sim_timer *t;
    while ((t = sim_heap_top(&sv->timers)) != NULL && t->when <= sv->now) {
        sim_heap_pop(&sv->timers);
        sim_reply *r = reply_of(t);
        conn *c = r->conn;
        if (c->qh == r)
            conn_pump(sv, c);
    }
}

static void reap(sim_server *sv) {
    while (sv->dead) {
        conn *c = sv->dead;
        sv->dead = c->next_dead;
        free(c);
    }
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        zc_warn("getrlimit_failed", "errno=%d", errno);
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            zc_warn("setrlimit_failed", "errno=%d", errno);
    }
}

sim_server *sim_server_open(sim_site *site, const char *bind_addr, long port,
                            char *err, size_t errlen) {
    struct addrinfo hints, *res = NULL;
    sim_server *sv = calloc(1, sizeof *sv);
    if (sv == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sv->site = site;
    sv->lfd = sv->ep = sv->spare_fd = -1;
    sim_heap_init(&sv->timers);
    raise_nofile();

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%ld", port);
    int rc = getaddrinfo(bind_addr, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve bind address %s: %s", bind_addr, gai_strerror(rc));
        goto err;
    }
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
            last_errno = errno;
            if (close(fd) != 0)
                zc_debug("close_failed", "fd=%d errno=%d", fd, errno);
            continue;
        }
        sv->lfd = fd;
        break;
    }
    freeaddrinfo(res);
    if (sv->lfd < 0) {
        snprintf(err, errlen, "cannot listen on %s:%ld: %s", bind_addr, port, strerror(last_errno));
        goto err;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(sv->lfd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        goto err;
    }
    sv->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    sv->ep = epoll_create1(EPOLL_CLOEXEC);
    if (sv->ep < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        goto err;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (epoll_ctl(sv->ep, EPOLL_CTL_ADD, sv->lfd, &ev) != 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        goto err;
    }
    sv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (sv->spare_fd < 0)
        zc_warn("spare_fd_failed", "errno=%d", errno);
    return sv;
err:
    sim_server_close(sv);
    return NULL;
}

int sim_server_port(const sim_server *sv) {
    return sv->port;
}

int sim_server_run(sim_server *sv, char *err, size_t errlen) {
    struct epoll_event evs[MAX_EVENTS];
    while (!zc_signal_stop_requested()) {
        sv->now = zc_now_ms();
        int timeout = MAX_WAIT_MS;
        sim_timer *t = sim_heap_top(&sv->timers);
        if (t) {
            int64_t d = t->when - sv->now;
            timeout = d <= 0 ? 0 : d < MAX_WAIT_MS ? (int)d
                                                   : MAX_WAIT_MS;
        }
        int n = epoll_wait(sv->ep, evs, MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
            return -1;
        }
        sv->now = zc_now_ms();
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                on_accept(sv);
            else
                conn_event(sv, evs[i].data.ptr, evs[i].events);
        }
        run_timers(sv);
        reap(sv);
    }
    return 0;
}

void sim_server_close(sim_server *sv) {
    if (sv == NULL)
        return;
    while (sv->live)
        conn_close(sv, sv->live);
    reap(sv);
    while (sv->pool) {
        sim_reply *r = sv->pool;
        sv->pool = r->next;
        sim_reply_free(r);
    }
    sim_heap_free(&sv->timers);
    if (sv->lfd >= 0 && close(sv->lfd) != 0)
        zc_debug("close_failed", "fd=%d errno=%d", sv->lfd, errno);
    if (sv->ep >= 0 && close(sv->ep) != 0)
        zc_debug("close_failed", "fd=%d errno=%d", sv->ep, errno);
    if (sv->spare_fd >= 0 && close(sv->spare_fd) != 0)
        zc_debug("close_failed", "fd=%d errno=%d", sv->spare_fd, errno);
    free(sv);
}
