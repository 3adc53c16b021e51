/* zc_signal.c -- SIGINT/SIGTERM/SIGHUP become a flag that event loops check. */
#include "zc_signal.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t sig_stop = 0;

static void sig_handler(int sig) { sig_stop = sig; }

int zc_signal_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sig_handler;
    if (sigemptyset(&sa.sa_mask) != 0) return -1;
    sa.sa_flags = 0; /* no SA_RESTART: blocking polls return EINTR */
    if (sigaction(SIGINT, &sa, NULL) != 0) return -1;
    if (sigaction(SIGTERM, &sa, NULL) != 0) return -1;
    /* A closed terminal or ssh session: stop as cleanly as on SIGTERM. */
    if (sigaction(SIGHUP, &sa, NULL) != 0) return -1;
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    if (sigemptyset(&ign.sa_mask) != 0) return -1;
    if (sigaction(SIGPIPE, &ign, NULL) != 0) return -1;
    return 0;
}

int zc_signal_stop_requested(void) { return (int)sig_stop; }

void zc_signal_request_stop(int sig) { sig_stop = sig; }

const char *zc_signal_name(int sig) {
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
    }
}
