/* encode.c - the text encodings of secrets: base32 (RFC 4648, for TOTP
 * secrets) and the base64 variants the password-hash formats use (standard,
 * URL-safe, passlib's "ab64"). Decoders refuse anything that is not exactly
 * their alphabet; what the bytes mean is the caller's business. */
#include <string.h>

#include "internal.h"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void moat_base32_encode(moat_buf *out, const void *data, size_t n)
{
    const uint8_t *d = data;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | d[i];
        bits += 8;
        while (bits >= 5) {
            moat_buf_putc(out, b32[(acc >> (bits - 5)) & 31]);
            bits -= 5;
        }
    }
    if (bits > 0) moat_buf_putc(out, b32[(acc << (5 - bits)) & 31]);
}

int moat_base32_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t len = 0;
    bool pad = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v;
        if (c == ' ' || c == '-') continue;
        if (c == '=') {
            pad = true;
            continue;
        }
        if (pad) return MOAT_EINVAL; /* data after padding */
        if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= '2' && c <= '7')
            v = c - '2' + 26;
        else
            return MOAT_EINVAL;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (len == cap) return MOAT_ETOOBIG;
            out[len++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    return (int)len;
}

static const char *alphabet(moat__b64_alphabet a)
{
    switch (a) {
    case MOAT__B64_URL:
        return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    case MOAT__B64_AB64:
        return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./";
    case MOAT__B64_STD:
        break;
    }
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

int moat__b64_decode(moat__b64_alphabet a, const char *s, size_t n, uint8_t *out, size_t cap)
{
    const char *al = alphabet(a);
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1) return MOAT_EINVAL;
    uint32_t acc = 0;
    int bits = 0;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = s[i] ? memchr(al, s[i], 64) : NULL;
        if (!p) return MOAT_EINVAL;
        acc = (acc << 6) | (uint32_t)(p - al);
        bits += 6;
        if (bits >= 8) {
            if (len == cap) return MOAT_ETOOBIG;
            out[len++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    return (int)len;
}

size_t moat__b64_encode(moat__b64_alphabet a, const uint8_t *d, size_t n, char *out)
{
    const char *al = alphabet(a);
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | d[i];
        bits += 8;
        while (bits >= 6) {
            out[k++] = al[(acc >> (bits - 6)) & 63];
            bits -= 6;
        }
    }
    if (bits > 0) out[k++] = al[(acc << (6 - bits)) & 63];
    out[k] = '\0';
    return k;
}
