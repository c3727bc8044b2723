/* serialize.c - writes a head back as HTTP/1.1 with CRLF line ends, header
 * names as received. A head that came from the parser is already clean; one
 * edited by a stage might not be, so the writer never emits a line break it
 * was not asked for: control bytes in values and reasons become SP (as Go's
 * net/http does), headers whose name is not a token are skipped, and unsafe
 * target bytes are percent-encoded. No body framing is added here. */
#include "internal.h"

#include <http_parser.h>
#include <string.h>

static void put_sanitized(moat_buf *out, const char *s, size_t n)
{
    size_t run = 0; /* clean bytes are copied in runs */
    for (size_t i = 0; i < n; i++) {
        if (moat__http_is_field_char((unsigned char)s[i])) continue;
        moat_buf_append(out, s + run, i - run);
        moat_buf_putc(out, ' ');
        run = i + 1;
    }
    moat_buf_append(out, s + run, n - run);
}

static void put_headers(const moat_http_head *h, moat_buf *out)
{
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *f = &h->headers[i];
        if (!moat__http_is_token(f->name, f->name_len)) continue;
        moat_buf_append(out, f->name, f->name_len);
        moat_buf_append(out, ": ", 2);
        put_sanitized(out, f->value, f->value_len);
        moat_buf_append(out, "\r\n", 2);
    }
    moat_buf_append(out, "\r\n", 2);
}

void moat_http_request_serialize(const moat_http_head *h, moat_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    MOAT_BUG_ON(!h->method || !moat__http_is_token(h->method, strlen(h->method)));
    moat_buf_puts(out, h->method);
    moat_buf_putc(out, ' ');
    const char *t = h->target ? h->target : "/";
    size_t tl = h->target ? h->target_len : 1;
    if (tl == 0) {
        t = "/";
        tl = 1;
    }
    for (size_t i = 0; i < tl; i++) {
        unsigned char c = (unsigned char)t[i];
        if (moat__http_is_target_char(c)) {
            moat_buf_putc(out, (char)c);
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
            moat_buf_append(out, enc, 3);
        }
    }
    moat_buf_puts(out, " HTTP/1.1\r\n");
    put_headers(h, out);
}

void moat_http_response_serialize(const moat_http_head *h, moat_buf *out)
{
    MOAT_BUG_ON(h->status < 100 || h->status > 999);
    moat_buf_printf(out, "HTTP/1.1 %d ", h->status);
    if (h->reason && h->reason[0])
        put_sanitized(out, h->reason, strlen(h->reason));
    else
        moat_buf_puts(out, moat_http_reason(h->status));
    moat_buf_append(out, "\r\n", 2);
    put_headers(h, out);
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
