/* zc_proof.h -- proof of lease: a MAC the broker issues with each JOB url, keyed by
 * the crawl secret, that parsers and writers check before they parse or write.
 *
 * The crawl secret (32 random bytes, one line of 64 hex digits in a file such as
 * the keys folder's crawl.secret) is held by the broker, parsers and writers, never
 * by fetchers. For a URL leased at attempt A the broker sends the proof
 * "A:" followed by the first 16 bytes of HMAC-SHA256(secret, url "\n" A) in hex;
 * the fetcher echoes it with the PAGE and the parser puts it on each DOC. A
 * fetcher therefore cannot make a proof for a URL it was not handed
 * (docs/PROTOCOL.md, "Proof of lease"). HMAC-SHA256 is libsodium's (libzmq's own
 * dependency): no further library. */
#ifndef ZC_PROOF_H
#define ZC_PROOF_H

#include <stddef.h>

#include <sodium.h>

#define ZC_PROOF_KEY_BYTES 32
#define ZC_PROOF_MAC_BYTES 16
/* A proof as text, NUL included: up to 10 digits of attempt, ':', 32 hex digits. */
#define ZC_PROOF_MAX 48

/* Set by the flag below (and its variable); the stages that hold the secret read it. */
extern const char *zc_proof_opt_secret_file;

/* The flag of the stages that hold the crawl secret (broker, parser, writer). */
#define ZC_PROOF_FLAGS                                                                                            \
    { "secret-file", "ZCRAWL_SECRET_FILE", ZC_FLAG_STR, &zc_proof_opt_secret_file,                                \
      "the crawl secret (zcrawl keygen's crawl.secret): JOBs carry proofs of lease made with it and pages and "   \
      "documents without a valid one are dropped; none: no proof is made or checked (never give it to fetchers)", \
      0, 0 }

/* A loaded crawl secret; on is 0 when there is none (nothing made or checked). */
typedef struct zc_proof_key {
    int on;
    crypto_auth_hmacsha256_state keyed; /* HMAC state after the key: copied for each MAC */
} zc_proof_key;

/* What a check found. */
typedef enum {
    ZC_PROOF_OK = 0,
    ZC_PROOF_MISSING,   /* no proof (an empty frame, or an older message without one) */
    ZC_PROOF_MALFORMED, /* not "ATTEMPT:32 hex digits" */
    ZC_PROOF_MISMATCH   /* well formed, but not this URL's under this secret */
} zc_proof_verdict;

/* Sets key from the 32-byte secret. Returns 0, or -1 when libsodium cannot start. */
int zc_proof_key_set(zc_proof_key *key, const unsigned char secret[ZC_PROOF_KEY_BYTES]);

/* Loads the secret file at path (one line of 64 hex digits) into key; path NULL or
 * "" leaves key off and returns 0. Returns 0, or -1 with a one-line reason in err
 * naming the flag and the path (never the content): unreadable, open to group or
 * others (as a CURVE secret key is refused), not 64 hex digits. */
int zc_proof_load(zc_proof_key *key, const char *path, char *err, size_t errlen);

/* The secret file a stage of the broker's side uses: file when given, else the
 * keys folder's crawl.secret when keys (--keys) is given and that file exists
 * (written into buf), else NULL (no proof made or checked). */
const char *zc_proof_secret_path(const char *file, const char *keys, char *buf, size_t buflen);

/* Writes a fresh secret (64 hex digits, mode 0600) to path, replacing what is there
 * only when force. Returns 1 when written, 0 when kept, -1 with a reason in err. */
int zc_proof_write_new(const char *path, int force, char *err, size_t errlen);

/* Writes url's proof at attempt into out (NUL-terminated). Returns its length.
 * Cannot fail; key must be on. */
size_t zc_proof_make(const zc_proof_key *key, const char *url, size_t ulen, unsigned attempt,
                     char out[ZC_PROOF_MAX]);

/* Checks proof (plen bytes, not NUL-terminated) against url in constant time.
 * Returns ZC_PROOF_OK, or what is wrong with it. key must be on. */
zc_proof_verdict zc_proof_check(const zc_proof_key *key, const char *url, size_t ulen, const char *proof,
                                size_t plen);

/* "ok", "missing", "malformed" or "mismatch". */
const char *zc_proof_verdict_name(zc_proof_verdict v);

#endif
