/* spec_field.h -- the fields of a document: their spec ("name", "from", "type", ...) and the conversions from JSON to BSON.
 *
 * fields_compile reads a spec's "fields" array into spec_field structs the caller
 * owns (spec_fields_free); spec_fields_put converts an item's values into a BSON
 * document by them. State: one scratch buffer for converted text, kept between
 * pages (spec_field_scratch_free). */
#ifndef SPEC_FIELD_H
#define SPEC_FIELD_H

#include <bson/bson.h>
#include <cjson/cJSON.h>

#include "spec_counts.h"
#include "spec_loader.h"
#include "spec_tpl.h"

#define SPEC_MAX_FIELDS   256 /* fields of one item (or of nested objects) */
#define SPEC_MAX_DATEFMTS 8   /* formats of one date field */

enum {
    SPEC_FT_STRING,
    SPEC_FT_ID,
    SPEC_FT_INTEGER,
    SPEC_FT_NUMBER,
    SPEC_FT_BOOLEAN,
    SPEC_FT_DATE,
    SPEC_FT_HTML,
    SPEC_FT_STRINGS,
    SPEC_FT_OBJECT,
    SPEC_FT_OBJECTS,
    SPEC_FT_COUNT
};

enum { SPEC_DF_ISO,
       SPEC_DF_EPOCH_S,
       SPEC_DF_EPOCH_MS,
       SPEC_DF_FORMAT };

typedef struct spec_datefmt {
    int kind;  /* SPEC_DF_* */
    char *fmt; /* as written; SPEC_DF_FORMAT: strptime-like */
} spec_datefmt;

typedef struct spec_field {
    char *name;     /* key in the document */
    spec_path from; /* where in the item */
    int type;
    int required;
    int collapse; /* string/strings/html: trim, collapse whitespace, drop empty */
    int entities; /* string/strings: decode HTML character references */
    int ndf;      /* date: its formats, tried in order */
    spec_datefmt df[SPEC_MAX_DATEFMTS];
    struct spec_field *sub; /* SPEC_FT_OBJECTS */
    int nsub;
    int slot; /* its counters (spec_counts.seen, .null, .swapped) */
} spec_field;

/* Compiles the array arr of field specs (jp names it) into *out / *nout, objects
 * nested from depth (0 at an item). Returns 0, or -1 (the load failed; what was
 * compiled is in *out for spec_fields_free). */
int spec_fields_compile(spec_loader *L, const char *jp, const cJSON *arr, spec_field **out, int *nout, int depth);
void spec_fields_free(spec_field *f, int n);

/* Appends every field of fs[0..n) read from src to d, counting into cx->counts and
 * telling cx->trace (either may be NULL). Returns 0, 1 when a required field is
 * missing or does not convert (a one-line reason in err), -1 when BSON refuses
 * (too large) or memory runs out. */
int spec_fields_put(bson_t *d, const cJSON *src, const spec_field *fs, int n, const spec_ctx *cx, char *err,
                    size_t errlen);

/* The name of a SPEC_FT_* type ("string"). */
const char *spec_field_type_name(int type);

/* Frees the scratch buffer the conversions keep between pages. */
void spec_field_scratch_free(void);

#endif
