/* spec_counts.h -- what running pages through a spec counts (the mistakes a crawl would not notice) and, for --try, shows.
 *
 * A spec that parses can still be wrong in ways no page refuses: a field whose path
 * finds nothing is null on every document, an item_url placeholder that names no
 * field skips every item, a month-first date format on day-first data is null (or
 * worse, swapped) for days after the 12th. The page functions count these in a
 * spec_counts (spec_counts_for in spec.h makes one that fits a spec, spec.h's
 * spec_counts_format reports it) and tell a spec_trace, when given one, what each
 * field found and became. Both are optional: the page functions take a spec_ctx
 * whose members may be NULL. */
#ifndef SPEC_COUNTS_H
#define SPEC_COUNTS_H

#include <stdint.h>
#include <bson/bson.h>
#include <cjson/cJSON.h>

/* Why a field came out null (or an empty list). */
enum {
    SPEC_WHY_OK = 0,  /* converted */
    SPEC_WHY_MISSING, /* nothing at its path */
    SPEC_WHY_NULL,    /* null in the page */
    SPEC_WHY_TYPE,    /* there, but not of a type it converts from */
    SPEC_WHY_EMPTY,   /* a string that collapsed to nothing */
    SPEC_WHY_DATE,    /* a string no date format fits */
    SPEC_WHY_SWAPPED, /* a date whose month (%m) is 13..31 and day 1..12: day first data, month first format? */
    SPEC_WHY_COUNT
};

/* A short phrase for a SPEC_WHY_* ("nothing at its path"). */
const char *spec_why_text(int why);

/* Counters, each array indexed by a slot the loader gave the field or template. */
typedef struct spec_counts {
    int nfield, ntpl, npart;
    uint64_t *seen, *null, *swapped; /* per field: read, came out null, of which SPEC_WHY_SWAPPED */
    uint64_t *tried, *skipped;       /* per template (item_url, follow): values expanded, values skipped */
    uint64_t *part_skipped;          /* per placeholder of a template: skips it caused */
} spec_counts;

/* Counters for nfield fields, ntpl templates and npart placeholders, all zero.
 * Returns NULL when memory runs out. */
spec_counts *spec_counts_new(int nfield, int ntpl, int npart);
void spec_counts_free(spec_counts *c);
void spec_counts_zero(spec_counts *c);

struct spec_field;
struct spec_tpl;

/* What --try shows: told of every field read and every value a template could not
 * use. Pointers are valid during the call only. */
typedef struct spec_trace {
    void *arg;
    /* Field f of a document read v (NULL: nothing at its path) and appended the
     * result, or null for why (SPEC_WHY_*), to d, whose last element it is. */
    void (*field)(void *arg, const struct spec_field *f, const cJSON *v, int why, const bson_t *d);
    /* Template t could not use value v: placeholder part (an index into t's parts)
     * had nothing usable, or part is -1 and the result was too long. */
    void (*skip)(void *arg, const struct spec_tpl *t, int part, const cJSON *v);
    /* A document of a list page begins (index from 0), or was dropped for reason
     * (reason NULL when it begins). */
    void (*doc)(void *arg, int index, const char *reason);
} spec_trace;

/* What the page functions count into and tell; either may be NULL. */
typedef struct spec_ctx {
    spec_counts *counts;
    const spec_trace *trace;
} spec_ctx;

#endif
