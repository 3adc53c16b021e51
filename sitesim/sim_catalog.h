/* sim_catalog.h -- the deterministic book catalogue: ids, missing and malformed books, JSON.
 *
 * Every book is a pure function of (seed, index): its id comes from a keyed
 * permutation of [0, 2^26) (so ids are unique, 7 or 8 digits, not sequential, and
 * an id maps back to its index without a table), its fields from a generator
 * seeded by the index. About 1 book in 300 is "missing" (listed, but its detail
 * page answers 404); a further subset, chosen by hash(seed, id) against the
 * malformed rate, has a detail page that is not valid JSON. */
#ifndef SIM_CATALOG_H
#define SIM_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "sim_buf.h"

#define SIM_CATALOG_MAX_BOOKS     10000000L
#define SIM_CATALOG_MISSING_EVERY 300

/* Rendered item and detail bodies, kept once rendered while the byte budget lasts. */
typedef struct sim_catalog_cache {
    struct sim_cached {
        char *p;
        size_t len;
    } * items, *details; /* nbooks each */
    size_t bytes, budget;
} sim_catalog_cache;

#define SIM_CATALOG_CACHE_BUDGET    (256u << 20)
#define SIM_CATALOG_CACHE_MAX_BOOKS 2000000L

typedef struct sim_catalog {
    uint64_t seed;
    long nbooks;
    double malformed_rate;
    unsigned char *flags; /* nbooks entries, owned: SIM_BOOK_MISSING, SIM_BOOK_MALFORMED */
    long nmissing;
    long nmalformed;
    sim_catalog_cache *cache; /* owned; NULL when the catalogue is too big to cache */
} sim_catalog;

enum { SIM_BOOK_MISSING = 1,
       SIM_BOOK_MALFORMED = 2 };

/* Builds the catalogue. Returns 0, or -1 with a reason in err (bad size, no memory). */
int sim_catalog_init(sim_catalog *c, uint64_t seed, long nbooks, double malformed_rate,
                     char *err, size_t errlen);
void sim_catalog_free(sim_catalog *c);
/* The numeric id of book i (0 <= i < nbooks). */
uint32_t sim_catalog_id(const sim_catalog *c, long i);
/* The index of the book whose id is the digits s[0..n), or -1 when no book has it
 * (not canonical digits, out of range, or beyond nbooks). */
long sim_catalog_find(const sim_catalog *c, const char *s, size_t n);
int sim_catalog_is_missing(const sim_catalog *c, long i);
int sim_catalog_is_malformed(const sim_catalog *c, long i);

/* Renderers append to b (check b->oom afterwards). Item and detail bodies are
 * cached after their first rendering (the cache is the one mutable part). */
/* The list item of book i. */
void sim_catalog_render_item(const sim_catalog *c, long i, sim_buf *b);
/* The detail object of book i (valid JSON). */
void sim_catalog_render_detail(const sim_catalog *c, long i, sim_buf *b);
/* The broken detail body of book i: a deterministic corruption of the valid one. */
void sim_catalog_render_malformed(const sim_catalog *c, long i, sim_buf *b);
/* A list page: {"count", "next", "previous", "results"}; base is the absolute URL
 * of the list endpoint ("http://host/api/book/") used in next and previous. */
void sim_catalog_render_list(const sim_catalog *c, long limit, long offset,
                             const char *base, sim_buf *b);
/* The books of a page, offset .. offset+n-1 as far as they exist, each drawn by
 * item, separated by ", " (both APIs' list pages). */
typedef void (*sim_catalog_render_fn)(const sim_catalog *c, long i, sim_buf *b);
void sim_catalog_render_page(const sim_catalog *c, long offset, long n, sim_catalog_render_fn item,
                             sim_buf *b);
/* {"count": N, "reachable": [...], "missing": [...], "malformed": [...]}. */
void sim_catalog_render_ids(const sim_catalog *c, sim_buf *b);

#endif
