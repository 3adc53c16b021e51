/* zc_hash.h -- 64-bit FNV-1a, the one string hash of the code base. */
#ifndef ZC_HASH_H
#define ZC_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a of p[0..n): fast on short keys (URLs, ids), good enough spread for
 * hash tables and fingerprints. Cannot fail. */
static inline uint64_t zc_fnv1a(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#endif
