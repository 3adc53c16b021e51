/* zc_secret.h -- a password read from a file (a Docker secret, a systemd
 * credential, a file `zcrawl keygen` wrote), so it never stands on a command line
 * or in the environment. */
#ifndef ZC_SECRET_H
#define ZC_SECRET_H

#include <stddef.h>

/* Reads the first line of path (without its line end) into out. Returns 0, or -1
 * with a one-line reason in err (naming what, e.g. the flag or variable, and the
 * path, never the content) when the file cannot be read, is empty, or its line
 * does not fit in outlen. */
int zc_secret_read(const char *what, const char *path, char *out, size_t outlen, char *err, size_t errlen);

/* Writes a fresh random password (48 hex digits) to path, mode 0600, replacing
 * what is there only when force. Returns 1 when written, 0 when it existed and
 * was kept, or -1 with a one-line reason in err. */
int zc_secret_write_new(const char *path, int force, char *err, size_t errlen);

/* The most random bytes zc_secret_write_random writes. */
#define ZC_SECRET_RANDOM_MAX 64

/* The same with nbytes random bytes (1..ZC_SECRET_RANDOM_MAX; 2 * nbytes hex
 * digits): the crawl secret is 32 (zc_proof.h). Same returns. */
int zc_secret_write_random(const char *path, size_t nbytes, int force, char *err, size_t errlen);

#endif
