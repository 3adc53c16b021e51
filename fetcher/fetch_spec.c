/* fetch_spec.c -- a crawl spec's request headers, and the origins they may go to. */
#include "fetch_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_headers.h"

/* Adds every URL of the comma-separated list to s as an origin. Returns the number
 * added, or -1 with a reason in err. */
static int add_origins(zc_scope *s, const char *list, char *err, size_t errlen) {
    int n = 0;
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        char url[2048], why[256];
        if (len >= sizeof(url)) {
            snprintf(err, errlen, "--spec-origins: a URL longer than %zu bytes", sizeof(url) - 1);
            return -1;
        }
        memcpy(url, p, len);
        url[len] = '\0';
        if (len && zc_scope_add_origin(s, url, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "--spec-origins: '%.200s': %s", url, why);
            return -1;
        }
        n += len > 0;
        p += len + (p[len] == ',');
    }
    return n;
}

int fetch_spec_load(fetch_spec *fs, const char *path, const char *origins, char *err, size_t errlen) {
    zc_headers h = { 0 };
    memset(fs, 0, sizeof(*fs));
    if (zc_headers_load(path, &h, err, errlen) != 0) return -1;
    if (!(fs->origins = zc_scope_new())) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    int n = add_origins(fs->origins, origins, err, errlen);
    if (n < 0) goto err;
    if (n == 0 && h.n > 0) {
        snprintf(err, errlen, "--spec %s has headers: --spec-origins must name the crawl's origins (its start URLs)",
                 path);
        goto err;
    }
    if (zc_headers_slist(&h, &fs->lines) != 0) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    fs->n = h.n;
    zc_headers_describe(&h, fs->shown, sizeof(fs->shown));
    zc_headers_free(&h);
    return 0;
err:
    zc_headers_free(&h);
    fetch_spec_free(fs);
    return -1;
}

struct curl_slist *fetch_spec_for(const fetch_spec *fs, const char *url) {
    if (!fs || !fs->lines || !zc_scope_allows(fs->origins, url)) return NULL;
    return fs->lines;
}

void fetch_spec_free(fetch_spec *fs) {
    for (struct curl_slist *l = fs->lines; l; l = l->next)
        if (l->data) explicit_bzero(l->data, strlen(l->data));
    curl_slist_free_all(fs->lines);
    zc_scope_free(fs->origins);
    memset(fs, 0, sizeof(*fs));
}
