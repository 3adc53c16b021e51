/* zc_time.h -- monotonic and wall clocks in milliseconds, UTC times as text, and retry backoff. */
#ifndef ZC_TIME_H
#define ZC_TIME_H

#include <stddef.h>
#include <stdint.h>

int64_t zc_now_ms(void);  /* CLOCK_MONOTONIC */
int64_t zc_wall_ms(void); /* CLOCK_REALTIME, ms since the epoch */
/* ms since the epoch as UTC text in the strftime format fmt, into buf. Writes
 * unknown instead when ms is not positive or the text does not fit. Returns buf. */
#define ZC_TIME_ISO "%Y-%m-%dT%H:%M:%SZ" /* 2026-01-31T12:00:00Z */
const char *zc_time_utc(int64_t ms, const char *fmt, const char *unknown, char *buf, size_t len);
/* Exponential backoff: base * 2^attempt capped at max, then "equal jitter":
 * half fixed, half uniform random. attempt counts from 0. */
int64_t zc_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms);
/* Seeds the jitter generator (time and pid when seed is 0). */
void zc_rand_seed(uint64_t seed);
uint64_t zc_rand(void);

#endif
