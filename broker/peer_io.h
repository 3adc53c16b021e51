/* peer_io.h -- the broker's I/O with its peers on the ROUTER: sending, counting
 * a bad message, and reading what a peer sent (frames, URL lists, text for a
 * log line). The bottom of the broker's layers: it calls only dispatch. */
#ifndef BROKER_PEER_IO_H
#define BROKER_PEER_IO_H

#include <stddef.h>

#include "broker.h"

/* Sends a message to a peer without blocking; a full or gone peer is logged at
 * debug level and the message dropped. */
void broker_send(broker *b, int peer, zc_msg_type type, const zc_frame *f, int n);
/* SHUTDOWN to every known peer (dropped where it cannot go now). */
void broker_shutdown_stages(broker *b);
/* Counts and logs a message that cannot be used (event=bad_message). */
void broker_bad_message(broker *b, const char *why);

/* Frame i as a malloc'd C string (the caller frees it), or NULL when it holds a
 * NUL byte or memory runs out. */
char *broker_frame_dup(const zc_msg *m, int i);
/* Splits a '\n'-separated URL frame (buf, changed in place) into a malloc'd
 * array of pointers into buf (the caller frees the array). Returns the count;
 * *out is NULL (and the count 0) when out of memory. */
size_t broker_split_urls(char *buf, char ***out);
/* Copies s (NULL: "") into out as one line of plain text to keep (a dead
 * letter's reason): control bytes, quotes and backslashes become '?'; cut to fit
 * len. A log line quotes what a peer sent with zc_log_q instead. */
void broker_safe_text(char *out, size_t len, const char *s);

#endif
