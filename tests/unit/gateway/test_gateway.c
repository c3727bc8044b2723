/* test_gateway.c - unit tests of the gateway's pure pieces: moat's own pages
 * (built-in and templated, HTML and JSON), the JSON preference of a client,
 * and the recognisers of Python debug pages and directory listings. The
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_pages),
        cmocka_unit_test(test_wants_json),
        cmocka_unit_test(test_debug_pages),
        cmocka_unit_test(test_listings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
