/* test_toml.c - unit tests of the TOML reader: values and their positions,
 * tables, arrays of tables, dotted keys, the redefinition rules, number and
 * date-time ranges, strings, encodings, error positions and the limits that
 * keep it safe. The toml-test suite runs in tests/integration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static moat_toml_value *parse_ok(const char *src)
{
    moat_toml_value *root = NULL;
    moat_toml_error err;
    int rc = moat_toml_parse(src, strlen(src), &root, &err);
    if (rc != 0)
        fail_msg("unexpected error %d:%d: %s\n--\n%s", err.line, err.col, err.message, src);
    assert_non_null(root);
    assert_int_equal(root->type, MOAT_TOML_TABLE);
    return root;
}

/* Parses src (len bytes) expecting an error at line:col whose message
 * contains want. */
static void check_err_n(const char *src, size_t len, int line, int col, const char *want)
{
    moat_toml_value *root = (moat_toml_value *)&root;
    moat_toml_error err;
    int rc = moat_toml_parse(src, len, &root, &err);
    if (rc == 0) fail_msg("accepted invalid document:\n%s", src);
    assert_int_equal(rc, MOAT_EPARSE);
    assert_null(root);
    if (err.line != line || err.col != col || !strstr(err.message, want))
        fail_msg("got %d:%d: %s\nwant %d:%d: ...%s...", err.line, err.col, err.message, line, col,
                 want);
}

static void check_err(const char *src, int line, int col, const char *want)
{
    check_err_n(src, strlen(src), line, col, want);
}

/* Follows a dotted path of plain keys ("a.b.c") from root. */
static const moat_toml_value *path(const moat_toml_value *root, const char *p)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", p);
    const moat_toml_value *v = root;
    for (char *s = buf, *dot; v && s; s = dot ? dot + 1 : NULL) {
        dot = strchr(s, '.');
        if (dot) *dot = '\0';
        v = moat_toml_get(v, s);
    }
    return v;
}

static void test_scalars_and_positions(void **state)
{
    (void)state;
    moat_toml_value *root = parse_ok("# comment\n"
                                     "s = \"hi\"\n"
                                     "  i = -42 # trailing\n"
                                     "f = 6.5e-1\n"
                                     "b = true\n"
                                     "odt = 1979-05-27 07:32:00z\n"
                                     "ldt = 1979-05-27t07:32:00.999999\n"
                                     "ld = 1979-05-27\n"
                                     "lt = 07:32:00\n");
    const moat_toml_value *v = moat_toml_get(root, "s");
    assert_int_equal(v->type, MOAT_TOML_STRING);
    assert_string_equal(v->u.str.ptr, "hi");
    assert_int_equal(v->line, 2);
    assert_int_equal(v->col, 5);
    v = moat_toml_get(root, "i");
    assert_int_equal(v->type, MOAT_TOML_INTEGER);
    assert_true(v->u.integer == -42);
    assert_int_equal(v->line, 3);
    assert_int_equal(v->col, 7);
    v = moat_toml_get(root, "f");
    assert_int_equal(v->type, MOAT_TOML_FLOAT);
    assert_true(v->u.fp == 0.65);
    assert_true(moat_toml_get(root, "b")->u.boolean);
    v = moat_toml_get(root, "odt");
    assert_int_equal(v->type, MOAT_TOML_DATETIME);
    assert_string_equal(v->u.datetime, "1979-05-27T07:32:00Z");
    v = moat_toml_get(root, "ldt");
    assert_int_equal(v->type, MOAT_TOML_DATETIME_LOCAL);
    assert_string_equal(v->u.datetime, "1979-05-27T07:32:00.999999");
    v = moat_toml_get(root, "ld");
    assert_int_equal(v->type, MOAT_TOML_DATE_LOCAL);
    assert_string_equal(v->u.datetime, "1979-05-27");
    v = moat_toml_get(root, "lt");
    assert_int_equal(v->type, MOAT_TOML_TIME_LOCAL);
    assert_string_equal(v->u.datetime, "07:32:00");
    assert_null(moat_toml_get(root, "missing"));
    assert_null(moat_toml_get(v, "x")); /* not a table */
    assert_string_equal(moat_toml_type_name(MOAT_TOML_TABLE), "table");
    assert_string_equal(moat_toml_type_name(MOAT_TOML_BOOL), "boolean");
    moat_toml_free(root);
    moat_toml_free(NULL);
}

static void test_tables_and_arrays_of_tables(void **state)
{
    (void)state;
    moat_toml_value *root = parse_ok("top = 1\n"
                                     "[server.tls]\n"
                                     "cert = 'a.pem'\n"
                                     "[server]\n"
                                     "port = 8080\n"
                                     "[[route]]\n"
                                     "path = '/a'\n"
                                     "[route.match]\n"
                                     "host = 'x'\n"
                                     "[[route]]\n"
                                     "path = '/b'\n"
                                     "[[route.rule]]\n"
                                     "n = 1\n"
                                     "[[route.rule]]\n"
                                     "n = 2\n");
    assert_string_equal(path(root, "server.tls.cert")->u.str.ptr, "a.pem");
    assert_true(path(root, "server.port")->u.integer == 8080);
    const moat_toml_value *server = moat_toml_get(root, "server");
    /* Defined by [server] after being implied by [server.tls]: its position
     * is its own header's. */
    assert_int_equal(server->line, 4);
    assert_int_equal(server->col, 1);
    assert_string_equal(root->u.table.items[1].key, "server"); /* document order */
    const moat_toml_value *routes = moat_toml_get(root, "route");
    assert_int_equal(routes->type, MOAT_TOML_ARRAY);
    assert_int_equal(routes->u.array.len, 2);
    const moat_toml_value *r0 = routes->u.array.items[0], *r1 = routes->u.array.items[1];
    assert_int_equal(r0->line, 6);
    assert_int_equal(r1->line, 10);
    assert_string_equal(path(r0, "match.host")->u.str.ptr, "x");
    assert_null(moat_toml_get(r1, "match"));
    const moat_toml_value *rules = moat_toml_get(r1, "rule");
    assert_int_equal(rules->u.array.len, 2);
    assert_true(moat_toml_get(rules->u.array.items[1], "n")->u.integer == 2);
    moat_toml_free(root);
}

static void test_dotted_keys(void **state)
{
    (void)state;
    moat_toml_value *root = parse_ok("a.b.c = 1\n"
                                     "a . \"b\" . 'd' = 2\n"
                                     "[x]\n"
                                     "y.z = 3\n"
                                     "[x.y.w]\n" /* sub-table of a dotted table is fine */
                                     "v = 4\n"
                                     "[t]\n"
                                     "i = { p.q = 1, p.r = 2 }\n"
                                     "\"\".'' = 'empty'\n"
                                     "'1.2' = 'quoted dot'\n"
                                     "3.14 = 'two parts'\n");
    assert_true(path(root, "a.b.c")->u.integer == 1);
    assert_true(path(root, "a.b.d")->u.integer == 2);
    assert_true(path(root, "x.y.z")->u.integer == 3);
    assert_true(path(root, "x.y.w.v")->u.integer == 4);
    assert_true(path(root, "t.i.p.r")->u.integer == 2);
    const moat_toml_value *t = moat_toml_get(root, "t");
    assert_string_equal(moat_toml_get(moat_toml_get(t, ""), "")->u.str.ptr, "empty");
    assert_string_equal(moat_toml_get(t, "1.2")->u.str.ptr, "quoted dot");
    assert_string_equal(path(t, "3.14")->u.str.ptr, "two parts");
    moat_toml_free(root);
}

static void test_redefinitions(void **state)
{
    (void)state;
    check_err("a = 1\na = 2\n", 2, 1, "duplicate key 'a'");
    check_err("a = 1\n\"a\" = 2\n", 2, 1, "duplicate key");
    check_err("[a]\n[a]\n", 2, 2, "table [a] is defined twice (first at line 1, column 1)");
    check_err("[a.b]\n[a]\n[a]\n", 3, 2, "defined twice");
    check_err("[a]\nb = 1\n[a.b]\n", 3, 4, "it is already an integer");
    check_err("a.b = 1\n[a.b]\n", 2, 4, "cannot define table [a.b]");
    check_err("[fruit]\napple.color = 'red'\n[fruit.apple]\n", 3, 8, "created by dotted keys");
    check_err("a = {}\n[a.b]\n", 2, 2, "inline table");
    check_err("a = {b = 1}\na.c = 2\n", 2, 1, "inline tables cannot be extended");
    check_err("a = { b.c = 1, b = 2 }\n", 1, 16, "duplicate key 'b'");
    check_err("a = [{b = 1}]\n[a.c]\n", 2, 2, "arrays written with [...] cannot be extended");
    check_err("a = []\n[[a]]\n", 2, 3, "cannot append to 'a' with [[a]]");
    check_err("[a]\n[[a]]\n", 2, 3, "already a table");
    check_err("[[a]]\n[a]\n", 2, 2, "already an array of tables");
    check_err("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", 4, 3, "defined by a [table] header");
    check_err("[[a.b]]\n[a]\nb.y = 2\n", 3, 1, "array of tables");
    check_err("a.b.c = 1\na.b = 2\n", 2, 3, "duplicate key 'a.b'");
    check_err("a = 1\na.b = 2\n", 2, 1, "cannot add to 'a' with a dotted key");
    check_err("a = 1\n[a.b.c]\n", 2, 2, "cannot use 'a' as a table");
}

static void test_integers(void **state)
{
    (void)state;
    moat_toml_value *root = parse_ok("max = 9223372036854775807\n"
                                     "min = -9223372036854775808\n"
                                     "hex = 0x7FFF_FFFF_FFFF_FFFF\n"
                                     "oct = 0o755\n"
                                     "bin = 0b1010_1010\n"
                                     "us = 1_000_000\n"
                                     "zero = -0\n");
    assert_true(moat_toml_get(root, "max")->u.integer == INT64_MAX);
    assert_true(moat_toml_get(root, "min")->u.integer == INT64_MIN);
    assert_true(moat_toml_get(root, "hex")->u.integer == INT64_MAX);
    assert_true(moat_toml_get(root, "oct")->u.integer == 0755);
    assert_true(moat_toml_get(root, "bin")->u.integer == 0xAA);
    assert_true(moat_toml_get(root, "us")->u.integer == 1000000);
    assert_true(moat_toml_get(root, "zero")->u.integer == 0);
    moat_toml_free(root);
    check_err("a = 9223372036854775808\n", 1, 5, "out of range");
    check_err("a = -9223372036854775809\n", 1, 5, "out of range");
    check_err("a = 0x8000000000000000\n", 1, 5, "out of range");
    check_err("a = 99999999999999999999999999\n", 1, 5, "out of range");
    check_err("a = 012\n", 1, 6, "leading zeros");
    check_err("a = 1__2\n", 1, 6, "'_' in a number must sit between two digits");
    check_err("a = 1_\n", 1, 6, "'_'");
    check_err("a = _1\n", 1, 5, "expected a value");
    check_err("a = +0x1\n", 1, 5, "a sign is not allowed");
    check_err("a = 0o8\n", 1, 7, "expected an octal digit after '0o', found '8'");
    check_err("a = 0X1\n", 1, 6, "found 'X'");
}

static void test_floats(void **state)
{
    (void)state;
    moat_toml_value *root = parse_ok("a = inf\nb = -inf\nc = +nan\nd = -0.0\ne = 1e1_0\n"
                                     "f = 5E+22\ng = 1e-400\n");
    assert_true(isinf(moat_toml_get(root, "a")->u.fp) && moat_toml_get(root, "a")->u.fp > 0);
    assert_true(isinf(moat_toml_get(root, "b")->u.fp) && moat_toml_get(root, "b")->u.fp < 0);
    assert_true(isnan(moat_toml_get(root, "c")->u.fp));
    assert_true(signbit(moat_toml_get(root, "d")->u.fp));
    assert_true(moat_toml_get(root, "e")->u.fp == 1e10);
    assert_true(moat_toml_get(root, "f")->u.fp == 5e22);
    assert_true(moat_toml_get(root, "g")->u.fp == 0.0); /* underflow rounds to zero */
    moat_toml_free(root);
    check_err("a = 1e400\n", 1, 5, "float is out of range");
    check_err("a = 1.\n", 1, 7, "expected a digit after the decimal point");
    check_err("a = .5\n", 1, 5, "expected a value");
    check_err("a = 1e\n", 1, 7, "after the exponent");
    check_err("a = 01.5\n", 1, 6, "leading zeros");
    check_err("a = 1.5.\n", 1, 8, "found '.'");
    check_err("a = Inf\n", 1, 5, "found 'Inf'");
    check_err("a = infinity\n", 1, 5, "found 'infinity'");
}

static void test_strings(void **state)
{
    (void)state;
    moat_toml_value *root = parse_ok("a = \"tab\\there \\\"q\\\" \\\\ \\u00e9 \\U0001F600\"\n"
                                     "b = 'C:\\path\\no escapes'\n"
                                     "c = \"\"\"\nline1\n  line2\\\n     \t  joined\"\"\"\n"
                                     "d = '''\nraw ''quoted'' \\n'''\n"
                                     "e = \"nul\\u0000inside\"\n"
                                     "f = \"\"\"two quotes at the end\"\"\"\"\"\n"
                                     "g = \"\"\n");
    assert_string_equal(moat_toml_get(root, "a")->u.str.ptr,
                        "tab\there \"q\" \\ \xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(moat_toml_get(root, "b")->u.str.ptr, "C:\\path\\no escapes");
    assert_string_equal(moat_toml_get(root, "c")->u.str.ptr, "line1\n  line2joined");
    assert_string_equal(moat_toml_get(root, "d")->u.str.ptr, "raw ''quoted'' \\n");
    const moat_toml_value *e = moat_toml_get(root, "e");
    assert_int_equal(e->u.str.len, 10);
    assert_memory_equal(e->u.str.ptr, "nul\0inside", 11);
    assert_string_equal(moat_toml_get(root, "f")->u.str.ptr, "two quotes at the end\"\"");
    assert_int_equal(moat_toml_get(root, "g")->u.str.len, 0);
    moat_toml_free(root);
    check_err("a = \"\\uD800\"\n", 1, 6, "not a Unicode scalar value");
    check_err("a = \"\\U00110000\"\n", 1, 6, "not a Unicode scalar value");
    check_err("a = \"\\x41\"\n", 1, 6, "invalid escape");
    check_err("a = \"\\u12\"\n", 1, 10, "expected 4 hexadecimal digits");
    check_err("a = \"open\nb = 1\n", 1, 10, "expected closing '\"'");
    check_err("a = \"\"\"\\ x\"\"\"\n", 1, 10, "line-ending backslash");
    check_err("a = \"tab\x01\"\n", 1, 9, "control character U+0001");
    check_err("a = 'x\x7f'\n", 1, 7, "control character U+007F");
    check_err("a = '''\nnever closed\n", 3, 1, "expected closing '''");
    check_err("\"\"\"k\"\"\" = 1\n", 1, 1, "multi-line strings cannot be used as keys");
}

static void test_datetimes(void **state)
{
    (void)state;
    moat_toml_value *root = parse_ok("a = 2024-02-29\nb = 2000-02-29T23:59:60+05:30\n"
                                     "c = 0001-01-01 00:00:00.5\nd = 2024-01-01 # note\n");
    assert_string_equal(moat_toml_get(root, "a")->u.datetime, "2024-02-29");
    assert_string_equal(moat_toml_get(root, "b")->u.datetime, "2000-02-29T23:59:60+05:30");
    assert_string_equal(moat_toml_get(root, "c")->u.datetime, "0001-01-01T00:00:00.5");
    assert_int_equal(moat_toml_get(root, "d")->type, MOAT_TOML_DATE_LOCAL);
    moat_toml_free(root);
    check_err("a = 2023-02-29\n", 1, 13, "day 29 is out of range for 2023-02");
    check_err("a = 1900-02-29\n", 1, 13, "out of range");
    check_err("a = 2023-04-31\n", 1, 13, "out of range");
    check_err("a = 2023-13-01\n", 1, 10, "month 13");
    check_err("a = 24:00:00\n", 1, 5, "hour 24");
    check_err("a = 23:60:00\n", 1, 8, "minute 60");
    check_err("a = 23:59:61\n", 1, 11, "second 61");
    check_err("a = 2023-01-01T00:00:00+24:00\n", 1, 25, "offset hour 24");
    check_err("a = 2023-01-01T00:00\n", 1, 21, "expected ':' and seconds");
    check_err("a = 2023-01-01T\n", 1, 16, "expected 2-digit hour");
    check_err("a = 12:00:00Z\n", 1, 13, "found 'Z'");
    check_err("a = 2023-1-01\n", 1, 11, "expected 2-digit month");
}

static void test_arrays_and_inline_tables(void **state)
{
    (void)state;
    moat_toml_value *root = parse_ok("a = [ 1, 'two', [3.0], {x = 4}, ] # mixed is fine\n"
                                     "b = [\n  1, # one\n  2,\n\n]\n"
                                     "c = []\nd = {}\n");
    const moat_toml_value *a = moat_toml_get(root, "a");
    assert_int_equal(a->u.array.len, 4);
    assert_int_equal(a->u.array.items[1]->type, MOAT_TOML_STRING);
    assert_int_equal(a->u.array.items[2]->u.array.items[0]->type, MOAT_TOML_FLOAT);
    assert_int_equal(a->u.array.items[3]->col, 24);
    assert_int_equal(moat_toml_get(root, "b")->u.array.len, 2);
    assert_int_equal(moat_toml_get(root, "b")->u.array.items[1]->line, 4);
    assert_int_equal(moat_toml_get(root, "c")->u.array.len, 0);
    assert_int_equal(moat_toml_get(root, "d")->u.table.len, 0);
    moat_toml_free(root);
    check_err("a = [1,,2]\n", 1, 8, "expected a value");
    check_err("a = [1 2]\n", 1, 8, "expected ',' or ']'");
    check_err("a = [1,\n", 2, 1, "found end of file");
    check_err("a = {x = 1,}\n", 1, 12, "trailing comma");
    check_err("a = {x = 1\n}\n", 1, 11, "one line");
    check_err("a = {\nx = 1}\n", 1, 6, "one line");
    check_err("a = {x = 1 y = 2}\n", 1, 12, "expected ',' or '}'");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    check_err("a = 1\nb x\n", 2, 3, "expected '=' after key 'b', found 'x'");
    check_err("a = 1 b = 2\n", 1, 7, "expected end of line after a key/value pair, found 'b'");
    check_err("a =\n", 1, 4, "expected a value after '=', found end of line");
    check_err("a = # c\n", 1, 5, "expected a value after '=', found '#'");
    check_err("= 1\n", 1, 1, "expected a key");
    check_err("a.= 1\n", 1, 3, "expected a key");
    check_err("[a\n", 1, 3, "expected ']' to close the table header");
    check_err("[[a]\n", 1, 5, "expected ']]'");
    check_err("[a] x\n", 1, 5, "expected end of line after the [...] header");
    check_err("[]\n", 1, 2, "expected a key");
    check_err("a = value\n", 1, 5, "found 'value'");
    /* Columns count characters, not bytes. */
    check_err("\"\xc3\xa9\xc3\xa9\" = 1 x\n", 1, 10, "found 'x'");
    check_err("k = '\xe2\x82\xac' x\n", 1, 9, "found 'x'");
}

static void test_encodings_and_newlines(void **state)
{
    (void)state;
    moat_toml_value *root = parse_ok("\xef\xbb\xbf"
                                     "a = 1\r\nb = \"\"\"x\r\ny\"\"\"\r\n# c\r\n");
    assert_true(moat_toml_get(root, "a")->u.integer == 1);
    assert_int_equal(moat_toml_get(root, "a")->col, 5); /* the BOM is no column */
    assert_string_equal(moat_toml_get(root, "b")->u.str.ptr, "x\r\ny");
    assert_int_equal(moat_toml_get(root, "b")->line, 2);
    moat_toml_free(root);
    root = parse_ok("");
    assert_int_equal(root->u.table.len, 0);
    moat_toml_free(root);
    check_err("a = 1\rb = 2\n", 1, 6, "carriage return not followed by a line feed");
    check_err("a = 1\n\r\n\r", 3, 1, "carriage return");
    check_err("a = 1 # bad \x01 comment\n", 1, 13, "control character U+0001 in a comment");
    check_err("a = \"\xc3\x28\"\n", 1, 6, "invalid UTF-8");
    check_err("a = \"\xed\xa0\x80\"\n", 1, 6, "invalid UTF-8");     /* encoded surrogate */
    check_err("a = \"\xc0\xaf\"\n", 1, 6, "invalid UTF-8");         /* overlong */
    check_err("a = \"\xf4\x90\x80\x80\"\n", 1, 6, "invalid UTF-8"); /* > U+10FFFF */
    check_err("a = \"\xe2\x82", 1, 6, "invalid UTF-8");             /* cut short */
    check_err_n("a = 1\n\0", 7, 2, 1, "control character U+0000");
    check_err_n("a = \"x\0\"", 8, 1, 7, "control character U+0000");
}

static void nest(moat_buf *b, int depth, const char *open, const char *close)
{
    moat_buf_reset(b);
    moat_buf_puts(b, "a = ");
    for (int i = 0; i < depth; i++)
        moat_buf_puts(b, open);
    moat_buf_puts(b, "1");
    for (int i = 0; i < depth; i++)
        moat_buf_puts(b, close);
}

static void test_limits(void **state)
{
    (void)state;
    moat_buf b;
    moat_buf_init(&b);
    /* Root (0) > a (1) > 127 arrays > the integer at depth 128: the limit. */
    nest(&b, 127, "[", "]");
    moat_toml_value *root = parse_ok(b.data);
    moat_toml_free(root);
    nest(&b, 128, "[", "]");
    check_err(b.data, 1, 133, "nesting is too deep");
    nest(&b, 200000, "{x=", "}");
    check_err(b.data, 1, 5 + 3 * 128, "nesting is too deep");
    /* Headers and dotted keys count too. */
    moat_buf_reset(&b);
    moat_buf_puts(&b, "[k");
    for (int i = 0; i < 200; i++)
        moat_buf_puts(&b, ".k");
    moat_buf_puts(&b, "]\n");
    check_err(b.data, 1, 2 + 2 * 128, "too many dotted parts");

    /* A big table: every key is found (through the hash index). */
    moat_buf_reset(&b);
    for (int i = 0; i < 5000; i++)
        moat_buf_printf(&b, "key%d = %d\n", i, i);
    moat_buf_puts(&b, "key4321 = 0\n");
    check_err(b.data, 5001, 1,
              "duplicate key 'key4321': already defined as an integer at line "
              "4322, column 11");
    b.len -= strlen("key4321 = 0\n");
    b.data[b.len] = '\0';
    root = parse_ok(b.data);
    assert_int_equal(root->u.table.len, 5000);
    for (int i = 0; i < 5000; i += 7) {
        char k[16];
        snprintf(k, sizeof(k), "key%d", i);
        const moat_toml_value *v = moat_toml_get(root, k);
        assert_non_null(v);
        assert_true(v->u.integer == i);
    }
    assert_null(moat_toml_get(root, "key5000"));
    moat_toml_free(root);
    moat_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_and_positions),
        cmocka_unit_test(test_tables_and_arrays_of_tables),
        cmocka_unit_test(test_dotted_keys),
        cmocka_unit_test(test_redefinitions),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_datetimes),
        cmocka_unit_test(test_arrays_and_inline_tables),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_encodings_and_newlines),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
