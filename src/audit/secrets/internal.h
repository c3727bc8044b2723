/* internal.h - shared between the files of the secrets analyser (detect.c,
 * notebook.c, walk.c) and its unit tests; not part of the module's API. */
#ifndef MOAT_AUDIT_SECRETS_INTERNAL_H
#define MOAT_AUDIT_SECRETS_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "audit/secrets/secrets.h"

/* detect-secrets' default limits (plugins/high_entropy_strings.py):
 * Base64HighEntropyString limit=4.5, HexHighEntropyString limit=3.0. */
#define MOAT__SECRETS_BASE64_LIMIT 4.5
#define MOAT__SECRETS_HEX_LIMIT 3.0

enum {
    MOAT__SECRETS_OTHER,    /* values may be unquoted; no literal-password rule */
    MOAT__SECRETS_CODE,     /* values must be quoted literals */
    MOAT__SECRETS_CONFIG,   /* values may be unquoted; literal passwords reported */
    MOAT__SECRETS_NOTEBOOK, /* JSON strings decoded, then scanned as code */
};

/* A secret found: raw file offsets [start, end), masked from mask on. */
typedef struct moat__secrets_span {
    size_t start, mask, end;
    int rule;
    moat_audit_level confidence; /* 0: the rule's */
    char detail[160];            /* appended to the rule's message */
} moat__secrets_span;

/* Bytes to scan: the raw file, or one decoded JSON string of a notebook
 * whose byte i came from raw offset map[i] (map has n + 1 entries). */
typedef struct moat__secrets_segment {
    const char *p;
    size_t n;
    const size_t *map; /* NULL: raw offset is base + i */
    size_t base;
    int kind;
} moat__secrets_segment;

/* Raw bytes [start, end) to mask in every snippet. */
typedef struct moat__secrets_mask {
    size_t start, end;
} moat__secrets_mask;

typedef struct moat__secrets_scan {
    const moat_secrets *s;
    const char *raw;
    size_t rawlen;
    bool twilio, twilio_token;   /* the file mentions Twilio / has an auth token */
    bool masking;                /* moat_secrets_mask: literal passwords in code count too */
    bool python;                 /* a .py file: only real comments suppress */
    size_t *comments, ncomments; /* moat_audit_py_comments, when python */
    moat__secrets_span *v;       /* sorted by start, never overlapping */
    size_t len, cap;
    /* Every secret any detector accepted, overlapping ones included: a
     * finding reports one detector's span, but snippets mask them all (two
     * secrets on one line, or a value holding a token, never leak). */
    moat__secrets_mask *masks; /* sorted by start once the scan is done */
    size_t nmasks, capmasks, maxmask;
    pcre2_match_data *md;
} moat__secrets_scan;

void moat__secrets_scan_segment(moat__secrets_scan *c, const moat__secrets_segment *sg);
/* Scans each JSON string value of the notebook c->raw; scans the raw text
 * instead when it is not JSON. */
void moat__secrets_scan_notebook(moat__secrets_scan *c);

/* How many of the *total patterns the JIT compiled (tests). */
size_t moat__secrets_jit_compiled(const moat_secrets *s, size_t *total);

/* True when a value stands for a secret rather than being one. */
bool moat__secrets_placeholder(const char *s, size_t n);
/* Entropy of s as detect-secrets measures it; names the charset ("hex",
 * "base64", "text") and sets the limit a secret must exceed. */
double moat__secrets_entropy(const char *s, size_t n, const char **charset_name, double *limit);

#endif
