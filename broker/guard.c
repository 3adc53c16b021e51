/* guard.c -- the guards' lifetime and periodic work (guard.h). */
#include "guard.h"

#include <stdio.h>

#include "guard_credit.h"
#include "guard_refuse.h"
#include "guard_robots.h"
#include "guard_scope.h"
#include "guard_timeout.h"

int broker_guard_open(broker *b, char *const *starts, size_t n, char *err, size_t errlen) {
    if (broker_guard_refuse_open(b) != 0 || broker_guard_robots_open(b) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return broker_guard_scope_open(b, starts, n, err, errlen);
}

void broker_guard_close(broker *b) {
    broker_guard_scope_close(b);
    broker_guard_robots_close(b);
    broker_guard_refuse_close(b);
}

void broker_guard_tick(broker *b, int64_t now) {
    if (!b->refusals || !b->scope || frontier_broken(&b->fr)) return;
    broker_guard_timeout_tick(b, now);
    broker_guard_credit_tick(b);
    broker_guard_robots_tick(b, now);
    broker_guard_refuse_flush(b);
    broker_guard_scope_flush(b);
}
