/* zc_signal.h -- SIGINT/SIGTERM/SIGHUP become a flag that event loops check.
 *
 * Handlers are installed without SA_RESTART, so a blocking poll returns EINTR and
 * the loop sees the flag at once. SIGPIPE is ignored. */
#ifndef ZC_SIGNAL_H
#define ZC_SIGNAL_H

/* Installs the handlers. Returns 0, or -1 if sigaction failed. */
int zc_signal_install(void);
/* Nonzero once SIGINT, SIGTERM or SIGHUP arrived; the value is the signal number. */
int zc_signal_stop_requested(void);
/* Requests a stop from inside the program (as if a signal had come). */
void zc_signal_request_stop(int sig);

/* "SIGINT", "SIGTERM", "SIGHUP", or "a signal" for any other number. */
const char *zc_signal_name(int sig);

#endif
