/* redact.c - keeps secrets out of the security log: names that mean a secret
 * (password, token, cookie, session, code, ...) and values that look like one
 * (Bearer/Basic credentials, JWTs, long random tokens, card numbers), in
 * field values, free text and request paths with their queries. It errs on
 * the side of masking: a false "[redacted]" costs a little clarity, a missed
 * one leaks a credential into every log sink and backup. */
#include <string.h>

#include "internal.h"

#define REDACTED "[redacted]"

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_ident(unsigned char c)
{
    return is_alnum(c) || c == '_' || c == '-' || c == '.' || c == '%';
}

/* Characters of tokens, session ids and base64(url) credentials. '/' and
 * '.' are left out so that paths and file names are not one long "token". */
static bool is_token(unsigned char c)
{
    return is_alnum(c) || c == '_' || c == '-' || c == '+' || c == '=' || c == '~';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Parts of names that mean a secret wherever they appear in the name. */
static const char *const secret_parts[] = {
    "pass",       "pwd",        "secret",    "token",        "cookie", "sess",       "csrf",
    "xsrf",       "otp",        "mfa",       "2fa",          "auth",   "apikey",     "accesskey",
    "privatekey", "credential", "signature", "cvv",          "cvc",    "creditcard", "cardnumber",
    "ccnum",      "bearer",     "jwt",       "recoverycode",
};

/* Words that mean a secret only as a whole word of the name ("api_key",
 * "otp-code", "sortKey"; but not "keyboard", "zipcode" or "shipping"). */
static const char *const secret_words[] = {"key", "code", "pin", "sig", "cc", "sid", "ssn", "iban"};

static bool word_is_secret(const char *w, size_t n)
{
    if (n > 1 && w[n - 1] == 's') {
        if (word_is_secret(w, n - 1)) return true;
    }
    for (size_t i = 0; i < MOAT_ARRAY_LEN(secret_words); i++)
        if (strlen(secret_words[i]) == n && memcmp(secret_words[i], w, n) == 0) return true;
    return false;
}

bool moat_seclog_secret_name(const char *name, size_t len)
{
    /* Decode %XX and '+' first, so that pass%77ord is seen as password. */
    unsigned char dec[256];
    size_t n = 0;
    for (size_t i = 0; i < len && n < sizeof(dec); i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '%' && i + 2 < len && hexval((unsigned char)name[i + 1]) >= 0 &&
            hexval((unsigned char)name[i + 2]) >= 0) {
            c = (unsigned char)(hexval((unsigned char)name[i + 1]) * 16 +
                                hexval((unsigned char)name[i + 2]));
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        dec[n++] = c;
    }
    /* The name squeezed to lower-case letters and digits, and its words
     * (split at other characters and at camelCase humps). */
    char flat[256];
    size_t fn = 0;
    char word[256];
    size_t wn = 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = i < n ? dec[i] : 0;
        bool hump =
            i > 0 && c >= 'A' && c <= 'Z' &&
            ((dec[i - 1] >= 'a' && dec[i - 1] <= 'z') || (dec[i - 1] >= '0' && dec[i - 1] <= '9'));
        if (!is_alnum(c) || hump) {
            if (wn && word_is_secret(word, wn)) return true;
            wn = 0;
        }
        if (is_alnum(c)) {
            flat[fn++] = (char)lower(c);
            word[wn++] = (char)lower(c);
        }
    }
    for (size_t i = 0; i < MOAT_ARRAY_LEN(secret_parts); i++) {
        size_t pl = strlen(secret_parts[i]);
        for (size_t j = 0; j + pl <= fn; j++)
            if (memcmp(flat + j, secret_parts[i], pl) == 0) return true;
    }
    return false;
}

/* Header names whose whole value, to the end of the line, is a secret. */
static bool header_secret(const char *s, size_t n)
{
    static const char *const names[] = {"authorization", "proxy-authorization", "cookie",
                                        "set-cookie"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(names); i++)
        if (moat_strieq_lit(s, n, names[i])) return true;
    return false;
}

/* Length of a JWT at s (three base64url parts, the first a JSON header), or 0. */
static size_t jwt_len(const char *s, size_t n)
{
    if (n < 20 || memcmp(s, "eyJ", 3) != 0) return 0;
    size_t i = 0;
    for (int part = 0; part < 3; part++) {
        size_t start = i;
        while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
            i++;
        if (part < 2) {
            if (i == start || i >= n || s[i] != '.') return 0;
            i++;
        }
    }
    return i >= 20 ? i : 0;
}

/* Length of a card-like number at s: 13 to 19 digits, single spaces or
 * dashes between groups, passing the Luhn check; or 0. */
static size_t card_len(const char *s, size_t n)
{
    int d[19];
    size_t nd = 0, i = 0, end = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= '0' && c <= '9') {
            if (nd == 19) return 0;
            d[nd++] = c - '0';
            i++;
            end = i;
        } else if ((c == ' ' || c == '-') && i > 0 && i + 1 < n && s[i + 1] >= '0' &&
                   s[i + 1] <= '9' && s[i - 1] >= '0' && s[i - 1] <= '9') {
            i++;
        } else {
            break;
        }
    }
    if (nd < 13 || (end < n && is_alnum((unsigned char)s[end]))) return 0;
    int sum = 0;
    for (size_t k = 0; k < nd; k++) {
        int v = d[nd - 1 - k];
        if (k % 2 == 1) {
            v *= 2;
            if (v > 9) v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0 ? end : 0;
}

/* A credential after an HTTP auth scheme: 8+ token characters that look
 * random (a digit, '=', or both cases), so "Basic authentication" stays. */
static size_t credential_len(const char *s, size_t n)
{
    size_t i = 0;
    bool digit = false, upper = false, lowr = false, pad = false;
    while (i < n && (is_token((unsigned char)s[i]) || s[i] == '.' || s[i] == '/')) {
        unsigned char c = (unsigned char)s[i];
        digit |= c >= '0' && c <= '9';
        upper |= c >= 'A' && c <= 'Z';
        lowr |= c >= 'a' && c <= 'z';
        pad |= c == '=' || c == '.' || c == '_' || c == '-';
        i++;
    }
    if (i < 8 || !(digit || pad || (upper && lowr))) return 0;
    return i;
}

static bool scheme_word(const char *s, size_t n)
{
    if (n < 4 || n > 9 || !strchr("bBnNtT", s[0])) return false;
    static const char *const schemes[] = {"bearer", "basic", "negotiate", "ntlm", "token"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(schemes); i++)
        if (moat_strieq_lit(s, n, schemes[i])) return true;
    return false;
}

void moat_seclog_redact_text(moat_buf *out, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (!(is_alnum(c) || c == '_' || c == '%')) {
            size_t j = i + 1;
            while (j < len && !(is_alnum((unsigned char)s[j]) || s[j] == '_' || s[j] == '%'))
                j++;
            moat_buf_append(out, s + i, j - i);
            i = j;
            continue;
        }
        /* An HTTP auth scheme and its credential. */
        size_t w = i;
        while (w < len && is_alnum((unsigned char)s[w]))
            w++;
        if (w > i && scheme_word(s + i, w - i) && w < len && s[w] == ' ') {
            size_t k = w;
            while (k < len && s[k] == ' ')
                k++;
            size_t cl = credential_len(s + k, len - k);
            if (cl) {
                moat_buf_append(out, s + i, k - i);
                moat_buf_puts(out, REDACTED);
                i = k + cl;
                continue;
            }
        }
        /* key=value, key: value, "key":"value" with a secret-named key. */
        size_t e = i;
        while (e < len && is_ident((unsigned char)s[e]))
            e++;
        /* scheme://user:password@host */
        if (w == e && len - e > 3 && memcmp(s + e, "://", 3) == 0) {
            size_t u = e + 3;
            while (u < len && !strchr("/?#@ \t\r\n\"'", s[u]))
                u++;
            if (u < len && s[u] == '@') {
                moat_buf_append(out, s + i, e + 3 - i);
                moat_buf_puts(out, REDACTED "@");
                i = u + 1;
                continue;
            }
        }
        size_t k = e;
        if (k < len && (s[k] == '"' || s[k] == '\'') && i > 0 && s[i - 1] == s[k]) k++;
        while (k < len && (s[k] == ' ' || s[k] == '\t'))
            k++;
        if (k < len && (s[k] == '=' || s[k] == ':') && moat_seclog_secret_name(s + i, e - i)) {
            bool whole_line = s[k] == ':' && header_secret(s + i, e - i);
            size_t v = k + 1;
            while (v < len && (s[v] == ' ' || s[v] == '\t'))
                v++;
            moat_buf_append(out, s + i, v - i);
            size_t ve = v;
            if (whole_line) {
                while (ve < len && s[ve] != '\r' && s[ve] != '\n')
                    ve++;
                if (ve > v) moat_buf_puts(out, REDACTED);
            } else if (v < len && (s[v] == '"' || s[v] == '\'')) {
                char q = s[v];
                ve = v + 1;
                while (ve < len && s[ve] != q) {
                    if (s[ve] == '\\' && ve + 1 < len) ve++;
                    ve++;
                }
                moat_buf_putc(out, q);
                if (ve > v + 1) moat_buf_puts(out, REDACTED);
                if (ve < len) { /* the closing quote */
                    moat_buf_putc(out, q);
                    ve++;
                }
            } else {
                while (ve < len && !strchr("&;, \t\r\n\"')]}", s[ve]))
                    ve++;
                if (ve > v) moat_buf_puts(out, REDACTED);
            }
            i = ve;
            continue;
        }
        size_t t = i;
        while (t < len && is_token((unsigned char)s[t]))
            t++;
        size_t jl = jwt_len(s + i, len - i);
        if (jl) {
            moat_buf_puts(out, REDACTED);
            i += jl;
            continue;
        }
        size_t cl = (c >= '0' && c <= '9') ? card_len(s + i, len - i) : 0;
        if (cl) {
            moat_buf_puts(out, REDACTED);
            i += cl;
            continue;
        }
        if (t - i >= 32) {
            bool digit = false, alpha = false;
            for (size_t m = i; m < t; m++) {
                unsigned char x = (unsigned char)s[m];
                digit |= x >= '0' && x <= '9';
                alpha |= (x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z');
            }
            if (digit && alpha) {
                moat_buf_puts(out, REDACTED);
                i = t;
                continue;
            }
        }
        if (t == i) t = i + 1; /* a lone '%' */
        moat_buf_append(out, s + i, t - i);
        i = t;
    }
}

static void redact_query(moat_buf *out, const char *q, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && q[e] != '&' && q[e] != ';')
            e++;
        const char *eq = memchr(q + i, '=', e - i);
        if (eq) {
            size_t nl = (size_t)(eq - (q + i));
            moat_seclog_redact_text(out, q + i, nl);
            moat_buf_putc(out, '=');
            if (moat_seclog_secret_name(q + i, nl)) {
                if (eq + 1 < q + e) moat_buf_puts(out, REDACTED);
            } else {
                moat_seclog_redact_text(out, eq + 1, (size_t)(q + e - (eq + 1)));
            }
        } else {
            moat_seclog_redact_text(out, q + i, e - i);
        }
        if (e < n) moat_buf_putc(out, q[e]);
        i = e + 1;
    }
}

void moat_seclog_redact_path(moat_buf *out, const char *path, bool keep_query)
{
    size_t n = strlen(path);
    size_t q = strcspn(path, "?#");
    moat_seclog_redact_text(out, path, q);
    if (!keep_query || q == n || path[q] != '?') return;
    size_t f = q + 1 + strcspn(path + q + 1, "#");
    moat_buf_putc(out, '?');
    redact_query(out, path + q + 1, f - q - 1);
}

size_t moat__seclog_utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max) return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    return k;
}
