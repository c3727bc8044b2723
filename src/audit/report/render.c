/* render.c - the report writers: text (grouped by file, the offending line
 * with a caret under the column, the data-flow path, one summary line), JSON
 * (what --baseline reads back) and SARIF 2.1.0 with the rules' metadata for
 * code-scanning pages. The findings arrive finished (sorted, fingerprinted);
 * secrets in them are already masked by the analyser. */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

int moat_audit_format_parse(const char *s, moat_audit_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = MOAT_AUDIT_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = MOAT_AUDIT_JSON;
    else if (strcmp(s, "sarif") == 0)
        *out = MOAT_AUDIT_SARIF;
    else
        return MOAT_EINVAL;
    return 0;
}

static const moat_audit_rule *rule_of(const moat_audit_report *r, const char *id, size_t *index)
{
    size_t base = 0;
    for (size_t t = 0; t < r->ntables; t++) {
        const moat_audit_rule *x = moat_audit_rule_find(r->rule_tables[t], r->rule_counts[t], id);
        if (x) {
            if (index) *index = base + (size_t)(x - r->rule_tables[t]);
            return x;
        }
        base += r->rule_counts[t];
    }
    return NULL;
}

static void json_str(moat_buf *b, const char *s)
{
    if (!s) {
        moat_buf_puts(b, "null");
        return;
    }
    moat_buf_put_json_string(b, s, strlen(s));
}

/* ---- text ------------------------------------------------------------------ */

static void count_levels(const moat_audit_findings *f, size_t counts[4])
{
    memset(counts, 0, 4 * sizeof(size_t));
    for (size_t i = 0; i < f->len; i++)
        counts[f->v[i].severity & 3]++;
}

/* "B105,B106" as a JSON array of strings. */
static void aliases_json(moat_buf *b, const char *aliases)
{
    moat_buf_putc(b, '[');
    for (const char *p = aliases; p && *p;) {
        size_t m = strcspn(p, ",");
        char *id = moat_xstrndup(p, m);
        if (p != aliases) moat_buf_puts(b, ", ");
        json_str(b, id);
        free(id);
        p += m + (p[m] == ',');
    }
    moat_buf_putc(b, ']');
}

static void render_text(moat_buf *b, const moat_audit_report *r)
{
    const moat_audit_findings *f = r->findings;
    const char *cur = NULL;
    size_t nfiles = 0;
    for (size_t i = 0; i < f->len; i++) {
        const moat_audit_finding *x = &f->v[i];
        if (!cur || strcmp(cur, x->path ? x->path : "") != 0) {
            cur = x->path ? x->path : "";
            moat_buf_printf(b, "%s%s\n", nfiles ? "\n" : "", cur);
            nfiles++;
        }
        moat_buf_printf(b, "  %u:%u  %s  %s severity, %s confidence", x->line, x->col, x->rule,
                        moat_audit_level_name(x->severity), moat_audit_level_name(x->confidence));
        if (x->cwe) moat_buf_printf(b, "  CWE-%u", x->cwe);
        if (x->aliases) moat_buf_printf(b, "  (also %s)", x->aliases);
        moat_buf_printf(b, "\n    %s\n", x->message ? x->message : "");
        if (x->snippet) {
            char num[16];
            int w = snprintf(num, sizeof(num), "%u", x->line);
            size_t slen = strcspn(x->snippet, "\r\n");
            moat_buf_printf(b, "    %s | ", num);
            moat_buf_append(b, x->snippet, slen);
            moat_buf_printf(b, "\n    %*s | ", w, "");
            /* Tabs stay tabs so the caret lines up in any tab width. */
            for (unsigned c = 1; c < x->col && c - 1 < slen; c++)
                moat_buf_putc(b, x->snippet[c - 1] == '\t' ? '\t' : ' ');
            moat_buf_puts(b, "^\n");
        }
        for (size_t s = 0; s < x->nsteps; s++)
            moat_buf_printf(b, "    %s %s%sline %u: %s\n", s == 0 ? "path:" : "   ->",
                            x->steps[s].path ? x->steps[s].path : "", x->steps[s].path ? " " : "",
                            x->steps[s].line, x->steps[s].what);
    }
    for (size_t i = 0; i < r->nerrors; i++)
        moat_buf_printf(b, "%s%s\n", i == 0 && f->len ? "\n" : "", r->errors[i]);
    for (size_t i = 0; i < r->nnotes; i++)
        moat_buf_printf(b, "%snote: %s\n", i == 0 && (f->len || r->nerrors) ? "\n" : "",
                        r->notes[i]);
    size_t c[4];
    count_levels(f, c);
    moat_buf_printf(b, "%s%zu finding%s (%zu high, %zu medium, %zu low) in %zu of %zu file%s",
                    f->len || r->nerrors || r->nnotes ? "\n" : "", f->len, f->len == 1 ? "" : "s",
                    c[3], c[2], c[1], nfiles, r->files, r->files == 1 ? "" : "s");
    if (r->suppressed) moat_buf_printf(b, "; %zu suppressed by comments", r->suppressed);
    if (r->baselined) moat_buf_printf(b, "; %zu in the baseline", r->baselined);
    if (r->nerrors)
        moat_buf_printf(b, "; %zu file%s not analysed", r->nerrors, r->nerrors == 1 ? "" : "s");
    moat_buf_puts(b, "\n");
}

/* ---- JSON ------------------------------------------------------------------ */

static void render_json(moat_buf *b, const moat_audit_report *r)
{
    const moat_audit_findings *f = r->findings;
    moat_buf_puts(b, "{\n  \"tool\": \"moat\",\n  \"version\": \"" MOAT_VERSION "\",\n");
    moat_buf_puts(b, "  \"findings\": [");
    for (size_t i = 0; i < f->len; i++) {
        const moat_audit_finding *x = &f->v[i];
        moat_buf_puts(b, i ? ",\n    {" : "\n    {");
        moat_buf_puts(b, "\"rule\": ");
        json_str(b, x->rule);
        moat_buf_puts(b, ", \"kind\": ");
        json_str(b, x->kind);
        moat_buf_printf(b, ", \"severity\": \"%s\", \"confidence\": \"%s\", \"cwe\": ",
                        moat_audit_level_name(x->severity), moat_audit_level_name(x->confidence));
        if (x->cwe)
            moat_buf_printf(b, "%u", x->cwe);
        else
            moat_buf_puts(b, "null");
        moat_buf_puts(b, ", \"path\": ");
        json_str(b, x->path);
        moat_buf_printf(b, ", \"line\": %u, \"col\": %u, \"end_line\": %u, \"message\": ", x->line,
                        x->col, x->end_line ? x->end_line : x->line);
        json_str(b, x->message);
        moat_buf_puts(b, ", \"snippet\": ");
        json_str(b, x->snippet);
        moat_buf_puts(b, ", \"steps\": [");
        for (size_t s = 0; s < x->nsteps; s++) {
            moat_buf_printf(b, "%s{\"line\": %u, \"what\": ", s ? ", " : "", x->steps[s].line);
            json_str(b, x->steps[s].what);
            if (x->steps[s].path) {
                moat_buf_puts(b, ", \"path\": ");
                json_str(b, x->steps[s].path);
            }
            moat_buf_puts(b, "}");
        }
        moat_buf_puts(b, "], \"aliases\": ");
        aliases_json(b, x->aliases);
        moat_buf_printf(b, ", \"fingerprint\": \"%s\"}", x->fingerprint);
    }
    moat_buf_puts(b, f->len ? "\n  ],\n  \"errors\": [" : "],\n  \"errors\": [");
    for (size_t i = 0; i < r->nerrors; i++) {
        moat_buf_puts(b, i ? ", " : "");
        json_str(b, r->errors[i]);
    }
    moat_buf_puts(b, "],\n  \"not_checkable\": [");
    for (size_t i = 0; i < r->nnotes; i++) {
        moat_buf_puts(b, i ? ", " : "");
        json_str(b, r->notes[i]);
    }
    size_t c[4];
    count_levels(f, c);
    moat_buf_printf(b,
                    "],\n  \"summary\": {\"findings\": %zu, \"high\": %zu, \"medium\": %zu, "
                    "\"low\": %zu, \"files\": %zu, \"suppressed\": %zu, \"baselined\": %zu, "
                    "\"errors\": %zu}\n}\n",
                    f->len, c[3], c[2], c[1], r->files, r->suppressed, r->baselined, r->nerrors);
}

/* ---- SARIF 2.1.0 ------------------------------------------------------------ */

static const char *sarif_level(moat_audit_level s)
{
    return s == MOAT_AUDIT_HIGH ? "error" : s == MOAT_AUDIT_MEDIUM ? "warning" : "note";
}

/* GitHub code scanning ranks by "security-severity" (a CVSS-like score). */
static const char *security_severity(moat_audit_level s)
{
    return s == MOAT_AUDIT_HIGH ? "8.0" : s == MOAT_AUDIT_MEDIUM ? "5.5" : "3.0";
}

static const char *precision(moat_audit_level c)
{
    return c == MOAT_AUDIT_HIGH ? "high" : c == MOAT_AUDIT_MEDIUM ? "medium" : "low";
}

static void sarif_rule(moat_buf *b, const moat_audit_report *r, size_t t, size_t i, bool first)
{
    const moat_audit_rule *x = &r->rule_tables[t][i];
    moat_buf_puts(b, first ? "\n            {\"id\": " : ",\n            {\"id\": ");
    json_str(b, x->id);
    moat_buf_puts(b, ", \"name\": ");
    json_str(b, x->name);
    moat_buf_puts(b, ", \"shortDescription\": {\"text\": ");
    json_str(b, x->message);
    moat_buf_puts(b, "}, \"fullDescription\": {\"text\": ");
    json_str(b, x->doc ? x->doc : x->message);
    moat_buf_puts(b, "}, \"help\": {\"text\": ");
    json_str(b, x->doc ? x->doc : x->message);
    moat_buf_printf(b, "}, \"defaultConfiguration\": {\"level\": \"%s\"}",
                    sarif_level(x->severity));
    if (r->help_uri_prefix) {
        char *uri = moat_xasprintf("%s%s", r->help_uri_prefix, x->id);
        moat_buf_puts(b, ", \"helpUri\": ");
        json_str(b, uri);
        free(uri);
    }
    moat_buf_printf(b, ", \"properties\": {\"tags\": [\"security\"%s", x->cwe ? ", " : "");
    if (x->cwe) moat_buf_printf(b, "\"external/cwe/cwe-%u\"", x->cwe);
    for (size_t k = 0; k < r->nextra_tags; k++) {
        moat_buf_puts(b, ", ");
        json_str(b, r->extra_tags[k]);
    }
    moat_buf_printf(b, "], \"precision\": \"%s\", \"security-severity\": \"",
                    precision(x->confidence));
    if (t == 0 && r->scores && r->scores[i] >= 0)
        moat_buf_printf(b, "%.1f\"}}", r->scores[i]);
    else
        moat_buf_printf(b, "%s\"}}", security_severity(x->severity));
}

static void sarif_location(moat_buf *b, const char *path, unsigned line, unsigned col,
                           unsigned end_line, const char *snippet)
{
    while (path && path[0] == '.' && path[1] == '/')
        path += 2;
    moat_buf_puts(b, "{\"physicalLocation\": {\"artifactLocation\": {\"uri\": ");
    if (path && path[0] == '/') {
        /* an absolute path is a file: URI; relative ones are relative to the run's root */
        char *uri = moat_xasprintf("file://%s", path);
        json_str(b, uri);
        free(uri);
    } else {
        json_str(b, path ? path : "");
    }
    moat_buf_printf(b, "}, \"region\": {\"startLine\": %u", line ? line : 1);
    if (col) moat_buf_printf(b, ", \"startColumn\": %u", col);
    if (end_line >= line && end_line) moat_buf_printf(b, ", \"endLine\": %u", end_line);
    if (snippet) {
        moat_buf_puts(b, ", \"snippet\": {\"text\": ");
        json_str(b, snippet);
        moat_buf_puts(b, "}");
    }
    moat_buf_puts(b, "}}}");
}

static void render_sarif(moat_buf *b, const moat_audit_report *r)
{
    const moat_audit_findings *f = r->findings;
    moat_buf_puts(b, "{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n"
                     "  \"version\": \"2.1.0\",\n  \"runs\": [\n    {\n      \"tool\": {\n"
                     "        \"driver\": {\n          \"name\": \"moat\",\n"
                     "          \"version\": \"" MOAT_VERSION "\",\n"
                     "          \"semanticVersion\": \"" MOAT_VERSION "\",\n"
                     "          \"rules\": [");
    bool first = true;
    for (size_t t = 0; t < r->ntables; t++)
        for (size_t i = 0; i < r->rule_counts[t]; i++) {
            sarif_rule(b, r, t, i, first);
            first = false;
        }
    moat_buf_puts(b, "\n          ]\n        }\n      },\n      \"results\": [");
    for (size_t i = 0; i < f->len; i++) {
        const moat_audit_finding *x = &f->v[i];
        size_t index = 0;
        const moat_audit_rule *rule = rule_of(r, x->rule, &index);
        moat_buf_puts(b, i ? ",\n        {\"ruleId\": " : "\n        {\"ruleId\": ");
        json_str(b, x->rule);
        if (rule) moat_buf_printf(b, ", \"ruleIndex\": %zu", index);
        moat_buf_printf(b,
                        ", \"level\": \"%s\", \"message\": {\"text\": ", sarif_level(x->severity));
        json_str(b, x->message);
        moat_buf_puts(b, "}, \"locations\": [");
        sarif_location(b, x->path, x->line, x->col, x->end_line, x->snippet);
        moat_buf_printf(b, "], \"partialFingerprints\": {\"moat/v1\": \"%s\"}", x->fingerprint);
        if (x->nsteps) {
            moat_buf_puts(b, ", \"codeFlows\": [{\"threadFlows\": [{\"locations\": [");
            for (size_t s = 0; s < x->nsteps; s++) {
                moat_buf_puts(b, s ? ", {\"location\": " : "{\"location\": ");
                sarif_location(b, x->steps[s].path ? x->steps[s].path : x->path, x->steps[s].line,
                               0, 0, NULL);
                /* the step's words go in the location's message */
                b->len -= 1;
                b->data[b->len] = '\0';
                moat_buf_puts(b, ", \"message\": {\"text\": ");
                json_str(b, x->steps[s].what);
                moat_buf_puts(b, "}}}");
            }
            moat_buf_puts(b, "]}]}]");
        }
        moat_buf_printf(b, ", \"properties\": {\"confidence\": \"%s\", \"kind\": ",
                        moat_audit_level_name(x->confidence));
        json_str(b, x->kind);
        if (x->aliases) {
            moat_buf_puts(b, ", \"aliases\": ");
            aliases_json(b, x->aliases);
        }
        moat_buf_puts(b, "}}");
    }
    moat_buf_puts(b, f->len ? "\n      ]" : "]");
    if (r->nerrors || r->nnotes) {
        moat_buf_puts(b, ",\n      \"invocations\": [{\"executionSuccessful\": true, "
                         "\"toolExecutionNotifications\": [");
        for (size_t i = 0; i < r->nerrors + r->nnotes; i++) {
            bool err = i < r->nerrors;
            moat_buf_printf(b, "%s{\"level\": \"%s\", \"message\": {\"text\": ", i ? ", " : "",
                            err ? "warning" : "note");
            json_str(b, err ? r->errors[i] : r->notes[i - r->nerrors]);
            moat_buf_puts(b, "}}");
        }
        moat_buf_puts(b, "]}]");
    }
    moat_buf_puts(b, "\n    }\n  ]\n}\n");
}

void moat_audit_render(moat_buf *out, const moat_audit_report *r, moat_audit_format fmt)
{
    switch (fmt) {
    case MOAT_AUDIT_TEXT:
        render_text(out, r);
        break;
    case MOAT_AUDIT_JSON:
        render_json(out, r);
        break;
    case MOAT_AUDIT_SARIF:
        render_sarif(out, r);
        break;
    }
}
