/* guard_credit.c -- the credit a fetcher may hold (guard_credit.h). */
#include "guard_credit.h"

#include "peer_io.h"
#include "zc_log.h"

long broker_guard_credit(broker *b, int peer, uint64_t c) {
    dispatch_peer *p = dispatch_peer_at(&b->d, peer);
    long room = b->conf->max_credit - (p ? (long)p->held.n : 0);
    if (room < 0) room = 0;
    if (c > (uint64_t)room) {
        char name[64];
        broker_safe_text(name, sizeof(name), p ? p->name : "");
        zc_warn("credit_clamped", "peer=\"%s\" asked=%llu granted=%ld max_credit=%ld", name,
                (unsigned long long)c, room, b->conf->max_credit);
        return room;
    }
    return (long)c;
}
