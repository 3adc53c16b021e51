/* zc_msg.h -- the versioned multipart messages that join the stages.
 *
 * Every message starts with a header frame: 'Z' 'C' VERSION TYPE, and carries a
 * fixed number of frames for its type (see docs/PROTOCOL.md). Version 1 sends each
 * as a ZeroMQ frame after the 4-byte header; version 2, what zc_msg_send sends,
 * packs them into the header frame but for zero-copy ones over ZC_MSG_INLINE_MAX,
 * which follow as frames of their own, sent without a copy. Both are read.
 * Numbers travel as ASCII decimal; URL lists as one frame of '\n'-separated URLs.
 *
 * Decoding never trusts the wire: a message with a bad header, an unknown version
 * or type, or a frame count outside its type's is consumed whole and reported as
 * an error. */
#ifndef ZC_MSG_H
#define ZC_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zmq.h>

#define ZC_PROTO_VERSION 1
/* Version 2, packed: the header frame carries the message's frames after its 4
 * bytes, each as a 4-byte big-endian length and its bytes; a frame whose length
 * reads ZC_MSG_SEPARATE follows as a ZeroMQ frame of its own, in order: what is
 * handed over without a copy and bigger than ZC_MSG_INLINE_MAX (a big page body).
 * One frame instead of many: with CURVE each frame is a box of its own
 * (docs/PROTOCOL.md, "Framing"). */
#define ZC_PROTO_PACKED   2
#define ZC_MSG_SEPARATE   0xffffffffu
#define ZC_MSG_INLINE_MAX (64u << 10)
#define ZC_MSG_MAX_FRAMES 9
/* Largest message a zcrawl socket accepts (ZMQ_MAXMSGSIZE): a peer that announces
 * more is disconnected before anything is allocated. Pages are capped well below. */
#define ZC_MSG_MAX_BYTES (64LL << 20)
/* Room for a ZAP User-Id (a key's name) in a received message. */
#define ZC_MSG_USER_MAX 64

typedef enum {
    ZC_MSG_HELLO = 1,  /* stage -> broker: role, name, credit */
    ZC_MSG_HEARTBEAT,  /* both ways on the broker socket: (no frames) */
    ZC_MSG_CREDIT,     /* fetcher -> broker: n more free transfer slots */
    ZC_MSG_JOB,        /* broker -> fetcher: urls, attempts, proofs ('\n'-separated, one of each per url) */
    ZC_MSG_DONE,       /* fetcher -> broker: url, outcome, status, retry_after_ms, reason */
    ZC_MSG_PAGE,       /* fetcher -> parser: url, final_url, status, content_type, fetched_at_ms, total_ms, body, link, proof */
    ZC_MSG_DISCOVERED, /* parser (or writer) -> broker: parent url, urls ('\n'-separated)[, documents written] */
    ZC_MSG_DOC,        /* parser -> writer: url, bson document(s), proof[, urls] */
    ZC_MSG_WRITTEN,    /* writer -> broker: urls ('\n'-separated) */
    ZC_MSG_DEAD,       /* parser/writer -> broker: url, stage, reason */
    ZC_MSG_SHUTDOWN,   /* broker -> stage: (no frames) the crawl is over */
    ZC_MSG_HOLD,       /* parser/writer -> broker: urls it holds, alive but not done (lease renewal) */
    ZC_MSG_STATUS,     /* any stage -> broker: condition ("ok" or a short word), one-line detail */
    ZC_MSG_COUNTS,     /* parser -> broker: a spec's null and skip counters since the last (spec_counts_format lines) */
    ZC_MSG_TYPE_MAX
} zc_msg_type;

/* A received message. Frame pointers are valid until zc_msg_close(). */
typedef struct zc_msg {
    zc_msg_type type;
    int nframes; /* payload frames, header excluded */
    zmq_msg_t frames[ZC_MSG_MAX_FRAMES];
    int has_identity; /* set when received on a ROUTER */
    zmq_msg_t identity;
    /* The ZAP User-Id of the connection it came over (with CURVE: the name of
     * the admitted key, "fetcher", "parser-2"), "" when none. */
    char user[ZC_MSG_USER_MAX];
    int srcfd; /* the connection's socket it came over (ZMQ_SRCFD of its header frame), -1 unknown */
} zc_msg;

/* One outgoing frame. When ffn is set the data is handed to ZeroMQ without a copy
 * and ffn(data, hint) frees it once sent; otherwise the bytes are copied. */
typedef struct zc_frame {
    const void *data;
    size_t len;
    zmq_free_fn *ffn;
    void *hint;
} zc_frame;

#define ZC_FSTR(s) ((zc_frame){ (s), strlen(s), NULL, NULL })

/* Frames each type carries after the header, or -1 for an unknown type. A type
 * whose older form had fewer frames is accepted with those too (PAGE: 7 or 9);
 * zc_msg_data reads a missing frame as empty. */
int zc_msg_expected_frames(int type);
/* The fewest frames accepted for a type: its older, shorter form (JOB without
 * proofs, PAGE without link and proof, DOC without proof), whose missing frames
 * read as empty (zc_msg_data); else the same as zc_msg_expected_frames. */
int zc_msg_min_frames(int type);
const char *zc_msg_type_name(int type);

/* Receives one whole multipart message (with a leading identity frame when
 * router is set). Returns 0 on success; -1 with errno EAGAIN/EINTR/ETERM when
 * nothing was received; -2 when a message was received but is malformed: it was
 * consumed and closed, and err says why in one line. */
int zc_msg_recv(void *sock, zc_msg *m, int flags, int router, char *err, size_t errlen);
/* The same, with a bound: a message with more frames than its type carries, or
 * whose frames after the header add up to more than max_bytes (0: no bound), is
 * read frame by frame to its end, each frame freed as soon as it is read, and
 * -3 is returned with err saying which bound it broke. (libzmq hands a
 * multipart message over only once it has all of it: what this bounds is what
 * the caller holds, not what libzmq held.) The other returns are
 * zc_msg_recv's. */
int zc_msg_recv_max(void *sock, zc_msg *m, int flags, int router, size_t max_bytes, char *err, size_t errlen);
void zc_msg_close(zc_msg *m);

/* Frame i's bytes and length (not NUL-terminated). */
const char *zc_msg_data(const zc_msg *m, int i, size_t *len);
/* Copies frame i into buf as a C string. Returns 0, or -1 if it does not fit or
 * holds a NUL byte. */
int zc_msg_str(const zc_msg *m, int i, char *buf, size_t buflen);
/* Parses frame i as an unsigned decimal. Returns 0, or -1 if it is not one. */
int zc_msg_u64(const zc_msg *m, int i, uint64_t *out);

/* Sends a message: optional ROUTER identity, then the header frame with the n
 * frames packed in it (version 2) but for those with ffn over ZC_MSG_INLINE_MAX
 * bytes, which follow as frames of their own; with n == 0 version 1's 4-byte
 * header. A frame with ffn that is packed is copied and freed at once. Returns 0, or -1 with errno set
 * (EMSGSIZE: a copied frame over ZC_MSG_MAX_BYTES); frames with ffn are freed by
 * ZeroMQ or, on failure, here. */
int zc_msg_send(void *sock, const zmq_msg_t *identity, zc_msg_type type,
                const zc_frame *frames, int n, int flags);

/* Sets ZMQ_MAXMSGSIZE to ZC_MSG_MAX_BYTES on a socket that receives from the
 * network. Returns 0, or -1 with errno set. */
int zc_msg_limit(void *sock);

/* Decodes a header frame: returns the type, or -1 with a reason in err. */
int zc_msg_decode_header(const void *data, size_t len, char *err, size_t errlen);

#endif
