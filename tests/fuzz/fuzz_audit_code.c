/* fuzz_audit_code.c - libFuzzer target for the source analyser: the input is
 * analysed as a Python file (code and settings rules, taint), as a template
 * and as a .env file, then the findings are finished and rendered in all
 * three formats. Checked: every finding has a rule, a line within the input
 * and a message; crashes, leaks and sanitizer reports are the findings.
 * Seeds in tests/fuzz/corpus/audit_code/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/code/code.h"
#include "audit/settings/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* NUL-terminated copy, as moat_read_file gives the analysers */
    char *src = malloc(size + 1);
    MOAT_BUG_ON(!src);
    memcpy(src, data, size);
    src[size] = '\0';
    unsigned lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += src[i] == '\n';

    const moat_audit_code_opts o = {.code = true, .settings = true};
    moat_audit_findings f = {0};
    moat_audit_file_result res;
    moat_audit_code_python("settings.py", src, size, &o, &f, &res);
    moat_audit_file_result_free(&res);
    moat_audit_code_template("t.html", src, size, &o, &f, &res);
    moat_audit_file_result_free(&res);
    moat_audit_settings_env(".env", src, size, &o, &f, &res);
    moat_audit_file_result_free(&res);
    for (size_t i = 0; i < f.len; i++) {
        MOAT_BUG_ON(!f.v[i].rule || !f.v[i].message || !f.v[i].path);
        MOAT_BUG_ON(f.v[i].line < 1 || f.v[i].line > lines);
        for (size_t s = 0; s < f.v[i].nsteps; s++)
            MOAT_BUG_ON(f.v[i].steps[s].line < 1 || f.v[i].steps[s].line > lines);
    }
    moat_audit_findings_finish(&f);
    const moat_audit_rule *const tables[] = {moat_audit_code_rules, moat_audit_settings_rules};
    const size_t counts[] = {moat_audit_code_nrules, moat_audit_settings_nrules};
    moat_audit_report r = {
        .findings = &f, .rule_tables = tables, .rule_counts = counts, .ntables = 2, .files = 3};
    for (int fmt = MOAT_AUDIT_TEXT; fmt <= MOAT_AUDIT_SARIF; fmt++) {
        moat_buf b;
        moat_buf_init(&b);
        moat_audit_render(&b, &r, (moat_audit_format)fmt);
        MOAT_BUG_ON(b.len == 0);
        moat_buf_free(&b);
    }
    moat_audit_findings_free(&f);
    free(src);
    return 0;
}
