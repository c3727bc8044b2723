/* test_pep440.c - PEP 440 versions and specifiers against the case table
 * (pep440_cases.tsv, beside this file) whose answers tests/tools/
 * pep440_table.py computed with python3-packaging; the integration suite
 * checks that the table still equals what packaging says. Plus the cases a
 * table says badly: digit strings longer than 64 bits, ownership. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/deps/deps.h"

/* The table sits beside this source. __FILE__ is the path the compiler was
 * given, relative to the build directory meson runs the tests in; run by
 * hand from the repository root, the repository-relative path finds it. */
static char *table_path(void)
{
    const char *env = getenv("MOAT_PEP440_CASES");
    if (env) return moat_xstrdup(env);
    const char *f = __FILE__;
    const char *slash = strrchr(f, '/');
    char *beside =
        moat_xasprintf("%.*s/pep440_cases.tsv", slash ? (int)(slash - f) : 1, slash ? f : ".");
    if (access(beside, R_OK) == 0) return beside;
    free(beside);
    return moat_xstrdup("tests/unit/audit/pep440_cases.tsv");
}

static void unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            *o++ = *p == 't' ? '\t' : *p;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
}

static moat_pep440 *ver(const char *s)
{
    moat_pep440 *v = NULL;
    if (moat_pep440_parse(s, strlen(s), &v) < 0) fail_msg("'%s' did not parse", s);
    return v;
}

static void test_table(void **state)
{
    (void)state;
    char *path = table_path();
    char *data;
    size_t len;
    if (moat_read_file(path, &data, &len) < 0) fail_msg("cannot read %s", path);
    int rows = 0, bad = 0;
    char *save = data;
    for (char *line = data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        char *f[6] = {0};
        int nf = 0;
        for (char *p = line; nf < 6;) {
            f[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = 0;
            p = tab + 1;
        }
        for (int i = 0; i < nf; i++)
            unescape(f[i]);
        rows++;
        if (strcmp(f[0], "norm") == 0 && nf == 3) {
            moat_pep440 *v = NULL;
            int rc = moat_pep440_parse(f[1], strlen(f[1]), &v);
            const char *want = f[2];
            char *got = rc < 0 ? moat_xstrdup("INVALID") : moat_pep440_str(v);
            if (strcmp(got, want) != 0) {
                print_error("norm '%s': got %s, packaging says %s\n", f[1], got, want);
                bad++;
            }
            free(got);
            moat_pep440_free(v);
        } else if (strcmp(f[0], "cmp") == 0 && nf == 4) {
            moat_pep440 *a = ver(f[1]), *b = ver(f[2]);
            int c = moat_pep440_cmp(a, b);
            c = (c > 0) - (c < 0);
            if (c != (int)strtol(f[3], NULL, 10)) {
                print_error("cmp %s %s: got %d, packaging says %s\n", f[1], f[2], c, f[3]);
                bad++;
            }
            moat_pep440_free(a);
            moat_pep440_free(b);
        } else if (strcmp(f[0], "spec") == 0 && nf == 5) {
            moat_pep440_specset *s = NULL;
            char *err = NULL;
            if (moat_pep440_specset_parse(f[1], strlen(f[1]), &s, &err) < 0)
                fail_msg("spec '%s': %s", f[1], err);
            moat_pep440 *v = ver(f[2]);
            int pre = (int)strtol(f[3], NULL, 10);
            bool got = moat_pep440_specset_contains(s, v, pre);
            bool want = strcmp(f[4], "1") == 0;
            if (got != want) {
                print_error("'%s' contains %s (prereleases %d): got %d, packaging says %d\n", f[1],
                            f[2], pre, got, want);
                bad++;
            }
            moat_pep440_free(v);
            moat_pep440_specset_free(s);
        } else {
            fail_msg("bad table row %d", rows);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(save);
    free(path);
    assert_true(rows >= 300);
    assert_int_equal(bad, 0);
}

static void test_long_numbers(void **state)
{
    (void)state;
    moat_pep440 *a = ver("1.18446744073709551616"); /* 2^64 */
    moat_pep440 *b = ver("1.18446744073709551615");
    moat_pep440 *c = ver("1.000018446744073709551616");
    assert_true(moat_pep440_cmp(a, b) > 0);
    assert_int_equal(moat_pep440_cmp(a, c), 0);
    char *s = moat_pep440_str(c);
    assert_string_equal(s, "1.18446744073709551616");
    free(s);
    moat_pep440_free(a);
    moat_pep440_free(b);
    moat_pep440_free(c);
}

static void test_specset_misc(void **state)
{
    (void)state;
    moat_pep440_specset *s = NULL;
    char *err = NULL;
    assert_int_equal(moat_pep440_specset_parse("~=1", 3, &s, &err), MOAT_EPARSE);
    assert_non_null(err);
    free(err);
    assert_int_equal(moat_pep440_specset_parse(">=1.0+local", 11, &s, &err), MOAT_EPARSE);
    free(err);
    assert_int_equal(moat_pep440_specset_parse("1.0", 3, &s, &err), MOAT_EPARSE);
    free(err);
    assert_int_equal(moat_pep440_specset_parse(" <2 , >=1.0 ", 12, &s, NULL), 0);
    char *t = moat_pep440_specset_str(s);
    assert_string_equal(t, "<2,>=1.0");
    free(t);
    assert_false(moat_pep440_specset_pinned(s, NULL));
    moat_pep440_specset_free(s);
    assert_int_equal(moat_pep440_specset_parse("==1.2.3", 7, &s, NULL), 0);
    const char *pin = NULL;
    assert_true(moat_pep440_specset_pinned(s, &pin));
    assert_string_equal(pin, "1.2.3");
    moat_pep440_specset_free(s);
}

static void test_pep503(void **state)
{
    (void)state;
    char *n = moat_pep503_name("Foo__Bar.-baz", 13);
    assert_string_equal(n, "foo-bar-baz");
    free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_long_numbers),
        cmocka_unit_test(test_specset_misc),
        cmocka_unit_test(test_pep503),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
