/* password.c - password hashes: moat's own Argon2id (libargon2, PHC string)
 * and verification of the formats Django, Werkzeug and passlib write, so that
 * an existing user table can be imported: PBKDF2 and scrypt through OpenSSL,
 * bcrypt through libcrypt's crypt_rn, Argon2 through libargon2. Parameters of
 * imported hashes are bounded before any work is done. Every comparison of a
 * derived key is constant-time. Policy (what a new password may be) is in
 * policy.c; deciding when to rehash is the caller's, with needs_rehash. */
#include <argon2.h>
#include <crypt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "internal.h"

/* Bounds on the parameters of hashes moat verifies: generous enough for
 * every framework's defaults, tight enough that one verification stays
 * under a second and a few hundred MiB. */
#define ARGON2_VERIFY_MAX_M (256u * 1024u) /* KiB */
#define ARGON2_VERIFY_MAX_T 16u
#define ARGON2_VERIFY_MAX_P 64u
#define PBKDF2_MAX_ITER 5000000u
#define SCRYPT_MAX_N (1u << 20)
#define SCRYPT_MAX_R 32u
#define SCRYPT_MAX_P 16u
#define STORED_MAX 512
#define SALT_LEN 16
#define HASH_LEN 32

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

moat_hash_format moat_password_format(const char *s)
{
    if (!s) return MOAT_HASH_UNKNOWN;
    if (has_prefix(s, "$argon2id$") || has_prefix(s, "$argon2i$") || has_prefix(s, "$argon2d$"))
        return MOAT_HASH_ARGON2;
    if (has_prefix(s, "argon2$argon2")) return MOAT_HASH_DJANGO_ARGON2;
    if (has_prefix(s, "pbkdf2_sha256$") || has_prefix(s, "pbkdf2_sha1$"))
        return MOAT_HASH_DJANGO_PBKDF2;
    if (has_prefix(s, "bcrypt_sha256$$2")) return MOAT_HASH_DJANGO_BCRYPT_SHA256;
    if (has_prefix(s, "bcrypt$$2")) return MOAT_HASH_DJANGO_BCRYPT;
    if (has_prefix(s, "pbkdf2:")) return MOAT_HASH_WERKZEUG_PBKDF2;
    if (has_prefix(s, "scrypt:")) return MOAT_HASH_WERKZEUG_SCRYPT;
    if (has_prefix(s, "$pbkdf2-sha256$") || has_prefix(s, "$pbkdf2-sha512$") ||
        has_prefix(s, "$pbkdf2$"))
        return MOAT_HASH_PASSLIB_PBKDF2;
    if (has_prefix(s, "$2b$") || has_prefix(s, "$2a$") || has_prefix(s, "$2y$"))
        return MOAT_HASH_BCRYPT;
    return MOAT_HASH_UNKNOWN;
}

const char *moat_password_format_name(moat_hash_format f)
{
    switch (f) {
    case MOAT_HASH_ARGON2:
        return "argon2";
    case MOAT_HASH_DJANGO_ARGON2:
        return "django-argon2";
    case MOAT_HASH_DJANGO_PBKDF2:
        return "django-pbkdf2";
    case MOAT_HASH_DJANGO_BCRYPT:
        return "django-bcrypt";
    case MOAT_HASH_DJANGO_BCRYPT_SHA256:
        return "django-bcrypt-sha256";
    case MOAT_HASH_WERKZEUG_PBKDF2:
        return "werkzeug-pbkdf2";
    case MOAT_HASH_WERKZEUG_SCRYPT:
        return "werkzeug-scrypt";
    case MOAT_HASH_PASSLIB_PBKDF2:
        return "passlib-pbkdf2";
    case MOAT_HASH_BCRYPT:
        return "bcrypt";
    case MOAT_HASH_UNKNOWN:
        break;
    }
    return "unknown";
}

/* ---- small parsers --------------------------------------------------------- */

/* Parses a decimal number in s[0..n) that fits in max. */
static bool parse_num(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 19) return false;
    if (n > 1 && s[0] == '0') return false;
    uint64_t v = 0;
    if (moat_parse_u64(s, n, &v) < 0 || v > max) return false;
    *out = v;
    return true;
}

/* Splits s at '$' into at most max fields; returns the count. Fields point
 * into s and are not NUL-terminated. */
typedef struct field {
    const char *p;
    size_t n;
} field;

static size_t split(const char *s, char sep, field *f, size_t max)
{
    size_t k = 0;
    const char *start = s;
    for (const char *c = s;; c++) {
        if (*c == sep || *c == '\0') {
            if (k == max) return max + 1;
            f[k].p = start;
            f[k].n = (size_t)(c - start);
            k++;
            if (*c == '\0') break;
            start = c + 1;
        }
    }
    return k;
}

static int pbkdf2(const EVP_MD *md, const char *pw, size_t n, const void *salt, size_t saltlen,
                  uint64_t iter, uint8_t *out, size_t outlen)
{
    if (PKCS5_PBKDF2_HMAC(pw, (int)n, salt, (int)saltlen, (int)iter, md, (int)outlen, out) != 1)
        return MOAT_EINTERNAL;
    return 0;
}

static int hex_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    if (n % 2 || n / 2 > cap) return MOAT_EINVAL;
    for (size_t i = 0; i < n; i += 2) {
        int v = 0;
        for (size_t j = 0; j < 2; j++) {
            char c = s[i + j];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0) return MOAT_EINVAL;
            v = v * 16 + d;
        }
        out[i / 2] = (uint8_t)v;
    }
    return (int)(n / 2);
}

/* ---- Argon2 ---------------------------------------------------------------- */

typedef struct argon2_info {
    argon2_type type;
    uint32_t version, m, t, p;
} argon2_info;

/* Parses "$argon2X$[v=N$]m=M,t=T,p=P$SALT$HASH" and checks its bounds. */
static int argon2_parse(const char *s, argon2_info *info, const char **why)
{
    field f[8];
    size_t k = split(s, '$', f, 7);
    *why = "malformed Argon2 hash";
    if (k < 5 || k > 6 || f[0].n != 0) return MOAT_EINVAL;
    if (f[1].n == 8 && memcmp(f[1].p, "argon2id", 8) == 0)
        info->type = Argon2_id;
    else if (f[1].n == 7 && memcmp(f[1].p, "argon2i", 7) == 0)
        info->type = Argon2_i;
    else if (f[1].n == 7 && memcmp(f[1].p, "argon2d", 7) == 0)
        info->type = Argon2_d;
    else
        return MOAT_EINVAL;
    size_t i = 2;
    info->version = ARGON2_VERSION_10;
    if (k == 6) {
        uint64_t v;
        if (f[2].n < 3 || memcmp(f[2].p, "v=", 2) != 0 ||
            !parse_num(f[2].p + 2, f[2].n - 2, 255, &v))
            return MOAT_EINVAL;
        if (v != ARGON2_VERSION_10 && v != ARGON2_VERSION_13) return MOAT_EINVAL;
        info->version = (uint32_t)v;
        i = 3;
    }
    field kv[4];
    char params[64];
    if (f[i].n >= sizeof(params)) return MOAT_EINVAL;
    memcpy(params, f[i].p, f[i].n);
    params[f[i].n] = '\0';
    if (split(params, ',', kv, 3) != 3) return MOAT_EINVAL;
    uint64_t m, t, p;
    if (kv[0].n < 3 || memcmp(kv[0].p, "m=", 2) ||
        !parse_num(kv[0].p + 2, kv[0].n - 2, UINT32_MAX, &m))
        return MOAT_EINVAL;
    if (kv[1].n < 3 || memcmp(kv[1].p, "t=", 2) ||
        !parse_num(kv[1].p + 2, kv[1].n - 2, UINT32_MAX, &t))
        return MOAT_EINVAL;
    if (kv[2].n < 3 || memcmp(kv[2].p, "p=", 2) ||
        !parse_num(kv[2].p + 2, kv[2].n - 2, UINT32_MAX, &p))
        return MOAT_EINVAL;
    *why = "Argon2 parameters beyond what moat verifies (m <= 256 MiB, t <= 16, p <= 64)";
    if (m > ARGON2_VERIFY_MAX_M || t > ARGON2_VERIFY_MAX_T || p > ARGON2_VERIFY_MAX_P || t < 1 ||
        p < 1 || m < 8 * p)
        return MOAT_EINVAL;
    *why = "malformed Argon2 hash";
    if (f[i + 1].n < 11 || f[i + 2].n < 16) return MOAT_EINVAL;
    info->m = (uint32_t)m;
    info->t = (uint32_t)t;
    info->p = (uint32_t)p;
    return 0;
}

static int argon2_check_params(const moat_argon2_params *a)
{
    if (a->t < 1 || a->t > 100 || a->p < 1 || a->p > 64 || a->m_kib < 8 * a->p ||
        a->m_kib > 4u * 1024u * 1024u)
        return MOAT_EINVAL;
    return 0;
}

int moat_password_hash(const moat_argon2_params *params, const char *pw, size_t n, char **out)
{
    *out = NULL;
    if (argon2_check_params(params) < 0 || n > MOAT_PASSWORD_MAX) return MOAT_EINVAL;
    uint8_t salt[SALT_LEN];
    moat_random(salt, sizeof(salt));
    size_t len =
        argon2_encodedlen(params->t, params->m_kib, params->p, SALT_LEN, HASH_LEN, Argon2_id);
    char *enc = moat_xmalloc(len);
    int rc = argon2id_hash_encoded(params->t, params->m_kib, params->p, pw, n, salt, SALT_LEN,
                                   HASH_LEN, enc, len);
    if (rc != ARGON2_OK) {
        free(enc);
        return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? MOAT_ENOMEM : MOAT_EINTERNAL;
    }
    *out = enc;
    return 0;
}

void moat_password_dummy_verify(const moat_argon2_params *params, const char *pw, size_t n)
{
    static const uint8_t salt[SALT_LEN] = "moat-dummy-salt";
    uint8_t out[HASH_LEN];
    if (argon2_check_params(params) < 0) return;
    if (n > MOAT_PASSWORD_MAX) n = MOAT_PASSWORD_MAX;
    (void)argon2id_hash_raw(params->t, params->m_kib, params->p, pw, n, salt, SALT_LEN, out,
                            sizeof(out));
    OPENSSL_cleanse(out, sizeof(out));
}

static int verify_argon2(const char *phc, const char *pw, size_t n)
{
    argon2_info info;
    const char *why;
    if (argon2_parse(phc, &info, &why) < 0) return MOAT_EINVAL;
    int rc = argon2_verify(phc, pw, n, info.type);
    if (rc == ARGON2_OK) return 0;
    if (rc == ARGON2_VERIFY_MISMATCH) return MOAT_ENOENT;
    return MOAT_EINVAL;
}

/* ---- PBKDF2 ---------------------------------------------------------------- */

static const EVP_MD *md_by_name(const char *s, size_t n)
{
    if (n == 6 && memcmp(s, "sha256", 6) == 0) return EVP_sha256();
    if (n == 6 && memcmp(s, "sha512", 6) == 0) return EVP_sha512();
    if (n == 4 && memcmp(s, "sha1", 4) == 0) return EVP_sha1();
    return NULL;
}

/* Django: pbkdf2_sha256$ITER$SALT$BASE64 (salt used as its UTF-8 text). */
static int verify_django_pbkdf2(const char *s, const char *pw, size_t n, bool dry)
{
    field f[5];
    if (split(s, '$', f, 4) != 4) return MOAT_EINVAL;
    const EVP_MD *md = md_by_name(f[0].p + 7, f[0].n - 7);
    uint64_t iter;
    if (!md || !parse_num(f[1].p, f[1].n, PBKDF2_MAX_ITER, &iter) || iter < 1 || f[2].n == 0)
        return MOAT_EINVAL;
    uint8_t want[64], got[64];
    int len = moat__b64_decode(MOAT__B64_STD, f[3].p, f[3].n, want, sizeof(want));
    if (len != EVP_MD_get_size(md)) return MOAT_EINVAL;
    if (dry) return 0;
    int rc = pbkdf2(md, pw, n, f[2].p, f[2].n, iter, got, (size_t)len);
    if (rc < 0) return rc;
    return moat_ct_equal(want, (size_t)len, got, (size_t)len) ? 0 : MOAT_ENOENT;
}

/* Werkzeug: pbkdf2:sha256:ITER$SALT$HEX (salt used as its text). */
static int verify_werkzeug_pbkdf2(const char *s, const char *pw, size_t n, bool dry)
{
    field f[4], m[4];
    if (split(s, '$', f, 3) != 3 || f[0].n >= 64) return MOAT_EINVAL;
    char method[64];
    memcpy(method, f[0].p, f[0].n);
    method[f[0].n] = '\0';
    if (split(method, ':', m, 3) != 3) return MOAT_EINVAL;
    const EVP_MD *md = md_by_name(m[1].p, m[1].n);
    uint64_t iter;
    if (!md || !parse_num(m[2].p, m[2].n, PBKDF2_MAX_ITER, &iter) || iter < 1 || f[1].n == 0)
        return MOAT_EINVAL;
    uint8_t want[64], got[64];
    int len = hex_decode(f[2].p, f[2].n, want, sizeof(want));
    if (len != EVP_MD_get_size(md)) return MOAT_EINVAL;
    if (dry) return 0;
    int rc = pbkdf2(md, pw, n, f[1].p, f[1].n, iter, got, (size_t)len);
    if (rc < 0) return rc;
    return moat_ct_equal(want, (size_t)len, got, (size_t)len) ? 0 : MOAT_ENOENT;
}

/* passlib: $pbkdf2-sha256$ITER$AB64SALT$AB64HASH ($pbkdf2$ is SHA-1). */
static int verify_passlib_pbkdf2(const char *s, const char *pw, size_t n, bool dry)
{
    field f[6];
    if (split(s, '$', f, 5) != 5 || f[0].n != 0) return MOAT_EINVAL;
    const EVP_MD *md = f[1].n == 6 ? EVP_sha1() : md_by_name(f[1].p + 7, f[1].n - 7);
    uint64_t iter;
    if (!md || !parse_num(f[2].p, f[2].n, PBKDF2_MAX_ITER, &iter) || iter < 1) return MOAT_EINVAL;
    uint8_t salt[128], want[64], got[64];
    int saltlen = moat__b64_decode(MOAT__B64_AB64, f[3].p, f[3].n, salt, sizeof(salt));
    int len = moat__b64_decode(MOAT__B64_AB64, f[4].p, f[4].n, want, sizeof(want));
    if (saltlen < 0 || len != EVP_MD_get_size(md)) return MOAT_EINVAL;
    if (dry) return 0;
    int rc = pbkdf2(md, pw, n, salt, (size_t)saltlen, iter, got, (size_t)len);
    if (rc < 0) return rc;
    return moat_ct_equal(want, (size_t)len, got, (size_t)len) ? 0 : MOAT_ENOENT;
}

/* ---- scrypt (Werkzeug >= 2.3): scrypt:N:r:p$SALT$HEX ----------------------- */

static int verify_werkzeug_scrypt(const char *s, const char *pw, size_t n, bool dry)
{
    field f[4], m[5];
    if (split(s, '$', f, 3) != 3 || f[0].n >= 64) return MOAT_EINVAL;
    char method[64];
    memcpy(method, f[0].p, f[0].n);
    method[f[0].n] = '\0';
    if (split(method, ':', m, 4) != 4) return MOAT_EINVAL;
    uint64_t N, r, p;
    if (!parse_num(m[1].p, m[1].n, SCRYPT_MAX_N, &N) ||
        !parse_num(m[2].p, m[2].n, SCRYPT_MAX_R, &r) ||
        !parse_num(m[3].p, m[3].n, SCRYPT_MAX_P, &p) || N < 2 || (N & (N - 1)) || r < 1 || p < 1 ||
        f[1].n == 0)
        return MOAT_EINVAL;
    uint8_t want[128], got[128];
    int len = hex_decode(f[2].p, f[2].n, want, sizeof(want));
    if (len < 16) return MOAT_EINVAL;
    if (dry) return 0;
    uint64_t maxmem = 128 * N * r * (p + 2) + (1u << 20);
    if (EVP_PBE_scrypt(pw, n, (const unsigned char *)f[1].p, f[1].n, N, r, p, maxmem, got,
                       (size_t)len) != 1)
        return MOAT_EINTERNAL;
    return moat_ct_equal(want, (size_t)len, got, (size_t)len) ? 0 : MOAT_ENOENT;
}

/* ---- bcrypt (libcrypt) ------------------------------------------------------ */

static bool bcrypt_wellformed(const char *s)
{
    /* $2b$NN$ + 53 characters of bcrypt's base64 */
    if (strlen(s) != 60 || s[3] != '$' || s[6] != '$') return false;
    if (s[4] < '0' || s[4] > '3' || s[5] < '0' || s[5] > '9') return false;
    int cost = (s[4] - '0') * 10 + (s[5] - '0');
    if (cost < 4 || cost > 16) return false;
    for (size_t i = 7; i < 60; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '/'))
            return false;
    }
    return true;
}

static int verify_bcrypt(const char *setting, const char *pw, size_t n, bool dry)
{
    if (!bcrypt_wellformed(setting)) return MOAT_EINVAL;
    if (dry) return 0;
    if (memchr(pw, '\0', n)) return MOAT_ENOENT; /* crypt reads a C string */
    char *phrase = moat_xstrndup(pw, n);
    struct crypt_data *data = moat_xcalloc(1, sizeof(*data));
    const char *h = crypt_rn(phrase, setting, data, (int)sizeof(*data));
    int rc = MOAT_EINTERNAL;
    if (h && h[0] == '$')
        rc = moat_ct_equal(h, strlen(h), setting, strlen(setting)) ? 0 : MOAT_ENOENT;
    OPENSSL_cleanse(phrase, n);
    OPENSSL_cleanse(data, sizeof(*data));
    free(phrase);
    free(data);
    return rc;
}

/* Django's bcrypt_sha256: bcrypt over the hex SHA-256 of the password. */
static int verify_django_bcrypt_sha256(const char *setting, const char *pw, size_t n, bool dry)
{
    if (dry) return verify_bcrypt(setting, "", 0, true);
    uint8_t d[32];
    char hex[65];
    unsigned dl = 0;
    if (EVP_Digest(pw, n, d, &dl, EVP_sha256(), NULL) != 1) return MOAT_EINTERNAL;
    for (size_t i = 0; i < 32; i++) {
        hex[2 * i] = "0123456789abcdef"[d[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
    }
    hex[64] = '\0';
    int rc = verify_bcrypt(setting, hex, 64, false);
    OPENSSL_cleanse(hex, sizeof(hex));
    OPENSSL_cleanse(d, sizeof(d));
    return rc;
}

/* ---- dispatch --------------------------------------------------------------- */

static int verify_any(const char *stored, const char *pw, size_t n, bool dry)
{
    if (!stored || strlen(stored) > STORED_MAX) return MOAT_EINVAL;
    switch (moat_password_format(stored)) {
    case MOAT_HASH_ARGON2:
        if (dry) {
            argon2_info info;
            const char *why;
            return argon2_parse(stored, &info, &why);
        }
        return verify_argon2(stored, pw, n);
    case MOAT_HASH_DJANGO_ARGON2:
        if (dry) {
            argon2_info info;
            const char *why;
            return argon2_parse(stored + 6, &info, &why);
        }
        return verify_argon2(stored + 6, pw, n);
    case MOAT_HASH_DJANGO_PBKDF2:
        return verify_django_pbkdf2(stored, pw, n, dry);
    case MOAT_HASH_DJANGO_BCRYPT:
        return verify_bcrypt(stored + 7, pw, n, dry);
    case MOAT_HASH_DJANGO_BCRYPT_SHA256:
        return verify_django_bcrypt_sha256(stored + 14, pw, n, dry);
    case MOAT_HASH_WERKZEUG_PBKDF2:
        return verify_werkzeug_pbkdf2(stored, pw, n, dry);
    case MOAT_HASH_WERKZEUG_SCRYPT:
        return verify_werkzeug_scrypt(stored, pw, n, dry);
    case MOAT_HASH_PASSLIB_PBKDF2:
        return verify_passlib_pbkdf2(stored, pw, n, dry);
    case MOAT_HASH_BCRYPT:
        return verify_bcrypt(stored, pw, n, dry);
    case MOAT_HASH_UNKNOWN:
        break;
    }
    return MOAT_EINVAL;
}

int moat_password_check_stored(const char *stored, const char **why)
{
    *why = "not a password hash moat knows (Argon2, Django, Werkzeug, passlib or bcrypt)";
    moat_hash_format f = moat_password_format(stored);
    if (f == MOAT_HASH_UNKNOWN) return MOAT_EINVAL;
    if (strlen(stored) > STORED_MAX) {
        *why = "password hash too long";
        return MOAT_EINVAL;
    }
    if (f == MOAT_HASH_ARGON2 || f == MOAT_HASH_DJANGO_ARGON2) {
        argon2_info info;
        return argon2_parse(f == MOAT_HASH_ARGON2 ? stored : stored + 6, &info, why);
    }
    if (verify_any(stored, NULL, 0, true) < 0) {
        *why = "malformed password hash, or its parameters are beyond what moat verifies";
        return MOAT_EINVAL;
    }
    return 0;
}

int moat_password_verify(const char *stored, const char *pw, size_t n)
{
    if (n > MOAT_PASSWORD_MAX) return MOAT_ENOENT;
    if (verify_any(stored, NULL, 0, true) < 0) return MOAT_EINVAL;
    return verify_any(stored, pw ? pw : "", pw ? n : 0, false);
}

bool moat_password_needs_rehash(const char *stored, const moat_argon2_params *params)
{
    if (moat_password_format(stored) != MOAT_HASH_ARGON2) return true;
    argon2_info info;
    const char *why;
    if (argon2_parse(stored, &info, &why) < 0) return true;
    return info.type != Argon2_id || info.version != ARGON2_VERSION_13 || info.m != params->m_kib ||
           info.t != params->t || info.p != params->p;
}
