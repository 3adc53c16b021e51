/* peer_io.c -- the broker's I/O with its peers on the ROUTER (peer_io.h). */
#include "peer_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "zc_log.h"

void broker_send(broker *b, int peer, zc_msg_type type, const zc_frame *f, int n) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p) return;
    zmq_msg_t id;
    if (zmq_msg_init_size(&id, p->idlen) != 0) return;
    memcpy(zmq_msg_data(&id), p->id, p->idlen);
    if (zc_msg_send(b->router, &id, type, f, n, ZMQ_DONTWAIT) != 0)
        zc_debug("send_failed", "type=%s reason=\"%s\"", zc_msg_type_name(type), zmq_strerror(errno));
    zmq_msg_close(&id);
}

void broker_shutdown_stages(broker *b) {
    for (size_t i = 0; i < dispatch_peer_slots(&b->d); i++)
        if (dispatch_peer_at(&b->d, (int)i)) broker_send(b, (int)i, ZC_MSG_SHUTDOWN, NULL, 0);
}

void broker_bad_message(broker *b, const char *why) {
    b->bad_messages++;
    zc_warn("bad_message", "reason=\"%s\" dropped=%lld", why, b->bad_messages);
}

char *broker_frame_dup(const zc_msg *m, int i) {
    size_t len;
    const char *d = zc_msg_data(m, i, &len);
    if (memchr(d, '\0', len)) return NULL;
    char *s = strndup(d, len);
    if (!s) zc_warn("out_of_memory", "what=\"a %s frame of %zu bytes\" effect=\"message dropped; its leases decide\"",
                    zc_msg_type_name(m->type), len);
    return s;
}

size_t broker_split_urls(char *buf, char ***out) {
    size_t n = 0, cap = 64;
    char **v = malloc(cap * sizeof(*v));
    if (!v) {
        *out = NULL;
        return 0;
    }
    char *save = NULL;
    for (char *u = strtok_r(buf, "\n", &save); u; u = strtok_r(NULL, "\n", &save)) {
        if (n == cap) {
            char **nv = realloc(v, cap * 2 * sizeof(*nv));
            if (!nv) { /* all or nothing: a list cut short would close its page's lease */
                free(v);
                *out = NULL;
                return 0;
            }
            v = nv;
            cap *= 2;
        }
        v[n++] = u;
    }
    *out = v;
    return n;
}

void broker_safe_text(char *out, size_t len, const char *s) {
    size_t i = 0;
    for (; s && s[i] && i + 1 < len; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '?' : (char)c;
    }
    out[i] = '\0';
}
