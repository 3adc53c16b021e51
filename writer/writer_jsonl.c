/* writer_jsonl.c -- the JSON Lines sink: one relaxed extended JSON line per document, each _id once. */
#include "writer_jsonl.h"
#include "writer_idset.h"
#include "writer_json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "zc_log.h"

#define JSONL_READ_CHUNK (1 << 20)

struct writer_jsonl {
    int fd;
    int regular;   /* a regular file: locked appends, ids, cut-backs */
    off_t scanned; /* the file's bytes whose ids are in ids: always whole lines */
    writer_idset ids;
    zc_buf buf;  /* the batch being rendered */
    zc_buf line; /* a line read across chunks */
    char *chunk;
    unsigned long long bytes, foreign;
    char path[512];
};

/* The STATUS kind of a failed system call. */
static int jsonl_errno_kind(int e) {
    return e == ENOSPC || e == EDQUOT || e == EFBIG ? WRITER_SINK_FULL : WRITER_SINK_ERROR;
}

/* "ENOSPC appending PATH (No space left on device)" into err; returns the kind. */
static int jsonl_fail(const writer_jsonl *j, int e, const char *what, char *err, size_t errlen) {
    const char *name = strerrorname_np(e);
    snprintf(err, errlen, "%s %s %s (%s)", name ? name : "error", what, j->path, strerror(e));
    return jsonl_errno_kind(e);
}

/* Adds the _id of one whole line (without its newline) to the set. A line that
 * holds no string _id (not one of ours) is counted and kept. Returns 0, or -1
 * when out of memory. */
static int jsonl_learn(writer_jsonl *j, const char *s, size_t len) {
    static const char pre[] = "{\"_id\":\"";
    size_t plen = sizeof(pre) - 1;
    if (len == 0) return 0;
    /* The writer's own lines start with the _id; an id without escapes is taken as is. */
    if (len > plen && memcmp(s, pre, plen) == 0) {
        const char *a = s + plen, *end = s + len;
        const char *q = memchr(a, '"', (size_t)(end - a));
        if (q && !memchr(a, '\\', (size_t)(q - a)))
            return writer_idset_add(&j->ids, a, (size_t)(q - a)) < 0 ? -1 : 0;
    }
    cJSON *doc = cJSON_ParseWithLength(s, len);
    const cJSON *id = doc ? cJSON_GetObjectItemCaseSensitive(doc, "_id") : NULL;
    int rc = 0;
    if (cJSON_IsString(id) && id->valuestring[0]) rc = writer_idset_add(&j->ids, id->valuestring, strlen(id->valuestring)) < 0 ? -1 : 0;
    else j->foreign++;
    cJSON_Delete(doc);
    return rc;
}

/* Reads what the file gained since `scanned` (other writers' appends, or the whole
 * file at open), learns its ids, and cuts a torn last line: under the lock nobody
 * is inside an append, so an unfinished line is a dead writer's or a failed
 * append's. Returns 0, or a WRITER_SINK_* failure with a reason in err. */
static int jsonl_catch_up(writer_jsonl *j, char *err, size_t errlen) {
    struct stat st;
    if (fstat(j->fd, &st) != 0) return jsonl_fail(j, errno, "checking", err, errlen);
    if (st.st_size < j->scanned) {
        /* Cut shorter by someone else: learn it again from the start. */
        zc_warn("jsonl_shrunk", "size=%lld known=%lld", (long long)st.st_size, (long long)j->scanned);
        writer_idset_free(&j->ids);
        j->scanned = 0;
    }
    off_t pos = j->scanned;
    j->line.len = 0;
    while (pos < st.st_size) {
        size_t want = st.st_size - pos < JSONL_READ_CHUNK ? (size_t)(st.st_size - pos) : JSONL_READ_CHUNK;
        ssize_t k = pread(j->fd, j->chunk, want, pos);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return jsonl_fail(j, errno, "reading", err, errlen);
        if (k == 0) break; /* cut shorter meanwhile: what was read is all there is */
        const char *p = j->chunk, *end = j->chunk + k;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            int oom = 0;
            if (!nl || j->line.len) {
                oom = zc_buf_add(&j->line, p, n, 0) != 0;
                if (!oom && nl) {
                    oom = jsonl_learn(j, j->line.p, j->line.len) != 0;
                    j->line.len = 0;
                }
            } else {
                oom = jsonl_learn(j, p, n) != 0;
            }
            if (oom) {
                snprintf(err, errlen, "out of memory learning the ids in %s", j->path);
                return WRITER_SINK_ERROR;
            }
            p += n + (nl ? 1 : 0);
        }
        pos += k;
    }
    if (j->line.len > 0) {
        off_t whole = pos - (off_t)j->line.len;
        if (ftruncate(j->fd, whole) != 0) return jsonl_fail(j, errno, "cutting a torn line of", err, errlen);
        zc_warn("jsonl_torn_line_cut", "offset=%lld bytes=%zu", (long long)whole, j->line.len);
        pos = whole;
        j->line.len = 0;
    }
    j->scanned = pos;
    return 0;
}

static int jsonl_lock(writer_jsonl *j, int op, char *err, size_t errlen) {
    while (flock(j->fd, op) != 0) {
        if (errno == EINTR) continue;
        return jsonl_fail(j, errno, op == LOCK_UN ? "unlocking" : "locking", err, errlen);
    }
    return 0;
}

writer_jsonl *writer_jsonl_open(const char *path, char *err, size_t errlen) {
    struct stat st;
    writer_jsonl *j = calloc(1, sizeof(*j));
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    j->fd = -1;
    if (!path || !*path) {
        snprintf(err, errlen, "empty output path");
        goto err;
    }
    if (snprintf(j->path, sizeof(j->path), "%s", path) >= (int)sizeof(j->path)) {
        snprintf(err, errlen, "output path too long");
        goto err;
    }
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0 && (errno == EACCES || errno == EISDIR || errno == EINVAL))
        j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto err;
    }
    if (fstat(j->fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        goto err;
    }
    j->regular = S_ISREG(st.st_mode);
    if (j->regular) {
        j->chunk = malloc(JSONL_READ_CHUNK);
        if (!j->chunk) {
            snprintf(err, errlen, "out of memory");
            goto err;
        }
        char e2[600];
        if (jsonl_lock(j, LOCK_EX, e2, sizeof(e2)) != 0 || jsonl_catch_up(j, e2, sizeof(e2)) != 0) {
            snprintf(err, errlen, "cannot open %s: %s", path, e2);
            goto err;
        }
        if (jsonl_lock(j, LOCK_UN, e2, sizeof(e2)) != 0) {
            snprintf(err, errlen, "cannot open %s: %s", path, e2);
            goto err;
        }
        if (j->foreign)
            zc_warn("jsonl_foreign_lines", "lines=%llu reason=\"no string _id: kept as they are\"", j->foreign);
    }
    return j;
err:
    writer_jsonl_close(j);
    return NULL;
}

/* Renders docs[i] as one line onto j->buf. Returns 0, 1 when the document cannot
 * be rendered (rejected), or -1 when out of memory. */
static int jsonl_render(writer_jsonl *j, const bson_t *doc) {
    zc_buf *b = &j->buf;
    int rc = writer_json_append(b, doc);
    if (rc == WRITER_JSON_UNKNOWN) {
        /* A type the fast renderer does not know: libbson renders it. */
        size_t len = 0;
        char *json = bson_as_relaxed_extended_json(doc, &len);
        if (!json || memchr(json, '\n', len)) {
            if (json) bson_free(json);
            return 1;
        }
        rc = zc_buf_add(b, json, len, 0) == 0 ? WRITER_JSON_OK : WRITER_JSON_NOMEM;
        bson_free(json);
    }
    if (rc != WRITER_JSON_OK || zc_buf_add(b, "\n", 1, 0) != 0) return -1;
    return 0;
}

/* Appends j->buf whole or not at all. Returns 0, or a WRITER_SINK_* failure. */
static int jsonl_append(writer_jsonl *j, char *err, size_t errlen) {
    size_t off = 0;
    while (off < j->buf.len) {
        ssize_t k = write(j->fd, j->buf.p + off, j->buf.len - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            int e = k < 0 ? errno : EIO;
            int kind = jsonl_fail(j, e, "appending to", err, errlen);
            if (j->regular && off > 0) {
                /* a failed cut is retried by the next catch-up, under the lock */
                if (ftruncate(j->fd, j->scanned) != 0)
                    zc_error("jsonl_cut_failed", "offset=%lld reason=\"%s\"", (long long)j->scanned, strerror(errno));
                else
                    zc_warn("jsonl_append_cut_back", "offset=%lld written=%zu of=%zu", (long long)j->scanned, off,
                            j->buf.len);
            }
            return kind;
        }
        off += (size_t)k;
        j->bytes += (unsigned long long)k;
    }
    if (j->regular && fdatasync(j->fd) != 0) {
        int kind = jsonl_fail(j, errno, "syncing", err, errlen);
        if (ftruncate(j->fd, j->scanned) != 0)
            zc_error("jsonl_cut_failed", "offset=%lld reason=\"%s\"", (long long)j->scanned, strerror(errno));
        return kind;
    }
    if (j->regular) j->scanned += (off_t)off;
    return 0;
}

int writer_jsonl_write_batch(writer_jsonl *j, const bson_t *const *docs, size_t n, writer_reject_fn reject,
                             void *arg, size_t *already, char *err, size_t errlen) {
    int rc = WRITER_SINK_OK, locked = 0;
    *already = 0;
    if (n == 0) return WRITER_SINK_OK;
    if (j->regular) {
        if ((rc = jsonl_lock(j, LOCK_EX, err, errlen)) != 0) return rc;
        locked = 1;
        if ((rc = jsonl_catch_up(j, err, errlen)) != 0) goto out;
    }
    size_t mark = writer_idset_count(&j->ids), fresh = 0;
    j->buf.len = 0;
    for (size_t i = 0; i < n; i++) {
        if (j->regular) {
            bson_iter_t it;
            uint32_t len = 0;
            const char *id = bson_iter_init_find(&it, docs[i], "_id") && BSON_ITER_HOLDS_UTF8(&it)
                                 ? bson_iter_utf8(&it, &len)
                                 : NULL;
            int added = id ? writer_idset_add(&j->ids, id, len) : 1;
            if (added < 0) goto oom;
            if (added == 0) {
                (*already)++;
                continue;
            }
        }
        int r = jsonl_render(j, docs[i]);
        if (r < 0) goto oom;
        if (r > 0) {
            snprintf(err, errlen, "document %zu cannot be rendered as one line of JSON", i);
            if (reject) reject(arg, i, "cannot render the document as one line of JSON");
            rc = WRITER_SINK_REJECTED;
            goto fail;
        }
        fresh++;
    }
    if (fresh > 0 && (rc = jsonl_append(j, err, errlen)) != 0) goto fail;
    goto out;
oom:
    snprintf(err, errlen, "out of memory rendering a batch of %zu documents", n);
    rc = WRITER_SINK_ERROR;
fail:
    writer_idset_rollback(&j->ids, mark);
    *already = 0;
out:
    if (locked) {
        char e2[600];
        if (jsonl_lock(j, LOCK_UN, e2, sizeof(e2)) != 0) zc_error("jsonl_unlock_failed", "reason=\"%s\"", e2);
    }
    return rc;
}

unsigned long long writer_jsonl_bytes(const writer_jsonl *j) { return j->bytes; }
size_t writer_jsonl_ids(const writer_jsonl *j) { return writer_idset_count(&j->ids); }

void writer_jsonl_close(writer_jsonl *j) {
    if (!j) return;
    /* Every confirmed batch was synced already; a late close error changes nothing. */
    if (j->fd >= 0) (void)close(j->fd);
    writer_idset_free(&j->ids);
    zc_buf_free(&j->buf);
    zc_buf_free(&j->line);
    free(j->chunk);
    free(j);
}

static int jsonl_sink_write(void *impl, const bson_t *const *docs, size_t n, writer_reject_fn reject, void *arg,
                            size_t *already, char *err, size_t errlen) {
    return writer_jsonl_write_batch(impl, docs, n, reject, arg, already, err, errlen);
}

static void jsonl_sink_close(void *impl) { writer_jsonl_close(impl); }

void writer_jsonl_sink(writer_sink *s, writer_jsonl *j) {
    s->kind = "jsonl";
    s->timeout_ms = 0; /* write(2) and fdatasync(2) wait as long as the disk takes */
    s->op_ms = NULL;
    s->impl = j;
    s->write_batch = jsonl_sink_write;
    s->close = jsonl_sink_close;
}
