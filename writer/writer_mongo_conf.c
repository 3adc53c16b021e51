/* writer_mongo_conf.c -- the MongoDB sink's settings: names, write concern, checked before connecting. */
#include "writer_mongo_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int writer_mongo_check_db(const char *name, char *err, size_t errlen) {
    if (!name || !*name) {
        snprintf(err, errlen, "empty database name");
        return -1;
    }
    if (strlen(name) >= 64) {
        snprintf(err, errlen, "database name '%s' is longer than 63 bytes", name);
        return -1;
    }
    if (strpbrk(name, "/\\. \"$*<>:|?")) {
        snprintf(err, errlen, "database name '%s' holds one of / \\ . space \" $ * < > : | ?", name);
        return -1;
    }
    return 0;
}

int writer_mongo_check_coll(const char *name, char *err, size_t errlen) {
    if (!name || !*name) {
        snprintf(err, errlen, "empty collection name");
        return -1;
    }
    if (strlen(name) >= 128) {
        snprintf(err, errlen, "collection name is longer than 127 bytes");
        return -1;
    }
    if (strchr(name, '$') || strncmp(name, "system.", 7) == 0) {
        snprintf(err, errlen, "collection name '%s' holds '$' or starts with 'system.'", name);
        return -1;
    }
    return 0;
}

/* Sets wc's w from spec: "majority" or 1..1000. Returns 0, or -1 with a reason. */
static int mongo_wc_set_w(mongoc_write_concern_t *wc, const char *spec, char *err, size_t errlen) {
    if (strcmp(spec, "majority") == 0) {
        mongoc_write_concern_set_wmajority(wc, 0);
        return 0;
    }
    char *end;
    errno = 0;
    long w = strtol(spec, &end, 10);
    if (errno || end == spec || *end || w < 0 || w > 1000) {
        snprintf(err, errlen, "write concern '%s' is neither 'majority' nor a number 1..1000", spec);
        return -1;
    }
    if (w == 0) {
        snprintf(err, errlen, "write concern w=0 is never acknowledged, so no write could be confirmed");
        return -1;
    }
    mongoc_write_concern_set_w(wc, (int32_t)w);
    return 0;
}

mongoc_write_concern_t *writer_mongo_write_concern_new(const char *spec, const mongoc_write_concern_t *base,
                                                       int journal, long wtimeout_ms,
                                                       char *err, size_t errlen) {
    /* The driver has read w, journal and wtimeoutMS from the URI into base; a flag
     * that is given overrides its own part only. */
    mongoc_write_concern_t *wc = base ? mongoc_write_concern_copy(base) : mongoc_write_concern_new();
    if (!wc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (spec && *spec) {
        if (mongo_wc_set_w(wc, spec, err, errlen) != 0) goto err;
    } else {
        int32_t w = mongoc_write_concern_get_w(wc);
        if (w == MONGOC_WRITE_CONCERN_W_UNACKNOWLEDGED || w == MONGOC_WRITE_CONCERN_W_ERRORS_IGNORED) {
            snprintf(err, errlen, "the URI asks for w=0, which is never acknowledged, so no write could be confirmed");
            goto err;
        }
        /* The server's default w is its own (majority from MongoDB 5.0): say 1. */
        if (w == MONGOC_WRITE_CONCERN_W_DEFAULT) mongoc_write_concern_set_w(wc, 1);
    }
    if (journal) mongoc_write_concern_set_journal(wc, true);
    if (wtimeout_ms >= 0) mongoc_write_concern_set_wtimeout_int64(wc, (int64_t)wtimeout_ms);
    else if (mongoc_write_concern_get_wtimeout_int64(wc) <= 0)
        mongoc_write_concern_set_wtimeout_int64(wc, WRITER_MONGO_WTIMEOUT_MS);
    if (!mongoc_write_concern_is_acknowledged(wc)) {
        snprintf(err, errlen, "write concern is not acknowledged");
        goto err;
    }
    return wc;
err:
    mongoc_write_concern_destroy(wc);
    return NULL;
}

int writer_mongo_check_opts(const writer_mongo_opts *o, char *err, size_t errlen) {
    if (o->db && writer_mongo_check_db(o->db, err, errlen) != 0) return -1;
    if (o->collection && writer_mongo_check_coll(o->collection, err, errlen) != 0) return -1;
    mongoc_write_concern_t *wc = writer_mongo_write_concern_new(o->write_concern, NULL, o->journal,
                                                                o->wtimeout_ms, err, errlen);
    if (!wc) return -1;
    mongoc_write_concern_destroy(wc);
    return 0;
}
