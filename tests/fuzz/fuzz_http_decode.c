/* fuzz_http_decode.c - libFuzzer target for the content-coding decoder the
 * errors filter runs on response bodies (src/http/decode.c): the first byte
 * picks a Content-Encoding list and the output cap, the second the size of
 * the pieces the rest is fed in. The body is decoded whole and in pieces:
 * the cap must hold, and when both succeed they must agree. Crashes,
 * sanitizer reports, timeouts and memory blow-ups are the findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const lists[] = {
    "gzip",          "deflate",           "br",
    "x-gzip",        "gzip, br",          "br, gzip",
    "deflate, gzip", "gzip, gzip",        "identity, deflate",
    "br, br",        "gzip, deflate, br", "deflate,deflate,deflate,deflate",
};

static int decode(const char *codings, size_t cap, const uint8_t *body, size_t len, size_t piece,
                  moat_buf *out)
{
    moat_http_decoder *d = NULL;
    const char *why;
    MOAT_BUG_ON(moat_http_decoder_new(codings, strlen(codings), cap, &d, &why) != 0 || !d);
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i += piece) {
        size_t n = len - i < piece ? len - i : piece;
        rc = moat_http_decoder_feed(d, (const char *)body + i, n, out);
    }
    if (rc == 0) rc = moat_http_decoder_finish(d, out);
    moat_http_decoder_free(d);
    MOAT_BUG_ON(rc != 0 && rc != MOAT_ETOOBIG && rc != MOAT_EPARSE);
    MOAT_BUG_ON(out->len > cap);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    const char *codings = lists[data[0] % MOAT_ARRAY_LEN(lists)];
    static const size_t caps[] = {2048, 65536, 1, 300};
    size_t cap = caps[(data[0] >> 4) % MOAT_ARRAY_LEN(caps)];
    size_t piece = (size_t)data[1] % 64 + 1;
    moat_buf whole, parts;
    moat_buf_init(&whole);
    moat_buf_init(&parts);
    int a = decode(codings, cap, data + 2, size - 2, size, &whole);
    int b = decode(codings, cap, data + 2, size - 2, piece, &parts);
    if (a == 0 && b == 0)
        MOAT_BUG_ON(whole.len != parts.len ||
                    (whole.len && memcmp(whole.data, parts.data, whole.len) != 0));
    moat_buf_free(&whole);
    moat_buf_free(&parts);
    return 0;
}
