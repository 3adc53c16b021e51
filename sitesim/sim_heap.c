/* sim_heap.c -- binary min-heap of timers by deadline, with O(log n) removal. */
#include "sim_heap.h"

#include <stdlib.h>

void sim_heap_init(sim_heap *h) {
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
}

void sim_heap_free(sim_heap *h) {
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->idx = SIM_TIMER_IDLE;
    free(h->v);
    sim_heap_init(h);
}

void sim_timer_init(sim_timer *t) {
    t->when = 0;
    t->idx = SIM_TIMER_IDLE;
}

static void place(sim_heap *h, size_t i, sim_timer *t) {
    h->v[i] = t;
    t->idx = i;
}

static void sift_up(sim_heap *h, size_t i) {
    sim_timer *t = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p]->when <= t->when)
            break;
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, t);
}

static void sift_down(sim_heap *h, size_t i) {
    sim_timer *t = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->when < h->v[c]->when)
            c++;
        if (t->when <= h->v[c]->when)
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

int sim_heap_push(sim_heap *h, sim_timer *t) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        sim_timer **v = realloc(h->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    place(h, h->n++, t);
    sift_up(h, h->n - 1);
    return 0;
}

sim_timer *sim_heap_top(const sim_heap *h) {
    return h->n ? h->v[0] : NULL;
}

void sim_heap_remove(sim_heap *h, sim_timer *t) {
    size_t i = t->idx;
    if (i == SIM_TIMER_IDLE || i >= h->n || h->v[i] != t)
        return;
    t->idx = SIM_TIMER_IDLE;
    h->n--;
    if (i == h->n)
        return;
    place(h, i, h->v[h->n]);
    if (i > 0 && h->v[(i - 1) / 2]->when > h->v[i]->when)
        sift_up(h, i);
    else
        sift_down(h, i);
}

sim_timer *sim_heap_pop(sim_heap *h) {
    sim_timer *t = sim_heap_top(h);
    if (t)
        sim_heap_remove(h, t);
    return t;
}
