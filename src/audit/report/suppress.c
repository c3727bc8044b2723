/* suppress.c - suppression comments: `# nosec [IDS]`, `# moat: ignore[IDS]`
 * and `# pragma: allowlist secret`, looked for on every line of the
 * statement a finding belongs to (the analyser says which lines those are).
 * The markers are plain text after a '#', so they also work in templates
 * (`{# nosec #}`) and in .env/.ini files. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"

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
        if (!bracketed && !id_like(t, n) && !(n > 5 && strncasecmp(t, "MOAT-", 5) == 0)) continue;
        any = true;
        if (n == rlen && strncasecmp(t, rule, n) == 0) return true;
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

bool moat_audit_suppressed(const char *text, size_t len, unsigned first, unsigned last,
                           const char *rule, const char *kind)
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
        if (line_covers(p, le, rule, kind)) return true;
        if (!nl) break;
        p = nl + 1;
    }
    return false;
}
