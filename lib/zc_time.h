/* zc_time.h -- monotonic and wall clocks in milliseconds, and retry backoff. */
#ifndef ZC_TIME_H
#define ZC_TIME_H

#include <stdint.h>

int64_t zc_now_ms(void);      /* CLOCK_MONOTONIC */
int64_t zc_wall_ms(void);     /* CLOCK_REALTIME, ms since the epoch */
/* Exponential backoff: base * 2^attempt capped at max, then "equal jitter":
 * half fixed, half uniform random. attempt counts from 0. */
int64_t zc_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms);
/* Seeds the jitter generator (time and pid when seed is 0). */
void zc_rand_seed(uint64_t seed);
uint64_t zc_rand(void);

#endif
