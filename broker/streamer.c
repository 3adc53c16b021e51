/* streamer.c -- the broker's two streamer devices (zguide): PULL -> PUSH for pages
 * and for documents, one zmq_proxy thread each. */
#include "streamer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "zc_curve.h"
#include "zc_log.h"

typedef struct streamer_arg {
    void *front, *back;
} streamer_arg;

static void *streamer_main(void *p) {
    streamer_arg *a = p;
    /* Returns when the context is shut down (ETERM). While the PUSH side is full,
     * zmq_proxy blocks in its send: a stalled parser costs nothing here. */
    zmq_proxy(a->front, a->back, NULL);
    zmq_close(a->front);
    zmq_close(a->back);
    free(a);
    return NULL;
}

void *broker_bind_socket(void *ctx, int type, const char *endpoint, const char *peers, long hwm, char *err,
                         size_t errlen) {
    void *s = zmq_socket(ctx, type);
    if (!s) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int h = (int)hwm, linger = 1000;
    if (zmq_setsockopt(s, ZMQ_SNDHWM, &h, sizeof(h)) != 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &h, sizeof(h)) != 0 || zc_msg_limit(s) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) != 0) {
        snprintf(err, errlen, "zmq_setsockopt: %s", zmq_strerror(errno));
        goto err;
    }
    if (zc_curve_bind(ctx, s, endpoint, peers, err, errlen) != 0) goto err;
    return s;
err:
    zmq_close(s);
    return NULL;
}

/* Starts one proxy thread that owns front and back from then on. */
static int streamer_start(broker *b, void *front, void *back, char *err, size_t errlen) {
    streamer_arg *a = malloc(sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->front = front;
    a->back = back;
    int rc = pthread_create(&b->streamers[b->nstreamers], NULL, streamer_main, a);
    if (rc != 0) {
        free(a);
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        return -1;
    }
    b->nstreamers++;
    return 0;
}

int broker_streamers_start(broker *b, char *err, size_t errlen) {
    const broker_conf *c = b->conf;
    b->pull_pages = broker_bind_socket(b->ctx, ZMQ_PULL, c->pages_in, "fetcher", c->hwm, err, errlen);
    if (!b->pull_pages) return -1;
    b->push_pages = broker_bind_socket(b->ctx, ZMQ_PUSH, c->pages_out, "parser", c->hwm, err, errlen);
    if (!b->push_pages) return -1;
    b->pull_docs = broker_bind_socket(b->ctx, ZMQ_PULL, c->docs_in, "parser", c->hwm, err, errlen);
    if (!b->pull_docs) return -1;
    b->push_docs = broker_bind_socket(b->ctx, ZMQ_PUSH, c->docs_out, "writer", c->hwm, err, errlen);
    if (!b->push_docs) return -1;
    if (streamer_start(b, b->pull_pages, b->push_pages, err, errlen) != 0) return -1;
    b->pull_pages = b->push_pages = NULL; /* the thread owns them now */
    if (streamer_start(b, b->pull_docs, b->push_docs, err, errlen) != 0) return -1;
    b->pull_docs = b->push_docs = NULL;
    return 0;
}

void broker_streamers_stop(broker *b) {
    void **socks[] = { &b->pull_pages, &b->push_pages, &b->pull_docs, &b->push_docs };
    for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++)
        if (*socks[i]) {
            zmq_close(*socks[i]);
            *socks[i] = NULL;
        }
    if (!b->ctx) return;
    if (zmq_ctx_shutdown(b->ctx) != 0) zc_warn("ctx_shutdown_failed", "reason=\"%s\"", zmq_strerror(errno));
    for (int i = 0; i < b->nstreamers; i++) pthread_join(b->streamers[i], NULL);
    b->nstreamers = 0;
}
