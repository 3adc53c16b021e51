/* test_proof.c -- unit tests of proofs of lease (lib/zc_proof): known vectors, checks, the secret file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "zc_proof.h"

/* The key 00 01 02 .. 1f. */
static void key_0_to_31(zc_proof_key *k) {
    unsigned char s[ZC_PROOF_KEY_BYTES];
    for (int i = 0; i < ZC_PROOF_KEY_BYTES; i++) s[i] = (unsigned char)i;
    assert_int_equal(zc_proof_key_set(k, s), 0);
}

/* Vectors from Python's hmac, independent of libsodium:
 *   hmac.new(bytes(range(32)), (url + "\n" + str(attempt)).encode(), "sha256").hexdigest()[:32] */
static void test_known_vectors(void **state) {
    (void)state;
    zc_proof_key k;
    key_0_to_31(&k);
    char p[ZC_PROOF_MAX];
    const char *u1 = "http://127.0.0.1:8000/api/book/1";
    assert_int_equal(zc_proof_make(&k, u1, strlen(u1), 0, p), strlen("0:") + 32);
    assert_string_equal(p, "0:ac43651d673f45fffab7f440a4f9389a");
    const char *u2 = "http://h/api/book/424242";
    zc_proof_make(&k, u2, strlen(u2), 3, p);
    assert_string_equal(p, "3:c575f47ca10cc13d57c29d12c450f50a");
    zc_proof_make(&k, u2, strlen(u2), 4294967295u, p);
    assert_true(strlen(p) < ZC_PROOF_MAX);
    assert_int_equal(zc_proof_check(&k, u2, strlen(u2), p, strlen(p)), ZC_PROOF_OK);
}

static void test_check(void **state) {
    (void)state;
    zc_proof_key k, other;
    key_0_to_31(&k);
    unsigned char s2[ZC_PROOF_KEY_BYTES] = { 1 };
    assert_int_equal(zc_proof_key_set(&other, s2), 0);
    const char *u = "http://h/api/book/17", *v = "http://h/api/book/18";
    char p[ZC_PROOF_MAX];
    size_t n = zc_proof_make(&k, u, strlen(u), 2, p);
    assert_int_equal(zc_proof_check(&k, u, strlen(u), p, n), ZC_PROOF_OK);
    /* Another URL, another secret, another attempt, one digit changed: mismatch. */
    assert_int_equal(zc_proof_check(&k, v, strlen(v), p, n), ZC_PROOF_MISMATCH);
    assert_int_equal(zc_proof_check(&other, u, strlen(u), p, n), ZC_PROOF_MISMATCH);
    char q[ZC_PROOF_MAX];
    memcpy(q, p, n + 1);
    q[0] = '3';
    assert_int_equal(zc_proof_check(&k, u, strlen(u), q, n), ZC_PROOF_MISMATCH);
    memcpy(q, p, n + 1);
    q[n - 1] = q[n - 1] == '0' ? '1' : '0';
    assert_int_equal(zc_proof_check(&k, u, strlen(u), q, n), ZC_PROOF_MISMATCH);
    /* A URL that is a prefix of the signed one does not pass either. */
    assert_int_equal(zc_proof_check(&k, u, strlen(u) - 1, p, n), ZC_PROOF_MISMATCH);
    /* Upper-case hex is the same bytes. */
    memcpy(q, p, n + 1);
    for (char *c = q; *c; c++)
        if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
    assert_int_equal(zc_proof_check(&k, u, strlen(u), q, n), ZC_PROOF_OK);
    /* Missing and malformed. */
    assert_int_equal(zc_proof_check(&k, u, strlen(u), "", 0), ZC_PROOF_MISSING);
    const char *bad[] = { "2", ":", "2:", "x:0123456789abcdef0123456789abcdef", ":0123456789abcdef0123456789abcdef",
                          "2:0123456789abcdef0123456789abcde", "2:0123456789abcdef0123456789abcdefa",
                          "2:0123456789abcdef0123456789abcdeg", "12345678901:0123456789abcdef0123456789abcdef",
                          "2;0123456789abcdef0123456789abcdef" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (zc_proof_check(&k, u, strlen(u), bad[i], strlen(bad[i])) != ZC_PROOF_MALFORMED)
            fail_msg("'%s' is not refused as malformed", bad[i]);
    assert_string_equal(zc_proof_verdict_name(ZC_PROOF_MISMATCH), "mismatch");
}

static void test_secret_file(void **state) {
    (void)state;
    char dir[] = "/tmp/zc_proof_XXXXXX", path[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/crawl.secret", dir);
    zc_proof_key k;
    /* No file named: off, not an error. */
    assert_int_equal(zc_proof_load(&k, NULL, err, sizeof(err)), 0);
    assert_int_equal(k.on, 0);
    assert_int_equal(zc_proof_load(&k, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--secret-file"));
    assert_int_equal(zc_proof_write_new(path, 0, err, sizeof(err)), 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);                                   /* 64 hex digits and a newline */
    assert_int_equal(zc_proof_write_new(path, 0, err, sizeof(err)), 0); /* kept */
    assert_int_equal(zc_proof_load(&k, path, err, sizeof(err)), 0);
    assert_int_equal(k.on, 1);
    /* Open to others: refused, as a CURVE secret key is. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(zc_proof_load(&k, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);
    /* The file's key is the one in it: 00..1f written by hand gives the known vector. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 32; i++) fprintf(f, "%02x", i);
    fputc('\n', f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(zc_proof_load(&k, path, err, sizeof(err)), 0);
    char p[ZC_PROOF_MAX];
    const char *u1 = "http://127.0.0.1:8000/api/book/1";
    zc_proof_make(&k, u1, strlen(u1), 0, p);
    assert_string_equal(p, "0:ac43651d673f45fffab7f440a4f9389a");
    /* Not 64 hex digits: refused, the content never in the message. */
    const char *wrong[] = { "abc\n", "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
                            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00\n" };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(wrong[i], f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(zc_proof_load(&k, path, err, sizeof(err)), -1);
        assert_int_equal(k.on, 0);
        assert_non_null(strstr(err, "not a crawl secret"));
        assert_null(strstr(err, "0102"));
    }
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* Not a test of correctness: prints the cost of one MAC (bench/README.md quotes it). */
static void test_cost(void **state) {
    (void)state;
    zc_proof_key k;
    key_0_to_31(&k);
    char p[ZC_PROOF_MAX], url[64];
    int n = 200000;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    size_t sum = 0;
    for (int i = 0; i < n; i++) {
        int ul = snprintf(url, sizeof(url), "http://127.0.0.1:8000/api/book/%d", i);
        sum += zc_proof_make(&k, url, (size_t)ul, 0, p);
        sum += zc_proof_check(&k, url, (size_t)ul, p, strlen(p)) == ZC_PROOF_OK;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n / 2;
    assert_int_equal(sum, (size_t)n * 35);
    print_message("proof: %.0f ns per MAC (make or check, a 40-byte URL)\n", ns);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
