/* zc_time.c -- monotonic and wall clocks in milliseconds, UTC times as text, and retry backoff. */
#include "zc_time.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static uint64_t rand_state = 0;

int64_t zc_now_ms(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t zc_wall_ms(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *zc_time_utc(int64_t ms, const char *fmt, const char *unknown, char *buf, size_t len) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&t, &tm) || strftime(buf, len, fmt, &tm) == 0)
        snprintf(buf, len, "%s", unknown);
    return buf;
}

void zc_rand_seed(uint64_t seed) {
    if (seed == 0) seed = (uint64_t)zc_wall_ms() * 6364136223846793005ULL ^ (uint64_t)getpid();
    rand_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

/* splitmix64: small, fast, good enough for jitter. */
uint64_t zc_rand(void) {
    if (rand_state == 0) zc_rand_seed(0);
    uint64_t z = (rand_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int64_t zc_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms) {
    if (base_ms <= 0) base_ms = 1;
    if (attempt < 0) attempt = 0;
    int64_t d = base_ms;
    for (int i = 0; i < attempt && d < max_ms; i++) d *= 2;
    if (d > max_ms) d = max_ms;
    int64_t half = d / 2;
    return half + (half > 0 ? (int64_t)(zc_rand() % (uint64_t)(half + 1)) : 0);
}
