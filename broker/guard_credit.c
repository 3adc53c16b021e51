/* guard_credit.c -- the credit a fetcher may hold (guard_credit.h). */
#include "guard_credit.h"

#include <string.h>

#include "peer_io.h"
#include "zc_log.h"

/* Credit and JOBs held by the other fetchers of key (connections other than
 * peer), so that one key opening many connections holds no more than one may.
 * A closed connection's credit is void (it gets no JOBs), its JOBs still count
 * until they come back. Without keys ("") every connection is on its own: 0. */
static long others_of_key(broker *b, int peer, const char *key) {
    long sum = 0;
    if (!key[0]) return 0;
    for (size_t i = 0; i < dispatch_peer_slots(&b->d); i++) {
        dispatch_peer *q = dispatch_peer_at(&b->d, (int)i);
        if (!q || (int)i == peer || q->role != DISPATCH_FETCHER || strcmp(q->key, key) != 0) continue;
        sum += (long)q->held.n + (!q->closed && q->credit > 0 ? q->credit : 0);
    }
    return sum;
}

/* Credit for peer when it wants c in all: c clamped to the room its key (or
 * connection) has; what is left over becomes p->owed. A clamp is logged when
 * say is set. */
static long grant(broker *b, int peer, uint64_t c, int say) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    long others = p ? others_of_key(b, peer, p->key) : 0;
    long room = b->conf->max_credit - (p ? (long)p->held.n : 0) - others;
    if (room < 0) room = 0;
    if (c <= (uint64_t)room) {
        if (p) p->owed = 0;
        return (long)c;
    }
    /* The fetcher counts these slots free: they are its due once room frees (a
     * fetcher sends CREDIT only for slots that free, so what is not granted now
     * would never be asked for again). */
    if (p) p->owed = c - (uint64_t)room > (uint64_t)b->conf->max_credit ? b->conf->max_credit : (long)(c - (uint64_t)room);
    if (say) {
        char name[160], key[80];
        zc_warn("credit_clamped", "peer=%s key=%s asked=%llu granted=%ld max_credit=%ld key_others=%ld",
                zc_log_q(name, sizeof(name), p ? p->name : ""), zc_log_q(key, sizeof(key), p && p->key[0] ? p->key : "-"),
                (unsigned long long)c, room, b->conf->max_credit, others);
    }
    return room;
}

long broker_guard_credit(broker *b, int peer, uint64_t c) { return grant(b, peer, c, 1); }

void broker_guard_credit_tick(broker *b) {
    for (size_t i = 0; i < dispatch_peer_slots(&b->d); i++) {
        dispatch_peer *p = dispatch_peer_at(&b->d, (int)i);
        if (!p || p->role != DISPATCH_FETCHER || p->owed <= 0 || p->paused || p->closed) continue;
        long before = p->credit > 0 ? p->credit : 0;
        p->credit = grant(b, (int)i, (uint64_t)before + (uint64_t)p->owed, 0);
        if (p->credit > before) {
            char name[160];
            zc_info("credit_granted", "peer=%s granted=%ld owed=%ld", zc_log_q(name, sizeof(name), p->name),
                    p->credit - before, p->owed);
            dispatch_peer_capacity(p);
        }
    }
}
