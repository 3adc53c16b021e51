/* main.c -- zcrawl: the launcher's commands, one line each in COMMANDS. `run`
 * crawls with a whole local pipeline, `demo` does it against a fresh emulator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keygen.h"
#include "status.h"
#include "try.h"
#include "zc_flags.h"
#include "zc_log.h"

/* A command is int cmd_NAME(argc, argv) with argv[0] the program and argv[1] the
 * command's name; it parses its own flags (--help included) and returns the exit
 * code. A new command is one line here (its prototype in cli.h or its own header). */
static const struct cli_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *synopsis;
    const char *summary;
} COMMANDS[] = {
    { "run", cmd_run, "run [flags] START_URL... | --seeds FILE",
      "crawl from the START_URLs with a local pipeline; the same command again resumes" },
    { "demo", cmd_demo, "demo [flags]", "the same against a freshly started zcrawl-sitesim (the book emulator)" },
    { "status", cmd_status, "status [--redis URI] [--crawl NAME] [--json]",
      "a crawl's state, queues and counters from its Redis" },
    { "keygen", cmd_keygen, "keygen [--force] DIR", "CURVE keys for stages on several hosts (deploy/README.md)" },
    { "try", cmd_try, "try [--spec FILE] [--page-url URL] [--link VALUE] URL|FILE",
      "what one page yields under a spec: documents, URLs, and every field found and converted, or why not" },
};

#define NCOMMANDS (sizeof(COMMANDS) / sizeof(*COMMANDS))

/* The commands, then the flags of run and demo (each command's --help has its own). */
static void usage(FILE *f) {
    char *summary = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&summary, &len);
    if (!m) {
        fprintf(f, "usage: %s COMMAND [flags]\n", CLI_PROG);
        return;
    }
    fprintf(m, "commands (%s COMMAND --help lists a command's flags):\n", CLI_PROG);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(m, "  %-8s %s\n           %s %s\n", COMMANDS[i].name, COMMANDS[i].summary, CLI_PROG,
                COMMANDS[i].synopsis);
    fprintf(m, "\nexit codes of run and demo: 0 complete, 1 complete with dead letters, 2 usage error,\n"
               "3 stopped (resumable), 4 failed (README, \"Exit codes\"). The flags below are run's and demo's.");
    if (fclose(m) != 0) {
        free(summary);
        summary = NULL;
    }
    cli_conf_usage(f, "COMMAND [flags]", summary);
    free(summary);
}

int main(int argc, char **argv) {
    zc_log_init("zcrawl", ZC_LOG_WARN);
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        zc_flags_print_version(stdout, CLI_PROG);
        return 0;
    }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc, argv);
    zc_die(CLI_EXIT_USAGE, CLI_PROG, "unknown command '%s' (see %s --help)", argv[1], CLI_PROG);
}
