/* zc_curve.h -- CURVE on every ZeroMQ link: keys from a folder, server and client
 * sockets judged by the ZAP handler (zc_zap.h), and the rule that a stage
 * without keys stays on loopback unless it is told --insecure.
 *
 * The keys folder (`zcrawl keygen DIR`) holds ZeroMQ certificate files (the
 * zcert format): ROLE.key (public) and ROLE.key_secret (public and secret) for
 * the broker and each stage role, and authorized/ with the public certificates
 * that servers admit. A process uses one keys folder and one role: its own
 * keypair is ROLE.key_secret (looked up first in systemd's
 * $CREDENTIALS_DIRECTORY, then in the folder), the broker's public key is
 * broker.key. State is per process: zc_curve_setup is called once, from main. */
#ifndef ZC_CURVE_H
#define ZC_CURVE_H

#include <stddef.h>
#include <stdint.h>

/* Set by the flags below (and their variables); read by zc_curve_setup. */
extern const char *zc_curve_opt_keys;
extern int zc_curve_opt_insecure;

/* The two flags every ZeroMQ executable takes: put this line in its zc_flag table. */
#define ZC_CURVE_FLAGS                                                                                   \
    { "keys", "ZCRAWL_KEYS", ZC_FLAG_STR, &zc_curve_opt_keys,                                            \
      "folder of CURVE keys (zcrawl keygen DIR): every ZeroMQ link authenticated and encrypted", 0, 0 }, \
    { "insecure", "ZCRAWL_INSECURE", ZC_FLAG_BOOL, &zc_curve_opt_insecure,                               \
      "allow non-loopback endpoints without --keys (no authentication, no encryption)", 0, 0 }

/* Loads the keys of role ("broker", "fetcher", "parser" or "writer") from the
 * --keys folder, if one was given, and checks every endpoint list in specs
 * (NULL-terminated; an empty list is skipped): without keys, an endpoint that is not loopback, ipc or inproc is refused
 * unless --insecure. Returns 0, or -1 with a one-line reason in err (a missing
 * or unreadable key file, a secret key readable by others, a public key that is
 * not the secret key's, a refused endpoint). */
int zc_curve_setup(const char *role, const char *const *specs, char *err, size_t errlen);

/* Nonzero once zc_curve_setup loaded keys. */
int zc_curve_enabled(void);

/* Nonzero when endpoint stays on this host: inproc, ipc, or tcp to a loopback
 * address (127.0.0.0/8, ::1, localhost). */
int zc_curve_endpoint_local(const char *endpoint);

/* Binds sock to endpoint. With keys, sock becomes a CURVE server with this
 * process's keypair, and the ZAP handler of ctx (zc_zap.h) is started first
 * (once per process), so that no handshake is ever judged without it, and
 * watches its failed handshakes. It admits the keys
 * of authorized/ whose role is in peers ("parser", "fetcher,parser,writer"; a
 * key's role is its file name up to the first '-' or '.'); peers NULL: the roles
 * that talk to such a socket of this process's role (a parser's PULL: fetchers,
 * its PUSH: writers; a writer's PULL: parsers; a fetcher's PUSH: parsers; else
 * every role). Without keys a non-local endpoint is refused unless --insecure.
 * Returns 0, or -1 with a reason in err. */
int zc_curve_bind(void *ctx, void *sock, const char *endpoint, const char *peers, char *err, size_t errlen);

/* Connects sock to endpoint. With keys, sock becomes a CURVE client with this
 * process's keypair, expecting the public key of server: NULL or "broker" for
 * the broker (broker.key), else the role whose keypair the binding stage serves
 * with (server.key in the keys folder). Returns 0, or -1 with a reason in err. */
int zc_curve_connect(void *sock, const char *endpoint, const char *server, char *err, size_t errlen);

#endif
