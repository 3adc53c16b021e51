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

#endif
