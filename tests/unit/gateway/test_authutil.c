/* test_authutil.c - unit tests of the auth stage's pure helpers: path
 * patterns (guarding and public readings, * ** ? globs, '$', case),
 * [[auth.rules]] matching (first match, host, methods, HEAD, extension
 * methods, the default) from a real config file, the Cookie header
 * reader, the form parser, return-address checks and the escapers. The
 * flows themselves are tested end to end in test_auth_portal.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/portal/portal.h"
#include "gateway/internal.h"

#define G MOAT__MATCH_GUARD
#define GI (MOAT__MATCH_GUARD | MOAT__MATCH_NOCASE)
#define OPEN 0

static void test_path_patterns(void **state)
{
    (void)state;
    /* Guarding: the path, what is under it (a trailing slash included) and
     * its extensions; not a longer name. */
    assert_true(moat__auth_path_match("/admin", "/admin", G));
    assert_true(moat__auth_path_match("/admin", "/admin/", G));
    assert_true(moat__auth_path_match("/admin", "/admin/x", G));
    assert_true(moat__auth_path_match("/admin", "/admin.json", G));
    assert_false(moat__auth_path_match("/admin", "/administrator", G));
    assert_false(moat__auth_path_match("/admin", "/admin-old", G));
    assert_false(moat__auth_path_match("/admin", "/x/admin", G));
    /* "/admin/" guards the page before the folder too */
    assert_true(moat__auth_path_match("/admin/", "/admin", G));
    assert_true(moat__auth_path_match("/admin/", "/admin/x", G));
    assert_true(moat__auth_path_match("/", "/anything", G));
    assert_true(moat__auth_path_match("/", "/", G));
    /* globs guard the same way */
    assert_true(moat__auth_path_match("/reports/*/export", "/reports/q1/export", G));
    assert_true(moat__auth_path_match("/reports/*/export", "/reports/q1/export/", G));
    assert_true(moat__auth_path_match("/reports/*/export", "/reports/q1/export/all", G));
    assert_true(moat__auth_path_match("/reports/*/export", "/reports/q1/export.csv", G));
    assert_false(moat__auth_path_match("/reports/*/export", "/reports/q1/exports", G));
    assert_false(moat__auth_path_match("/reports/*/export", "/reports/q1/x/export", G));
    assert_true(moat__auth_path_match("/api/**/export", "/api/v1/x/export", G));
    assert_true(moat__auth_path_match("/**/b*", "/a/b/c/bd", G)); /* '*' gives way to '**' */
    assert_true(moat__auth_path_match("/**/b*", "/a/b/c/bd", OPEN));
    assert_true(moat__auth_path_match("/f?o", "/foo", G));
    assert_false(moat__auth_path_match("/f?o", "/f/o", G));
    assert_true(moat__auth_path_match("/*.json", "/x.json", G));
    assert_false(moat__auth_path_match("/*.json", "/a/x.json", G));
    assert_true(moat__auth_path_match("/**", "/", G));
    /* '$': that path alone, with or without its trailing slash */
    assert_true(moat__auth_path_match("/admin$", "/admin", G));
    assert_true(moat__auth_path_match("/admin$", "/admin/", G));
    assert_false(moat__auth_path_match("/admin$", "/admin/x", G));
    assert_false(moat__auth_path_match("/admin$", "/admin.json", G));
    assert_true(moat__auth_path_match("/$", "/", G));
    assert_false(moat__auth_path_match("/$", "/x", G));
    /* case: guarding with NOCASE, Python's folds included */
    assert_true(moat__auth_path_match("/admin", "/ADMIN/", GI));
    assert_true(moat__auth_path_match("/reports/*/export", "/Reports/Q1/EXPORT", GI));
    assert_false(moat__auth_path_match("/admin", "/ADMIN/", G));
    assert_true(moat__auth_path_match("/admin", "/adm\xc4\xb1n", GI));     /* dotless i */
    assert_true(moat__auth_path_match("/admin", "/ADM\xc4\xb0N", GI));     /* dotted I */
    assert_true(moat__auth_path_match("/reports", "/report\xc5\xbf", GI)); /* long s */
    assert_true(moat__auth_path_match("/desk", "/des\xe2\x84\xaa", GI));   /* Kelvin sign */
    assert_false(moat__auth_path_match("/admin", "/adm\xc4\xb2n", GI));
    assert_false(moat__auth_path_match("/a-b", "/a\rb", GI));
    /* Public: a literal opens the path and its folder, never a longer name
     * or another case; a glob only what it matches whole. */
    assert_true(moat__auth_path_match("/static", "/static", OPEN));
    assert_true(moat__auth_path_match("/static", "/static/app.css", OPEN));
    assert_false(moat__auth_path_match("/static", "/staticadmin", OPEN));
    assert_false(moat__auth_path_match("/static", "/STATIC/app.css", OPEN));
    assert_false(moat__auth_path_match("/static", "/STATIC/app.css", MOAT__MATCH_NOCASE));
    assert_true(moat__auth_path_match("/static/", "/static/app.css", OPEN));
    assert_false(moat__auth_path_match("/static/", "/static", OPEN));
    assert_true(moat__auth_path_match("/users/*/avatar", "/users/1/avatar", OPEN));
    assert_false(moat__auth_path_match("/users/*/avatar", "/users/1/avatar/", OPEN));
    assert_false(moat__auth_path_match("/users/*/avatar", "/users/1/avatar/delete", OPEN));
    assert_true(moat__auth_path_match("/static/**", "/static/a/b.css", OPEN));
    assert_true(moat__auth_path_match("/login$", "/login", OPEN));
    assert_false(moat__auth_path_match("/login$", "/login/", OPEN));
    /* A pathological pattern stays polynomial. */
    char path[4096];
    memset(path, 'a', sizeof(path) - 2);
    path[0] = '/';
    path[sizeof(path) - 2] = 'b';
    path[sizeof(path) - 1] = '\0';
    assert_false(moat__auth_path_match("/*a*a*a*a*a*a*a*a*a*c", path, GI));
    assert_false(moat__auth_path_match("/**a**a**a**a**a**c", path, OPEN));
    /* A long pattern is copied to the heap. */
    char pat[1024];
    memset(pat, 'x', sizeof(pat) - 1);
    pat[0] = '/';
    pat[sizeof(pat) - 1] = '\0';
    assert_true(moat__auth_path_match(pat, pat, G));
}

/* A plain recursive reading of the same patterns, to check the two-point
 * backtracking of moat__auth_path_match on every small case. */
static size_t ref_char(char pc, const char *s, bool nocase)
{
    if (pc == *s) return 1;
    if (!nocase) return 0;
    if ((pc | 0x20) == (*s | 0x20) && ((pc | 0x20) >= 'a' && (pc | 0x20) <= 'z')) return 1;
    if ((pc | 0x20) == 'i' && strncmp(s, "\xc4\xb1", 2) == 0) return 2;
    return 0;
}

static bool ref_match(const char *p, const char *s, bool guard, bool slash_end, bool nocase)
{
    if (*p == '\0') {
        if (*s == '\0') return true;
        return guard && (*s == '/' || *s == '.' || slash_end);
    }
    if (p[0] == '*' && p[1] == '*') {
        while (*p == '*')
            p++;
        for (const char *t = s;; t++) {
            if (ref_match(p, t, guard, slash_end, nocase)) return true;
            if (!*t) return false;
        }
    }
    if (*p == '*') {
        for (const char *t = s;; t++) {
            if (ref_match(p + 1, t, guard, slash_end, nocase)) return true;
            if (!*t || *t == '/') return false;
        }
    }
    if (*p == '?') return *s && *s != '/' && ref_match(p + 1, s + 1, guard, slash_end, nocase);
    size_t n = *s ? ref_char(*p, s, nocase) : 0;
    return n && ref_match(p + 1, s + n, guard, slash_end, nocase);
}

static void test_path_patterns_against_reference(void **state)
{
    (void)state;
    static const char *const pat_tok[] = {"a", "b", "i", "/", ".", "*", "?"};
    static const char *const path_tok[] = {"a", "A", "b", "/", ".", "\xc4\xb1", "I"};
    uint32_t seed = 12345;
    for (int round = 0; round < 200000; round++) {
        char pat[32] = "/", path[32] = "/";
        size_t pn = 1, sn = 1;
        seed = seed * 1103515245u + 12345u;
        int np = (int)(seed >> 16) % 7, ns = (int)(seed >> 8) % 8;
        for (int i = 0; i < np; i++) {
            seed = seed * 1103515245u + 12345u;
            const char *t = pat_tok[(seed >> 16) % 7];
            memcpy(pat + pn, t, strlen(t) + 1);
            pn += strlen(t);
        }
        for (int i = 0; i < ns; i++) {
            seed = seed * 1103515245u + 12345u;
            const char *t = path_tok[(seed >> 16) % 7];
            memcpy(path + sn, t, strlen(t) + 1);
            sn += strlen(t);
        }
        size_t pl = strlen(pat);
        bool glob = strpbrk(pat, "*?") != NULL;
        /* guarding: the pattern without a trailing '/', read "below" */
        char g[32];
        memcpy(g, pat, pl + 1);
        if (g[pl - 1] == '/') g[pl - 1] = '\0';
        size_t gl = strlen(g);
        bool want = ref_match(g, path, true, gl && g[gl - 1] == '/', true);
        if (moat__auth_path_match(pat, path, GI) != want)
            fail_msg("guard %s %s: want %d", pat, path, want);
        /* public: a literal "below" (anything after a final '/'), a glob whole */
        want = ref_match(pat, path, !glob, pat[pl - 1] == '/', false);
        if (moat__auth_path_match(pat, path, OPEN) != want)
            fail_msg("public %s %s: want %d", pat, path, want);
    }
}

static moat_config *load(const char *text)
{
    char dir[] = "/tmp/moat-authutil-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = moat_xasprintf("%s/moat.toml", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    moat_config_source src = {.path = path};
    moat_config *c = NULL;
    char *err = NULL;
    int rc = moat_config_load(&src, &c, &err);
    if (rc) fail_msg("unexpected error: %s", err);
    unlink(path);
    rmdir(dir);
    free(path);
    return c;
}

static void test_rules(void **state)
{
    (void)state;
    moat_config *c = load("[auth]\ndefault = \"authenticated\"\n"
                          "[[auth.rules]]\npath = \"/admin/\"\npolicy = \"role:admin\"\n"
                          "[[auth.rules]]\npath = \"/api/\"\nmethods = [\"post\", \"DELETE\"]\n"
                          "policy = \"mfa\"\n"
                          "[[auth.rules]]\nhost = \"Public.Example\"\npath = \"/\"\n"
                          "policy = \"public\"\n"
                          "[[auth.rules]]\npath = \"/\"\npolicy = \"deny\"\nmethods = [\"TRACE\"]\n"
                          "[[auth.rules]]\npath = \"/static/**\"\npolicy = \"public\"\n");
    assert_true(moat__auth_enabled(c));
    assert_string_equal(moat__auth_policy(c, "a.example", "/admin/x", "GET"), "role:admin");
    /* first match wins: /admin/ before the host rule */
    assert_string_equal(moat__auth_policy(c, "public.example", "/admin/", "GET"), "role:admin");
    assert_string_equal(moat__auth_policy(c, "a.example", "/api/x", "POST"), "mfa");
    assert_string_equal(moat__auth_policy(c, "a.example", "/api/x", "GET"), "authenticated");
    assert_string_equal(moat__auth_policy(c, "public.example:8443", "/x", "GET"), "public");
    assert_string_equal(moat__auth_policy(c, "a.example", "/x", "TRACE"), "deny");
    assert_string_equal(moat__auth_policy(c, "a.example", "/static/css/a.css", "GET"), "public");
    assert_string_equal(moat__auth_policy(c, NULL, "/x", "GET"), "authenticated");
    /* A method the rule does not list falls through; one no framework
     * routes apart (PROPFIND, PURGE, ...) is covered by a guarding rule. */
    assert_string_equal(moat__auth_policy(c, "a.example", "/api/x", "PROPFIND"), "mfa");
    assert_string_equal(moat__auth_policy(c, "a.example", "/api/x", "PUT"), "authenticated");
    /* /admin/ guards /admin, and any case of it */
    assert_string_equal(moat__auth_policy(c, "public.example", "/admin", "GET"), "role:admin");
    assert_string_equal(moat__auth_policy(c, "public.example", "/ADMIN/x", "GET"), "role:admin");
    /* a public glob opens the case written, and only it */
    assert_string_equal(moat__auth_policy(c, "a.example", "/STATIC/a.css", "GET"), "authenticated");
    moat_config_free(c);
    c = load("[[auth.rules]]\npath = \"/reports/*/export\"\nmethods = [\"GET\"]\n"
             "policy = \"mfa\"\n"
             "[[auth.rules]]\npath = \"/feed\"\nmethods = [\"GET\"]\npolicy = \"public\"\n"
             "[auth]\ndefault = \"authenticated\"\n");
    /* GET covers HEAD; a trailing slash, a sub-path or an extension changes nothing */
    assert_string_equal(moat__auth_policy(c, NULL, "/reports/q1/export", "HEAD"), "mfa");
    assert_string_equal(moat__auth_policy(c, NULL, "/reports/q1/export/", "GET"), "mfa");
    assert_string_equal(moat__auth_policy(c, NULL, "/reports/q1/export/x", "HEAD"), "mfa");
    assert_string_equal(moat__auth_policy(c, NULL, "/reports/q1/export.csv", "GET"), "mfa");
    assert_string_equal(moat__auth_policy(c, NULL, "/REPORTS/q1/Export", "GET"), "mfa");
    assert_string_equal(moat__auth_policy(c, NULL, "/reports/q1/export", "POST"), "authenticated");
    assert_string_equal(moat__auth_policy(c, NULL, "/reports/q1/export", "MKCOL"), "mfa");
    /* a public rule listing GET: HEAD too, but no extension method */
    assert_string_equal(moat__auth_policy(c, NULL, "/feed", "HEAD"), "public");
    assert_string_equal(moat__auth_policy(c, NULL, "/feed", "PROPFIND"), "authenticated");
    assert_string_equal(moat__auth_policy(c, NULL, "/FEED", "GET"), "authenticated");
    moat_config_free(c);
    c = load("[auth]\ncase_insensitive_paths = false\n"
             "[[auth.rules]]\npath = \"/admin\"\npolicy = \"deny\"\n");
    assert_string_equal(moat__auth_policy(c, NULL, "/admin/", "GET"), "deny");
    assert_string_equal(moat__auth_policy(c, NULL, "/ADMIN/", "GET"), "public");
    moat_config_free(c);
    c = load("");
    assert_false(moat__auth_enabled(c));
    assert_string_equal(moat__auth_policy(c, NULL, "/x", "GET"), "public");
    moat_config_free(c);
}

static void test_bad_rules(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[[auth.rules]]\npath = \"/\"\npolicy = \"role:\"\n",
        "[[auth.rules]]\npath = \"/\"\npolicy = \"admin\"\n",
        "[[auth.rules]]\npath = \"x\"\npolicy = \"public\"\n",
        "[[auth.rules]]\npolicy = \"public\"\n",
        "[[auth.rules]]\npath = \"/\"\n",
        "[[auth.rules]]\npath = \"/\"\npolicy = \"public\"\nmethods = [\"G T\"]\n",
        "[auth]\nidentity_secret = \"short\"\n",
        "[auth]\ndefault = \"nobody\"\n",
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(bad); i++) {
        char dir[] = "/tmp/moat-authutil-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char *path = moat_xasprintf("%s/moat.toml", dir);
        FILE *fp = fopen(path, "w");
        fputs(bad[i], fp);
        fclose(fp);
        moat_config_source src = {.path = path};
        moat_config *c = NULL;
        char *err = NULL;
        assert_int_equal(moat_config_load(&src, &c, &err), MOAT_ECONFIG);
        assert_non_null(strstr(err, "moat.toml:"));
        free(err);
        unlink(path);
        rmdir(dir);
        free(path);
    }
}

static void test_cookies(void **state)
{
    (void)state;
    const char *v;
    size_t n;
    const char *h = "a=1; moat_session=abc; b=\"q\"";
    assert_int_equal(moat_http_cookie_get(h, strlen(h), "moat_session", &v, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "abc", 3);
    assert_int_equal(moat_http_cookie_get(h, strlen(h), "b", &v, &n), 0);
    assert_memory_equal(v, "q", 1);
    assert_int_equal(moat_http_cookie_get(h, strlen(h), "session", &v, &n), MOAT_ENOENT);
    assert_int_equal(moat_http_cookie_get(h, strlen(h), "moat", &v, &n), MOAT_ENOENT);
    const char *twice = "moat_session=a;moat_session=b";
    assert_int_equal(moat_http_cookie_get(twice, strlen(twice), "moat_session", &v, &n),
                     MOAT_EINVAL);
    assert_int_equal(moat_http_cookie_get("", 0, "x", &v, &n), MOAT_ENOENT);
}

static void test_forms(void **state)
{
    (void)state;
    moat_arena *a = moat_arena_new();
    moat_http_form f;
    const char *body = "username=al%69ce&password=a+b%26c%3D&code=&rd=%2Fx%3Fy%3D1";
    assert_int_equal(moat_http_form_parse(a, body, strlen(body), &f), 0);
    assert_string_equal(moat_http_form_get(&f, "username"), "alice");
    assert_string_equal(moat_http_form_get(&f, "password"), "a b&c=");
    assert_string_equal(moat_http_form_get(&f, "code"), "");
    assert_string_equal(moat_http_form_get(&f, "rd"), "/x?y=1");
    assert_null(moat_http_form_get(&f, "csrf"));
    assert_int_equal(moat_http_form_parse(a, "a=%zz", 5, &f), MOAT_EINVAL);
    assert_int_equal(moat_http_form_parse(a, "a=%4", 4, &f), MOAT_EINVAL);
    assert_int_equal(moat_http_form_parse(a, "a=%00", 5, &f), MOAT_EINVAL);
    assert_int_equal(moat_http_form_parse(a, "a=1&a=2", 7, &f), MOAT_EINVAL); /* ambiguous */
    assert_int_equal(moat_http_form_parse(a, "&&x&", 4, &f), 0);
    assert_string_equal(moat_http_form_get(&f, "x"), "");
    moat_buf many;
    moat_buf_init(&many);
    for (int i = 0; i < MOAT_HTTP_FORM_MAX + 1; i++)
        moat_buf_printf(&many, "k%d=v&", i);
    assert_int_equal(moat_http_form_parse(a, many.data, many.len, &f), MOAT_ETOOBIG);
    moat_buf_free(&many);
    moat_arena_free(a);
}

static void test_return_addresses(void **state)
{
    (void)state;
    assert_true(moat_portal_rd_ok("/"));
    assert_true(moat_portal_rd_ok("/admin/x?y=1&z=%2F"));
    assert_false(moat_portal_rd_ok(NULL));
    assert_false(moat_portal_rd_ok(""));
    assert_false(moat_portal_rd_ok("//evil.example"));
    assert_false(moat_portal_rd_ok("/\\evil.example"));
    assert_false(moat_portal_rd_ok("https://evil.example/"));
    assert_false(moat_portal_rd_ok("javascript:alert(1)"));
    assert_false(moat_portal_rd_ok("evil.example"));
    assert_false(moat_portal_rd_ok("/ok\r\nSet-Cookie: x=1"));
    assert_false(moat_portal_rd_ok("/a\\b"));
    assert_false(moat_portal_rd_ok("/%2F%2Fevil.example"));
    assert_false(moat_portal_rd_ok("/%5cevil.example"));
    assert_false(moat_portal_rd_ok("/\t/evil.example"));
}

static void test_escaping(void **state)
{
    (void)state;
    moat_buf b;
    moat_buf_init(&b);
    moat_portal_html_escape(&b, "<a href=\"x\">'&'</a>");
    assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    moat_buf_reset(&b);
    moat_http_url_escape(&b, "/a b?c=d&e");
    assert_string_equal(b.data, "/a%20b%3Fc%3Dd%26e");
    moat_buf_free(&b);
}

static void test_client_addr(void **state)
{
    (void)state;
    moat_config *c = load("trusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]\n");
    moat_arena *a = moat_arena_new();
    moat_http_head *h = moat_arena_calloc(a, sizeof(*h));
    char out[64];
    /* Not from a proxy: the peer, whatever the header says. */
    moat_http_head_add(h, a, "X-Forwarded-For", "1.2.3.4");
    moat__auth_client_addr(c, "192.0.2.7", h, out, sizeof(out));
    assert_string_equal(out, "192.0.2.7");
    /* From a proxy: the right-most address that is not a proxy. */
    moat__auth_client_addr(c, "10.1.1.1", h, out, sizeof(out));
    assert_string_equal(out, "1.2.3.4");
    moat_http_head_remove(h, "X-Forwarded-For");
    moat_http_head_add(h, a, "X-Forwarded-For", "6.6.6.6, 198.51.100.9 ,10.2.2.2");
    moat_http_head_add(h, a, "X-Forwarded-For", "127.0.0.1");
    moat__auth_client_addr(c, "10.1.1.1", h, out, sizeof(out));
    assert_string_equal(out, "198.51.100.9");
    /* Garbage stops the walk at the last good address. */
    moat_http_head_remove(h, "X-Forwarded-For");
    moat_http_head_add(h, a, "X-Forwarded-For", "not-an-ip, 10.3.3.3");
    moat__auth_client_addr(c, "10.1.1.1", h, out, sizeof(out));
    assert_string_equal(out, "10.3.3.3");
    moat_http_head_remove(h, "X-Forwarded-For");
    moat__auth_client_addr(c, "10.1.1.1", h, out, sizeof(out));
    assert_string_equal(out, "10.1.1.1");
    moat_arena_free(a);
    moat_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_patterns),
        cmocka_unit_test(test_path_patterns_against_reference),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_bad_rules),
        cmocka_unit_test(test_cookies),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_return_addresses),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_client_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
