/* writer_jsonl.c -- the JSON Lines sink: one relaxed extended JSON line per document. */
#include "writer_jsonl.h"
#include "writer_json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct writer_jsonl {
    int fd;
    int sync;              /* regular file: fdatasync after each batch */
    int partial;           /* a failed write may have left half a line */
    zc_buf buf;        /* the batch being rendered */
    unsigned long long bytes;
    char path[512];
};

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
    j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto err;
    }
    if (fstat(j->fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        goto err;
    }
    j->sync = S_ISREG(st.st_mode);
    /* A writer killed inside write(2) may have left half a line at the end: the
     * next batch then starts on a fresh line instead of gluing onto it. */
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        int rfd = open(path, O_RDONLY | O_CLOEXEC);
        char last = '\n';
        if (rfd >= 0) {
            if (pread(rfd, &last, 1, st.st_size - 1) != 1) last = '\n';
            close(rfd);
        }
        if (last != '\n') j->partial = 1;
    }
    return j;
err:
    writer_jsonl_close(j);
    return NULL;
}

int writer_jsonl_write_batch(writer_jsonl *j, const bson_t *const *docs, size_t n,
                             writer_reject_fn reject, void *arg, char *err, size_t errlen) {
    zc_buf *b = &j->buf;
    if (n == 0) return 0;
    b->len = 0;
    /* After a failed write the file may end in half a line: end it, so the next
     * document starts a line of its own. */
    if (j->partial && zc_buf_add(b, "\n", 1, 0) != 0) goto oom;
    for (size_t i = 0; i < n; i++) {
        int rc = writer_json_append(b, docs[i]);
        if (rc == WRITER_JSON_UNKNOWN) {
            /* A type the fast renderer does not know: libbson renders it. */
            size_t len = 0;
            char *json = bson_as_relaxed_extended_json(docs[i], &len);
            if (!json || memchr(json, '\n', len)) {
                if (json) bson_free(json);
                snprintf(err, errlen, "document %zu cannot be rendered as one line of JSON", i);
                if (reject) reject(arg, i, "cannot render the document as one line of JSON");
                return -1;
            }
            rc = zc_buf_add(b, json, len, 0) == 0 ? WRITER_JSON_OK : WRITER_JSON_NOMEM;
            bson_free(json);
        }
        if (rc != WRITER_JSON_OK || zc_buf_add(b, "\n", 1, 0) != 0) goto oom;
    }
    size_t used = b->len;
    size_t off = 0;
    while (off < used) {
        ssize_t k = write(j->fd, b->p + off, used - off);
        if (k < 0) {
            if (errno == EINTR) continue;
            snprintf(err, errlen, "write %s: %s", j->path, strerror(errno));
            if (off > 0) j->partial = 1;
            return -1;
        }
        if (k == 0) {
            snprintf(err, errlen, "write %s: wrote nothing", j->path);
            if (off > 0) j->partial = 1;
            return -1;
        }
        off += (size_t)k;
        j->bytes += (unsigned long long)k;
    }
    j->partial = 0;
    if (j->sync && fdatasync(j->fd) != 0) {
        snprintf(err, errlen, "fdatasync %s: %s", j->path, strerror(errno));
        return -1;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory rendering a batch of %zu documents", n);
    return -1;
}

unsigned long long writer_jsonl_bytes(const writer_jsonl *j) { return j->bytes; }

void writer_jsonl_close(writer_jsonl *j) {
    if (!j) return;
    /* Every confirmed batch was synced already; a late close error changes nothing. */
    if (j->fd >= 0 && close(j->fd) != 0) j->fd = -1;
    zc_buf_free(&j->buf);
    free(j);
}

static int jsonl_sink_write(void *impl, const bson_t *const *docs, size_t n, writer_reject_fn reject,
                            void *arg, char *err, size_t errlen) {
    return writer_jsonl_write_batch(impl, docs, n, reject, arg, err, errlen);
}

static void jsonl_sink_close(void *impl) { writer_jsonl_close(impl); }

void writer_jsonl_sink(writer_sink *s, writer_jsonl *j) {
    s->kind = "jsonl";
    s->impl = j;
    s->write_batch = jsonl_sink_write;
    s->close = jsonl_sink_close;
}
