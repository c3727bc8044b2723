/* fuzz_multipart.c - libFuzzer target for the multipart/form-data parser
 * (src/http/multipart.c) the WAF stage streams uploads through. The first
 * byte picks the boundary and the size of the pieces the rest is fed in;
 * the body is parsed whole and in pieces, and both must agree on the
 * outcome and on every event (parts, content, ends). The Content-Type
 * reader gets the input too. Crashes, sanitizer reports and a disagreement
 * between the two parses are the findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const boundaries[] = {"b", "XyZ", "----WebKitFormBoundary7MA4YWxkTrZu0gW",
                                         "a'()+_,-./:=? z"};

static int on_part(void *ud, const moat_multipart_part *p)
{
    moat_buf *b = ud;
    MOAT_BUG_ON(!p->name || (p->is_file && (!p->filename || !p->filename[0])));
    moat_buf_printf(b, "P%zu:%s|%s|%d|", strlen(p->name), p->name, p->filename ? p->filename : "-",
                    p->is_file);
    if (p->content_type) moat_buf_append(b, p->content_type, p->content_type_len);
    return 0;
}

static int on_data(void *ud, const char *d, size_t n)
{
    MOAT_BUG_ON(n == 0);
    moat_buf_putc(ud, 'D');
    moat_buf_append(ud, d, n);
    return 0;
}

static int on_part_end(void *ud)
{
    moat_buf_putc(ud, 'E');
    return 0;
}

static int on_end(void *ud)
{
    moat_buf_putc(ud, '$');
    return 0;
}

static const moat_multipart_cbs cbs = {on_part, on_data, on_part_end, on_end};

/* Content arrives cut differently in pieces: the 'D' markers differ, so
 * every 'D' goes (from both records alike). */
static void squash(moat_buf *b)
{
    size_t o = 0;
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] != 'D') b->data[o++] = b->data[i];
    b->len = o;
}

static int parse(const char *boundary, const uint8_t *body, size_t len, size_t piece, moat_buf *out)
{
    moat_multipart *m = moat_multipart_new(boundary, &cbs, out);
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i += piece)
        rc = moat_multipart_feed(m, (const char *)body + i, len - i < piece ? len - i : piece);
    if (rc == 0) rc = moat_multipart_finish(m);
    MOAT_BUG_ON(rc != 0 && rc != MOAT_EPARSE);
    moat_multipart_free(m);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char b[MOAT_MULTIPART_BOUNDARY_MAX + 1];
    int brc = moat_multipart_boundary((const char *)data, size, b);
    MOAT_BUG_ON(brc != 0 && brc != 1 && brc != MOAT_EPARSE);
    if (brc == 1) MOAT_BUG_ON(strlen(b) == 0 || strlen(b) > MOAT_MULTIPART_BOUNDARY_MAX);
    if (size < 1) return 0;
    const char *boundary = boundaries[data[0] % MOAT_ARRAY_LEN(boundaries)];
    size_t piece = (size_t)(data[0] >> 2) + 1;
    moat_buf whole, parts;
    moat_buf_init(&whole);
    moat_buf_init(&parts);
    int a = parse(boundary, data + 1, size - 1, size, &whole);
    int c = parse(boundary, data + 1, size - 1, piece, &parts);
    MOAT_BUG_ON(a != c);
    squash(&whole);
    squash(&parts);
    /* Events up to an error may differ in how content was cut; the outcome
     * and, on success, every event agree. */
    if (a == 0)
        MOAT_BUG_ON(whole.len != parts.len ||
                    (whole.len && memcmp(whole.data, parts.data, whole.len) != 0));
    moat_buf_free(&whole);
    moat_buf_free(&parts);
    return 0;
}
