/* spec_counts.c -- what running pages through a spec counts (the mistakes a crawl would not notice) and, for --try, shows. */
#include "spec_counts.h"

#include <stdlib.h>
#include <string.h>

const char *spec_why_text(int why) {
    static const char *const text[SPEC_WHY_COUNT] = {
        "converted",
        "nothing at its path",
        "null in the page",
        "not of a type it converts from",
        "empty once collapsed",
        "no date format fits",
        "month over 12 where a day fits: day-first data, month-first format?",
    };
    return why >= 0 && why < SPEC_WHY_COUNT ? text[why] : "?";
}

spec_counts *spec_counts_new(int nfield, int ntpl, int npart) {
    spec_counts *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->nfield = nfield;
    c->ntpl = ntpl;
    c->npart = npart;
    /* one block for all arrays; +1 so that a spec without fields still allocates */
    size_t n = 3 * (size_t)nfield + 2 * (size_t)ntpl + (size_t)npart + 1;
    uint64_t *a = calloc(n, sizeof(*a));
    if (!a) {
        free(c);
        return NULL;
    }
    c->seen = a;
    c->null = c->seen + nfield;
    c->swapped = c->null + nfield;
    c->tried = c->swapped + nfield;
    c->skipped = c->tried + ntpl;
    c->part_skipped = c->skipped + ntpl;
    return c;
}

void spec_counts_free(spec_counts *c) {
    if (!c) return;
    free(c->seen);
    free(c);
}

void spec_counts_zero(spec_counts *c) {
    memset(c->seen, 0, (3 * (size_t)c->nfield + 2 * (size_t)c->ntpl + (size_t)c->npart) * sizeof(uint64_t));
}
