/* writer_doc.h -- the checks a DOC's BSON must pass before it reaches a sink. */
#ifndef WRITER_DOC_H
#define WRITER_DOC_H

#include <stddef.h>
#include <stdint.h>

#define WRITER_DOC_MAX (16 * 1024 * 1024) /* MongoDB's BSON document limit */
#define WRITER_DOC_DEPTH 100              /* MongoDB's nesting limit for stored documents */

/* The key checks both sinks apply (the mongo-c-driver's own checks for a
 * replacement document), so a document either sink accepts, the other accepts. */
#define WRITER_DOC_VFLAGS \
    (BSON_VALIDATE_UTF8 | BSON_VALIDATE_EMPTY_KEYS | BSON_VALIDATE_DOLLAR_KEYS | BSON_VALIDATE_DOT_KEYS)

/* Checks that data[0..len) is one whole BSON document of at most WRITER_DOC_MAX
 * bytes and WRITER_DOC_DEPTH levels, with valid UTF-8 in keys and string values,
 * no empty, '$'-leading or dotted keys, and a non-empty string `_id`. Never reads outside data[0..len). Returns 0, or -1 with a one-line
 * reason in err. */
int writer_doc_check(const uint8_t *data, size_t len, char *err, size_t errlen);

#endif
