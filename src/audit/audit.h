/* audit.h - the public header of moat's source auditor: the finding that
 * every analyser (code, settings, secrets) produces, and the report writer
 * that prints a list of them. The analysers live in subfolders (code/,
 * secrets/, settings/, deps/) with their own headers; the auditor uses only
 * core and config, never the gateway. */
#ifndef MOAT_AUDIT_H
#define MOAT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core.h"

typedef enum {
    MOAT_AUDIT_LOW = 1,
    MOAT_AUDIT_MEDIUM = 2,
    MOAT_AUDIT_HIGH = 3,
} moat_audit_level; /* severity and confidence */

/* One step of a data-flow path (taint source -> ... -> sink). */
typedef struct moat_audit_step {
    unsigned line; /* 1-based */
    char *what;    /* owned: "request.args['q'] read here" */
    char *path;    /* owned: the file the step is in when it is not the finding's
                      (a helper of another module), else NULL */
} moat_audit_step;

/* One finding. Every string is owned by the finding (moat_audit_findings_free
 * frees them). Secrets are already masked in message and snippet. */
typedef struct moat_audit_finding {
    char *rule; /* "B608", "MOAT101", "MOAT-S-AWS", "security.W004" style id */
    char *kind; /* "code", "settings", "secrets" */
    moat_audit_level severity, confidence;
    unsigned cwe;                 /* 0 when none */
    char *path;                   /* as given on the command line / found in the tree */
    unsigned line, col, end_line; /* 1-based; col is in bytes */
    char *message;                /* one line */
    char *snippet;                /* the offending source line, masked; may be NULL */
    moat_audit_step *steps;       /* data-flow path, may be NULL */
    size_t nsteps;
    /* Other rules' ids for the same problem, comma-separated ("B105"), or
     * NULL: one finding per problem, suppressed by any of its ids. */
    char *aliases;
    /* Stable across line moves: hash of rule, path and the normalised
     * snippet (see moat_audit_fingerprint), 64 hex chars + NUL. */
    char fingerprint[65];
} moat_audit_finding;

typedef struct moat_audit_findings {
    moat_audit_finding *v;
    size_t len, cap;
} moat_audit_findings;

/* Appends a zeroed finding and returns it (borrowed; valid until the next
 * push). */
moat_audit_finding *moat_audit_findings_push(moat_audit_findings *f);
void moat_audit_findings_free(moat_audit_findings *f);

/* ---- rules ------------------------------------------------------------------
 * Every analyser describes its rules in a static table; the SARIF writer puts
 * their metadata in the report and the docs list them. */
typedef struct moat_audit_rule {
    const char *id;                        /* "B608", "MOAT-C101", ... */
    const char *name;                      /* short name: "hardcoded_sql_expressions" */
    moat_audit_level severity, confidence; /* defaults */
    unsigned cwe;                          /* 0 when none */
    const char *message;                   /* one line, what the finding means */
    const char *doc;                       /* the doc entry: why it matters and the fix */
} moat_audit_rule;

/* Finds id in rules[0..n); NULL when absent. */
const moat_audit_rule *moat_audit_rule_find(const moat_audit_rule *rules, size_t n, const char *id);

/* "low", "medium", "high"; parses the same (case-insensitive). */
const char *moat_audit_level_name(moat_audit_level l);
int moat_audit_level_parse(const char *s, moat_audit_level *out);

/* ---- fingerprints, suppressions, baseline (report/) ---------------------- */

/* Fills f->fingerprint: SHA-256 (hex) of the rule, the path (leading "./"
 * dropped), the snippet with whitespace runs collapsed, and occurrence (the
 * index of this finding among earlier ones with the same three), so a baseline
 * survives lines moving and still tells two identical lines apart. */
void moat_audit_fingerprint(moat_audit_finding *f, unsigned occurrence);

/* Removes (and frees) findings below either threshold; returns how many. */
size_t moat_audit_findings_filter(moat_audit_findings *f, moat_audit_level min_severity,
                                  moat_audit_level min_confidence);

/* Masks every secret the secrets detectors find in each snippet, message and
 * step (moat_secrets_mask: the last guard against a leak, whatever the
 * analyser), sorts by path, line, column, rule and fingerprints every
 * finding. */
void moat_audit_findings_finish(moat_audit_findings *f);

/* The ids that name the same problem as rule (another analyser's or
 * Bandit's), comma-separated, or NULL (static storage). A finding of rule
 * carries those its own analyser also found (moat_audit_findings_merge),
 * and a suppression comment naming any of them suppresses it. */
const char *moat_audit_aliases_of(const char *rule);

/* Merges findings of the same file and line whose rules are aliases of each
 * other into the first (the most severe is kept as the finding, the others'
 * ids go in its aliases). */
void moat_audit_findings_merge(moat_audit_findings *f, size_t from);

/* Whether a suppression comment on any of lines first..last of text (1-based,
 * inclusive: the whole statement) covers a finding of rule (kind "code",
 * "settings" or "secrets"): `# nosec` (all rules), `# nosec B608 B602` /
 * `# nosec: B608,B602` / `# nosec: md5` (those: ids or Bandit's test names;
 * other words are the reason), `# moat: ignore` / `# moat: ignore[ID,...]`,
 * and `# pragma: allowlist secret` (secrets only). */
bool moat_audit_suppressed(const char *text, size_t len, unsigned first, unsigned last,
                           const char *rule, const char *kind);
/* The offsets of the '#' that open comments in Python source text (not the
 * ones inside string literals), ascending; *n of them (owned array). */
size_t *moat_audit_py_comments(const char *text, size_t len, size_t *n);
/* moat_audit_suppressed for Python source: only markers in the comments
 * found by moat_audit_py_comments count. */
bool moat_audit_suppressed_py(const char *text, size_t len, const size_t *comments,
                              size_t ncomments, unsigned first, unsigned last, const char *rule,
                              const char *kind);

/* A set of fingerprints read from an earlier `--format json` report. */
typedef struct moat_audit_baseline moat_audit_baseline;
/* Reads path; on failure returns MOAT_EIO/MOAT_EPARSE and sets *err (owned)
 * to "path: what is wrong". */
int moat_audit_baseline_load(const char *path, moat_audit_baseline **out, char **err);
bool moat_audit_baseline_has(const moat_audit_baseline *b, const char *fingerprint);
void moat_audit_baseline_free(moat_audit_baseline *b);

/* Removes (and frees) the findings whose fingerprint is in b; returns how many. */
size_t moat_audit_findings_drop_baseline(moat_audit_findings *f, const moat_audit_baseline *b);

/* ---- walking a tree (report/walk.c) ----------------------------------------- */

/* Called for each regular file: path is root joined with rel ("app/views.py",
 * or "./x" style as root was given), rel is relative to root. Returning
 * nonzero stops the walk with that value. */
typedef int (*moat_audit_file_fn)(void *arg, const char *path, const char *rel);

/* Walks root (a folder, or a single file which is visited whatever the
 * globs say) in name order, without following symbolic links, skipping
 * entries matched by a glob in exclude[0..nexclude) (a glob without '/' is
 * matched against each name, one with '/' against the relative path) and
 * folders holding a pyvenv.cfg. Returns 0, fn's nonzero value, or
 * MOAT_ENOENT/MOAT_EIO with *err (owned) naming the path. */
int moat_audit_walk(const char *root, const char *const *exclude, size_t nexclude,
                    moat_audit_file_fn fn, void *arg, char **err);

/* ---- writers (report/) ----------------------------------------------------- */
typedef enum { MOAT_AUDIT_TEXT, MOAT_AUDIT_JSON, MOAT_AUDIT_SARIF } moat_audit_format;
int moat_audit_format_parse(const char *s, moat_audit_format *out);

/* What a writer prints: everything borrowed. */
typedef struct moat_audit_report {
    const moat_audit_findings *findings;       /* finished (sorted, fingerprinted) */
    const moat_audit_rule *const *rule_tables; /* for SARIF metadata and docs */
    const size_t *rule_counts;
    size_t ntables;
    const char *const *errors; /* "path:line: could not parse ..." (not findings) */
    size_t nerrors;
    const char *const *notes; /* "path:line: DEBUG comes from the environment: not
                                 checkable here" (not findings) */
    size_t nnotes;
    size_t files;      /* files analysed */
    size_t suppressed; /* findings dropped by comments */
    size_t baselined;  /* findings dropped by the baseline */
    /* Optional, for rules made at run time (deps: one per advisory): */
    const char *help_uri_prefix;   /* SARIF helpUri: this followed by the rule id */
    const char *const *extra_tags; /* added to every rule's SARIF tags */
    size_t nextra_tags;
    const double *scores; /* table 0's security-severity (CVSS), per rule; < 0: from the level */
} moat_audit_report;

/* Appends the report to out in the given format. Text is grouped by file,
 * with the offending line and a caret under the column, the data-flow path,
 * and a summary line. This is the one findings writer: every analyser's
 * SARIF comes from here (deps converts its advisories to findings). */
void moat_audit_render(moat_buf *out, const moat_audit_report *r, moat_audit_format fmt);

#endif
