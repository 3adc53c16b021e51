/* zc_secret.c -- passwords in files: read one, or make a new one. */
#include "zc_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int zc_secret_read(const char *what, const char *path, char *out, size_t outlen, char *err, size_t errlen) {
    char line[512];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    line[n] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    size_t len = strlen(line);
    const char *why = bad ? "cannot read it" : (!len ? "empty" : (len >= outlen ? "password too long" : NULL));
    memset(out, 0, outlen);
    if (why) {
        snprintf(err, errlen, "%s %s: %s", what, path, why);
        memset(line, 0, sizeof(line));
        return -1;
    }
    memcpy(out, line, len);
    memset(line, 0, sizeof(line));
    return 0;
}

int zc_secret_write_new(const char *path, int force, char *err, size_t errlen) {
    return zc_secret_write_random(path, 24, force, err, errlen);
}

int zc_secret_write_random(const char *path, size_t nbytes, int force, char *err, size_t errlen) {
    unsigned char raw[ZC_SECRET_RANDOM_MAX];
    char hex[sizeof(raw) * 2 + 2];
    if (nbytes == 0 || nbytes > sizeof(raw)) {
        snprintf(err, errlen, "%s: %zu random bytes asked, at most %zu", path, nbytes, sizeof(raw));
        return -1;
    }
    if (!force && access(path, F_OK) == 0) return 0;
    if (getrandom(raw, nbytes, 0) != (ssize_t)nbytes) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < nbytes; i++) snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    hex[nbytes * 2] = '\n';
    hex[nbytes * 2 + 1] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = strlen(hex);
    int bad = fchmod(fd, 0600) != 0 || write(fd, hex, n) != (ssize_t)n || fsync(fd) != 0;
    if (close(fd) != 0) bad = 1;
    memset(hex, 0, sizeof(hex));
    memset(raw, 0, sizeof(raw));
    if (bad) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 1;
}
