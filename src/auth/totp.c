/* totp.c - time-based one-time passwords (RFC 6238 over RFC 4226's HOTP):
 * code generation, verification over a window of steps with replay refusal
 * (a step at or before the last one used is refused), and the otpauth:// URI
 * authenticator apps scan. Remembering the last step is the store's job; the
 * clock is the caller's (unix time is passed in, so tests need no clock). */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "internal.h"

static const EVP_MD *totp_md(moat_totp_algo a)
{
    switch (a) {
    case MOAT_TOTP_SHA256:
        return EVP_sha256();
    case MOAT_TOTP_SHA512:
        return EVP_sha512();
    case MOAT_TOTP_SHA1:
        break;
    }
    return EVP_sha1();
}

static uint32_t hotp(const moat_totp_params *p, const uint8_t *key, size_t keylen, uint64_t step)
{
    uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(step & 0xff);
        step >>= 8;
    }
    MOAT_BUG_ON(!HMAC(totp_md(p->algo), key, (int)keylen, msg, sizeof(msg), mac, &maclen));
    unsigned off = mac[maclen - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
    OPENSSL_cleanse(mac, sizeof(mac));
    return bin;
}

void moat_totp_code(const moat_totp_params *p, const uint8_t *key, size_t keylen, uint64_t step,
                    char out[9])
{
    uint32_t digits = p->digits < 6 ? 6 : p->digits > 8 ? 8 : p->digits;
    uint32_t v = hotp(p, key, keylen, step);
    for (uint32_t i = digits; i > 0; i--) {
        out[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    out[digits] = '\0';
}

int moat_totp_verify(const moat_totp_params *p, const uint8_t *key, size_t keylen, const char *code,
                     size_t codelen, uint64_t unix_now, uint64_t last_step, uint64_t *matched)
{
    uint64_t period = p->period ? p->period : 30;
    uint64_t now = unix_now / period;
    uint64_t found = 0;
    bool ok = false;
    /* Every step of the window is computed and compared, so the time taken
     * does not tell which step (if any) matched. */
    for (uint64_t d = 0; d <= 2 * (uint64_t)p->window; d++) {
        if (now + d < p->window) continue;
        uint64_t step = now + d - p->window;
        char want[9];
        moat_totp_code(p, key, keylen, step, want);
        bool eq = moat_ct_equal(want, strlen(want), code, codelen);
        OPENSSL_cleanse(want, sizeof(want));
        if (eq && step > last_step && !ok) {
            ok = true;
            found = step;
        }
    }
    if (!ok) return MOAT_ENOENT;
    *matched = found;
    return 0;
}

static void put_escaped(moat_buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~')
            moat_buf_putc(out, (char)c);
        else
            moat_buf_printf(out, "%%%02X", c);
    }
}

void moat_totp_uri(moat_buf *out, const moat_totp_params *p, const char *issuer, const char *name,
                   const uint8_t *key, size_t keylen)
{
    static const char *const algos[] = {"SHA1", "SHA256", "SHA512"};
    moat_buf_puts(out, "otpauth://totp/");
    put_escaped(out, issuer);
    moat_buf_puts(out, ":");
    put_escaped(out, name);
    moat_buf_puts(out, "?secret=");
    moat_base32_encode(out, key, keylen);
    moat_buf_puts(out, "&issuer=");
    put_escaped(out, issuer);
    moat_buf_printf(out, "&algorithm=%s&digits=%u&period=%u", algos[p->algo], p->digits, p->period);
}
