/* cli_argv.c -- bounded formatting that reports truncation, and argv building
 * with a sticky out-of-memory error (see cli.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_fmt(char *buf, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Appends s, which the argv now owns (NULL: out of memory, made sticky). */
static void cli_argv_take(cli_argv *a, char *s) {
    if (!s || a->oom) goto oom;
    if (a->n + 2 > a->cap) {
        int cap = a->cap ? a->cap * 2 : 32;
        char **v = realloc(a->v, (size_t)cap * sizeof(*v));
        if (!v) goto oom;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
    return;
oom:
    free(s);
    a->oom = 1;
}

void cli_argv_add(cli_argv *a, const char *s) { cli_argv_take(a, strdup(s)); }

void cli_argv_addf(cli_argv *a, const char *fmt, ...) {
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    cli_argv_take(a, n < 0 ? NULL : s);
}

void cli_argv_flag(cli_argv *a, const char *flag, const char *value) {
    cli_argv_add(a, flag);
    cli_argv_add(a, value);
}

void cli_argv_flagl(cli_argv *a, const char *flag, long value) {
    cli_argv_add(a, flag);
    cli_argv_addf(a, "%ld", value);
}

int cli_argv_ok(const cli_argv *a) { return !a->oom && a->n > 0; }

void cli_argv_reset(cli_argv *a) {
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    a->n = 0;
    a->oom = 0;
    if (a->v) a->v[0] = NULL;
}

void cli_argv_free(cli_argv *a) {
    cli_argv_reset(a);
    free(a->v);
    memset(a, 0, sizeof(*a));
}
