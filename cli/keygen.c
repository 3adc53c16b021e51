/* keygen.c -- zcrawl keygen: CURVE keys for a deployment, and fresh ones for zcrawl run. */
#include "keygen.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zc_cert.h"
#include "zc_curve.h"
#include "zc_flags.h"
#include "zc_proof.h"
#include "zc_secret.h"

static const char *const KEYGEN_ROLES[] = { "broker", "fetcher", "parser", "writer", NULL };

static int make_dir(const char *dir, int mode, char *err, size_t errlen) {
    if (mkdir(dir, (mode_t)mode) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a folder", dir);
        return -1;
    }
    /* An existing folder (or the one a symbolic link names) is reused only when
     * no one else could have put or will put a key in it. */
    return zc_cert_dir_check(dir, err, errlen);
}

int keygen_write(const char *dir, int dir_mode, int force, char *err, size_t errlen) {
    char path[PATH_MAX], auth[PATH_MAX], apath[PATH_MAX];
    if (make_dir(dir, dir_mode, err, errlen) != 0) return -1;
    if ((size_t)snprintf(path, sizeof(path), "%s/broker.key", dir) >= sizeof(path)) {
        snprintf(err, errlen, "path too long: %s", dir);
        return -1;
    }
    if (!force && access(path, F_OK) == 0) {
        snprintf(err, errlen, "%s already holds keys: --force replaces them (then every stage needs the new ones)",
                 dir);
        return -1;
    }
    if ((size_t)snprintf(auth, sizeof(auth), "%s/authorized", dir) >= sizeof(auth) - 32) {
        snprintf(err, errlen, "path too long: %s", dir);
        return -1;
    }
    if (make_dir(auth, 0755, err, errlen) != 0) return -1;
    for (int i = 0; KEYGEN_ROLES[i]; i++) {
        const char *role = KEYGEN_ROLES[i];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s.key", dir, role) >= sizeof(path) ||
            (size_t)snprintf(apath, sizeof(apath), "%s/%s.key", auth, role) >= sizeof(apath)) {
            snprintf(err, errlen, "path too long: %s", dir);
            return -1;
        }
        if (zc_cert_write(path, role, err, errlen) != 0) return -1;
        /* The broker is a server only: no one needs to admit its key. */
        if (!strcmp(role, "broker")) {
            if (unlink(apath) != 0 && errno != ENOENT) {
                snprintf(err, errlen, "cannot remove %s: %s", apath, strerror(errno));
                return -1;
            }
            continue;
        }
        uint8_t pub[32];
        if (zc_cert_read(path, pub, NULL, err, errlen) != 0 ||
            zc_cert_write_public(apath, role, pub, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* The passwords a deployment needs beside its keys, each in a file of its own. */
static const char *const KEYGEN_PASSWORDS[] = { "redis.password", "mongo.password", "metrics.password", NULL };

int keygen_passwords(const char *dir, int force, char *err, size_t errlen) {
    char path[PATH_MAX];
    for (int i = 0; KEYGEN_PASSWORDS[i]; i++) {
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, KEYGEN_PASSWORDS[i]) >= sizeof(path)) {
            snprintf(err, errlen, "path too long: %s", dir);
            return -1;
        }
        if (zc_secret_write_new(path, force, err, errlen) < 0) return -1;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, KEYGEN_CRAWL_SECRET) >= sizeof(path)) {
        snprintf(err, errlen, "path too long: %s", dir);
        return -1;
    }
    return zc_proof_write_new(path, force, err, errlen) < 0 ? -1 : 0;
}

int cmd_keygen(int argc, char **argv) {
    int force = 0, npos = 0;
    argc--; /* argv[1] is "keygen": its flags follow */
    argv++;
    const zc_flag flags[] = {
        { "force", NULL, ZC_FLAG_BOOL, &force, "replace the keys already in DIR", 0, 0 },
        ZC_FLAGS_END,
    };
    zc_flags_parse_or_exit(flags, argc, argv, &npos, "zcrawl keygen", "[--force] DIR",
                           "Writes CURVE keys for a zcrawl deployment into DIR (ZeroMQ certificate files):\n"
                           "  broker.key, broker.key_secret      the broker's keypair\n"
                           "  ROLE.key, ROLE.key_secret          one keypair per stage role (fetcher, parser, writer)\n"
                           "  authorized/ROLE.key                public keys servers admit (their ZAP handler)\n"
                           "  redis.password, mongo.password      the deployment's Redis and MongoDB passwords\n"
                           "  metrics.password                    the broker's status page and /metrics (user zcrawl)\n"
                           "  crawl.secret                        proofs of lease: broker, parsers and writers only,\n"
                           "                                      never fetchers (--secret-file, docs/PROTOCOL.md)\n"
                           "Secrets are mode 0600; passwords already there are kept unless --force. Give every\n"
                           "process --keys DIR (or ZCRAWL_KEYS): each needs broker.key, its own ROLE.key_secret\n"
                           "and, when it binds, authorized/ (deploy/README.md).");
    if (npos != 1) {
        fprintf(stderr, "zcrawl keygen: error: give one folder (zcrawl keygen DIR)\n");
        return 2;
    }
    char err[512];
    if (keygen_write(argv[1], 0755, force, err, sizeof(err)) != 0 ||
        keygen_passwords(argv[1], force, err, sizeof(err)) != 0) {
        fprintf(stderr, "zcrawl keygen: error: %s\n", err);
        return 2;
    }
    printf("keys written to %s: broker.key{,_secret}, fetcher.key{,_secret}, parser.key{,_secret}, "
           "writer.key{,_secret}, authorized/{fetcher,parser,writer}.key; passwords: redis.password, "
           "mongo.password, metrics.password; crawl.secret (broker, parsers, writers only)\n",
           argv[1]);
    return 0;
}

/* The crawl secret of a run with keys in dir: dir's crawl.secret when it has one,
 * else a fresh one in logdir (the keys folder may be read-only or shared). Its
 * absolute path goes to secret. Returns 0, or -1 with a reason in err. */
static int secret_for_run(const char *dir, const char *logdir, char *secret, size_t secretlen, char *err,
                          size_t errlen) {
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, KEYGEN_CRAWL_SECRET) >= sizeof(path)) {
        snprintf(err, errlen, "path too long: %s", dir);
        return -1;
    }
    if (access(path, F_OK) != 0) {
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", logdir, KEYGEN_CRAWL_SECRET) >= sizeof(path)) {
            snprintf(err, errlen, "path too long: %s", logdir);
            return -1;
        }
        if (zc_proof_write_new(path, 1, err, errlen) < 0) return -1;
    }
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if ((size_t)snprintf(secret, secretlen, "%s", abs) >= secretlen) {
        snprintf(err, errlen, "%s: path too long", abs);
        return -1;
    }
    return 0;
}

int keygen_for_run(const char *logdir, char *secret, size_t secretlen, char *err, size_t errlen) {
    char dir[PATH_MAX], abs[PATH_MAX];
    const char *keys = zc_curve_opt_keys;
    secret[0] = '\0';
    if (keys && *keys) {
        snprintf(dir, sizeof(dir), "%s", keys);
    } else if (zc_curve_opt_insecure) {
        if (unsetenv("ZCRAWL_KEYS") != 0) {
            snprintf(err, errlen, "unsetenv: %s", strerror(errno));
            return -1;
        }
        return 0;
    } else {
        if ((size_t)snprintf(dir, sizeof(dir), "%s/keys", logdir) >= sizeof(dir)) {
            snprintf(err, errlen, "path too long: %s/keys", logdir);
            return -1;
        }
        if (keygen_write(dir, 0700, 1, err, errlen) != 0) return -1;
    }
    if (secret_for_run(dir, logdir, secret, secretlen, err, errlen) != 0) return -1;
    /* Stages may not share the launcher's working directory forever. */
    if (!realpath(dir, abs)) {
        snprintf(err, errlen, "--keys %s: %s", dir, strerror(errno));
        return -1;
    }
    if (setenv("ZCRAWL_KEYS", abs, 1) != 0) {
        snprintf(err, errlen, "setenv: %s", strerror(errno));
        return -1;
    }
    return 0;
}
