/* zc_list.h -- intrusive doubly-linked lists for any struct with prev/next.
 *
 * ZC_LIST_DEFINE(prefix, list_t, item_t) defines prefix_push (append at the tail)
 * and prefix_unlink for a list_t holding `head`, `tail` and a count `n`, whose
 * item_t links through `prev` and `next`. Both run in O(1) and cannot fail; an
 * item must be in at most one list at a time. */
#ifndef ZC_LIST_H
#define ZC_LIST_H

#define ZC_LIST_DEFINE(prefix, list_t, item_t)                 \
    static inline void prefix##_push(list_t *l, item_t *x) {   \
        x->next = NULL;                                        \
        x->prev = l->tail;                                     \
        if (l->tail) l->tail->next = x;                        \
        else l->head = x;                                      \
        l->tail = x;                                           \
        l->n++;                                                \
    }                                                          \
    static inline void prefix##_unlink(list_t *l, item_t *x) { \
        if (x->prev) x->prev->next = x->next;                  \
        else l->head = x->next;                                \
        if (x->next) x->next->prev = x->prev;                  \
        else l->tail = x->prev;                                \
        x->prev = x->next = NULL;                              \
        l->n--;                                                \
    }

#endif
