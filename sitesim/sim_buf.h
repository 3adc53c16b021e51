/* sim_buf.h -- growable byte buffer with a sticky out-of-memory flag, for HTTP answers.
 *
 * Appends never fail loudly: when memory runs out the buffer sets oom and ignores
 * every later append, so a renderer appends freely and checks oom once at the end. */
#ifndef SIM_BUF_H
#define SIM_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sim_buf {
    char *p; /* owned; NUL-terminated when not NULL */
    size_t len;
    size_t cap;
    int oom; /* set once an allocation failed */
} sim_buf;

void sim_buf_init(sim_buf *b);
/* Frees the storage and re-initializes b. */
void sim_buf_free(sim_buf *b);
/* Empties b (keeps the storage) and clears oom. */
void sim_buf_reset(sim_buf *b);
/* Makes room for extra more bytes (plus a NUL). Returns 0, or -1 (and sets oom). */
int sim_buf_reserve(sim_buf *b, size_t extra);
/* Appends n bytes. Returns 0, or -1 once oom is set. */
int sim_buf_add(sim_buf *b, const void *p, size_t n);
int sim_buf_adds(sim_buf *b, const char *s);
int sim_buf_addc(sim_buf *b, char c);
/* printf-style append. Returns 0, or -1 on oom or a formatting error. */
int sim_buf_addf(sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the decimal form of v. */
int sim_buf_add_u64(sim_buf *b, uint64_t v);
/* Appends s[0..n) as a quoted JSON string (control bytes, '"' and '\\' escaped,
 * other bytes, UTF-8 included, copied as they are). */
int sim_buf_add_jstr(sim_buf *b, const char *s, size_t n);
/* Appends the escaped form of s[0..n) without the quotes (to build a string in parts). */
int sim_buf_add_jesc(sim_buf *b, const char *s, size_t n);
int sim_buf_add_jescs(sim_buf *b, const char *s);
/* Same as sim_buf_add_jstr for a NUL-terminated string; NULL appends null. */
int sim_buf_add_jstrs(sim_buf *b, const char *s);

#endif
