/* fuzz_http_path.c - libFuzzer target for the request path normaliser
 * (moat_http_normalize_path, src/http/path.c) that every rule, exclusion
 * and forwarded target is matched against. Any bytes as a target must be
 * refused with a reason or come out as a clean path: rooted, no empty, '.'
 * or '..' segment, no '\\', no control byte; and the target moat forwards
 * must be a fixed point: normalised again it gives the same two strings, so
 * the app cannot read a path other than the one the rules saw. A target
 * that is not origin-form ("*", "", an absolute URI the parser refuses
 * before this runs) passes through unchanged, and must. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clean(const char *d)
{
    if (strcmp(d, "*") == 0) return;
    MOAT_BUG_ON(d[0] != '/');
    for (const char *p = d; *p; p++) {
        unsigned char c = (unsigned char)*p;
        MOAT_BUG_ON(c < 0x20 || c == 0x7F || c == '\\');
        if (*p != '/') continue;
        MOAT_BUG_ON(p[1] == '/');
        if (p[1] == '.' && (p[2] == '/' || p[2] == '\0')) MOAT_BUG_ON(1);
        if (p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0')) MOAT_BUG_ON(1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    moat_arena *a = moat_arena_new();
    char *dec = NULL, *enc = NULL;
    const char *why = NULL;
    int rc = moat_http_normalize_path((const char *)data, size, a, &dec, &enc, &why);
    const uint8_t *qm = memchr(data, '?', size);
    if (size == 0 || data[0] != '/' || qm == data) {
        size_t plen = qm ? (size_t)(qm - data) : size;
        MOAT_BUG_ON(rc != 0 || memcmp(dec, data, plen) != 0 || memcmp(enc, data, size) != 0);
    } else if (rc != 0) {
        MOAT_BUG_ON(rc != MOAT_EINVAL || !why || !*why);
    } else {
        MOAT_BUG_ON(!dec || !enc);
        check_clean(dec);
        /* the query is kept as is, bytes and all: the fixed point is about
         * text targets */
        if (memchr(data, '\0', size)) {
            moat_arena_free(a);
            return 0;
        }
        char *dec2 = NULL, *enc2 = NULL;
        const char *why2 = NULL;
        int rc2 = moat_http_normalize_path(enc, strlen(enc), a, &dec2, &enc2, &why2);
        MOAT_BUG_ON(rc2 != 0);
        MOAT_BUG_ON(strcmp(dec, dec2) != 0 || strcmp(enc, enc2) != 0);
    }
    moat_arena_free(a);
    return 0;
}
