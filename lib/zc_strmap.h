/* zc_strmap.h -- a hash table from byte strings to long values, found in O(1).
 *
 * Open addressing with linear probing (FNV-1a, zc_hash.h), at most half full,
 * deletion by backward shift (no tombstones, so a table that churns keeps short
 * probes). It copies every key it is given and frees the copies. For per-host or
 * per-identity state that must not be found by walking every entry. */
#ifndef ZC_STRMAP_H
#define ZC_STRMAP_H

#include <stddef.h>

typedef struct zc_strmap zc_strmap;

/* An empty table. Returns NULL only when out of memory. */
zc_strmap *zc_strmap_new(void);
/* Frees the table and its key copies (NULL: nothing). */
void zc_strmap_free(zc_strmap *m);
/* 1 with *value set when key[0..len) is in the table (value may be NULL), else 0.
 * Cannot fail. */
int zc_strmap_get(const zc_strmap *m, const void *key, size_t len, long *value);
/* Sets key's value, adding the key when it is new. Returns 0, or -1 when out of
 * memory (the table is unchanged then). */
int zc_strmap_put(zc_strmap *m, const void *key, size_t len, long value);
/* Removes key. Returns 1 when it was in, 0 when it was not. Cannot fail. */
int zc_strmap_del(zc_strmap *m, const void *key, size_t len);
/* Keys in the table. */
size_t zc_strmap_count(const zc_strmap *m);

#endif
