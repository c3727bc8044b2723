/* engine.h - the auditor as one engine: the registry of analysers that
 * `moat audit` and each `moat audit SUB` run alike. An analyser is
 * {name, rules, wants(path), run(job)}: the CLI (src/cli/cmd_audit*.c) only
 * turns argv into a moat_audit_job and calls run; `moat audit` fills one job
 * and runs every analyser whose wants() says the tree has something for it.
 * Adding an analyser is one row in registry.c (see
 * docs/internals/cli-and-audit.md). */
#ifndef MOAT_AUDIT_ENGINE_H
#define MOAT_AUDIT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "audit/audit.h"

/* What to audit and how to report it; every field is borrowed. Zero means
 * the default (the current folder, text, the config found in the tree). */
typedef struct moat_audit_job {
    const char *const *paths; /* folders or files; none: "." */
    size_t npaths;
    moat_audit_format format;
    const char *deps_format; /* deps: table, json, sarif, markdown, cyclonedx (NULL: from format) */
    const char *output;      /* write the report there instead of stdout (code, settings) */
    const char *baseline;    /* an earlier --format json report */
    const char *config;      /* moat.toml or pyproject.toml */
    const char *db;          /* deps: the advisory database */
    const char *severity, *confidence; /* code, settings: thresholds (NULL: config's) */
    const char *const *skip;           /* rule ids not run (adds to audit.skip) */
    size_t nskip;
    const char *const *exclude; /* globs skipped (adds to audit.exclude) */
    size_t nexclude;
    size_t max_file_bytes; /* secrets: 0 is the default */
    /* deps */
    const char *const *ignore; /* advisory ids not reported */
    size_t nignore;
    const char *min_severity, *python_version, *python;
    bool quiet;
    bool strict; /* deps: an unpinned range allowing affected versions exits 1 */
    /* `moat audit PATH`: every analyser runs on the same tree, so a problem
     * one reports (a literal SECRET_KEY: code's MOAT-C109) is left out of
     * the others' reports (settings' security.W009 on the same value). */
    bool combined;
} moat_audit_job;

/* What an analyser's run returns in a combined run (job.combined) when it
 * could not check anything for want of data it says how to get (deps with no
 * advisory database): not an error, not clean. */
#define MOAT_AUDIT_NOT_CHECKED 3

typedef struct moat_audit_analyser {
    const char *name;    /* the sub-command: "deps", "code", "settings", "secrets" */
    const char *summary; /* one line for usage and completion */
    /* Its rule table (NULL rules and 0 for deps, whose findings are advisories). */
    const moat_audit_rule *(*rules)(size_t *n);
    /* Whether path holds anything this analyser reads; `moat audit` says
     * "nothing to audit" instead of running it when false. */
    bool (*wants)(const char *path);
    /* Audits job's paths and prints the report; returns 0 clean, 1 findings,
     * 2 usage or input error. */
    int (*run)(const moat_audit_job *job);
} moat_audit_analyser;

/* The registry, in the order `moat audit` runs them. */
#define MOAT_AUDIT_NANALYSERS 4
extern const moat_audit_analyser moat_audit_analysers[MOAT_AUDIT_NANALYSERS];

/* Finds an analyser by name; NULL when absent. */
const moat_audit_analyser *moat_audit_analyser_find(const char *name);

/* The analysers' entry points (registry.c binds them). */
int moat_audit_code_run(const moat_audit_job *job);
int moat_audit_settings_run(const moat_audit_job *job);
int moat_audit_secrets_run(const moat_audit_job *job);
int moat_audit_deps_run(const moat_audit_job *job);

/* Escapes a report for where it goes: a text report for the terminal, a JSON
 * one has its unsafe code points escaped (see moat_term_escape). */
void moat_audit_make_safe(moat_buf *report, bool text);

#endif
