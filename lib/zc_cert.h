/* zc_cert.h -- CURVE certificate files, in ZeroMQ's zcert format (ZPL sections
 * "metadata" and "curve", keys in Z85), and the store of the public keys a
 * server admits (the keys folder's authorized/).
 *
 * A secret file must be readable by its owner only; files are replaced whole
 * (through a temporary file), so a reader never sees half a key. */
#ifndef ZC_CERT_H
#define ZC_CERT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define ZC_CERT_Z85_LEN   40  /* a 32-byte key in Z85, without its terminating NUL */
#define ZC_CERT_STORE_MAX 256 /* public keys a server admits */

/* One admitted public key and its name: its file name without ".key". */
typedef struct zc_cert_key {
    uint8_t key[32];
    char name[32];
} zc_cert_key;

/* The public keys of a folder, NAME.key each. */
typedef struct zc_cert_store {
    zc_cert_key keys[ZC_CERT_STORE_MAX];
    int n;
    char err[PATH_MAX + 128]; /* why it is empty (no folder, no key), "" when not */
} zc_cert_store;

/* Reads a certificate file: its public key, and its secret key when secret is
 * not NULL (then the file must hold one, readable by its owner only). Keys are
 * returned as 32 bytes. Returns 0, or -1 with a one-line reason in err. */
int zc_cert_read(const char *path, uint8_t public_key[32], uint8_t *secret_key, char *err, size_t errlen);

/* Makes a fresh keypair and writes it as path (public, mode 0644) and
 * path_secret (mode 0600), with name in their metadata. Existing files are
 * replaced. Returns 0, or -1 with a reason in err. */
int zc_cert_write(const char *path, const char *name, char *err, size_t errlen);

/* Writes the public certificate of key into path (mode 0644). Returns 0, or -1
 * with a reason in err. */
int zc_cert_write_public(const char *path, const char *name, const uint8_t public_key[32], char *err,
                         size_t errlen);

/* Checks that a key folder can be trusted as sshd's StrictModes does: a folder
 * (symbolic links followed) owned by this user or root and writable by nobody
 * else, or a stranger could add a key that the ZAP handler then admits, or swap
 * a secret. Returns 0, or -1 with a one-line reason in err that names the command
 * that fixes it. A folder that does not exist is no error here (0). */
int zc_cert_dir_check(const char *dir, char *err, size_t errlen);

/* Loads every dir/NAME.key into s (emptied first). A folder that cannot be
 * opened, or holds no key, is no error here (s->n is 0 and s->err says why: a
 * process that binds nothing needs none). Returns 0, or -1 with a reason in err
 * (a file that is no certificate, more than ZC_CERT_STORE_MAX keys). */
int zc_cert_store_load(zc_cert_store *s, const char *dir, char *err, size_t errlen);

#endif
