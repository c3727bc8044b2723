/* h2translate.c - an HTTP/2 request's header list written as the HTTP/1.1
 * head it stands for (RFC 9113 8.3.1), so the gateway parses it with the
 * same parser, limits and checks as a request that came as HTTP/1.1. What
 * HTTP/1.1 cannot carry unambiguously is refused rather than rewritten
 * (the h2-to-h1 downgrade smuggling class): connection-specific fields,
 * TE other than "trailers", names or values with bytes HTTP/1.1 forbids,
 * missing or repeated pseudo-headers, CONNECT, a Host that disagrees with
 * :authority. Body framing is the caller's (it counts DATA). */
#include <string.h>

#include "http.h"
#include "internal.h"

static bool name_is(const moat_h2_field *f, const char *lit)
{
    size_t n = strlen(lit);
    return f->name_len == n && memcmp(f->name, lit, n) == 0;
}

/* RFC 9113 8.2.1: a lower-case token; HTTP/1.1 would read an upper-case
 * name the same, but an h2 peer must not send one. */
static bool name_ok(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!moat__http_is_tchar(c) || (c >= 'A' && c <= 'Z')) return false;
    }
    return true;
}

/* A field value HTTP/1.1 reads as one value: VCHAR, obs-text, SP and HTAB
 * inside, no whitespace at either end, no CR, LF, NUL or other controls. */
static bool value_ok(const char *s, size_t n)
{
    if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

static bool token_ok(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!moat__http_is_tchar((unsigned char)s[i])) return false;
    return true;
}

static bool eq_nocase(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn) return false;
    for (size_t i = 0; i < an; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
        if (x != y) return false;
    }
    return true;
}

/* A literal appended without its strlen (this runs for every stream). */
#define PUT_LIT(b, lit) moat_buf_append((b), (lit), sizeof(lit) - 1)

#define REFUSE(msg)                                                                                \
    do {                                                                                           \
        *why = (msg);                                                                              \
        return MOAT_EINVAL;                                                                        \
    } while (0)

int moat_h2_request_translate(const moat_h2_field *f, size_t n, moat_buf *out, const char **why)
{
    const moat_h2_field *method = NULL, *scheme = NULL, *path = NULL, *authority = NULL;
    const moat_h2_field *host = NULL;
    bool regular = false;
    size_t cookies = 0;
    for (size_t i = 0; i < n; i++) {
        const moat_h2_field *h = &f[i];
        if (h->name_len && h->name[0] == ':') {
            if (regular) REFUSE("pseudo-header after a regular field");
            const moat_h2_field **slot = name_is(h, ":method")      ? &method
                                         : name_is(h, ":scheme")    ? &scheme
                                         : name_is(h, ":path")      ? &path
                                         : name_is(h, ":authority") ? &authority
                                                                    : NULL;
            if (!slot) REFUSE("unknown or response pseudo-header");
            if (*slot) REFUSE("repeated pseudo-header");
            if (!value_ok(h->value, h->value_len)) REFUSE("pseudo-header value HTTP/1.1 forbids");
            *slot = h;
            continue;
        }
        regular = true;
        if (!name_ok(h->name, h->name_len)) REFUSE("field name HTTP/1.1 forbids or upper-case");
        if (!value_ok(h->value, h->value_len)) REFUSE("field value HTTP/1.1 forbids");
        if (name_is(h, "connection") || name_is(h, "keep-alive") ||
            name_is(h, "proxy-connection") || name_is(h, "transfer-encoding") ||
            name_is(h, "upgrade") || name_is(h, "http2-settings"))
            REFUSE("connection-specific field");
        if (name_is(h, "te") && !eq_nocase(h->value, h->value_len, "trailers", 8))
            REFUSE("TE other than trailers");
        if (name_is(h, "host")) {
            if (host) REFUSE("repeated Host");
            host = h;
        }
        if (name_is(h, "cookie")) cookies++;
    }
    if (!method || !scheme || !path) REFUSE("missing :method, :scheme or :path");
    if (!token_ok(method->value, method->value_len)) REFUSE(":method is not a token");
    if (eq_nocase(method->value, method->value_len, "CONNECT", 7)) REFUSE("CONNECT");
    if (!(eq_nocase(scheme->value, scheme->value_len, "https", 5) ||
          eq_nocase(scheme->value, scheme->value_len, "http", 4)))
        REFUSE(":scheme is not http or https");
    if (path->value_len == 0 || path->value[0] != '/') REFUSE(":path is not origin-form");
    for (size_t i = 0; i < path->value_len; i++)
        if ((unsigned char)path->value[i] <= 0x20) REFUSE(":path with a space or control");
    const moat_h2_field *hostf = authority ? authority : host;
    if (!hostf || hostf->value_len == 0) REFUSE("no :authority and no Host");
    if (authority && host &&
        !eq_nocase(authority->value, authority->value_len, host->value, host->value_len))
        REFUSE(":authority and Host disagree");
    for (size_t i = 0; i < hostf->value_len; i++) {
        char c = hostf->value[i];
        if (c == ' ' || c == '\t' || c == '@') REFUSE(":authority with userinfo or space");
    }

    moat_buf_append(out, method->value, method->value_len);
    PUT_LIT(out, " ");
    moat_buf_append(out, path->value, path->value_len);
    PUT_LIT(out, " HTTP/1.1\r\nHost: ");
    moat_buf_append(out, hostf->value, hostf->value_len);
    PUT_LIT(out, "\r\n");
    bool cookie_done = false;
    for (size_t i = 0; i < n; i++) {
        const moat_h2_field *h = &f[i];
        if (h->name[0] == ':' || name_is(h, "host")) continue;
        if (name_is(h, "cookie")) {
            /* RFC 9113 8.2.3: split crumbs are one Cookie field again. */
            if (cookie_done) continue;
            cookie_done = true;
            PUT_LIT(out, "cookie: ");
            size_t k = 0;
            for (size_t j = i; j < n && k < cookies; j++) {
                if (!name_is(&f[j], "cookie")) continue;
                if (k++) PUT_LIT(out, "; ");
                moat_buf_append(out, f[j].value, f[j].value_len);
            }
            PUT_LIT(out, "\r\n");
            continue;
        }
        moat_buf_append(out, h->name, h->name_len);
        PUT_LIT(out, ": ");
        moat_buf_append(out, h->value, h->value_len);
        PUT_LIT(out, "\r\n");
    }
    PUT_LIT(out, "\r\n");
    return 0;
}
