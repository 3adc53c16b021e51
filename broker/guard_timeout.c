/* guard_timeout.c -- JOBs a fetcher never answers (guard_timeout.h). */
#include "guard_timeout.h"

#include "outage.h"
#include "peer_io.h"
#include "zc_log.h"

void broker_guard_timeout_tick(broker *b, int64_t now) {
    for (size_t i = 0; i < dispatch_peer_slots(&b->d); i++) {
        dispatch_peer *p = dispatch_peer_at(&b->d, (int)i);
        if (!p || p->role != DISPATCH_FETCHER) continue;
        size_t n = 0;
        dispatch_item *it;
        while ((it = dispatch_first_held(&b->d, (int)i)) != NULL && now - it->sent_at > b->conf->job_timeout_ms) {
            dispatch_answered(&b->d, it, DISPATCH_UNANSWERED); /* no answer: no sign the host is fine */
            int rc = frontier_requeue(&b->fr, it->url, (int)b->conf->max_retries);
            if (rc == -2) zc_warn("dead_letter", "url=%s stage=broker reason=\"lease lost %ld times\"", it->url,
                                  b->conf->max_retries + 1);
            else if (rc < 0) broker_redis_failed(b, "requeue");
            dispatch_drop(&b->d, it);
            n++;
        }
        if (n) {
            char name[160];
            zc_warn("jobs_unanswered", "peer=%s taken_back=%zu after_ms=%ld credit_was=%ld",
                    zc_log_q(name, sizeof(name), p->name), n, b->conf->job_timeout_ms, p->credit);
            p->credit = p->owed = 0;
            b->unanswered += (long long)n;
        }
    }
    (void)broker_flush_count(b, "unanswered", &b->unanswered);
}
