/* parse_text.h -- text from pages: HTML to text, character references, whitespace, numbers in strings.
 *
 * The bottom of the parser: pure functions on bytes, no JSON, no spec, no state.
 * Output buffers are the caller's and never need to be longer than the input plus
 * a NUL (no function here lengthens a string). */
#ifndef PARSE_TEXT_H
#define PARSE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Copies s[0..len) to out with leading and trailing whitespace removed and every
 * inner run of whitespace (ASCII space, \t \n \r \v \f, U+00A0, U+3000) turned into
 * one space. out must hold len + 1 bytes (it may be s); it is NUL-terminated.
 * Returns its length. */
size_t parse_collapse_ws(const char *s, size_t len, char *out);

/* Sets *b / *e so that s[*b..*e) is s[0..len) without leading and trailing
 * whitespace (ASCII, U+00A0, U+3000). s is valid UTF-8. */
void parse_trim_ws(const char *s, size_t len, size_t *b, size_t *e);

/* Points *b / *e at s (NUL-terminated) without surrounding ASCII whitespace. */
void parse_trim_ascii(const char *s, const char **b, const char **e);

/* Parses a decimal string such as "8.9" or " 9 " into a finite double. Returns 0,
 * or -1 (empty, not a plain decimal number, infinite). */
int parse_decimal(const char *s, double *out);

/* Parses an optionally signed integer string such as "352" (at most 18 digits,
 * surrounding whitespace allowed). Returns 0, or -1. */
int parse_int_str(const char *s, int64_t *out);

/* Decodes HTML character references in s[0..len) into out (which must hold len + 1
 * bytes; the result is never longer, and out may be s): &amp; &lt; &nbsp; &mdash;
 * ... (named ones from a table of the common ones), &#39; &#x27;. Unknown or
 * unterminated references stay as they are; a numeric one naming NUL, a surrogate
 * or a value above U+10FFFF becomes U+FFFD. Returns the length written
 * (NUL-terminated). */
size_t parse_html_unescape(const char *s, size_t len, char *out);

/* Strips HTML tags from s[0..len) into out (len + 1 bytes), then decodes character
 * references: <br> and </p> become a newline, and so does <p> after text that does
 * not end in one (paragraphs written "a<p>b"); comments and the insides of <script>
 * and <style> go, a '<' that starts no tag stays. Returns the length. */
size_t parse_html_text(const char *s, size_t len, char *out);

#endif
