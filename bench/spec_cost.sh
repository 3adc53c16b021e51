#!/usr/bin/env bash
# spec_cost.sh -- builds bench/spec_cost.c against the spec parser and the old hard-coded
# book parser (parser/parse_book.c at commit 9cf8811, names prefixed old_), then runs it.
# usage: bench/spec_cost.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=9cf8811
out=build/bench/spec_cost
tmp=$(mktemp -d /tmp/zc-spec-cost-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p build/bench "$tmp/old"
git show "$OLD:parser/parse_book.c" > "$tmp/old/parse_book.c"
git show "$OLD:parser/parse_book.h" > "$tmp/old/parse_book.h"
ren=""
for f in parse_urls_init parse_urls_reset parse_urls_free parse_set_max_body parse_max_body parse_cleanup \
         parse_page_kind parse_url_book_id parse_list parse_detail parse_collapse_ws parse_iso8601_ms \
         parse_decimal parse_int_str; do ren="$ren -D$f=old_$f"; done
CF="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wno-format-truncation -Ilib $(pkg-config --cflags libcjson libbson-1.0 libcurl)"
LIBS="$(pkg-config --libs libcjson libbson-1.0 libcurl) -lm"
# shellcheck disable=SC2086
cc $CF $ren -I"$tmp/old" -c -o "$tmp/old.o" "$tmp/old/parse_book.c"
# shellcheck disable=SC2086
cc $CF -Iparser -Isitesim -o "$out" bench/spec_cost.c parser/spec*.c parser/parse_book.c parser/parse_json.c \
   parser/parse_text.c parser/parse_time.c parser/parse_url.c \
   sitesim/sim_catalog.c sitesim/sim_buf.c lib/zc_utf8.c lib/zc_json.c lib/zc_headers.c lib/zc_buf.c "$tmp/old.o" $LIBS
"$out" "${1:-7}"
