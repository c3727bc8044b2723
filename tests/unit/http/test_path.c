/* test_path.c - unit tests of request path normalisation: every encoded
 * spelling of a path must come out as the same decoded path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/http.h"

typedef struct {
    const char *in, *decoded, *encoded;
} norm_case;

static const norm_case good[] = {
    {"/", "/", "/"},
    {"/a/b", "/a/b", "/a/b"},
    {"/a/b/", "/a/b/", "/a/b/"},
    {"//a///b", "/a/b", "/a/b"},
    {"/a/./b", "/a/b", "/a/b"},
    {"/a/b/.", "/a/b/", "/a/b/"},
    {"/a/b/..", "/a/", "/a/"},
    {"/a/../b", "/b", "/b"},
    {"/a/%2e%2e/b", "/b", "/b"},
    {"/a/%2E%2E/b", "/b", "/b"},
    {"/%2egit/config", "/.git/config", "/.git/config"},
    {"/a%2fb", "/a/b", "/a/b"},
    {"/a%5cb", "/a/b", "/a/b"},
    {"/a\\b", "/a/b", "/a/b"},
    {"/admin;jsessionid=1/x", "/admin/x", "/admin/x"},
    {"/.git;x/config", "/.git/config", "/.git/config"},
    {"/x?q=1&b=%2e", "/x", "/x?q=1&b=%2e"},
    {"/caf%C3%A9", "/caf\xc3\xa9", "/caf%C3%A9"},
    {"/a%20b", "/a b", "/a%20b"},
    {"/a%3Fb", "/a?b", "/a%3Fb"},
    {"/a%25b", "/a%b", "/a%25b"},
    {"/%252e%252e/x", "/%2e%2e/x", "/%252e%252e/x"},
    {"/./", "/", "/"},
    {"/a/b/../../c/", "/c/", "/c/"},
    {"*", "*", "*"},
    /* issue 14: browser bytes in the path are decoded as themselves and
     * forwarded encoded; the query goes on as the browser sent it */
    {"/a[0]/b|c/^d/{e}", "/a[0]/b|c/^d/{e}", "/a%5B0%5D/b%7Cc/%5Ed/%7Be%7D"},
    {"/q\"<>`", "/q\"<>`", "/q%22%3C%3E%60"},
    {"/s?q={a|b}&f[x]=1&d=50%&e=%zz", "/s", "/s?q={a|b}&f[x]=1&d=50%&e=%zz"},
};

static const char *const bad[] = {
    "/..",        "/a/../..",      "/%2e%2e/", "/a%",     "/a%2",        "/a%zz",
    "/a%00b",     "/a%0ab",        "/a%7f",    "/%c0%ae", "/%c0%af../",  "/%e0%80%ae",
    "/%ed%a0%80", "/%f4%90%80%80", "/%80",     "/%c3",    "/..%2f..%2f", "/..\\",
};

static void test_normalize_good(void **state)
{
    (void)state;
    moat_arena *a = moat_arena_new();
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char *dec = NULL, *enc = NULL;
        const char *why = NULL;
        int rc = moat_http_normalize_path(good[i].in, strlen(good[i].in), a, &dec, &enc, &why);
        if (rc != 0) fail_msg("%s: %s", good[i].in, why);
        if (strcmp(dec, good[i].decoded) != 0) fail_msg("%s: decoded '%s'", good[i].in, dec);
        if (strcmp(enc, good[i].encoded) != 0) fail_msg("%s: encoded '%s'", good[i].in, enc);
    }
    moat_arena_free(a);
}

static void test_normalize_bad(void **state)
{
    (void)state;
    moat_arena *a = moat_arena_new();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *dec = NULL, *enc = NULL;
        const char *why = NULL;
        int rc = moat_http_normalize_path(bad[i], strlen(bad[i]), a, &dec, &enc, &why);
        if (rc != MOAT_EINVAL || !why) fail_msg("%s: accepted as '%s'", bad[i], dec);
    }
    moat_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_good),
        cmocka_unit_test(test_normalize_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
