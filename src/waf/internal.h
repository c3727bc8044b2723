/* internal.h - private to src/waf: the engine interface. An engine turns a
 * list of rule sources (generated text and files, in order) into a rule set
 * and runs transactions against it, filling moat_waf_verdict. waf.c builds
 * the sources from the config and holds the engine; modsec.c is the
 * libmodsecurity 3 engine. */
#ifndef MOAT_WAF_INTERNAL_H
#define MOAT_WAF_INTERNAL_H

#include "waf.h"

typedef struct moat__waf_source {
    const char *name; /* file path, or a label for generated text */
    const char *text; /* NULL: read the file at name */
} moat__waf_source;

typedef struct moat__waf_engine {
    const char *name;
    /* Loads the sources in order into a new rule set (*rules, owned). On
     * failure returns MOAT_ECONFIG with *err owning "FILE:LINE: why". */
    int (*load)(const moat__waf_source *src, size_t n, void **rules, char **err);
    void (*unload)(void *rules);
    /* server: what the rules read as SERVER_ADDR (NULL: 127.0.0.1); moat
     * names the waf.exclude entries that apply there. */
    void *(*tx_new)(void *rules, const char *client, const char *server, const char *method,
                    const char *uri, int http_minor);
    void (*tx_header)(void *tx, const char *name, size_t nlen, const char *value, size_t vlen);
    /* Phase 1; returns true when the verdict is already decided. */
    bool (*tx_head)(void *tx, moat_waf_verdict *v);
    void (*tx_body)(void *tx, const char *data, size_t len, moat_waf_verdict *v);
    void (*tx_free)(void *tx);
} moat__waf_engine;

extern const moat__waf_engine moat__waf_modsec;

/* python.conf, embedded at build time (python_rules.c, generated). */
extern const char moat__waf_python_rules[];

/* Fills a match from one engine log line, [id "..."] [msg "..."] [data
 * "..."] style, and adds it to v (the score of an anomaly-evaluation rule
 * is read from its message). Exposed for the unit tests. */
void moat__waf_note_match(moat_waf_verdict *v, const char *line);

#endif
