/* test_core.c - unit tests of core: buffers, arena, strings, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
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

/* s[0..n) escaped as one field (flags 0) or as text. */
static char *esc(const char *s, size_t n, unsigned flags)
{
    moat_buf b;
    moat_buf_init(&b);
    moat_term_escape(&b, s, n, flags);
    assert_non_null(b.data);
    assert_int_equal(strlen(b.data), b.len); /* no NUL passes through */
    return moat_buf_steal(&b);
}

static void expect_esc(const char *in, size_t n, const char *want)
{
    char *got = esc(in, n, 0);
    assert_string_equal(got, want);
    free(got);
}

static void test_term_escape_classes(void **state)
{
    (void)state;
    /* C0: ESC sequences, BEL, NUL, CR/LF/TAB by name */
    expect_esc("a\x1b[2Jb", 6, "a\\x1b[2Jb");
    expect_esc("\x1b]0;title\x07", 10, "\\x1b]0;title\\x07");
    expect_esc("x\0y", 3, "x\\x00y");
    expect_esc("1\r\n2\t3", 6, "1\\r\\n2\\t3");
    expect_esc("\x01\x1f", 2, "\\x01\\x1f");
    /* DEL */
    expect_esc("\x7f", 1, "\\x7f");
    /* C1 as UTF-8 (U+009B CSI, U+0085 NEL) and as raw bytes (not UTF-8) */
    expect_esc("\xc2\x9b"
               "31m",
               5, "\\u009b31m");
    expect_esc("\xc2\x85", 2, "\\u0085");
    expect_esc("\x9b"
               "2J\x80\x9f",
               5, "\\x9b2J\\x80\\x9f");
    /* invalid UTF-8: lone continuation, truncated, overlong, surrogate, > U+10FFFF */
    expect_esc("\xc3", 1, "\\xc3");
    expect_esc("\xe2\x82", 2, "\\xe2\\x82");
    expect_esc("\xc0\xaf", 2, "\\xc0\\xaf");
    expect_esc("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");
    expect_esc("\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80");
    expect_esc("\xff\xfe", 2, "\\xff\\xfe");
    /* bidi overrides, isolates, marks; line and paragraph separators */
    expect_esc("\xe2\x80\xae"
               "evil",
               7, "\\u202eevil");
    expect_esc("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", 12,
               "\\u202a\\u202b\\u202c\\u202d");
    expect_esc("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", 12,
               "\\u2066\\u2067\\u2068\\u2069");
    expect_esc("\xe2\x80\xa8\xe2\x80\xa9", 6, "\\u2028\\u2029");
    expect_esc("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", 8, "\\u200e\\u200f\\u061c");
    /* the escape character itself, so that an escape cannot be forged */
    expect_esc("\\x1b", 4, "\\\\x1b");
    expect_esc("", 0, "");
    /* a long field with an escape at the very end is neither cut nor lost */
    size_t big = 100000;
    char *in = malloc(big);
    assert_non_null(in);
    memset(in, 'a', big);
    in[big - 1] = '\x1b';
    char *got = esc(in, big, 0);
    assert_int_equal(strlen(got), big - 1 + 4);
    assert_string_equal(got + big - 1, "\\x1b");
    free(got);
    free(in);
}

static void test_term_escape_keeps_utf8(void **state)
{
    (void)state;
    /* é, the euro sign, CJK, an emoji (4 bytes), Hebrew and Arabic letters,
     * U+00A0 (just past C1) and U+202F (just past the overrides) */
    const char *ok = "caf\xc3\xa9 \xe2\x82\xac \xe4\xb8\xad \xf0\x9f\x98\x80 \xd7\xa9 \xd8\xb9 "
                     "\xc2\xa0\xe2\x80\xaf";
    expect_esc(ok, strlen(ok), ok);
    moat_arena *a = moat_arena_new();
    assert_string_equal(moat_term_str(a, "user\x1b[2J\xc3\xa9"), "user\\x1b[2J\xc3\xa9");
    assert_null(moat_term_str(a, NULL));
    moat_arena_free(a);
}

static void test_term_escape_text_mode(void **state)
{
    (void)state;
    const char *in = "line 1\tx = \"a\\n\"\nline 2\x1b[2J\r\xe2\x80\xae\r\n";
    char *got = esc(in, strlen(in), MOAT_TERM_TEXT);
    assert_string_equal(got, "line 1\tx = \"a\\n\"\nline 2\\x1b[2J\\r\\u202e\r\n");
    free(got);
}

static void test_json_unsafe_code_points(void **state)
{
    (void)state;
    moat_buf b;
    moat_buf_init(&b);
    const char *s = "a\x1b\xc2\x9b\xe2\x80\xae\xe2\x80\xa8\xc3\xa9\xf0\x9f\x98\x80";
    moat_buf_put_json_string(&b, s, strlen(s));
    assert_string_equal(b.data, "\"a\\u001b\\u009b\\u202e\\u2028\xc3\xa9\xf0\x9f\x98\x80\"");
    moat_buf_reset(&b);
    /* another encoder's JSON: unsafe code points escaped, the rest byte for byte */
    const char *j = "{\"k\": \"x\xc2\x85y\xe2\x81\xa6z\xc3\xa9\", \"n\": [1, 2]}";
    moat_json_harden(&b, j, strlen(j));
    assert_string_equal(b.data, "{\"k\": \"x\\u0085y\\u2066z\xc3\xa9\", \"n\": [1, 2]}");
    moat_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_errors_and_ids),
        cmocka_unit_test(test_term_escape_classes),
        cmocka_unit_test(test_term_escape_keeps_utf8),
        cmocka_unit_test(test_term_escape_text_mode),
        cmocka_unit_test(test_json_unsafe_code_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
