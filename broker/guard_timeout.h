/* guard_timeout.h -- JOBs a fetcher never answers: out longer than
 * --job-timeout-ms, they go back to the frontier and that fetcher's credit to 0,
 * so a fetcher that takes work and never answers (broken or hostile) cannot hold
 * the crawl; an honest one gets credit back as its transfers end. */
#ifndef BROKER_GUARD_TIMEOUT_H
#define BROKER_GUARD_TIMEOUT_H

#include <stdint.h>

#include "broker.h"

/* Periodic: takes back the JOBs unanswered past --job-timeout-ms and adds their
 * count to the stats hash (unanswered). Never fails (Redis failures are noted). */
void broker_guard_timeout_tick(broker *b, int64_t now);

#endif
