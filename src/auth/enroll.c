/* enroll.c - setting up a TOTP second factor, one path for the portal's
 * enrollment page and `moat user mfa enroll`: a fresh secret, its base32
 * text and otpauth:// URI, the QR code of the URI (SVG for a page, Unicode
 * half blocks for a terminal), the first code's check, and recovery codes
 * (made, stored hashed, shown once). What is shown and when the secret is
 * stored is the caller's: the portal stores it only once a code matched. */
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

static void enrollment_texts(moat_enrollment *e, const moat_auth_settings *st, const char *name)
{
    moat_buf b;
    moat_buf_init(&b);
    moat_totp_uri(&b, &st->totp, st->issuer, name, e->key, sizeof(e->key));
    e->uri = moat_buf_steal(&b);
}

void moat_enrollment_new(moat_enrollment *e, const moat_auth_settings *st, const char *name)
{
    memset(e, 0, sizeof(*e));
    moat_random(e->key, sizeof(e->key));
    moat_buf b;
    moat_buf_init(&b);
    moat_base32_encode(&b, e->key, sizeof(e->key));
    e->secret_b32 = moat_buf_steal(&b);
    enrollment_texts(e, st, name);
}

int moat_enrollment_from_b32(moat_enrollment *e, const moat_auth_settings *st, const char *name,
                             const char *b32)
{
    memset(e, 0, sizeof(*e));
    uint8_t key[64];
    int n = b32 ? moat_base32_decode(b32, strlen(b32), key, sizeof(key)) : MOAT_EINVAL;
    if (n != MOAT_TOTP_SECRET_LEN) {
        explicit_bzero(key, sizeof(key));
        return MOAT_EINVAL;
    }
    memcpy(e->key, key, sizeof(e->key));
    explicit_bzero(key, sizeof(key));
    e->secret_b32 = moat_xstrdup(b32); /* shown again as the user has it */
    enrollment_texts(e, st, name);
    return 0;
}

static void wipe_free(char *s)
{
    if (!s) return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void moat_enrollment_clear(moat_enrollment *e)
{
    wipe_free(e->secret_b32);
    wipe_free(e->uri);
    explicit_bzero(e, sizeof(*e));
}

char *moat_enrollment_qr_svg(const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr) return NULL;
    int w = qr->width, q = 4, size = w + 2 * q;
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_printf(&b,
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                    "height=\"%d\" role=\"img\" aria-label=\"QR code of the authenticator "
                    "secret\" shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
                    "fill=\"#fff\"/><path fill=\"#000\" d=\"",
                    size, size, size * 6, size * 6, size, size);
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w; x++)
            if (qr->data[y * w + x] & 1) moat_buf_printf(&b, "M%d %dh1v1h-1z", x + q, y + q);
    moat_buf_puts(&b, "\"/></svg>");
    QRcode_free(qr);
    return moat_buf_steal(&b);
}

/* Light modules are blocks: right on dark and light terminals alike as long
 * as the quiet zone shows. */
int moat_enrollment_qr_text(moat_buf *out, const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr) return MOAT_EINVAL;
    const int quiet = 2, w = qr->width, size = w + 2 * quiet;
    for (int y = 0; y < size; y += 2) {
        for (int x = 0; x < size; x++) {
            bool top = false, bottom = false; /* dark? */
            int mx = x - quiet, my = y - quiet;
            if (mx >= 0 && mx < w && my >= 0 && my < w) top = qr->data[my * w + mx] & 1;
            if (mx >= 0 && mx < w && my + 1 >= 0 && my + 1 < w)
                bottom = qr->data[(my + 1) * w + mx] & 1;
            moat_buf_puts(out, !top && !bottom ? "\xe2\x96\x88" /* full block */
                               : !top          ? "\xe2\x96\x80" /* upper half */
                               : !bottom       ? "\xe2\x96\x84" /* lower half */
                                               : " ");
        }
        moat_buf_putc(out, '\n');
    }
    QRcode_free(qr);
    return 0;
}

int moat_recovery_codes_replace(moat_store *s, int64_t uid,
                                char codes[MOAT_RECOVERY_CODES][MOAT_RECOVERY_CODE_LEN + 1])
{
    char hashes[MOAT_RECOVERY_CODES][MOAT_SECRET_HASH_LEN + 1];
    const char *hp[MOAT_RECOVERY_CODES];
    for (size_t i = 0; i < MOAT_RECOVERY_CODES; i++) {
        moat_recovery_code_new(codes[i]);
        MOAT_BUG_ON(moat_recovery_code_hash(codes[i], strlen(codes[i]), hashes[i]) < 0);
        hp[i] = hashes[i];
    }
    return moat_store_recovery_set(s, uid, hp, MOAT_RECOVERY_CODES);
}

int moat_enrollment_finish(moat_store *s, const moat_auth_settings *st, const moat_enrollment *e,
                           int64_t uid, const char *code, int64_t now, bool *ok,
                           char codes[MOAT_RECOVERY_CODES][MOAT_RECOVERY_CODE_LEN + 1])
{
    *ok = false;
    uint64_t step = 0;
    if (!code || moat_totp_verify(&st->totp, e->key, sizeof(e->key), code, strlen(code),
                                  (uint64_t)now, 0, &step) < 0)
        return 0;
    int rc = moat_store_totp_set(s, uid, e->key, sizeof(e->key));
    if (rc == 0) rc = moat_store_totp_use(s, uid, step);
    if (rc == 0) rc = moat_recovery_codes_replace(s, uid, codes);
    if (rc < 0) return rc;
    *ok = true;
    return 0;
}
