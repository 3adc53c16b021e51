#!/usr/bin/env bash
# valgrind.sh -- a short crawl with every executable under valgrind memcheck.
#
# Starts a private redis-server, bin/zcrawl-sitesim (--books N), the broker and one
# fetcher, parser and writer (JSON Lines sink), each under
#   valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99
# waits for the batch crawl to end (the broker exits 0, the stages get SHUTDOWN and
# exit 0 themselves), stops the emulator with SIGTERM, then checks every valgrind
# log: no errors, "definitely lost: 0 bytes" (or no leak summary: all freed).
# Prints one summary line per executable and exits non-zero on any error, definite
# leak, bad exit code or unfinished crawl. Logs stay in build/valgrind/.
# usage: valgrind.sh [BOOKS]     (default 300)
# env: ZCRAWL_BIN (default bin/), VALGRIND_TIMEOUT (crawl deadline, s, default 600),
#      VALGRIND_EXTRA (more valgrind options, e.g. --track-origins=yes)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD

books=${1:-300}
case $books in ''|*[!0-9]*) echo "valgrind.sh: error: BOOKS must be a number, got '$books'" >&2; exit 2;; esac
BIN=$(readlink -f "${ZCRAWL_BIN:-bin}")
timeout_s=${VALGRIND_TIMEOUT:-600}
for t in valgrind redis-server redis-cli ss curl; do
  command -v "$t" >/dev/null || { echo "valgrind.sh: error: $t not found" >&2; exit 2; }
done
for e in broker fetcher parser writer sitesim; do
  [ -x "$BIN/zcrawl-$e" ] || { echo "valgrind.sh: error: $BIN/zcrawl-$e missing (run make)" >&2; exit 2; }
done

LOGS=$ROOT/build/valgrind
rm -rf "$LOGS"
mkdir -p "$LOGS"
scratch=$(mktemp -d /tmp/zc-valgrind-XXXXXX)
declare -A PID RC
redis_pid=

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  for n in "${!PID[@]}"; do
    local p=${PID[$n]}
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  done
  [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

used_ports=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    case $used_ports in *" $p "*) continue;; esac
    if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
      used_ports="$used_ports$p "
      echo "$p"
      return
    fi
  done
}

wait_port() { # port seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# shellcheck disable=SC2206  # VALGRIND_EXTRA is split into options on purpose
VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99
    --num-callers=40 ${VALGRIND_EXTRA:-})

start() { # name args...
  local n=$1; shift
  "${VG[@]}" --log-file="$LOGS/zcrawl-$n.vg.log" "$BIN/zcrawl-$n" "$@" > "$LOGS/zcrawl-$n.log" 2>&1 &
  PID[$n]=$!
}

# Waits for process NAME to exit within SECONDS; records its exit code in RC.
wait_exit() {
  local n=$1 secs=$2 p=${PID[$1]} i
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$p" 2>/dev/null; then return 1; fi
  wait "$p"
  RC[$n]=$?
  PID[$n]=
  return 0
}

fail=0
note() { echo "valgrind.sh: $*"; }

# --- redis ---
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --dir "$scratch" --save "" --appendonly no \
  --daemonize no > "$LOGS/redis.log" 2>&1 &
redis_pid=$!
wait_port "$rport" 10 || { note "redis-server did not start"; exit 1; }

# --- the emulator and the crawl ---
sport=$(free_port)
start sitesim --port "$sport" --books "$books" --log-level warn
wait_port "$sport" 60 || { note "sitesim did not listen on $sport"; cat "$LOGS/zcrawl-sitesim.log"; exit 1; }
start_url="http://127.0.0.1:$sport/api/book/?limit=18&offset=0"
# The ids whose detail page is a good book: exactly what the sink must hold.
curl -s --max-time 30 "http://127.0.0.1:$sport/__ids" | tr -d ' \n' | grep -o '"reachable":\[[^]]*\]' \
  | sed 's/^"reachable"://' | grep -o '"[^"]*"' | tr -d '"' | sort -u > "$scratch/want.ids"

ctl=$(free_port); pin=$(free_port); pout=$(free_port); din=$(free_port); dout=$(free_port)
ep() { echo "tcp://127.0.0.1:$1"; }
# Heartbeats at 2 s: valgrind slows everything ~20x, and a peer silent for three
# intervals would be declared dead.
HB=2000
t0=$(date +%s)
start broker --redis "redis://127.0.0.1:$rport" --crawl vg --heartbeat-ms "$HB" \
  --control "$(ep "$ctl")" --pages-in "$(ep "$pin")" --pages-out "$(ep "$pout")" \
  --docs-in "$(ep "$din")" --docs-out "$(ep "$dout")" --log-level info "$start_url"
start writer --broker "$(ep "$ctl")" --docs "$(ep "$dout")" --out "$scratch/books.jsonl" \
  --heartbeat-ms "$HB" --log-level info
start parser --broker "$(ep "$ctl")" --pages "$(ep "$pout")" --docs "$(ep "$din")" \
  --heartbeat-ms "$HB" --log-level info
start fetcher --broker "$(ep "$ctl")" --pages "$(ep "$pin")" --concurrency 16 --allow-private \
  --heartbeat-ms "$HB" --log-level info

if ! wait_exit broker "$timeout_s"; then
  note "crawl not done after ${timeout_s}s: stopping everything with SIGTERM"
  fail=1
  kill -TERM "${PID[broker]}" 2>/dev/null
  wait_exit broker 60 || true
fi
t1=$(date +%s)
[ "${RC[broker]:-}" = 0 ] || { note "broker exited ${RC[broker]:-?}"; fail=1; }

# The stages got SHUTDOWN from the broker and must leave by themselves.
for n in writer parser fetcher; do
  if ! wait_exit "$n" 120; then
    note "zcrawl-$n did not exit after SHUTDOWN: sending SIGTERM"
    fail=1
    kill -TERM "${PID[$n]}" 2>/dev/null
    wait_exit "$n" 60 || { kill -KILL "${PID[$n]}" 2>/dev/null; wait_exit "$n" 10; RC[$n]=killed; }
  fi
done
kill -TERM "${PID[sitesim]}" 2>/dev/null
wait_exit sitesim 60 || { note "zcrawl-sitesim ignored SIGTERM"; kill -KILL "${PID[sitesim]}"; wait_exit sitesim 10; RC[sitesim]=killed; fail=1; }

stats=$(redis-cli -p "$rport" --raw HGETALL zcrawl:{vg}:stats 2>/dev/null | paste -sd' ' -)
touch "$scratch/books.jsonl"
docs=$(grep -c . "$scratch/books.jsonl")
grep -o '"_id" *: *"[^"]*"' "$scratch/books.jsonl" | sed 's/.*: *"//; s/"$//' | sort -u > "$scratch/got.ids"
ids=$(wc -l < "$scratch/got.ids")
want=$(wc -l < "$scratch/want.ids")
lost=$(comm -23 "$scratch/want.ids" "$scratch/got.ids" | wc -l)
extra=$(comm -13 "$scratch/want.ids" "$scratch/got.ids" | wc -l)

# --- the verdicts ---
bytes_of() { # kind log -> bytes in the LEAK SUMMARY line, or 0 when there is none
  local v
  v=$(grep -E "==[0-9]+== +$1 lost:" "$2" | tail -1 | sed -E 's/.*lost: ([0-9,]+) bytes.*/\1/' | tr -d ,)
  echo "${v:-0}"
}
for n in broker fetcher parser writer sitesim; do
  log=$LOGS/zcrawl-$n.vg.log
  rc=${RC[$n]:-?}
  errs=$(grep -E '== ERROR SUMMARY:' "$log" | tail -1 | sed -E 's/.*ERROR SUMMARY: ([0-9,]+) errors.*/\1/' | tr -d ,)
  def=$(bytes_of definitely "$log"); ind=$(bytes_of indirectly "$log"); pos=$(bytes_of possibly "$log")
  reach=$(grep -E '== +still reachable:' "$log" | tail -1 | sed -E 's/.*reachable: ([0-9,]+) bytes.*/\1/' | tr -d ,)
  ok=ok
  if [ -z "$errs" ]; then ok=FAIL; errs="?(no ERROR SUMMARY)"
  elif [ "$errs" != 0 ] || [ "$def" != 0 ] || [ "$rc" != 0 ]; then ok=FAIL; fi
  [ "$ok" = ok ] || fail=1
  printf 'valgrind zcrawl-%-8s %-4s rc=%s errors=%s definitely=%sB indirectly=%sB possibly=%sB reachable=%sB log=%s\n' \
    "$n" "$ok" "$rc" "$errs" "$def" "$ind" "$pos" "${reach:-0}" "${log#"$ROOT"/}"
  if [ "$ok" != ok ]; then
    # The first three errors / definite leaks with their stacks, to start from.
    awk '/== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and dest|Argument|Process terminating)|definitely lost in loss record/{p=1}
         p{print; if (/^==[0-9]+== *$/) {p=0; if (++n == 3) exit}}' "$log" | head -60 | sed 's/^/    /'
  fi
done
if [ "$want" -eq 0 ] || [ "$lost" -ne 0 ] || [ "$extra" -ne 0 ]; then
  note "crawl incomplete: $ids distinct documents, sitesim has $want reachable books: $lost lost, $extra unexpected"
  fail=1
fi
printf 'valgrind crawl: %s books (%s reachable), %s documents (%s distinct, %s lost) in %ss; stats: %s\n' \
  "$books" "$want" "$docs" "$ids" "$lost" "$((t1 - t0))" "$stats"
exit $fail
