/* test_multipart.c - unit tests of the multipart/form-data parser
 * (multipart.c): the boundary parameter, parts and content fed whole and at
 * every split, delimiter look-alikes inside content, file vs field, and
 * every input the parser must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

/* What the callbacks saw, as text: "P(name,filename|-,file|field)" per part,
 * the content, "E" per part end, "$" at the closing delimiter. */
typedef struct rec {
    moat_buf out;
    size_t file_bytes;
    bool in_file;
} rec;

static int on_part(void *ud, const moat_multipart_part *p)
{
    rec *r = ud;
    moat_buf_printf(&r->out, "P(%s,%s,%s)", p->name, p->filename ? p->filename : "-",
                    p->is_file ? "file" : "field");
    r->in_file = p->is_file;
    return 0;
}

static int on_data(void *ud, const char *d, size_t n)
{
    rec *r = ud;
    moat_buf_append(&r->out, d, n);
    if (r->in_file) r->file_bytes += n;
    return 0;
}

static int on_part_end(void *ud)
{
    moat_buf_putc(&((rec *)ud)->out, 'E');
    return 0;
}

static int on_end(void *ud)
{
    moat_buf_putc(&((rec *)ud)->out, '$');
    return 0;
}

static const moat_multipart_cbs cbs = {on_part, on_data, on_part_end, on_end};

/* Parses body in pieces of `piece` bytes; returns feed's or finish's code. */
static int parse(const char *boundary, const char *body, size_t len, size_t piece, rec *r)
{
    moat_buf_init(&r->out);
    r->file_bytes = 0;
    r->in_file = false;
    moat_multipart *m = moat_multipart_new(boundary, &cbs, r);
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i += piece)
        rc = moat_multipart_feed(m, body + i, len - i < piece ? len - i : piece);
    if (rc == 0) rc = moat_multipart_finish(m);
    moat_multipart_free(m);
    moat_buf_putc(&r->out, '\0');
    return rc;
}

static void test_boundary(void **state)
{
    (void)state;
    char b[MOAT_MULTIPART_BOUNDARY_MAX + 1];
#define BND(s) moat_multipart_boundary(s, strlen(s), b)
    assert_int_equal(BND("multipart/form-data; boundary=abc"), 1);
    assert_string_equal(b, "abc");
    assert_int_equal(BND("Multipart/Form-Data;boundary=\"a b'c\""), 1);
    assert_string_equal(b, "a b'c");
    assert_int_equal(BND("multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundaryx"),
                     1);
    assert_string_equal(b, "----WebKitFormBoundaryx");
    assert_int_equal(BND("application/x-www-form-urlencoded"), 0);
    assert_int_equal(BND("multipart/form-datax; boundary=a"), 0);
    assert_int_equal(BND("multipart/mixed; boundary=a"), 0);
    assert_int_equal(BND("multipart/form-data"), MOAT_EPARSE);
    assert_int_equal(BND("multipart/form-data; boundary="), MOAT_EPARSE);
    assert_int_equal(BND("multipart/form-data; boundary=a; boundary=b"), MOAT_EPARSE);
    assert_int_equal(BND("multipart/form-data; boundary=\"a \""), MOAT_EPARSE); /* space last */
    assert_int_equal(BND("multipart/form-data; boundary=\"a\r\""), MOAT_EPARSE);
    assert_int_equal(BND("multipart/form-data; boundary=a{b"), MOAT_EPARSE);
    assert_int_equal(BND("multipart/form-data; boundary=" /* 71 */
                         "12345678901234567890123456789012345678901234567890123456789012345678901"),
                     MOAT_EPARSE);
    assert_int_equal(BND("multipart/form-data; boundary=\"unterminated"), MOAT_EPARSE);
#undef BND
}

static const char form[] = "--XyZ\r\n"
                           "Content-Disposition: form-data; name=\"title\"\r\n"
                           "\r\n"
                           "hello\r\n--XyY\r\n-- not it\r\r\n"
                           "\r\n--XyZ\r\n"
                           "content-disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n"
                           "Content-Type: text/plain\r\n"
                           "\r\n"
                           "\r\n\r\n--Xy\r\n--XyZ\r\n"
                           "Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n"
                           "\r\n"
                           "\r\n--XyZ--\r\n";

static const char want[] = "P(title,-,field)hello\r\n--XyY\r\n-- not it\r\r\nE"
                           "P(f,a.txt,file)\r\n\r\n--XyEP(empty,,field)E$";

static void test_every_split(void **state)
{
    (void)state;
    size_t len = sizeof(form) - 1;
    for (size_t piece = 1; piece <= len; piece++) {
        rec r;
        assert_int_equal(parse("XyZ", form, len, piece, &r), 0);
        assert_string_equal(r.out.data, want);
        assert_int_equal(r.file_bytes, 8);
        moat_buf_free(&r.out);
    }
    /* and split in two at every point */
    for (size_t cut = 0; cut <= len; cut++) {
        rec r;
        moat_buf_init(&r.out);
        r.file_bytes = 0;
        moat_multipart *m = moat_multipart_new("XyZ", &cbs, &r);
        assert_int_equal(moat_multipart_feed(m, form, cut), 0);
        assert_int_equal(moat_multipart_feed(m, form + cut, len - cut), 0);
        assert_true(moat_multipart_done(m));
        assert_int_equal(moat_multipart_finish(m), 0);
        moat_multipart_free(m);
        moat_buf_putc(&r.out, '\0');
        assert_string_equal(r.out.data, want);
        moat_buf_free(&r.out);
    }
}

static void test_in_file(void **state)
{
    (void)state;
    static const char body[] =
        "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n"
        "\r\nabc";
    rec r;
    moat_buf_init(&r.out);
    moat_multipart *m = moat_multipart_new("b", &cbs, &r);
    assert_false(moat_multipart_in_file(m));
    assert_int_equal(moat_multipart_feed(m, body, sizeof(body) - 1), 0);
    assert_true(moat_multipart_in_file(m));
    assert_false(moat_multipart_done(m));
    assert_int_equal(moat_multipart_finish(m), MOAT_EPARSE); /* no closing delimiter */
    moat_multipart_free(m);
    moat_buf_free(&r.out);
}

static void test_quoted_and_tokens(void **state)
{
    (void)state;
    static const char body[] = "--b\r\nContent-Disposition: FORM-DATA ; NAME=plain ; "
                               "Filename=\"a\\\"b.txt\"\r\n\r\nx\r\n--b--";
    rec r;
    assert_int_equal(parse("b", body, sizeof(body) - 1, 3, &r), 0);
    assert_string_equal(r.out.data, "P(plain,a\"b.txt,file)xE$");
    moat_buf_free(&r.out);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* preamble */
        "x\r\n--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--\r\n",
        /* transport padding after the delimiter */
        "--b \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--\r\n",
        /* no headers */
        "--b\r\n\r\nv\r\n--b--\r\n",
        /* no Content-Disposition */
        "--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--\r\n",
        /* not form-data */
        "--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--b--\r\n",
        /* no name */
        "--b\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nv\r\n--b--\r\n",
        /* duplicate parameter, header */
        "--b\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\nv\r\n--b--\r\n",
        "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Disposition: form-data; "
        "name=\"b\"\r\n\r\nv\r\n--b--\r\n",
        /* filename*, unknown parameter */
        "--b\r\nContent-Disposition: form-data; name=\"a\"; filename*=UTF-8''x\r\n\r\nv\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=\"a\"; size=3\r\n\r\nv\r\n--b--\r\n",
        /* Content-Transfer-Encoding, other headers */
        "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: "
        "base64\r\n\r\ndg==\r\n--b--\r\n",
        "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Foo: 1\r\n\r\nv\r\n--b--\r\n",
        /* a charset the rules would not read as the app does */
        "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Type: text/plain; "
        "charset=utf-7\r\n\r\n+ADw-\r\n--b--\r\n",
        /* bare LF, bare CR, obs-fold in the headers */
        "--b\r\nContent-Disposition: form-data; name=\"a\"\n\r\nv\r\n--b--\r\n",
        "--b\r\nContent-Disposition: form-data;\r name=\"a\"\r\n\r\nv\r\n--b--\r\n",
        "--b\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\nv\r\n--b--\r\n",
        /* unterminated quoted string */
        "--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--b--\r\n",
        /* an epilogue */
        "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--\r\nmore",
        "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--x",
        /* the delimiter inside content (RFC 2046: it must not be) */
        "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--bv\r\n--b--\r\n",
        /* never closed */
        "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b\r\n",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (size_t piece = 1; piece <= 7; piece += 6) {
            rec r;
            int rc = parse("b", bad[i], strlen(bad[i]), piece, &r);
            if (rc != MOAT_EPARSE)
                fail_msg("case %zu (piece %zu) parsed: %s", i, piece, r.out.data);
            moat_buf_free(&r.out);
        }
    }
    /* a header block that never ends */
    moat_buf big;
    moat_buf_init(&big);
    moat_buf_puts(&big, "--b\r\nContent-Disposition: form-data; name=\"");
    for (size_t i = 0; i < MOAT_MULTIPART_HEADERS_MAX; i++)
        moat_buf_putc(&big, 'a');
    rec r;
    assert_int_equal(parse("b", big.data, big.len, 1000, &r), MOAT_EPARSE);
    moat_buf_free(&r.out);
    moat_buf_free(&big);
}

static int stop_at_data(void *ud, const char *d, size_t n)
{
    (void)ud, (void)d, (void)n;
    return MOAT_ETOOBIG;
}

static void test_callback_error_sticks(void **state)
{
    (void)state;
    moat_multipart_cbs c = cbs;
    c.data = stop_at_data;
    rec r;
    moat_buf_init(&r.out);
    moat_multipart *m = moat_multipart_new("XyZ", &c, &r);
    assert_int_equal(moat_multipart_feed(m, form, sizeof(form) - 1), MOAT_ETOOBIG);
    assert_int_equal(moat_multipart_feed(m, "x", 1), MOAT_ETOOBIG);
    assert_int_equal(moat_multipart_finish(m), MOAT_ETOOBIG);
    moat_multipart_free(m);
    moat_buf_free(&r.out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary), cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_in_file),  cmocka_unit_test(test_quoted_and_tokens),
        cmocka_unit_test(test_refused),  cmocka_unit_test(test_callback_error_sticks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
