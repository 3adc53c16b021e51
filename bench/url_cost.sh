#!/usr/bin/env bash
# url_cost.sh -- builds bench/url_cost.c against lib/zc_url.c (on libcurl's URL parser)
# and the hand-written splitter it replaced (lib/zc_url.c at commit 444dcff, names
# prefixed old_), then runs it.
# usage: bench/url_cost.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=444dcff
out=build/bench/url_cost
tmp=$(mktemp -d /tmp/zc-url-cost-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p build/bench "$tmp/old"
git show "$OLD:lib/zc_url.c" > "$tmp/old/zc_url.c"
git show "$OLD:lib/zc_url.h" > "$tmp/old/zc_url.h"
ren=""
for f in zc_url_canonical zc_url_check zc_url_fingerprint zc_url_fp64 zc_url_host; do ren="$ren -D$f=old_$f"; done
CF="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Ilib $(pkg-config --cflags libcurl)"
# shellcheck disable=SC2086
cc $CF $ren -I"$tmp/old" -c -o "$tmp/old.o" "$tmp/old/zc_url.c"
# shellcheck disable=SC2086
cc $CF -o "$out" bench/url_cost.c lib/zc_url.c "$tmp/old.o" $(pkg-config --libs libcurl)
"$out" "${1:-7}"
