/* cli_seeds.c -- start URLs from a seeds file, one a line (see cli.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "zc_url.h"

int cli_urls_add(cli_urls *u, const char *url) {
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 64;
        char **v = realloc(u->v, cap * sizeof(*v));
        if (!v) return -1;
        u->v = v;
        u->cap = cap;
    }
    if (!(u->v[u->n] = strdup(url))) return -1;
    u->n++;
    return 0;
}

void cli_urls_free(cli_urls *u) {
    for (size_t i = 0; i < u->n; i++) free(u->v[i]);
    free(u->v);
    memset(u, 0, sizeof(*u));
}

/* Cuts line[0..*len) to its content: no line ending, no surrounding blanks. */
static char *seeds_trim(char *line, ssize_t *len) {
    while (*len > 0 && strchr(" \t\r\n", line[*len - 1])) line[--*len] = '\0';
    while (*line == ' ' || *line == '\t') {
        line++;
        --*len;
    }
    return line;
}

int cli_seeds_read(const char *path, cli_urls *u, char *err, size_t errlen) {
    size_t had = u->n;
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read seeds file %s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        errno = 0;
        ssize_t len = getline(&line, &cap, f);
        if (len < 0) {
            if (errno != 0 || ferror(f)) {
                snprintf(err, errlen, "%s:%ld: read error: %s", path, lineno + 1, strerror(errno ? errno : EIO));
                goto err;
            }
            break;
        }
        lineno++;
        char *s = seeds_trim(line, &len);
        if (len == 0 || s[0] == '#') continue;
        char why[128];
        if ((size_t)len != strlen(s)) {
            snprintf(err, errlen, "%s:%ld: a NUL byte in the line", path, lineno);
            goto err;
        }
        if (zc_url_check(s, (size_t)len, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s:%ld: bad URL '%.80s%s': %s", path, lineno, s, len > 80 ? "..." : "", why);
            goto err;
        }
        if (cli_urls_add(u, s) != 0) {
            snprintf(err, errlen, "%s:%ld: out of memory", path, lineno);
            goto err;
        }
    }
    free(line);
    fclose(f);
    return 0;
err:
    while (u->n > had) free(u->v[--u->n]);
    free(line);
    fclose(f);
    return -1;
}
