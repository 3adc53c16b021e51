#!/usr/bin/env bash
# fuzz.sh -- builds the libFuzzer harnesses in tests/fuzz/ into build/fuzz/ and runs
# each for SECONDS (default 30) on a scratch copy of its seed corpus, so new inputs
# never land in the repository. Prints one summary line per harness and exits
# non-zero if any harness fails to build or finds a crash (leak, sanitizer report,
# failed check, timeout, out-of-memory). Crash inputs are kept in
# build/fuzz/artifacts/<name>/ with the run's log next to them.
# usage: fuzz.sh [SECONDS] [NAME...]      (NAME: parser, url, msg, spec, specpage, robots; default all)
# env: CLANG (default clang, else clang-14), FUZZ_JOBS (harnesses run in parallel,
#      default 1), FUZZ_KEEP=1 keeps the scratch folder.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

secs=${1:-30}
shift || true
case $secs in ''|*[!0-9]*) echo "fuzz.sh: error: SECONDS must be a number, got '$secs'" >&2; exit 2;; esac
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(parser url msg spec specpage robots)

CLANG=${CLANG:-}
if [ -z "$CLANG" ]; then
  for c in clang clang-14; do command -v "$c" >/dev/null && { CLANG=$c; break; }; done
fi
[ -n "$CLANG" ] || { echo "fuzz.sh: error: clang not found (needs clang with libFuzzer: libclang-rt-dev)" >&2; exit 2; }
PKG_CFLAGS=$(pkg-config --cflags libzmq libcjson libbson-1.0) || { echo "fuzz.sh: error: pkg-config failed" >&2; exit 2; }
PKG_LIBS=$(pkg-config --libs libzmq libcjson libbson-1.0)

OUT=build/fuzz
mkdir -p "$OUT"
scratch=$(mktemp -d /tmp/zc-fuzz-XXXXXX)
[ "${FUZZ_KEEP:-0}" = 1 ] || trap 'rm -rf "$scratch"' EXIT

# Sources each harness links: only what it exercises.
srcs_of() {
  case $1 in
    parser|spec|specpage) echo parser/parse_book.c parser/parse_json.c parser/parse_text.c parser/parse_time.c \
                                parser/parse_url.c parser/spec*.c lib/zc_utf8.c lib/zc_json.c lib/zc_headers.c \
                                lib/zc_buf.c ;;
    url)    echo lib/zc_url.c ;;
    msg)    echo lib/zc_msg.c ;;
    robots) echo lib/zc_robots.c ;;
    *)      echo "" ;;
  esac
}
# Libraries a harness needs beyond PKG_LIBS: the URL code splits with libcurl.
libs_of() {
  case $1 in
    url|parser|spec|specpage) pkg-config --libs libcurl ;;
    *)   echo "" ;;
  esac
}
# libFuzzer options per harness (max_len above ZC_URL_MAX so the length limit is reached).
opts_of() {
  case $1 in
    url) echo "-max_len=4200 -dict=tests/fuzz/url.dict" ;;
    msg) echo "-max_len=4096" ;;
    spec) echo "-max_len=8192 -dict=tests/fuzz/spec.dict" ;;
    specpage) echo "-max_len=16384" ;;
    robots) echo "-max_len=8192 -dict=tests/fuzz/robots.dict" ;;
    *)   echo "" ;;
  esac
}

# shellcheck disable=SC2054  # the commas belong to -fsanitize=
FLAGS=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Wall -Wextra -Werror -Ilib -Iparser "-DZC_SPECS_DIR=\"$PWD/specs\"")

build() {
  local n=$1 src=tests/fuzz/fuzz_$1.c
  [ -f "$src" ] || { echo "no harness $src"; return 1; }
  # shellcheck disable=SC2046,SC2086
  "$CLANG" "${FLAGS[@]}" $PKG_CFLAGS -o "$OUT/fuzz_$n" "$src" $(srcs_of "$n") \
    $PKG_LIBS $(libs_of "$n") -lpthread -lm > "$OUT/fuzz_$n.build.log" 2>&1
}

run() {
  local n=$1 dir="$scratch/$1" art="$OUT/artifacts/$1/" log="$OUT/fuzz_$1.log"
  mkdir -p "$dir/corpus" "$art"
  rm -f "$art"crash-* "$art"leak-* "$art"timeout-* "$art"oom-* "$art"slow-unit-*
  [ -d "tests/fuzz/corpus/$n" ] && cp -r "tests/fuzz/corpus/$n/." "$dir/corpus/"
  local seeds; seeds=$(find "$dir/corpus" -type f | wc -l)
  # shellcheck disable=SC2046
  (cd "$dir" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=64} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
     "$OLDPWD/$OUT/fuzz_$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
     -print_final_stats=1 -artifact_prefix="$OLDPWD/$art" $(opts_of "$n" | sed "s|-dict=|-dict=$OLDPWD/|") \
     corpus) > "$log" 2>&1
  local rc=$?
  local execs rate cov ft units arts
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE ' cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  ft=$(grep -oE ' ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  units=$(find "$dir/corpus" -type f | wc -l)
  arts=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | tr '\n' ' ')
  if [ $rc -eq 0 ] && [ -z "$arts" ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    printf 'fuzz_%-7s ok     %6ss execs=%s exec/s=%s cov=%s ft=%s corpus=%s->%s\n' \
      "$n" "$secs" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$seeds" "$units"
    return 0
  fi
  local why
  why=$(grep -m1 -oE 'ERROR: [A-Za-z]+: [^(]*|runtime error: .*|fuzz_[a-z]+: (check failed|not idempotent).*|SUMMARY: .*' "$log" | head -1)
  printf 'fuzz_%-7s CRASH  rc=%s execs=%s %s artifact=%s log=%s\n' \
    "$n" "$rc" "${execs:-?}" "${why:-?}" "${arts:-none}" "$log"
  return 1
}

fail=0
built=()
jobs=${FUZZ_JOBS:-1}
# Builds, FUZZ_JOBS at a time (each compiles its sources with clang); read in order.
for n in "${names[@]}"; do
  ( build "$n"; echo $? > "$scratch/$n.built" ) &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
done
wait
for n in "${names[@]}"; do
  if [ "$(cat "$scratch/$n.built" 2>/dev/null)" = 0 ]; then built+=("$n")
  else
    printf 'fuzz_%-7s BUILD FAILED (see %s)\n' "$n" "$OUT/fuzz_$n.build.log"
    tail -5 "$OUT/fuzz_$n.build.log" 2>/dev/null | sed 's/^/    /'
    fail=1
  fi
done

for n in "${built[@]}"; do
  if [ "$jobs" -gt 1 ]; then
    ( run "$n" > "$scratch/$n.summary"; echo $? > "$scratch/$n.rc" ) &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  else
    run "$n" || fail=1
  fi
done
if [ "$jobs" -gt 1 ]; then
  wait
  for n in "${built[@]}"; do
    cat "$scratch/$n.summary"
    [ "$(cat "$scratch/$n.rc" 2>/dev/null)" = 0 ] || fail=1
  done
fi
exit $fail
