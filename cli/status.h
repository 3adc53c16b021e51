/* status.h -- `zcrawl status`: one look at a crawl's state in Redis, as a table
 * or as one JSON object. */
#ifndef STATUS_H
#define STATUS_H

#include <stddef.h>

/* Exit codes of `zcrawl status`. */
enum {
    STATUS_EXIT_OK = 0,      /* read the crawl */
    STATUS_EXIT_NOCRAWL = 1, /* Redis answered, but holds no crawl of that name */
    STATUS_EXIT_USAGE = 2,   /* bad flag or bad --redis URI */
    STATUS_EXIT_REDIS = 4    /* Redis could not be reached or refused a read */
};

/* `zcrawl status [--redis URI] [--crawl NAME] [--json]`; argv[0] is the program,
 * argv[1] "status" (like every command of the launcher).
 * Prints to stdout; failures are one line on stderr. Returns an exit code above. */
int cmd_status(int argc, char **argv);

/* Writes the host[:port] of an absolute URL, lower-cased and without user info,
 * into out. Returns 0, or -1 when url has no "scheme://host" or out is too small. */
int status_url_host(const char *url, size_t len, char *out, size_t outlen);

/* Counts of URLs per host, kept while a list is sampled. */
typedef struct status_host {
    char *host; /* owned */
    long long n;
} status_host;

typedef struct status_hosts {
    status_host *slots; /* open addressing; host == NULL is free */
    size_t cap, used;
} status_hosts;

/* Adds one URL of host. Returns 0, or -1 when out of memory (the table stays valid). */
int status_hosts_add(status_hosts *h, const char *host);
/* Adds n URLs of host (a host's whole queue). Same returns. */
int status_hosts_add_n(status_hosts *h, const char *host, long long n);
/* Moves the counts into a new array sorted by count (descending, then host) and
 * empties the table. Returns the array (the caller frees it and each host with
 * status_hosts_free_sorted) with its length in *n, or NULL with *n = 0 when the
 * table is empty or memory runs out. */
status_host *status_hosts_sorted(status_hosts *h, size_t *n);
void status_hosts_free_sorted(status_host *v, size_t n);
/* Frees what the table holds; it can be used again afterwards. */
void status_hosts_free(status_hosts *h);

#endif
