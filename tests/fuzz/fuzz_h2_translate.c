/* fuzz_h2_translate.c - the HTTP/2 header list as an HTTP/1.1 head
 * (moat_h2_request_translate). The input is a header list: fields split at
 * '\n', each name and value split at the first ':' after the first byte (so
 * pseudo-headers keep theirs), any byte allowed in either. Whatever the
 * translation accepts must be one HTTP/1.1 head and nothing else: one
 * request line, one line per field (cookies joined into one), the empty
 * line only at the end, no CR or LF but in CRLF; and when moat's HTTP/1.1
 * parser accepts it, it reads exactly that many fields and stops at the end
 * of the bytes (no second request, no body smuggled into the head). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELDS 64

typedef struct seen {
    moat_http_head *head;
    int ends;
} seen;

static int on_head(void *ud, moat_http_head *h)
{
    ((seen *)ud)->head = h;
    return 0;
}

static int on_body(void *ud, const char *d, size_t n)
{
    (void)ud;
    (void)d;
    (void)n;
    return 0;
}

static int on_end(void *ud)
{
    ((seen *)ud)->ends++;
    return 0;
}

static const moat_http_parser_cbs cbs = {on_head, on_body, on_end};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    moat_h2_field f[MAX_FIELDS];
    size_t n = 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end && n < MAX_FIELDS) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *colon =
            line_end - p > 1 ? memchr(p + 1, ':', (size_t)(line_end - p - 1)) : NULL;
        f[n].name = p;
        f[n].name_len = (size_t)((colon ? colon : line_end) - p);
        f[n].value = colon ? colon + 1 : line_end;
        f[n].value_len = colon ? (size_t)(line_end - colon - 1) : 0;
        n++;
        p = nl ? nl + 1 : end;
    }
    moat_buf out;
    moat_buf_init(&out);
    const char *why = NULL;
    if (moat_h2_request_translate(f, n, &out, &why) != 0) {
        MOAT_BUG_ON(!why);
        moat_buf_free(&out);
        return 0;
    }
    /* The shape: CR and LF only as CRLF, the empty line only at the end. */
    size_t lines = 0;
    for (size_t i = 0; i < out.len; i++) {
        if (out.data[i] == '\r') MOAT_BUG_ON(i + 1 >= out.len || out.data[i + 1] != '\n');
        if (out.data[i] == '\n') {
            MOAT_BUG_ON(i == 0 || out.data[i - 1] != '\r');
            lines++;
        }
        MOAT_BUG_ON(out.data[i] == '\0');
    }
    MOAT_BUG_ON(out.len < 4 || memcmp(out.data + out.len - 4, "\r\n\r\n", 4) != 0);
    const char *first_empty = strstr(out.data, "\r\n\r\n");
    MOAT_BUG_ON(first_empty != out.data + out.len - 4);
    size_t regular = 0, cookies = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].name_len && f[i].name[0] == ':') continue;
        if (f[i].name_len == 4 && memcmp(f[i].name, "host", 4) == 0) continue;
        if (f[i].name_len == 6 && memcmp(f[i].name, "cookie", 6) == 0) {
            if (cookies++) continue;
        }
        regular++;
    }
    /* request line + Host + the fields + the empty line */
    MOAT_BUG_ON(lines != regular + 3);

    moat_arena *arena = moat_arena_new();
    moat_http_limits lim = {.url_bytes = 8192, .header_bytes = 65536, .headers = 1000};
    seen s = {0};
    moat_http_parser *parser = moat_http_parser_new(MOAT_HTTP_REQUEST, &lim, &cbs, &s, arena);
    size_t used = 0;
    int rc = moat_http_parser_execute(parser, out.data, out.len, &used);
    if (s.head) {
        MOAT_BUG_ON(used != out.len);
        MOAT_BUG_ON(s.head->nheaders != regular + 1);
        MOAT_BUG_ON(s.head->chunked);
        MOAT_BUG_ON(!s.head->host_name);
        MOAT_BUG_ON(s.ends > 1);
    } else {
        MOAT_BUG_ON(rc == 0 && used != out.len);
    }
    moat_http_parser_free(parser);
    moat_arena_free(arena);
    moat_buf_free(&out);
    return 0;
}
