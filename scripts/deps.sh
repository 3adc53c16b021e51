#!/usr/bin/env bash
# deps.sh -- installs what zcrawl needs from Debian's packages (and FerretDB, the
# test MongoDB-wire server, from the Go module proxy when Go is present).
# Enough for a bare Debian 12 that has only git, make and root (or sudo): the list
# includes pkg-config and ca-certificates, which such a system lacks.
# Idempotent: returns in about a second when everything is there. prometheus brings
# promtool (the alert rules' unit tests), chromium the status page's test; neither
# runs as a service here.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential pkg-config ca-certificates git
      libzmq3-dev libsodium-dev libcurl4-openssl-dev libcjson-dev libhiredis-dev libmongoc-dev libbson-dev
      libmicrohttpd-dev
      redis-server redis-tools libcmocka-dev
      python3-pytest python3-pytest-xdist python3-zmq python3-pymongo
      clang clang-format-14 libclang-rt-14-dev valgrind wrk iproute2 curl
      prometheus chromium python3-yaml)
[ "${ZCRAWL_DEPS_BENCH:-0}" = 1 ] && PKGS+=(python3-aiohttp python3-motor python3-scrapy python3-matplotlib hyperfine time)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "deps: error: installing packages needs root or sudo" >&2; exit 1; }
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# FerretDB v1.24.2 (SQLite backend) is the MongoDB-wire server of the test bench
# when neither MONGODB_URI nor mongod is available.
FERRET=.tools/bin/ferretdb
if [ -z "${MONGODB_URI:-}" ] && ! command -v mongod >/dev/null && [ ! -x "$FERRET" ]; then
  GO=$(command -v go || true)
  [ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
  if [ -n "$GO" ]; then
    echo "deps: building FerretDB v1.24.2 into .tools/bin (Go module proxy, a few minutes once)"
    # A plain `go install ...@v1.24.2` builds a binary that panics at start: the
    # module lacks build/version/version.txt. So fetch the module, add the file,
    # and build it from a scratch copy.
    mkdir -p .tools/bin
    dir=$("$GO" mod download -json github.com/FerretDB/FerretDB@v1.24.2 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$dir" ] || { echo "deps: go mod download of FerretDB failed" >&2; exit 1; }
    src=$(mktemp -d)
    trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
    cp -r "$dir/." "$src/"
    chmod -R u+w "$src"
    echo v1.24.2 > "$src/build/version/version.txt"
    (cd "$src" && GOFLAGS="-mod=mod -buildvcs=false" "$GO" build -o "$OLDPWD/.tools/bin/ferretdb" ./cmd/ferretdb)
    .tools/bin/ferretdb --version >/dev/null
  else
    echo "deps: no Go toolchain (go on PATH or /usr/local/go/bin/go): FerretDB not built, so the MongoDB tests will skip, each saying why (set MONGODB_URI or put mongod on PATH to run them)"
  fi
fi

# The bench's Colly contender (bench/colly, Colly v2.3.0 from the Go module proxy):
# its modules fetched once; scripts/bench.sh builds it. Without Go the bench leaves
# Colly out, saying so.
if [ "${ZCRAWL_DEPS_BENCH:-0}" = 1 ]; then
  GO=$(command -v go || true)
  [ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
  if [ -n "$GO" ]; then
    (cd bench/colly && GOFLAGS=-mod=mod "$GO" mod download) ||
      { echo "deps: go mod download of bench/colly (Colly) failed" >&2; exit 1; }
  else
    echo "deps: no Go toolchain (go on PATH or /usr/local/go/bin/go): the bench runs without its Colly contender"
  fi
fi
