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

#endif
