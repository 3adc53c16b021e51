/* fuzz_msg.c -- libFuzzer target for the message decoder (lib/zc_msg.c).
 *
 * Input: byte 0 is the frame count (mod 16; 0 sends nothing), then each frame is
 * a 2-byte little-endian length followed by that many bytes (cut at the end of
 * the input; missing frames are empty). The frames go as one multipart message
 * over a real inproc ZeroMQ PAIR into zc_msg_recv(router=0), and again from a
 * DEALER into a ROUTER into zc_msg_recv(router=1), which must yield the
 * DEALER's identity. Checked each time: the return code agrees with the
 * protocol table (version 1, or version 2's packed frames as a reference decoder
 * here reads them), the message is consumed whole (nothing is left to read), the
 * accessors stay in bounds on every frame (and on indexes out of range), and a
 * message that decoded is re-sent with zc_msg_send (one frame zero-copy) and
 * decodes to the same frames. Leaks are LeakSanitizer's to find. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "zc_msg.h"

#define CHECK(c)                                                                     \
    do {                                                                             \
        if (!(c)) {                                                                  \
            fprintf(stderr, "fuzz_msg: check failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                                 \
        }                                                                            \
    } while (0)
#define MAXF      16
#define DEALER_ID "fuzz-dealer"

static void *ctx, *pa, *pb, *rt, *dl;

static void *sock(int type, const char *ep, int bind) {
    void *s = zmq_socket(ctx, type);
    int zero = 0, to = 5000;
    CHECK(s);
    CHECK(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)) == 0);
    CHECK(zmq_setsockopt(s, ZMQ_RCVTIMEO, &to, sizeof(to)) == 0);
    CHECK(zmq_setsockopt(s, ZMQ_SNDTIMEO, &to, sizeof(to)) == 0);
    if (type == ZMQ_DEALER)
        CHECK(zmq_setsockopt(s, ZMQ_ROUTING_ID, DEALER_ID, strlen(DEALER_ID)) == 0);
    CHECK((bind ? zmq_bind(s, ep) : zmq_connect(s, ep)) == 0);
    return s;
}

static void setup(void) {
    ctx = zmq_ctx_new();
    CHECK(ctx);
    pa = sock(ZMQ_PAIR, "inproc://fuzz-pair", 1);
    pb = sock(ZMQ_PAIR, "inproc://fuzz-pair", 0);
    rt = sock(ZMQ_ROUTER, "inproc://fuzz-router", 1);
    dl = sock(ZMQ_DEALER, "inproc://fuzz-router", 0);
}

typedef struct {
    const uint8_t *p;
    size_t n;
} span;

/* libFuzzer's -timeout runs a SIGALRM timer, so any call may see EINTR: the
 * harness retries where the API says "nothing happened, try again". */
static void send_frames(void *s, const span *f, int n) {
    for (int i = 0; i < n; i++) {
        int rc;
        while ((rc = zmq_send(s, f[i].p, f[i].n, i + 1 < n ? ZMQ_SNDMORE : 0)) < 0 && errno == EINTR)
            ;
        CHECK(rc == (int)f[i].n);
    }
}

/* Nothing of the message may be left behind on s. */
static void check_drained(void *s) {
    char junk[8];
    int rc;
    while ((rc = zmq_recv(s, junk, sizeof(junk), ZMQ_DONTWAIT)) < 0 && errno == EINTR)
        ;
    CHECK(rc == -1 && errno == EAGAIN);
}

/* zc_msg_recv, again after EINTR: -1 means nothing was consumed. */
static int recv_msg(void *s, zc_msg *m, int flags, int router, char *err, size_t errlen) {
    int rc;
    while ((rc = zc_msg_recv(s, m, flags, router, err, errlen)) == -1 && errno == EINTR)
        ;
    return rc;
}

static void free_copy(void *data, void *hint) {
    (void)hint;
    free(data);
}

static void check_accessors(const zc_msg *m) {
    for (int i = -1; i <= m->nframes; i++) {
        size_t len = 12345;
        const char *d = zc_msg_data(m, i, &len);
        CHECK(d != NULL);
        if (i < 0 || i >= m->nframes) CHECK(len == 0);
        /* Touch every byte so ASan sees any bad pointer/length pair. */
        volatile unsigned sum = 0;
        for (size_t k = 0; k < len; k++) sum += (unsigned char)d[k];
        (void)sum;

        /* zc_msg_str into exact-size heap buffers: len + 1 fits (when no NUL), len does not. */
        char *buf = malloc(len + 1);
        CHECK(buf);
        int rs = zc_msg_str(m, i, buf, len + 1);
        int has_nul = len && memchr(d, '\0', len) != NULL;
        if (has_nul) CHECK(rs == -1);
        else {
            CHECK(rs == 0 && strlen(buf) == len && (len == 0 || memcmp(buf, d, len) == 0));
        }
        free(buf);
        if (len > 0) {
            buf = malloc(len);
            CHECK(buf);
            CHECK(zc_msg_str(m, i, buf, len) == -1);
            free(buf);
        }
        CHECK(zc_msg_str(m, i, NULL, 0) == -1);

        uint64_t v = 0;
        if (zc_msg_u64(m, i, &v) == 0) {
            CHECK(len >= 1 && len <= 19);
            for (size_t k = 0; k < len; k++) CHECK(d[k] >= '0' && d[k] <= '9');
            /* The value, printed without leading zeros, is a suffix of the frame. */
            char num[24];
            int nl = snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
            CHECK(nl > 0 && (size_t)nl <= len && memcmp(d + len - nl, num, (size_t)nl) == 0);
            for (size_t k = 0; k < len - (size_t)nl; k++) CHECK(d[k] == '0');
        }
    }
}

/* Frames a decoded message must have had, into exp: what the sender sent after
 * the header (version 1) or packed in it and after it (version 2, packed: each a
 * 4-byte big-endian length and its bytes, 0xffffffff for the next separate
 * frame); their number, or -1 if the message must be refused. */
static int expect_ok(const span *f, int n, span *exp) {
    if (n == 0 || f[0].n < 4 || f[0].p[0] != 'Z' || f[0].p[1] != 'C') return -1;
    int v = f[0].p[2], want = zc_msg_expected_frames(f[0].p[3]), least = zc_msg_min_frames(f[0].p[3]), k = 0;
    if (want < 0) return -1;
    if (v == ZC_PROTO_VERSION) {
        if (f[0].n != 4 || n - 1 > want) return -1;
        for (int i = 1; i < n; i++) exp[k++] = f[i];
    } else if (v == ZC_PROTO_PACKED) {
        int next = 1;
        for (size_t off = 4; off < f[0].n;) {
            if (k == want || f[0].n - off < 4) return -1;
            uint32_t len = (uint32_t)f[0].p[off] << 24 | (uint32_t)f[0].p[off + 1] << 16 |
                           (uint32_t)f[0].p[off + 2] << 8 | f[0].p[off + 3];
            off += 4;
            if (len == 0xffffffffu) {
                if (next == n) return -1;
                exp[k++] = f[next++];
            } else {
                if (len > f[0].n - off) return -1;
                exp[k++] = (span){ f[0].p + off, len };
                off += len;
            }
        }
        if (next != n) return -1;
    } else {
        return -1;
    }
    return k < least ? -1 : k;
}

/* Receives on s and checks the result against what was sent. For a good
 * message, sends it back with zc_msg_send on back (from s's side) and checks
 * that the peer decodes the same frames. */
static void recv_and_check(void *s, int router, void *peer, const span *f, int n) {
    zc_msg m;
    char err[256];
    memset(&m, 0xa5, sizeof(m)); /* no field may be trusted before recv sets it */
    err[0] = '\0';
    int rc = recv_msg(s, &m, n == 0 ? ZMQ_DONTWAIT : 0, router, err, sizeof(err));
    span exp[MAXF];
    int want = expect_ok(f, n, exp);
    if (n == 0) {
        CHECK(rc == -1 && errno == EAGAIN);
        return;
    }
    check_drained(s);
    if (want < 0) {
        CHECK(rc == -2);
        CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL && !strchr(err, '\n'));
        CHECK(m.nframes == 0 && m.has_identity == 0);
        zc_msg_close(&m); /* closing a refused message is harmless */
        return;
    }
    CHECK(rc == 0);
    CHECK((int)m.type == f[0].p[3] && m.nframes == want);
    CHECK(m.has_identity == !!router);
    if (router) {
        CHECK(zmq_msg_size(&m.identity) == strlen(DEALER_ID));
        CHECK(memcmp(zmq_msg_data(&m.identity), DEALER_ID, strlen(DEALER_ID)) == 0);
    }
    for (int i = 0; i < m.nframes; i++) {
        size_t len;
        const char *d = zc_msg_data(&m, i, &len);
        CHECK(len == exp[i].n && (len == 0 || memcmp(d, exp[i].p, len) == 0));
    }
    check_accessors(&m);

    /* Round trip: the last frame goes zero-copy, as page bodies and documents do.
     * A send that fails (EINTR before the first frame: nothing was sent) has freed
     * the zero-copy frame, so each attempt makes a fresh copy. */
    zc_frame out[ZC_MSG_MAX_FRAMES];
    int src;
    do {
        for (int i = 0; i < m.nframes; i++) {
            size_t len;
            const char *d = zc_msg_data(&m, i, &len);
            out[i] = (zc_frame){ d, len, NULL, NULL };
        }
        if (m.nframes > 0) {
            zc_frame *last = &out[m.nframes - 1];
            void *copy = malloc(last->len ? last->len : 1);
            CHECK(copy);
            if (last->len) memcpy(copy, last->data, last->len);
            *last = (zc_frame){ copy, last->len, free_copy, NULL };
        }
        src = zc_msg_send(s, router ? &m.identity : NULL, m.type, out, m.nframes, 0);
    } while (src == -1 && errno == EINTR);
    CHECK(src == 0);
    zc_msg back;
    err[0] = '\0';
    CHECK(recv_msg(peer, &back, 0, 0, err, sizeof(err)) == 0);
    check_drained(peer);
    CHECK(back.type == m.type && back.nframes == m.nframes && !back.has_identity);
    for (int i = 0; i < m.nframes; i++) {
        size_t l1, l2;
        const char *d1 = zc_msg_data(&m, i, &l1), *d2 = zc_msg_data(&back, i, &l2);
        CHECK(l1 == l2 && (l1 == 0 || memcmp(d1, d2, l1) == 0));
    }
    zc_msg_close(&back);
    zc_msg_close(&m);
    CHECK(m.nframes == 0 && m.has_identity == 0);
    zc_msg_close(&m); /* a second close is a no-op */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ctx) setup();
    if (size == 0) return 0;
    span f[MAXF];
    int n = data[0] % MAXF;
    size_t off = 1;
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        if (off + 2 <= size) {
            len = (size_t)data[off] | ((size_t)data[off + 1] << 8);
            off += 2;
        } else {
            off = size;
        }
        if (len > size - off) len = size - off;
        f[i].p = data + off;
        f[i].n = len;
        off += len;
    }

    /* The header alone, through the decoder's own entry point. */
    if (n > 0) {
        char err[128];
        int t = zc_msg_decode_header(f[0].p, f[0].n, err, sizeof(err));
        if (t < 0) CHECK(err[0] != '\0');
        else CHECK(t > 0 && t < ZC_MSG_TYPE_MAX && f[0].n >= 4 && (f[0].n == 4 || f[0].p[2] == ZC_PROTO_PACKED));
        (void)zc_msg_type_name(f[0].n ? f[0].p[f[0].n - 1] : -1);
    }

    send_frames(pa, f, n);
    recv_and_check(pb, 0, pa, f, n);

    send_frames(dl, f, n);
    recv_and_check(rt, 1, dl, f, n);
    return 0;
}
