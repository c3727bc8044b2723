/* test_engine.c - unit tests of the auditor's engine: the registry of
 * analysers (src/audit/registry.c), the code rules' enum and table from one
 * X-macro list (src/audit/code/rules.h), and a disabled rule family
 * reporting nothing while the others still do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/code/code.h"
#include "audit/engine.h"

static void test_registry(void **state)
{
    (void)state;
    static const char *const order[] = {"deps", "code", "settings", "secrets"};
    for (size_t i = 0; i < MOAT_AUDIT_NANALYSERS; i++) {
        const moat_audit_analyser *a = &moat_audit_analysers[i];
        assert_string_equal(a->name, order[i]);
        assert_ptr_equal(moat_audit_analyser_find(order[i]), a);
        assert_non_null(a->run);
        assert_non_null(a->wants);
        assert_true(a->summary && *a->summary);
        if (a->rules) {
            size_t n = 0;
            const moat_audit_rule *r = a->rules(&n);
            assert_true(n > 0);
            for (size_t k = 0; k < n; k++)
                assert_true(r[k].id && r[k].name && r[k].message);
        }
    }
    assert_null(moat_audit_analyser_find("dep"));
    assert_null(moat_audit_analysers[0].rules); /* deps: advisories, not rules */
    assert_ptr_equal(moat_audit_analysers[1].run, moat_audit_code_run);
}

static void test_rule_enum_matches_table(void **state)
{
    (void)state;
    assert_int_equal(moat_audit_code_nrules, MOAT_CODE__COUNT);
    assert_string_equal(moat_audit_code_rules[MOAT_CODE_B101].id, "B101");
    assert_string_equal(moat_audit_code_rules[MOAT_CODE_B608].id, "B608");
    assert_string_equal(moat_audit_code_rules[MOAT_CODE_MOAT_C101].id, "MOAT-C101");
    assert_string_equal(moat_audit_code_rules[MOAT_CODE_MOAT_C110].id, "MOAT-C110");
    /* ids are unique */
    for (size_t i = 0; i < MOAT_CODE__COUNT; i++)
        for (size_t k = i + 1; k < MOAT_CODE__COUNT; k++)
            assert_true(strcmp(moat_audit_code_rules[i].id, moat_audit_code_rules[k].id) != 0);
}

static size_t count(const moat_audit_findings *f, const char *rule)
{
    size_t n = 0;
    for (size_t i = 0; i < f->len; i++)
        n += strcmp(f->v[i].rule, rule) == 0;
    return n;
}

static void analyse(const char *src, const char *const *skip, size_t nskip,
                    moat_audit_findings *out)
{
    moat_audit_code_opts o = {.skip = skip, .nskip = nskip, .code = true};
    moat_audit_file_result res;
    moat_audit_code_python("t.py", src, strlen(src), &o, out, &res);
    assert_null(res.error);
    moat_audit_file_result_free(&res);
}

static void test_disabled_family_reports_nothing(void **state)
{
    (void)state;
    static const char src[] = "import requests, subprocess\n"
                              "requests.get('https://x', verify=False)\n"
                              "subprocess.call('ls', shell=True)\n"
                              "try:\n    pass\nexcept:\n    pass\n";
    moat_audit_findings all = {0}, some = {0};
    analyse(src, NULL, 0, &all);
    assert_int_equal(count(&all, "B501"), 1);
    assert_int_equal(count(&all, "B113"), 1);
    assert_int_equal(count(&all, "B602"), 1);
    assert_int_equal(count(&all, "B110"), 1);
    /* the whole http family off, and one rule of the except family */
    static const char *const skip[] = {"B501", "B113", "MOAT-C108", "B110"};
    analyse(src, skip, MOAT_ARRAY_LEN(skip), &some);
    assert_int_equal(count(&some, "B501"), 0);
    assert_int_equal(count(&some, "B113"), 0);
    assert_int_equal(count(&some, "B110"), 0);
    assert_int_equal(count(&some, "B602"), 1);
    assert_int_equal(some.len, all.len - 3);
    moat_audit_findings_free(&all);
    moat_audit_findings_free(&some);
    moat_audit_code_thread_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_rule_enum_matches_table),
        cmocka_unit_test(test_disabled_family_reports_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
