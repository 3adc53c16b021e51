/* part_costs.c -- what two parts every zcrawl page needs cost alone, as lower bounds.
 *
 * Downloads every URL of a file (one per line; blocking, not measured), then measures
 * on those bodies:
 *   hop:   one ZeroMQ PUSH -> PULL hop over loopback TCP to a second process, each
 *          body one single-frame message, sent as fast as the socket takes them (the
 *          best case: ZeroMQ batches, nobody else runs); CPU of both processes;
 *   parse: cJSON_ParseWithLength of each body, its nodes taken from a bump arena
 *          that is reset per page (as zcrawl's parser does; cheaper than malloc),
 *          CPU of this process;
 *   proof: the proof of lease of each page's URL (docs/PROTOCOL.md): made once (the
 *          broker) and checked twice (parser, writer), HMAC-SHA256 by libsodium as
 *          lib/zc_proof.c does it (its keyed state copied per MAC), CPU of this
 *          process, averaged over PROOF_ROUNDS passes.
 * A crawl built of separate stages joined by ZeroMQ that parses with cJSON spends
 * at least fetch + hop + parse per page; run_bench.py prints these beside
 * curl_floor's fetch cost and the contenders of scenario 1.
 *
 * usage: part_costs URL_FILE
 * Prints one JSON line: {"pages", "bytes", "hop_us_per_page", "curve_hop_us_per_page",
 * "parse_us_per_page", "proof_us_per_page"}; the CURVE hop is the same hop encrypted
 * and authenticated.
 * Exits 1 with one line on stderr when a download, a parse or a socket fails. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <sodium.h>
#include <unistd.h>
#include <zmq.h>

#define PROG "part_costs"

typedef struct body {
    char *p;
    size_t len, cap;
    char *url; /* the page's URL (malloc'd) */
} body;

static size_t on_body(char *p, size_t size, size_t n, void *userp) {
    body *b = userp;
    size_t k = size * n;
    if (b->len + k + 1 > b->cap) {
        size_t cap = (b->len + k + 1) * 2;
        char *q = realloc(b->p, cap);
        if (!q) return 0;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, k);
    b->len += k;
    b->p[b->len] = '\0';
    return k;
}

/* Downloads every URL of path into *out (*n bodies). Returns 0, or -1 after one
 * line on stderr. */
static int download(const char *path, body **out, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: error: cannot open %s: %s\n", PROG, path, strerror(errno));
        return -1;
    }
    CURL *e = curl_easy_init();
    char *line = NULL;
    size_t lcap = 0, cap = 0;
    ssize_t len;
    int rc = -1;
    if (!e || curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L) != CURLE_OK) {
        fprintf(stderr, "%s: error: cannot set up libcurl\n", PROG);
        goto out;
    }
    while ((len = getline(&line, &lcap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            body *b = realloc(*out, cap * sizeof(*b));
            if (!b) {
                fprintf(stderr, "%s: error: out of memory\n", PROG);
                goto out;
            }
            *out = b;
        }
        body *b = &(*out)[*n];
        memset(b, 0, sizeof(*b));
        (*n)++;
        CURLcode cr;
        if (curl_easy_setopt(e, CURLOPT_URL, line) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_WRITEDATA, b) != CURLE_OK ||
            (cr = curl_easy_perform(e)) != CURLE_OK) {
            fprintf(stderr, "%s: error: cannot download %s\n", PROG, line);
            goto out;
        }
        if (!(b->url = strdup(line))) {
            fprintf(stderr, "%s: error: out of memory\n", PROG);
            goto out;
        }
    }
    rc = 0;
out:
    free(line);
    if (e) curl_easy_cleanup(e);
    fclose(f);
    return rc;
}

static double cpu_of(int who) {
    struct rusage ru;
    if (getrusage(who, &ru) != 0) return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* A CURVE keypair of the receiving end (Z85 text), for the encrypted hop. */
typedef struct hop_keys {
    char server_pub[41], server_sec[41], client_pub[41], client_sec[41];
} hop_keys;

/* The receiving end: binds a PULL on an ephemeral loopback port (a CURVE server when
 * k is not NULL), tells the parent which through fd, takes n messages and exits.
 * Never returns. */
static void hop_receiver(int fd, size_t n, const hop_keys *k) {
    void *ctx = zmq_ctx_new();
    void *s = ctx ? zmq_socket(ctx, ZMQ_PULL) : NULL;
    char ep[128];
    size_t eplen = sizeof(ep);
    int hwm = 100000, one = 1;
    if (s && k &&
        (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
         zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->server_sec, 40) != 0))
        _exit(1);
    if (!s || zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_bind(s, "tcp://127.0.0.1:*") != 0 || zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen) != 0 ||
        write(fd, ep, strlen(ep) + 1) != (ssize_t)(strlen(ep) + 1))
        _exit(1);
    close(fd);
    for (size_t i = 0; i < n; i++) {
        zmq_msg_t m;
        if (zmq_msg_init(&m) != 0) _exit(1);
        while (zmq_msg_recv(&m, s, 0) < 0)
            if (errno != EINTR) _exit(1);
        zmq_msg_close(&m);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    _exit(0);
}

/* Sends every body through one hop, encrypted with CURVE when k is not NULL (as
 * zcrawl's stages do by default). Returns CPU seconds of both ends, or -1. */
static double hop_cost(const body *bodies, size_t n, const hop_keys *k) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    double cpu0 = cpu_of(RUSAGE_SELF), child0 = cpu_of(RUSAGE_CHILDREN);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fds[0]);
        hop_receiver(fds[1], n, k);
    }
    close(fds[1]);
    char ep[128];
    ssize_t got = read(fds[0], ep, sizeof(ep) - 1);
    close(fds[0]);
    void *ctx = NULL, *s = NULL;
    int status = 1, hwm = 100000, ok = got > 0;
    if (ok) {
        ep[got] = '\0';
        ok = (ctx = zmq_ctx_new()) && (s = zmq_socket(ctx, ZMQ_PUSH)) &&
             zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) == 0;
        if (ok && k)
            ok = zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, k->server_pub, 40) == 0 &&
                 zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k->client_pub, 40) == 0 &&
                 zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->client_sec, 40) == 0;
        ok = ok && zmq_connect(s, ep) == 0;
    }
    for (size_t i = 0; ok && i < n; i++) {
        int r;
        while ((r = zmq_send(s, bodies[i].p, bodies[i].len, 0)) < 0 && errno == EINTR) {}
        ok = r >= 0;
    }
    if (s) zmq_close(s); /* lingers until everything is delivered */
    if (ctx) zmq_ctx_term(ctx);
    if (!ok) kill(pid, SIGKILL);
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ok = 0;
    if (!ok) return -1;
    return (cpu_of(RUSAGE_SELF) - cpu0) + (cpu_of(RUSAGE_CHILDREN) - child0);
}

/* cJSON's allocator while parse_cost runs: a bump arena, emptied per page. */
#define ARENA_SIZE (16u << 20)
static char *arena;
static size_t arena_used;

static void *arena_alloc(size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n > ARENA_SIZE - arena_used) return NULL; /* the parse fails: reported */
    void *p = arena + arena_used;
    arena_used += n;
    return p;
}

static void arena_free(void *p) { (void)p; }

/* Parses every body with cJSON. Returns CPU seconds, or -1 when one is not JSON
 * or the arena is too small. */
static double parse_cost(const body *bodies, size_t n) {
    if (!(arena = malloc(ARENA_SIZE))) return -1;
    cJSON_Hooks hooks = { arena_alloc, arena_free };
    cJSON_InitHooks(&hooks);
    double cpu0 = cpu_of(RUSAGE_SELF), cpu = -1;
    size_t i;
    for (i = 0; i < n; i++) {
        arena_used = 0;
        if (!cJSON_ParseWithLength(bodies[i].p, bodies[i].len)) break;
    }
    if (i == n) cpu = cpu_of(RUSAGE_SELF) - cpu0;
    cJSON_InitHooks(NULL);
    free(arena);
    return cpu;
}

#define PROOF_ROUNDS 200

/* One MAC of url "\n" attempt, as lib/zc_proof.c makes it. */
static void proof_mac(const crypto_auth_hmacsha256_state *keyed, const char *url, unsigned char out[16]) {
    crypto_auth_hmacsha256_state st = *keyed;
    unsigned char full[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)url, strlen(url));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n0", 2);
    crypto_auth_hmacsha256_final(&st, full);
    memcpy(out, full, 16);
}

/* A proof made and checked twice for every page's URL. Returns CPU seconds per
 * pass over all pages, or -1 when libsodium fails or a check does not match. */
static double proof_cost(const body *bodies, size_t n) {
    unsigned char key[32], made[16], got[16];
    crypto_auth_hmacsha256_state keyed;
    if (sodium_init() < 0) return -1;
    randombytes_buf(key, sizeof(key));
    if (crypto_auth_hmacsha256_init(&keyed, key, sizeof(key)) != 0) return -1;
    double cpu0 = cpu_of(RUSAGE_SELF);
    for (int r = 0; r < PROOF_ROUNDS; r++)
        for (size_t i = 0; i < n; i++) {
            proof_mac(&keyed, bodies[i].url, made);
            for (int k = 0; k < 2; k++) {
                proof_mac(&keyed, bodies[i].url, got);
                if (sodium_memcmp(made, got, sizeof(got)) != 0) return -1;
            }
        }
    return (cpu_of(RUSAGE_SELF) - cpu0) / PROOF_ROUNDS;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "%s: error: usage: %s URL_FILE\n", PROG, PROG);
        return 2;
    }
    body *bodies = NULL;
    size_t n = 0, bytes = 0;
    int rc = 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "%s: error: cannot initialise libcurl\n", PROG);
        return 1;
    }
    if (download(argv[1], &bodies, &n) != 0) goto out;
    if (n == 0) {
        fprintf(stderr, "%s: error: no URL in %s\n", PROG, argv[1]);
        goto out;
    }
    for (size_t i = 0; i < n; i++) bytes += bodies[i].len;
    double hop = hop_cost(bodies, n, NULL);
    if (hop < 0) {
        fprintf(stderr, "%s: error: the ZeroMQ hop failed\n", PROG);
        goto out;
    }
    hop_keys k;
    if (zmq_curve_keypair(k.server_pub, k.server_sec) != 0 || zmq_curve_keypair(k.client_pub, k.client_sec) != 0) {
        fprintf(stderr, "%s: error: zmq_curve_keypair: %s\n", PROG, zmq_strerror(errno));
        goto out;
    }
    double curve_hop = hop_cost(bodies, n, &k);
    if (curve_hop < 0) {
        fprintf(stderr, "%s: error: the ZeroMQ hop with CURVE failed\n", PROG);
        goto out;
    }
    double parse = parse_cost(bodies, n);
    if (parse < 0) {
        fprintf(stderr, "%s: error: a body is not JSON\n", PROG);
        goto out;
    }
    double proof = proof_cost(bodies, n);
    if (proof < 0) {
        fprintf(stderr, "%s: error: the proof of lease failed (libsodium)\n", PROG);
        goto out;
    }
    printf("{\"pages\": %zu, \"bytes\": %zu, \"hop_us_per_page\": %.2f, \"curve_hop_us_per_page\": %.2f, "
           "\"parse_us_per_page\": %.2f, \"proof_us_per_page\": %.2f}\n",
           n, bytes, hop * 1e6 / (double)n, curve_hop * 1e6 / (double)n, parse * 1e6 / (double)n,
           proof * 1e6 / (double)n);
    rc = 0;
out:
    for (size_t i = 0; i < n; i++) {
        free(bodies[i].p);
        free(bodies[i].url);
    }
    free(bodies);
    curl_global_cleanup();
    return rc;
}
