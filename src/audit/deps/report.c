/* report.c - the audit's outputs: a table grouped by package ending with the
 * smallest upgrades, pip-audit's JSON shape, SARIF 2.1.0 (results point at
 * the file and line that pins the package), Markdown, and a CycloneDX 1.5
 * SBOM with its vulnerabilities. JSON goes through jansson so escaping is
 * never hand-made. The audit itself is audit.c's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "audit/audit.h"
#include "deps_int.h"

static void put_list(moat_buf *b, char *const *v, size_t n, const char *none)
{
    if (!n) moat_buf_puts(b, none);
    for (size_t i = 0; i < n; i++) {
        if (i) moat_buf_puts(b, ", ");
        moat_buf_puts(b, v[i]);
    }
}

static void put_where(moat_buf *b, const moat_dep *d)
{
    if (d->line)
        moat_buf_printf(b, "%s:%u", d->file, d->line);
    else
        moat_buf_puts(b, d->file);
}

static void put_range_versions(moat_buf *b, const moat_dep_result *r)
{
    size_t show = r->nrange_affected <= 12 ? r->nrange_affected : 10;
    for (size_t i = 0; i < show; i++)
        moat_buf_printf(b, "%s%s", i ? ", " : "", r->range_affected[i]);
    if (show < r->nrange_affected)
        moat_buf_printf(b, ", ... %s (%zu more)", r->range_affected[r->nrange_affected - 1],
                        r->nrange_affected - show - 1);
}

static void summary_line(moat_buf *b, const moat_deps_result *r)
{
    size_t pinned = 0;
    for (size_t i = 0; i < r->len; i++)
        pinned += r->v[i].dep->version != NULL;
    moat_buf_printf(b, "%zu known %s in %zu of %zu pinned packages", r->nvulns,
                    r->nvulns == 1 ? "vulnerability" : "vulnerabilities", r->vulnerable, pinned);
    if (r->ignored) moat_buf_printf(b, "; %zu ignored", r->ignored);
    if (r->below) moat_buf_printf(b, "; %zu below --min-severity", r->below);
    if (r->ranges_affected)
        moat_buf_printf(b, "; %zu unpinned %s affected versions", r->ranges_affected,
                        r->ranges_affected == 1 ? "range allows" : "ranges allow");
    if (r->unaudited) moat_buf_printf(b, "; %zu not audited (no version)", r->unaudited);
    moat_buf_puts(b, ".\n");
}

static void table(const moat_deps_result *r, moat_buf *b)
{
    for (size_t i = 0; i < r->len; i++) {
        const moat_dep_result *x = &r->v[i];
        if (!x->nvulns) continue;
        moat_buf_printf(b, "%s %s  (", x->dep->name, x->dep->version);
        put_where(b, x->dep);
        moat_buf_puts(b, ")\n");
        for (size_t k = 0; k < x->nvulns; k++) {
            const moat_vuln *v = &x->vulns[k];
            moat_buf_printf(b, "  %-20s fixed in: ", v->id);
            put_list(b, v->fixed, v->nfixed, "(no fix)");
            if (v->severity) {
                moat_buf_printf(b, "  [%s", v->severity);
                if (v->score >= 0) moat_buf_printf(b, " %.1f", v->score);
                moat_buf_putc(b, ']');
            }
            moat_buf_putc(b, '\n');
            if (v->naliases) {
                moat_buf_puts(b, "  aliases: ");
                put_list(b, v->aliases, v->naliases, "");
                moat_buf_putc(b, '\n');
            }
            moat_buf_printf(b, "  %s\n", v->summary);
        }
        moat_buf_putc(b, '\n');
    }
    bool any_range = false;
    for (size_t i = 0; i < r->len; i++) {
        const moat_dep_result *x = &r->v[i];
        if (!x->nrange_affected) continue;
        if (!any_range)
            moat_buf_puts(b, "Unpinned requirements whose range allows affected versions:\n");
        any_range = true;
        moat_buf_printf(b, "  %s %s  (", x->dep->name, x->dep->spec[0] ? x->dep->spec : "(any)");
        put_where(b, x->dep);
        moat_buf_printf(b, "): %zu of %zu known versions in the range are affected: ",
                        x->nrange_affected, x->range_known);
        put_range_versions(b, x);
        if (x->range_floor) moat_buf_printf(b, "; safe floor: >=%s", x->range_floor);
        moat_buf_putc(b, '\n');
    }
    if (any_range) moat_buf_putc(b, '\n');
    bool any_note = false;
    for (size_t i = 0; i < r->len; i++) {
        const moat_dep_result *x = &r->v[i];
        if (!x->dep->note) continue;
        if (!any_note) moat_buf_puts(b, "Not audited:\n");
        any_note = true;
        moat_buf_printf(b, "  %s: %s  (", x->dep->name, x->dep->note);
        put_where(b, x->dep);
        moat_buf_puts(b, ")\n");
    }
    if (any_note) moat_buf_putc(b, '\n');
    if (r->vulnerable) {
        moat_buf_puts(b, "Smallest upgrades that fix every advisory above:\n");
        for (size_t i = 0; i < r->len; i++) {
            const moat_dep_result *x = &r->v[i];
            if (!x->nvulns) continue;
            if (x->fix)
                moat_buf_printf(b, "  %s %s -> %s\n", x->dep->name, x->dep->version, x->fix);
            else
                moat_buf_printf(b, "  %s %s -> no known version fixes them all\n", x->dep->name,
                                x->dep->version);
        }
        moat_buf_putc(b, '\n');
    }
    summary_line(b, r);
}

static json_t *strarr(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    return j ? j : json_string("");
}

static void dump(json_t *doc, moat_buf *b)
{
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) moat_buf_puts(b, s);
    moat_buf_putc(b, '\n');
    free(s);
    json_decref(doc);
}

/* pip-audit's --format json: dependencies with their vulns, and a
 * skip_reason for those it could not audit. */
static void pip_audit_json(const moat_deps_result *r, moat_buf *b)
{
    json_t *deps = json_array();
    for (size_t i = 0; i < r->len; i++) {
        const moat_dep_result *x = &r->v[i];
        json_t *d = json_object();
        json_object_set_new(d, "name", jstr(x->dep->name));
        if (x->dep->version) {
            json_object_set_new(d, "version", jstr(x->dep->version));
            json_t *vs = json_array();
            for (size_t k = 0; k < x->nvulns; k++) {
                const moat_vuln *v = &x->vulns[k];
                json_t *o = json_object();
                json_object_set_new(o, "id", jstr(v->id));
                json_object_set_new(o, "fix_versions", strarr(v->fixed, v->nfixed));
                json_object_set_new(o, "aliases", strarr(v->aliases, v->naliases));
                json_object_set_new(o, "description",
                                    jstr(v->details && *v->details ? v->details : v->summary));
                json_array_append_new(vs, o);
            }
            json_object_set_new(d, "vulns", vs);
        } else {
            char *why;
            if (x->dep->note)
                why = moat_xstrdup(x->dep->note);
            else if (x->nrange_affected)
                why = moat_xasprintf("not pinned (%s): %zu of the %zu versions in the range that "
                                     "the advisory data knows are affected%s%s",
                                     x->dep->spec[0] ? x->dep->spec : "any", x->nrange_affected,
                                     x->range_known, x->range_floor ? "; safe floor: >=" : "",
                                     x->range_floor ? x->range_floor : "");
            else
                why = moat_xasprintf("not pinned (%s)", x->dep->spec[0] ? x->dep->spec : "any");
            json_object_set_new(d, "skip_reason", jstr(why));
            free(why);
        }
        json_array_append_new(deps, d);
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "dependencies", deps);
    json_object_set_new(doc, "fixes", json_array());
    char *t = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (t) moat_buf_puts(b, t);
    moat_buf_putc(b, '\n');
    free(t);
    json_decref(doc);
}

static char *osv_url(const char *id)
{
    return moat_xasprintf("https://osv.dev/vulnerability/%s", id);
}

/* The advisory's rating as a finding's level: critical and high are high,
 * medium and unrated medium, low and none low. */
static moat_audit_level level_of(const moat_vuln *v)
{
    if (!v->severity) return MOAT_AUDIT_MEDIUM;
    if (strcmp(v->severity, "critical") == 0 || strcmp(v->severity, "high") == 0)
        return MOAT_AUDIT_HIGH;
    return strcmp(v->severity, "medium") == 0 ? MOAT_AUDIT_MEDIUM : MOAT_AUDIT_LOW;
}

/* SARIF through the auditor's one findings writer (src/audit/report): each
 * advisory is a rule (made here, borrowing the advisory's strings), each
 * affected dependency a finding at the line that pins it. */
static void sarif(const moat_deps_result *r, moat_buf *b)
{
    moat_audit_rule *rules = NULL;
    double *scores = NULL;
    size_t nrules = 0;
    moat_audit_findings found = {0};
    for (size_t i = 0; i < r->len; i++) {
        const moat_dep_result *x = &r->v[i];
        for (size_t k = 0; k < x->nvulns; k++) {
            const moat_vuln *v = &x->vulns[k];
            if (!moat_audit_rule_find(rules, nrules, v->id)) {
                rules = moat_xrealloc(rules, (nrules + 1) * sizeof(*rules));
                scores = moat_xrealloc(scores, (nrules + 1) * sizeof(*scores));
                rules[nrules] = (moat_audit_rule){
                    .id = v->id,
                    .name = v->id,
                    .severity = level_of(v),
                    .confidence = MOAT_AUDIT_HIGH,
                    .message = v->summary,
                    .doc = *v->details ? v->details : v->summary,
                };
                scores[nrules++] = v->score;
            }
            moat_buf msg;
            moat_buf_init(&msg);
            moat_buf_printf(&msg, "%s %s is affected by %s", x->dep->name, x->dep->version, v->id);
            if (v->naliases) {
                moat_buf_puts(&msg, " (");
                put_list(&msg, v->aliases, v->naliases, "");
                moat_buf_putc(&msg, ')');
            }
            moat_buf_printf(&msg, ": %s", v->summary);
            if (x->fix) moat_buf_printf(&msg, " Upgrade to %s or later.", x->fix);
            moat_audit_finding *f = moat_audit_findings_push(&found);
            f->rule = moat_xstrdup(v->id);
            f->kind = moat_xstrdup("deps");
            f->severity = level_of(v);
            f->confidence = MOAT_AUDIT_HIGH;
            f->path = moat_xstrdup(x->dep->file);
            f->line = x->dep->line;
            f->message = moat_buf_steal(&msg);
        }
    }
    moat_audit_findings_finish(&found);
    static const char *const tags[] = {"vulnerability", "dependency"};
    const moat_audit_rule *const tables[] = {rules};
    moat_audit_report rep = {.findings = &found,
                             .rule_tables = tables,
                             .rule_counts = &nrules,
                             .ntables = 1,
                             .help_uri_prefix = "https://osv.dev/vulnerability/",
                             .extra_tags = tags,
                             .nextra_tags = MOAT_ARRAY_LEN(tags),
                             .scores = scores};
    moat_audit_render(b, &rep, MOAT_AUDIT_SARIF);
    moat_audit_findings_free(&found);
    free(rules);
    free(scores);
}

/* Markdown table cells: no newlines, '|' escaped. */
static void md_cell(moat_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            moat_buf_puts(b, "\\|");
        else if (*s == '\n' || *s == '\r')
            moat_buf_putc(b, ' ');
        else
            moat_buf_putc(b, *s);
    }
}

static void markdown(const moat_deps_result *r, moat_buf *b)
{
    moat_buf_puts(b, "## Dependency audit\n\n");
    if (r->vulnerable) {
        moat_buf_puts(b,
                      "| Package | Version | Advisory | Aliases | Fixed in | Severity | Summary |\n"
                      "|---|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < r->len; i++) {
            const moat_dep_result *x = &r->v[i];
            for (size_t k = 0; k < x->nvulns; k++) {
                const moat_vuln *v = &x->vulns[k];
                moat_buf_printf(b, "| %s | %s | [%s](https://osv.dev/vulnerability/%s) | ",
                                x->dep->name, x->dep->version, v->id, v->id);
                put_list(b, v->aliases, v->naliases, "");
                moat_buf_puts(b, " | ");
                put_list(b, v->fixed, v->nfixed, "no fix");
                moat_buf_printf(b, " | %s | ", v->severity ? v->severity : "");
                md_cell(b, v->summary);
                moat_buf_puts(b, " |\n");
            }
        }
        moat_buf_puts(b, "\n### Upgrades\n\n");
        for (size_t i = 0; i < r->len; i++) {
            const moat_dep_result *x = &r->v[i];
            if (!x->nvulns) continue;
            if (x->fix)
                moat_buf_printf(b, "- `%s` %s → **%s**\n", x->dep->name, x->dep->version, x->fix);
            else
                moat_buf_printf(b, "- `%s` %s → no known version fixes them all\n", x->dep->name,
                                x->dep->version);
        }
        moat_buf_putc(b, '\n');
    } else {
        moat_buf_puts(b, "No known vulnerabilities in the pinned dependencies.\n\n");
    }
    for (size_t i = 0; i < r->len; i++) {
        const moat_dep_result *x = &r->v[i];
        if (!x->nrange_affected) continue;
        moat_buf_printf(b, "- `%s %s` allows %zu affected versions of %zu known: ", x->dep->name,
                        x->dep->spec, x->nrange_affected, x->range_known);
        put_range_versions(b, x);
        if (x->range_floor) moat_buf_printf(b, "; safe floor: `>=%s`", x->range_floor);
        moat_buf_putc(b, '\n');
    }
    moat_buf_putc(b, '\n');
    summary_line(b, r);
}

static char *purl(const moat_dep *d)
{
    return moat_xasprintf("pkg:pypi/%s@%s", d->name, d->version);
}

/* urn:uuid: of a random (version 4) UUID: a BOM's serialNumber. */
static char *serial_number(void)
{
    unsigned char u[16] = {0};
    size_t got = 0;
    while (got < sizeof(u)) {
        ssize_t n = getrandom(u + got, sizeof(u) - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) moat__bug(__FILE__, __LINE__, "getrandom");
        got += (size_t)n;
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    return moat_xasprintf("urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                          "%02x%02x%02x%02x%02x%02x",
                          u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                          u[12], u[13], u[14], u[15]);
}

/* CycloneDX 1.5 JSON (validated against bom-1.5.schema.json in the tests):
 * one component per pinned dependency, one vulnerability per advisory with
 * every component it affects, a rating on each (severity "unknown" when the
 * record has none). */
static void cyclonedx(const moat_deps_result *r, moat_buf *b)
{
    json_t *comps = json_array(), *vulns = json_array();
    for (size_t i = 0; i < r->len; i++) {
        const moat_dep_result *x = &r->v[i];
        if (!x->dep->version) continue;
        char *ref = purl(x->dep);
        bool seen = false;
        for (size_t k = 0; k < json_array_size(comps) && !seen; k++)
            seen = !strcmp(json_string_value(json_object_get(json_array_get(comps, k), "bom-ref")),
                           ref);
        if (!seen) {
            json_t *c = json_object();
            json_object_set_new(c, "type", json_string("library"));
            json_object_set_new(c, "bom-ref", jstr(ref));
            json_object_set_new(c, "name", jstr(x->dep->name));
            json_object_set_new(c, "version", jstr(x->dep->version));
            json_object_set_new(c, "purl", jstr(ref));
            json_array_append_new(comps, c);
        }
        for (size_t k = 0; k < x->nvulns; k++) {
            const moat_vuln *v = &x->vulns[k];
            json_t *same = NULL;
            for (size_t j = 0; j < json_array_size(vulns) && !same; j++) {
                json_t *e = json_array_get(vulns, j);
                if (!strcmp(json_string_value(json_object_get(e, "id")), v->id)) same = e;
            }
            if (same) {
                json_t *aff = json_object_get(same, "affects");
                bool has = false;
                for (size_t j = 0; j < json_array_size(aff) && !has; j++)
                    has = !strcmp(json_string_value(json_object_get(json_array_get(aff, j), "ref")),
                                  ref);
                if (!has) json_array_append_new(aff, json_pack("{s:o}", "ref", jstr(ref)));
                continue;
            }
            json_t *o = json_object();
            json_object_set_new(o, "bom-ref", jstr(v->id));
            json_object_set_new(o, "id", jstr(v->id));
            char *url = osv_url(v->id);
            json_object_set_new(o, "source",
                                json_pack("{s:s,s:o}", "name", "OSV", "url", jstr(url)));
            free(url);
            json_t *refs = json_array();
            for (size_t a = 0; a < v->naliases; a++) {
                char *aurl = osv_url(v->aliases[a]);
                json_array_append_new(refs,
                                      json_pack("{s:o,s:{s:s,s:o}}", "id", jstr(v->aliases[a]),
                                                "source", "name", "OSV", "url", jstr(aurl)));
                free(aurl);
            }
            json_object_set_new(o, "references", refs);
            json_t *rating = json_object();
            json_object_set_new(rating, "source", json_pack("{s:s}", "name", "OSV"));
            if (v->score >= 0) {
                json_object_set_new(rating, "score", json_real(v->score));
                json_object_set_new(rating, "method", json_string("CVSSv31"));
            }
            json_object_set_new(rating, "severity",
                                json_string(v->severity ? v->severity : "unknown"));
            json_object_set_new(o, "ratings", json_pack("[o]", rating));
            if (v->summary && v->summary[0])
                json_object_set_new(o, "description", jstr(v->summary));
            if (v->details && v->details[0]) json_object_set_new(o, "detail", jstr(v->details));
            if (x->fix) {
                char *rec = moat_xasprintf("Upgrade %s to %s or later.", x->dep->name, x->fix);
                json_object_set_new(o, "recommendation", jstr(rec));
                free(rec);
            }
            json_object_set_new(o, "affects", json_pack("[{s:o}]", "ref", jstr(ref)));
            json_array_append_new(vulns, o);
        }
        free(ref);
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "$schema",
                        json_string("http://cyclonedx.org/schema/bom-1.5.schema.json"));
    json_object_set_new(doc, "bomFormat", json_string("CycloneDX"));
    json_object_set_new(doc, "specVersion", json_string("1.5"));
    char *serial = serial_number();
    json_object_set_new(doc, "serialNumber", jstr(serial));
    free(serial);
    json_object_set_new(doc, "version", json_integer(1));
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(doc, "metadata",
                        json_pack("{s:s,s:{s:[{s:s,s:s,s:s}]}}", "timestamp", ts, "tools",
                                  "components", "type", "application", "name", "moat", "version",
                                  MOAT_VERSION));
    json_object_set_new(doc, "components", comps);
    json_object_set_new(doc, "vulnerabilities", vulns);
    dump(doc, b);
}

int moat_deps_report(const moat_deps_result *r, const char *format, moat_buf *out)
{
    if (strcmp(format, "table") == 0 || strcmp(format, "columns") == 0)
        table(r, out);
    else if (strcmp(format, "json") == 0)
        pip_audit_json(r, out);
    else if (strcmp(format, "sarif") == 0)
        sarif(r, out);
    else if (strcmp(format, "markdown") == 0)
        markdown(r, out);
    else if (strcmp(format, "cyclonedx") == 0 || strcmp(format, "cyclonedx-json") == 0)
        cyclonedx(r, out);
    else
        return MOAT_EINVAL;
    return 0;
}
