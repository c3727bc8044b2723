/* test_gateway.c - unit tests of the gateway's pure pieces: moat's own pages
 * (built-in and templated, HTML and JSON), the JSON preference of a client,
 * the recognisers of Python debug pages and directory listings, and the
 * Set-Cookie validator (a table: value, policy, verdict, what is sent). The
 * request flow itself is tested end to end in tests/integration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gateway/internal.h"

static void test_error_pages(void **state)
{
    (void)state;
    moat_buf b;
    moat_buf_init(&b);
    moat__error_page(&b, NULL, 502, "RID123", false);
    assert_non_null(strstr(b.data, "502 Bad Gateway"));
    assert_non_null(strstr(b.data, "RID123"));
    moat_buf_reset(&b);
    moat__error_page(&b, NULL, 413, "RID", true);
    assert_string_equal(b.data, "{\"error\":\"Payload Too Large\",\"status\":413,"
                                "\"request_id\":\"RID\"}\n");
    moat_buf_reset(&b);
    moat__error_page(&b, "<p>{status} {reason} {request_id} {unknown} {status</p>", 404, "X",
                     false);
    assert_string_equal(b.data, "<p>404 Not Found X {unknown} {status</p>");
    moat_buf_reset(&b);
    /* JSON answers keep their shape even with a template */
    moat__error_page(&b, "<p>{status}</p>", 404, "X", true);
    assert_non_null(strstr(b.data, "\"status\":404"));
    moat_buf_free(&b);
}

static void test_wants_json(void **state)
{
    (void)state;
    moat_arena *a = moat_arena_new();
    struct {
        const char *accept;
        bool json;
    } cases[] = {
        {"application/json", true},
        {"application/json, text/plain, */*", true},
        {"text/html,application/xhtml+xml,application/json;q=0.9", false},
        {"*/*", false},
        {NULL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        moat_http_head *h = moat_arena_calloc(a, sizeof(*h));
        if (cases[i].accept) moat_http_head_add(h, a, "Accept", cases[i].accept);
        assert_int_equal(moat__wants_json(h), cases[i].json);
    }
    moat_arena_free(a);
}

static void test_debug_pages(void **state)
{
    (void)state;
    const char *debug[] = {
        "Traceback (most recent call last):\n  File \"app.py\"",
        "<p>You're seeing this error because you have <code>DEBUG =\n  True</code></p>",
        "<p>Using the URLconf defined in <code>mysite.urls</code></p>",
        "<title>Werkzeug Debugger</title>",
        "<a href=\"?__debugger__=yes&cmd=resource&f=style.css\">",
        "<div class=\"traceback-container\">",
    };
    for (size_t i = 0; i < sizeof(debug) / sizeof(debug[0]); i++)
        assert_true(moat__is_debug_page(debug[i], strlen(debug[i])));
    const char *plain[] = {"<h1>Not Found</h1>", "{\"error\": \"not found\"}",
                           "the word traceback alone", ""};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        assert_false(moat__is_debug_page(plain[i], strlen(plain[i])));
}

static void test_listings(void **state)
{
    (void)state;
    const char *yes[] = {"<html><head><title>Index of /files/</title>",
                         "<title>Directory listing for /</title>", "<h1>Index of /srv</h1>"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(moat__is_listing(yes[i], strlen(yes[i])));
    const char *no[] = {"<title>Index of products</title>", "<h1>Welcome</h1>"};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(moat__is_listing(no[i], strlen(no[i])));
}

static void test_cookie_harden(void **state)
{
    (void)state;
    static char *except_items[] = {"csrftoken"};
    static const moat_strlist except = {except_items, 1};
    enum { K = MOAT__COOKIE_KEPT, F = MOAT__COOKIE_FIXED, D = MOAT__COOKIE_DROPPED };
    static const struct {
        const char *in;
        bool https;
        const char *samesite;
        int verdict;
        const char *out; /* NULL when dropped */
    } cases[] = {
        {"a=1", false, "Lax", K, "a=1; HttpOnly; SameSite=Lax"},
        {"a=1", true, "Lax", K, "a=1; HttpOnly; Secure; SameSite=Lax"},
        {"csrftoken=t; Path=/", false, "Lax", K, "csrftoken=t; Path=/; SameSite=Lax"},
        {"a=1; samesite=strict", false, "Lax", K, "a=1; samesite=strict; HttpOnly"},
        {"a=1; Path=/;; ;", false, "off", K, "a=1; Path=/; HttpOnly"},
        {"a=1; SameSite=Bogus", false, "Lax", F, "a=1; HttpOnly; SameSite=Lax"},
        {"a=1; SameSite=Bogus", false, "off", F, "a=1; HttpOnly"},
        {"a=1; SameSite", false, "Strict", F, "a=1; HttpOnly; SameSite=Strict"},
        {"a=1; SameSite=Lax; SameSite=None", true, "Lax", F, "a=1; HttpOnly; Secure; SameSite=Lax"},
        {"a=1; SameSite=None", false, "Lax", F, "a=1; HttpOnly; SameSite=Lax"},
        {"a=1; SameSite=None", false, "Strict", F, "a=1; HttpOnly; SameSite=Strict"},
        {"a=1; SameSite=None", true, "Lax", K, "a=1; SameSite=None; HttpOnly; Secure"},
        {"a=1", false, "None", K, "a=1; HttpOnly; SameSite=Lax"},
        {"__Host-x=1; Path=/; Secure", false, "Lax", K,
         "__Host-x=1; Path=/; Secure; HttpOnly; SameSite=Lax"},
        {"__Host-x=1; Domain=a.example; Path=/; Secure", false, "Lax", D, NULL},
        {"__Host-x=1; Domain=a.example; Path=/p; Secure", true, "Lax", F,
         "__Host-x=1; Secure; Path=/; HttpOnly; SameSite=Lax"},
        {"__HOST-x=1", true, "Lax", F, "__HOST-x=1; Path=/; HttpOnly; Secure; SameSite=Lax"},
        {"__Secure-x=1; Domain=a.example", false, "Lax", D, NULL},
        {"__Secure-x=1; Domain=a.example", true, "Lax", F,
         "__Secure-x=1; Domain=a.example; HttpOnly; Secure; SameSite=Lax"},
        {"__Secure-x=1; Secure", false, "Lax", K, "__Secure-x=1; Secure; HttpOnly; SameSite=Lax"},
        {"p=1; Partitioned", false, "Lax", D, NULL},
        {"p=1; Partitioned", true, "Lax", K, "p=1; Partitioned; HttpOnly; Secure; SameSite=Lax"},
        {"p=1; Partitioned; Secure", false, "Lax", K,
         "p=1; Partitioned; Secure; HttpOnly; SameSite=Lax"},
        {"novalue", false, "Lax", D, NULL},
        {"=v", false, "Lax", D, NULL},
        {"n@me=1", false, "Lax", D, NULL},
        {"a=b c", false, "Lax", D, NULL},
        {"a=1; Path=/\x01", false, "Lax", D, NULL},
    };
    moat__cookie_policy pol = {.add_secure = true, .httponly = true, .httponly_except = &except};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(cases); i++) {
        pol.https = cases[i].https;
        pol.samesite = cases[i].samesite;
        moat_buf out, why;
        moat_buf_init(&out);
        moat_buf_init(&why);
        size_t nlen;
        int v = moat__cookie_harden(&pol, cases[i].in, strlen(cases[i].in), &out, &nlen, &why);
        if (v != cases[i].verdict) fail_msg("case %zu (%s): verdict %d", i, cases[i].in, v);
        if (cases[i].out) {
            moat_buf_putc(&out, '\0');
            if (strcmp(out.data, cases[i].out) != 0)
                fail_msg("case %zu (%s): sent \"%s\"", i, cases[i].in, out.data);
        }
        assert_true(v == K ? why.len == 0 : why.len > 0);
        moat_buf_free(&out);
        moat_buf_free(&why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_pages),   cmocka_unit_test(test_wants_json),
        cmocka_unit_test(test_debug_pages),   cmocka_unit_test(test_listings),
        cmocka_unit_test(test_cookie_harden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
