/* sim_server.h -- single-threaded epoll HTTP/1.1 server that delivers a sim_site's answers.
 *
 * Non-blocking sockets, keep-alive, pipelining (answers leave in request order),
 * and one timer heap for delayed answers and slow trickles, so any number of
 * delayed requests can wait at once without blocking the loop. */
#ifndef SIM_SERVER_H
#define SIM_SERVER_H

#include <stddef.h>

#include "sim_site.h"

typedef struct sim_server sim_server;

/* Listens on bind_addr:port (port 0 picks one) and serves site (borrowed; it must
 * outlive the server). Also raises the open-files limit to its hard maximum.
 * Returns the server, or NULL with a reason in err. */
sim_server *sim_server_open(sim_site *site, const char *bind_addr, long port,
                            char *err, size_t errlen);
/* The port actually listened on. */
int sim_server_port(const sim_server *sv);
/* Serves until zc_signal_stop_requested(). Returns 0, or -1 with a reason in err
 * when the event loop itself fails. */
int sim_server_run(sim_server *sv, char *err, size_t errlen);
/* Closes every connection (abandoning their answers) and frees sv. */
void sim_server_close(sim_server *sv);

#endif
