/* sim_rng.h -- splitmix64: the seeded hash and generator behind every choice the emulator makes. */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdint.h>

/* A 64-bit finalizer: a good hash of x (bijective). */
static inline uint64_t sim_mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Hash of two values, order-sensitive. */
static inline uint64_t sim_hash2(uint64_t a, uint64_t b) {
    return sim_mix64(sim_mix64(a) ^ (b * 0xff51afd7ed558ccdULL));
}

typedef struct sim_rng {
    uint64_t s;
} sim_rng;

static inline void sim_rng_seed(sim_rng *r, uint64_t seed) { r->s = seed; }

static inline uint64_t sim_rng_next(sim_rng *r) {
    r->s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); 0 when n is 0. */
static inline uint32_t sim_rng_below(sim_rng *r, uint32_t n) {
    return (uint32_t)(((sim_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi] (inclusive); lo when hi < lo. */
static inline long sim_rng_range(sim_rng *r, long lo, long hi) {
    if (hi <= lo)
        return lo;
    return lo + (long)sim_rng_below(r, (uint32_t)(hi - lo + 1));
}

/* Uniform in [0, 1). */
static inline double sim_rng_unit(sim_rng *r) {
    return (double)(sim_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* 1 with probability pct/100. */
static inline int sim_rng_pct(sim_rng *r, unsigned pct) {
    return sim_rng_below(r, 100) < pct;
}

#endif
