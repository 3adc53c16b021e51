/* zc_buf.h -- a growable byte buffer: batches of URLs, rendered JSON lines. */
#ifndef ZC_BUF_H
#define ZC_BUF_H

#include <stddef.h>

/* Zero-initialise it; free p when done (zc_buf_free). */
typedef struct zc_buf {
    char *p;
    size_t len, cap;
} zc_buf;

/* Makes room for need more bytes after len. Returns 0, or -1 when out of memory
 * (the buffer is unchanged then). */
int zc_buf_reserve(zc_buf *b, size_t need);
/* Appends n bytes, preceded by sep when sep is not 0 and the buffer is not empty.
 * Returns 0, or -1 when out of memory. */
int zc_buf_add(zc_buf *b, const char *s, size_t n, char sep);
void zc_buf_free(zc_buf *b);

#endif
