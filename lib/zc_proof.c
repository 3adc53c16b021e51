/* zc_proof.c -- proof of lease: HMAC-SHA256 over a URL and its attempt, truncated. */
#include "zc_proof.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "zc_hex.h"
#include "zc_secret.h"

const char *zc_proof_opt_secret_file = NULL;

int zc_proof_key_set(zc_proof_key *key, const unsigned char secret[ZC_PROOF_KEY_BYTES]) {
    memset(key, 0, sizeof(*key));
    if (sodium_init() < 0) return -1;
    if (crypto_auth_hmacsha256_init(&key->keyed, secret, ZC_PROOF_KEY_BYTES) != 0) return -1;
    key->on = 1;
    return 0;
}

const char *zc_proof_secret_path(const char *file, const char *keys, char *buf, size_t buflen) {
    if (file && *file) return file;
    if (!keys || !*keys || (size_t)snprintf(buf, buflen, "%s/crawl.secret", keys) >= buflen) return NULL;
    return access(buf, F_OK) == 0 ? buf : NULL;
}

int zc_proof_load(zc_proof_key *key, const char *path, char *err, size_t errlen) {
    char line[ZC_PROOF_KEY_BYTES * 2 + 2];
    unsigned char raw[ZC_PROOF_KEY_BYTES];
    int rc = -1;
    memset(key, 0, sizeof(*key));
    if (!path || !*path) return 0;
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077)) {
        snprintf(err, errlen, "--secret-file %s is readable by others (mode %03o): chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        return -1;
    }
    if (zc_secret_read("--secret-file", path, line, sizeof(line), err, errlen) != 0) {
        if (strstr(err, "too long"))
            snprintf(err, errlen, "--secret-file %s: not a crawl secret (one line of %d hex digits, as zcrawl keygen "
                                  "writes)",
                     path, ZC_PROOF_KEY_BYTES * 2);
        return -1;
    }
    if (strlen(line) != ZC_PROOF_KEY_BYTES * 2) goto bad;
    for (size_t i = 0; i < ZC_PROOF_KEY_BYTES; i++) {
        int hi = zc_hexval(line[2 * i]), lo = zc_hexval(line[2 * i + 1]);
        if (hi < 0 || lo < 0) goto bad;
        raw[i] = (unsigned char)(hi << 4 | lo);
    }
    if (zc_proof_key_set(key, raw) != 0) {
        snprintf(err, errlen, "--secret-file %s: libsodium failed to start", path);
        goto out;
    }
    rc = 0;
    goto out;
bad:
    snprintf(err, errlen, "--secret-file %s: not a crawl secret (one line of %d hex digits, as zcrawl keygen writes)",
             path, ZC_PROOF_KEY_BYTES * 2);
out:
    sodium_memzero(line, sizeof(line));
    sodium_memzero(raw, sizeof(raw));
    return rc;
}

int zc_proof_write_new(const char *path, int force, char *err, size_t errlen) {
    return zc_secret_write_random(path, ZC_PROOF_KEY_BYTES, force, err, errlen);
}

/* The MAC of url "\n" attempt (the decimal digits a[0..alen)). */
static void mac(const zc_proof_key *key, const char *url, size_t ulen, const char *a, size_t alen,
                unsigned char out[ZC_PROOF_MAC_BYTES]) {
    crypto_auth_hmacsha256_state st = key->keyed;
    unsigned char full[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)url, ulen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)a, alen);
    crypto_auth_hmacsha256_final(&st, full);
    memcpy(out, full, ZC_PROOF_MAC_BYTES);
    sodium_memzero(&st, sizeof(st));
}

size_t zc_proof_make(const zc_proof_key *key, const char *url, size_t ulen, unsigned attempt,
                     char out[ZC_PROOF_MAX]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char m[ZC_PROOF_MAC_BYTES];
    int alen = snprintf(out, ZC_PROOF_MAX, "%u", attempt);
    mac(key, url, ulen, out, (size_t)alen, m);
    char *p = out + alen;
    *p++ = ':';
    for (size_t i = 0; i < ZC_PROOF_MAC_BYTES; i++) {
        *p++ = hex[m[i] >> 4];
        *p++ = hex[m[i] & 15];
    }
    *p = '\0';
    return (size_t)(p - out);
}

zc_proof_verdict zc_proof_check(const zc_proof_key *key, const char *url, size_t ulen, const char *proof,
                                size_t plen) {
    unsigned char got[ZC_PROOF_MAC_BYTES], want[ZC_PROOF_MAC_BYTES];
    if (plen == 0) return ZC_PROOF_MISSING;
    const char *colon = memchr(proof, ':', plen);
    size_t alen = colon ? (size_t)(colon - proof) : 0;
    if (!colon || alen == 0 || alen > 10 || plen - alen - 1 != ZC_PROOF_MAC_BYTES * 2) return ZC_PROOF_MALFORMED;
    for (size_t i = 0; i < alen; i++)
        if (proof[i] < '0' || proof[i] > '9') return ZC_PROOF_MALFORMED;
    const char *h = colon + 1;
    for (size_t i = 0; i < ZC_PROOF_MAC_BYTES; i++) {
        int hi = zc_hexval(h[2 * i]), lo = zc_hexval(h[2 * i + 1]);
        if (hi < 0 || lo < 0) return ZC_PROOF_MALFORMED;
        got[i] = (unsigned char)(hi << 4 | lo);
    }
    mac(key, url, ulen, proof, alen, want);
    return sodium_memcmp(got, want, ZC_PROOF_MAC_BYTES) == 0 ? ZC_PROOF_OK : ZC_PROOF_MISMATCH;
}

const char *zc_proof_verdict_name(zc_proof_verdict v) {
    switch (v) {
    case ZC_PROOF_OK: return "ok";
    case ZC_PROOF_MISSING: return "missing";
    case ZC_PROOF_MALFORMED: return "malformed";
    case ZC_PROOF_MISMATCH: return "mismatch";
    }
    return "unknown";
}
