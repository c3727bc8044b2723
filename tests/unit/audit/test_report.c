/* test_report.c - unit tests of src/audit/report: fingerprints that survive
 * line moves, suppression comments over multi-line statements, the baseline
 * round trip, and the three writers' shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"

static const moat_audit_rule rules[] = {
    {"B608", "hardcoded_sql_expressions", MOAT_AUDIT_MEDIUM, MOAT_AUDIT_LOW, 89,
     "SQL built from strings", "Use query parameters."},
    {"B602", "subprocess_popen_with_shell_equals_true", MOAT_AUDIT_HIGH, MOAT_AUDIT_HIGH, 78,
     "shell=True", "Pass a list and no shell."},
};

static void add(moat_audit_findings *f, const char *rule, const char *path, unsigned line,
                unsigned col, const char *snippet)
{
    moat_audit_finding *x = moat_audit_findings_push(f);
    x->rule = moat_xstrdup(rule);
    x->kind = moat_xstrdup("code");
    x->path = moat_xstrdup(path);
    x->line = x->end_line = line;
    x->col = col;
    x->severity = MOAT_AUDIT_MEDIUM;
    x->confidence = MOAT_AUDIT_HIGH;
    x->cwe = 89;
    x->message = moat_xstrdup("SQL built from strings");
    x->snippet = snippet ? moat_xstrdup(snippet) : NULL;
}

static void test_fingerprints(void **state)
{
    (void)state;
    moat_audit_findings a = {0}, b = {0};
    add(&a, "B608", "./app.py", 10, 5, "    cur.execute('x' + q)");
    add(&a, "B608", "./app.py", 20, 5, "cur.execute('x' + q)");
    add(&b, "B608", "app.py", 31, 9, "\tcur.execute('x'   +  q)  ");
    add(&b, "B608", "app.py", 12, 1, "cur.execute('x' + q)");
    moat_audit_findings_finish(&a);
    moat_audit_findings_finish(&b);
    /* sorted by line; same text twice: two different fingerprints */
    assert_int_equal(b.v[0].line, 12);
    assert_string_not_equal(a.v[0].fingerprint, a.v[1].fingerprint);
    /* moved and re-indented: the same fingerprints, in order */
    assert_string_equal(a.v[0].fingerprint, b.v[0].fingerprint);
    assert_string_equal(a.v[1].fingerprint, b.v[1].fingerprint);
    assert_int_equal(strlen(a.v[0].fingerprint), 64);
    moat_audit_findings_free(&a);
    moat_audit_findings_free(&b);
}

static void test_suppress(void **state)
{
    (void)state;
    const char *src = "x = 1\n"
                      "cur.execute(\n"
                      "    'SELECT ' + q  # nosec B608\n"
                      ")\n"
                      "subprocess.call(c, shell=True)  # nosec\n"
                      "y = f(a)  # moat: ignore[B602, B608]\n"
                      "z = g(b)  # nosec - reviewed by alice\n"
                      "k = 'AKIA...'  # pragma: allowlist secret\n"
                      "w = h(c)  # moat: ignore\n"
                      "v = h(c)  # nosec: B101\n"
                      "u = h(c)  # nosecurity\n"
                      "t = h(c)  # nosec B101  # see B602 notes\n"
                      "s = 'AKIA'  # moat: ignore[MOAT-S-JWT]\n"
                      "r = 'AKIA'  # nosec MOAT-S-JWT\n";
    size_t n = strlen(src);
    /* multi-line statement: the comment on its middle line counts */
    assert_true(moat_audit_suppressed(src, n, 2, 4, "B608", "code"));
    assert_false(moat_audit_suppressed(src, n, 2, 4, "B602", "code"));
    assert_false(moat_audit_suppressed(src, n, 2, 2, "B608", "code"));
    assert_true(moat_audit_suppressed(src, n, 5, 5, "B602", "code"));
    assert_true(moat_audit_suppressed(src, n, 6, 6, "B608", "code"));
    assert_false(moat_audit_suppressed(src, n, 6, 6, "B101", "code"));
    assert_true(moat_audit_suppressed(src, n, 7, 7, "B101", "code"));
    assert_true(moat_audit_suppressed(src, n, 8, 8, "MOAT-S-AWS", "secrets"));
    assert_false(moat_audit_suppressed(src, n, 8, 8, "B105", "code"));
    assert_true(moat_audit_suppressed(src, n, 9, 9, "anything", "code"));
    assert_true(moat_audit_suppressed(src, n, 10, 10, "B101", "code"));
    assert_false(moat_audit_suppressed(src, n, 10, 10, "B608", "code"));
    assert_false(moat_audit_suppressed(src, n, 11, 11, "B608", "code"));
    assert_false(moat_audit_suppressed(src, n, 1, 1, "B608", "code"));
    assert_false(moat_audit_suppressed(src, n, 40, 41, "B608", "code"));
    /* the id list ends at the next comment */
    assert_true(moat_audit_suppressed(src, n, 12, 12, "B101", "code"));
    assert_false(moat_audit_suppressed(src, n, 12, 12, "B602", "code"));
    /* moat's digitless ids name one rule, never all of them */
    assert_true(moat_audit_suppressed(src, n, 13, 13, "MOAT-S-JWT", "secrets"));
    assert_false(moat_audit_suppressed(src, n, 13, 13, "MOAT-S-AWS", "secrets"));
    assert_true(moat_audit_suppressed(src, n, 14, 14, "MOAT-S-JWT", "secrets"));
    assert_false(moat_audit_suppressed(src, n, 14, 14, "MOAT-S-AWS", "secrets"));
}

static moat_audit_report report_of(const moat_audit_findings *f)
{
    static const moat_audit_rule *const tables[] = {rules};
    static const size_t counts[] = {MOAT_ARRAY_LEN(rules)};
    static const char *const errors[] = {"bad.py:3: could not parse"};
    moat_audit_report r = {.findings = f,
                           .rule_tables = tables,
                           .rule_counts = counts,
                           .ntables = 1,
                           .errors = errors,
                           .nerrors = 1,
                           .files = 3};
    return r;
}

static void test_render_and_baseline(void **state)
{
    (void)state;
    moat_audit_findings f = {0};
    add(&f, "B608", "app.py", 4, 9, "\tcur.execute('x' + q)");
    add(&f, "B602", "lib/run.py", 2, 1, "os.system(c)");
    moat_audit_finding *x = &f.v[0];
    x->steps = moat_xcalloc(2, sizeof(*x->steps));
    x->nsteps = 2;
    x->steps[0] = (moat_audit_step){2, moat_xstrdup("request.args read"), NULL};
    x->steps[1] = (moat_audit_step){4, moat_xstrdup("reaches execute()"), NULL};
    moat_audit_findings_finish(&f);
    moat_audit_report r = report_of(&f);

    moat_buf t;
    moat_buf_init(&t);
    moat_audit_render(&t, &r, MOAT_AUDIT_TEXT);
    assert_non_null(strstr(t.data, "app.py\n  4:9  B608"));
    assert_non_null(strstr(t.data, "    4 | \tcur.execute('x' + q)\n      | \t       ^\n"));
    assert_non_null(strstr(t.data, "path: line 2: request.args read"));
    assert_non_null(strstr(t.data, "\nlib/run.py\n"));
    assert_non_null(strstr(t.data, "2 findings (0 high, 2 medium, 0 low) in 2 of 3 files"));
    moat_buf_free(&t);

    moat_buf j;
    moat_buf_init(&j);
    moat_audit_render(&j, &r, MOAT_AUDIT_JSON);
    json_error_t je;
    json_t *doc = json_loads(j.data, 0, &je);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "findings")), 2);
    json_decref(doc);

    char path[] = "/tmp/moat-baseline-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, j.data, j.len), (ssize_t)j.len);
    close(fd);
    moat_audit_baseline *b = NULL;
    char *err = NULL;
    assert_int_equal(moat_audit_baseline_load(path, &b, &err), 0);
    unlink(path);
    moat_audit_findings g = {0};
    add(&g, "B608", "app.py", 40, 9, "cur.execute('x' + q)"); /* moved: known */
    add(&g, "B608", "app.py", 41, 9, "cur.execute('y' + q)"); /* new */
    moat_audit_findings_finish(&g);
    assert_int_equal(moat_audit_findings_drop_baseline(&g, b), 1);
    assert_int_equal(g.len, 1);
    assert_int_equal(g.v[0].line, 41);
    moat_audit_baseline_free(b);
    moat_audit_findings_free(&g);
    moat_buf_free(&j);

    assert_true(moat_audit_baseline_load("/nonexistent/x.json", &b, &err) < 0);
    assert_non_null(strstr(err, "/nonexistent/x.json"));
    free(err);

    moat_buf s;
    moat_buf_init(&s);
    moat_audit_render(&s, &r, MOAT_AUDIT_SARIF);
    doc = json_loads(s.data, 0, &je);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "version")), "2.1.0");
    json_t *run = json_array_get(json_object_get(doc, "runs"), 0);
    json_t *driver = json_object_get(json_object_get(run, "tool"), "driver");
    assert_int_equal(json_array_size(json_object_get(driver, "rules")), 2);
    json_t *res = json_array_get(json_object_get(run, "results"), 0);
    assert_string_equal(json_string_value(json_object_get(res, "ruleId")), "B608");
    assert_int_equal(json_integer_value(json_object_get(res, "ruleIndex")), 0);
    assert_non_null(json_object_get(res, "codeFlows"));
    json_decref(doc);
    moat_buf_free(&s);
    moat_audit_findings_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprints),
        cmocka_unit_test(test_suppress),
        cmocka_unit_test(test_render_and_baseline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
