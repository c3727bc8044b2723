/* test_h2translate.c - unit tests of moat_h2_request_translate: the
 * HTTP/1.1 head an HTTP/2 header list becomes (Host first, cookies joined,
 * fields in order), and every list HTTP/1.1 could read another way refused
 * with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/http.h"

#define F(n, v)                                                                                    \
    {                                                                                              \
        (n), (v), sizeof(n) - 1, sizeof(v) - 1                                                     \
    }
#define BASE                                                                                       \
    F(":method", "GET"), F(":scheme", "https"), F(":path", "/a?b=1"), F(":authority", "example.com")

static int translate(const moat_h2_field *f, size_t n, moat_buf *out, const char **why)
{
    moat_buf_init(out);
    *why = NULL;
    return moat_h2_request_translate(f, n, out, why);
}

static void test_translated_head(void **state)
{
    (void)state;
    moat_h2_field f[] = {BASE,
                         F("user-agent", "t"),
                         F("cookie", "a=1"),
                         F("accept", "*/*"),
                         F("cookie", "b=2"),
                         F("te", "trailers")};
    moat_buf out;
    const char *why;
    assert_int_equal(translate(f, sizeof(f) / sizeof(f[0]), &out, &why), 0);
    assert_string_equal(out.data, "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nuser-agent: t\r\n"
                                  "cookie: a=1; b=2\r\naccept: */*\r\nte: trailers\r\n\r\n");
    moat_buf_free(&out);
}

static void test_host_without_authority(void **state)
{
    (void)state;
    moat_h2_field f[] = {F(":method", "POST"), F(":scheme", "https"), F(":path", "/"),
                         F("host", "example.com:8443"), F("content-length", "3")};
    moat_buf out;
    const char *why;
    assert_int_equal(translate(f, 5, &out, &why), 0);
    assert_string_equal(out.data,
                        "POST / HTTP/1.1\r\nHost: example.com:8443\r\ncontent-length: 3\r\n\r\n");
    moat_buf_free(&out);
    moat_h2_field g[] = {BASE, F("host", "EXAMPLE.com")}; /* the same, whatever the case */
    assert_int_equal(translate(g, 5, &out, &why), 0);
    moat_buf_free(&out);
}

static void test_refused(void **state)
{
    (void)state;
    static const moat_h2_field cases[][6] = {
        {BASE, F("connection", "close")},
        {BASE, F("keep-alive", "1")},
        {BASE, F("proxy-connection", "x")},
        {BASE, F("transfer-encoding", "chunked")},
        {BASE, F("upgrade", "websocket")},
        {BASE, F("http2-settings", "x")},
        {BASE, F("te", "gzip")},
        {BASE, F("X-Upper", "1")},
        {BASE, F("x a", "1")},
        {BASE, F("x-a", "1\r\nx-b: 2")},
        {BASE, F("x-a", "1\nx")},
        {BASE, F("x-a", " 1")},
        {BASE, F("x-a", "1\t")},
        {BASE, F("x-a", "a\x01")},
        {BASE, F("host", "evil.example")},
        {BASE, F(":method", "GET")},
        {BASE, F(":protocol", "websocket")},
        {BASE, F(":status", "200")},
        {F(":method", "GET"), F(":scheme", "https"), F("x-a", "1"), F(":path", "/"),
         F(":authority", "a")},
        {F(":method", "CONNECT"), F(":scheme", "https"), F(":path", "/"), F(":authority", "a")},
        {F(":method", "G T"), F(":scheme", "https"), F(":path", "/"), F(":authority", "a")},
        {F(":method", "GET"), F(":scheme", "ftp"), F(":path", "/"), F(":authority", "a")},
        {F(":method", "GET"), F(":scheme", "https"), F(":path", "*"), F(":authority", "a")},
        {F(":method", "GET"), F(":scheme", "https"), F(":path", "/ HTTP/1.1"),
         F(":authority", "a")},
        {F(":method", "GET"), F(":scheme", "https"), F(":path", "/"), F(":authority", "u@a")},
        {F(":method", "GET"), F(":scheme", "https"), F(":path", "/"), F("x-a", "1")},
        {F(":method", "GET"), F(":scheme", "https"), F(":authority", "a"), F("x-a", "1")},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = 0;
        while (n < 6 && cases[i][n].name)
            n++;
        moat_buf out;
        const char *why;
        if (translate(cases[i], n, &out, &why) != MOAT_EINVAL || !why)
            fail_msg("case %zu passed", i);
        moat_buf_free(&out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translated_head),
        cmocka_unit_test(test_host_without_authority),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
