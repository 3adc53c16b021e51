/* writer_idset.c -- a set of _id strings: which documents a JSON Lines file holds. */
#include "writer_idset.h"

#include <stdlib.h>
#include <string.h>

#include "zc_hash.h"

#define IDSET_MIN_CAP 1024

/* The slot holding id, or the empty slot where it would go. */
static size_t idset_find(const writer_idset *s, uint64_t h, const char *id, size_t len) {
    size_t mask = s->cap - 1, i = (size_t)h & mask;
    for (;;) {
        size_t e = s->table[i];
        if (e == 0) return i;
        const writer_idset_ent *x = &s->ents[e - 1];
        if (x->hash == h && x->len == len && memcmp(s->arena.p + x->off, id, len) == 0) return i;
        i = (i + 1) & mask;
    }
}

/* Rebuilds the table with cap slots. Returns 0, or -1 when out of memory. */
static int idset_rehash(writer_idset *s, size_t cap) {
    size_t *t = calloc(cap, sizeof(*t));
    if (!t) return -1;
    free(s->table);
    s->table = t;
    s->cap = cap;
    for (size_t k = 0; k < s->n; k++) {
        size_t i = (size_t)s->ents[k].hash & (cap - 1);
        while (t[i]) i = (i + 1) & (cap - 1);
        t[i] = k + 1;
    }
    return 0;
}

int writer_idset_has(const writer_idset *s, const char *id, size_t len) {
    if (s->cap == 0) return 0;
    return s->table[idset_find(s, zc_fnv1a(id, len), id, len)] != 0;
}

int writer_idset_add(writer_idset *s, const char *id, size_t len) {
    if ((s->n + 1) * 2 > s->cap && idset_rehash(s, s->cap ? s->cap * 2 : IDSET_MIN_CAP) != 0) return -1;
    uint64_t h = zc_fnv1a(id, len);
    size_t i = idset_find(s, h, id, len);
    if (s->table[i]) return 0;
    if (s->n == s->ents_cap) {
        size_t cap = s->ents_cap ? s->ents_cap * 2 : IDSET_MIN_CAP;
        writer_idset_ent *e = realloc(s->ents, cap * sizeof(*e));
        if (!e) return -1;
        s->ents = e;
        s->ents_cap = cap;
    }
    size_t off = s->arena.len;
    if (zc_buf_add(&s->arena, id, len, 0) != 0) return -1;
    s->ents[s->n] = (writer_idset_ent){ h, off, len };
    s->table[i] = ++s->n;
    return 1;
}

size_t writer_idset_count(const writer_idset *s) { return s->n; }

/* Empties slot i and moves later members of its probe run back into the gap
 * (deletion without tombstones for linear probing). */
static void idset_delete_slot(writer_idset *s, size_t i) {
    size_t mask = s->cap - 1, j = i;
    s->table[i] = 0;
    for (;;) {
        j = (j + 1) & mask;
        size_t e = s->table[j];
        if (e == 0) return;
        size_t home = (size_t)s->ents[e - 1].hash & mask;
        /* e may move to i when its home is not in (i, j] cyclically. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        s->table[i] = e;
        s->table[j] = 0;
        i = j;
    }
}

void writer_idset_rollback(writer_idset *s, size_t mark) {
    while (s->n > mark) {
        writer_idset_ent *x = &s->ents[s->n - 1];
        size_t i = idset_find(s, x->hash, s->arena.p + x->off, x->len);
        if (s->table[i]) idset_delete_slot(s, i);
        s->arena.len = x->off;
        s->n--;
    }
}

void writer_idset_free(writer_idset *s) {
    free(s->ents);
    free(s->table);
    zc_buf_free(&s->arena);
    memset(s, 0, sizeof(*s));
}
