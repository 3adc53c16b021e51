#!/bin/sh
# healthcheck.sh -- cheap liveness checks for the zcrawl image (zcrawl-healthcheck).
#
#   zcrawl-healthcheck broker    the control port listens, and the broker's stats hash
#                                in Redis was written recently (its loop runs and Redis
#                                answers); state=done counts as healthy
#   zcrawl-healthcheck fetcher|parser|writer
#                                a TCP connection to the broker's control port is up
#   zcrawl-healthcheck sitesim   the emulator's port listens
#
# Reads only /proc and, for the broker, one HGET with redis-cli. Exits 0 or 1 with
# one line saying why.
set -eu

ok()   { echo "healthy: $*"; exit 0; }
fail() { echo "unhealthy: $*"; exit 1; }

# port_of ENDPOINT DEFAULT: the port of tcp://host:port (default when unset/odd).
port_of() {
    p=${1##*:}
    case "$p" in ''|*[!0-9]*) p=$2 ;; esac
    echo "$p"
}

# tcp_state HEXPORT STATE local|remote: succeeds when /proc/net/tcp{,6} has a
# socket with that local/remote port in that state (0A listen, 01 established).
tcp_state() {
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v port="$1" -v st="$2" -v side="$3" '
        NR > 0 && $4 == st {
            split(side == "local" ? $2 : $3, a, ":")
            if (toupper(a[2]) == port) { found = 1; exit }
        }
        END { exit found ? 0 : 1 }'
}

hexport() { printf '%04X' "$1"; }

stage=${1:-${ZCRAWL_STAGE:-}}
case "$stage" in
    broker)
        port=$(port_of "${ZCRAWL_CONTROL:-tcp://*:5555}" 5555)
        tcp_state "$(hexport "$port")" 0A local || fail "nothing listens on control port $port"
        crawl=${ZCRAWL_CRAWL:-default}
        redis=${ZCRAWL_REDIS:-redis://127.0.0.1:6379}
        # The password of a URI without one, as the broker reads it (never a flag).
        if [ -n "${ZCRAWL_REDIS_PASSWORD_FILE:-}" ] && [ -z "${REDISCLI_AUTH:-}" ]; then
            REDISCLI_AUTH=$(cat "$ZCRAWL_REDIS_PASSWORD_FILE") || fail "cannot read $ZCRAWL_REDIS_PASSWORD_FILE"
            export REDISCLI_AUTH
        fi
        out=$(redis-cli -u "$redis" --no-auth-warning --raw HMGET "zcrawl:{$crawl}:stats" updated_at state 2>&1) ||
            fail "redis-cli: $out"
        updated=$(echo "$out" | sed -n 1p)
        state=$(echo "$out" | sed -n 2p)
        [ "$state" = "done" ] && ok "crawl $crawl is done"
        case "$updated" in ''|*[!0-9]*) fail "no stats for crawl $crawl yet ($out)" ;; esac
        now=$(( $(date +%s) * 1000 ))
        max=${ZCRAWL_HEALTH_STALE_MS:-30000}
        age=$(( now - updated ))
        [ "$age" -le "$max" ] || fail "stats of crawl $crawl are ${age} ms old"
        ok "crawl $crawl state=$state stats ${age} ms old"
        ;;
    fetcher|parser|writer)
        port=$(port_of "${ZCRAWL_BROKER:-tcp://127.0.0.1:5555}" 5555)
        tcp_state "$(hexport "$port")" 01 remote || fail "no connection to the broker's port $port"
        ok "connected to the broker's port $port"
        ;;
    sitesim)
        port=${ZCRAWL_SITESIM_PORT:-8080}
        tcp_state "$(hexport "$port")" 0A local || fail "nothing listens on port $port"
        ok "listening on $port"
        ;;
    *)
        echo "usage: zcrawl-healthcheck broker|fetcher|parser|writer|sitesim" >&2
        exit 2
        ;;
esac
