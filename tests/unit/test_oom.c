/* test_oom.c -- the broker's out-of-memory paths: what it cannot take whole it
 * does not take at all, so a lease never closes on half its outcome. Allocations
 * fail on demand through the linker (-Wl,--wrap=realloc, Makefile). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "peer_io.h"

void *__real_realloc(void *p, size_t n);

/* Reallocations that succeed before every later one fails; -1: none fails. */
static int reallocs_left = -1;

void *__wrap_realloc(void *p, size_t n) {
    if (reallocs_left == 0) return NULL;
    if (reallocs_left > 0) reallocs_left--;
    return __real_realloc(p, n);
}

/* A list of n URLs, '\n'-separated, malloc'd. */
static char *url_list(size_t n) {
    char *s = malloc(n * 32 + 1), *p = s;
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) p += sprintf(p, "http://a.example/b/%zu\n", i);
    return s;
}

/* A DISCOVERED list whose split ran out of memory half-way was taken cut short:
 * the URLs split so far went to the frontier, the parent's lease closed, and the
 * rest were lost. Now the split gives all of them or none. */
static void test_a_list_split_out_of_memory_gives_nothing(void **state) {
    (void)state;
    char *list = url_list(1000);
    char **urls = NULL;
    reallocs_left = 1; /* 64 pointers, grown once to 128, then no more */
    size_t n = broker_split_urls(list, &urls);
    reallocs_left = -1;
    assert_null(urls);
    assert_int_equal(n, 0);
    free(list);

    list = url_list(1000);
    n = broker_split_urls(list, &urls);
    assert_non_null(urls);
    assert_int_equal(n, 1000);
    assert_string_equal(urls[999], "http://a.example/b/999");
    free(urls);
    free(list);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_list_split_out_of_memory_gives_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
