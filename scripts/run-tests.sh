#!/usr/bin/env bash
# run-tests.sh -- runs the C unit tests (cmocka) and the integration suite (pytest)
# and ends with one line "total: N passed, N failed, N skipped".
# usage: run-tests.sh [all|unit|integration|asan] [pytest args...]
# ZCRAWL_TEST_JOBS: pytest-xdist workers for the integration tests (default two a core,
# one a core for asan; 1: no xdist).
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
shift || true
PY=/usr/bin/python3
passed=0; failed=0; skipped=0
UNIT_DIR=build/tests
if [ "$mode" = asan ]; then
  UNIT_DIR=build/asan/tests
  export ZCRAWL_BIN=build/asan/bin
  # A quarantine of 16 MB, not ASan's 256: freed memory waits there before it goes
  # back, and test_security's 200 MiB message would seem kept by the broker
  # (RSS 255 MB after, its bound 84); 16 MB still catches a use after free.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:quarantine_size_mb=16}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

if [ "$mode" != integration ]; then
  echo "== unit tests ($UNIT_DIR)"
  # All at once (test_curve waits on handshakes most of its 8 s), read in order.
  udir=$(mktemp -d)
  for t in "$UNIT_DIR"/test_*; do
    [ -x "$t" ] || continue
    # Needs a MongoDB-wire server: tests/integration/test_mongo_wire.py runs it
    # against the one the bench picked.
    [ "$(basename "$t")" = test_mongo_wire ] && continue
    ( "$t" > "$udir/$(basename "$t").out" 2>&1; echo $? > "$udir/$(basename "$t").rc" ) &
  done
  wait
  for t in "$UNIT_DIR"/test_*; do
    [ -f "$udir/$(basename "$t").rc" ] || continue
    out=$(cat "$udir/$(basename "$t").out"); rc=$(cat "$udir/$(basename "$t").rc")
    echo "$out" | grep -E '^\[ *(PASSED|FAILED|SKIPPED|  OK|  RUN) *\]|^\[  ERROR|^\[ *FAILED' | grep -v '  RUN ' | sed "s|^|$(basename "$t"): |"
    p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    s=$(echo "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
    if [ $rc -ne 0 ]; then
      # What a failed check printed besides cmocka's status lines (fail_msg's text).
      echo "$out" | grep -vE '^\[ *(PASSED|FAILED|SKIPPED|  OK|  RUN|==========) *\]' | tail -20 |
        sed "s|^|$(basename "$t"): |"
      if [ "${f:-0}" = 0 ]; then
        echo "$(basename "$t"): exited $rc"; failed=$((failed + 1))
      fi
    fi
  done
  rm -rf "$udir"
fi

# One pytest run: tests/integration with the arguments given, its junit counts
# added to the totals. A run that fails without a failed test counts one.
pytest_pass() {
  local xml rc p f s
  xml=$(mktemp)
  (cd tests/integration && $PY -m pytest -q -p no:cacheprovider --junitxml="$xml" "$@")
  rc=$?
  if [ -s "$xml" ]; then
    read -r p f s < <($PY - "$xml" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
suites = [r] if r.tag == "testsuite" else list(r)
t = sum(int(x.get("tests", 0)) for x in suites)
f = sum(int(x.get("failures", 0)) + int(x.get("errors", 0)) for x in suites)
s = sum(int(x.get("skipped", 0)) for x in suites)
print(t - f - s, f, s)
PYEOF
)
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  fi
  rm -f "$xml"
  if [ $rc -ne 0 ] && [ $rc -ne 5 ] && [ "${f:-0}" = 0 ]; then failed=$((failed + 1)); fi
}

if [ "$mode" != unit ]; then
  # Absolute ZCRAWL_BIN so tests can chdir.
  [ -n "${ZCRAWL_BIN:-}" ] && export ZCRAWL_BIN=$(readlink -f "$ZCRAWL_BIN")
  # The tests are independent (own ports, folders, Redis): ZCRAWL_TEST_JOBS pytest-xdist
  # workers run them, two a core (most of a test's time is waiting on its processes;
  # under ASan, which costs the stages two to three times the CPU, one a core), then
  # the tests marked serial (CPU time, latency: conftest.py) run alone. Arguments
  # that choose markers or workers themselves get one plain run.
  ncpu=$(nproc 2>/dev/null || echo 2)
  if [ "$mode" = asan ]; then jobs=$ncpu; else jobs=$((2 * ncpu)); fi
  jobs=${ZCRAWL_TEST_JOBS:-$jobs}
  own=0
  for a in "$@"; do case $a in -m|-m*|-n|-n*|--numprocesses*|-p) own=1 ;; esac; done
  if [ "$jobs" -gt 1 ] && [ $own = 0 ] && $PY -c 'import xdist' 2>/dev/null; then
    echo "== integration tests ($jobs in parallel)"
    pytest_pass -n "$jobs" -m "not serial" "$@"
    echo "== integration tests marked serial (one at a time)"
    pytest_pass -m serial "$@"
  else
    echo "== integration tests"
    pytest_pass "$@"
  fi
fi

echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
