/* code.h - the code analyser of `moat audit code`: Python sources parsed with
 * tree-sitter, checked against Bandit-compatible and moat rules with a taint
 * pass that follows calls into the project's own functions (call summaries,
 * analyse.c), and Jinja2/Django templates checked for escaping turned off.
 * Findings are moat_audit_finding (audit.h). */
#ifndef MOAT_AUDIT_CODE_H
#define MOAT_AUDIT_CODE_H

#include "audit/audit.h"
#include "audit/code/rules.h"

/* The code rules' ids as an enum, from the same list as the table: the
 * checks report MOAT_CODE_B608, never a string, so a typo fails the build. */
#define MOAT_CODE_RULE_ENUM(sym, ...) MOAT_CODE_##sym,
typedef enum { MOAT_CODE_RULES(MOAT_CODE_RULE_ENUM) MOAT_CODE__COUNT } moat_code_rule;
#undef MOAT_CODE_RULE_ENUM

extern const moat_audit_rule moat_audit_code_rules[MOAT_CODE__COUNT];
extern const size_t moat_audit_code_nrules;

/* The Python files of the audited tree by module name, and the call
 * summaries of their functions, computed when another module calls them with
 * request data (shared by the analysing threads; analyse.c). */
typedef struct moat_audit_project moat_audit_project;

/* root: the audited folder; paths: the .py files under it (copied). */
moat_audit_project *moat_audit_project_new(const char *root, const char *const *paths, size_t n);
void moat_audit_project_free(moat_audit_project *p);

typedef struct moat_audit_code_opts {
    const char *const *skip;     /* rule ids not run (borrowed) */
    moat_audit_project *project; /* borrowed, may be NULL: calls are followed within a file only */
    size_t nskip;
    bool code;     /* run the code rules (this header's table) */
    bool settings; /* run the settings rules (audit/settings/settings.h) */
    bool combined; /* the code rules run on the same tree in the same report
                      set (moat audit PATH): settings leaves what they report */
    /* The code rules skip names, by moat_code_rule (MOAT_CODE__COUNT
     * entries; borrowed): worked out once for a whole run. NULL: from skip,
     * for each file. */
    const bool *disabled;
} moat_audit_code_opts;

/* What one analysed file gave besides its findings. */
typedef struct moat_audit_file_result {
    size_t suppressed; /* findings dropped by suppression comments */
    char *error;       /* owned: "path:line:col: syntax error ..." when the file did not
                          parse cleanly (what did parse was still analysed), else NULL */
    char **notes;      /* owned: settings whose value is not checkable here */
    size_t nnotes;
} moat_audit_file_result;

/* Frees what a result owns. */
void moat_audit_file_result_free(moat_audit_file_result *res);

/* Analyses Python source src[0..len) of path, appending findings to out.
 * Never fails on bad input: a file with syntax errors gets res->error. */
void moat_audit_code_python(const char *path, const char *src, size_t len,
                            const moat_audit_code_opts *o, moat_audit_findings *out,
                            moat_audit_file_result *res);

/* Frees what moat_audit_code_python keeps per thread (its parser); a
 * thread that analysed files calls it before it ends. */
void moat_audit_code_thread_end(void);

/* Whether path looks like a Jinja2/Django template (.html, .jinja, .j2, ...). */
bool moat_audit_code_is_template(const char *path);

/* Checks a template for `|safe` and `{% autoescape false/off %}`. */
void moat_audit_code_template(const char *path, const char *src, size_t len,
                              const moat_audit_code_opts *o, moat_audit_findings *out,
                              moat_audit_file_result *res);

/* Appends docs/audit-code.md: its prose (docs.c) and both rule tables. */
void moat_audit_code_docs(moat_buf *out);

/* Appends the rules (this module's, or any table) as a Markdown table. */
void moat_audit_rules_markdown(moat_buf *out, const moat_audit_rule *rules, size_t n);

#endif
