/* writer_idset.h -- a set of _id strings: which documents a JSON Lines file holds.
 *
 * Entries are kept in the order they were added (strings in one arena), and a
 * table of indexes into them is probed linearly over FNV-1a. Additions can be
 * undone newest first (writer_idset_mark/rollback): that is how a failed append
 * forgets the ids it had claimed. */
#ifndef WRITER_IDSET_H
#define WRITER_IDSET_H

#include <stddef.h>
#include <stdint.h>

#include "zc_buf.h"

typedef struct writer_idset_ent {
    uint64_t hash;
    size_t off, len; /* the id in the arena */
} writer_idset_ent;

/* Zero-initialise it; free with writer_idset_free. */
typedef struct writer_idset {
    writer_idset_ent *ents;
    size_t n, ents_cap;
    size_t *table; /* entry index + 1; 0 is an empty slot */
    size_t cap;    /* table slots, a power of two */
    zc_buf arena;
} writer_idset;

/* 1 when id[0..len) is in the set. */
int writer_idset_has(const writer_idset *s, const char *id, size_t len);
/* Adds id[0..len). Returns 1 when added, 0 when it was there, -1 when out of
 * memory (the set is unchanged then). */
int writer_idset_add(writer_idset *s, const char *id, size_t len);
/* How many ids the set holds: a mark to roll back to. */
size_t writer_idset_count(const writer_idset *s);
/* Removes every id added after the set held mark ids. */
void writer_idset_rollback(writer_idset *s, size_t mark);
void writer_idset_free(writer_idset *s);

#endif
