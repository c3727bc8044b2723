/* text.c - UTF-8 validation and JSON string output, shared by the path
 * normaliser, the access log, the security log and the test tools. The JSON
 * written is always valid UTF-8: control bytes are escaped and invalid
 * sequences become U+FFFD, so a log line can never be broken by its input. */
#include "core.h"

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
                moat_buf_append(b, p + i, k);
                i += k;
            }
        }
    }
    moat_buf_putc(b, '"');
}
