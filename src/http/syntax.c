/* syntax.c - the character classes of HTTP (RFC 9110 5.6) and of request
 * targets (RFC 3986), and comma-list iteration. The classes are written as
 * the grammar's character lists so they can be checked against the RFCs. */
#include "internal.h"

#include <string.h>

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool moat__http_is_tchar(unsigned char c)
{
    return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool moat__http_is_token(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!moat__http_is_tchar((unsigned char)s[i])) return false;
    return true;
}

bool moat__http_is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

bool moat__http_is_target_char(unsigned char c)
{
    /* unreserved, sub-delims, and what pchar, query and authority add */
    return is_alnum(c) || (c && strchr("-._~"
                                       "!$&'()*+,;="
                                       ":@/?%[]",
                                       c));
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
