/* zc_msg.c -- the versioned multipart messages that join the stages. */
#include "zc_msg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* frames: what a type carries; min: the fewest accepted (an older, shorter form
 * whose missing frames read as empty), 0 for exactly frames. */
static const struct {
    const char *name;
    int frames, min;
} msg_types[ZC_MSG_TYPE_MAX] = {
    [ZC_MSG_HELLO] = { "HELLO", 3, 0 },
    [ZC_MSG_HEARTBEAT] = { "HEARTBEAT", 0, 0 },
    [ZC_MSG_CREDIT] = { "CREDIT", 1, 0 },
    [ZC_MSG_JOB] = { "JOB", 3, 2 }, /* proofs came later */
    [ZC_MSG_DONE] = { "DONE", 5, 0 },
    [ZC_MSG_PAGE] = { "PAGE", 9, 7 },             /* link and proof came later: 7 frames is the older form */
    [ZC_MSG_DISCOVERED] = { "DISCOVERED", 4, 2 }, /* documents, proof: from a writer (docs/PROTOCOL.md) */
    [ZC_MSG_DOC] = { "DOC", 4, 2 },               /* proof and urls came later */
    [ZC_MSG_WRITTEN] = { "WRITTEN", 1, 0 },
    [ZC_MSG_DEAD] = { "DEAD", 3, 0 },
    [ZC_MSG_SHUTDOWN] = { "SHUTDOWN", 0, 0 },
    [ZC_MSG_HOLD] = { "HOLD", 1, 0 },
    [ZC_MSG_STATUS] = { "STATUS", 2, 0 },
    [ZC_MSG_COUNTS] = { "COUNTS", 1, 0 },
};

int zc_msg_expected_frames(int type) {
    if (type <= 0 || type >= ZC_MSG_TYPE_MAX) return -1;
    return msg_types[type].frames;
}

int zc_msg_min_frames(int type) {
    if (type <= 0 || type >= ZC_MSG_TYPE_MAX) return -1;
    return msg_types[type].min ? msg_types[type].min : msg_types[type].frames;
}

const char *zc_msg_type_name(int type) {
    if (type <= 0 || type >= ZC_MSG_TYPE_MAX) return "UNKNOWN";
    return msg_types[type].name;
}

int zc_msg_decode_header(const void *data, size_t len, char *err, size_t errlen) {
    const unsigned char *h = data;
    if (len != 4 || h[0] != 'Z' || h[1] != 'C') {
        snprintf(err, errlen, "bad header frame (%zu bytes)", len);
        return -1;
    }
    if (h[2] != ZC_PROTO_VERSION) {
        snprintf(err, errlen, "unknown protocol version %u", h[2]);
        return -1;
    }
    if (zc_msg_expected_frames(h[3]) < 0) {
        snprintf(err, errlen, "unknown message type %u", h[3]);
        return -1;
    }
    return h[3];
}

/* Receives a further frame of a message whose first frame has arrived. ZeroMQ
 * delivers a multipart message whole, so the frame is there and a signal (EINTR,
 * our handlers have no SA_RESTART) is retried instead of cutting the message. */
static int msg_recv_more(zmq_msg_t *f, void *sock) {
    int rc;
    while ((rc = zmq_msg_recv(f, sock, 0)) < 0 && errno == EINTR)
        ;
    return rc;
}

/* Receives and throws away the rest of a multipart message, one frame at a
 * time. Returns the number of frames thrown away. */
static long msg_drain(void *sock) {
    int more = 1;
    long n = 0;
    size_t sz = sizeof(more);
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t junk;
        if (zmq_msg_init(&junk) != 0) return n;
        int rc = msg_recv_more(&junk, sock);
        zmq_msg_close(&junk);
        if (rc < 0) return n;
        n++;
        sz = sizeof(more);
    }
    return n;
}

/* Copies the User-Id property of f (set by a ZAP handler) into user. */
static void msg_user(zmq_msg_t *f, char *user) {
    const char *u = zmq_msg_gets(f, "User-Id");
    user[0] = '\0';
    if (u) snprintf(user, ZC_MSG_USER_MAX, "%s", u);
}

int zc_msg_recv(void *sock, zc_msg *m, int flags, int router, char *err, size_t errlen) {
    int rc = zc_msg_recv_max(sock, m, flags, router, 0, err, errlen);
    return rc == -3 ? -2 : rc;
}

int zc_msg_recv_max(void *sock, zc_msg *m, int flags, int router, size_t max_bytes, char *err, size_t errlen) {
    zmq_msg_t head;
    int nf = 0, too_long = 0;
    size_t bytes = 0;
    m->nframes = 0;
    m->has_identity = 0;
    m->user[0] = '\0';
    m->srcfd = -1;
    if (router) {
        if (zmq_msg_init(&m->identity) != 0) return -1;
        if (zmq_msg_recv(&m->identity, sock, flags) < 0) {
            int e = errno;
            zmq_msg_close(&m->identity);
            errno = e;
            return -1;
        }
        m->has_identity = 1;
        if (!zmq_msg_more(&m->identity)) {
            snprintf(err, errlen, "message has no frame after the identity");
            goto bad;
        }
    }
    if (zmq_msg_init(&head) != 0) goto sys;
    if ((router ? msg_recv_more(&head, sock) : zmq_msg_recv(&head, sock, flags)) < 0) {
        int e = errno;
        zmq_msg_close(&head);
        if (m->has_identity) zmq_msg_close(&m->identity);
        m->has_identity = 0;
        errno = e;
        return -1;
    }
    int more = zmq_msg_more(&head);
    msg_user(&head, m->user);
    /* A ROUTER's identity frame is its own, made without the connection's socket
     * (its ZMQ_SRCFD is -1); a frame the peer sent carries it. */
    m->srcfd = zmq_msg_get(&head, ZMQ_SRCFD);
    int type = zc_msg_decode_header(zmq_msg_data(&head), zmq_msg_size(&head), err, errlen);
    zmq_msg_close(&head);
    if (type < 0) {
        if (more) msg_drain(sock);
        goto bad;
    }
    m->type = (zc_msg_type)type;
    int want = zc_msg_expected_frames(type), least = zc_msg_min_frames(type);
    while (more) {
        if (nf == ZC_MSG_MAX_FRAMES || nf == want) {
            long rest = msg_drain(sock);
            snprintf(err, errlen, "%s message of %ld frames: more than %d frames", zc_msg_type_name(type),
                     nf + rest, want);
            too_long = 1;
            goto bad_frames;
        }
        if (zmq_msg_init(&m->frames[nf]) != 0) {
            msg_drain(sock);
            goto sys_frames;
        }
        if (msg_recv_more(&m->frames[nf], sock) < 0) {
            zmq_msg_close(&m->frames[nf]);
            goto sys_frames;
        }
        more = zmq_msg_more(&m->frames[nf]);
        bytes += zmq_msg_size(&m->frames[nf]);
        nf++;
        if (max_bytes && bytes > max_bytes) {
            if (more) msg_drain(sock);
            snprintf(err, errlen, "%s message of more than %zu bytes", zc_msg_type_name(type), max_bytes);
            too_long = 1;
            goto bad_frames;
        }
    }
    m->nframes = nf;
    if (nf < least) {
        if (least == want)
            snprintf(err, errlen, "%s message with %d frames, expected %d", zc_msg_type_name(type), nf, want);
        else
            snprintf(err, errlen, "%s message with %d frames, expected %d to %d", zc_msg_type_name(type), nf, least,
                     want);
        goto bad_frames;
    }
    return 0;

sys_frames:
    snprintf(err, errlen, "receive failed mid-message: %s", zmq_strerror(errno));
bad_frames:
    for (int i = 0; i < nf; i++) zmq_msg_close(&m->frames[i]);
    m->nframes = 0;
bad:
    if (m->has_identity) zmq_msg_close(&m->identity);
    m->has_identity = 0;
    return too_long ? -3 : -2;
sys:
    snprintf(err, errlen, "zmq_msg_init failed: %s", zmq_strerror(errno));
    goto bad;
}

void zc_msg_close(zc_msg *m) {
    for (int i = 0; i < m->nframes; i++) zmq_msg_close(&m->frames[i]);
    m->nframes = 0;
    if (m->has_identity) zmq_msg_close(&m->identity);
    m->has_identity = 0;
}

const char *zc_msg_data(const zc_msg *m, int i, size_t *len) {
    if (i < 0 || i >= m->nframes) {
        *len = 0;
        return "";
    }
    zmq_msg_t *f = (zmq_msg_t *)&m->frames[i];
    *len = zmq_msg_size(f);
    return zmq_msg_data(f);
}

int zc_msg_str(const zc_msg *m, int i, char *buf, size_t buflen) {
    size_t len;
    const char *d = zc_msg_data(m, i, &len);
    if (len + 1 > buflen || memchr(d, '\0', len)) return -1;
    memcpy(buf, d, len);
    buf[len] = '\0';
    return 0;
}

int zc_msg_u64(const zc_msg *m, int i, uint64_t *out) {
    size_t len;
    const char *d = zc_msg_data(m, i, &len);
    if (len == 0 || len > 19) return -1;
    uint64_t v = 0;
    for (size_t k = 0; k < len; k++) {
        if (d[k] < '0' || d[k] > '9') return -1;
        v = v * 10 + (uint64_t)(d[k] - '0');
    }
    *out = v;
    return 0;
}

/* Sends a frame after the first of a message. Once a message has begun it must
 * not be cut (the socket would glue the next message to its head), and ZeroMQ
 * checks the high-water mark on the first frame only, so a signal (EINTR) is
 * retried. */
static int msg_send_more(zmq_msg_t *f, void *sock, int more) {
    int rc;
    while ((rc = zmq_msg_send(f, sock, more)) < 0 && errno == EINTR)
        ;
    return rc;
}

int zc_msg_send(void *sock, const zmq_msg_t *identity, zc_msg_type type,
                const zc_frame *frames, int n, int flags) {
    int i = 0;
    if (identity) {
        zmq_msg_t id;
        if (zmq_msg_init(&id) != 0) goto fail;
        if (zmq_msg_copy(&id, (zmq_msg_t *)identity) != 0) {
            zmq_msg_close(&id);
            goto fail;
        }
        if (zmq_msg_send(&id, sock, ZMQ_SNDMORE | flags) < 0) {
            zmq_msg_close(&id);
            goto fail;
        }
    }
    unsigned char head[4] = { 'Z', 'C', ZC_PROTO_VERSION, (unsigned char)type };
    int hmore = n > 0 ? ZMQ_SNDMORE : 0, rc;
    while ((rc = zmq_send(sock, head, sizeof(head), hmore | (identity ? 0 : flags))) < 0 &&
           errno == EINTR && identity)
        ; /* after the identity the message has begun: see msg_send_more */
    if (rc < 0) goto fail;
    for (; i < n; i++) {
        int more = i + 1 < n ? ZMQ_SNDMORE : 0;
        zmq_msg_t fm;
        if (frames[i].ffn) {
            if (zmq_msg_init_data(&fm, (void *)frames[i].data, frames[i].len, frames[i].ffn,
                                  frames[i].hint) != 0)
                goto fail;
            if (msg_send_more(&fm, sock, more) < 0) {
                zmq_msg_close(&fm); /* frees frame i through its ffn */
                i++;
                goto fail;
            }
        } else {
            if (zmq_msg_init_size(&fm, frames[i].len) != 0) goto fail;
            if (frames[i].len) memcpy(zmq_msg_data(&fm), frames[i].data, frames[i].len);
            if (msg_send_more(&fm, sock, more) < 0) {
                zmq_msg_close(&fm);
                goto fail;
            }
        }
    }
    return 0;
fail : {
    int e = errno;
    for (; i < n; i++)
        if (frames[i].ffn) frames[i].ffn((void *)frames[i].data, frames[i].hint);
    errno = e;
    return -1;
}
}

int zc_msg_limit(void *sock) {
    int64_t max = ZC_MSG_MAX_BYTES;
    return zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max));
}
