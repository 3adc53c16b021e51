/* sim_heap.h -- binary min-heap of timers by deadline, with O(log n) removal.
 *
 * The heap stores pointers to sim_timer structs that the caller embeds in its own
 * objects and owns; a timer knows its slot, so it can be removed from anywhere. */
#ifndef SIM_HEAP_H
#define SIM_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define SIM_TIMER_IDLE ((size_t)-1)

typedef struct sim_timer {
    int64_t when; /* deadline, zc_now_ms() clock */
    size_t idx;   /* slot in the heap, or SIM_TIMER_IDLE when not queued */
} sim_timer;

typedef struct sim_heap {
    sim_timer **v;
    size_t n, cap;
} sim_heap;

void sim_heap_init(sim_heap *h);
/* Frees the slot array (not the timers). */
void sim_heap_free(sim_heap *h);
/* Sets a timer idle; call once before its first use. */
void sim_timer_init(sim_timer *t);
/* Queues t (not already queued) by t->when. Returns 0, or -1 when out of memory. */
int sim_heap_push(sim_heap *h, sim_timer *t);
/* The earliest timer, or NULL when empty. */
sim_timer *sim_heap_top(const sim_heap *h);
/* Removes and returns the earliest timer (now idle), or NULL when empty. */
sim_timer *sim_heap_pop(sim_heap *h);
/* Removes t if it is queued; no-op otherwise. */
void sim_heap_remove(sim_heap *h, sim_timer *t);

#endif
