/* sim_buf.c -- growable byte buffer with a sticky out-of-memory flag, for HTTP answers. */
#include "sim_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_json.h"

void sim_buf_init(sim_buf *b) {
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = 0;
}

void sim_buf_free(sim_buf *b) {
    free(b->p);
    sim_buf_init(b);
}

void sim_buf_reset(sim_buf *b) {
    b->len = 0;
    b->oom = 0;
    if (b->p)
        b->p[0] = '\0';
}

int sim_buf_reserve(sim_buf *b, size_t extra) {
    if (b->oom)
        return -1;
    if (extra > ((size_t)-1) / 2 - b->len) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int sim_buf_add(sim_buf *b, const void *p, size_t n) {
    if (sim_buf_reserve(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int sim_buf_adds(sim_buf *b, const char *s) {
    return sim_buf_add(b, s, strlen(s));
}

int sim_buf_addc(sim_buf *b, char c) {
    return sim_buf_add(b, &c, 1);
}

int sim_buf_addf(sim_buf *b, const char *fmt, ...) {
    if (sim_buf_reserve(b, 64) != 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return -1;
    }
    if ((size_t)n >= b->cap - b->len) {
        if (sim_buf_reserve(b, (size_t)n) != 0)
            return -1;
        va_start(ap, fmt);
        int m = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (m != n) {
            b->oom = 1;
            return -1;
        }
    }
    b->len += (size_t)n;
    return 0;
}

int sim_buf_add_u64(sim_buf *b, uint64_t v) {
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return sim_buf_add(b, tmp + i, sizeof tmp - i);
}

int sim_buf_add_jesc(sim_buf *b, const char *s, size_t n) {
    /* Worst case every byte becomes \u00XX. */
    if (n > ((size_t)-1) / 8 || sim_buf_reserve(b, ZC_JSON_ESCAPED_MAX(n)) != 0)
        return -1;
    b->len += zc_json_escape(b->p + b->len, s, n);
    b->p[b->len] = '\0';
    return 0;
}

int sim_buf_add_jescs(sim_buf *b, const char *s) {
    return sim_buf_add_jesc(b, s, strlen(s));
}

int sim_buf_add_jstr(sim_buf *b, const char *s, size_t n) {
    if (sim_buf_addc(b, '"') != 0 || sim_buf_add_jesc(b, s, n) != 0)
        return -1;
    return sim_buf_addc(b, '"');
}

int sim_buf_add_jstrs(sim_buf *b, const char *s) {
    if (s == NULL)
        return sim_buf_add(b, "null", 4);
    return sim_buf_add_jstr(b, s, strlen(s));
}
