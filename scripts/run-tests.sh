#!/usr/bin/env bash
# run-tests.sh -- runs the C unit tests (cmocka) and the integration suite (pytest)
# and ends with one line "total: N passed, N failed, N skipped".
# usage: run-tests.sh [all|unit|integration|asan] [pytest args...]
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
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

if [ "$mode" != integration ]; then
  echo "== unit tests ($UNIT_DIR)"
  for t in "$UNIT_DIR"/test_*; do
    [ -x "$t" ] || continue
    # Needs a MongoDB-wire server: tests/integration/test_mongo_wire.py runs it
    # against the one the bench picked.
    [ "$(basename "$t")" = test_mongo_wire ] && continue
    out=$("$t" 2>&1); rc=$?
    echo "$out" | grep -E '^\[ *(PASSED|FAILED|SKIPPED|  OK|  RUN) *\]|^\[  ERROR|^\[ *FAILED' | grep -v '  RUN ' | sed "s|^|$(basename "$t"): |"
    p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    s=$(echo "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
    if [ $rc -ne 0 ] && [ "${f:-0}" = 0 ]; then
      echo "$out" | tail -20
      echo "$(basename "$t"): exited $rc"; failed=$((failed + 1))
    fi
  done
fi

if [ "$mode" != unit ]; then
  echo "== integration tests"
  xml=$(mktemp)
  # Absolute ZCRAWL_BIN so tests can chdir.
  [ -n "${ZCRAWL_BIN:-}" ] && export ZCRAWL_BIN=$(readlink -f "$ZCRAWL_BIN")
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
  if [ $rc -ne 0 ] && [ $rc -ne 5 ] && [ "$failed" = 0 ]; then failed=1; fi
fi

echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
