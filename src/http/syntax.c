/* syntax.c - the character classes of HTTP (RFC 9110 5.6) and of request
 * targets (RFC 3986), and comma-list iteration. The classes are written as
 * the grammar's character lists so they can be checked against the RFCs. */
#include "internal.h"

#include <string.h>

/* The classes as the grammar's character lists, evaluated at compile time
 * into one table. */
#define ALNUM(c)                                                                                   \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9'))
/* tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" */
#define TCHAR(c)                                                                                   \
    (ALNUM(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' ||             \
     (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' || (c) == '^' ||          \
     (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')
/* HTAB, SP, VCHAR, obs-text */
#define FIELD(c) ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f))
/* VCHAR: RFC 3986's unreserved, sub-delims, ':' '@' '/' '?' '%', and what
 * browsers send raw although RFC 3986 would encode it (WHATWG URL leaves
 * '[' ']' '^' '|' and the backslash raw in paths, and all but '"' '#' '<'
 * '>' raw in queries; scripts send the rest): " # < > [ ] ^ ` { | } and the
 * backslash. Only SP and controls break a request line; check.c drops a
 * '#' fragment and judges '%'. */
#define TARGET(c) ((c) > 0x20 && (c) < 0x7f)
#define ENTRY(c)                                                                                   \
    (unsigned char)((TCHAR(c) ? MOAT__HTTP_TCHAR : 0) | (FIELD(c) ? MOAT__HTTP_FIELD : 0) |        \
                    (TARGET(c) ? MOAT__HTTP_TARGET : 0))
#define R4(c) ENTRY(c), ENTRY((c) + 1), ENTRY((c) + 2), ENTRY((c) + 3)
#define R16(c) R4(c), R4((c) + 4), R4((c) + 8), R4((c) + 12)
#define R64(c) R16(c), R16((c) + 16), R16((c) + 32), R16((c) + 48)

const unsigned char moat__http_class[256] = {R64(0), R64(64), R64(128), R64(192)};

bool moat__http_is_token(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!moat__http_is_tchar((unsigned char)s[i])) return false;
    return true;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

bool moat__http_list_next(const char **pos, const char *end, const char **el, size_t *el_len)
{
    const char *p = *pos;
    for (;;) {
        while (p < end && (is_ows(*p) || *p == ','))
            p++;
        if (p >= end) {
            *pos = p;
            return false;
        }
        const char *start = p;
        while (p < end && *p != ',')
            p++;
        const char *stop = p;
        while (stop > start && is_ows(stop[-1]))
            stop--;
        if (stop > start) {
            *el = start;
            *el_len = (size_t)(stop - start);
            *pos = p;
            return true;
        }
    }
}

bool moat__http_list_has(const char *value, size_t len, const char *token)
{
    const char *pos = value, *el;
    size_t n;
    while (moat__http_list_next(&pos, value + len, &el, &n))
        if (moat_strieq_lit(el, n, token)) return true;
    return false;
}
