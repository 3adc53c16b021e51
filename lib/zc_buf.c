/* zc_buf.c -- a growable byte buffer. */
#include "zc_buf.h"

#include <stdlib.h>
#include <string.h>

#define ZC_BUF_MIN 4096

int zc_buf_reserve(zc_buf *b, size_t need) {
    if (need <= b->cap - b->len) return 0;
    size_t cap = b->cap ? b->cap : ZC_BUF_MIN;
    while (cap - b->len < need) {
        if (cap > ((size_t)-1) / 2) return -1;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int zc_buf_add(zc_buf *b, const char *s, size_t n, char sep) {
    int with_sep = sep && b->len > 0;
    if (zc_buf_reserve(b, n + (size_t)with_sep) != 0) return -1;
    if (with_sep) b->p[b->len++] = sep;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

void zc_buf_free(zc_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
