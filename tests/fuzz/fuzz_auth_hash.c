/* fuzz_auth_hash.c - libFuzzer target for the auth module's parsers of
 * untrusted text: stored password hashes of every format (as `moat user
 * import` reads them; parameters are parsed and bounded, no hashing is run),
 * base32 TOTP secrets and recovery codes. Crashes, sanitizer reports and
 * timeouts are the findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = moat_xstrndup((const char *)data, size);
    const char *why = NULL;
    int rc = moat_password_check_stored(s, &why);
    MOAT_BUG_ON(rc != 0 && rc != MOAT_EINVAL);
    MOAT_BUG_ON(rc == MOAT_EINVAL && !why);
    if (rc == 0) MOAT_BUG_ON(moat_password_format(s) == MOAT_HASH_UNKNOWN);
    moat_argon2_params p = MOAT_ARGON2_DEFAULTS;
    (void)moat_password_needs_rehash(s, &p);
    uint8_t out[64];
    int n = moat_base32_decode((const char *)data, size, out, sizeof(out));
    MOAT_BUG_ON(n > (int)sizeof(out));
    char hash[MOAT_SECRET_HASH_LEN + 1];
    if (moat_recovery_code_hash((const char *)data, size, hash) == 0)
        MOAT_BUG_ON(strlen(hash) != MOAT_SECRET_HASH_LEN);
    free(s);
    return 0;
}
