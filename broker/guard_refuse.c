/* guard_refuse.c -- who may say what, refusals and recall (guard_refuse.h). */
#include "guard_refuse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outage.h"
#include "peer_io.h"
#include "zc_curve.h"
#include "zc_log.h"
#include "zc_strmap.h"
#include "zc_time.h"

#define GUARD_KNOWN 512 /* identities remembered (oldest forgotten first) */

typedef struct guard_known {
    unsigned char id[DISPATCH_ID_MAX];
    size_t idlen;
    dispatch_role role;
    char name[64];
    char key[64]; /* "" without keys */
} guard_known;

struct guard_refusals {
    guard_known known[GUARD_KNOWN]; /* a ring: the next one replaces the oldest */
    size_t next_known;
    zc_strmap *by_id;                    /* identity -> its slot in known */
    long long refused, not_leased;       /* not yet in Redis */
    long long by_reason[GUARD_NREASONS]; /* not yet in Redis, refused_<reason> */
    long long refused_total;
    struct {
        int64_t last;
        long long quiet;
    } log[GUARD_NREASONS]; /* rate limit */
};

static const char *reason_name[GUARD_NREASONS] = {
    [GUARD_NO_HELLO] = "no_hello",
    [GUARD_WRONG_ROLE] = "wrong_role",
    [GUARD_NOT_HELD] = "not_held",
    [GUARD_NOT_LEASED] = "not_leased",
    [GUARD_ROLE_CHANGE] = "role_change",
    [GUARD_UNPROVEN] = "unproven",
    [GUARD_KEY_ROLE] = "role",
    [GUARD_TOO_LONG] = "size",
};

int broker_guard_refuse_open(broker *b) {
    b->refusals = calloc(1, sizeof(*b->refusals));
    if (!b->refusals) return -1;
    if (!(b->refusals->by_id = zc_strmap_new())) {
        free(b->refusals);
        b->refusals = NULL;
        return -1;
    }
    return 0;
}

void broker_guard_refuse_close(broker *b) {
    if (b->refusals) zc_strmap_free(b->refusals->by_id);
    free(b->refusals);
    b->refusals = NULL;
}

/* The remembered identity id, or NULL. */
static guard_known *known_find(struct guard_refusals *g, const void *id, size_t idlen) {
    long i;
    return zc_strmap_get(g->by_id, id, idlen, &i) ? &g->known[i] : NULL;
}

/* 1 when a peer of role r may send type t. */
static int may_send(dispatch_role r, zc_msg_type t) {
    switch (t) {
    case ZC_MSG_CREDIT:
    case ZC_MSG_DONE: return r == DISPATCH_FETCHER;
    case ZC_MSG_DISCOVERED: return r == DISPATCH_PARSER || r == DISPATCH_WRITER; /* a writer's: a page's documents written */
    case ZC_MSG_WRITTEN: return r == DISPATCH_WRITER;
    case ZC_MSG_COUNTS: return r == DISPATCH_PARSER;
    case ZC_MSG_DEAD:
    case ZC_MSG_HOLD: return r == DISPATCH_PARSER || r == DISPATCH_WRITER;
    default: return r != DISPATCH_OTHER;
    }
}

int broker_guard_admitted(broker *b, int peer, zc_msg_type t) {
    if (peer == BROKER_PEER_REPLAY) return 1;
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p || p->role == DISPATCH_OTHER) {
        broker_guard_refuse(b, GUARD_NO_HELLO, zc_msg_type_name(t), peer, "");
        return 0;
    }
    if (!may_send(p->role, t)) {
        broker_guard_refuse(b, GUARD_WRONG_ROLE, zc_msg_type_name(t), peer,
                            p->role == DISPATCH_FETCHER ? "from a fetcher" : (p->role == DISPATCH_PARSER ? "from a parser" : "from a writer"));
        return 0;
    }
    return 1;
}

void broker_guard_refuse(broker *b, guard_reason why, const char *type, int peer, const char *detail) {
    struct guard_refusals *g = b->refusals;
    if (why == GUARD_NOT_LEASED) g->not_leased++;
    else {
        g->refused++;
        g->by_reason[why]++;
    }
    g->refused_total++;
    int64_t now = zc_now_ms();
    if (now - g->log[why].last < 1000) {
        g->log[why].quiet++;
        return;
    }
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    char name[160], d[400];
    zc_warn("refused", "reason=%s type=%s peer=%s detail=%s also_refused_since_last=%lld total=%lld",
            reason_name[why], type, zc_log_q(name, sizeof(name), p && p->name[0] ? p->name : "(unknown)"),
            zc_log_q(d, sizeof(d), detail), g->log[why].quiet, g->refused_total);
    g->log[why].last = now;
    g->log[why].quiet = 0;
}

void broker_guard_remember(broker *b, int peer) {
    struct guard_refusals *g = b->refusals;
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p) return;
    guard_known *k = known_find(g, p->id, p->idlen);
    if (!k) {
        size_t slot = g->next_known;
        k = &g->known[slot];
        if (k->idlen) (void)zc_strmap_del(g->by_id, k->id, k->idlen); /* the oldest is forgotten */
        k->idlen = 0;
        if (zc_strmap_put(g->by_id, p->id, p->idlen, (long)slot) != 0) {
            zc_warn("peer_not_remembered", "reason=out_of_memory");
            return;
        }
        g->next_known = (slot + 1) % GUARD_KNOWN;
    }
    memcpy(k->id, p->id, p->idlen);
    k->idlen = p->idlen;
    k->role = p->role;
    snprintf(k->name, sizeof(k->name), "%s", p->name);
    snprintf(k->key, sizeof(k->key), "%s", p->key);
}

int broker_guard_recall(broker *b, const void *id, size_t idlen, const char *key) {
    guard_known *k = known_find(b->refusals, id, idlen);
    /* A fetcher's JOBs went back when it was forgotten: its DONEs are void. */
    if (!k || k->role == DISPATCH_FETCHER) return -1;
    if (strcmp(k->key, key ? key : "") != 0) {
        /* Its routing id under another key: not the stage that said HELLO. */
        char d[320]; /* key names are authorized/'s file names; the detail is quoted when logged */
        snprintf(d, sizeof(d), "routing id of %s %.63s reused under key %.63s (it said HELLO under %.63s)",
                 dispatch_role_name(k->role), k->name, key && *key ? key : "(none)", k->key[0] ? k->key : "(none)");
        broker_guard_refuse(b, GUARD_KEY_ROLE, "recall", -1, d);
        return -2;
    }
    int peer = dispatch_peer_get(&b->d, id, idlen, 1);
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p) return -1;
    p->role = k->role;
    p->credit = 0;
    snprintf(p->name, sizeof(p->name), "%s", k->name);
    snprintf(p->key, sizeof(p->key), "%s", k->key);
    char qn[160];
    zc_info("peer_recalled", "name=%s", zc_log_q(qn, sizeof(qn), p->name));
    return peer;
}

dispatch_role broker_guard_key_role(const char *key) {
    char role[16];
    size_t n = strcspn(key ? key : "", "-.");
    if (n == 0 || n >= sizeof(role)) return DISPATCH_OTHER;
    memcpy(role, key, n);
    role[n] = '\0';
    return dispatch_role_parse(role);
}

int broker_guard_hello_key(broker *b, int peer, const char *key, dispatch_role r) {
    if (!zc_curve_enabled()) return 1; /* roles are what HELLO says (the security line says so) */
    dispatch_role kr = broker_guard_key_role(key);
    if (kr == r) return 1;
    char d[200];
    snprintf(d, sizeof(d), "HELLO as %s with a %s key (%.63s)", dispatch_role_name(r),
             kr == DISPATCH_OTHER ? "stage's" : dispatch_role_name(kr), key && *key ? key : "no User-Id");
    broker_guard_refuse(b, GUARD_KEY_ROLE, "HELLO", peer, d);
    return 0;
}

int broker_guard_key_admitted(broker *b, int peer, zc_msg_type t, const char *key) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    if (!p || p->role == DISPATCH_OTHER || !strcmp(p->key, key ? key : "")) return 1;
    char d[200];
    snprintf(d, sizeof(d), "under key %.63s, not %.63s that said HELLO", key && *key ? key : "(none)",
             p->key[0] ? p->key : "(none)");
    broker_guard_refuse(b, GUARD_KEY_ROLE, zc_msg_type_name(t), peer, d);
    return 0;
}

void broker_guard_refuse_flush(broker *b) {
    struct guard_refusals *g = b->refusals;
    (void)broker_flush_count(b, "refused_messages", &g->refused);
    (void)broker_flush_count(b, "not_leased", &g->not_leased);
    for (int i = 0; i < GUARD_NREASONS; i++) {
        char field[48];
        if (i == GUARD_NOT_LEASED || !g->by_reason[i]) continue;
        snprintf(field, sizeof(field), "refused_%s", reason_name[i]);
        (void)broker_flush_count(b, field, &g->by_reason[i]);
    }
}
