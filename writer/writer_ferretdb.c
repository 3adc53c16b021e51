/* writer_ferretdb.c -- the MongoDB sink's way around FerretDB 1.24's limits. */
#include "writer_ferretdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_time.h"

int writer_ferretdb_detect(mongoc_client_t *client, int *is_ferretdb, char *err, size_t errlen) {
    bson_t cmd = BSON_INITIALIZER, reply;
    bson_error_t e;
    bson_iter_t it;
    if (!BSON_APPEND_INT32(&cmd, "buildInfo", 1)) {
        snprintf(err, errlen, "cannot build buildInfo");
        bson_destroy(&cmd);
        return -1;
    }
    bool ok = mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, &e);
    if (ok) *is_ferretdb = bson_iter_init_find(&it, &reply, "ferretdbVersion");
    else snprintf(err, errlen, "buildInfo failed: %s", e.message);
    bson_destroy(&reply);
    bson_destroy(&cmd);
    return ok ? 0 : -1;
}

#define FERRETDB_IN_MAX_BYTES (8 * 1024 * 1024) /* keeps the $in query well under 16 MB */

/* Marks in exists[] the documents whose _id (a string) is in the collection now,
 * with one find({_id: {$in: ...}}). When the ids are too many bytes for one
 * query, marks all. Returns 0, or -1 with a reason in err. */
static int ferretdb_existing(writer_mongo_target *t, const bson_t *const *docs, size_t n, char *exists, char *err,
                             size_t errlen) {
    writer_mongo_id *ids = calloc(n, sizeof(*ids));
    bson_t filter = BSON_INITIALIZER, in_doc, arr, opts = BSON_INITIALIZER, proj;
    mongoc_cursor_t *cur = NULL;
    size_t bytes = 0;
    int rc = -1;
    if (!ids) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, docs[i], "_id") || !BSON_ITER_HOLDS_UTF8(&it)) {
            snprintf(err, errlen, "document %zu has no string _id", i);
            goto done;
        }
        ids[i].s = bson_iter_utf8(&it, &ids[i].len);
        ids[i].i = i;
        bytes += ids[i].len + 16;
    }
    if (bytes > FERRETDB_IN_MAX_BYTES) {
        memset(exists, 1, n);
        rc = 0;
        goto done;
    }
    memset(exists, 0, n);
    qsort(ids, n, sizeof(*ids), writer_mongo_id_cmp);
    int ok = BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in_doc) && BSON_APPEND_ARRAY_BEGIN(&in_doc, "$in", &arr);
    char key[24];
    size_t k = 0; /* array keys must run 0, 1, 2 ... with no gap for a skipped duplicate */
    for (size_t i = 0; ok && i < n; i++) {
        if (i > 0 && writer_mongo_id_cmp(&ids[i - 1], &ids[i]) == 0) continue;
        snprintf(key, sizeof(key), "%zu", k++);
        ok = bson_append_utf8(&arr, key, -1, ids[i].s, (int)ids[i].len);
    }
    ok = ok && bson_append_array_end(&in_doc, &arr) && bson_append_document_end(&filter, &in_doc) &&
         BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj) && BSON_APPEND_INT32(&proj, "_id", 1) &&
         bson_append_document_end(&opts, &proj);
    if (!ok) {
        snprintf(err, errlen, "cannot build the _id query");
        goto done;
    }
    int64_t t0 = zc_now_ms();
    cur = mongoc_collection_find_with_opts(t->coll, &filter, &opts, NULL);
    if (!cur) {
        snprintf(err, errlen, "cannot create cursor");
        goto done;
    }
    const bson_t *found;
    while (mongoc_cursor_next(cur, &found)) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, found, "_id") || !BSON_ITER_HOLDS_UTF8(&it)) continue;
        writer_mongo_id key_id = { NULL, 0, 0 };
        key_id.s = bson_iter_utf8(&it, &key_id.len);
        writer_mongo_id *hit = bsearch(&key_id, ids, n, sizeof(*ids), writer_mongo_id_cmp);
        if (!hit) continue;
        /* The same _id may come several times in one batch: mark every copy. */
        size_t at = (size_t)(hit - ids), lo = at, hi = at + 1;
        while (lo > 0 && writer_mongo_id_cmp(&ids[lo - 1], &key_id) == 0) lo--;
        while (hi < n && writer_mongo_id_cmp(&ids[hi], &key_id) == 0) hi++;
        for (size_t h = lo; h < hi; h++) exists[ids[h].i] = 1;
    }
    writer_mongo_op_done(t, t0);
    bson_error_t e;
    if (mongoc_cursor_error(cur, &e)) {
        snprintf(err, errlen, "finding existing _ids failed (error %u.%u): %s", e.domain, e.code, e.message);
        goto done;
    }
    rc = 0;
done:
    if (cur) mongoc_cursor_destroy(cur);
    bson_destroy(&opts);
    bson_destroy(&filter);
    free(ids);
    return rc;
}

#define FERRETDB_REPLACE_CHUNK 32 /* replacements per bulk: FerretDB 1.24 takes 0.1-0.3 s each */

int writer_ferretdb_write(writer_mongo_target *t, const bson_t *const *docs, size_t n, const size_t *all,
                          writer_reject_fn reject, void *arg, char *err, size_t errlen) {
    size_t *fresh = malloc(n * sizeof(*fresh)), *old = malloc(n * sizeof(*old)), nfresh = 0, nold = 0;
    char *exists = malloc(n);
    int we = 0, rc = -1;
    if (!fresh || !old || !exists) {
        snprintf(err, errlen, "out of memory for a batch of %zu", n);
        t->cond = WRITER_SINK_ERROR;
        goto done;
    }
    if (writer_mongo_bulk(t, docs, all, n, 1, &we, err, errlen) == 0) {
        rc = 0;
        goto done;
    }
    if (!we) goto done; /* the server did not answer: retry later */
    if (ferretdb_existing(t, docs, n, exists, err, errlen) != 0) {
        t->cond = WRITER_SINK_DOWN;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (exists[i]) old[nold++] = i;
        else fresh[nfresh++] = i;
    }
    if (nfresh > 0 && writer_mongo_bulk(t, docs, fresh, nfresh, 1, &we, err, errlen) != 0) {
        if (we && reject) writer_mongo_culprits(t, docs, fresh, nfresh, reject, arg);
        goto done;
    }
    for (size_t off = 0; off < nold; off += FERRETDB_REPLACE_CHUNK) {
        size_t k = nold - off < FERRETDB_REPLACE_CHUNK ? nold - off : FERRETDB_REPLACE_CHUNK;
        if (writer_mongo_bulk(t, docs, old + off, k, 0, &we, err, errlen) != 0) {
            if (we && reject) writer_mongo_culprits(t, docs, old + off, k, reject, arg);
            goto done;
        }
    }
    rc = 0;
done:
    free(fresh);
    free(old);
    free(exists);
    return rc;
}
