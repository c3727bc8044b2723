/* findings.c - the finding list every analyser fills: growth, freeing,
 * ordering and the fingerprints a baseline is keyed on; plus the small rule
 * and level helpers. What a finding says is the analysers' business; how it
 * is printed is render.c's. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "audit/report/internal.h"
#include "audit/secrets/secrets.h"

moat_audit_finding *moat_audit_findings_push(moat_audit_findings *f)
{
    if (f->len == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->v = moat_xrealloc(f->v, f->cap * sizeof(*f->v));
    }
    moat_audit_finding *x = &f->v[f->len++];
    memset(x, 0, sizeof(*x));
    return x;
}

void moat__audit_finding_free(moat_audit_finding *x)
{
    free(x->rule);
    free(x->kind);
    free(x->path);
    free(x->message);
    free(x->snippet);
    free(x->aliases);
    for (size_t i = 0; i < x->nsteps; i++) {
        free(x->steps[i].what);
        free(x->steps[i].path);
    }
    free(x->steps);
}

void moat_audit_findings_free(moat_audit_findings *f)
{
    for (size_t i = 0; i < f->len; i++)
        moat__audit_finding_free(&f->v[i]);
    free(f->v);
    memset(f, 0, sizeof(*f));
}

size_t moat_audit_findings_filter(moat_audit_findings *f, moat_audit_level min_severity,
                                  moat_audit_level min_confidence)
{
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < f->len; i++) {
        if (f->v[i].severity < min_severity || f->v[i].confidence < min_confidence) {
            moat__audit_finding_free(&f->v[i]);
            dropped++;
            continue;
        }
        f->v[kept++] = f->v[i];
    }
    f->len = kept;
    return dropped;
}

const moat_audit_rule *moat_audit_rule_find(const moat_audit_rule *rules, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rules[i].id, id) == 0) return &rules[i];
    return NULL;
}

const char *moat_audit_level_name(moat_audit_level l)
{
    switch (l) {
    case MOAT_AUDIT_LOW:
        return "low";
    case MOAT_AUDIT_MEDIUM:
        return "medium";
    case MOAT_AUDIT_HIGH:
        return "high";
    }
    return "unknown";
}

int moat_audit_level_parse(const char *s, moat_audit_level *out)
{
    static const char *const names[] = {"low", "medium", "high"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(names); i++)
        if (strcasecmp(s, names[i]) == 0) {
            *out = (moat_audit_level)(i + 1);
            return 0;
        }
    return MOAT_EINVAL;
}

static void hash_str(EVP_MD_CTX *ctx, const char *s)
{
    EVP_DigestUpdate(ctx, s ? s : "", s ? strlen(s) + 1 : 1);
}

void moat_audit_fingerprint(moat_audit_finding *f, unsigned occurrence)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    MOAT_BUG_ON(!ctx);
    MOAT_BUG_ON(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1);
    hash_str(ctx, f->rule);
    const char *path = f->path ? f->path : "";
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    hash_str(ctx, path);
    /* The snippet with every whitespace run made one space and the ends
     * trimmed: re-indenting a block does not make its findings new. */
    moat_buf norm;
    moat_buf_init(&norm);
    bool space = false;
    for (const char *p = f->snippet ? f->snippet : ""; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            space = norm.len > 0;
            continue;
        }
        if (space) moat_buf_putc(&norm, ' ');
        space = false;
        moat_buf_putc(&norm, *p);
    }
    hash_str(ctx, norm.data ? norm.data : "");
    moat_buf_free(&norm);
    char occ[16];
    snprintf(occ, sizeof(occ), "%u", occurrence);
    hash_str(ctx, occ);
    unsigned char md[32];
    unsigned int mdlen = 0;
    MOAT_BUG_ON(EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32);
    EVP_MD_CTX_free(ctx);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        f->fingerprint[2 * i] = hex[md[i] >> 4];
        f->fingerprint[2 * i + 1] = hex[md[i] & 15];
    }
    f->fingerprint[64] = '\0';
}

static int strcmp0(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int cmp_finding(const void *pa, const void *pb)
{
    const moat_audit_finding *a = pa, *b = pb;
    int c = strcmp0(a->path, b->path);
    if (c) return c;
    if (a->line != b->line) return a->line < b->line ? -1 : 1;
    if (a->col != b->col) return a->col < b->col ? -1 : 1;
    c = strcmp0(a->rule, b->rule);
    if (c) return c;
    return strcmp0(a->message, b->message);
}

/* Whatever an analyser put in a finding, no secret the detectors know is
 * printed: each snippet, message and step is masked here, once, before the
 * fingerprints (which then never depend on a secret either). */
static void mask_secrets(moat_audit_findings *f)
{
    const moat_secrets *s = f->len ? moat_secrets_shared() : NULL;
    for (size_t i = 0; i < f->len; i++) {
        moat_audit_finding *x = &f->v[i];
        if (x->snippet) moat_secrets_mask(s, x->path, x->snippet);
        if (x->message) moat_secrets_mask(s, NULL, x->message);
        for (size_t k = 0; k < x->nsteps; k++)
            if (x->steps[k].what) moat_secrets_mask(s, NULL, x->steps[k].what);
    }
}

void moat_audit_findings_finish(moat_audit_findings *f)
{
    mask_secrets(f);
    if (f->len > 1) qsort(f->v, f->len, sizeof(*f->v), cmp_finding);
    /* Occurrence numbers count earlier findings (same file) with the same
     * occurrence-0 fingerprint: identical lines stay distinguishable. */
    char(*base)[65] = moat_xcalloc(f->len ? f->len : 1, sizeof(*base));
    size_t file_start = 0;
    for (size_t i = 0; i < f->len; i++) {
        if (i > 0 && strcmp0(f->v[i].path, f->v[i - 1].path) != 0) file_start = i;
        moat_audit_fingerprint(&f->v[i], 0);
        memcpy(base[i], f->v[i].fingerprint, 65);
        unsigned occ = 0;
        for (size_t j = file_start; j < i; j++)
            if (memcmp(base[j], base[i], 64) == 0) occ++;
        if (occ) moat_audit_fingerprint(&f->v[i], occ);
    }
    free(base);
}

/* Rules that state one fact about one node: "SECRET_KEY is a literal" is
 * MOAT-C109 (code), Bandit's B105/B106 (a secret-looking name) and, for a
 * weak key, Django's security.W009 (settings). The first id of a group is
 * the one a merged finding keeps. */
static const char *const alias_groups[][4] = {
    {"MOAT-C109", "B105", "B106", "security.W009"},
    {"B324", "B303", NULL, NULL},
};

static bool in_group(size_t g, const char *rule)
{
    for (size_t k = 0; k < 4 && alias_groups[g][k]; k++)
        if (strcmp(alias_groups[g][k], rule) == 0) return true;
    return false;
}

const char *moat_audit_aliases_of(const char *rule)
{
    static const char *const joined[] = {"MOAT-C109,B105,B106,security.W009", "B324,B303"};
    _Static_assert(MOAT_ARRAY_LEN(joined) == MOAT_ARRAY_LEN(alias_groups), "one per group");
    for (size_t g = 0; g < MOAT_ARRAY_LEN(alias_groups); g++)
        if (rule && in_group(g, rule)) return joined[g];
    return NULL;
}

static void add_alias(moat_audit_finding *x, const char *id)
{
    if (strcmp(x->rule, id) == 0) return;
    if (x->aliases) {
        /* already listed? */
        size_t n = strlen(id);
        for (const char *p = x->aliases; *p;) {
            size_t m = strcspn(p, ",");
            if (m == n && strncmp(p, id, n) == 0) return;
            p += m + (p[m] == ',');
        }
        char *j = moat_xasprintf("%s,%s", x->aliases, id);
        free(x->aliases);
        x->aliases = j;
    } else {
        x->aliases = moat_xstrdup(id);
    }
}

void moat_audit_findings_merge(moat_audit_findings *f, size_t from)
{
    for (size_t i = from; i < f->len; i++) {
        moat_audit_finding *a = &f->v[i];
        size_t g = 0;
        while (g < MOAT_ARRAY_LEN(alias_groups) && !in_group(g, a->rule))
            g++;
        if (g == MOAT_ARRAY_LEN(alias_groups)) continue;
        for (size_t j = i + 1; j < f->len;) {
            moat_audit_finding *b = &f->v[j];
            if (b->line != a->line || strcmp(b->path ? b->path : "", a->path ? a->path : "") ||
                !in_group(g, b->rule)) {
                j++;
                continue;
            }
            /* keep the group's first id (and the higher levels) */
            size_t ka = 0, kb = 0;
            while (ka < 4 && alias_groups[g][ka] && strcmp(alias_groups[g][ka], a->rule))
                ka++;
            while (kb < 4 && alias_groups[g][kb] && strcmp(alias_groups[g][kb], b->rule))
                kb++;
            if (kb < ka) {
                moat_audit_finding t = *a;
                *a = *b;
                *b = t;
            }
            add_alias(a, b->rule);
            for (const char *p = b->aliases; p && *p;) {
                size_t m = strcspn(p, ",");
                char *id = moat_xstrndup(p, m);
                add_alias(a, id);
                free(id);
                p += m + (p[m] == ',');
            }
            if (b->severity > a->severity) a->severity = b->severity;
            if (b->confidence > a->confidence) a->confidence = b->confidence;
            moat__audit_finding_free(b);
            memmove(b, b + 1, (f->len - j - 1) * sizeof(*b));
            f->len--;
        }
    }
}
