/* text.c - UTF-8 validation, JSON string output and terminal-safe text,
 * shared by the path normaliser, the access log, the security log, the CLI
 * and the test tools. The JSON written is always valid UTF-8: control bytes
 * are escaped and invalid sequences become U+FFFD, so a log line can never be
 * broken by its input. Neither JSON nor terminal text ever carries a byte or
 * code point a terminal acts on (C0, DEL, C1) or that reorders what is shown
 * (bidi overrides and isolates, line and paragraph separators). */
#include <string.h>

#include "core.h"

/* The code point of the valid UTF-8 sequence s[0..len). */
static unsigned utf8_cp(const unsigned char *s, size_t len)
{
    if (len == 1) return s[0];
    unsigned cp = s[0] & (0xffu >> (len + 1));
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (s[i] & 0x3fu);
    return cp;
}

bool moat_unsafe_cp(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
           cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t moat_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0; /* continuation byte, overlong lead (C0, C1) or past F4 */
    }
    if (n < len) return 0;
    unsigned cp = c & (0xffu >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

void moat_buf_put_json_string(moat_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    moat_buf_reserve(b, n + 2);
    moat_buf_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            size_t j = i + 1;
            while (j < n && p[j] >= 0x20 && p[j] < 0x7f && p[j] != '"' && p[j] != '\\')
                j++;
            moat_buf_append(b, p + i, j - i);
            i = j;
        } else if (c == '"' || c == '\\') {
            moat_buf_putc(b, '\\');
            moat_buf_putc(b, (char)c);
            i++;
        } else if (c == '\n') {
            moat_buf_puts(b, "\\n");
            i++;
        } else if (c == '\t') {
            moat_buf_puts(b, "\\t");
            i++;
        } else if (c == '\r') {
            moat_buf_puts(b, "\\r");
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            moat_buf_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t k = moat_utf8_len(p + i, n - i);
            if (k == 0) {
                moat_buf_puts(b, "\\ufffd");
                i++;
            } else {
                unsigned cp = utf8_cp(p + i, k);
                /* Valid JSON either way; escaped, a log shown with cat or tail
                 * cannot drive or reorder the terminal (C1 CSI, bidi). */
                if (moat_unsafe_cp(cp))
                    moat_buf_printf(b, "\\u%04x", cp);
                else
                    moat_buf_append(b, p + i, k);
                i += k;
            }
        }
    }
    moat_buf_putc(b, '"');
}

void moat_json_harden(moat_buf *b, const char *json, size_t n)
{
    const unsigned char *p = (const unsigned char *)json;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] < 0x80)
            j++;
        moat_buf_append(b, p + i, j - i);
        if (j == n) break;
        size_t k = moat_utf8_len(p + j, n - j);
        if (k == 0) {
            /* Not UTF-8, so not JSON: escape the byte, which is valid inside a
             * string, where the only non-ASCII bytes of a JSON text can be. */
            moat_buf_puts(b, "\\ufffd");
            i = j + 1;
            continue;
        }
        unsigned cp = utf8_cp(p + j, k);
        if (moat_unsafe_cp(cp))
            moat_buf_printf(b, "\\u%04x", cp);
        else
            moat_buf_append(b, p + j, k);
        i = j + k;
    }
}

void moat_term_escape(moat_buf *b, const char *s, size_t n, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    bool text = flags & MOAT_TERM_TEXT;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x7f && (text || p[j] != '\\'))
            j++;
        moat_buf_append(b, p + i, j - i);
        if (j == n) break;
        unsigned char c = p[j];
        i = j + 1;
        if (c == '\\') {
            moat_buf_puts(b, "\\\\");
        } else if (c == '\n') {
            moat_buf_puts(b, text ? "\n" : "\\n");
        } else if (c == '\t') {
            moat_buf_puts(b, text ? "\t" : "\\t");
        } else if (c == '\r') {
            /* CRLF line ends of a text are harmless; a lone CR rewrites the line */
            moat_buf_puts(b, text && i < n && p[i] == '\n' ? "\r" : "\\r");
        } else if (c < 0x80) {
            moat_buf_printf(b, "\\x%02x", c); /* other C0, DEL */
        } else {
            size_t k = moat_utf8_len(p + j, n - j);
            if (k == 0) {
                moat_buf_printf(b, "\\x%02x", c); /* not UTF-8: raw C1 0x80-0x9f too */
                continue;
            }
            unsigned cp = utf8_cp(p + j, k);
            if (moat_unsafe_cp(cp))
                moat_buf_printf(b, "\\u%04x", cp);
            else
                moat_buf_append(b, p + j, k);
            i = j + k;
        }
    }
    moat_buf_append(b, "", 0); /* NUL-terminated, "" rather than NULL when empty */
}

const char *moat_term_str(moat_arena *a, const char *s)
{
    if (!s) return NULL;
    moat_buf b;
    moat_buf_init(&b);
    moat_term_escape(&b, s, strlen(s), 0);
    char *out = moat_arena_strndup(a, b.data ? b.data : "", b.len);
    moat_buf_free(&b);
    return out;
}
