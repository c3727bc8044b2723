/* route.c - the one route matcher of moat: the glob dialect of
 * [[auth.rules]] paths, also used by waf.exclude, headers.paths and
 * tls.redirect_exempt, so every path setting reads a pattern the same way
 * (docs/configuration.md, "Paths and globs"). A pattern is a path or a glob
 * with '*' (any characters but '/'), '**' (anything) and '?' (one
 * character but '/'), ending in '$' for that path alone. Pure functions. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* Compares the pattern's character pc with the path at s; returns how many
 * bytes of s it covers, 0 for no match. Without regard to case, an ASCII
 * letter also covers the non-ASCII characters Python's re folds to it under
 * IGNORECASE (Django's (?i) routes): U+0130 and U+0131 for i, U+017F for s,
 * U+212A for k. */
static size_t char_match(char pc, const char *s, bool nocase)
{
    if (pc == *s) return 1;
    if (!nocase) return 0;
    int l = tolower((unsigned char)pc);
    if (l == tolower((unsigned char)*s) && isalpha((unsigned char)*s)) return 1;
    const unsigned char *u = (const unsigned char *)s;
    if (l == 'i' && u[0] == 0xc4 && (u[1] == 0xb0 || u[1] == 0xb1)) return 2;
    if (l == 's' && u[0] == 0xc5 && u[1] == 0xbf) return 2;
    if (l == 'k' && u[0] == 0xe2 && u[1] == 0x84 && u[2] == 0xaa) return 3;
    return 0;
}

enum { WHOLE, ANCHORED, BELOW };

/* '*' matches any run of characters but '/', '**' any run at all, '?' one
 * byte other than '/'. tail says what may follow the matched part: WHOLE
 * nothing, ANCHORED at most one '/', BELOW a '/' or '.' and anything after
 * it (the pattern's folder, or the same path with an extension: DRF's
 * format suffixes), or anything when the pattern ends in '/'. Two
 * backtrack points, the last '**' and the last '*' after it, keep matching
 * at O(pattern x path) whatever the pattern. */
static bool glob_match(const char *p, const char *s, int tail, bool nocase)
{
    const char *p0 = p;
    const char *any_p = NULL, *any_s = NULL, *one_p = NULL, *one_s = NULL;
    for (;;) {
        if (*p == '\0' && tail == BELOW &&
            (*s == '/' || *s == '.' || (*s && p > p0 && p[-1] == '/')))
            return true;
        if (*p == '\0' && tail == ANCHORED && s[0] == '/' && s[1] == '\0') return true;
        if (*s == '\0') {
            while (*p == '*')
                p++;
            if (*p == '\0') return true;
        }
        if (p[0] == '*' && p[1] == '*') {
            while (*p == '*')
                p++;
            any_p = p;
            any_s = s;
            one_p = NULL;
            continue;
        }
        if (*p == '*') {
            p++;
            one_p = p;
            one_s = s;
            continue;
        }
        size_t n = 0;
        if (*s && *p == '?' && *s != '/')
            n = 1;
        else if (*s && *p && *p != '?')
            n = char_match(*p, s, nocase);
        if (n) {
            p++;
            s += n;
            continue;
        }
        if (one_p && *one_s && *one_s != '/') {
            p = one_p;
            s = ++one_s;
            continue;
        }
        if (any_p && *any_s) {
            one_p = NULL;
            p = any_p;
            s = ++any_s;
            continue;
        }
        return false;
    }
}

bool moat_route_match(const char *pattern, const char *path, unsigned flags)
{
    size_t n = strlen(pattern);
    bool anchored = n > 1 && pattern[n - 1] == '$';
    if (anchored) n--;
    bool guard = flags & MOAT_ROUTE_GUARD;
    /* Guarding, "/admin/" is "/admin": the folder and the page before it. */
    if (guard && n && pattern[n - 1] == '/') n--;
    char buf[512];
    char *p = n < sizeof(buf) ? buf : moat_xmalloc(n + 1);
    memcpy(p, pattern, n);
    p[n] = '\0';
    int tail;
    if (anchored)
        tail = guard ? ANCHORED : WHOLE;
    else if (guard || !strpbrk(p, "*?"))
        tail = BELOW;
    else
        tail = WHOLE; /* a public glob opens only the paths it matches whole */
    bool ok = glob_match(p, path, tail, guard && (flags & MOAT_ROUTE_NOCASE));
    if (p != buf) free(p);
    return ok;
}

const char *moat_route_check(const char *pattern)
{
    if (pattern[0] != '/')
        return "expected a path starting with '/' (a path, or a glob with * ** ?, a final $ for "
               "that path alone)";
    for (const char *p = pattern; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return "spaces and control characters are not allowed in a path pattern";
        if (*p == '#') return "'#' never reaches a server: not allowed in a path pattern";
        if (*p == '$' && p[1] != '\0') return "'$' may only end a path pattern";
    }
    return NULL;
}
