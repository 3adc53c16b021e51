/* writer_worker.c -- the sink thread: a sink's batch writes, off the writer's loop. */
#include "writer_worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "zc_log.h"
#include "zc_time.h"

struct writer_worker {
    void *loop_sock; /* the loop's end of the pair */
    void *thr_sock;  /* the thread's end, used only by the thread once it runs */
    writer_sink *sink;
    pthread_t tid;
    int busy;
};

const char *writer_sink_condition(int rc) {
    switch (rc) {
    case WRITER_SINK_FULL: return "sink_full";
    case WRITER_SINK_DOWN: return "sink_down";
    case WRITER_SINK_ERROR: return "sink_error";
    default: return "ok";
    }
}

static void worker_reject(void *arg, size_t index, const char *reason) {
    writer_job *j = arg;
    if (j->nrej >= j->cap || index >= j->n) return;
    j->rej_idx[j->nrej] = index;
    snprintf(j->rej_reason[j->nrej], WRITER_REASON_MAX, "%s", reason);
    j->nrej++;
}

static void *worker_main(void *arg) {
    writer_worker *w = arg;
    for (;;) {
        writer_job *j = NULL;
        int rc = zmq_recv(w->thr_sock, &j, sizeof(j), 0);
        if (rc < 0) {
            if (errno == EINTR) continue;
            zc_error("sink_thread_recv_failed", "reason=\"%s\"", zmq_strerror(errno));
            break;
        }
        if (rc != (int)sizeof(j) || !j) break; /* NULL: stop */
        int64_t t0 = zc_now_ms();
        j->nrej = 0;
        j->already = 0;
        j->err[0] = '\0';
        j->rc = w->sink->write_batch(w->sink->impl, j->docs, j->n, worker_reject, j, &j->already, j->err,
                                     sizeof(j->err));
        if (j->rc == WRITER_SINK_OK) j->nrej = 0;
        j->ms = zc_now_ms() - t0;
        j->op_ms = w->sink->op_ms ? w->sink->op_ms(w->sink->impl) : j->ms;
        while (zmq_send(w->thr_sock, &j, sizeof(j), 0) < 0) {
            if (errno != EINTR) {
                zc_error("sink_thread_send_failed", "reason=\"%s\"", zmq_strerror(errno));
                goto out;
            }
        }
    }
out:
    zmq_close(w->thr_sock);
    return NULL;
}

writer_worker *writer_worker_start(void *ctx, writer_sink *sink, char *err, size_t errlen) {
    static atomic_uint seq;
    char ep[64];
    writer_worker *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->sink = sink;
    snprintf(ep, sizeof(ep), "inproc://zcrawl-writer-sink-%u", atomic_fetch_add(&seq, 1));
    int linger = 0;
    w->loop_sock = zmq_socket(ctx, ZMQ_PAIR);
    w->thr_sock = zmq_socket(ctx, ZMQ_PAIR);
    if (!w->loop_sock || !w->thr_sock || zmq_setsockopt(w->loop_sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(w->thr_sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 || zmq_bind(w->loop_sock, ep) != 0 ||
        zmq_connect(w->thr_sock, ep) != 0) {
        snprintf(err, errlen, "sink thread socket: %s", zmq_strerror(errno));
        goto err;
    }
    /* Signals are for the loop's thread: its poll returns EINTR and it sees the stop. */
    sigset_t all, old;
    sigfillset(&all);
    if (pthread_sigmask(SIG_BLOCK, &all, &old) != 0) {
        snprintf(err, errlen, "pthread_sigmask failed");
        goto err;
    }
    int rc = pthread_create(&w->tid, NULL, worker_main, w);
    if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0) zc_warn("pthread_sigmask_failed", NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the sink thread: %s", strerror(rc));
        goto err;
    }
    return w;
err:
    if (w->loop_sock) zmq_close(w->loop_sock);
    if (w->thr_sock) zmq_close(w->thr_sock);
    free(w);
    return NULL;
}

void *writer_worker_socket(writer_worker *w) { return w->loop_sock; }

int writer_worker_busy(const writer_worker *w) { return w->busy; }

int writer_worker_submit(writer_worker *w, writer_job *job) {
    if (w->busy) {
        errno = EBUSY;
        return -1;
    }
    /* inproc never blocks on a pair with room for one message; EINTR is retried. */
    while (zmq_send(w->loop_sock, &job, sizeof(job), 0) < 0)
        if (errno != EINTR) return -1;
    w->busy = 1;
    return 0;
}

writer_job *writer_worker_take(writer_worker *w) {
    writer_job *j = NULL;
    if (!w->busy) return NULL;
    int rc = zmq_recv(w->loop_sock, &j, sizeof(j), ZMQ_DONTWAIT);
    if (rc != (int)sizeof(j)) return NULL;
    w->busy = 0;
    return j;
}

int writer_worker_free(writer_worker *w, int64_t wait_ms) {
    if (!w) return 0;
    int64_t end = zc_now_ms() + wait_ms;
    while (w->busy) {
        int64_t left = end - zc_now_ms();
        if (left <= 0) break;
        zmq_pollitem_t it = { w->loop_sock, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, (long)left) > 0) (void)writer_worker_take(w);
    }
    if (w->busy) {
        zc_error("sink_thread_busy", "reason=\"a write is still running; it is left to the process's end\"");
        return -1;
    }
    writer_job *stop = NULL;
    while (zmq_send(w->loop_sock, &stop, sizeof(stop), 0) < 0) {
        if (errno != EINTR) {
            zc_error("sink_thread_stop_failed", "reason=\"%s\"", zmq_strerror(errno));
            return -1;
        }
    }
    int rc = pthread_join(w->tid, NULL);
    if (rc != 0) zc_warn("sink_thread_join_failed", "reason=\"%s\"", strerror(rc));
    zmq_close(w->loop_sock);
    free(w);
    return 0;
}
