/* writer_doc.h -- the checks a DOC's BSON must pass before it reaches a sink. */
#ifndef WRITER_DOC_H
#define WRITER_DOC_H

#include <stddef.h>
#include <stdint.h>

#define WRITER_DOC_MAX   (16 * 1024 * 1024) /* MongoDB's BSON document limit */
#define WRITER_DOC_DEPTH 100                /* MongoDB's nesting limit for stored documents */

/* Checks that data[0..len) is one whole BSON document of at most WRITER_DOC_MAX
 * bytes and WRITER_DOC_DEPTH levels, with valid UTF-8 in keys and string values,
 * no empty, '$'-leading or dotted keys (the mongo-c-driver's checks for a replacement
 * document, applied for both sinks so that either accepts what the other does), and
 * a non-empty string `_id`. Never reads outside data[0..len). Returns 0, or -1 with
 * a one-line reason in err. */
int writer_doc_check(const uint8_t *data, size_t len, char *err, size_t errlen);

#endif
