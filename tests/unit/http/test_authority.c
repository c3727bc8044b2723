/* test_authority.c - unit tests of moat_http_authority_parse (every Host
 * spelling that must pass or fail, with the name and port it yields) and of
 * the WebSocket handshake check on a 101. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/http.h"

static const struct {
    const char *host;
    int ok;
    size_t name_len;
    int port;
} cases[] = {
    {"example.com", 1, 11, -1},
    {"Example.COM:8080", 1, 11, 8080},
    {"example.com.", 1, 12, -1},
    {"a", 1, 1, -1},
    {"my_host-1.internal", 1, 18, -1},
    {"127.0.0.1", 1, 9, -1},
    {"127.0.0.1:65535", 1, 9, 65535},
    {"[::1]", 1, 5, -1},
    {"[::1]:1", 1, 5, 1},
    {"[2001:db8::ff00:42:8329]:443", 1, 24, 443},
    {"127.0.0.1:21447,evil.example", 0, 0, 0},
    {"evil.example,good.example", 0, 0, 0},
    {"good@evil", 0, 0, 0},
    {"good/evil", 0, 0, 0},
    {"good%2cevil", 0, 0, 0},
    {"good;evil", 0, 0, 0},
    {"good evil", 0, 0, 0},
    {"good\tevil", 0, 0, 0},
    {"good:80:81", 0, 0, 0},
    {"good:", 0, 0, 0},
    {"good:0", 0, 0, 0},
    {"good:65536", 0, 0, 0},
    {"good:123456", 0, 0, 0},
    {"good:+80", 0, 0, 0},
    {":80", 0, 0, 0},
    {"", 0, 0, 0},
    {".", 0, 0, 0},
    {"a..b", 0, 0, 0},
    {".a", 0, 0, 0},
    {"127.1", 0, 0, 0},
    {"1.2.3.256", 0, 0, 0},
    {"[::zz]", 0, 0, 0},
    {"[::1", 0, 0, 0},
    {"[]", 0, 0, 0},
    {"[fe80::1%25eth0]", 0, 0, 0},
    {"[::1]x", 0, 0, 0},
    {"[v1.fe]", 0, 0, 0},
    {"good\\evil", 0, 0, 0},
    {"ex\xc3\xa4mple.com", 0, 0, 0}, /* IDNs arrive as punycode */
};

static void test_hosts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *name = NULL;
        size_t nlen = 0;
        int port = 0;
        int rc =
            moat_http_authority_parse(cases[i].host, strlen(cases[i].host), &name, &nlen, &port);
        if (cases[i].ok) {
            if (rc != 0) fail_msg("refused: %s", cases[i].host);
            assert_ptr_equal(name, cases[i].host);
            assert_int_equal(nlen, cases[i].name_len);
            assert_int_equal(port, cases[i].port);
        } else if (rc != MOAT_EINVAL) {
            fail_msg("accepted: %s", cases[i].host);
        }
    }
}

/* Found by fuzz_http_authority: inet_pton stopped at the NUL. */
static void test_nul_in_literal(void **state)
{
    (void)state;
    static const char v[] = "[::\0\0001]";
    const char *name;
    size_t nlen;
    int port;
    assert_int_equal(moat_http_authority_parse(v, sizeof(v) - 1, &name, &nlen, &port), MOAT_EINVAL);
}

static void test_long_label(void **state)
{
    (void)state;
    char host[80];
    const char *name;
    size_t nlen;
    int port;
    memset(host, 'a', 63);
    memcpy(host + 63, ".com", 5);
    assert_int_equal(moat_http_authority_parse(host, strlen(host), &name, &nlen, &port), 0);
    memset(host, 'a', 64);
    memcpy(host + 64, ".com", 5);
    assert_int_equal(moat_http_authority_parse(host, strlen(host), &name, &nlen, &port),
                     MOAT_EINVAL);
}

static moat_http_head *head_of(moat_arena *a, const char *const *fields, int status)
{
    moat_http_head *h = moat_arena_calloc(a, sizeof(*h));
    h->status = status;
    for (; *fields; fields += 2)
        moat_http_head_add(h, a, fields[0], fields[1]);
    return h;
}

static void test_ws_accept(void **state)
{
    (void)state;
    moat_arena *a = moat_arena_new();
    static const char *const req_f[] = {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", NULL};
    static const char *const good[] = {"Upgrade",
                                       "websocket",
                                       "Connection",
                                       "Upgrade",
                                       "Sec-WebSocket-Accept",
                                       "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                                       NULL};
    static const char *const bad_acc[] = {"Upgrade",
                                          "websocket",
                                          "Connection",
                                          "Upgrade",
                                          "Sec-WebSocket-Accept",
                                          "s3pPLMBiTxaQ9kYGzzhZRbK+xOp=",
                                          NULL};
    static const char *const h2c[] = {"Upgrade",
                                      "h2c",
                                      "Connection",
                                      "Upgrade",
                                      "Sec-WebSocket-Accept",
                                      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                                      NULL};
    static const char *const no_conn[] = {"Upgrade", "websocket", "Sec-WebSocket-Accept",
                                          "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", NULL};
    moat_http_head *req = head_of(a, req_f, 0);
    assert_true(moat_http_ws_accept_ok(req, head_of(a, good, 101)));
    assert_false(moat_http_ws_accept_ok(req, head_of(a, good, 200)));
    assert_false(moat_http_ws_accept_ok(req, head_of(a, bad_acc, 101)));
    assert_false(moat_http_ws_accept_ok(req, head_of(a, h2c, 101)));
    assert_false(moat_http_ws_accept_ok(req, head_of(a, no_conn, 101)));
    moat_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_long_label),
        cmocka_unit_test(test_nul_in_literal),
        cmocka_unit_test(test_ws_accept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
