/* waf.h - the web application firewall: rules loaded once per config (the
 * OWASP Core Rule Set, moat's Python rules, the user's own SecLang files and
 * the exclusions) and a transaction per request that inspects the method,
 * URI, headers and body and gives a verdict. An engine is a small vtable
 * (waf/internal.h); the one engine is libmodsecurity 3. Depends on core and
 * config (and seclog's secret-name test); the gateway's waf stage decides
 * what a verdict means. */
#ifndef MOAT_WAF_H
#define MOAT_WAF_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* The loaded rules of one config. Immutable once built and shared by every
 * worker thread (each transaction is used by one thread at a time). */
typedef struct moat_waf moat_waf;

/* Builds the rules cfg->waf asks for. With waf.mode = "off" returns 0 and
 * *out = NULL. On failure returns MOAT_ECONFIG and *err owns a message that
 * names the file and line of the rule that did not load. */
int moat_waf_new(const moat_config *cfg, moat_waf **out, char **err);
void moat_waf_free(moat_waf *w);

/* The SecLang text moat generates from cfg (engine settings, CRS setup,
 * exclusions), for `moat config` users and the tests. Appends to out. */
void moat_waf_base_config(const moat_config *cfg, moat_buf *out);

/* True when a waf.exclude entry that is a route alone covers path (the
 * normalised request path; moat_route_match, the matcher of [[auth.rules]]):
 * such requests are not inspected at all. */
bool moat_waf_path_excluded(const moat_config *cfg, const char *path);

/* The narrowest waf.exclude entries that would have let one refused
 * request through, from its security event: path (the request target; the
 * query is ignored), rules (the event's "rule": ids, comma-separated) and
 * targets (its "targets": ID=VARIABLE, comma-separated; may be NULL).
 * Segments of the path that are ids (digits, UUIDs, long hex) become '*';
 * a path without any ends in '$'. Appends one entry per line to out and
 * returns how many (0: nothing moat can exclude, such as an unparsable
 * body). */
size_t moat_waf_suggest(const char *path, const char *rules, const char *targets, moat_buf *out);

/* When every rule of a refusal (its event's "rule" and "targets", as for
 * moat_waf_suggest) is one that waf.text_fields switches off, and every
 * target is a body parameter of one name (ARGS:NAME or ARGS:json.….NAME),
 * appends that NAME to out and returns true: adding it to waf.text_fields
 * would have let the request through. */
bool moat_waf_suggest_text_field(const char *rules, const char *targets, moat_buf *out);

/* One rule that matched. Strings are bounded, NUL-terminated copies. */
typedef struct moat_waf_match {
    char id[16];
    char msg[128];
    char var[80];   /* the part of the request: "ARGS:q", "REQUEST_HEADERS:User-Agent" */
    char data[128]; /* matched data, truncated; "" when the variable is secret-named */
    bool critical;  /* severity CRITICAL (an attack rule, not a protocol oddity) */
} moat_waf_match;

#define MOAT_WAF_MAX_MATCHES 8

typedef struct moat_waf_verdict {
    bool attack;     /* the rules say block (in detect mode: would have blocked) */
    int status;      /* status the rules ask for when attack (403, or 400 for unparsable bodies) */
    int score;       /* inbound anomaly score, when the rules computed one */
    bool engine_err; /* the engine failed: the request was not inspected */
    size_t nmatches; /* matches kept (the first MOAT_WAF_MAX_MATCHES) */
    size_t total;    /* matches seen */
    moat_waf_match matches[MOAT_WAF_MAX_MATCHES];
} moat_waf_verdict;

/* A transaction: one request's inspection. Not thread-safe; may move between
 * threads (made on a loop, run on the thread pool). */
typedef struct moat_waf_tx moat_waf_tx;

/* client: the peer address; uri: the request target (path and query);
 * path: the normalised path, which waf.exclude routes are matched with. */
moat_waf_tx *moat_waf_tx_new(const moat_waf *w, const char *client, const char *method,
                             const char *uri, const char *path, int http_minor);
/* Adds a request header (name and value need not be NUL-terminated). */
void moat_waf_tx_header(moat_waf_tx *t, const char *name, size_t nlen, const char *value,
                        size_t vlen);
/* Inspects the head (phase 1). Returns true when the head alone already
 * decides: an attack in block mode or an engine error (see *v). */
bool moat_waf_tx_head(moat_waf_tx *t, moat_waf_verdict *v);
/* Inspects the body (data may be NULL when there is none) and finishes the
 * request phases. partial: the body was cut at waf.inspect_bytes (the
 * request goes on uninspected past it), so a body that no longer parses is
 * not held against it. Fills *v. Slow for large bodies: run it off the loop. */
void moat_waf_tx_body(moat_waf_tx *t, const char *data, size_t len, bool partial,
                      moat_waf_verdict *v);
void moat_waf_tx_free(moat_waf_tx *t);

#endif
