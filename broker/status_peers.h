/* status_peers.h -- the broker's peers as JSON for the stats hash (field peers). */
#ifndef BROKER_STATUS_PEERS_H
#define BROKER_STATUS_PEERS_H

#include <stdint.h>

#include "dispatch.h"
#include "zc_buf.h"

/* Renders up to ZC_CS_PEERS_MAX peers that said HELLO into out (emptied first) as
 * a NUL-terminated JSON array of {"name","role","state" (live, silent, gone),
 * "seen" (wall ms it was last heard), "credit","jobs"[,"condition","detail"]};
 * peer-supplied text is escaped. now and wall are the same instant on the
 * monotonic and the wall clock. Returns 0, or -1 when out of memory. */
int broker_peers_json(dispatch *d, int64_t now, int64_t wall, zc_buf *out);

#endif
