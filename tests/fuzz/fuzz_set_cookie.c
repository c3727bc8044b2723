/* fuzz_set_cookie.c - libFuzzer target for the Set-Cookie validator the
 * headers stage runs on every cookie an application sets
 * (moat__cookie_harden, src/gateway/cookies.c). The first byte picks the
 * policy (HTTPS or not, cookies.secure, cookies.httponly, cookies.samesite);
 * the rest is the Set-Cookie value. Beyond crashes and sanitizer reports,
 * what it sends must be a fixed point: validated again under the same
 * policy it is kept as it is, so nothing moat sends is a cookie it would
 * itself mend or drop. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char *const samesite[] = {"Lax", "Strict", "None", "off"};
    static char *except_items[] = {"csrftoken"};
    static const moat_strlist except = {except_items, 1};
    uint8_t sel = data[0];
    moat__cookie_policy pol = {
        .https = sel & 1,
        .add_secure = (sel >> 1) & 1,
        .httponly = (sel >> 2) & 1,
        .httponly_except = (sel >> 3) & 1 ? &except : NULL,
        .samesite = samesite[(sel >> 4) & 3],
    };
    const char *v = (const char *)data + 1;
    size_t len = size - 1;

    moat_buf out, why;
    moat_buf_init(&out);
    moat_buf_init(&why);
    size_t nlen;
    int verdict = moat__cookie_harden(&pol, v, len, &out, &nlen, &why);
    MOAT_BUG_ON(verdict != MOAT__COOKIE_KEPT && verdict != MOAT__COOKIE_FIXED &&
                verdict != MOAT__COOKIE_DROPPED);
    MOAT_BUG_ON(nlen > len);
    MOAT_BUG_ON(verdict != MOAT__COOKIE_KEPT && why.len == 0);
    if (verdict != MOAT__COOKIE_DROPPED) {
        MOAT_BUG_ON(nlen == 0 || out.len < nlen || memcmp(out.data, v, nlen) != 0);
        for (size_t i = 0; i < out.len; i++) {
            unsigned char c = (unsigned char)out.data[i];
            MOAT_BUG_ON((c < 0x20 && c != '\t') || c == 0x7F);
        }
        /* what moat sends, checked again, needs nothing more */
        moat_buf again;
        moat_buf_init(&again);
        size_t n2;
        int v2 = moat__cookie_harden(&pol, out.data, out.len, &again, &n2, NULL);
        MOAT_BUG_ON(v2 != MOAT__COOKIE_KEPT);
        MOAT_BUG_ON(n2 != nlen || again.len != out.len ||
                    memcmp(again.data, out.data, out.len) != 0);
        moat_buf_free(&again);
    }
    moat_buf_free(&out);
    moat_buf_free(&why);
    return 0;
}
