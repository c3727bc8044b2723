/* form.c - what a login portal parses from a client: one cookie out of a
 * Cookie header (RFC 6265 pairs; quotes around a value dropped), and
 * application/x-www-form-urlencoded bodies and query strings (WHATWG URL
 * "application/x-www-form-urlencoded parsing", strict: a malformed escape,
 * a NUL byte or a name given twice refuses the whole form). Values land in
 * the caller's arena; nothing here allocates otherwise. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* ---- cookies ------------------------------------------------------------- */

int moat_http_cookie_get(const char *header, size_t hlen, const char *name, const char **val,
                         size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = header, *end = header + hlen;
    int found = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
            p++;
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pair_end = semi ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq + 1, *ve = pair_end;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"') {
                v++;
                ve--;
            }
            if (found) return MOAT_EINVAL; /* twice: ambiguous, take neither */
            *val = v;
            *vlen = (size_t)(ve - v);
            found = 1;
        }
        p = pair_end;
    }
    return found ? 0 : MOAT_ENOENT;
}

const char *moat_http_head_cookie(const moat_http_head *h, moat_arena *a, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *hh = &h->headers[i];
        if (!moat_strieq_lit(hh->name, hh->name_len, "Cookie")) continue;
        const char *v;
        size_t n;
        int rc = moat_http_cookie_get(hh->value, hh->value_len, name, &v, &n);
        if (rc == MOAT_EINVAL || (rc == 0 && found)) return NULL;
        if (rc == 0) found = moat_arena_strndup(a, v, n);
    }
    return found;
}

/* ---- forms --------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) ('+' is a space) into a NUL-terminated arena string.
 * NULL when a %-escape is malformed or the result holds a NUL byte. */
static char *form_decode(moat_arena *a, const char *s, size_t n)
{
    char *out = moat_arena_alloc(a, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n) return NULL;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0) return NULL;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (c == '\0') return NULL;
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

int moat_http_form_parse(moat_arena *a, const char *body, size_t len, moat_http_form *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        if (pe > p) {
            if (out->n == MOAT_HTTP_FORM_MAX) return MOAT_ETOOBIG;
            const char *eq = memchr(p, '=', (size_t)(pe - p));
            const char *ke = eq ? eq : pe;
            char *k = form_decode(a, p, (size_t)(ke - p));
            char *v = eq ? form_decode(a, eq + 1, (size_t)(pe - eq - 1)) : moat_arena_strdup(a, "");
            if (!k || !v) return MOAT_EINVAL;
            for (size_t i = 0; i < out->n; i++)
                if (strcmp(out->keys[i], k) == 0) return MOAT_EINVAL; /* given twice */
            out->keys[out->n] = k;
            out->vals[out->n] = v;
            out->n++;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

const char *moat_http_form_get(const moat_http_form *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], key) == 0) return f->vals[i];
    return NULL;
}

void moat_http_url_escape(moat_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
            moat_buf_putc(b, (char)c);
        } else {
            moat_buf_putc(b, '%');
            moat_buf_putc(b, hex[c >> 4]);
            moat_buf_putc(b, hex[c & 15]);
        }
    }
}
