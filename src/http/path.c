/* path.c - request path normalisation for matching and forwarding: one
 * percent-decoding pass, backslashes as '/', ';' parameters dropped, empty
 * and '.' segments removed, '..' resolved (never above the root), strict
 * UTF-8 (overlong forms, surrogates and control bytes refused). Every spelling
 * of a path therefore matches the same rules, and the app receives the one
 * spelling moat checked. The query is left alone. */
#include <string.h>

#include "internal.h"

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool keep_raw(unsigned char c)
{
    /* RFC 3986 pchar minus '%' (re-encoded) plus '/' */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return strchr("-._~!$&'()*+,=:@/", c) != NULL && c != '\0';
}

int moat_http_normalize_path(const char *target, size_t len, moat_arena *arena, char **decoded,
                             char **encoded, const char **why)
{
    const char *q = memchr(target, '?', len);
    size_t plen = q ? (size_t)(q - target) : len;
    if (plen == 0 || target[0] != '/') {
        /* "*" (OPTIONS) and the like: nothing to normalise */
        *decoded = moat_arena_strndup(arena, target, plen);
        *encoded = moat_arena_strndup(arena, target, len);
        return 0;
    }
    /* 1. decode once, backslash to slash */
    unsigned char *dec = moat_arena_alloc(arena, plen + 1);
    size_t dn = 0;
    for (size_t i = 0; i < plen; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c == '%') {
            int hi = i + 2 < plen ? hexval((unsigned char)target[i + 1]) : -1;
            int lo = i + 2 < plen ? hexval((unsigned char)target[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *why = "invalid percent-encoding in the path";
                return MOAT_EINVAL;
            }
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\\') c = '/';
        if (c < 0x20 || c == 0x7F) {
            *why = "control character in the decoded path";
            return MOAT_EINVAL;
        }
        dec[dn++] = c;
    }
    /* 2. strict UTF-8 */
    for (size_t i = 0; i < dn;) {
        size_t l = moat_utf8_len(dec + i, dn - i);
        if (l == 0) {
            *why = "invalid or overlong UTF-8 in the path";
            return MOAT_EINVAL;
        }
        i += l;
    }
    /* 3. segments: drop ';' parameters, empty and '.' segments, resolve '..' */
    char *out = moat_arena_alloc(arena, dn + 2);
    size_t on = 0, i = 0;
    bool end_slash = false;
    while (i < dn) {
        i++; /* every segment starts after a '/' (dec[0] is '/') */
        size_t start = i;
        while (i < dn && dec[i] != '/')
            i++;
        size_t seg = i - start;
        const unsigned char *semi = memchr(dec + start, ';', seg);
        if (semi) seg = (size_t)(semi - (dec + start));
        if (seg == 0 || (seg == 1 && dec[start] == '.')) {
            end_slash = true;
            continue;
        }
        if (seg == 2 && dec[start] == '.' && dec[start + 1] == '.') {
            if (on == 0) {
                *why = "path climbs above the root";
                return MOAT_EINVAL;
            }
            while (out[on - 1] != '/')
                on--;
            on--; /* the '/' that opened the popped segment */
            end_slash = true;
            continue;
        }
        out[on++] = '/';
        memcpy(out + on, dec + start, seg);
        on += seg;
        end_slash = false;
    }
    if (end_slash || on == 0) out[on++] = '/';
    out[on] = '\0';
    *decoded = out;
    /* 4. re-encode for forwarding, then the query as it was */
    moat_buf enc;
    moat_buf_init(&enc);
    for (size_t k = 0; k < on; k++) {
        unsigned char c = (unsigned char)out[k];
        if (keep_raw(c))
            moat_buf_putc(&enc, (char)c);
        else
            moat_buf_printf(&enc, "%%%02X", c);
    }
    if (q) moat_buf_append(&enc, q, len - plen);
    *encoded = moat_arena_strndup(arena, enc.data, enc.len);
    moat_buf_free(&enc);
    return 0;
}
