/* fuzz_url.c -- libFuzzer target for the URL canonicalizer (lib/zc_url.c).
 *
 * Input: the raw bytes are the URL (NUL bytes included: zc_url_canonical takes a
 * length). Every output buffer is malloc'd at its exact size, so a write past
 * outlen is an ASan report. For an accepted URL it checks: the output is
 * NUL-terminated, free of spaces and control bytes, an http(s) URL without a fragment, at most one byte
 * longer than the input (an empty path becomes "/") and shorter than outlen,
 * without credentials or dot segments in its path;
 * canonical(canonical(x)) == canonical(x); the output fits exactly in n + 1
 * bytes and is refused by n; fingerprints are 16 hex digits and equal for equal
 * canonical forms; the host key of x and of canonical(x) agree, and equal the
 * one the broker's Lua reads from x's text. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_url.h"

#define CHECK(c)                                                                     \
    do {                                                                             \
        if (!(c)) {                                                                  \
            fprintf(stderr, "fuzz_url: check failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* canonical() into a buffer of exactly outlen bytes; returns the length or -1
 * and a malloc'd copy of the output in *res (NULL on failure). */
static int canon(const char *url, size_t len, size_t outlen, char **res) {
    char *out = malloc(outlen ? outlen : 1);
    char err[128];
    err[0] = '\0';
    CHECK(out);
    *res = NULL;
    int n = zc_url_canonical(url, len, out, outlen, err, sizeof(err));
    if (n < 0) {
        CHECK(n == -1);
        CHECK(err[0] != '\0' && strlen(err) < sizeof(err));
        free(out);
        return -1;
    }
    CHECK((size_t)n < outlen);
    CHECK(out[n] == '\0' && strlen(out) == (size_t)n);
    *res = out;
    return n;
}

static void check_fp(const char *s, size_t n, char fp[17]) {
    memset(fp, 'x', 17);
    zc_url_fingerprint(s, n, fp);
    CHECK(fp[16] == '\0' && strlen(fp) == 16);
    for (int i = 0; i < 16; i++)
        CHECK((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f'));
}

/* zc_url_host into an exact-size buffer; returns 0/-1 and the key in *res. */
static int host(const char *url, size_t outlen, char **res) {
    char *out = malloc(outlen ? outlen : 1);
    CHECK(out);
    *res = NULL;
    int rc = zc_url_host(url, out, outlen);
    if (rc != 0) {
        CHECK(rc == -1);
        free(out);
        return -1;
    }
    size_t n = strnlen(out, outlen);
    CHECK(n < outlen && n > 2);
    CHECK(strchr(out, ':') != NULL);
    *res = out;
    return 0;
}

/* The host key as the broker's Lua computes it from the URL's text (hostof in
 * broker/lua/_push.lua), for a URL zc_url_canonical accepted: the queue a URL waits
 * in and the cap it is held to must be the same host. Writes it into out. */
static void lua_hostof(const char *u, char *out, size_t outlen) {
    size_t sl = 0;
    while ((u[sl] >= 'a' && u[sl] <= 'z') || (u[sl] >= 'A' && u[sl] <= 'Z')) sl++;
    CHECK(sl > 0 && !strncmp(u + sl, "://", 3));
    const char *a = u + sl + 3;
    size_t al = strcspn(a, "/?#");
    for (size_t i = al; i > 0; i--)
        if (a[i - 1] == '@') {
            al -= i;
            a += i;
            break;
        }
    size_t hl = 0;
    const char *rb = a[0] == '[' ? memchr(a, ']', al) : NULL;
    if (rb) hl = (size_t)(rb - a) + 1;
    else
        while (hl < al && a[hl] != ':') hl++;
    long port = sl == 5 ? 443 : 80;
    if (hl + 1 < al) { /* Lua's tonumber: only digits can reach it here */
        port = 0;
        for (size_t i = hl + 1; i < al; i++) {
            CHECK(a[i] >= '0' && a[i] <= '9');
            if (port < 100000) port = port * 10 + (a[i] - '0');
        }
    }
    CHECK(hl + 8 < outlen);
    for (size_t i = 0; i < hl; i++) out[i] = (char)(a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i]);
    snprintf(out + hl, outlen - hl, ":%ld", port);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *url = (const char *)data;
    char *c1 = NULL, *c2 = NULL, *c3 = NULL, *h1 = NULL, *h2 = NULL;
    char fp1[17], fp2[17];

    /* Fingerprint takes any bytes. */
    check_fp(url, size, fp1);

    /* A tiny outlen (0..7) must be refused, never written past: the shortest
     * canonical URL, "http://h/", needs 10 bytes. */
    CHECK(canon(url, size, size % 8, &c1) == -1);

    int n = canon(url, size, ZC_URL_MAX, &c1);
    /* The NUL-terminated copy for zc_url_host (which takes a C string). */
    char *z = malloc(size + 1);
    CHECK(z);
    memcpy(z, data, size);
    z[size] = '\0';
    int has_nul = memchr(data, '\0', size) != NULL;
    int hr = host(z, ZC_URL_MAX + 8, &h1);

    if (n < 0) goto out; /* refused: nothing more to hold it to */

    /* Shape of the canonical form. */
    CHECK((size_t)n <= size + 1);
    CHECK((size_t)n <= ZC_URL_MAX - 1);
    CHECK(!strncmp(c1, "http://", 7) || !strncmp(c1, "https://", 8));
    CHECK(strchr(c1, '#') == NULL);
    /* No space or control byte (bytes >= 0x80 may pass in path and query). */
    for (int i = 0; i < n; i++) CHECK((unsigned char)c1[i] > 0x20 && (unsigned char)c1[i] != 0x7f);
    const char *hs = strstr(c1, "://") + 3;
    size_t hl = strcspn(hs, "/?");
    for (size_t i = 0; i < hl; i++) CHECK(!(hs[i] >= 'A' && hs[i] <= 'Z'));
    CHECK(hs[hl] == '/'); /* a path always follows the authority */
    CHECK(memchr(hs, '@', hl) == NULL);
    /* No dot segment is left in the path (libcurl removes them). */
    {
        const char *p = hs + hl, *pe = p + strcspn(p, "?");
        while (p < pe) {
            const char *seg = p + 1, *se = seg;
            while (se < pe && *se != '/') se++;
            CHECK(!(se - seg == 1 && seg[0] == '.') && !(se - seg == 2 && seg[0] == '.' && seg[1] == '.'));
            p = se;
        }
    }
    /* The query, if any, has no empty parameter. */
    const char *q = strchr(c1, '?');
    if (q) CHECK(q[1] != '\0' && q[1] != '&' && c1[n - 1] != '&' && strstr(q, "&&") == NULL);

    /* Idempotence. */
    int n2 = canon(c1, (size_t)n, ZC_URL_MAX, &c2);
    if (n2 < 0 || n2 != n || memcmp(c1, c2, (size_t)n) != 0) {
        fprintf(stderr, "fuzz_url: not idempotent:\n  in:  %.*s\n  c1:  %s\n  c2:  %s\n",
                (int)size, url, c1, c2 ? c2 : "(rejected)");
        abort();
    }

    /* It fits in exactly n + 1 bytes, with the same result, and not in n. */
    CHECK(canon(url, size, (size_t)n + 1, &c3) == n);
    CHECK(memcmp(c1, c3, (size_t)n + 1) == 0);
    free(c3);
    c3 = NULL;
    CHECK(canon(url, size, (size_t)n, &c3) == -1);

    /* Equal canonical forms, equal fingerprints. */
    check_fp(c1, (size_t)n, fp1);
    check_fp(c2, (size_t)n2, fp2);
    CHECK(memcmp(fp1, fp2, 17) == 0);

    /* The host key: defined for every accepted URL and unchanged by canonicalizing. */
    CHECK(host(c1, ZC_URL_MAX + 8, &h2) == 0);
    if (!has_nul) {
        CHECK(hr == 0);
        CHECK(strcmp(h1, h2) == 0);
        char lh[ZC_URL_MAX + 8];
        lua_hostof(z, lh, sizeof(lh));
        if (strcmp(lh, h1) != 0) {
            fprintf(stderr, "fuzz_url: host keys differ: %s (Lua) %s (zc_url_host) for %.200s\n", lh, h1, z);
            abort();
        }
    }
    /* An exact-size buffer works, one byte less does not. */
    {
        size_t need = strlen(h2) + 1;
        char *h3 = NULL;
        int r3 = host(c1, need, &h3);
        /* zc_url_host asks for host_len + 8 (room for ":65535"), so an exact fit
         * may be refused, but it must never overflow and must agree when it works. */
        if (r3 == 0) CHECK(strcmp(h3, h2) == 0);
        free(h3);
        h3 = NULL;
        CHECK(host(c1, need - 1, &h3) == -1);
    }

out:
    free(c1);
    free(c2);
    free(c3);
    free(h1);
    free(h2);
    free(z);
    return 0;
}
