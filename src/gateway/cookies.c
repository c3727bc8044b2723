/* cookies.c - the Set-Cookie validator the headers stage runs on every
 * cookie the application sets (RFC 6265bis). A value that is not a cookie
 * is dropped; an attribute browsers would reject or misread (a SameSite
 * that is no SameSite, two of them, SameSite=None or Partitioned without
 * Secure, a __Host- or __Secure- cookie that breaks its prefix's rules) is
 * rewritten
 * to moat's policy, or the cookie dropped when it cannot be mended (over
 * plain HTTP). Pure: no request, no log; the stage records the events. */
#include <string.h>

#include "internal.h"

enum { SS_ABSENT, SS_NONE, SS_LAX, SS_STRICT, SS_INVALID };
static const char *const ss_names[] = {"", "None", "Lax", "Strict", ""};

static bool is_token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7F && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static bool is_cookie_octet(unsigned char c)
{
    /* RFC 6265bis cookie-octet, widened to what browsers accept: no CTL,
     * no ';', no '"' inside, no whitespace */
    return c > 0x20 && c != 0x7F && c != ';' && c != '"' && c != '\\' && c != ',';
}

static const char *trim(const char *s, const char *end, const char **out_end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *out_end = end;
    return s;
}

static bool has_prefix_nocase(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && moat_streq_nocase(s, l, lit, l);
}

static int samesite_of(const char *v, size_t n)
{
    if (moat_streq_nocase(v, n, "Strict", 6)) return SS_STRICT;
    if (moat_streq_nocase(v, n, "Lax", 3)) return SS_LAX;
    if (moat_streq_nocase(v, n, "None", 4)) return SS_NONE;
    return SS_INVALID;
}

static void note(moat_buf *why, const char *what)
{
    if (!why) return;
    if (why->len) moat_buf_puts(why, "; ");
    moat_buf_puts(why, what);
}

static bool listed(const moat_strlist *l, const char *name, size_t n)
{
    for (size_t i = 0; l && i < l->len; i++)
        if (strlen(l->items[i]) == n && memcmp(l->items[i], name, n) == 0) return true;
    return false;
}

/* Kinds of attribute the rewrite looks at; the others pass as written. */
enum { AV_OTHER, AV_EMPTY, AV_SAMESITE, AV_SECURE, AV_HTTPONLY, AV_DOMAIN, AV_PATH };

int moat__cookie_harden(const moat__cookie_policy *pol, const char *v, size_t len, moat_buf *out,
                        size_t *name_len, moat_buf *why)
{
    *name_len = 0;
    const char *end = v + len;
    if (memchr(v, '\0', len)) {
        note(why, "a NUL byte in the value");
        return MOAT__COOKIE_DROPPED;
    }
    const char *semi = memchr(v, ';', len);
    const char *pair_end = semi ? semi : end;
    const char *eq = memchr(v, '=', (size_t)(pair_end - v));
    const char *ne;
    const char *n = eq ? trim(v, eq, &ne) : NULL;
    if (!n || n == ne) {
        note(why, "no cookie name");
        return MOAT__COOKIE_DROPPED;
    }
    /* the name is at the start (the stage reports it): leading blanks are
     * not a token either way */
    if (n != v) {
        note(why, "blank before the cookie name");
        return MOAT__COOKIE_DROPPED;
    }
    for (const char *p = n; p < ne; p++)
        if (!is_token_char((unsigned char)*p)) {
            note(why, "the cookie name is not a token");
            return MOAT__COOKIE_DROPPED;
        }
    *name_len = (size_t)(ne - n);
    const char *ve;
    const char *val = trim(eq + 1, pair_end, &ve);
    if (ve - val >= 2 && val[0] == '"' && ve[-1] == '"') {
        val++;
        ve--;
    }
    for (const char *p = val; p < ve; p++)
        if (!is_cookie_octet((unsigned char)*p)) {
            note(why, "the cookie value has a character browsers refuse or split on");
            return MOAT__COOKIE_DROPPED;
        }
    size_t nl = (size_t)(ne - n);
    bool host = has_prefix_nocase(n, nl, "__Host-");
    bool prefixed = host || has_prefix_nocase(n, nl, "__Secure-");

    /* First pass: classify every attribute; the last Path is the one
     * browsers use, SameSite is decided from all of them. */
    bool secure = false, httponly = false, domain = false, partitioned = false;
    int nss = 0, ss = SS_ABSENT, ss_best = SS_ABSENT;
    bool ss_invalid = false;
    const char *last_path = NULL, *last_path_end = NULL;
    for (const char *p = semi; p && p < end;) {
        p++;
        const char *next = memchr(p, ';', (size_t)(end - p));
        const char *ae = next ? next : end;
        for (const char *q = p; q < ae; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7F) {
                note(why, "a control character in an attribute");
                return MOAT__COOKIE_DROPPED;
            }
        const char *an_end;
        const char *an = trim(p, ae, &an_end);
        const char *aeq = memchr(an, '=', (size_t)(an_end - an));
        const char *tn_end;
        const char *tn = trim(an, aeq ? aeq : an_end, &tn_end);
        size_t tl = (size_t)(tn_end - tn);
        const char *av_end = an_end;
        const char *av = aeq ? trim(aeq + 1, an_end, &av_end) : an_end;
        if (moat_streq_nocase(tn, tl, "Secure", 6)) secure = true;
        if (moat_streq_nocase(tn, tl, "HttpOnly", 8)) httponly = true;
        if (moat_streq_nocase(tn, tl, "Domain", 6)) domain = true;
        if (moat_streq_nocase(tn, tl, "Partitioned", 11)) partitioned = true;
        if (moat_streq_nocase(tn, tl, "Path", 4)) {
            last_path = av;
            last_path_end = av_end;
        }
        if (moat_streq_nocase(tn, tl, "SameSite", 8)) {
            nss++;
            int s = aeq ? samesite_of(av, (size_t)(av_end - av)) : SS_INVALID;
            if (s == SS_INVALID)
                ss_invalid = true;
            else if (s > ss_best)
                ss_best = s;
            ss = s;
        }
        p = next;
    }

    bool fixed = false;
    bool https = pol->https;
    bool drop_samesite = false;
    bool add_path = false, drop_domain = false, drop_path = false;
    if (prefixed) {
        bool path_ok = last_path && last_path_end - last_path == 1 && last_path[0] == '/';
        bool broken = !secure || (host && (domain || !path_ok));
        if (broken && !https) {
            note(why, host ? "a __Host- cookie without Secure, Path=/ or with Domain, over "
                             "plain HTTP (cannot be mended)"
                           : "a __Secure- cookie without Secure, over plain HTTP (cannot be "
                             "mended)");
            return MOAT__COOKIE_DROPPED;
        }
        if (!secure) note(why, "Secure added (cookie prefix)");
        if (host && domain) {
            note(why, "Domain removed (__Host- prefix)");
            drop_domain = true;
        }
        if (host && !path_ok) {
            note(why, "Path=/ set (__Host- prefix)");
            drop_path = add_path = true;
        }
        fixed = broken;
    }
    /* A Partitioned cookie without Secure is refused too (CHIPS); without
     * the attribute it would be shared across sites: never drop only that */
    if (partitioned && !secure && !prefixed) {
        if (!https) {
            note(why, "Partitioned without Secure, over plain HTTP (cannot be mended)");
            return MOAT__COOKIE_DROPPED;
        }
        if (!pol->add_secure) {
            note(why, "Secure added (Partitioned)");
            fixed = true;
        }
    }
    bool want_secure = secure || (pol->add_secure && https) || ((prefixed || partitioned) && https);

    /* SameSite: one valid attribute stays as written; none gets moat's
     * default; an invalid or repeated one is replaced by the strictest
     * valid value given, else by moat's default. */
    int def = samesite_of(pol->samesite, strlen(pol->samesite));
    if (def == SS_INVALID) def = SS_ABSENT; /* "off" */
    int final = ss;
    if (nss > 1 || ss_invalid) {
        note(why, nss > 1 ? "repeated SameSite replaced" : "invalid SameSite replaced");
        final = ss_best != SS_ABSENT ? ss_best : def;
        drop_samesite = fixed = true;
    } else if (nss == 0) {
        final = def;
    }
    if (final == SS_NONE && !want_secure) {
        if (https) {
            want_secure = true; /* browsers refuse None without Secure */
        } else {
            final = def == SS_STRICT ? SS_STRICT : SS_LAX;
            drop_samesite = true;
        }
        if (nss) {
            note(why,
                 https ? "Secure added (SameSite=None)" : "SameSite=None without Secure replaced");
            fixed = true;
        }
    }

    /* Second pass: the value as written, less what is dropped; then what
     * is added. */
    moat_buf_append(out, v, (size_t)(pair_end - v));
    for (const char *p = semi; p && p < end;) {
        p++;
        const char *next = memchr(p, ';', (size_t)(end - p));
        const char *ae = next ? next : end;
        const char *an_end;
        const char *an = trim(p, ae, &an_end);
        const char *aeq = memchr(an, '=', (size_t)(an_end - an));
        const char *tn_end;
        const char *tn = trim(an, aeq ? aeq : an_end, &tn_end);
        size_t tl = (size_t)(tn_end - tn);
        bool keep = an < an_end;
        if (drop_samesite && moat_streq_nocase(tn, tl, "SameSite", 8)) keep = false;
        if (drop_domain && moat_streq_nocase(tn, tl, "Domain", 6)) keep = false;
        if (drop_path && moat_streq_nocase(tn, tl, "Path", 4)) keep = false;
        if (keep) {
            moat_buf_putc(out, ';');
            moat_buf_append(out, p, (size_t)(ae - p));
        }
        p = next;
    }
    if (add_path) moat_buf_puts(out, "; Path=/");
    if (pol->httponly && !httponly && !listed(pol->httponly_except, n, nl))
        moat_buf_puts(out, "; HttpOnly");
    if (want_secure && !secure) moat_buf_puts(out, "; Secure");
    if (final != SS_ABSENT && (nss == 0 || drop_samesite))
        moat_buf_printf(out, "; SameSite=%s", ss_names[final]);
    return fixed ? MOAT__COOKIE_FIXED : MOAT__COOKIE_KEPT;
}
