/* internal.h - private to the auth module: the base64 variants the hash
 * formats use, and the embedded common-passwords list. */
#ifndef MOAT_AUTH_INTERNAL_H
#define MOAT_AUTH_INTERNAL_H

#include "auth.h"

typedef enum {
    MOAT__B64_STD, /* RFC 4648 section 4: '+' '/' */
    MOAT__B64_URL, /* RFC 4648 section 5: '-' '_' */
    MOAT__B64_AB64 /* passlib's adapted base64: '.' for '+' */
} moat__b64_alphabet;

/* Decodes s[0..n) ('=' padding optional) into out[0..cap). Returns the number
 * of bytes or MOAT_EINVAL / MOAT_ETOOBIG. */
int moat__b64_decode(moat__b64_alphabet a, const char *s, size_t n, uint8_t *out, size_t cap);
/* Writes data[0..n) without padding + NUL into out (4 * ceil(n/3) + 1 bytes
 * suffice). Returns the length written. */
size_t moat__b64_encode(moat__b64_alphabet a, const uint8_t *data, size_t n, char *out);

/* The common-passwords list (generated from common-passwords.txt at build
 * time): lower-case entries, each followed by '\n'. */
extern const char moat__common_passwords[];

#endif
