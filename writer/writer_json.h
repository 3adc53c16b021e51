/* writer_json.h -- renders BSON documents as one line of relaxed extended JSON, fast.
 *
 * The JSON Lines sink renders every document it writes; libbson's renderer spends
 * most of its time validating UTF-8 again and growing strings byte by byte. This one
 * walks the document once into a buffer the caller owns. It knows the types the
 * parser produces (string, double, int32, int64, bool, null, date, document, array)
 * and says so when it meets another, so the caller can fall back to libbson. */
#ifndef WRITER_JSON_H
#define WRITER_JSON_H

#include <stddef.h>
#include <bson/bson.h>

#include "zc_buf.h"

#define WRITER_JSON_OK      0
#define WRITER_JSON_NOMEM   -1
#define WRITER_JSON_UNKNOWN 1 /* a type this renderer does not know, or corrupt BSON */

/* Appends doc to b as relaxed extended JSON on one line (no newline is added): doubles
 * as their shortest round-trip decimal ("8.0", never "8"), dates from 1970 to 9999 as
 * {"$date":"ISO-8601Z"}, others as {"$date":{"$numberLong":"ms"}}, non-finite doubles
 * as {"$numberDouble":"..."}. Strings are not checked for UTF-8 here (writer_doc_check
 * did). On any return but WRITER_JSON_OK, b->len is back where it was. */
int writer_json_append(zc_buf *b, const bson_t *doc);

#endif
