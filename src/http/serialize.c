/* serialize.c - writes a head back as HTTP/1.1 with CRLF line ends, header
 * names as received. A head that came from the parser is already clean; one
 * edited by a stage might not be, so the writer never emits a line break it
 * was not asked for: control bytes in values and reasons become SP (as Go's
 * net/http does), headers whose name is not a token are skipped, and target
 * bytes that would break the request line (controls, SP, non-ASCII) or start
 * a fragment ('#') are percent-encoded. No body framing is added here. */
#include "internal.h"

#include <http_parser.h>
#include <stdint.h>
#include <string.h>

/* The writers below size the whole head first, reserve once, and then copy
 * with a cursor: a head is a few hundred bytes in a couple of dozen pieces,
 * and an append (with its capacity check) per piece cost more than the
 * copying. */

/* Copies n bytes of a value, any byte that is not a field byte as SP. */
static char *put_sanitized(char *p, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = moat__http_field_run(s + i, n - i);
        memcpy(p, s + i, k);
        p += k;
        i += k;
        if (i < n) {
            *p++ = ' ';
            i++;
        }
    }
    return p;
}

static char *put_bytes(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* Bytes put_headers writes at most. */
static size_t headers_size(const moat_http_head *h)
{
    size_t n = 2;
    for (size_t i = 0; i < h->nheaders; i++)
        n += h->headers[i].name_len + h->headers[i].value_len + 4;
    return n;
}

static char *put_headers(const moat_http_head *h, char *p)
{
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *f = &h->headers[i];
        if (!f->name_token) continue;
        p = put_bytes(p, f->name, f->name_len);
        p = put_bytes(p, ": ", 2);
        p = put_sanitized(p, f->value, f->value_len);
        p = put_bytes(p, "\r\n", 2);
    }
    return put_bytes(p, "\r\n", 2);
}

/* Ends a write started at out->data + out->len that stopped at p. */
static void finish(moat_buf *out, const char *p, size_t reserved)
{
    size_t n = (size_t)(p - (out->data + out->len));
    MOAT_BUG_ON(n > reserved);
    out->len += n;
    out->data[out->len] = '\0';
}

void moat_http_request_serialize(const moat_http_head *h, moat_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    MOAT_BUG_ON(!h->method || !moat__http_is_token(h->method, strlen(h->method)));
    const char *t = h->target ? h->target : "/";
    size_t tl = h->target ? h->target_len : 1;
    if (tl == 0) {
        t = "/";
        tl = 1;
    }
    size_t ml = strlen(h->method);
    MOAT_BUG_ON(tl > SIZE_MAX / 4);
    size_t need = ml + 1 + tl * 3 + 11 + headers_size(h);
    moat_buf_reserve(out, need);
    char *p = out->data + out->len;
    p = put_bytes(p, h->method, ml);
    *p++ = ' ';
    for (size_t i = 0; i < tl; i++) {
        unsigned char c = (unsigned char)t[i];
        if (moat__http_is_target_char(c) && c != '#') {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    p = put_bytes(p, " HTTP/1.1\r\n", 11);
    p = put_headers(h, p);
    finish(out, p, need);
}

void moat_http_response_serialize(const moat_http_head *h, moat_buf *out)
{
    MOAT_BUG_ON(h->status < 100 || h->status > 999);
    bool own = h->reason && h->reason[0];
    const char *reason = own ? h->reason : moat_http_reason(h->status);
    size_t rl = strlen(reason);
    size_t need = 13 + rl + 2 + headers_size(h);
    moat_buf_reserve(out, need);
    char *p = out->data + out->len;
    p = put_bytes(p, "HTTP/1.1 ", 9);
    *p++ = (char)('0' + h->status / 100);
    *p++ = (char)('0' + h->status / 10 % 10);
    *p++ = (char)('0' + h->status % 10);
    *p++ = ' ';
    p = own ? put_sanitized(p, reason, rl) : put_bytes(p, reason, rl);
    p = put_bytes(p, "\r\n", 2);
    p = put_headers(h, p);
    finish(out, p, need);
}

const char *moat_http_reason(int status)
{
    switch (status) {
#define MOAT__REASON(num, name, string)                                                            \
    case num:                                                                                      \
        return #string;
        HTTP_STATUS_MAP(MOAT__REASON)
#undef MOAT__REASON
    case 103:
        return "Early Hints";
    case 418:
        return "I'm a teapot";
    case 425:
        return "Too Early";
    default:
        return "Unknown";
    }
}
