/* rules.c - the code rules: id (Bandit's where Bandit has the check, so that
 * `# nosec B608` keeps working), default severity and confidence, CWE, the
 * one-line message and the doc entry that docs/audit-code.md and SARIF show.
 * The list itself is rules.h (one X-macro, also the enum); the checks are in
 * analyse.c and templates.c. */
#include <string.h>

#include "audit/code/code.h"

#define L MOAT_AUDIT_LOW
#define M MOAT_AUDIT_MEDIUM
#define H MOAT_AUDIT_HIGH

#define ROW(sym, id, name, sev, conf, cwe, msg, doc) {id, name, sev, conf, cwe, msg, doc},
const moat_audit_rule moat_audit_code_rules[MOAT_CODE__COUNT] = {MOAT_CODE_RULES(ROW)};
#undef ROW
const size_t moat_audit_code_nrules = MOAT_CODE__COUNT;

static void md_cell(moat_buf *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            moat_buf_puts(out, "\\|");
        else
            moat_buf_putc(out, *s);
    }
}

void moat_audit_rules_markdown(moat_buf *out, const moat_audit_rule *rules, size_t n)
{
    moat_buf_puts(out, "| id | name | severity | confidence | CWE | what and why |\n"
                       "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const moat_audit_rule *r = &rules[i];
        moat_buf_printf(out, "| %s | %s | %s | %s | ", r->id, r->name,
                        moat_audit_level_name(r->severity), moat_audit_level_name(r->confidence));
        if (r->cwe)
            moat_buf_printf(out, "[CWE-%u](https://cwe.mitre.org/data/definitions/%u.html)", r->cwe,
                            r->cwe);
        moat_buf_puts(out, " | ");
        md_cell(out, r->message);
        moat_buf_puts(out, " ");
        md_cell(out, r->doc);
        moat_buf_puts(out, " |\n");
    }
}
