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

/* The header's version and type, or -1 with a reason in err. Version 1's header
 * is a frame of its own (4 bytes); version 2's carries the packed frames after
 * its 4 bytes. */
static int msg_header(const void *data, size_t len, int *version, char *err, size_t errlen) {
    const unsigned char *h = data;
    if (len < 4 || h[0] != 'Z' || h[1] != 'C' || (len != 4 && h[2] == ZC_PROTO_VERSION)) {
        snprintf(err, errlen, "bad header frame (%zu bytes)", len);
        return -1;
    }
    if (h[2] != ZC_PROTO_VERSION && h[2] != ZC_PROTO_PACKED) {
        snprintf(err, errlen, "unknown protocol version %u", h[2]);
        return -1;
    }
    if (zc_msg_expected_frames(h[3]) < 0) {
        snprintf(err, errlen, "unknown message type %u", h[3]);
        return -1;
    }
    *version = h[2];
    return h[3];
}

int zc_msg_decode_header(const void *data, size_t len, char *err, size_t errlen) {
    int version;
    return msg_header(data, len, &version, err, errlen);
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

/* A packed frame's length: 4 bytes, big-endian. */
static uint32_t msg_get32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void msg_put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Unpacks a version 2 message into m->frames: the frames packed in its header
 * frame (p, len: what follows the header's 4 bytes) are copied out, the separate
 * ones received from sock in their places; more is the header frame's. Sets
 * m->nframes to the frames it initialised, also on failure (the caller closes
 * them), and consumes the rest of the message either way. Returns 0; -2 when the
 * message is malformed (a length past the end, separate frames that do not match
 * their marks) and -3 when it breaks a bound (more frames than want, more than
 * max_bytes), with err saying which in one line. */
static int msg_unpack(void *sock, zc_msg *m, const unsigned char *p, size_t len, int more, int want,
                      size_t max_bytes, char *err, size_t errlen) {
    const char *name = zc_msg_type_name(m->type);
    int sep[ZC_MSG_MAX_FRAMES], nsep = 0, rc = -2;
    size_t off = 0, bytes = len;
    m->nframes = 0;
    if (max_bytes && bytes > max_bytes) {
        snprintf(err, errlen, "%s message of more than %zu bytes", name, max_bytes);
        rc = -3;
        goto drain;
    }
    while (off < len) {
        if (m->nframes == want || m->nframes == ZC_MSG_MAX_FRAMES) {
            snprintf(err, errlen, "%s message of more than %d frames", name, want);
            rc = -3;
            goto drain;
        }
        if (len - off < 4) {
            snprintf(err, errlen, "%s message cut inside the length of its frame %d", name, m->nframes + 1);
            goto drain;
        }
        uint32_t n = msg_get32(p + off);
        zmq_msg_t *f = &m->frames[m->nframes];
        off += 4;
        if (n == ZC_MSG_SEPARATE) {
            if (zmq_msg_init(f) != 0) goto sys;
            sep[nsep++] = m->nframes++;
            continue;
        }
        if (n > len - off) {
            snprintf(err, errlen, "%s message cut inside its frame %d (%u bytes announced, %zu left)", name,
                     m->nframes + 1, n, len - off);
            goto drain;
        }
        if (zmq_msg_init_size(f, n) != 0) goto sys;
        m->nframes++;
        if (n) memcpy(zmq_msg_data(f), p + off, n);
        off += n;
    }
    for (int i = 0; i < nsep; i++) {
        if (!more) {
            snprintf(err, errlen, "%s message with %d separate frames, %d marked", name, i, nsep);
            return -2;
        }
        zmq_msg_t *f = &m->frames[sep[i]];
        if (msg_recv_more(f, sock) < 0) {
            snprintf(err, errlen, "receive failed mid-message: %s", zmq_strerror(errno));
            return -2;
        }
        more = zmq_msg_more(f);
        bytes += zmq_msg_size(f);
        if (max_bytes && bytes > max_bytes) {
            snprintf(err, errlen, "%s message of more than %zu bytes", name, max_bytes);
            rc = -3;
            goto drain;
        }
    }
    if (more) {
        long rest = msg_drain(sock);
        snprintf(err, errlen, "%s message with %ld separate frames, %d marked", name, nsep + rest, nsep);
        return -2;
    }
    return 0;
sys:
    snprintf(err, errlen, "zmq_msg_init failed: %s", zmq_strerror(errno));
drain:
    if (more) msg_drain(sock);
    return rc;
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
    int more = zmq_msg_more(&head), version = 0;
    msg_user(&head, m->user);
    /* A ROUTER's identity frame is its own, made without the connection's socket
     * (its ZMQ_SRCFD is -1); a frame the peer sent carries it. */
    m->srcfd = zmq_msg_get(&head, ZMQ_SRCFD);
    int type = msg_header(zmq_msg_data(&head), zmq_msg_size(&head), &version, err, errlen);
    if (type < 0) {
        zmq_msg_close(&head);
        if (more) msg_drain(sock);
        goto bad;
    }
    m->type = (zc_msg_type)type;
    int want = zc_msg_expected_frames(type), least = zc_msg_min_frames(type);
    if (version == ZC_PROTO_PACKED) {
        int rc = msg_unpack(sock, m, (const unsigned char *)zmq_msg_data(&head) + 4, zmq_msg_size(&head) - 4,
                            more, want, max_bytes, err, errlen);
        zmq_msg_close(&head);
        nf = m->nframes;
        if (rc == -3) too_long = 1;
        if (rc < 0) goto bad_frames;
        more = 0;
    } else {
        zmq_msg_close(&head);
    }
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

/* Whether frame f travels as a ZeroMQ frame of its own: one handed over without a
 * copy and too big to copy (ZC_MSG_INLINE_MAX). A smaller one is copied into the
 * header frame: a copy of some KiB costs less than a frame (with CURVE a box). */
static int msg_separate(const zc_frame *f) {
    return f->ffn && f->len > ZC_MSG_INLINE_MAX;
}

/* Fills a version 2 header frame: the header, then each frame's length and
 * bytes, ZC_MSG_SEPARATE for one that follows as a frame of its own. */
static void msg_pack(unsigned char *p, zc_msg_type type, const zc_frame *frames, int n) {
    p[0] = 'Z';
    p[1] = 'C';
    p[2] = ZC_PROTO_PACKED;
    p[3] = (unsigned char)type;
    p += 4;
    for (int i = 0; i < n; i++) {
        if (msg_separate(&frames[i])) {
            msg_put32(p, ZC_MSG_SEPARATE);
            p += 4;
            continue;
        }
        msg_put32(p, (uint32_t)frames[i].len);
        if (frames[i].len) memcpy(p + 4, frames[i].data, frames[i].len);
        p += 4 + frames[i].len;
    }
}

int zc_msg_send(void *sock, const zmq_msg_t *identity, zc_msg_type type,
                const zc_frame *frames, int n, int flags) {
    int i = 0, nsep = 0, rc, begun = identity != NULL, packed = 0;
    size_t size = 4;
    for (int k = 0; k < n; k++) {
        if (msg_separate(&frames[k])) {
            nsep++;
            size += 4;
        } else if (frames[k].len > ZC_MSG_MAX_BYTES) { /* so its length never reads ZC_MSG_SEPARATE */
            errno = EMSGSIZE;
            goto fail;
        } else {
            size += 4 + frames[k].len;
        }
    }
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
    zmq_msg_t head;
    if (n == 0) { /* nothing to pack: version 1's 4 bytes, as short */
        if (zmq_msg_init_size(&head, 4) != 0) goto fail;
        memcpy(zmq_msg_data(&head), (unsigned char[4]){ 'Z', 'C', ZC_PROTO_VERSION, (unsigned char)type }, 4);
    } else {
        if (zmq_msg_init_size(&head, size) != 0) goto fail;
        msg_pack(zmq_msg_data(&head), type, frames, n);
        packed = 1; /* the frames copied in are the caller's no more: freed now */
        for (int k = 0; k < n; k++)
            if (frames[k].ffn && !msg_separate(&frames[k])) frames[k].ffn((void *)frames[k].data, frames[k].hint);
    }
    int hflags = (nsep ? ZMQ_SNDMORE : 0) | (begun ? 0 : flags);
    while ((rc = zmq_msg_send(&head, sock, hflags)) < 0 && errno == EINTR && begun)
        ; /* after the identity the message has begun: see msg_send_more */
    if (rc < 0) {
        zmq_msg_close(&head);
        goto fail;
    }
    for (; i < n; i++) {
        if (!msg_separate(&frames[i])) continue;
        zmq_msg_t fm;
        if (zmq_msg_init_data(&fm, (void *)frames[i].data, frames[i].len, frames[i].ffn, frames[i].hint) != 0)
            goto fail;
        if (msg_send_more(&fm, sock, --nsep ? ZMQ_SNDMORE : 0) < 0) {
            zmq_msg_close(&fm); /* frees frame i through its ffn */
            i++;
            goto fail;
        }
    }
    return 0;
fail : {
    int e = errno;
    for (; i < n; i++)
        if (frames[i].ffn && (!packed || msg_separate(&frames[i])))
            frames[i].ffn((void *)frames[i].data, frames[i].hint);
    errno = e;
    return -1;
}
}

int zc_msg_limit(void *sock) {
    int64_t max = ZC_MSG_MAX_BYTES;
    return zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max));
}
