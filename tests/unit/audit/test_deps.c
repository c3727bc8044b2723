/* test_deps.c - unit tests of the dependency auditor's parts: CVSS v3 base
 * scores, the OSV event rules, PEP 508 requirements and markers, the
 * requirements and Poetry readers on text, and the advisory store (in
 * memory) with its alias merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "audit/deps/deps_int.h"

static void test_cvss(void **state)
{
    (void)state;
    assert_float_equal(moat_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), 9.8, 1e-9);
    assert_float_equal(moat_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"), 6.1, 1e-9);
    assert_float_equal(moat_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"), 7.5, 1e-9);
    assert_float_equal(moat_cvss3_score("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"), 7.8, 1e-9);
    assert_float_equal(moat_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"), 10.0,
                       1e-9);
    assert_float_equal(moat_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"), 0.0, 1e-9);
    assert_true(moat_cvss3_score("CVSS:2.0/AV:N") < 0);
    assert_true(moat_cvss3_score("CVSS:3.1/AV:N/AC:L") < 0);
    assert_true(moat_cvss3_score("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") < 0);
    assert_string_equal(moat_cvss_label(9.8), "critical");
    assert_string_equal(moat_cvss_label(4.0), "medium");
    assert_string_equal(moat_cvss_label(3.9), "low");
    assert_null(moat_cvss_label(-1));
}

static bool affects(const char *events_json, const char *version)
{
    json_t *ev = json_loads(events_json, 0, NULL);
    assert_non_null(ev);
    moat_pep440 *v = NULL;
    assert_int_equal(moat_pep440_parse(version, strlen(version), &v), 0);
    bool r = moat__osv_events_affect(ev, v);
    moat_pep440_free(v);
    json_decref(ev);
    return r;
}

static void test_events(void **state)
{
    (void)state;
    const char *two = "[{\"introduced\":\"2.0\"},{\"fixed\":\"2.1\"},"
                      "{\"introduced\":\"0\"},{\"fixed\":\"1.5\"}]"; /* unsorted on purpose */
    assert_true(affects(two, "0.1"));
    assert_false(affects(two, "1.5"));
    assert_false(affects(two, "1.9"));
    assert_true(affects(two, "2.0.1"));
    assert_false(affects(two, "2.1"));
    const char *last = "[{\"introduced\":\"1.0\"},{\"last_affected\":\"1.2\"}]";
    assert_true(affects(last, "1.2"));
    assert_true(affects(last, "1.2.0"));
    assert_false(affects(last, "1.2.post1"));
    assert_false(affects(last, "0.9"));
    /* pre-releases are not excluded when matching advisories */
    assert_true(affects("[{\"introduced\":\"1.0a1\"},{\"fixed\":\"1.0\"}]", "1.0rc2"));
    /* an event that is not PEP 440 is ignored, the rest still counts */
    assert_true(affects("[{\"introduced\":\"0\"},{\"fixed\":\"not-a-version!\"}]", "5"));
    assert_false(affects("[]", "1.0"));
    assert_false(affects("[{\"limit\":\"1.0\"}]", "0.5"));
}

static moat_marker_env env311(void)
{
    moat_marker_env env;
    char *err = NULL;
    assert_int_equal(moat_marker_env_init(&env, NULL, "3.11", &err), 0);
    assert_null(err);
    return env;
}

static int mark(const moat_marker_env *env, const char *m, const char *extra)
{
    char *err = NULL;
    int r = moat_marker_eval(m, env, extra, &err);
    free(err);
    return r;
}

static void test_markers(void **state)
{
    (void)state;
    moat_marker_env env = env311();
    assert_string_equal(env.python_full_version, "3.11.0");
    assert_int_equal(mark(&env, "python_version >= \"3.8\"", ""), 1);
    assert_int_equal(mark(&env, "python_version < '3.8'", ""), 0);
    /* versions compare as versions, not text: "3.11" > "3.9" */
    assert_int_equal(mark(&env, "python_version > \"3.9\"", ""), 1);
    assert_int_equal(mark(&env, "\"3.9\" < python_version", ""), 1);
    assert_int_equal(mark(&env,
                          "os_name == 'posix' and (sys_platform == 'win32' or "
                          "python_version ~= '3.10')",
                          ""),
                     1);
    assert_int_equal(mark(&env, "'linux' in sys_platform", ""), 1);
    assert_int_equal(mark(&env, "sys_platform not in 'win32 cygwin'", ""), 1);
    assert_int_equal(mark(&env, "extra == 'Dev_Tools'", "dev-tools"), 1);
    assert_int_equal(mark(&env, "extra == 'dev'", ""), 0);
    assert_int_equal(mark(&env, "python_version >= ", ""), MOAT_EPARSE);
    assert_int_equal(mark(&env, "python_version = '3'", ""), MOAT_EPARSE);
    assert_int_equal(mark(&env, "'a' == 'b'", ""), MOAT_EPARSE);
    assert_int_equal(mark(&env, "no_such_name == '1'", ""), MOAT_EPARSE);
    assert_int_equal(mark(&env, "(python_version > '3'", ""), MOAT_EPARSE);
    char deep[20001];
    memset(deep, '(', 20000);
    deep[20000] = 0;
    assert_int_equal(mark(&env, deep, ""), MOAT_EPARSE); /* bounded, not a stack overflow */
    moat_marker_env_clear(&env);
    /* a value the environment does not know: an error, never silently false */
    moat_marker_env empty = {0};
    assert_int_equal(mark(&empty, "python_version < '3'", ""), MOAT_EINVAL);
    moat_marker_env bad;
    char *err = NULL;
    assert_int_equal(moat_marker_env_init(&bad, NULL, "three", &err), MOAT_EINVAL);
    assert_non_null(err);
    free(err);
    moat_marker_env_clear(&bad);
}

static void test_req_parse(void **state)
{
    (void)state;
    moat_pep508_req r;
    char *err = NULL;
    const char *s = "Requests [socks, security] (>=2.19, <3) ; python_version >= '3'";
    assert_int_equal(moat_pep508_parse(s, strlen(s), &r, &err), 0);
    assert_string_equal(r.name, "Requests");
    assert_int_equal(r.nextras, 2);
    assert_string_equal(r.extras[1], "security");
    char *t = moat_pep440_specset_str(r.spec);
    assert_string_equal(t, "<3,>=2.19");
    free(t);
    assert_string_equal(r.marker, "python_version >= '3'");
    moat_pep508_clear(&r);
    s = "pkg @ https://example.invalid/pkg-1.0.zip ; extra == 'x'";
    assert_int_equal(moat_pep508_parse(s, strlen(s), &r, &err), 0);
    assert_string_equal(r.url, "https://example.invalid/pkg-1.0.zip");
    moat_pep508_clear(&r);
    const char *bad[] = {
        "", "-pkg", "pkg >= ", "pkg[", "pkg ==1.0 ; ", "pkg ; bogus ~ 1", "pkg @ ", "pkg (>=1.0"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(bad); i++) {
        assert_int_equal(moat_pep508_parse(bad[i], strlen(bad[i]), &r, &err), MOAT_EPARSE);
        assert_non_null(err);
        free(err);
        err = NULL;
    }
}

static const moat_dep *find_dep(const moat_deps *d, const char *name)
{
    for (size_t i = 0; i < d->len; i++)
        if (strcmp(d->v[i].name, name) == 0) return &d->v[i];
    return NULL;
}

static void test_requirements_text(void **state)
{
    (void)state;
    moat_marker_env env = env311();
    moat_deps d;
    moat_deps_init(&d, &env, NULL);
    const char *txt = "# comment\n"
                      "Flask==0.12 \\\n"
                      "    --hash=sha256:00 \\\n"
                      "    --hash=sha256:11\n"
                      "zope.interface>=5 # trailing comment\n"
                      "old==1.0; python_version < '3'\n"
                      "git+https://example.invalid/r.git#egg=vcs_pkg\n"
                      "url#notacomment==1.0\n"
                      "--pre\n"
                      "--bogus-option\n"
                      "Six===1.16.0\r\n";
    moat__deps_parse_requirements(&d, "dir/requirements.txt", txt, strlen(txt));
    const moat_dep *x = find_dep(&d, "flask");
    assert_non_null(x);
    assert_string_equal(x->version, "0.12");
    assert_int_equal(x->line, 2);
    x = find_dep(&d, "zope-interface");
    assert_non_null(x);
    assert_null(x->version);
    assert_string_equal(x->spec, ">=5");
    assert_int_equal(x->line, 5);
    assert_null(find_dep(&d, "old"));
    x = find_dep(&d, "vcs-pkg");
    assert_non_null(x);
    assert_non_null(x->note);
    x = find_dep(&d, "six");
    assert_non_null(x);
    assert_string_equal(x->version, "1.16.0");
    assert_int_equal(x->line, 11);
    /* "url#notacomment==1.0" is not valid, --bogus-option is unknown */
    assert_int_equal(d.problems, 2);
    moat_deps_free(&d);
    moat_marker_env_clear(&env);
}

static void test_poetry_constraints(void **state)
{
    (void)state;
    moat_deps d;
    moat_deps_init(&d, NULL, NULL);
    const char *txt = "[tool.poetry.dependencies]\n"
                      "python = \"^3.8\"\n"
                      "a = \"^1.2.3\"\n"
                      "b = \"^0.2.3\"\n"
                      "c = \"~1.2\"\n"
                      "d = \"1.4.2\"\n"
                      "e = { version = \">= 2.0, < 3\" }\n"
                      "f = \"*\"\n"
                      "g = { git = \"https://example.invalid/g.git\" }\n"
                      "h = \"^0.0.9\"\n"
                      "i = \"1.0 || 2.0\"\n";
    moat__deps_parse_lock(&d, "x/pyproject.toml", txt, strlen(txt));
    assert_null(find_dep(&d, "python"));
    assert_string_equal(find_dep(&d, "a")->spec, "<2,>=1.2.3");
    assert_string_equal(find_dep(&d, "b")->spec, "<0.3,>=0.2.3");
    assert_string_equal(find_dep(&d, "c")->spec, "<1.3,>=1.2");
    assert_string_equal(find_dep(&d, "d")->version, "1.4.2");
    assert_string_equal(find_dep(&d, "e")->spec, "<3,>=2.0");
    assert_string_equal(find_dep(&d, "f")->spec, "");
    assert_non_null(find_dep(&d, "g")->note);
    assert_string_equal(find_dep(&d, "h")->spec, "<0.0.10,>=0.0.9");
    assert_null(find_dep(&d, "i"));
    assert_int_equal(d.problems, 1);
    moat_deps_free(&d);
}

static void store(moat_osvdb *db, const char *json)
{
    json_t *rec = json_loads(json, 0, NULL);
    assert_non_null(rec);
    moat_osvdb_stats st = {0};
    char *err = NULL;
    assert_int_equal(moat__osv_store(db, rec, "test", NULL, &st, &err), 0);
    json_decref(rec);
}

static void test_store_and_merge(void **state)
{
    (void)state;
    moat_osvdb *db = NULL;
    char *err = NULL;
    assert_int_equal(moat_osvdb_open(":memory:", true, &db, &err), 0);
    store(db, "{\"id\":\"GHSA-aaaa\",\"aliases\":[\"CVE-1\"],\"affected\":[{\"package\":"
              "{\"ecosystem\":\"PyPI\",\"name\":\"Demo.Pkg\"},\"ranges\":[{\"type\":\"ECOSYSTEM\","
              "\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"1.1\"}]}]}],"
              "\"database_specific\":{\"severity\":\"MODERATE\"}}");
    store(db, "{\"id\":\"PYSEC-1\",\"aliases\":[\"CVE-1\"],\"summary\":\"one\",\"affected\":"
              "[{\"package\":{\"ecosystem\":\"PyPI\",\"name\":\"demo_pkg\"},\"versions\":"
              "[\"1.0\",\"1.1.0\"]}],\"severity\":[{\"type\":\"CVSS_V3\",\"score\":"
              "\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H\"}]}");
    store(db, "{\"id\":\"PYSEC-2\",\"withdrawn\":\"2024-01-01T00:00:00Z\",\"affected\":"
              "[{\"package\":{\"ecosystem\":\"PyPI\",\"name\":\"demo-pkg\"},\"ranges\":[{\"type\":"
              "\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"}]}]}]}");
    moat_pep440 *v = NULL;
    assert_int_equal(moat_pep440_parse("1.0", 3, &v), 0);
    moat_vuln *out = NULL;
    size_t n = 0;
    assert_int_equal(moat_osvdb_query(db, "demo-pkg", v, "1.0", &out, &n), 0);
    assert_int_equal(n, 1); /* GHSA-aaaa and PYSEC-1 are CVE-1; PYSEC-2 is withdrawn */
    assert_string_equal(out[0].id, "PYSEC-1");
    assert_int_equal(out[0].naliases, 2);
    assert_string_equal(out[0].aliases[0], "CVE-1");
    assert_string_equal(out[0].aliases[1], "GHSA-aaaa");
    assert_int_equal(out[0].nfixed, 1);
    assert_string_equal(out[0].fixed[0], "1.1");
    assert_float_equal(out[0].score, 7.5, 1e-9);
    assert_string_equal(out[0].severity, "high");
    moat_vulns_free(out, n);
    moat_pep440_free(v);
    /* 1.1.0 is listed by PYSEC-1 though the GHSA range ends at 1.1 */
    assert_int_equal(moat_pep440_parse("1.1", 3, &v), 0);
    assert_int_equal(moat_osvdb_query(db, "demo-pkg", v, "1.1", &out, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, "PYSEC-1");
    moat_vulns_free(out, n);
    moat_pep440_free(v);
    assert_int_equal(moat_pep440_parse("1.2", 3, &v), 0);
    assert_int_equal(moat_osvdb_query(db, "demo-pkg", v, "1.2", &out, &n), 0);
    assert_int_equal(n, 0);
    moat_pep440_free(v);
    char **known = NULL;
    size_t nk = 0;
    assert_int_equal(moat_osvdb_known_versions(db, "demo-pkg", &known, &nk), 0);
    assert_int_equal(nk, 2); /* 1.0 and 1.1 (1.1.0 is the same version) */
    moat_deps_strv_free(known, nk);
    moat_osvdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cvss),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_markers),
        cmocka_unit_test(test_req_parse),
        cmocka_unit_test(test_requirements_text),
        cmocka_unit_test(test_poetry_constraints),
        cmocka_unit_test(test_store_and_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
