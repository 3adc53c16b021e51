#!/usr/bin/env bash
# spec-books.sh -- writes parser/spec_books.c, the parser's built-in copy of specs/books.json
# (run it after editing the spec; tests/unit/test_spec.c fails while the two differ).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo '/* spec_books.c -- the built-in spec: the text of specs/books.json, written by scripts/spec-books.sh. */'
  echo '#include "parse_book.h"'
  echo
  echo 'const char spec_books_json[] ='
  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n"/' specs/books.json
  echo ';'
} > parser/spec_books.c.tmp
mv parser/spec_books.c.tmp parser/spec_books.c
