/* policy.c - which new passwords moat accepts, per NIST SP 800-63B section
 * 5.1.1.2: a minimum length in code points (8 by default), long passphrases
 * welcome (MOAT_PASSWORD_MAX bytes), no composition rules, and refusal of
 * passwords found on a list of common ones (common-passwords.txt, embedded at
 * build time), of the user's own name and of one character repeated. It
 * never echoes the password in a reason. */
#include <string.h>

#include "internal.h"

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool moat_password_is_common(const char *pw, size_t n)
{
    const char *p = moat__common_passwords;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == n) {
            size_t i = 0;
            while (i < n && lower(pw[i]) == p[i])
                i++;
            if (i == n) return true;
        }
        if (!nl) break;
        p = nl + 1;
    }
    return false;
}

int moat_password_policy_check(const moat_password_policy *pol, const char *username,
                               const char *pw, size_t n, const char **why)
{
    if (n > MOAT_PASSWORD_MAX) {
        *why = "password too long (at most 1024 bytes)";
        return MOAT_EINVAL;
    }
    size_t cps = 0;
    for (size_t i = 0; i < n;) {
        size_t l = moat_utf8_len((const unsigned char *)pw + i, n - i);
        if (l == 0 || (l == 1 && (unsigned char)pw[i] < 0x20) || pw[i] == 0x7f) {
            *why = "password must be valid UTF-8 without control characters";
            return MOAT_EINVAL;
        }
        i += l;
        cps++;
    }
    if (cps < pol->min_length) {
        *why = "password too short";
        return MOAT_EINVAL;
    }
    if (moat_password_is_common(pw, n)) {
        *why = "password is on the list of commonly used passwords";
        return MOAT_EINVAL;
    }
    if (username && strlen(username) == n && moat_streq_nocase(pw, n, username, n)) {
        *why = "password must not be the user name";
        return MOAT_EINVAL;
    }
    bool same = n > 0;
    for (size_t i = 1; i < n && same; i++)
        same = pw[i] == pw[0];
    if (same) {
        *why = "password must not be one character repeated";
        return MOAT_EINVAL;
    }
    return 0;
}
