/* secret.c - the random secrets of authentication: recovery codes, session
 * ids and bearer tokens, all from the OS CSPRNG, and the SHA-256 form in
 * which the store keeps them (the secret itself is shown once and never
 * stored). Looking a hash up is the store's job. Also the tag under which a
 * login naming no user is logged, keyed with a random key made once per
 * process. */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "internal.h"

void moat_secret_hash(const char *secret, size_t n, char out[MOAT_SECRET_HASH_LEN + 1])
{
    uint8_t d[32];
    unsigned dl = 0;
    MOAT_BUG_ON(EVP_Digest(secret, n, d, &dl, EVP_sha256(), NULL) != 1);
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = "0123456789abcdef"[d[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
    }
    out[64] = '\0';
}

void moat_recovery_code_new(char out[MOAT_RECOVERY_CODE_LEN + 1])
{
    /* 10 random bytes = 80 bits = 16 base32 characters, in groups of four;
     * the base32 alphabet has no 0/1/8/9, so O/I/B/g confusions cannot arise. */
    uint8_t r[10];
    moat_random(r, sizeof(r));
    moat_buf b;
    moat_buf_init(&b);
    moat_base32_encode(&b, r, sizeof(r));
    size_t k = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i > 0 && i % 4 == 0) out[k++] = '-';
        char c = b.data[i];
        out[k++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    out[k] = '\0';
    OPENSSL_cleanse(b.data, b.len);
    OPENSSL_cleanse(r, sizeof(r));
    moat_buf_free(&b);
}

int moat_recovery_code_hash(const char *code, size_t n, char out[MOAT_SECRET_HASH_LEN + 1])
{
    char norm[16];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = code[i];
        if (c == '-' || c == ' ') continue;
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) || k == sizeof(norm))
            return MOAT_EINVAL;
        norm[k++] = c;
    }
    if (k != sizeof(norm)) return MOAT_EINVAL;
    moat_secret_hash(norm, k, out);
    OPENSSL_cleanse(norm, sizeof(norm));
    return 0;
}

void moat_session_id_new(char out[MOAT_SESSION_ID_LEN + 1])
{
    uint8_t r[32];
    moat_random(r, sizeof(r));
    size_t n = moat__b64_encode(MOAT__B64_URL, r, sizeof(r), out);
    MOAT_BUG_ON(n != MOAT_SESSION_ID_LEN);
    OPENSSL_cleanse(r, sizeof(r));
}

void moat_token_new(char out[MOAT_TOKEN_LEN + 1])
{
    uint8_t r[32];
    moat_random(r, sizeof(r));
    memcpy(out, "moat_", 5);
    size_t n = moat__b64_encode(MOAT__B64_URL, r, sizeof(r), out + 5);
    MOAT_BUG_ON(n + 5 != MOAT_TOKEN_LEN);
    OPENSSL_cleanse(r, sizeof(r));
}

/* The key of moat_auth_name_tag: random, made once per process, never
 * stored or logged. */
static uint8_t tag_key[32];
static pthread_once_t tag_once = PTHREAD_ONCE_INIT;

static void tag_key_init(void)
{
    moat_random(tag_key, sizeof(tag_key));
}

void moat_auth_name_tag(const char *name, char out[MOAT_NAME_TAG_LEN + 1])
{
    pthread_once(&tag_once, tag_key_init);
    /* ASCII case folded, as the store compares names. */
    size_t n = strlen(name);
    char low[MOAT_USER_NAME_MAX + 1];
    uint8_t mac[32];
    unsigned ml = 0;
    const char *msg = name;
    if (n <= MOAT_USER_NAME_MAX) {
        for (size_t i = 0; i < n; i++)
            low[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
        msg = low;
    }
    MOAT_BUG_ON(
        !HMAC(EVP_sha256(), tag_key, (int)sizeof(tag_key), (const uint8_t *)msg, n, mac, &ml));
    explicit_bzero(low, sizeof(low));
    memcpy(out, "unknown:", 8);
    for (size_t i = 0; i < 6; i++) {
        out[8 + 2 * i] = "0123456789abcdef"[mac[i] >> 4];
        out[8 + 2 * i + 1] = "0123456789abcdef"[mac[i] & 15];
    }
    out[MOAT_NAME_TAG_LEN] = '\0';
}
