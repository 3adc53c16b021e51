/* cli_seeds.c -- start URLs from a seeds file, one a line, and the identity of a
 * crawl that starts from them (see cli.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "zc_hash.h"
#include "zc_redact.h"
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

/* path made absolute against the working folder (not resolved: it may not exist
 * yet) into out. Returns 0, or -1 when the working folder cannot be read. */
static int absolute(const char *path, char *out, size_t outlen) {
    char cwd[4096];
    if (path[0] == '/') return cli_fmt(out, outlen, "%s", path) == 0 ? 0 : -1;
    if (!getcwd(cwd, sizeof(cwd))) return -1;
    if (path[0] == '.' && path[1] == '/') path += 2;
    return cli_fmt(out, outlen, "%s/%s", cwd, path) == 0 ? 0 : -1;
}

int cli_identity(cli_conf *c, const cli_urls *starts) {
    char sink[1100], seeds[1100] = "", hash[64] = "";
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < starts->n; i++) {
        /* Each URL and its end: a list of two is not the one URL of their sum. */
        h = (h ^ zc_fnv1a(starts->v[i], strlen(starts->v[i]) + 1)) * 0x100000001b3ULL;
    }
    if (starts->n > 1) snprintf(hash, sizeof(hash), " (+%zu, all %016llx)", starts->n - 1, (unsigned long long)h);
    if (c->mongo) {
        char shown[1024];
        snprintf(sink, sizeof(sink), "mongo %s", zc_redact_uri(shown, sizeof(shown), c->mongo));
    } else if (absolute(c->out, sink + 4, sizeof(sink) - 4) != 0) {
        return -1;
    } else {
        memcpy(sink, "out ", 4);
    }
    if (c->seeds) {
        memcpy(seeds, ", seeds ", 8);
        if (absolute(c->seeds, seeds + 8, sizeof(seeds) - 8) != 0) return -1;
    }
    /* Cut to its field's size when longer: the hash keeps lists apart, the first URL is shown. */
    int n = snprintf(c->identity, sizeof(c->identity), "start %.300s%s%s, spec %.300s, %s",
                     starts->n ? starts->v[0] : "(none)", hash, seeds, c->spec ? c->spec : "built-in", sink);
    return n < 0 ? -1 : 0;
}
