/* test_template.c - unit tests of the portal's template language
 * (src/auth/portal/template.c: escaping, raw values, sections, lists,
 * inverted sections, malformed templates refused) and of the look
 * (look.c: the built-in templates render, the stylesheet gets the accent and
 * a text colour that contrasts with it, the error page keeps the gateway's
 * {status} ... placeholders, a template folder overrides one file and a
 * broken one is refused, the logo's type comes from its name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/portal/internal.h"

static char *render(const char *tmpl, const moat__tvar *v, size_t nv, int *rc)
{
    moat_buf b;
    moat_buf_init(&b);
    const char *why = NULL;
    *rc = moat__tmpl_render(&b, tmpl, v, nv, &why);
    if (*rc < 0) assert_non_null(why);
    moat_buf_putc(&b, 0);
    return moat_buf_steal(&b);
}

static void expect(const char *tmpl, const moat__tvar *v, size_t nv, const char *want)
{
    int rc;
    char *got = render(tmpl, v, nv, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, want);
    free(got);
}

static void test_values(void **state)
{
    (void)state;
    moat__tvar v[] = {{.name = "a", .value = "<b>\"x\"&'y'"}, {.name = "e", .value = ""}};
    expect("[{{a}}]", v, 2, "[&lt;b&gt;&quot;x&quot;&amp;&#39;y&#39;]");
    expect("[{{{a}}}]", v, 2, "[<b>\"x\"&'y']");
    expect("[{{nope}}][{{e}}]", v, 2, "[][]");
    expect("no tags { } {x}", v, 2, "no tags { } {x}");
    expect("", v, 2, "");
}

static void test_sections(void **state)
{
    (void)state;
    const char *items[] = {"one", "<two>"};
    moat__tvar v[] = {{.name = "yes", .value = "1"},
                      {.name = "no", .value = NULL},
                      {.name = "empty", .value = ""},
                      {.name = "list", .list = items, .nlist = 2},
                      {.name = "none", .list = items, .nlist = 0}};
    size_t n = MOAT_ARRAY_LEN(v);
    expect("{{#yes}}Y{{/yes}}{{#no}}N{{/no}}{{#empty}}E{{/empty}}", v, n, "Y");
    expect("{{^yes}}Y{{/yes}}{{^no}}N{{/no}}{{^missing}}M{{/missing}}", v, n, "NM");
    expect("<ul>{{#list}}<li>{{.}}</li>{{/list}}</ul>", v, n,
           "<ul><li>one</li><li>&lt;two&gt;</li></ul>");
    expect("{{#none}}x{{/none}}{{^none}}empty{{/none}}", v, n, "empty");
    expect("{{#yes}}a{{#yes}}b{{/yes}}c{{/yes}}d", v, n, "abcd");
    expect("{{#yes}}{{#no}}x{{/no}}{{^no}}y{{/no}}{{/yes}}", v, n, "y");
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"{{a",         "{{#a}}x", "x{{/a}}", "{{{a}}", "{{#no}}{{oops{{/no}}",
                         "{{#a}}{{/b}}"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(bad); i++) {
        int rc;
        free(render(bad[i], NULL, 0, &rc));
        assert_int_equal(rc, -1);
    }
}

static moat_config *config(void)
{
    moat_config *cfg = moat_config_default();
    assert_non_null(cfg);
    return cfg;
}

static void test_look_defaults(void **state)
{
    (void)state;
    moat_config *cfg = config();
    moat_portal_look *look = NULL;
    char *err = NULL;
    assert_int_equal(moat_portal_look_new(cfg, &look, &err), 0);
    const char *body, *ctype;
    size_t len;
    assert_true(moat_portal_look_asset(look, MOAT_PORTAL_CSS_PATH, &body, &len, &ctype));
    assert_string_equal(ctype, "text/css; charset=utf-8");
    assert_non_null(strstr(body, "--accent: #1a5fb4;"));
    assert_non_null(strstr(body, "--accent-text: #ffffff;"));
    assert_null(strstr(body, "{{"));
    assert_false(moat_portal_look_asset(look, MOAT_PORTAL_LOGO_PATH, &body, &len, &ctype));
    assert_false(moat_portal_look_asset(look, "/.moat/other", &body, &len, &ctype));
    const char *page = moat_portal_look_error(look);
    assert_non_null(strstr(page, "<h1>{status} {reason}</h1>"));
    assert_non_null(strstr(page, "{request_id}"));
    assert_non_null(strstr(page, "<meta name=\"viewport\""));
    assert_null(strstr(page, "<script"));
    moat_portal_look_free(look);
    moat_config_free(cfg);
}

static void test_look_accent_and_folder(void **state)
{
    (void)state;
    char dir[] = "/tmp/moat-test-look-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/error.html", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("<p>{{site_name}} says {message}</p>", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/logo.svg", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("<svg xmlns=\"http://www.w3.org/2000/svg\"/>", f);
    fclose(f);

    moat_config *cfg = config();
    free(cfg->portal.accent_color);
    cfg->portal.accent_color = moat_xstrdup("#fc0"); /* light: black text */
    free(cfg->portal.templates);
    cfg->portal.templates = moat_xstrdup(dir);
    free(cfg->portal.logo);
    cfg->portal.logo = moat_xstrdup(path);
    moat_portal_look *look = NULL;
    char *err = NULL;
    assert_int_equal(moat_portal_look_new(cfg, &look, &err), 0);
    const char *body, *ctype;
    size_t len;
    assert_true(moat_portal_look_asset(look, MOAT_PORTAL_CSS_PATH, &body, &len, &ctype));
    assert_non_null(strstr(body, "--accent: #ffcc00;"));
    assert_non_null(strstr(body, "--accent-text: #000000;"));
    assert_true(moat_portal_look_asset(look, MOAT_PORTAL_LOGO_PATH, &body, &len, &ctype));
    assert_string_equal(ctype, "image/svg+xml");
    assert_non_null(strstr(moat_portal_look_error(look), "<p> says {message}</p>"));
    moat_portal_look_free(look);

    /* a broken template refuses the look, naming the file */
    snprintf(path, sizeof(path), "%s/login.html", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{{#error}}", f);
    fclose(f);
    look = NULL;
    assert_true(moat_portal_look_new(cfg, &look, &err) < 0);
    assert_null(look);
    assert_non_null(strstr(err, "login.html"));
    free(err);
    unlink(path);

    /* a logo moat cannot give a type */
    free(cfg->portal.logo);
    cfg->portal.logo = moat_xstrdup("/etc/hostname");
    err = NULL;
    assert_true(moat_portal_look_new(cfg, &look, &err) < 0);
    assert_non_null(strstr(err, "portal.logo"));
    free(err);

    snprintf(path, sizeof(path), "%s/error.html", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/logo.svg", dir);
    unlink(path);
    rmdir(dir);
    moat_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_look_defaults),
        cmocka_unit_test(test_look_accent_and_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
