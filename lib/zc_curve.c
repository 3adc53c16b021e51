/* zc_curve.c -- CURVE keys, server and client sockets, and the ZAP handler. */
#include "zc_curve.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "zc_endpoint.h"
#include "zc_log.h"
#include "zc_time.h"

#define ZAP_ENDPOINT     "inproc://zeromq.zap.01" /* fixed by ZeroMQ's RFC 27 */
#define ALL_ROLES        "fetcher,parser,writer"
#define ZAP_CTL          "inproc://zc-curve-ctl" /* monitor endpoints to watch */
#define AUTH_MAX         256                     /* public keys a server admits */
#define CERT_MAX         16384                   /* bytes of a certificate file */
#define ROLE_MAX         16
#define ZAP_LOG_EVERY_MS 1000

const char *zc_curve_opt_keys = NULL;
int zc_curve_opt_insecure = 0;

typedef struct curve_key {
    uint8_t key[32];
    char name[ROLE_MAX * 2];
} curve_key;

/* The process's keys: written by zc_curve_setup and the main thread's first
 * connects, before the ZAP thread starts; only read by it afterwards. */
static struct {
    int enabled, insecure;
    char dir[PATH_MAX];
    char role[ROLE_MAX];
    uint8_t pub[32], sec[32];
    curve_key servers[4]; /* public keys of the roles connected to */
    int nservers;
    curve_key auth[AUTH_MAX]; /* admitted clients */
    int nauth;
    char auth_err[PATH_MAX + 128];
    void *zap_ctx;
} C;

static atomic_int zap_running;
static atomic_ullong zap_refused;

int zc_curve_enabled(void) { return C.enabled; }

uint64_t zc_curve_refused(void) { return (uint64_t)atomic_load(&zap_refused); }

/* ---- certificate files (the zcert format: ZPL sections "metadata" and "curve") ---- */

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
        char z85[ZC_CURVE_Z85_LEN + 1];
        size_t len;
        if (*p == '"') {
            const char *q = strchr(p + 1, '"');
            if (!q) return -1;
            len = (size_t)(q - p - 1);
            p++;
        } else {
            len = strcspn(p, " \t\r\n");
        }
        if (len != ZC_CURVE_Z85_LEN) return -1;
        memcpy(z85, p, len);
        z85[len] = '\0';
        int ok = zmq_z85_decode(key, z85) != NULL;
        explicit_bzero(z85, sizeof(z85));
        return ok ? 1 : -1;
    }
    return 0;
}

int zc_curve_cert_read(const char *path, uint8_t public_key[32], uint8_t *secret_key, char *err,
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
        char z_sec[ZC_CURVE_Z85_LEN + 1], z_pub[ZC_CURVE_Z85_LEN + 1], z_derived[ZC_CURVE_Z85_LEN + 1];
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

int zc_curve_cert_write_public(const char *path, const char *name, const uint8_t public_key[32],
                               char *err, size_t errlen) {
    char z_pub[ZC_CURVE_Z85_LEN + 1], text[1024];
    if (!zmq_z85_encode(z_pub, public_key, 32) || cert_format(text, sizeof(text), name, z_pub, NULL) != 0) {
        snprintf(err, errlen, "cannot format the certificate %s", path);
        return -1;
    }
    return file_write(path, text, 0644, err, errlen);
}

int zc_curve_cert_write(const char *path, const char *name, char *err, size_t errlen) {
    char z_pub[ZC_CURVE_Z85_LEN + 1], z_sec[ZC_CURVE_Z85_LEN + 1], text[1024], spath[PATH_MAX];
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

/* ---- the keys folder ---- */

/* Loads every DIR/authorized/NAME.key as an admitted client called NAME. A
 * missing folder is no error here (a stage that binds nothing needs none): it
 * is reported when a server socket is made. */
static int load_authorized(char *err, size_t errlen) {
    char path[PATH_MAX + 300];
    snprintf(path, sizeof(path), "%s/authorized", C.dir);
    DIR *d = opendir(path);
    if (!d) {
        snprintf(C.auth_err, sizeof(C.auth_err), "cannot open %.4000s (the public keys this server admits): %s",
                 path, strerror(errno));
        return 0;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n < 5 || strcmp(e->d_name + n - 4, ".key") != 0) continue;
        if (C.nauth == AUTH_MAX) {
            snprintf(err, errlen, "%s holds more than %d keys", path, AUTH_MAX);
            rc = -1;
            break;
        }
        char file[PATH_MAX + 600];
        snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
        curve_key *k = &C.auth[C.nauth];
        if (zc_curve_cert_read(file, k->key, NULL, err, errlen) != 0) {
            rc = -1;
            break;
        }
        snprintf(k->name, sizeof(k->name), "%.*s", (int)(n - 4 < sizeof(k->name) - 1 ? n - 4 : sizeof(k->name) - 1),
                 e->d_name);
        C.nauth++;
    }
    closedir(d);
    if (rc == 0 && C.nauth == 0)
        snprintf(C.auth_err, sizeof(C.auth_err), "%.4000s holds no public key (NAME.key): nothing could connect", path);
    return rc;
}

/* The public key a client expects of server (NULL: the broker). Returns it, or
 * NULL with a reason in err. */
static const uint8_t *server_key(const char *server, char *err, size_t errlen) {
    if (!server || !*server) server = "broker";
    if (!strcmp(server, C.role)) return C.pub;
    for (int i = 0; i < C.nservers; i++)
        if (!strcmp(C.servers[i].name, server)) return C.servers[i].key;
    if (C.nservers == (int)(sizeof(C.servers) / sizeof(C.servers[0]))) {
        snprintf(err, errlen, "too many server roles");
        return NULL;
    }
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s.key", C.dir, server);
    curve_key *k = &C.servers[C.nservers];
    if (zc_curve_cert_read(path, k->key, NULL, err, errlen) != 0) return NULL;
    snprintf(k->name, sizeof(k->name), "%s", server);
    C.nservers++;
    return k->key;
}

/* ---- the secure-or-explicit rule ---- */

int zc_curve_endpoint_local(const char *ep) {
    if (!strncmp(ep, "inproc://", 9) || !strncmp(ep, "ipc://", 6)) return 1;
    if (strncmp(ep, "tcp://", 6) != 0) return 0;
    const char *a = ep + 6, *semi = strrchr(a, ';');
    if (semi) a = semi + 1; /* "tcp://source;destination": the destination counts */
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a) return 0;
    char host[128];
    size_t n = (size_t)(colon - a);
    if (n >= sizeof(host)) return 0;
    memcpy(host, a, n);
    host[n] = '\0';
    if (host[0] == '[' && n >= 2 && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    if (!strcmp(host, "localhost") || !strcmp(host, "lo")) return 1;
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, host, &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&v6)) return 1;
        return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
    }
    return 0;
}

/* Without keys, only local endpoints unless --insecure. */
static int policy_check(const char *ep, char *err, size_t errlen) {
    if (C.enabled || C.insecure || zc_curve_endpoint_local(ep)) return 0;
    snprintf(err, errlen, "%s is not a loopback endpoint and no keys were given: use --keys DIR "
                          "(make them with `zcrawl keygen DIR`), or --insecure to run unauthenticated and unencrypted",
             ep);
    return -1;
}

static int setup_one(const char *ep, int bind, const char *server, void *arg, char *err, size_t errlen) {
    (void)arg;
    if (policy_check(ep, err, errlen) != 0) return -1;
    if (!C.enabled) return 0;
    if (bind && C.nauth == 0) {
        snprintf(err, errlen, "%s", C.auth_err);
        return -1;
    }
    return server_key(*server ? server : NULL, err, errlen) ? 0 : -1;
}

int zc_curve_setup(const char *role, const char *const *specs, char *err, size_t errlen) {
    memset(&C, 0, sizeof(C));
    C.insecure = zc_curve_opt_insecure;
    if (snprintf(C.role, sizeof(C.role), "%s", role) >= (int)sizeof(C.role)) {
        snprintf(err, errlen, "role name too long");
        return -1;
    }
    if (zc_curve_opt_keys && *zc_curve_opt_keys) {
        if (!zmq_has("curve")) {
            snprintf(err, errlen, "--keys: this libzmq has no CURVE support");
            return -1;
        }
        if (snprintf(C.dir, sizeof(C.dir), "%s", zc_curve_opt_keys) >= (int)sizeof(C.dir)) {
            snprintf(err, errlen, "--keys: path too long");
            return -1;
        }
        struct stat st;
        if (stat(C.dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "--keys %s: not a folder (make one with `zcrawl keygen DIR`)", C.dir);
            return -1;
        }
        /* systemd's LoadCredential= hands the secret over in a folder of its own. */
        char path[PATH_MAX + 64];
        const char *cred = getenv("CREDENTIALS_DIRECTORY");
        snprintf(path, sizeof(path), "%s/%s.key_secret", cred ? cred : "", role);
        if (!cred || !*cred || access(path, F_OK) != 0)
            snprintf(path, sizeof(path), "%s/%s.key_secret", C.dir, role);
        if (zc_curve_cert_read(path, C.pub, C.sec, err, errlen) != 0) return -1;
        if (load_authorized(err, errlen) != 0) return -1;
        C.enabled = 1;
        if (!strcmp(role, "broker") && C.nauth == 0) {
            snprintf(err, errlen, "%s", C.auth_err);
            return -1;
        }
    }
    for (int i = 0; specs && specs[i]; i++) {
        if (!*specs[i]) continue;
        if (zc_endpoint_foreach(specs[i], setup_one, NULL, err, errlen) != 0) return -1;
    }
    return 0;
}

/* ---- ZAP handler (ZeroMQ RFC 27): one thread per process, on its context ---- */

static int zap_send(void *s, const char *frame, size_t len, int more) {
    return zmq_send(s, frame, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/* Rate-limited logging of refusals: at most one line a second, with the count of
 * the lines left out since the last one. Only the ZAP thread calls it. */
typedef struct zap_log {
    int64_t last;
    unsigned long long quiet;
} zap_log;

static void refusal(zap_log *lg, const char *event, const char *fmt_tail, const char *a, const char *b,
                    const char *why) {
    unsigned long long total = atomic_fetch_add(&zap_refused, 1) + 1;
    int64_t now = zc_now_ms();
    if (now - lg->last < ZAP_LOG_EVERY_MS) {
        lg->quiet++;
        return;
    }
    char qa[160], qb[80];
    zc_warn(event, fmt_tail, zc_log_q(qa, sizeof(qa), a), zc_log_q(qb, sizeof(qb), b), why, total, lg->quiet);
    lg->last = now;
    lg->quiet = 0;
}

/* Nonzero when the role of the key called name (up to its first '-' or '.')
 * is one of the comma-separated roles in domain[0..dlen). */
static int role_admitted(const char *name, const char *domain, size_t dlen) {
    size_t rl = strcspn(name, "-.");
    const char *p = domain, *end = domain + dlen;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (n == rl && memcmp(p, name, rl) == 0) return 1;
        p += n + 1;
    }
    return 0;
}

/* Judges one request (frames f[0..n)) and answers it. Returns -1 when the
 * socket failed (the context is ending). */
static int zap_handle(void *s, zmq_msg_t *f, int n, zap_log *lg) {
    const char *status = "400", *text = "key not authorized", *user = "";
    int ok = 0;
    if (n < 6 || zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0) {
        status = "500";
        text = "bad ZAP request";
    } else if (zmq_msg_size(&f[5]) == 5 && !memcmp(zmq_msg_data(&f[5]), "CURVE", 5) && n >= 7 &&
               zmq_msg_size(&f[6]) == 32) {
        const uint8_t *key = zmq_msg_data(&f[6]);
        for (int i = 0; i < C.nauth; i++) {
            if (memcmp(C.auth[i].key, key, 32) != 0) continue;
            if (!role_admitted(C.auth[i].name, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]))) {
                text = "key's role not admitted on this endpoint";
                break;
            }
            ok = 1;
            status = "200";
            text = "OK";
            user = C.auth[i].name;
            break;
        }
    } else {
        text = "CURVE only";
    }
    if (!ok) {
        char addr[64] = "", key[ZC_CURVE_Z85_LEN + 1] = "-";
        if (n >= 4) {
            size_t al = zmq_msg_size(&f[3]) < sizeof(addr) - 1 ? zmq_msg_size(&f[3]) : sizeof(addr) - 1;
            memcpy(addr, zmq_msg_data(&f[3]), al);
            addr[al] = '\0';
        }
        if (n >= 7 && zmq_msg_size(&f[6]) == 32 && !zmq_z85_encode(key, zmq_msg_data(&f[6]), 32))
            snprintf(key, sizeof(key), "-");
        refusal(lg, "auth_refused", "address=%s key=%s reason=\"%s\" refused=%llu suppressed=%llu", addr, key,
                text);
    }
    if (n < 2) return 0; /* nothing to answer to: libzmq never sends this */
    if (zap_send(s, "1.0", 3, 1) != 0 ||
        zap_send(s, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), 1) != 0 ||
        zap_send(s, status, 3, 1) != 0 || zap_send(s, text, strlen(text), 1) != 0 ||
        zap_send(s, user, strlen(user), 1) != 0 || zap_send(s, "", 0, 0) != 0)
        return -1;
    return 0;
}

/* Reads every frame of one message into f[0..8) (the rest are dropped). Returns
 * the number of frames, or -1 when the socket failed. */
static int recv_frames(void *s, zmq_msg_t *f) {
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        if (zmq_msg_init(&m) != 0) goto err;
        if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (errno == EINTR) continue;
            if (errno == EAGAIN && n == 0) return 0;
            goto err;
        }
        more = zmq_msg_more(&m);
        if (n < 8) f[n++] = m;
        else zmq_msg_close(&m);
    }
    return n;
err:
    for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
    return -1;
}

/* ---- handshakes that failed before ZAP ---- */

static atomic_ullong hs_refused;
static pthread_mutex_t hs_log_lock = PTHREAD_MUTEX_INITIALIZER;
static zap_log hs_log; /* under hs_log_lock: the ZAP thread and a socket's own monitor share it */

uint64_t zc_curve_handshakes_refused(void) { return (uint64_t)atomic_load(&hs_refused); }

/* What a failed handshake's event value most likely means, for the log. */
static const char *handshake_detail(unsigned event, uint32_t value) {
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) return "handshake not completed (peer hung up or junk)";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) return "no CURVE (mechanism mismatch)";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC) return "cryptographic error: not this server's key?";
    return "protocol error";
}

void zc_curve_handshake_event(unsigned event, uint32_t value, const char *endpoint) {
    /* ZMQ_EVENT_HANDSHAKE_FAILED_AUTH is a refusal the ZAP handler counted and
     * logged already, with the key and the address: it is not counted twice. */
    if (event != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && event != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) return;
    unsigned long long total = atomic_fetch_add(&hs_refused, 1) + 1;
    int64_t now = zc_now_ms();
    unsigned long long quiet = 0;
    int say = 0;
    if (pthread_mutex_lock(&hs_log_lock) != 0) return; /* counted; the line is only lost */
    if (now - hs_log.last < ZAP_LOG_EVERY_MS) {
        hs_log.quiet++;
    } else {
        say = 1;
        quiet = hs_log.quiet;
        hs_log.last = now;
        hs_log.quiet = 0;
    }
    pthread_mutex_unlock(&hs_log_lock);
    if (!say) return;
    char qe[160], code[32];
    int protocol = event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
    if (protocol) snprintf(code, sizeof(code), "code=0x%08x", (unsigned)value); /* a ZMQ_PROTOCOL_ERROR_* */
    else snprintf(code, sizeof(code), "errno=%u", (unsigned)value);
    zc_warn("handshake_refused", "endpoint=%s reason=%s detail=\"%s\" %s refused=%llu suppressed=%llu",
            zc_log_q(qe, sizeof(qe), endpoint ? endpoint : ""), protocol ? "protocol" : "other",
            handshake_detail(event, value), code, total, quiet);
}

/* One event of a server socket's monitor, read by the ZAP thread: frame 0 holds
 * the 16-bit event and its 32-bit value, frame 1 the endpoint. */
static void monitor_event(zmq_msg_t *f, int n) {
    if (n < 2 || zmq_msg_size(&f[0]) != 6) return;
    uint16_t ev;
    uint32_t value;
    memcpy(&ev, zmq_msg_data(&f[0]), sizeof(ev));
    memcpy(&value, (const char *)zmq_msg_data(&f[0]) + 2, sizeof(value));
    char ep[128];
    size_t el = zmq_msg_size(&f[1]) < sizeof(ep) - 1 ? zmq_msg_size(&f[1]) : sizeof(ep) - 1;
    memcpy(ep, zmq_msg_data(&f[1]), el);
    ep[el] = '\0';
    zc_curve_handshake_event(ev, value, ep);
}

#define ZAP_MONITORS 16

/* The ZAP thread: answers ZAP requests on socks[0], takes the names of monitor
 * endpoints on socks[1] (one per server socket) and watches them. */
static void *zap_main(void *arg) {
    void **start = arg;
    void *socks[2 + ZAP_MONITORS] = { start[0], start[1] };
    void *ctx = start[2];
    free(start);
    int ns = 2;
    zap_log lg = { 0, 0 };
    for (;;) {
        zmq_pollitem_t items[2 + ZAP_MONITORS];
        for (int i = 0; i < ns; i++) items[i] = (zmq_pollitem_t){ socks[i], 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(items, ns, -1) < 0) {
            if (errno == EINTR) continue;
            break; /* ETERM: the context is ending */
        }
        int failed = 0, polled = ns; /* a monitor added below is polled next turn */
        for (int i = 0; i < polled && !failed; i++) {
            if (!(items[i].revents & ZMQ_POLLIN)) continue;
            zmq_msg_t f[8];
            int n = recv_frames(socks[i], f);
            if (n < 0) {
                failed = 1;
                break;
            }
            if (i == 0 && n > 0) {
                failed = zap_handle(socks[0], f, n, &lg) != 0;
            } else if (i == 1 && n > 0 && ns < 2 + ZAP_MONITORS) {
                char ep[64];
                size_t el = zmq_msg_size(&f[0]) < sizeof(ep) - 1 ? zmq_msg_size(&f[0]) : sizeof(ep) - 1;
                memcpy(ep, zmq_msg_data(&f[0]), el);
                ep[el] = '\0';
                void *m = zmq_socket(ctx, ZMQ_PAIR);
                int linger = 0;
                if (m && zmq_setsockopt(m, ZMQ_LINGER, &linger, sizeof(linger)) == 0 && zmq_connect(m, ep) == 0) {
                    socks[ns++] = m;
                    zc_debug("handshake_watch", "monitor=%s", ep);
                } else {
                    zc_warn("monitor_failed", "endpoint=%s reason=\"%s\"", ep, zmq_strerror(errno));
                    if (m) zmq_close(m);
                }
            } else if (i >= 2 && n > 0) {
                monitor_event(f, n);
            }
            for (int k = 0; k < n; k++) zmq_msg_close(&f[k]);
        }
        if (failed) break;
    }
    for (int i = 0; i < ns; i++) zmq_close(socks[i]);
    atomic_store(&zap_running, 0);
    return NULL;
}

/* Starts the ZAP handler on ctx once. Returns 0, or -1 with a reason in err. */
static int zap_start(void *ctx, char *err, size_t errlen) {
    if (atomic_load(&zap_running)) {
        if (C.zap_ctx == ctx) return 0;
        snprintf(err, errlen, "a ZAP handler already runs on another ZeroMQ context");
        return -1;
    }
    if (C.nauth == 0) {
        snprintf(err, errlen, "%s", C.auth_err);
        return -1;
    }
    void **start = calloc(3, sizeof(*start));
    void *rep = zmq_socket(ctx, ZMQ_REP), *ctl = zmq_socket(ctx, ZMQ_PULL);
    int linger = 0, rc = 0;
    if (!start || !rep || !ctl) {
        snprintf(err, errlen, "cannot start the ZAP handler: %s", start ? zmq_strerror(errno) : "out of memory");
        goto err;
    }
    if (zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof(linger)) != 0 || zmq_bind(rep, ZAP_ENDPOINT) != 0 ||
        zmq_setsockopt(ctl, ZMQ_LINGER, &linger, sizeof(linger)) != 0 || zmq_bind(ctl, ZAP_CTL) != 0) {
        snprintf(err, errlen, "cannot start the ZAP handler: %s", zmq_strerror(errno));
        goto err;
    }
    start[0] = rep;
    start[1] = ctl;
    start[2] = ctx;
    /* Signals stay with the main thread, whose poll they must interrupt. */
    sigset_t all, old;
    pthread_attr_t attr;
    pthread_t t;
    sigfillset(&all);
    rc = pthread_attr_init(&attr);
    if (rc == 0) {
        rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (rc == 0) rc = pthread_sigmask(SIG_BLOCK, &all, &old);
        if (rc == 0) {
            atomic_store(&zap_running, 1);
            rc = pthread_create(&t, &attr, zap_main, start);
            if (rc != 0) atomic_store(&zap_running, 0);
            int mrc = pthread_sigmask(SIG_SETMASK, &old, NULL);
            if (rc == 0 && mrc != 0) zc_warn("sigmask_failed", "reason=\"%s\"", strerror(mrc));
        }
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the ZAP handler: %s", strerror(rc));
        goto err;
    }
    C.zap_ctx = ctx;
    return 0;
err:
    if (rep) zmq_close(rep);
    if (ctl) zmq_close(ctl);
    free(start);
    return -1;
}

/* Watches sock's failed handshakes from the ZAP thread: a monitor endpoint of its
 * own, whose name goes to the thread (a later monitor on sock replaces it, see
 * ZC_CURVE_MONITOR_EVENTS). Returns 0, or -1 with a reason in err. */
static int zap_watch(void *ctx, void *sock, char *err, size_t errlen) {
    static atomic_int seq;
    char mon[64];
    snprintf(mon, sizeof(mon), "inproc://zc-curve-monitor-%d", atomic_fetch_add(&seq, 1));
    if (zmq_socket_monitor(sock, mon, ZC_CURVE_MONITOR_EVENTS) != 0) {
        snprintf(err, errlen, "zmq_socket_monitor: %s", zmq_strerror(errno));
        return -1;
    }
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 1000, ok = push && zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof(linger)) == 0 && zmq_connect(push, ZAP_CTL) == 0 && zmq_send(push, mon, strlen(mon), 0) >= 0;
    if (!ok) snprintf(err, errlen, "cannot watch handshakes: %s", zmq_strerror(errno));
    if (push) zmq_close(push);
    return ok ? 0 : -1;
}

/* ---- sockets ---- */

/* The roles that talk to a socket of type bound by a process of this role. */
static const char *peers_for(int type) {
    if (!strcmp(C.role, "parser")) return type == ZMQ_PULL ? "fetcher" : (type == ZMQ_PUSH ? "writer" : ALL_ROLES);
    if (!strcmp(C.role, "writer") && type == ZMQ_PULL) return "parser";
    if (!strcmp(C.role, "fetcher") && type == ZMQ_PUSH) return "parser";
    return ALL_ROLES;
}

int zc_curve_bind(void *ctx, void *sock, const char *ep, const char *peers, char *err, size_t errlen) {
    if (policy_check(ep, err, errlen) != 0) return -1;
    if (C.enabled) {
        int one = 1, type = 0;
        size_t tl = sizeof(type);
        if (!peers && zmq_getsockopt(sock, ZMQ_TYPE, &type, &tl) != 0) {
            snprintf(err, errlen, "zmq_getsockopt(ZMQ_TYPE): %s", zmq_strerror(errno));
            return -1;
        }
        /* The ZAP domain carries the roles admitted here to the handler. */
        if (!peers) peers = peers_for(type);
        if (zap_start(ctx, err, errlen) != 0 || zap_watch(ctx, sock, err, errlen) != 0) return -1;
        if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, C.sec, 32) != 0 ||
            zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, peers, strlen(peers)) != 0) {
            snprintf(err, errlen, "cannot make %s a CURVE server: %s", ep, zmq_strerror(errno));
            return -1;
        }
    }
    if (zmq_bind(sock, ep) != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", ep, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int zc_curve_connect(void *sock, const char *ep, const char *server, char *err, size_t errlen) {
    if (policy_check(ep, err, errlen) != 0) return -1;
    if (C.enabled) {
        const uint8_t *sk = server_key(server, err, errlen);
        if (!sk) return -1;
        if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, sk, 32) != 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, C.pub, 32) != 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, C.sec, 32) != 0) {
            snprintf(err, errlen, "cannot make the socket to %s a CURVE client: %s", ep, zmq_strerror(errno));
            return -1;
        }
    }
    if (zmq_connect(sock, ep) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", ep, zmq_strerror(errno));
        return -1;
    }
    return 0;
}
