/* zc_curve.h -- CURVE on every ZeroMQ link: keys from a folder, server and client
 * sockets, a ZAP handler that admits only listed public keys, and the rule that
 * a stage without keys stays on loopback unless it is told --insecure.
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

#define ZC_CURVE_Z85_LEN 40 /* a 32-byte key in Z85, without its terminating NUL */

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
 * process's keypair, and the ZAP handler of ctx is started first (once per
 * process), so that no handshake is ever judged without it. It admits the keys
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

/* Connections the ZAP handler refused since the process started: a key not in
 * authorized/, or one whose role does not belong on that endpoint. */
uint64_t zc_curve_refused(void);

/* The events of a server socket's monitor (zmq_socket_monitor) that tell of a
 * handshake failed before ZAP judged a key: a client without CURVE, one that
 * expects another server key, junk, a peer that hung up mid-handshake. (A ZAP
 * refusal, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, is counted by the handler itself.)
 * zc_curve_bind watches them on every socket it makes a server. A socket has
 * one monitor: whoever installs another on such a socket replaces that watch,
 * so it must ask for these events too and hand each to zc_curve_handshake_event. */
#define ZC_CURVE_MONITOR_EVENTS (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)

/* Counts one monitor event of a server socket bound to endpoint when it is a
 * failed handshake (any other event is ignored) and logs it as
 * event=handshake_refused, at most one line a second per process with the
 * number left out. Safe from any thread. Never fails. */
void zc_curve_handshake_event(unsigned event, uint32_t value, const char *endpoint);

/* Handshakes refused before ZAP since the process started, as far as libzmq
 * reports them (it does for a client without CURVE and for a wrong server key). */
uint64_t zc_curve_handshakes_refused(void);

/* ---- key files (zcrawl keygen, tests) ---- */

/* Reads a certificate file: its public key, and its secret key when secret is
 * not NULL (then the file must hold one, readable by its owner only). Keys are
 * returned as 32 bytes. Returns 0, or -1 with a one-line reason in err. */
int zc_curve_cert_read(const char *path, uint8_t public_key[32], uint8_t *secret_key,
                       char *err, size_t errlen);

/* Makes a fresh keypair and writes it as path (public, mode 0644) and
 * path_secret (mode 0600), with name in their metadata. Existing files are
 * replaced. Returns 0, or -1 with a reason in err. */
int zc_curve_cert_write(const char *path, const char *name, char *err, size_t errlen);

/* Writes the public certificate of key into path (mode 0644). Returns 0, or -1. */
int zc_curve_cert_write_public(const char *path, const char *name, const uint8_t public_key[32],
                               char *err, size_t errlen);

#endif
