/* run.c - the secrets analyser's run (`moat audit secrets`, and within
 * `moat audit`): walks the tree with the
 * secrets analyser (src/audit/secrets), drops what a --baseline already
 * knows, and prints the report (src/audit/report) as text, JSON or SARIF.
 * Exit status 0 clean, 1 findings, 2 usage or input error or a file that
 * could not be read. Files skipped for size or unreadable are listed in the
 * report, not findings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/engine.h"
#include "audit/secrets/secrets.h"
#include "core.h"

int moat_audit_secrets_run(const moat_audit_job *job)
{
    const char *root = job->npaths ? job->paths[0] : ".";
    size_t max_bytes = job->max_file_bytes ? job->max_file_bytes : MOAT_SECRETS_MAX_FILE_BYTES;
    moat_audit_baseline *baseline = NULL;
    if (job->baseline) {
        char *err = NULL;
        if (moat_audit_baseline_load(job->baseline, &baseline, &err) < 0) {
            fprintf(stderr, "moat audit secrets: %s\n", err);
            free(err);
            return 2;
        }
    }
    moat_secrets *s = NULL;
    if (moat_secrets_new(&s) < 0) {
        moat_audit_baseline_free(baseline);
        return 2;
    }
    moat_audit_findings found = {0};
    moat_secrets_stats st = {0};
    moat_buf notes;
    moat_buf_init(&notes);
    char *err = NULL;
    int rc = moat_secrets_scan_tree(s, root, job->exclude, job->nexclude, max_bytes, &found, &st,
                                    &notes, &err);
    moat_secrets_free(s);
    if (rc < 0) {
        fprintf(stderr, "moat audit secrets: %s\n", err ? err : moat_strerror(rc));
        free(err);
        moat_buf_free(&notes);
        moat_audit_findings_free(&found);
        moat_audit_baseline_free(baseline);
        return 2;
    }
    moat_audit_findings_finish(&found);
    size_t baselined = baseline ? moat_audit_findings_drop_baseline(&found, baseline) : 0;

    /* One note per line becomes one report error ("path: why"). */
    size_t nerrors = 0;
    char **errors = NULL;
    for (char *p = notes.data; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        errors = moat_xrealloc(errors, (nerrors + 1) * sizeof(*errors));
        errors[nerrors++] = p;
        p = nl ? nl + 1 : p + strlen(p);
    }
    size_t nrules;
    const moat_audit_rule *rules = moat_secrets_rules(&nrules);
    const moat_audit_rule *const tables[] = {rules};
    moat_audit_report report = {.findings = &found,
                                .rule_tables = tables,
                                .rule_counts = &nrules,
                                .ntables = 1,
                                .errors = (const char *const *)errors,
                                .nerrors = nerrors,
                                .files = st.files,
                                .suppressed = st.suppressed,
                                .baselined = baselined};
    moat_buf out;
    moat_buf_init(&out);
    moat_audit_render(&out, &report, job->format);
    moat_audit_make_safe(&out, job->format == MOAT_AUDIT_TEXT);
    fwrite(out.data, 1, out.len, stdout);
    /* fail closed: a file that could not be read was not audited */
    int status = st.unreadable ? 2 : found.len ? 1 : 0;
    if (fflush(stdout) != 0) status = 2;
    moat_buf_free(&out);
    free(errors);
    moat_buf_free(&notes);
    moat_audit_findings_free(&found);
    moat_audit_baseline_free(baseline);
    return status;
}
