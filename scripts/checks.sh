# checks.sh -- PASS/FAIL bookkeeping of the deployment test scripts (sourced by
# test-docker.sh and test-swarm.sh; not run on its own).
#
# pass TEXT / fail TEXT count a check; check OK PASS-TEXT FAIL-TEXT (OK is 1 or 0)
# picks one; checks_finish NAME RC, from the scripts' EXIT trap, prints the time
# taken and "NAME: N passed, N failed" and exits 0 only when no check failed and
# the script itself ended with status 0.
passed=0; failed=0
t_start=$SECONDS
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { if [ "$1" = 1 ]; then pass "$2"; else fail "$3"; fi; }
checks_finish() {
    echo "(took $((SECONDS - t_start)) s)"
    [ "$2" -ne 0 ] && [ "$failed" = 0 ] && failed=1
    echo "$1: $passed passed, $failed failed"
    [ "$failed" = 0 ] && exit 0
    exit 1
}
