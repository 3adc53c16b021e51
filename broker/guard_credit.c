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

long broker_guard_credit(broker *b, int peer, uint64_t c) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    long others = p ? others_of_key(b, peer, p->key) : 0;
    long room = b->conf->max_credit - (p ? (long)p->held.n : 0) - others;
    if (room < 0) room = 0;
    if (c > (uint64_t)room) {
        char name[160], key[80];
        zc_warn("credit_clamped", "peer=%s key=%s asked=%llu granted=%ld max_credit=%ld key_others=%ld",
                zc_log_q(name, sizeof(name), p ? p->name : ""), zc_log_q(key, sizeof(key), p && p->key[0] ? p->key : "-"),
                (unsigned long long)c, room, b->conf->max_credit, others);
        return room;
    }
    return (long)c;
}
