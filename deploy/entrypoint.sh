#!/bin/sh
# entrypoint.sh -- the zcrawl image's entrypoint: the first word picks the program.
#
#   broker|fetcher|parser|writer|sitesim [flags]   exec zcrawl-<word> [flags]
#   zcrawl [flags]                                  exec the launcher
#   healthcheck <stage>                             exec zcrawl-healthcheck
#   help                                            this text
#   -...                                            flags for $ZCRAWL_STAGE
#   anything else                                   exec'd as given (e.g. sh)
#
# Every stage reads its settings from ZCRAWL_* environment variables as well as
# flags; `docker run IMAGE <stage> --help` lists them.
set -eu

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    echo
    echo "stages: broker fetcher parser writer sitesim (and the launcher, zcrawl)"
}

if [ $# -eq 0 ]; then
    if [ -n "${ZCRAWL_STAGE:-}" ]; then set -- "$ZCRAWL_STAGE"; else set -- help; fi
fi

case "$1" in
    broker|fetcher|parser|writer|sitesim)
        stage=$1; shift
        exec "/usr/local/bin/zcrawl-$stage" "$@" ;;
    zcrawl)
        shift
        exec /usr/local/bin/zcrawl "$@" ;;
    healthcheck)
        shift
        exec /usr/local/bin/zcrawl-healthcheck "$@" ;;
    help)
        usage ;;
    -*)
        if [ -z "${ZCRAWL_STAGE:-}" ]; then
            case "$1" in
                -h|--help) usage; exit 0 ;;
            esac
            echo "zcrawl-entrypoint: error: flags given but no stage (set ZCRAWL_STAGE or name it first)" >&2
            exit 2
        fi
        exec "/usr/local/bin/zcrawl-$ZCRAWL_STAGE" "$@" ;;
    *)
        exec "$@" ;;
esac
