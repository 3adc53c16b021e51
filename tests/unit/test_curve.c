/* test_curve.c -- unit tests of CURVE keys, the ZAP handler, the loopback rule,
 * "#role" endpoints and URI redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "keygen.h"
#include "zc_cert.h"
#include "zc_curve.h"
#include "zc_endpoint.h"
#include "zc_redact.h"
#include "zc_zap.h"

static void redacts(const char *in, const char *want) {
    char out[256];
    assert_string_equal(zc_redact_uri(out, sizeof(out), in), want);
}

static void test_redact(void **state) {
    (void)state;
    redacts("redis://:S3kr1t@127.0.0.1:6379/2", "redis://***@127.0.0.1:6379/2");
    redacts("redis://user:S3kr1t@h", "redis://***@h");
    redacts(":S3kr1t@h:6379", "***@h:6379");
    redacts("mongodb://u:p%40ss@h1:1,h2:2/db?authSource=admin&tlsCertificateKeyFilePassword=S3kr1t&w=1",
            "mongodb://***@h1:1,h2:2/db?authSource=admin&tlsCertificateKeyFilePassword=***&w=1");
    redacts("mongodb://h/db?authMechanismProperties=AWS_SESSION_TOKEN:x", "mongodb://h/db?authMechanismProperties=AWS_SESSION_TOKEN:x");
    redacts("mongodb://h/?token=abc#frag", "mongodb://h/?token=***#frag");
    redacts("redis://127.0.0.1:6379", "redis://127.0.0.1:6379");
    redacts("http://h/a@b", "http://h/a@b");
    redacts("tcp://*:5555", "tcp://*:5555");
    redacts("", "");
    /* A password holding '/', '?' or '#' (issue 22): the whole userinfo goes. */
    redacts("redis://:pa/ss@127.0.0.1:6379/2", "redis://***@127.0.0.1:6379/2");
    redacts("redis://:pa?ss@h", "redis://***@h");
    redacts("redis://:pa#ss@h/3", "redis://***@h/3");
    redacts("redis://u:a/b?c#d@h:1/3", "redis://***@h:1/3");
    redacts("rediss://:12/34@h", "rediss://***@h");
    redacts("--redis=redis://u:12/34@h", "--redis=redis://***@h");
    redacts(":pa/ss@h:6379", "***@h:6379");
    redacts("mongodb://u:pa/ss@h1:1,h2:2/db?w=1", "mongodb://***@h1:1,h2:2/db?w=1");
    redacts("http://u:pa/ss@proxy:3128", "http://***@proxy:3128");
    redacts("http://:pa?ss@proxy:3128/", "http://***@proxy:3128/");
    redacts("http://u:p@h/a@b", "http://***@h/a@b");
    redacts("http://h:80/a@b", "http://h:80/a@b");
    redacts("http://[::1]:80/a@b", "http://[::1]:80/a@b");
    char small[8];
    zc_redact_uri(small, sizeof(small), "redis://:S3kr1t@h");
    assert_string_equal(small, "redis:/");
}

static void test_endpoint_local(void **state) {
    (void)state;
    const char *local[] = { "tcp://127.0.0.1:5555", "tcp://127.9.9.9:1", "tcp://localhost:5555", "tcp://[::1]:5555",
                            "ipc:///tmp/x", "inproc://x", "tcp://10.0.0.1:0;127.0.0.1:5555",
                            "tcp://[::ffff:127.0.0.1]:1", NULL };
    const char *remote[] = { "tcp://*:5555", "tcp://0.0.0.0:5555", "tcp://10.0.0.1:5555", "tcp://broker:5555",
                             "tcp://[::]:5555", "tcp://eth0:5555", "pgm://eth0;239.192.1.1:5555",
                             "tcp://127.0.0.1:1;10.0.0.2:5555", "tcp://128.0.0.1:1", "tcp://:5555", NULL };
    for (int i = 0; local[i]; i++)
        if (!zc_curve_endpoint_local(local[i])) fail_msg("%s should be local", local[i]);
    for (int i = 0; remote[i]; i++)
        if (zc_curve_endpoint_local(remote[i])) fail_msg("%s should not be local", remote[i]);
}

typedef struct seen {
    char eps[4][64];
    char servers[4][16];
    int binds[4];
    int n;
} seen;

static int collect(const char *ep, int bind, const char *server, void *arg, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    seen *s = arg;
    snprintf(s->eps[s->n], sizeof(s->eps[0]), "%s", ep);
    snprintf(s->servers[s->n], sizeof(s->servers[0]), "%s", server);
    s->binds[s->n++] = bind;
    return 0;
}

static void test_endpoint_roles(void **state) {
    (void)state;
    char err[256];
    seen s = { 0 };
    assert_int_equal(zc_endpoint_foreach("tcp://p1:6000#parser,@tcp://127.0.0.1:7000,>tcp://b:5556", collect, &s,
                                         err, sizeof(err)),
                     0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.eps[0], "tcp://p1:6000");
    assert_string_equal(s.servers[0], "parser");
    assert_int_equal(s.binds[0], 0);
    assert_string_equal(s.eps[1], "tcp://127.0.0.1:7000");
    assert_int_equal(s.binds[1], 1);
    assert_string_equal(s.servers[2], "");
    assert_int_equal(zc_endpoint_list_ok("tcp://p1:6000#nobody", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "broker, fetcher, parser or writer"));
    assert_int_equal(zc_endpoint_list_ok("@tcp://127.0.0.1:6000#parser", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "own key"));
    assert_int_equal(zc_endpoint_list_ok("tcp://p1:6000#", err, sizeof(err)), -1);
}

static void test_loopback_rule(void **state) {
    (void)state;
    char err[512];
    zc_curve_opt_keys = NULL;
    zc_curve_opt_insecure = 0;
    const char *remote[] = { "tcp://127.0.0.1:5555", "@tcp://0.0.0.0:6000", NULL };
    assert_int_equal(zc_curve_setup("parser", remote, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "tcp://0.0.0.0:6000"));
    assert_non_null(strstr(err, "--insecure"));
    assert_null(strchr(err, '\n'));
    const char *local[] = { "tcp://127.0.0.1:5555", "@tcp://127.0.0.1:6000", "", NULL };
    assert_int_equal(zc_curve_setup("parser", local, err, sizeof(err)), 0);
    assert_int_equal(zc_curve_enabled(), 0);
    zc_curve_opt_insecure = 1;
    assert_int_equal(zc_curve_setup("parser", remote, err, sizeof(err)), 0);
    zc_curve_opt_insecure = 0;
}

/* A fresh keys folder in dir (a template for mkdtemp). */
static void make_keys(char *dir) {
    char err[512];
    assert_non_null(mkdtemp(dir));
    if (keygen_write(dir, 0700, 0, err, sizeof(err)) != 0) fail_msg("keygen: %s", err);
}

static void rm_keys(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_cert_files(void **state) {
    (void)state;
    char dir[] = "/tmp/zc-curve-test-XXXXXX", path[256], err[512];
    uint8_t pub[32], sec[32], pub2[32];
    make_keys(dir);
    snprintf(path, sizeof(path), "%s/fetcher.key_secret", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    if (zc_cert_read(path, pub, sec, err, sizeof(err)) != 0) fail_msg("%s", err);
    snprintf(path, sizeof(path), "%s/authorized/fetcher.key", dir);
    if (zc_cert_read(path, pub2, NULL, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_memory_equal(pub, pub2, 32);
    /* Overwriting needs --force. */
    assert_int_equal(keygen_write(dir, 0700, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--force"));
    /* A secret readable by others is refused, and names chmod. */
    snprintf(path, sizeof(path), "%s/fetcher.key_secret", dir);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(zc_cert_read(path, pub, sec, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "chmod 600"));
    /* A public key that is not the secret's. */
    assert_int_equal(chmod(path, 0600), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    char zp[41], zs[41], zp2[41], zs2[41];
    assert_int_equal(zmq_curve_keypair(zp, zs), 0);
    assert_int_equal(zmq_curve_keypair(zp2, zs2), 0);
    fprintf(f, "metadata\ncurve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n", zp, zs2);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(zc_cert_read(path, pub, sec, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not the one"));
    /* Garbage. */
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "curve\n    public-key = \"short\"\n");
    assert_int_equal(fclose(f), 0);
    assert_int_equal(zc_cert_read(path, pub, NULL, err, sizeof(err)), -1);
    snprintf(path, sizeof(path), "%s/nothing", dir);
    assert_int_equal(zc_cert_read(path, pub, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nothing"));
    rm_keys(dir);
}

/* Sends "ping" from a CURVE client with keypair (pub, sec) to server at ep and
 * waits up to ms for it at srv. Returns 1 when it arrived. */
static int ping(void *ctx, void *srv, const char *ep, const uint8_t *server_pub, const uint8_t *pub,
                const uint8_t *sec, int ms) {
    void *c = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    assert_non_null(c);
    assert_int_equal(zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, server_pub, 32), 0);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, pub, 32), 0);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, sec, 32), 0);
    assert_int_equal(zmq_connect(c, ep), 0);
    assert_int_equal(zmq_send(c, "ping", 4, 0), 4);
    zmq_pollitem_t it = { srv, 0, ZMQ_POLLIN, 0 };
    int got = zmq_poll(&it, 1, ms) == 1;
    if (got) {
        char buf[64];
        while (zmq_recv(srv, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0) {
        }
    }
    zmq_close(c);
    return got;
}

/* Sends "who" from a CURVE client with keypair (pub, sec) to the ROUTER srv at
 * ep and copies into uid the User-Id that the ZAP reply gave its connection,
 * read from the message (zmq_msg_gets). Returns 0, or -1 when nothing came
 * within 5 s or the message carries no User-Id. */
static int sender_id(void *ctx, void *srv, const char *ep, const uint8_t *server_pub, const uint8_t *pub,
                     const uint8_t *sec, char *uid, size_t len) {
    void *c = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, rc = -1;
    assert_non_null(c);
    assert_int_equal(zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, server_pub, 32), 0);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, pub, 32), 0);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, sec, 32), 0);
    assert_int_equal(zmq_connect(c, ep), 0);
    assert_int_equal(zmq_send(c, "who", 3, 0), 3);
    zmq_pollitem_t it = { srv, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, 5000) == 1) {
        zmq_msg_t id, body;
        assert_int_equal(zmq_msg_init(&id), 0);
        assert_int_equal(zmq_msg_init(&body), 0);
        assert_true(zmq_msg_recv(&id, srv, 0) >= 0);
        assert_true(zmq_msg_recv(&body, srv, 0) >= 0);
        const char *u = zmq_msg_gets(&body, "User-Id");
        if (u) {
            snprintf(uid, len, "%s", u);
            rc = 0;
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    zmq_close(c);
    return rc;
}

static void test_zap_admits_listed_keys_only(void **state) {
    (void)state;
    char dir[] = "/tmp/zc-curve-test-XXXXXX", path[256], err[512];
    make_keys(dir);
    zc_curve_opt_keys = dir;
    zc_curve_opt_insecure = 0;
    const char *none[] = { NULL };
    if (zc_curve_setup("broker", none, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(zc_curve_enabled(), 1);
    void *ctx = zmq_ctx_new();
    void *srv = zmq_socket(ctx, ZMQ_ROUTER);
    int linger = 0;
    assert_int_equal(zmq_setsockopt(srv, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    if (zc_curve_bind(ctx, srv, "tcp://127.0.0.1:*", NULL, err, sizeof(err)) != 0) fail_msg("%s", err);
    char ep[128];
    size_t eplen = sizeof(ep);
    assert_int_equal(zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);

    uint8_t bpub[32], bsec[32], fpub[32], fsec[32], xpub[32], xsec[32];
    snprintf(path, sizeof(path), "%s/broker.key_secret", dir);
    assert_int_equal(zc_cert_read(path, bpub, bsec, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/fetcher.key_secret", dir);
    assert_int_equal(zc_cert_read(path, fpub, fsec, err, sizeof(err)), 0);
    char zp[41], zs[41];
    assert_int_equal(zmq_curve_keypair(zp, zs), 0);
    assert_non_null(zmq_z85_decode(xpub, zp));
    assert_non_null(zmq_z85_decode(xsec, zs));

    uint64_t before = zc_zap_refused();
    assert_int_equal(ping(ctx, srv, ep, bpub, fpub, fsec, 5000), 1); /* listed */
    assert_int_equal(zc_zap_refused(), before);
    assert_int_equal(ping(ctx, srv, ep, bpub, xpub, xsec, 1500), 0); /* not listed */
    assert_true(zc_zap_refused() > before);
    uint64_t mid = zc_zap_refused();
    assert_int_equal(ping(ctx, srv, ep, bpub, bpub, bsec, 1500), 0); /* the broker's own: not listed */
    assert_true(zc_zap_refused() > mid);

    /* A socket for parsers only: a listed fetcher key is refused there. */
    uint8_t ppub[32], psec[32];
    snprintf(path, sizeof(path), "%s/parser.key_secret", dir);
    assert_int_equal(zc_cert_read(path, ppub, psec, err, sizeof(err)), 0);
    void *only = zmq_socket(ctx, ZMQ_ROUTER);
    assert_int_equal(zmq_setsockopt(only, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    if (zc_curve_bind(ctx, only, "tcp://127.0.0.1:*", "parser", err, sizeof(err)) != 0) fail_msg("%s", err);
    char ep2[128];
    size_t ep2len = sizeof(ep2);
    assert_int_equal(zmq_getsockopt(only, ZMQ_LAST_ENDPOINT, ep2, &ep2len), 0);
    uint64_t r0 = zc_zap_refused();
    assert_int_equal(ping(ctx, only, ep2, bpub, ppub, psec, 5000), 1);
    /* The ZAP reply names the key in User-Id: every message says which role sent
     * it (the key's file name in authorized/). */
    char uid[32] = "";
    assert_int_equal(sender_id(ctx, only, ep2, bpub, ppub, psec, uid, sizeof(uid)), 0);
    assert_string_equal(uid, "parser");
    assert_int_equal(ping(ctx, only, ep2, bpub, fpub, fsec, 1500), 0);
    assert_true(zc_zap_refused() > r0);
    zmq_close(only);

    /* No CURVE at all: the handshake fails before ZAP; it is counted as such,
     * not as a key the handler refused. */
    uint64_t plain_before = zc_zap_handshakes_refused(), zap_before = zc_zap_refused();
    void *plain = zmq_socket(ctx, ZMQ_DEALER);
    assert_non_null(plain);
    assert_int_equal(zmq_setsockopt(plain, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    assert_int_equal(zmq_connect(plain, ep), 0);
    assert_int_equal(zmq_send(plain, "ping", 4, 0), 4);
    zmq_pollitem_t it = { srv, 0, ZMQ_POLLIN, 0 };
    assert_int_equal(zmq_poll(&it, 1, 1500), 0);
    for (int i = 0; i < 50 && zc_zap_handshakes_refused() == plain_before; i++) usleep(20000);
    assert_true(zc_zap_handshakes_refused() > plain_before);
    zmq_close(plain);

    /* A listed client key, but another server key expected: the HELLO cannot be
     * opened, so it fails before ZAP as well. */
    uint64_t wrong_before = zc_zap_handshakes_refused();
    assert_int_equal(ping(ctx, srv, ep, xpub, fpub, fsec, 1500), 0);
    for (int i = 0; i < 50 && zc_zap_handshakes_refused() == wrong_before; i++) usleep(20000);
    assert_true(zc_zap_handshakes_refused() > wrong_before);
    assert_int_equal(zc_zap_refused(), zap_before);

    /* Other events (a socket's own monitor hands over all it gets) are not counted;
     * a ZAP refusal's event was counted by the handler already. First the
     * closed client's last events are let in, until none came for 200 ms. */
    uint64_t ev_before = zc_zap_handshakes_refused();
    for (int i = 0; i < 50; i++) {
        usleep(200000);
        uint64_t now = zc_zap_handshakes_refused();
        if (now == ev_before) break;
        ev_before = now;
    }
    zc_zap_handshake_event(ZMQ_EVENT_DISCONNECTED, 7, "tcp://127.0.0.1:1");
    zc_zap_handshake_event(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400, "tcp://127.0.0.1:1");
    assert_int_equal(zc_zap_handshakes_refused(), ev_before);
    zc_zap_handshake_event(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH, NULL);
    assert_int_equal(zc_zap_handshakes_refused(), ev_before + 1);

    zmq_close(srv);
    assert_int_equal(zmq_ctx_term(ctx), 0);
    /* A missing authorized/ folder: a server cannot start. */
    snprintf(path, sizeof(path), "rm -rf '%s/authorized'", dir);
    assert_int_equal(system(path), 0);
    assert_int_equal(zc_curve_setup("broker", none, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "authorized"));
    zc_curve_opt_keys = NULL;
    rm_keys(dir);
}

/* Issue 22.9: a key folder, or its authorized/, that others can write (or that
 * belongs to someone else) is refused, with the command that fixes it; keygen
 * does not reuse such a folder either. Stages took it as it was. */
static void test_key_folders_writable_by_others_are_refused(void **state) {
    (void)state;
    char dir[] = "/tmp/zc-curve-test-XXXXXX", auth[128], err[512];
    make_keys(dir);
    snprintf(auth, sizeof(auth), "%s/authorized", dir);
    const char *none[] = { NULL };
    zc_curve_opt_keys = dir;
    zc_curve_opt_insecure = 0;
    if (zc_curve_setup("broker", none, err, sizeof(err)) != 0) fail_msg("%s", err);

    assert_int_equal(chmod(auth, 0777), 0);
    assert_int_equal(zc_curve_setup("broker", none, err, sizeof(err)), -1);
    if (!strstr(err, "writable by everyone") || !strstr(err, "chmod go-w")) fail_msg("%s", err);
    assert_int_equal(chmod(auth, 0775), 0);
    assert_int_equal(zc_curve_setup("fetcher", none, err, sizeof(err)), -1);
    if (!strstr(err, "writable by its group")) fail_msg("%s", err);
    assert_int_equal(chmod(auth, 0755), 0);

    assert_int_equal(chmod(dir, 0770), 0);
    assert_int_equal(zc_curve_setup("parser", none, err, sizeof(err)), -1);
    if (!strstr(err, dir)) fail_msg("%s", err);
    assert_int_equal(keygen_write(dir, 0700, 1, err, sizeof(err)), -1); /* keygen --force does not reuse it */
    if (!strstr(err, "chmod go-w")) fail_msg("%s", err);
    assert_int_equal(chmod(dir, 0700), 0);

    if (geteuid() == 0) { /* root can hand the folder to a stranger */
        assert_int_equal(chown(auth, 12345, 12345), 0);
        assert_int_equal(zc_curve_setup("writer", none, err, sizeof(err)), -1);
        if (!strstr(err, "belongs to uid 12345") || !strstr(err, "chown")) fail_msg("%s", err);
        assert_int_equal(chown(auth, 0, 0), 0);
    }
    if (zc_curve_setup("writer", none, err, sizeof(err)) != 0) fail_msg("%s", err);
    zc_curve_opt_keys = NULL;
    rm_keys(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_endpoint_local),
        cmocka_unit_test(test_endpoint_roles),
        cmocka_unit_test(test_loopback_rule),
        cmocka_unit_test(test_cert_files),
        cmocka_unit_test(test_zap_admits_listed_keys_only),
        cmocka_unit_test(test_key_folders_writable_by_others_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
