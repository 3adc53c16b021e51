#!/usr/bin/env bash
# bench.sh -- `make bench`: races zcrawl against the original asyncio crawler, Scrapy
# and Colly on the book emulator; writes bench/results/{results.md,results.csv,chart.png}.
# Arguments go to bench/run_bench.py (--help); BENCH_BOOKS, BENCH_REPEAT,
# BENCH_SCENARIOS and BENCH_CONTENDERS shorten a run (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

# The Python contenders need Debian's aiohttp, motor, Scrapy, matplotlib, the Colly
# contender its Go modules (idempotent).
ZCRAWL_DEPS_BENCH=1 scripts/deps.sh
make -s all

# The Colly contender (bench/colly) into build/bench/colly-crawler; without Go,
# run_bench.py leaves it out and says so.
GO=$(command -v go || true)
[ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
if [ -n "$GO" ]; then
  mkdir -p build/bench
  (cd bench/colly && GOFLAGS=-mod=mod "$GO" build -buildvcs=false -o ../../build/bench/colly-crawler .) ||
    { echo "bench: error: building bench/colly (Colly) failed" >&2; exit 1; }
fi

for exe in bin/zcrawl-sitesim bin/zcrawl; do
  [ -x "$exe" ] || { echo "bench: error: $exe is missing (make all failed?)" >&2; exit 1; }
done

exec /usr/bin/python3 bench/run_bench.py "$@"
