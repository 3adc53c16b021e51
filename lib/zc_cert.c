/* zc_cert.c -- CURVE certificate files and the store of admitted keys (zc_cert.h). */
#include "zc_cert.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#define CERT_MAX 16384 /* bytes of a certificate file */

/* Reads path into buf (NUL-terminated). A secret file must be a regular file that
 * only its owner can read. Returns 0, or -1 with a reason in err. */
static int file_read(const char *path, char *buf, size_t cap, int secret, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        goto err;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        goto err;
    }
    if (secret && (st.st_mode & 077)) {
        snprintf(err, errlen, "%s holds a secret key but is readable by others (mode %03o): chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
        goto err;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            goto err;
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n == cap - 1) {
            snprintf(err, errlen, "%s is larger than %zu bytes: not a certificate", path, cap - 1);
            goto err;
        }
    }
    buf[n] = '\0';
    close(fd);
    return 0;
err:
    close(fd);
    return -1;
}

/* Finds `name = "value"` in the curve section of text and decodes value (Z85)
 * into key. Returns 1 when found and valid, 0 when absent, -1 when malformed. */
static int cert_field(const char *text, const char *name, uint8_t key[32]) {
    int in_curve = 0;
    size_t nl = strlen(name);
    for (const char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) next++;
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0') continue;
        if (p == line) { /* a section name */
            in_curve = strncmp(p, "curve", 5) == 0 && (p[5] == '\n' || p[5] == '\r' || p[5] == '\0' || p[5] == ' ' || p[5] == '\t');
            continue;
        }
        if (!in_curve || strncmp(p, name, nl) != 0) continue;
        p += nl;
        while (*p == ' ' || *p == '\t') p++;
        if (*p != '=') continue;
        p++;
        while (*p == ' ' || *p == '\t') p++;
        char z85[ZC_CERT_Z85_LEN + 1];
        size_t len;
        if (*p == '"') {
            const char *q = strchr(p + 1, '"');
            if (!q) return -1;
            len = (size_t)(q - p - 1);
            p++;
        } else {
            len = strcspn(p, " \t\r\n");
        }
        if (len != ZC_CERT_Z85_LEN) return -1;
        memcpy(z85, p, len);
        z85[len] = '\0';
        int ok = zmq_z85_decode(key, z85) != NULL;
        explicit_bzero(z85, sizeof(z85));
        return ok ? 1 : -1;
    }
    return 0;
}

int zc_cert_read(const char *path, uint8_t public_key[32], uint8_t *secret_key, char *err,
                 size_t errlen) {
    char *text = malloc(CERT_MAX);
    int rc = -1;
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (file_read(path, text, CERT_MAX, secret_key != NULL, err, errlen) != 0) goto out;
    if (cert_field(text, "public-key", public_key) != 1) {
        snprintf(err, errlen, "%s has no valid curve public-key (a ZeroMQ certificate, see zcrawl keygen)", path);
        goto out;
    }
    if (secret_key) {
        if (cert_field(text, "secret-key", secret_key) != 1) {
            snprintf(err, errlen, "%s has no valid curve secret-key (a ZeroMQ secret certificate)", path);
            goto out;
        }
        char z_sec[ZC_CERT_Z85_LEN + 1], z_pub[ZC_CERT_Z85_LEN + 1], z_derived[ZC_CERT_Z85_LEN + 1];
        int ok = zmq_z85_encode(z_sec, secret_key, 32) && zmq_z85_encode(z_pub, public_key, 32) &&
                 zmq_curve_public(z_derived, z_sec) == 0 && strcmp(z_pub, z_derived) == 0;
        explicit_bzero(z_sec, sizeof(z_sec));
        if (!ok) {
            snprintf(err, errlen, "%s: its public-key is not the one of its secret-key", path);
            goto out;
        }
    }
    rc = 0;
out:
    explicit_bzero(text, CERT_MAX);
    free(text);
    return rc;
}

/* Writes text into path with mode, replacing it through a temporary file so that
 * a reader never sees half a key and a secret never has a looser mode. */
static int file_write(const char *path, const char *text, mode_t mode, char *err, size_t errlen) {
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        snprintf(err, errlen, "path too long: %s", path);
        return -1;
    }
    if (unlink(tmp) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove %s: %s", tmp, strerror(errno));
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            goto err;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot finish %s: %s", tmp, strerror(errno));
        goto err;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "cannot close %s: %s", tmp, strerror(errno));
        goto err;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto err;
    }
    return 0;
err:
    if (fd >= 0) close(fd);
    unlink(tmp);
    return -1;
}

static int cert_format(char *buf, size_t cap, const char *name, const char *z_pub, const char *z_sec) {
    int n = snprintf(buf, cap,
                     "#   ****  Generated by zcrawl keygen  ****\n"
                     "#   ZeroMQ CURVE %s Certificate\n"
                     "#   %s\n"
                     "\n"
                     "metadata\n"
                     "    name = \"%s\"\n"
                     "curve\n"
                     "    public-key = \"%s\"\n"
                     "%s%s%s",
                     z_sec ? "**Secret**" : "Public",
                     z_sec ? "DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."
                           : "Exchange securely, or use a secure mechanism to verify the contents of this file.",
                     name, z_pub, z_sec ? "    secret-key = \"" : "", z_sec ? z_sec : "", z_sec ? "\"\n" : "");
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int zc_cert_write_public(const char *path, const char *name, const uint8_t public_key[32],
                         char *err, size_t errlen) {
    char z_pub[ZC_CERT_Z85_LEN + 1], text[1024];
    if (!zmq_z85_encode(z_pub, public_key, 32) || cert_format(text, sizeof(text), name, z_pub, NULL) != 0) {
        snprintf(err, errlen, "cannot format the certificate %s", path);
        return -1;
    }
    return file_write(path, text, 0644, err, errlen);
}

int zc_cert_write(const char *path, const char *name, char *err, size_t errlen) {
    char z_pub[ZC_CERT_Z85_LEN + 1], z_sec[ZC_CERT_Z85_LEN + 1], text[1024], spath[PATH_MAX];
    int rc = -1;
    if ((size_t)snprintf(spath, sizeof(spath), "%s_secret", path) >= sizeof(spath)) {
        snprintf(err, errlen, "path too long: %s", path);
        return -1;
    }
    if (zmq_curve_keypair(z_pub, z_sec) != 0) {
        snprintf(err, errlen, "zmq_curve_keypair: %s (libzmq without CURVE?)", zmq_strerror(errno));
        return -1;
    }
    if (cert_format(text, sizeof(text), name, z_pub, z_sec) != 0) {
        snprintf(err, errlen, "cannot format the certificate %s", spath);
        goto out;
    }
    if (file_write(spath, text, 0600, err, errlen) != 0) goto out;
    if (cert_format(text, sizeof(text), name, z_pub, NULL) != 0) {
        snprintf(err, errlen, "cannot format the certificate %s", path);
        goto out;
    }
    rc = file_write(path, text, 0644, err, errlen);
out:
    explicit_bzero(z_sec, sizeof(z_sec));
    explicit_bzero(text, sizeof(text));
    return rc;
}

int zc_cert_dir_check(const char *dir, char *err, size_t errlen) {
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "cannot stat %.4000s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%.4000s is not a folder", dir);
        return -1;
    }
    uid_t me = geteuid();
    if (st.st_uid != me && st.st_uid != 0) {
        snprintf(err, errlen, "%.4000s belongs to uid %u, not to this user (uid %u) or root: its keys cannot be trusted "
                              "(chown -R %u %.4000s)",
                 dir, (unsigned)st.st_uid, (unsigned)me, (unsigned)me, dir);
        return -1;
    }
    if (st.st_mode & 022) {
        snprintf(err, errlen, "%.4000s is writable by %s (mode %03o): anyone could add a key (chmod go-w %.4000s)", dir,
                 (st.st_mode & 002) ? "everyone" : "its group", (unsigned)(st.st_mode & 0777), dir);
        return -1;
    }
    return 0;
}

int zc_cert_store_load(zc_cert_store *s, const char *dir, char *err, size_t errlen) {
    memset(s, 0, sizeof(*s));
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(s->err, sizeof(s->err), "cannot open %.4000s (the public keys this server admits): %s", dir,
                 strerror(errno));
        return 0;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n < 5 || strcmp(e->d_name + n - 4, ".key") != 0) continue;
        if (s->n == ZC_CERT_STORE_MAX) {
            snprintf(err, errlen, "%s holds more than %d keys", dir, ZC_CERT_STORE_MAX);
            rc = -1;
            break;
        }
        char file[PATH_MAX + 600];
        snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
        zc_cert_key *k = &s->keys[s->n];
        if (zc_cert_read(file, k->key, NULL, err, errlen) != 0) {
            rc = -1;
            break;
        }
        snprintf(k->name, sizeof(k->name), "%.*s", (int)(n - 4 < sizeof(k->name) - 1 ? n - 4 : sizeof(k->name) - 1),
                 e->d_name);
        s->n++;
    }
    closedir(d);
    if (rc == 0 && s->n == 0)
        snprintf(s->err, sizeof(s->err), "%.4000s holds no public key (NAME.key): nothing could connect", dir);
    return rc;
}
