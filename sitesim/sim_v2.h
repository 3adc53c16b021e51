/* sim_v2.h -- the emulator's second API: the same books in another shape (docs/SITESIM.md).
 *
 *   GET /api/v2/records[?cursor=C][&size=N]  {"data": {"total", "records": [{"record": {"key", "title"}}]},
 *                                              "links": {"next": absolute URL or null}}
 *   GET /api/v2/records/{key}               {"data": {"record": {...}}} or 404
 *
 * Keys are strings ("bk-" + the book id in base 36); cursors are opaque (8 hex
 * digits); optional fields are left out rather than null; dates come as
 * "15.10.2019" and "Mar 21, 2020 09:45:13"; the introduction is HTML. Every
 * renderer appends to b (check b->oom afterwards). */
#ifndef SIM_V2_H
#define SIM_V2_H

#include <stddef.h>
#include <stdint.h>

#include "sim_buf.h"
#include "sim_catalog.h"

#define SIM_V2_PAGE 25 /* records per page unless size= says otherwise */

/* The key of the book with numeric id: "bk-" + base 36. cap >= 16. */
void sim_v2_key(uint32_t id, char *out, size_t cap);
/* The index of the book with key s[0..n), or -1 (not canonical, unknown). */
long sim_v2_find(const sim_catalog *c, const char *s, size_t n);
/* Reads cursor and size from a list query. Returns NULL, or why it is bad. */
const char *sim_v2_parse_query(const char *q, size_t n, long *offset, long *size);
/* A list page from offset; origin is "http://host:port" for the next link. */
void sim_v2_render_list(const sim_catalog *c, long offset, long size, const char *origin, sim_buf *b);
/* The record of book i (not missing). */
void sim_v2_render_record(const sim_catalog *c, long i, sim_buf *b);

#endif
