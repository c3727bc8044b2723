/* suppress.c - suppression comments: `# nosec [IDS]`, `# moat: ignore[IDS]`
 * and `# pragma: allowlist secret`, looked for on every line of the
 * statement a finding belongs to (the analyser says which lines those are).
 * In Python source only real comments count (moat_audit_py_comments: a
 * "#nosec" inside a string literal is text); elsewhere the markers are plain
 * text after a '#', so they also work in templates (`{# nosec #}`) and in
 * .env/.ini files. A list names rules by id or by Bandit's test name
 * (`# nosec: md5`, `# nosec B303,hashlib`). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "audit/code/code.h"
#include "audit/secrets/secrets.h"
#include "audit/settings/settings.h"

/* Bandit's test names that are not a moat rule's name (its blacklist
 * entries, and the names today's Bandit gives checks moat files under
 * another id), with the moat ids they stand for. */
static const struct {
    const char *name, *id;
} bandit_names[] = {
    {"md5", "B324"},
    {"hashlib", "B324"},
    {"hashlib", "B303"},
};

/* Whether token t[0..n) is a rule's test name (Bandit's or moat's). With
 * rule non-NULL: whether it names that rule. */
static bool names_rule(const char *t, size_t n, const char *rule)
{
    for (size_t i = 0; i < MOAT_ARRAY_LEN(bandit_names); i++)
        if (strlen(bandit_names[i].name) == n && strncasecmp(t, bandit_names[i].name, n) == 0 &&
            (!rule || strcasecmp(rule, bandit_names[i].id) == 0))
            return true;
    size_t ns;
    const moat_audit_rule *sec = moat_secrets_rules(&ns);
    const struct {
        const moat_audit_rule *v;
        size_t n;
    } tables[] = {{moat_audit_code_rules, moat_audit_code_nrules},
                  {moat_audit_settings_rules, moat_audit_settings_nrules},
                  {sec, ns}};
    for (size_t k = 0; k < MOAT_ARRAY_LEN(tables); k++)
        for (size_t i = 0; i < tables[k].n; i++) {
            const moat_audit_rule *r = &tables[k].v[i];
            if (r->name && strlen(r->name) == n && strncasecmp(t, r->name, n) == 0 &&
                (!rule || strcasecmp(rule, r->id) == 0))
                return true;
        }
    return false;
}

/* An id-like token: starts with a letter, has a digit (B608, MOAT-C101,
 * security.W004); words such as "safe" or "reviewed" are the reason. */
static bool id_like(const char *s, size_t n)
{
    if (n == 0 || !isalpha((unsigned char)s[0])) return false;
    for (size_t i = 0; i < n; i++)
        if (isdigit((unsigned char)s[i])) return true;
    return false;
}

static bool is_id_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* Scans the id list in p[0..n) (up to the end of the line or a ']' when
 * bracketed). Returns true when the list names rule, or names no rule at all. */
static bool list_covers(const char *p, const char *end, bool bracketed, const char *rule)
{
    size_t rlen = strlen(rule);
    bool any = false;
    while (p < end) {
        if (bracketed && *p == ']') break;
        if (!is_id_char(*p)) {
            p++;
            continue;
        }
        const char *t = p;
        while (p < end && is_id_char(*p))
            p++;
        size_t n = (size_t)(p - t);
        /* "B608." at a sentence's end */
        while (n > 0 && t[n - 1] == '.')
            n--;
        /* In brackets every token is an id; after "nosec", prose may follow,
         * so only id-shaped words count (moat's ids may have no digit:
         * MOAT-S-JWT). */
        bool name = names_rule(t, n, NULL);
        if (!bracketed && !name && !id_like(t, n) && !(n > 5 && strncasecmp(t, "MOAT-", 5) == 0))
            continue;
        any = true;
        if (n == rlen && strncasecmp(t, rule, n) == 0) return true;
        if (name && names_rule(t, n, rule)) return true;
    }
    return !any;
}

static const char *find_ci(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    for (; p + n <= end; p++)
        if (strncasecmp(p, lit, n) == 0) return p;
    return NULL;
}

/* From comment on (p: the line's start, or its comment's '#'). */
static bool line_covers(const char *p, const char *end, const char *rule, const char *kind)
{
    for (const char *h = memchr(p, '#', (size_t)(end - p)); h;
         h = memchr(h + 1, '#', (size_t)(end - h - 1))) {
        const char *q = h + 1;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (end - q >= 5 && strncasecmp(q, "nosec", 5) == 0 &&
            (q + 5 == end || !isalnum((unsigned char)q[5]))) {
            /* the list ends at the next comment ("# nosec B602  # why") */
            const char *le = memchr(q + 5, '#', (size_t)(end - q - 5));
            if (list_covers(q + 5, le ? le : end, false, rule)) return true;
            continue;
        }
        if (end - q >= 5 && strncasecmp(q, "moat:", 5) == 0) {
            q += 5;
            while (q < end && *q == ' ')
                q++;
            if (end - q >= 6 && strncasecmp(q, "ignore", 6) == 0) {
                q += 6;
                if (q < end && *q == '[') {
                    if (list_covers(q + 1, end, true, rule)) return true;
                } else if (q == end || !isalnum((unsigned char)*q)) {
                    return true;
                }
            }
            continue;
        }
        if (kind && strcmp(kind, "secrets") == 0 && end - q >= 7 &&
            strncasecmp(q, "pragma:", 7) == 0 && find_ci(q + 7, end, "allowlist secret"))
            return true;
    }
    return false;
}

size_t *moat_audit_py_comments(const char *text, size_t len, size_t *n)
{
    size_t cap = 16, k = 0;
    size_t *v = moat_xmalloc(cap * sizeof(*v));
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == '#') {
            if (k == cap) {
                cap *= 2;
                v = moat_xrealloc(v, cap * sizeof(*v));
            }
            v[k++] = i;
            while (i < len && text[i] != '\n')
                i++;
            continue;
        }
        if (ch != '"' && ch != '\'') continue;
        /* A string: triple-quoted ones run across lines; a backslash
         * always takes the next byte along (in raw strings too, where \"
         * does not end the string either); single-quoted ones end at a
         * line end even when unterminated, so one stray quote costs a
         * line, not the file. */
        bool triple = i + 2 < len && text[i + 1] == ch && text[i + 2] == ch;
        i += triple ? 3 : 1;
        for (; i < len; i++) {
            if (text[i] == '\\') {
                i++;
                continue;
            }
            if (!triple && text[i] == '\n') break;
            if (text[i] != ch) continue;
            if (!triple) break;
            if (i + 2 < len && text[i + 1] == ch && text[i + 2] == ch) {
                i += 2;
                break;
            }
        }
    }
    *n = k;
    return v;
}

static bool suppressed_in(const char *text, size_t len, const size_t *comments, size_t ncomments,
                          bool py, unsigned first, unsigned last, const char *rule,
                          const char *kind);

bool moat_audit_suppressed(const char *text, size_t len, unsigned first, unsigned last,
                           const char *rule, const char *kind)
{
    return suppressed_in(text, len, NULL, 0, false, first, last, rule, kind);
}

bool moat_audit_suppressed_py(const char *text, size_t len, const size_t *comments,
                              size_t ncomments, unsigned first, unsigned last, const char *rule,
                              const char *kind)
{
    return suppressed_in(text, len, comments, ncomments, true, first, last, rule, kind);
}

static bool suppressed_in(const char *text, size_t len, const size_t *comments, size_t ncomments,
                          bool py, unsigned first, unsigned last, const char *rule,
                          const char *kind)
{
    if (!text || first == 0) return false;
    if (last < first) last = first;
    const char *p = text, *end = text + len;
    unsigned line = 1;
    while (line < first && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return false;
        p = nl + 1;
        line++;
    }
    for (; line <= last && p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *from = p;
        if (py) {
            /* the line's comment, if it has one */
            size_t at = (size_t)(p - text), lo = 0, hi = ncomments;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (comments[mid] < at)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            from = lo < ncomments && comments[lo] < (size_t)(le - text) ? text + comments[lo] : le;
        }
        if (line_covers(from, le, rule, kind)) return true;
        /* a comment naming another id of the same problem */
        const char *al = moat_audit_aliases_of(rule);
        for (const char *a = al; a && *a;) {
            size_t m = strcspn(a, ",");
            char id[32];
            if (m < sizeof(id)) {
                memcpy(id, a, m);
                id[m] = '\0';
                if (strcmp(id, rule) != 0 && line_covers(from, le, id, kind)) return true;
            }
            a += m + (a[m] == ',');
        }
        if (!nl) break;
        p = nl + 1;
    }
    return false;
}
