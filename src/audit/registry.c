/* registry.c - the analysers of the auditor (engine.h), in the order
 * `moat audit` runs them; `moat audit SUB` finds its analyser here too. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/code/code.h"
#include "audit/deps/deps.h"
#include "audit/engine.h"
#include "audit/secrets/secrets.h"
#include "audit/settings/settings.h"

static const moat_audit_rule *code_rules(size_t *n)
{
    *n = moat_audit_code_nrules;
    return moat_audit_code_rules;
}

static const moat_audit_rule *settings_rules(size_t *n)
{
    *n = moat_audit_settings_nrules;
    return moat_audit_settings_rules;
}

/* The code, settings and secrets analysers read every tree (a tree with
 * nothing for them is reported clean, with its file count). */
static bool wants_any(const char *path)
{
    (void)path;
    return true;
}

/* deps needs a requirements file, pyproject.toml, lock file or dist-info;
 * a file named on the command line is always read. */
static bool deps_wants(const char *path)
{
    struct stat st;
    return !(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && !moat_deps_dir_has_inputs(path));
}

const moat_audit_analyser moat_audit_analysers[] = {
    {"deps", "known-vulnerable dependencies (offline, from the OSV database)", NULL, deps_wants,
     moat_audit_deps_run},
    {"code", "dangerous code in Python sources and templates", code_rules, wants_any,
     moat_audit_code_run},
    {"settings", "insecure Django/Flask settings", settings_rules, wants_any,
     moat_audit_settings_run},
    {"secrets", "hard-coded secrets in every text file", moat_secrets_rules, wants_any,
     moat_audit_secrets_run},
};

_Static_assert(MOAT_ARRAY_LEN(moat_audit_analysers) == MOAT_AUDIT_NANALYSERS,
               "MOAT_AUDIT_NANALYSERS is the number of analysers");

const moat_audit_analyser *moat_audit_analyser_find(const char *name)
{
    for (size_t i = 0; i < MOAT_AUDIT_NANALYSERS; i++)
        if (strcmp(moat_audit_analysers[i].name, name) == 0) return &moat_audit_analysers[i];
    return NULL;
}

void moat_audit_make_safe(moat_buf *report, bool text)
{
    moat_buf safe;
    moat_buf_init(&safe);
    if (text)
        moat_term_escape(&safe, report->data ? report->data : "", report->len, MOAT_TERM_TEXT);
    else
        moat_json_harden(&safe, report->data ? report->data : "", report->len);
    moat_buf_free(report);
    *report = safe;
}
