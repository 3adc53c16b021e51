/* test_writer.c -- the writer's document checks and its JSON Lines sink (no server needed). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bson/bson.h>

#include "writer_doc.h"
#include "writer_json.h"
#include "writer_idset.h"
#include "writer_jsonl.h"
#include "writer_worker.h"
#include <zmq.h>

static int check(const bson_t *b) {
    char err[256];
    return writer_doc_check(bson_get_data(b), b->len, err, sizeof(err));
}

static void test_doc_check_accepts_book(void **state) {
    (void)state;
    bson_t *b = BCON_NEW("_id", BCON_UTF8("7952978"), "name", BCON_UTF8("\xe5\xa5\x87\xe8\xbf\xb9"),
                         "authors", "[", BCON_UTF8("R. J. Palacio"), "]", "score", BCON_DOUBLE(8.9),
                         "page_number", BCON_NULL);
    assert_int_equal(check(b), 0);
    bson_destroy(b);
}

static void test_doc_check_rejects(void **state) {
    (void)state;
    char err[256];
    bson_t *noid = BCON_NEW("name", BCON_UTF8("x"));
    bson_t *intid = BCON_NEW("_id", BCON_INT32(5));
    bson_t *emptyid = BCON_NEW("_id", BCON_UTF8(""));
    bson_t *dollar = BCON_NEW("_id", BCON_UTF8("a"), "$set", "{", "x", BCON_INT32(1), "}");
    bson_t *dot = BCON_NEW("_id", BCON_UTF8("a"), "a.b", BCON_INT32(1));
    assert_int_equal(check(noid), -1);
    assert_int_equal(check(intid), -1);
    assert_int_equal(check(emptyid), -1);
    assert_int_equal(check(dollar), -1);
    assert_int_equal(check(dot), -1);
    /* the key rules hold at every depth */
    bson_t *deep_dot = BCON_NEW("_id", BCON_UTF8("a"), "x", "{", "y", "[", "{", "a.b", BCON_INT32(1), "}", "]", "}");
    bson_t *deep_empty = BCON_NEW("_id", BCON_UTF8("a"), "x", "{", "", BCON_INT32(1), "}");
    bson_t *bad_key = BCON_NEW("_id", BCON_UTF8("a"), "\xff", BCON_INT32(1));
    bson_t *fine = BCON_NEW("_id", BCON_UTF8("a"), "x", "{", "y", "[", "{", "k\xc3\xa9", BCON_INT32(1), "}", "]", "}");
    assert_int_equal(check(deep_dot), -1);
    assert_int_equal(check(deep_empty), -1);
    assert_int_equal(check(bad_key), -1);
    assert_int_equal(check(fine), 0);
    bson_destroy(deep_dot);
    bson_destroy(deep_empty);
    bson_destroy(bad_key);
    bson_destroy(fine);
    /* Garbage, truncation, a lying length prefix, bad UTF-8. */
    assert_int_equal(writer_doc_check((const uint8_t *)"garbage", 7, err, sizeof(err)), -1);
    assert_int_equal(writer_doc_check(NULL, 0, err, sizeof(err)), -1);
    bson_t *ok = BCON_NEW("_id", BCON_UTF8("abc"), "v", BCON_UTF8("text"));
    uint8_t buf[256];
    memcpy(buf, bson_get_data(ok), ok->len);
    assert_int_equal(writer_doc_check(buf, ok->len, err, sizeof(err)), 0);
    assert_int_equal(writer_doc_check(buf, ok->len - 1, err, sizeof(err)), -1);
    buf[0] ^= 0x40;
    assert_int_equal(writer_doc_check(buf, ok->len, err, sizeof(err)), -1);
    buf[0] ^= 0x40;
    uint8_t *p = memmem(buf, ok->len, "text", 4);
    assert_non_null(p);
    p[1] = 0xff;
    assert_int_equal(writer_doc_check(buf, ok->len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid BSON"));
    bson_destroy(ok);
    bson_destroy(noid);
    bson_destroy(intid);
    bson_destroy(emptyid);
    bson_destroy(dollar);
    bson_destroy(dot);
}

static void test_doc_check_depth(void **state) {
    (void)state;
    /* {_id, a: {a: {a: ... }}} nested level deep. */
    for (int level = 90; level <= 150; level += 60) {
        bson_t *docs[160];
        docs[0] = bson_new();
        for (int i = 1; i <= level; i++) {
            docs[i] = bson_new();
            assert_true(BSON_APPEND_DOCUMENT(docs[i], "a", docs[i - 1]));
        }
        bson_t *top = bson_new();
        assert_true(BSON_APPEND_UTF8(top, "_id", "deep"));
        assert_true(BSON_APPEND_DOCUMENT(top, "a", docs[level]));
        assert_int_equal(check(top), level < 99 ? 0 : -1);
        bson_destroy(top);
        for (int i = 0; i <= level; i++) bson_destroy(docs[i]);
    }
}

/* 2 million nested {a: ...} in 16 MB: libbson's own bson_validate overflows the
 * stack on this; the check must refuse it without recursing. */
static void test_doc_check_deep_garbage(void **state) {
    (void)state;
    char err[256];
    size_t depth = 2000000, total = 5 + depth * 8;
    uint8_t *buf = calloc(1, total);
    assert_non_null(buf);
    for (size_t i = 0; i < depth; i++) {
        uint32_t len = (uint32_t)(total - i * 8);
        memcpy(buf + 7 * i, &len, 4);
        buf[7 * i + 4] = 0x03;
        buf[7 * i + 5] = 'a';
    }
    uint32_t inner = 5;
    memcpy(buf + 7 * depth, &inner, 4);
    assert_int_equal(writer_doc_check(buf, total, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "deeper"));
    free(buf);
}

static int rejected;
static void on_reject(void *arg, size_t index, const char *reason) {
    (void)arg;
    (void)index;
    (void)reason;
    rejected++;
}

/* A JSON Lines sink on a new empty file; path (a mkstemp template) gets its name. */
static writer_jsonl *open_temp_jsonl(char *path) {
    char err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(close(fd), 0);
    writer_jsonl *j = writer_jsonl_open(path, err, sizeof(err));
    assert_non_null(j);
    return j;
}

static void test_jsonl_appends_lines(void **state) {
    (void)state;
    char path[] = "/tmp/zc-test-writer-XXXXXX", err[256];
    writer_jsonl *j = open_temp_jsonl(path);
    bson_t *d[3] = {
        BCON_NEW("_id", BCON_UTF8("1"), "intro", BCON_UTF8("two\nlines \"quoted\"")),
        BCON_NEW("_id", BCON_UTF8("2"), "score", BCON_DOUBLE(8.5), "n", BCON_INT64(7)),
        BCON_NEW("_id", BCON_UTF8("3"), "tags", "[", BCON_UTF8("\xe5\xb0\x8f\xe8\xaf\xb4"), "]"),
    };
    size_t already = 9;
    assert_int_equal(writer_jsonl_write_batch(j, (const bson_t *const *)d, 3, on_reject, NULL, &already, err,
                                              sizeof(err)),
                     0);
    assert_int_equal(already, 0);
    /* The same document again: confirmed, not appended a second time. */
    assert_int_equal(writer_jsonl_write_batch(j, (const bson_t *const *)d, 1, on_reject, NULL, &already, err,
                                              sizeof(err)),
                     0);
    assert_int_equal(already, 1);
    assert_int_equal(rejected, 0);
    writer_jsonl_close(j);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);
        assert_true(len > 1 && line[len - 1] == '\n');
        bson_error_t e;
        bson_t *back = bson_new_from_json((const uint8_t *)line, (ssize_t)len - 1, &e);
        assert_non_null(back);
        bson_iter_t it;
        assert_true(bson_iter_init_find(&it, back, "_id"));
        assert_true(BSON_ITER_HOLDS_UTF8(&it));
        if (n == 0) {
            assert_true(bson_iter_init_find(&it, back, "intro"));
            assert_string_equal(bson_iter_utf8(&it, NULL), "two\nlines \"quoted\"");
        }
        if (n == 1) {
            /* relaxed extended JSON: plain numbers */
            assert_non_null(strstr(line, "\"n\":7"));
            assert_non_null(strstr(line, "\"score\":8.5"));
        }
        bson_destroy(back);
        n++;
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) bson_destroy(d[i]);
    assert_int_equal(unlink(path), 0);
}

/* Renders doc with writer_json_append; the caller frees the string. */
static char *render(const bson_t *doc, int *rc) {
    zc_buf b = { 0 };
    *rc = writer_json_append(&b, doc);
    if (*rc != WRITER_JSON_OK) {
        free(b.p);
        return NULL;
    }
    assert_int_equal(zc_buf_reserve(&b, 1), 0);
    b.p[b.len] = '\0';
    return b.p;
}

static void test_json_exact_forms(void **state) {
    (void)state;
    int rc;
    bson_t *d = BCON_NEW("_id", BCON_UTF8("1"), "a", BCON_DOUBLE(8.0), "b", BCON_DOUBLE(7.1), "c", BCON_DOUBLE(-0.0),
                         "d", BCON_DOUBLE(1e300), "e", BCON_INT32(-5), "f", BCON_INT64(9007199254740993LL),
                         "g", BCON_BOOL(true), "h", BCON_NULL, "i", BCON_DATE_TIME(118281600000LL),
                         "j", BCON_DATE_TIME(1764595441104LL), "k", BCON_DATE_TIME(-1000),
                         "l", "[", "{", "x", BCON_UTF8("q\"\\\n\t\x01\x7f"), "}", "]", "m", "{", "}");
    char *s = render(d, &rc);
    assert_int_equal(rc, WRITER_JSON_OK);
    assert_string_equal(s, "{\"_id\":\"1\",\"a\":8.0,\"b\":7.1,\"c\":-0.0,\"d\":1e+300,\"e\":-5,"
                           "\"f\":9007199254740993,\"g\":true,\"h\":null,"
                           "\"i\":{\"$date\":\"1973-10-01T00:00:00Z\"},"
                           "\"j\":{\"$date\":\"2025-12-01T13:24:01.104Z\"},"
                           "\"k\":{\"$date\":\"1969-12-31T23:59:59Z\"},"
                           "\"l\":[{\"x\":\"q\\\"\\\\\\n\\t\\u0001\x7f\"}],\"m\":{}}");
    free(s);
    bson_destroy(d);
    bson_t *nan = BCON_NEW("_id", BCON_UTF8("2"), "n", BCON_DOUBLE(NAN), "p", BCON_DOUBLE(-INFINITY));
    s = render(nan, &rc);
    assert_string_equal(s, "{\"_id\":\"2\",\"n\":{\"$numberDouble\":\"NaN\"},"
                           "\"p\":{\"$numberDouble\":\"-Infinity\"}}");
    free(s);
    bson_destroy(nan);
    /* a type it does not render: the caller is told, and nothing is left behind */
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, "5f1d7f8e9a3b2c1d0e4f5a6b");
    bson_t *o = BCON_NEW("_id", BCON_UTF8("3"), "o", BCON_OID(&oid));
    zc_buf b = { 0 };
    assert_int_equal(writer_json_append(&b, o), WRITER_JSON_UNKNOWN);
    assert_int_equal(b.len, 0);
    free(b.p);
    bson_destroy(o);
}

/* issue 14: one date shape in JSON Lines, before 1970 as after, read back exactly. */
static void test_json_dates_one_shape(void **state) {
    (void)state;
    static const int64_t ms[] = { -1, -1000, -999, -86400000LL, -2208988800000LL /* 1900 */,
                                  -62167219200000LL /* 0000-01-01 */, -30610224000001LL, 0, 1,
                                  253402300799999LL };
    static const char *want[] = { "1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59Z", "1969-12-31T23:59:59.001Z",
                                  "1969-12-31T00:00:00Z", "1900-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
                                  "0999-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z",
                                  "1970-01-01T00:00:00.001Z", "9999-12-31T23:59:59.999Z" };
    for (size_t i = 0; i < sizeof(ms) / sizeof(*ms); i++) {
        int rc;
        bson_t *d = BCON_NEW("_id", BCON_UTF8("1"), "t", BCON_DATE_TIME(ms[i]));
        char *s = render(d, &rc), expect[128];
        assert_int_equal(rc, WRITER_JSON_OK);
        snprintf(expect, sizeof(expect), "{\"_id\":\"1\",\"t\":{\"$date\":\"%s\"}}", want[i]);
        assert_string_equal(s, expect);
        bson_error_t e;
        bson_t *back = bson_new_from_json((const uint8_t *)s, -1, &e);
        assert_non_null(back);
        bson_iter_t it;
        assert_true(bson_iter_init_find(&it, back, "t"));
        assert_int_equal(bson_iter_date_time(&it), ms[i]);
        bson_destroy(back);
        free(s);
        bson_destroy(d);
    }
}

/* Whatever the document, our line and libbson's mean the same to a JSON reader. */
static void test_json_agrees_with_libbson(void **state) {
    (void)state;
    uint64_t r = 88172645463325252ULL;
    for (int n = 0; n < 2000; n++) {
        bson_t *d = bson_new();
        assert_true(BSON_APPEND_UTF8(d, "_id", "x"));
        for (int k = 0; k < 6; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            char key[16];
            snprintf(key, sizeof(key), "k%d", k);
            double v;
            memcpy(&v, &r, sizeof(v));
            switch (r % 5) {
            case 0:
                if (isfinite(v)) assert_true(BSON_APPEND_DOUBLE(d, key, v));
                break;
            case 1: assert_true(BSON_APPEND_DOUBLE(d, key, (double)(int64_t)(r % 100000) / 10.0)); break;
            case 2: assert_true(BSON_APPEND_INT64(d, key, (int64_t)r)); break;
            case 3: assert_true(BSON_APPEND_DATE_TIME(d, key, (int64_t)(r % 253402300799999ULL))); break;
            default: {
                char str[41];
                size_t sl = (size_t)(r >> 58) % 41; /* 0..40 bytes: the 8-byte path and the tail */
                uint64_t q = r;
                for (size_t c = 0; c < sl; c++) {
                    q ^= q << 13, q ^= q >> 7, q ^= q << 17;
                    str[c] = (char)(q % 4 ? 0x20 + q % 95 : 1 + q % 127); /* printable, now and then anything */
                }
                str[sl] = '\0';
                assert_true(BSON_APPEND_UTF8(d, key, str));
            }
            }
        }
        int rc;
        char *ours = render(d, &rc);
        assert_int_equal(rc, WRITER_JSON_OK);
        size_t len;
        char *theirs = bson_as_relaxed_extended_json(d, &len);
        bson_error_t e;
        bson_t *a = bson_new_from_json((const uint8_t *)ours, -1, &e);
        bson_t *b = bson_new_from_json((const uint8_t *)theirs, (ssize_t)len, &e);
        assert_non_null(a);
        assert_non_null(b);
        if (!bson_equal(a, b)) fail_msg("differs:\n%s\n%s", ours, theirs);
        bson_destroy(a);
        bson_destroy(b);
        bson_free(theirs);
        free(ours);
        bson_destroy(d);
    }
}

/* A document the fast renderer cannot do still becomes one line (through libbson). */
static void test_jsonl_falls_back(void **state) {
    (void)state;
    char path[] = "/tmp/zc-test-writer-XXXXXX", err[256];
    writer_jsonl *j = open_temp_jsonl(path);
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, "5f1d7f8e9a3b2c1d0e4f5a6b");
    bson_t *d = BCON_NEW("_id", BCON_UTF8("1"), "o", BCON_OID(&oid));
    size_t already;
    assert_int_equal(writer_jsonl_write_batch(j, (const bson_t *const *)&d, 1, on_reject, NULL, &already, err,
                                              sizeof(err)),
                     0);
    writer_jsonl_close(j);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof(line), f));
    assert_non_null(strstr(line, "\"$oid\" : \"5f1d7f8e9a3b2c1d0e4f5a6b\""));
    assert_null(fgets(line, sizeof(line), f));
    assert_int_equal(fclose(f), 0);
    bson_destroy(d);
    assert_int_equal(unlink(path), 0);
}

/* Writes text to a new temporary file whose name goes into path (a template). */
static void write_temp(char *path, const char *text) {
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* At open the sink learns the _ids already in the file (its own lines, other
 * shapes, escaped ids), keeps lines without an _id, and cuts a torn last line;
 * then it appends only documents whose _id is new, each once. */
static void test_jsonl_exactly_once(void **state) {
    (void)state;
    char path[] = "/tmp/zc-test-writer-XXXXXX", err[256];
    write_temp(path, "{\"_id\":\"1\",\"name\":\"one\"}\n"
                     "{\"name\": \"seven\", \"_id\": \"7\"}\n"
                     "{\"_id\":\"a\\\"b\",\"v\":1}\n"
                     "not json at all\n"
                     "{\"_id\":\"8\",\"name\":\"tor");
    writer_jsonl *j = writer_jsonl_open(path, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(writer_jsonl_ids(j), 3);
    const char *kept = "{\"_id\":\"1\",\"name\":\"one\"}\n{\"name\": \"seven\", \"_id\": \"7\"}\n"
                       "{\"_id\":\"a\\\"b\",\"v\":1}\nnot json at all\n";
    assert_string_equal(slurp(path), kept);
    bson_t *d[6] = {
        BCON_NEW("_id", BCON_UTF8("1"), "v", BCON_INT32(2)),
        BCON_NEW("_id", BCON_UTF8("7")),
        BCON_NEW("_id", BCON_UTF8("9"), "v", BCON_INT32(1)),
        BCON_NEW("_id", BCON_UTF8("9"), "v", BCON_INT32(2)),
        BCON_NEW("_id", BCON_UTF8("a\"b")),
        BCON_NEW("_id", BCON_UTF8("8")),
    };
    size_t already = 0;
    assert_int_equal(writer_jsonl_write_batch(j, (const bson_t *const *)d, 6, on_reject, NULL, &already, err,
                                              sizeof(err)),
                     0);
    assert_int_equal(already, 4);
    assert_int_equal(writer_jsonl_ids(j), 5);
    char want[1024];
    snprintf(want, sizeof(want), "%s{\"_id\":\"9\",\"v\":1}\n{\"_id\":\"8\"}\n", kept);
    assert_string_equal(slurp(path), want);
    writer_jsonl_close(j);
    /* A second sink on the file knows all of it. */
    j = writer_jsonl_open(path, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(writer_jsonl_ids(j), 5);
    writer_jsonl_close(j);
    for (int i = 0; i < 6; i++) bson_destroy(d[i]);
    assert_int_equal(unlink(path), 0);
}

/* Two writers on one file: each learns what the other appended before it appends. */
static void test_jsonl_shared_file(void **state) {
    (void)state;
    char path[] = "/tmp/zc-test-writer-XXXXXX", err[256];
    write_temp(path, "");
    writer_jsonl *a = writer_jsonl_open(path, err, sizeof(err)), *b = writer_jsonl_open(path, err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    bson_t *d[3] = { BCON_NEW("_id", BCON_UTF8("1")), BCON_NEW("_id", BCON_UTF8("2")), BCON_NEW("_id", BCON_UTF8("3")) };
    size_t already = 0;
    assert_int_equal(writer_jsonl_write_batch(a, (const bson_t *const *)d, 2, NULL, NULL, &already, err, sizeof(err)), 0);
    assert_int_equal(already, 0);
    assert_int_equal(writer_jsonl_write_batch(b, (const bson_t *const *)d, 3, NULL, NULL, &already, err, sizeof(err)), 0);
    assert_int_equal(already, 2);
    assert_string_equal(slurp(path), "{\"_id\":\"1\"}\n{\"_id\":\"2\"}\n{\"_id\":\"3\"}\n");
    writer_jsonl_close(a);
    writer_jsonl_close(b);
    for (int i = 0; i < 3; i++) bson_destroy(d[i]);
    assert_int_equal(unlink(path), 0);
}

/* The id set: membership through growth, and rollback of the newest additions. */
static void test_idset(void **state) {
    (void)state;
    writer_idset s = { 0 };
    char id[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(id, sizeof(id), "%d", 7950000 + i);
        assert_int_equal(writer_idset_add(&s, id, (size_t)n), 1);
    }
    assert_int_equal(writer_idset_add(&s, "7950001", 7), 0);
    size_t mark = writer_idset_count(&s);
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(id, sizeof(id), "x%d", i);
        assert_int_equal(writer_idset_add(&s, id, (size_t)n), 1);
    }
    writer_idset_rollback(&s, mark);
    assert_int_equal(writer_idset_count(&s), 5000);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(id, sizeof(id), "%d", 7950000 + i);
        assert_true(writer_idset_has(&s, id, (size_t)n));
    }
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(id, sizeof(id), "x%d", i);
        assert_false(writer_idset_has(&s, id, (size_t)n));
    }
    assert_int_equal(writer_idset_add(&s, "x7", 2), 1);
    writer_idset_free(&s);
}

/* A sink that takes 200 ms, then fails as told (and refuses docs[1] when told). */
static int fake_rc;
static int fake_write(void *impl, const bson_t *const *docs, size_t n, writer_reject_fn reject, void *arg,
                      size_t *already, char *err, size_t errlen) {
    (void)impl;
    (void)docs;
    usleep(200 * 1000);
    *already = n;
    snprintf(err, errlen, "fake says %d", fake_rc);
    if (fake_rc == WRITER_SINK_REJECTED && n > 1) reject(arg, 1, "not this one");
    return fake_rc;
}

/* Waits up to 5 s for the worker's answer. */
static writer_job *await_job(writer_worker *w) {
    zmq_pollitem_t it = { writer_worker_socket(w), 0, ZMQ_POLLIN, 0 };
    assert_true(zmq_poll(&it, 1, 5000) == 1);
    return writer_worker_take(w);
}

/* The sink thread: a slow write does not block the caller, one job at a time,
 * results and rejects come back with the job. */
static void test_worker(void **state) {
    (void)state;
    char err[256];
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    writer_sink sink = { .kind = "fake", .write_batch = fake_write };
    writer_worker *w = writer_worker_start(ctx, &sink, err, sizeof(err));
    assert_non_null(w);
    const bson_t *docs[3] = { NULL, NULL, NULL };
    size_t idx[3];
    char reasons[3][WRITER_REASON_MAX];
    writer_job job = { .docs = docs, .n = 3, .cap = 3, .rej_idx = idx, .rej_reason = reasons };
    fake_rc = WRITER_SINK_FULL;
    assert_int_equal(writer_worker_submit(w, &job), 0);
    assert_int_equal(writer_worker_busy(w), 1);
    assert_int_equal(writer_worker_submit(w, &job), -1); /* one in flight at a time */
    assert_null(writer_worker_take(w));                  /* never blocks */
    writer_job *j = await_job(w);
    assert_ptr_equal(j, &job);
    assert_int_equal(j->rc, WRITER_SINK_FULL);
    assert_string_equal(j->err, "fake says -3");
    assert_true(j->ms >= 150);
    assert_int_equal(writer_worker_busy(w), 0);
    fake_rc = WRITER_SINK_REJECTED;
    assert_int_equal(writer_worker_submit(w, &job), 0);
    j = await_job(w);
    assert_int_equal(j->rc, WRITER_SINK_REJECTED);
    assert_int_equal(j->nrej, 1);
    assert_int_equal(j->rej_idx[0], 1);
    assert_string_equal(j->rej_reason[0], "not this one");
    fake_rc = WRITER_SINK_OK;
    assert_int_equal(writer_worker_submit(w, &job), 0);
    j = await_job(w);
    assert_int_equal(j->rc, WRITER_SINK_OK);
    assert_int_equal(j->already, 3);
    assert_int_equal(writer_worker_free(w, 1000), 0);
    assert_int_equal(zmq_ctx_term(ctx), 0);
    assert_string_equal(writer_sink_condition(WRITER_SINK_OK), "ok");
    assert_string_equal(writer_sink_condition(WRITER_SINK_FULL), "sink_full");
    assert_string_equal(writer_sink_condition(WRITER_SINK_DOWN), "sink_down");
    assert_string_equal(writer_sink_condition(WRITER_SINK_ERROR), "sink_error");
    assert_string_equal(writer_sink_condition(WRITER_SINK_REJECTED), "ok");
}

static void test_jsonl_open_fails(void **state) {
    (void)state;
    char err[256];
    assert_null(writer_jsonl_open("/nonexistent-dir/x.jsonl", err, sizeof(err)));
    assert_non_null(strstr(err, "cannot open"));
    assert_null(writer_jsonl_open("", err, sizeof(err)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_check_accepts_book),
        cmocka_unit_test(test_doc_check_rejects),
        cmocka_unit_test(test_doc_check_depth),
        cmocka_unit_test(test_doc_check_deep_garbage),
        cmocka_unit_test(test_jsonl_appends_lines),
        cmocka_unit_test(test_jsonl_open_fails),
        cmocka_unit_test(test_json_exact_forms),
        cmocka_unit_test(test_json_agrees_with_libbson),
        cmocka_unit_test(test_json_dates_one_shape),
        cmocka_unit_test(test_jsonl_falls_back),
        cmocka_unit_test(test_jsonl_exactly_once),
        cmocka_unit_test(test_jsonl_shared_file),
        cmocka_unit_test(test_idset),
        cmocka_unit_test(test_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
