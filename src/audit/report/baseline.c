/* baseline.c - `--baseline FILE`: the fingerprints of an earlier
 * `--format json` report, so that only findings new since then fail a CI
 * run. Fingerprints (findings.c) ignore line numbers, so edits elsewhere in a
 * file do not resurrect old findings. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/report/internal.h"

struct moat_audit_baseline {
    char (*fp)[65]; /* owned, sorted */
    size_t len;
};

static int cmp_fp(const void *a, const void *b)
{
    return memcmp(a, b, 64);
}

static bool is_fp(const char *s)
{
    if (strlen(s) != 64) return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

int moat_audit_baseline_load(const char *path, moat_audit_baseline **out, char **err)
{
    *out = NULL;
    *err = NULL;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        if (je.line < 0)
            *err = moat_xasprintf("%s: cannot read: %s", path, je.text);
        else
            *err = moat_xasprintf("%s:%d:%d: not JSON: %s", path, je.line, je.column, je.text);
        return je.line < 0 ? MOAT_EIO : MOAT_EPARSE;
    }
    json_t *list = json_is_object(root) ? json_object_get(root, "findings") : NULL;
    if (!json_is_array(list)) {
        *err = moat_xasprintf("%s: not a moat audit report (no \"findings\" array; make one "
                              "with --format json)",
                              path);
        json_decref(root);
        return MOAT_EPARSE;
    }
    moat_audit_baseline *b = moat_xcalloc(1, sizeof(*b));
    b->fp = moat_xcalloc(json_array_size(list) + 1, sizeof(*b->fp));
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        const char *s = json_string_value(json_object_get(item, "fingerprint"));
        if (!s || !is_fp(s)) {
            *err = moat_xasprintf("%s: finding %zu has no valid \"fingerprint\"", path, i + 1);
            moat_audit_baseline_free(b);
            json_decref(root);
            return MOAT_EPARSE;
        }
        memcpy(b->fp[b->len++], s, 65);
    }
    json_decref(root);
    qsort(b->fp, b->len, sizeof(*b->fp), cmp_fp);
    *out = b;
    return 0;
}

bool moat_audit_baseline_has(const moat_audit_baseline *b, const char *fingerprint)
{
    return b && b->len && bsearch(fingerprint, b->fp, b->len, sizeof(*b->fp), cmp_fp) != NULL;
}

void moat_audit_baseline_free(moat_audit_baseline *b)
{
    if (!b) return;
    free(b->fp);
    free(b);
}

size_t moat_audit_findings_drop_baseline(moat_audit_findings *f, const moat_audit_baseline *b)
{
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < f->len; i++) {
        if (moat_audit_baseline_has(b, f->v[i].fingerprint)) {
            moat__audit_finding_free(&f->v[i]);
            dropped++;
            continue;
        }
        if (kept != i) f->v[kept] = f->v[i];
        kept++;
    }
    f->len = kept;
    return dropped;
}
