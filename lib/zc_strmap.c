/* zc_strmap.c -- a hash table from byte strings to long values (zc_strmap.h). */
#include "zc_strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zc_hash.h"

#define STRMAP_MIN 16 /* slots of a new table: a power of two */

typedef struct strmap_slot {
    uint64_t hash;
    char *key; /* owned copy; NULL: the slot is empty */
    size_t len;
    long value;
} strmap_slot;

struct zc_strmap {
    strmap_slot *slots;
    size_t cap, n; /* cap a power of two, n <= cap / 2 */
};

zc_strmap *zc_strmap_new(void) {
    zc_strmap *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->slots = calloc(STRMAP_MIN, sizeof(*m->slots));
    if (!m->slots) {
        free(m);
        return NULL;
    }
    m->cap = STRMAP_MIN;
    return m;
}

void zc_strmap_free(zc_strmap *m) {
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++) free(m->slots[i].key);
    free(m->slots);
    free(m);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t slot_of(const zc_strmap *m, uint64_t h, const void *key, size_t len) {
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    for (;;) {
        const strmap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len && !memcmp(s->key, key, len))) return i;
        i = (i + 1) & mask;
    }
}

int zc_strmap_get(const zc_strmap *m, const void *key, size_t len, long *value) {
    const strmap_slot *s = &m->slots[slot_of(m, zc_fnv1a(key, len), key, len)];
    if (!s->key) return 0;
    if (value) *value = s->value;
    return 1;
}

/* Doubles the slots. Returns 0, or -1 when out of memory (nothing changed). */
static int grow(zc_strmap *m) {
    size_t cap = m->cap * 2;
    strmap_slot *old = m->slots, *v = calloc(cap, sizeof(*v));
    if (!v) return -1;
    size_t oldcap = m->cap;
    m->slots = v;
    m->cap = cap;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].key) continue;
        size_t j = (size_t)old[i].hash & (cap - 1);
        while (v[j].key) j = (j + 1) & (cap - 1);
        v[j] = old[i];
    }
    free(old);
    return 0;
}

int zc_strmap_put(zc_strmap *m, const void *key, size_t len, long value) {
    uint64_t h = zc_fnv1a(key, len);
    size_t i = slot_of(m, h, key, len);
    if (m->slots[i].key) {
        m->slots[i].value = value;
        return 0;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    if ((m->n + 1) * 2 > m->cap) {
        if (grow(m) != 0) {
            free(copy);
            return -1;
        }
        i = slot_of(m, h, key, len);
    }
    memcpy(copy, key, len);
    copy[len] = '\0';
    m->slots[i] = (strmap_slot){ .hash = h, .key = copy, .len = len, .value = value };
    m->n++;
    return 0;
}

int zc_strmap_del(zc_strmap *m, const void *key, size_t len) {
    size_t mask = m->cap - 1, i = slot_of(m, zc_fnv1a(key, len), key, len);
    if (!m->slots[i].key) return 0;
    free(m->slots[i].key);
    /* Backward shift: every later entry of the run whose home slot is not
     * between the hole and itself moves into the hole. */
    for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = (size_t)m->slots[j].hash & mask;
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        m->slots[i] = m->slots[j];
        i = j;
    }
    m->slots[i] = (strmap_slot){ 0 };
    m->n--;
    return 1;
}

size_t zc_strmap_count(const zc_strmap *m) { return m->n; }
