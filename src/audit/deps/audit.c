/* audit.c - joins the dependencies with the advisory store: the advisories
 * of each pinned version (ignores by id or alias, with reasons and expiry
 * dates; the --min-severity threshold), the smallest upgrade that clears
 * them all, and for a range instead of a pin, which known versions in it
 * are affected. Reading inputs is requirements.c's and locks.c's; printing
 * is report.c's. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deps_int.h"

/* ---- ignores --------------------------------------------------------------*/

void moat_dep_ignores_add(moat_dep_ignores *ig, const char *id, const char *reason,
                          const char *expires, const char *file, unsigned line)
{
    if (ig->len == ig->cap) {
        ig->cap = ig->cap ? ig->cap * 2 : 8;
        ig->v = moat_xrealloc(ig->v, ig->cap * sizeof(*ig->v));
    }
    moat_dep_ignore *x = &ig->v[ig->len++];
    x->id = moat_xstrdup(id);
    x->reason = reason ? moat_xstrdup(reason) : NULL;
    x->expires = expires ? moat_xstrdup(expires) : NULL;
    x->file = file ? moat_xstrdup(file) : NULL;
    x->line = line;
}

void moat_dep_ignores_free(moat_dep_ignores *ig)
{
    for (size_t i = 0; i < ig->len; i++) {
        free(ig->v[i].id);
        free(ig->v[i].reason);
        free(ig->v[i].expires);
        free(ig->v[i].file);
    }
    free(ig->v);
    memset(ig, 0, sizeof(*ig));
}

double moat_severity_threshold(const char *label)
{
    if (!label) return -1;
    if (strcasecmp(label, "low") == 0) return 0.1;
    if (strcasecmp(label, "medium") == 0 || strcasecmp(label, "moderate") == 0) return 4.0;
    if (strcasecmp(label, "high") == 0) return 7.0;
    if (strcasecmp(label, "critical") == 0) return 9.0;
    return -1;
}

static bool valid_date(const char *s)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    return end && *end == 0 && strlen(s) == 10;
}

static void problem(FILE *diag, size_t *problems, const char *file, int line, const char *msg)
{
    (*problems)++;
    if (diag) fprintf(diag, "%s:%d: %s\n", file, line, msg);
}

int moat_dep_ignores_load(moat_dep_ignores *ig, const char *path, const char **min_severity,
                          FILE *diag, size_t *problems)
{
    char *data;
    size_t len;
    if (moat_read_file(path, &data, &len) < 0) return MOAT_ENOENT;
    moat_toml_value *root = NULL;
    moat_toml_error err;
    if (moat_toml_parse(data, len, &root, &err) < 0) {
        free(data);
        (*problems)++;
        if (diag) fprintf(diag, "%s:%d:%d: %s\n", path, err.line, err.col, err.message);
        return MOAT_EPARSE;
    }
    free(data);
    const char *slash = strrchr(path, '/');
    bool pyproject = strcmp(slash ? slash + 1 : path, "pyproject.toml") == 0;
    const moat_toml_value *t = root;
    if (pyproject) t = moat_toml_get(moat_toml_get(t, "tool"), "moat");
    t = moat_toml_get(t, "audit");
    if (t && t->type != MOAT_TOML_TABLE) {
        problem(diag, problems, path, t->line, "'audit' must be a table");
        t = NULL;
    }
    const moat_toml_value *sev = moat_toml_get(t, "min_severity");
    if (sev) {
        if (sev->type == MOAT_TOML_STRING && moat_severity_threshold(sev->u.str.ptr) >= 0) {
            static const char *const labels[] = {"low", "medium", "high", "critical"};
            for (size_t i = 0; i < 4; i++)
                if (moat_severity_threshold(sev->u.str.ptr) == moat_severity_threshold(labels[i]))
                    *min_severity = labels[i];
        } else {
            problem(diag, problems, path, sev->line,
                    "audit.min_severity must be \"low\", \"medium\", \"high\" or \"critical\"");
        }
    }
    const moat_toml_value *list = moat_toml_get(t, "ignore");
    if (list && list->type != MOAT_TOML_ARRAY) {
        problem(diag, problems, path, list->line,
                "audit.ignore must be an array of { id = \"...\", reason = \"...\", "
                "expires = 2026-12-31 }");
        list = NULL;
    }
    for (size_t i = 0; list && i < list->u.array.len; i++) {
        const moat_toml_value *e = list->u.array.items[i];
        if (e->type != MOAT_TOML_TABLE) {
            problem(diag, problems, path, e->line,
                    "an audit.ignore entry must be a table { id = \"...\", reason = \"...\" }");
            continue;
        }
        const moat_toml_value *id = moat_toml_get(e, "id");
        const moat_toml_value *reason = moat_toml_get(e, "reason");
        const moat_toml_value *exp = moat_toml_get(e, "expires");
        if (!id || id->type != MOAT_TOML_STRING || !id->u.str.len) {
            problem(diag, problems, path, e->line, "audit.ignore entry without an 'id' string");
            continue;
        }
        if (!reason || reason->type != MOAT_TOML_STRING || !reason->u.str.len) {
            problem(diag, problems, path, e->line,
                    "audit.ignore entry without a 'reason': say why it is safe to ignore");
            continue;
        }
        const char *expires = NULL;
        if (exp) {
            if (exp->type == MOAT_TOML_DATE_LOCAL)
                expires = exp->u.datetime;
            else if (exp->type == MOAT_TOML_STRING && valid_date(exp->u.str.ptr))
                expires = exp->u.str.ptr;
            else {
                problem(diag, problems, path, exp->line,
                        "audit.ignore 'expires' must be a date: 2026-12-31");
                continue;
            }
        }
        for (size_t k = 0; k < e->u.table.len; k++) {
            const char *key = e->u.table.items[k].key;
            if (strcmp(key, "id") && strcmp(key, "reason") && strcmp(key, "expires")) {
                char *m =
                    moat_xasprintf("audit.ignore: unknown key '%s' (id, reason, expires)", key);
                problem(diag, problems, path, e->u.table.items[k].value->line, m);
                free(m);
            }
        }
        moat_dep_ignores_add(ig, id->u.str.ptr, reason->u.str.ptr, expires, path,
                             (unsigned)e->line);
    }
    moat_toml_free(root);
    return 0;
}

/* The ignore that applies to v today, or NULL; an expired one is reported
 * once (its `warned` is the high bit of line, set here). */
static const moat_dep_ignore *ignored_by(const moat_dep_ignores *ig, const moat_vuln *v,
                                         const char *today, FILE *diag, bool *warned)
{
    for (size_t i = 0; ig && i < ig->len; i++) {
        const moat_dep_ignore *x = &ig->v[i];
        bool match = strcasecmp(x->id, v->id) == 0;
        for (size_t k = 0; k < v->naliases && !match; k++)
            match = strcasecmp(x->id, v->aliases[k]) == 0;
        if (!match) continue;
        if (x->expires && strcmp(today, x->expires) > 0) {
            if (diag && !warned[i])
                fprintf(diag,
                        "%s:%u: warning: the ignore of %s expired on %s; %s is reported again\n",
                        x->file ? x->file : "--ignore", x->line, x->id, x->expires, v->id);
            warned[i] = true;
            continue;
        }
        return x;
    }
    return NULL;
}

/* ---- the audit ------------------------------------------------------------*/

static bool same_dep(const moat_dep *a, const moat_dep *b)
{
    if (strcmp(a->name, b->name) != 0) return false;
    if (a->note || b->note) return a->note && b->note && strcmp(a->note, b->note) == 0;
    if (a->version && b->version) {
        moat_pep440 *x = NULL, *y = NULL;
        bool eq;
        if (moat_pep440_parse(a->version, strlen(a->version), &x) == 0 &&
            moat_pep440_parse(b->version, strlen(b->version), &y) == 0)
            eq = moat_pep440_cmp(x, y) == 0;
        else
            eq = strcmp(a->version, b->version) == 0;
        moat_pep440_free(x);
        moat_pep440_free(y);
        return eq;
    }
    return !a->version && !b->version && a->spec && b->spec && strcmp(a->spec, b->spec) == 0;
}

/* Filters vulns in place by ignores and threshold. */
static void filter(moat_dep_result *r, const moat_deps_opts *o, const char *today, bool *warned)
{
    size_t k = 0;
    for (size_t i = 0; i < r->nvulns; i++) {
        moat_vuln *v = &r->vulns[i];
        bool drop = false;
        if (ignored_by(o->ignores, v, today, o->diag, warned)) {
            r->ignored++;
            drop = true;
        } else if (o->min_score >= 0) {
            double s = v->score >= 0 ? v->score : moat_severity_threshold(v->severity);
            if (s >= 0 && s < o->min_score) {
                r->below++;
                drop = true;
            }
        }
        if (drop) {
            moat__vuln_clear(v);
            continue;
        }
        r->vulns[k++] = *v;
    }
    r->nvulns = k;
}

typedef struct cand {
    moat_pep440 *v; /* owned */
    char *text;     /* owned */
    bool tried;
} cand;

static int cand_cmp(const void *a, const void *b)
{
    return moat_pep440_cmp(((const cand *)a)->v, ((const cand *)b)->v);
}

#define MAX_FIX_CANDIDATES 256

/* Adds version t as a candidate when it is above cur and not there yet. A
 * pre-release (a fix first shipped in 24.7.0rc1) is not advised unless cur is
 * one: its final release (24.7.0) is the candidate instead. */
static void add_cand(cand **cs, size_t *nc, const char *t, const moat_pep440 *cur)
{
    if (*nc >= MAX_FIX_CANDIDATES) return;
    moat_pep440 *c = NULL;
    if (moat_pep440_parse(t, strlen(t), &c) < 0) return;
    char *text = NULL;
    if (moat_pep440_is_prerelease(c) && !moat_pep440_is_prerelease(cur)) {
        /* the release part: digits and dots up to the pre/dev label */
        size_t n = strspn(t, "0123456789.");
        while (n && t[n - 1] == '.')
            n--;
        moat_pep440_free(c);
        c = NULL;
        if (n == 0 || t[n] == '!' || moat_pep440_parse(t, n, &c) < 0) return;
        text = moat_xstrndup(t, n);
    }
    bool dup = moat_pep440_cmp(c, cur) <= 0;
    for (size_t i = 0; i < *nc && !dup; i++)
        dup = moat_pep440_cmp((*cs)[i].v, c) == 0;
    if (dup) {
        moat_pep440_free(c);
        free(text);
        return;
    }
    *cs = moat_xrealloc(*cs, (*nc + 1) * sizeof(**cs));
    (*cs)[(*nc)++] = (cand){c, text ? text : moat_xstrdup(t), false};
}

/* The lowest version above the current one that no known advisory affects
 * (not only the ones reported: waitress 1.4.0's first fix, 2.1.1, is hit by
 * PYSEC-2022-205). Candidates are the advisories' fixed versions; each one
 * tried that is still affected adds its own advisories' fixes. */
static char *smallest_fix(moat_osvdb *db, const moat_dep *dep, const moat_pep440 *cur,
                          const moat_vuln *vulns, size_t n)
{
    cand *cs = NULL;
    size_t nc = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < vulns[i].nfixed; k++)
            add_cand(&cs, &nc, vulns[i].fixed[k], cur);
    char *res = NULL;
    for (size_t round = 0; round < MAX_FIX_CANDIDATES && !res; round++) {
        if (nc) qsort(cs, nc, sizeof(*cs), cand_cmp);
        size_t i = 0;
        while (i < nc && cs[i].tried)
            i++;
        if (i == nc) break;
        cs[i].tried = true;
        if (moat__osvdb_affects_any(db, dep->name, cs[i].v, vulns, n)) continue;
        moat_vuln *vs = NULL;
        size_t nv = 0;
        if (moat_osvdb_query(db, dep->name, cs[i].v, cs[i].text, &vs, &nv) < 0) {
            moat_vulns_free(vs, nv);
            break;
        }
        if (nv == 0) {
            res = moat_xstrdup(cs[i].text);
        } else {
            for (size_t j = 0; j < nv; j++)
                for (size_t k = 0; k < vs[j].nfixed; k++)
                    add_cand(&cs, &nc, vs[j].fixed[k], cur);
        }
        moat_vulns_free(vs, nv);
    }
    for (size_t i = 0; i < nc; i++) {
        moat_pep440_free(cs[i].v);
        free(cs[i].text);
    }
    free(cs);
    return res;
}

static void audit_range(moat_osvdb *db, const moat_dep *dep, moat_dep_result *r)
{
    moat_pep440_specset *set = NULL;
    if (moat_pep440_specset_parse(dep->spec, strlen(dep->spec), &set, NULL) < 0) return;
    char **known = NULL;
    size_t nk = 0;
    moat_pep440 *newest = NULL; /* the newest affected version in the range */
    const char *newest_text = NULL;
    if (moat_osvdb_known_versions(db, dep->name, &known, &nk) == 0) {
        for (size_t i = 0; i < nk; i++) {
            moat_pep440 *v = NULL;
            if (moat_pep440_parse(known[i], strlen(known[i]), &v) < 0) continue;
            if (moat_pep440_specset_contains(set, v, -1)) {
                r->range_known++;
                moat_vuln *vs = NULL;
                size_t nv = 0;
                if (moat_osvdb_query(db, dep->name, v, known[i], &vs, &nv) == 0 && nv) {
                    r->range_affected =
                        moat_xrealloc(r->range_affected, (r->nrange_affected + 1) * sizeof(char *));
                    r->range_affected[r->nrange_affected++] = moat_xstrdup(known[i]);
                    if (!newest || moat_pep440_cmp(v, newest) > 0) {
                        moat_pep440_free(newest);
                        newest = v;
                        newest_text = known[i];
                        v = NULL;
                    }
                }
                moat_vulns_free(vs, nv);
            }
            moat_pep440_free(v);
        }
    }
    /* the safe floor: the smallest clean version above the newest affected
     * one (as a pinned upgrade from it) */
    if (newest) {
        moat_vuln *vs = NULL;
        size_t nv = 0;
        if (moat_osvdb_query(db, dep->name, newest, newest_text, &vs, &nv) == 0 && nv)
            r->range_floor = smallest_fix(db, dep, newest, vs, nv);
        moat_vulns_free(vs, nv);
        moat_pep440_free(newest);
    }
    moat_deps_strv_free(known, nk);
    moat_pep440_specset_free(set);
}

int moat_deps_audit(const moat_deps *deps, const moat_deps_opts *o, moat_deps_result *out)
{
    memset(out, 0, sizeof(*out));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out->today, sizeof(out->today), "%Y-%m-%d", &tm);
    bool *warned = moat_xcalloc((o->ignores ? o->ignores->len : 0) + 1, sizeof(bool));
    out->v = moat_xcalloc(deps->len + 1, sizeof(*out->v));
    /* one read transaction for every lookup, not one per statement */
    moat__osvdb_read_begin(o->db);
    int rc = 0;
    for (size_t i = 0; i < deps->len && rc == 0; i++) {
        const moat_dep *dep = &deps->v[i];
        bool dup = false;
        for (size_t k = 0; k < out->len && !dup; k++)
            dup = same_dep(out->v[k].dep, dep);
        if (dup) continue;
        moat_dep_result *r = &out->v[out->len++];
        r->dep = dep;
        if (dep->note) {
            out->unaudited++;
            continue;
        }
        if (!dep->version) {
            audit_range(o->db, dep, r);
            if (r->nrange_affected) out->ranges_affected++;
            continue;
        }
        moat_pep440 *v = NULL;
        (void)moat_pep440_parse(dep->version, strlen(dep->version), &v);
        rc = moat_osvdb_query(o->db, dep->name, v, dep->version, &r->vulns, &r->nvulns);
        if (rc == 0) {
            filter(r, o, out->today, warned);
            out->ignored += r->ignored;
            out->below += r->below;
            if (r->nvulns) {
                out->vulnerable++;
                out->nvulns += r->nvulns;
                if (v) r->fix = smallest_fix(o->db, dep, v, r->vulns, r->nvulns);
            }
        }
        moat_pep440_free(v);
    }
    moat__osvdb_read_end(o->db);
    free(warned);
    return rc;
}

void moat_deps_result_free(moat_deps_result *r)
{
    for (size_t i = 0; i < r->len; i++) {
        moat_vulns_free(r->v[i].vulns, r->v[i].nvulns);
        free(r->v[i].fix);
        moat_deps_strv_free(r->v[i].range_affected, r->v[i].nrange_affected);
        free(r->v[i].range_floor);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}
