/* counts.c -- COUNTS from parsers: a spec's nulls and skipped items, added up in Redis. */
#include "counts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontier.h"
#include "guard_refuse.h"
#include "peer_io.h"
#include "zc_log.h"

/* Splits line at tabs into f[0..max). Returns how many. */
static int split(char *line, char **f, int max) {
    int n = 0;
    for (char *t = line; n < max;) {
        f[n++] = t;
        char *tab = strchr(t, '\t');
        if (!tab) break;
        *tab = '\0';
        t = tab + 1;
    }
    return n;
}

/* A decimal of at most 18 digits, or -1. */
static long long num(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n) return -1;
    return atoll(s);
}

/* "KIND\tA\tB[\tC]" into out (owned). Returns it, or NULL when memory runs out. */
static char *key(const char *kind, char *const *f, int n) {
    size_t len = strlen(kind) + 1;
    for (int i = 0; i < n; i++) len += strlen(f[i]) + 1;
    char *k = malloc(len);
    if (!k) return NULL;
    strcpy(k, kind);
    for (int i = 0; i < n; i++) strcat(strcat(k, "\t"), f[i]);
    return k;
}

/* One hash field a line adds to: KIND and the line's fields 1..nkey name it,
 * field at holds the number. */
typedef struct counter_add {
    const char *kind;
    int nkey, at;
} counter_add;

/* The counters received and not yet added to Redis: hash field -> delta, an
 * open-addressing table of COUNTS_CAP slots (a spec has a few hundred fields). */
#define COUNTS_CAP 8192
struct broker_counts {
    char *key[COUNTS_CAP];
    long long by[COUNTS_CAP];
    size_t n;
};

static size_t slot(const struct broker_counts *c, const char *k) {
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++) h = (h ^ *p) * 16777619u;
    size_t i = h & (COUNTS_CAP - 1);
    while (c->key[i] && strcmp(c->key[i], k)) i = (i + 1) & (COUNTS_CAP - 1);
    return i;
}

/* Adds v to k (taking k). Returns 0, or -1 when the table is full or memory ran out (k freed). */
static int add(broker *b, char *k, long long v) {
    struct broker_counts *c = b->counts;
    if (!c && !(c = b->counts = calloc(1, sizeof(*c)))) goto full;
    size_t i = slot(c, k);
    if (c->key[i]) {
        c->by[i] += v;
        free(k);
        return 0;
    }
    if (c->n >= COUNTS_CAP / 2) goto full;
    c->key[i] = k;
    c->by[i] = v;
    c->n++;
    return 0;
full:
    free(k);
    return -1;
}

void broker_counts_flush(broker *b) {
    struct broker_counts *c = b->counts;
    if (!c || !c->n) return;
    const char **field = malloc(c->n * sizeof(*field));
    long long *by = malloc(c->n * sizeof(*by));
    size_t n = 0;
    if (field && by)
        for (size_t i = 0; i < COUNTS_CAP; i++)
            if (c->key[i]) field[n] = c->key[i], by[n++] = c->by[i];
    if (!field || !by) zc_warn("counts_lost", "fields=%zu reason=\"out of memory\"", c->n);
    else if (frontier_spec_counts(&b->fr, field, by, n) != 0)
        zc_warn("counts_lost", "fields=%zu reason=\"%s\"", n, b->fr.err);
    free(field);
    free(by);
    for (size_t i = 0; i < COUNTS_CAP; i++) {
        free(c->key[i]);
        c->key[i] = NULL;
    }
    c->n = 0;
}

void broker_counts_free(broker *b) {
    if (!b->counts) return;
    for (size_t i = 0; i < COUNTS_CAP; i++) free(b->counts->key[i]);
    free(b->counts);
    b->counts = NULL;
}

void broker_on_counts(broker *b, int peer, const zc_msg *m) {
    char *text = broker_frame_dup(m, 0);
    int bad = 0, lost = 0;
    if (!text) {
        broker_bad_message(b, "COUNTS with a NUL byte");
        return;
    }
    if (!broker_guard_admitted(b, peer, ZC_MSG_COUNTS)) goto out;
    for (char *line = text, *next; line && *line && !bad; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *f[6];
        int k = split(line, f, 6);
        /* null PAGE FIELD NULLS SEEN SWAPPED | skip PAGE TEMPLATE PLACEHOLDER SKIPPED TRIED | tried PAGE TEMPLATE SKIPPED TRIED */
        static const counter_add NULLS[] = { { "null", 2, 3 }, { "seen", 2, 4 }, { "swapped", 2, 5 } },
                                 SKIPS[] = { { "skip", 3, 4 } }, TRIED[] = { { "skipped", 2, 3 }, { "tried", 2, 4 } };
        const counter_add *a = NULL;
        int na = 0;
        if (k == 6 && !strcmp(f[0], "null")) a = NULLS, na = 3;
        else if (k == 6 && !strcmp(f[0], "skip")) a = SKIPS, na = 1;
        else if (k == 5 && !strcmp(f[0], "tried")) a = TRIED, na = 2;
        else bad = 1;
        for (int i = 0; i < na && !bad; i++) {
            long long v = num(f[a[i].at]);
            if (v < 0) bad = 1;
            else if (v > 0 || a[i].at == 4) { /* reads and tries count even at 0: they exist */
                char *key_ = key(a[i].kind, f + 1, a[i].nkey);
                lost |= !key_ || add(b, key_, v) != 0;
            }
        }
    }
    if (bad) broker_bad_message(b, "COUNTS with a line that is not a counter");
    if (lost) zc_warn("counts_lost", "reason=\"out of memory or more than %d counters\"", COUNTS_CAP / 2);
out:
    free(text);
}
