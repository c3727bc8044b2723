/* test_core.c - unit tests of core: buffers, arena, strings, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core.h"

static void test_buf(void **state)
{
    (void)state;
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_puts(&b, "hello");
    moat_buf_printf(&b, " %d", 42);
    assert_string_equal(b.data, "hello 42");
    moat_buf_consume(&b, 6);
    assert_string_equal(b.data, "42");
    for (int i = 0; i < 10000; i++)
        moat_buf_putc(&b, 'x');
    assert_int_equal(b.len, 10002);
    moat_buf_free(&b);
}

static int cleanup_count;
static void count_cleanup(void *arg)
{
    (void)arg;
    cleanup_count++;
}

static void test_arena(void **state)
{
    (void)state;
    moat_arena *a = moat_arena_new();
    char *s = moat_arena_strdup(a, "abc");
    assert_string_equal(s, "abc");
    for (int i = 0; i < 1000; i++) {
        char *p = moat_arena_alloc(a, 100);
        memset(p, 'a', 100);
        assert_int_equal((uintptr_t)p % 16, 0);
    }
    char *big = moat_arena_alloc(a, 1 << 20);
    memset(big, 0, 1 << 20);
    moat_arena_defer(a, count_cleanup, NULL);
    moat_arena_reset(a);
    assert_int_equal(cleanup_count, 1);
    assert_string_equal(moat_arena_printf(a, "%s-%d", "x", 7), "x-7");
    moat_arena_defer(a, count_cleanup, NULL);
    moat_arena_free(a);
    assert_int_equal(cleanup_count, 2);
}

static void test_strings(void **state)
{
    (void)state;
    assert_true(moat_strieq_lit("Content-Length", 14, "content-length"));
    assert_false(moat_strieq_lit("Content-Lengt", 13, "content-length"));
    assert_true(moat_ct_equal("secret", 6, "secret", 6));
    assert_false(moat_ct_equal("secret", 6, "secreT", 6));
    assert_false(moat_ct_equal("secret", 6, "secret!", 7));
    assert_int_equal(moat_edit_distance("upstreem", "upstream"), 1);
    assert_int_equal(moat_edit_distance("", "abc"), 3);
    uint64_t v;
    assert_int_equal(moat_parse_u64("18446744073709551615", 20, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(moat_parse_u64("18446744073709551616", 20, &v), MOAT_ERANGE);
    assert_int_equal(moat_parse_u64("12a", 3, &v), MOAT_EINVAL);
    assert_int_equal(moat_parse_u64("", 0, &v), MOAT_EINVAL);
}

static void test_errors_and_ids(void **state)
{
    (void)state;
    assert_string_equal(moat_strerror(MOAT_ENOMEM), "out of memory");
    assert_string_equal(moat_strerror(0), "success");
    assert_string_equal(moat_strerror(12345), "unknown error");
    char a[MOAT_REQUEST_ID_LEN + 1], b[MOAT_REQUEST_ID_LEN + 1];
    moat_request_id(a);
    moat_request_id(b);
    assert_int_equal(strlen(a), MOAT_REQUEST_ID_LEN);
    assert_string_not_equal(a, b);
    /* never an option-looking id: 1 in 64 would start with '-' otherwise */
    for (int i = 0; i < 20000; i++) {
        moat_request_id(a);
        assert_true(a[0] != '-');
        assert_int_equal(
            strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            MOAT_REQUEST_ID_LEN);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_errors_and_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
