/* fetch_loop.h -- the fetcher's single event loop: curl multi + ZeroMQ on one epoll.
 *
 * One fetch_loop owns everything for the life of the process: the ZeroMQ context,
 * the event base (epoll, curl multi: fetch_event), the transfers (fetch_pool), the
 * link to the broker (fetch_link) and the pages socket (fetch_pages). Each turn it
 * waits for a ready descriptor or a deadline, feeds curl_multi_socket_action,
 * reports what finished (DONE, PAGE), gives freed slots back as credit, and starts
 * the JOBs that arrived. Credit is withheld while pages wait for the pages socket
 * or the page bytes held weigh more than --max-held-bytes. */
#ifndef FETCH_LOOP_H
#define FETCH_LOOP_H

#include <stddef.h>

#include "fetch_config.h"

typedef struct fetch_loop fetch_loop;

/* Creates the loop: ZeroMQ context and sockets (HELLO is sent here), epoll set,
 * curl multi handle. cfg's strings must outlive the loop. Returns NULL with a
 * one-line reason in err (bad endpoint, out of memory, a library call failed).
 * curl_global_init() must have been called. */
fetch_loop *fetch_loop_new(const fetch_config *cfg, char *err, size_t errlen);
/* Runs until SHUTDOWN from the broker or SIGINT/SIGTERM (zc_signal), then drains
 * for at most drain_ms and answers the rest with DONE retry "shutdown". Returns 0
 * after a clean drain, or -1 with a reason in err when the loop itself failed
 * (epoll or curl multi errors). */
int fetch_loop_run(fetch_loop *l, char *err, size_t errlen);
/* Frees everything the loop owns; aborts transfers still running. NULL is fine. */
void fetch_loop_free(fetch_loop *l);

#endif
