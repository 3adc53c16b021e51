/* zc_curve.c -- CURVE on every link: the keys a process uses, server and client
 * sockets, and the secure-or-explicit rule (zc_curve.h). */
#include "zc_curve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "zc_cert.h"
#include "zc_endpoint_list.h"
#include "zc_zap.h"

#define ALL_ROLES "fetcher,parser,writer"
#define ROLE_MAX  16

const char *zc_curve_opt_keys = NULL;
int zc_curve_opt_insecure = 0;

/* The process's keys: written by zc_curve_setup and the main thread's first
 * connects, before the ZAP thread starts; only read by it afterwards. */
static struct {
    int enabled, insecure;
    char dir[PATH_MAX];
    char role[ROLE_MAX];
    uint8_t pub[32], sec[32];
    zc_cert_key servers[4]; /* public keys of the roles connected to */
    int nservers;
    zc_cert_store auth; /* admitted clients (authorized/) */
} C;

int zc_curve_enabled(void) { return C.enabled; }

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
    zc_cert_key *k = &C.servers[C.nservers];
    if (zc_cert_read(path, k->key, NULL, err, errlen) != 0) return NULL;
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
    if (bind && C.auth.n == 0) {
        snprintf(err, errlen, "%s", C.auth.err);
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
        char auth[PATH_MAX + 16];
        snprintf(auth, sizeof(auth), "%s/authorized", C.dir);
        if (zc_cert_dir_check(C.dir, err, errlen) != 0 || zc_cert_dir_check(auth, err, errlen) != 0) return -1;
        /* systemd's LoadCredential= hands the secret over in a folder of its own. */
        char path[PATH_MAX + 64];
        const char *cred = getenv("CREDENTIALS_DIRECTORY");
        snprintf(path, sizeof(path), "%s/%s.key_secret", cred ? cred : "", role);
        if (!cred || !*cred || access(path, F_OK) != 0)
            snprintf(path, sizeof(path), "%s/%s.key_secret", C.dir, role);
        if (zc_cert_read(path, C.pub, C.sec, err, errlen) != 0) return -1;
        if (zc_cert_store_load(&C.auth, auth, err, errlen) != 0) return -1;
        C.enabled = 1;
        if (!strcmp(role, "broker") && C.auth.n == 0) {
            snprintf(err, errlen, "%s", C.auth.err);
            return -1;
        }
    }
    for (int i = 0; specs && specs[i]; i++) {
        if (!*specs[i]) continue;
        if (zc_endpoint_foreach(specs[i], setup_one, NULL, err, errlen) != 0) return -1;
    }
    return 0;
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
        if (zc_zap_start(ctx, &C.auth, err, errlen) != 0 || zc_zap_watch(ctx, sock, err, errlen) != 0) return -1;
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
