/* streamer.h -- the broker's two streamer devices (zguide): PULL -> PUSH for
 * pages and for documents, one zmq_proxy thread each, and the socket setup the
 * control socket shares with them. */
#ifndef BROKER_STREAMER_H
#define BROKER_STREAMER_H

#include <stddef.h>

#include "broker.h"

/* Opens a socket of type, sets its high-water marks, and binds it (with keys, a
 * CURVE server admitting the roles in peers, lib/zc_curve.h). Returns the
 * socket, or NULL with a reason in err. */
void *broker_bind_socket(void *ctx, int type, const char *endpoint, const char *peers, long hwm, char *err,
                         size_t errlen);
/* Binds the four data endpoints and starts one zmq_proxy thread per direction.
 * Returns 0, or -1 with a reason in err (sockets already bound are closed by
 * broker_streamers_stop). */
int broker_streamers_start(broker *b, char *err, size_t errlen);
/* Closes what start left unowned, shuts the context down and joins the threads. */
void broker_streamers_stop(broker *b);

#endif
