/* detect.c - finds hard-coded secrets in one file's bytes: a table of PCRE2
 * patterns (compiled once, JIT) each with a validator that rejects
 * placeholders and look-alikes, plus the keyword detector that measures the
 * Shannon entropy of values assigned to secret-looking names with
 * detect-secrets' limits. Matches become spans (deduplicated: the first,
 * most specific detector wins), then findings whose snippets have every
 * secret on the line masked. Notebooks are scanned string by string through
 * notebook.c's decoder. Walking trees and printing are left to others. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/secrets/internal.h"

/* ---- rules ------------------------------------------------------------------ */

enum {
    R_GCP_SA,
    R_PRIVKEY,
    R_AWS,
    R_AWS_SECRET,
    R_GCP_API,
    R_AZURE,
    R_GITHUB,
    R_GITLAB,
    R_SLACK,
    R_SLACK_WEBHOOK,
    R_STRIPE,
    R_SENDGRID,
    R_TWILIO_TOKEN,
    R_TWILIO_KEY,
    R_TWILIO_SID,
    R_AIRTABLE,
#define MOAT_SECRET_PROVIDER(e, ...) R_##e,
#include "audit/secrets/providers.def"
#undef MOAT_SECRET_PROVIDER
    R_JWT,
    R_URL,
    R_ENTROPY,
    R_PASSWORD,
    R__COUNT
};

/* The providers of providers.def, in its order. */
enum {
#define MOAT_SECRET_PROVIDER(e, ...) P_##e,
#include "audit/secrets/providers.def"
#undef MOAT_SECRET_PROVIDER
    P__COUNT
};
#define R_PROVIDER_FIRST (R_JWT - P__COUNT)

#define H MOAT_AUDIT_HIGH
#define M MOAT_AUDIT_MEDIUM
#define L MOAT_AUDIT_LOW
static const moat_audit_rule rules[R__COUNT] = {
    [R_GCP_SA] = {"MOAT-S-GCP-SA", "gcp-service-account-key", H, H, 798,
                  "Google Cloud service account private key",
                  "A service account key file (\"type\": \"service_account\" with a "
                  "\"private_key\") grants the account's roles to whoever reads it. Revoke the key "
                  "in IAM and use workload identity or a secret manager."},
    [R_PRIVKEY] = {"MOAT-S-PRIVKEY", "private-key", H, H, 798, "private key (PEM)",
                   "A PEM private key (-----BEGIN ... PRIVATE KEY----- followed by key material). "
                   "Replace the key pair and load keys from a file outside the repository."},
    [R_AWS] = {"MOAT-S-AWS", "aws-access-key-id", H, H, 798, "AWS access key id",
               "An AWS access key id (AKIA/ASIA/ABIA/ACCA/A3T? + 16 characters); its secret key is "
               "usually near. Deactivate it in IAM; use roles or the environment."},
    [R_AWS_SECRET] = {"MOAT-S-AWS-SECRET", "aws-secret-access-key", H, H, 798,
                      "AWS secret access key",
                      "A 40-character AWS secret access key assigned to an aws..secret.. name. "
                      "Rotate the key pair in IAM."},
    [R_GCP_API] = {"MOAT-S-GCP-API", "gcp-api-key", M, H, 798, "Google API key",
                   "A Google API key (AIza + 35 characters). Restrict or regenerate it in the "
                   "Cloud console; keys shipped to browsers must at least be restricted."},
    [R_AZURE] = {"MOAT-S-AZURE", "azure-storage-key", H, H, 798,
                 "Azure storage account or shared access key",
                 "AccountKey=/SharedAccessKey= in an Azure connection string. Rotate the key and "
                 "use a managed identity or Key Vault."},
    [R_GITHUB] = {"MOAT-S-GITHUB", "github-token", H, H, 798, "GitHub token",
                  "A GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_). Revoke it in the "
                  "GitHub settings."},
    [R_GITLAB] = {"MOAT-S-GITLAB", "gitlab-token", H, H, 798, "GitLab token",
                  "A GitLab personal, deploy, feed, runner, pipeline trigger, SCIM, feature-flag, "
                  "incoming-mail, Kubernetes agent or CI job token, or an OAuth application secret "
                  "(glpat-, gldt-, glft-, glrt-, GR1348941, glptt-, glsoat-, glffct-, glimt-, "
                  "glagent-, glcbt-, gloas-). Revoke it in GitLab."},
    [R_SLACK] = {"MOAT-S-SLACK", "slack-token", H, H, 798, "Slack token",
                 "A Slack bot, user, workspace, legacy, configuration or app token (xoxb-, "
                 "xoxp-, xoxa-, xoxr-, xoxs-, xoxo-, xoxe-, xapp-). Revoke it in the Slack app "
                 "settings."},
    [R_SLACK_WEBHOOK] = {"MOAT-S-SLACK-WEBHOOK", "slack-webhook", M, H, 798, "Slack webhook URL",
                         "An incoming webhook (hooks.slack.com/services/...) or a workflow "
                         "trigger (/workflows/, /triggers/): anyone with the URL can post. "
                         "Regenerate it."},
    [R_STRIPE] = {"MOAT-S-STRIPE", "stripe-live-key", H, H, 798, "Stripe secret or restricted key",
                  "A Stripe secret or restricted key (sk_live_, rk_live_, sk_prod_). Roll it in "
                  "the Stripe dashboard. Test-mode keys (sk_test_, rk_test_) are reported with "
                  "low confidence, as gitleaks reports them: they read and write the account's "
                  "test data."},
    [R_SENDGRID] = {"MOAT-S-SENDGRID", "sendgrid-api-key", H, H, 798, "SendGrid API key",
                    "A SendGrid API key (SG.<22>.<43>). Delete it in SendGrid."},
    [R_TWILIO_TOKEN] = {"MOAT-S-TWILIO-TOKEN", "twilio-auth-token", H, M, 798, "Twilio auth token",
                        "32 hex characters assigned to an auth_token name in a file that "
                        "mentions Twilio. Rotate the auth token in the Twilio console."},
    [R_TWILIO_KEY] = {"MOAT-S-TWILIO-KEY", "twilio-api-key", M, M, 798, "Twilio API key SID",
                      "A Twilio API key SID (SK + 32 hex); its secret is usually near."},
    [R_TWILIO_SID] = {"MOAT-S-TWILIO-SID", "twilio-account-sid", M, M, 798,
                      "Twilio account SID next to an auth token",
                      "An account SID (AC + 32 hex) is an identifier, reported only in a file "
                      "that also holds a Twilio auth token: together they are a credential."},
    [R_AIRTABLE] = {"MOAT-S-AIRTABLE", "airtable-pat", H, H, 798, "Airtable personal access token",
                    "pat + 14 letters and digits + . + 64 hex under a secret's name (alone its "
                    "only literal part, pat, is in too many texts). Revoke it in Airtable's "
                    "developer hub."},
#define MOAT_SECRET_PROVIDER(e, id, name, conf, title, where, pattern, keep, keywords)             \
    [R_##e] = {id,                                                                                 \
               name,                                                                               \
               H,                                                                                  \
               conf,                                                                               \
               798,                                                                                \
               title,                                                                              \
               "A token in this provider's own format (the format of gitleaks' rule for it). "     \
               "Revoke it in " where ", then read it from the environment or a secret manager."},
#include "audit/secrets/providers.def"
#undef MOAT_SECRET_PROVIDER
    [R_JWT] = {"MOAT-S-JWT", "jwt", M, M, 798, "JSON Web Token",
               "A JWT whose header decodes to JSON with \"alg\". It may still be valid; an "
               "unsigned one (alg none) is reported with low confidence."},
    [R_URL] = {"MOAT-S-URL-PASSWORD", "url-password", H, M, 798, "password in a URL",
               "scheme://user:password@host with a literal password (not ${...}, {name}, %s or "
               "a word such as 'password'). Build the URL from the environment."},
    [R_ENTROPY] = {"MOAT-S-ENTROPY", "high-entropy-assignment", H, M, 798,
                   "high-entropy string assigned to a secret-looking name",
                   "A value assigned to a name containing secret, token, key, passw, pwd or "
                   "credential whose Shannon entropy exceeds detect-secrets' limit (4.5 for "
                   "base64 characters, 3.0 for hex). Read it from the environment."},
    [R_PASSWORD] = {"MOAT-S-PASSWORD", "config-password", M, L, 798,
                    "literal password in a configuration file",
                    "A literal value for a password name in a configuration file (.env, .ini, "
                    ".cfg, .yaml, .toml, .json, ...), whatever its entropy."},
};
#undef H
#undef M
#undef L

const moat_audit_rule *moat_secrets_rules(size_t *n)
{
    *n = R__COUNT;
    return rules;
}

/* ---- small text helpers ------------------------------------------------------ */

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

/* Case-insensitive search for a lowercase needle in s[0..n). */
static bool icontains(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0) return true;
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && lower((unsigned char)s[i + k]) == needle[k])
            k++;
        if (k == m) return true;
    }
    return false;
}

static bool iequals(const char *s, size_t n, const char *lit)
{
    return moat_strieq_lit(s, n, lit);
}

static size_t distinct_bytes(const char *s, size_t n)
{
    bool seen[256] = {false};
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!seen[ch]) {
            seen[ch] = true;
            d++;
        }
    }
    return d;
}

/* A token whose variable part (after its public prefix) is an obvious fake:
 * "EXAMPLE" (AWS's documented sample keys), a run of x's, or almost no
 * variety ("ghp_000...0"). */
static bool token_placeholder(const char *s, size_t n, size_t keep)
{
    if (keep > n) keep = n;
    const char *b = s + keep;
    size_t bn = n - keep;
    return icontains(b, bn, "example") || icontains(b, bn, "xxxxx") || distinct_bytes(b, bn) <= 4;
}

/* A value that stands for a secret rather than being one: references to the
 * environment or a template, documentation fillers, words like "password". */
bool moat__secrets_placeholder(const char *s, size_t n)
{
    static const char *const has[] = {
        "${",          "{{",          "{%",       "%(",         "%s",        "<",
        ">",           "example",     "changeme", "change_me",  "change-me", "change_this",
        "placeholder", "dummy",       "your_",    "your-",      "yourpass",  "yoursecret",
        "replace",     "redacted",    "xxxx",     "****",       "...",       "fake",
        "sample",      "notreal",     "not_real", "not-a-real", "todo",      "fixme",
        "insert",      "secret_here", "getenv",   "environ",
    };
    static const char *const is[] = {"password", "passwd", "pass", "pwd",       "secret", "token",
                                     "key",      "none",   "null", "nil",       "true",   "false",
                                     "test",     "string", "str",  "undefined", "empty"};
    if (n == 0) return true;
    if (s[0] == '$' || s[0] == '%' || s[0] == '!' || s[0] == '{') return true;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(has); i++)
        if (icontains(s, n, has[i])) return true;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(is); i++)
        if (iequals(s, n, is[i])) return true;
    return distinct_bytes(s, n) <= 2;
}

/* ---- entropy (detect-secrets' high_entropy_strings.py) ---------------------- */

static const char hex_charset[] = "0123456789abcdefABCDEF";
static const char b64_charset[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=";

static bool all_in(const char *s, size_t n, const char *charset)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(charset, s[i]) || s[i] == '\0') return false;
    return true;
}

/* Shannon entropy in bits per byte of s over the bytes of charset (NULL:
 * every byte value), as detect-secrets computes it. */
static double shannon(const char *s, size_t n, const char *charset)
{
    size_t count[256] = {0};
    for (size_t i = 0; i < n; i++)
        count[(unsigned char)s[i]]++;
    double e = 0.0;
    for (int ch = 0; ch < 256; ch++) {
        if (!count[ch] || (charset && !strchr(charset, ch))) continue;
        if (ch == 0) continue;
        double p = (double)count[ch] / (double)n;
        e -= p * log2(p);
    }
    return e;
}

double moat__secrets_entropy(const char *s, size_t n, const char **charset_name, double *limit)
{
    if (n == 0) {
        *charset_name = "base64";
        *limit = MOAT__SECRETS_BASE64_LIMIT;
        return 0.0;
    }
    if (all_in(s, n, hex_charset)) {
        *charset_name = "hex";
        *limit = MOAT__SECRETS_HEX_LIMIT;
        double e = shannon(s, n, hex_charset);
        /* detect-secrets: all-digit strings are mostly ids and numbers, so
         * their entropy is lowered by 1.2 / log2(len). */
        bool digits = true;
        for (size_t i = 0; i < n && digits; i++)
            digits = s[i] >= '0' && s[i] <= '9';
        if (digits && n > 1) e -= 1.2 / log2((double)n);
        return e;
    }
    *limit = MOAT__SECRETS_BASE64_LIMIT;
    if (all_in(s, n, b64_charset)) {
        *charset_name = "base64";
        return shannon(s, n, b64_charset);
    }
    *charset_name = "text";
    return shannon(s, n, NULL);
}

/* ---- detectors ---------------------------------------------------------------- */

typedef struct hit {
    size_t s, e, keep; /* secret [s, e) in the segment; keep bytes stay visible */
    int rule;
    moat_audit_level confidence; /* 0: the rule's */
    char detail[160];            /* appended to the message; never the secret */
} hit;

typedef bool (*check_fn)(moat__secrets_scan *c, const moat__secrets_segment *sg,
                         const PCRE2_SIZE *ov, hit *h);

typedef struct detector {
    int rule;
    const char *pattern;
    int group;   /* capture group holding the secret (0: the whole match) */
    size_t keep; /* public prefix left visible in snippets */
    check_fn check;
} detector;

static bool check_token(moat__secrets_scan *c, const moat__secrets_segment *sg,
                        const PCRE2_SIZE *ov, hit *h)
{
    (void)c;
    (void)ov;
    return !token_placeholder(sg->p + h->s, h->e - h->s, h->keep);
}

static bool check_stripe(moat__secrets_scan *c, const moat__secrets_segment *sg,
                         const PCRE2_SIZE *ov, hit *h)
{
    if (!check_token(c, sg, ov, h)) return false;
    if (!memcmp(sg->p + h->s + 3, "test_", 5)) {
        h->confidence = MOAT_AUDIT_LOW;
        snprintf(h->detail, sizeof(h->detail), " (a test-mode key)");
    }
    return true;
}

/* The API keys the Firebase SDKs publish in their samples and tests (the
 * same decision as AWS's documented keys: public, so not a leak; gitleaks
 * allows the same list). */
static bool check_gcp_api(moat__secrets_scan *c, const moat__secrets_segment *sg,
                          const PCRE2_SIZE *ov, hit *h)
{
    static const char *const published[] = {
        "AIzaSyabcdefghijklmnopqrstuvwxyz1234567", "AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs",
        "AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM", "AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",
        "AIzaSyD3asb-2pEZVqMkmL6M9N6nHZRR_znhrh0", "AIzayDNSXIbFmlXbIE6mCzDLQAqITYefhixbX4A",
        "AIzaSyAdOS2zB6NCsk1pCdZ4-P6GBdi_UUPwX7c", "AIzaSyASWm6HmTMdYWpgMnjRBjxcQ9CKctWmLd4",
        "AIzaSyANUvH9H9BsUccjsu2pCmEkOPjjaXeDQgY", "AIzaSyA5_iVawFQ8ABuTZNUdcwERLJv_a_p4wtM",
        "AIzaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ", "AIzaSyDSb51JiIcB6OJpwwMicseKRhhrOq1cS7g",
        "AIzaSyBF2RrAIm4a0mO64EShQfqfd2AFnzAvvuU", "AIzaSyBcE-OOIbhjyR83gm4r2MFCu4MJmprNXsw",
        "AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE", "AIzaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY",
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(published); i++)
        if (h->e - h->s == 39 && memcmp(sg->p + h->s, published[i], 39) == 0) return false;
    return check_token(c, sg, ov, h);
}

/* A runner registration token's GR1348941 and a session cookie's name are
 * public: the fake test looks at what follows them. */
static bool check_gitlab(moat__secrets_scan *c, const moat__secrets_segment *sg,
                         const PCRE2_SIZE *ov, hit *h)
{
    const char *p = sg->p + h->s;
    size_t n = h->e - h->s;
    if (n > 9 && memcmp(p, "GR1348941", 9) == 0) h->keep = 9;
    if (n > 16 && memcmp(p, "_gitlab_session=", 16) == 0) h->keep = 16;
    return check_token(c, sg, ov, h);
}

/* Which provider's group matched: its rule and its public prefix. */
static bool check_provider(moat__secrets_scan *c, const moat__secrets_segment *sg,
                           const PCRE2_SIZE *ov, hit *h)
{
    static const size_t keep[P__COUNT] = {
#define MOAT_SECRET_PROVIDER(e, id, name, conf, title, where, pattern, keep, keywords) keep,
#include "audit/secrets/providers.def"
#undef MOAT_SECRET_PROVIDER
    };
    for (size_t k = 0; k < P__COUNT; k++)
        if (ov[2 * (k + 1)] != PCRE2_UNSET) {
            h->rule = (int)(R_PROVIDER_FIRST + k);
            h->keep = keep[k];
            return check_token(c, sg, ov, h);
        }
    return false;
}

static bool check_slack(moat__secrets_scan *c, const moat__secrets_segment *sg,
                        const PCRE2_SIZE *ov, hit *h)
{
    return h->e - h->s >= 15 && check_token(c, sg, ov, h);
}

/* The URL up to its kind (.../services/, .../workflows/) stays visible. */
static bool check_slack_webhook(moat__secrets_scan *c, const moat__secrets_segment *sg,
                                const PCRE2_SIZE *ov, hit *h)
{
    const char *p = sg->p + h->s;
    size_t n = h->e - h->s;
    const char *com = memchr(p, 'm', n); /* the m of slack.com */
    while (com && (size_t)(com - p) + 2 <= n && com[1] != '/')
        com = memchr(com + 1, 'm', n - (size_t)(com + 1 - p));
    if (!com) return false;
    const char *kind_end = memchr(com + 2, '/', n - (size_t)(com + 2 - p));
    if (!kind_end) return false;
    h->keep = (size_t)(kind_end + 1 - p);
    return check_token(c, sg, ov, h);
}

static bool check_gcp_sa(moat__secrets_scan *c, const moat__secrets_segment *sg,
                         const PCRE2_SIZE *ov, hit *h)
{
    (void)ov;
    if (!icontains(c->raw, c->rawlen, "service_account")) return false;
    /* Leave "-----BEGIN PRIVATE KEY-----" visible, mask the key. */
    const char *p = sg->p + h->s;
    size_t n = h->e - h->s;
    for (size_t i = 10; i + 5 <= n; i++)
        if (memcmp(p + i, "-----", 5) == 0) {
            h->keep = i + 5;
            return true;
        }
    return false;
}

/* A PEM marker only counts with key material after it: code that merely
 * mentions "-----BEGIN RSA PRIVATE KEY-----" (a parser, a check) is not a
 * key. The span runs to the END marker or the end of the line, so a key
 * written on one line ("...-----\nMIIE...") is masked in the snippet. */
static bool check_privkey(moat__secrets_scan *c, const moat__secrets_segment *sg,
                          const PCRE2_SIZE *ov, hit *h)
{
    (void)c;
    size_t from = ov[1], to = sg->n - from > 600 ? from + 600 : sg->n, run = 0;
    bool material = false;
    for (size_t i = from; i < to && !material; i++) {
        char ch = sg->p[i];
        bool b64 = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                   (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '=';
        run = b64 ? run + 1 : 0;
        material = run >= 40;
    }
    if (!material) return false;
    h->keep = ov[1] - ov[0];
    size_t e = ov[1];
    while (e < sg->n && sg->p[e] != '\n' && sg->p[e] != '\r') {
        if (sg->n - e >= 8 && memcmp(sg->p + e, "-----END", 8) == 0) break;
        e++;
    }
    h->e = e;
    return true;
}

static int b64url_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '-' || ch == '+') return 62;
    if (ch == '_' || ch == '/') return 63;
    return -1;
}

/* Decodes up to cap bytes of base64url s[0..n) into out; returns the count. */
static size_t b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap; i++) {
        int v = b64url_value(s[i]);
        if (v < 0) break;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o;
}

/* A JWT's header must decode to a JSON object naming its algorithm. */
static bool check_jwt(moat__secrets_scan *c, const moat__secrets_segment *sg, const PCRE2_SIZE *ov,
                      hit *h)
{
    (void)c;
    (void)ov;
    const char *p = sg->p + h->s;
    size_t n = h->e - h->s, dot = 0;
    while (dot < n && p[dot] != '.')
        dot++;
    unsigned char head[512];
    size_t hn = b64url_decode(p, dot, head, sizeof(head));
    if (hn < 2 || head[0] != '{') return false;
    if (!icontains((const char *)head, hn, "\"alg\"")) return false;
    if (p[n - 1] == '.') h->confidence = MOAT_AUDIT_LOW; /* unsigned: alg none */
    return true;
}

static bool check_url(moat__secrets_scan *c, const moat__secrets_segment *sg, const PCRE2_SIZE *ov,
                      hit *h)
{
    (void)c;
    const char *pw = sg->p + h->s;
    size_t n = h->e - h->s;
    if (moat__secrets_placeholder(pw, n)) return false;
    /* "user:user@" and the like are filler more often than credentials. */
    size_t un = ov[3] - ov[2];
    if (un == n && memcmp(sg->p + ov[2], pw, n) == 0 && iequals(pw, n, "user")) return false;
    return true;
}

static bool check_twilio_token(moat__secrets_scan *c, const moat__secrets_segment *sg,
                               const PCRE2_SIZE *ov, hit *h)
{
    return c->twilio && check_token(c, sg, ov, h);
}

static bool check_twilio_sid(moat__secrets_scan *c, const moat__secrets_segment *sg,
                             const PCRE2_SIZE *ov, hit *h)
{
    return c->twilio_token && check_token(c, sg, ov, h);
}

/* Names that contain a keyword but hold no secret: sizes, paths, ids, flags. */
static bool innocent_name(const char *s, size_t n)
{
    static const char *const words[] = {
        "public",  "publishable", "pubkey",   "url",      "uri",       "file",    "path",
        "dir",     "name",        "type",     "len",      "size",      "max",     "min",
        "timeout", "ttl",         "expir",    "keyboard", "monkey",    "keyword", "keys",
        "tokeniz", "header",      "prefix",   "field",    "param",     "hash",    "reset",
        "valid",   "policy",      "requir",   "enable",   "disable",   "allow",   "store",
        "form",    "input",       "label",    "mode",     "method",    "scheme",  "format",
        "version", "count",       "lifetime", "age",      "algorithm", "cache",   "hint",
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(words); i++)
        if (icontains(s, n, words[i])) return true;
    if (n >= 3 && (iequals(s + n - 3, 3, "_id") || iequals(s + n - 3, 3, "-id"))) return true;
    return n >= 2 && s[n - 2] == 'I' && s[n - 1] == 'd'; /* tokenId, keyId */
}

static size_t raw_at(const moat__secrets_segment *sg, size_t i);
static bool overlaps(const moat__secrets_scan *c, size_t start, size_t end);
static bool mask_overlaps(const moat__secrets_scan *c, size_t start, size_t end);

/* gitleaks' Atlassian, Confluence and Jira API tokens of the older form:
 * 20 of [a-z0-9] and 4 hex (an MD5's end), under a name that says whose. */
static bool atlassian_token(const char *name, size_t nn, const char *v, size_t vn)
{
    if (vn != 24 || !(icontains(name, nn, "atlassian") || icontains(name, nn, "confluence") ||
                      icontains(name, nn, "jira")))
        return false;
    for (size_t i = 0; i < vn; i++) {
        bool hex = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f');
        if (!(hex || (i < 20 && v[i] >= 'g' && v[i] <= 'z'))) return false;
    }
    return distinct_bytes(v, vn) > 4;
}

/* Airtable's personal access tokens: pat, 14 letters and digits, a dot and
 * 64 lowercase hex. */
static bool airtable_token(const char *v, size_t vn)
{
    if (vn != 82 || memcmp(v, "pat", 3) != 0 || v[17] != '.') return false;
    for (size_t i = 3; i < vn; i++) {
        char ch = v[i];
        bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
        bool alnum = hex || (ch >= 'g' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (i != 17 && !(i < 17 ? alnum : hex)) return false;
    }
    return distinct_bytes(v + 18, 64) > 4;
}

/* Vault's service tokens before 1.10: s. and 24 letters and digits (both),
 * under a token's name (alone, "s." + 24 is too common a shape). */
static bool vault_legacy_token(const char *v, size_t vn)
{
    if (vn != 26 || v[0] != 's' || v[1] != '.') return false;
    bool digit = false, letter = false;
    for (size_t i = 2; i < vn; i++) {
        if (v[i] >= '0' && v[i] <= '9')
            digit = true;
        else if ((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z'))
            letter = true;
        else
            return false;
    }
    return digit && letter && distinct_bytes(v + 2, 24) > 4;
}

/* NAME = "value" and its spellings (NAME: value, "NAME": "value", NAME=value
 * in .env files). Group 1 the name, 4 the value's quote, 5 the value. */
static bool check_keyword(moat__secrets_scan *c, const moat__secrets_segment *sg,
                          const PCRE2_SIZE *ov, hit *h)
{
    const char *name = sg->p + ov[2];
    size_t nn = ov[3] - ov[2];
    const char *v = sg->p + ov[10];
    size_t vn = ov[11] - ov[10];
    bool quoted = ov[9] > ov[8];
    if (quoted) {
        if (ov[11] >= sg->n || sg->p[ov[11]] != sg->p[ov[8]]) return false;
    } else {
        /* Unquoted values are expressions in code (os.environ[...], a call). */
        if (sg->kind == MOAT__SECRETS_CODE) return false;
        while (vn && (v[vn - 1] == ',' || v[vn - 1] == ';')) {
            vn--;
            h->e--;
        }
        if (memchr(v, '(', vn) || memchr(v, '[', vn) || memchr(v, '{', vn)) return false;
    }
    if (vn == 0 || innocent_name(name, nn)) return false;
    if (moat__secrets_placeholder(v, vn)) return false;
    if (icontains(v, vn, "://") || v[0] == '/' || v[0] == '.') return false; /* URLs, paths */
    if (nn == vn && memcmp(name, v, nn) == 0) return false;                  /* KEY=KEY */
    const char *cs;
    double limit, e = moat__secrets_entropy(v, vn, &cs, &limit);
    /* The name goes in the message, unless a secret found earlier is in it. */
    const char *label = name;
    int shown = (int)(nn > 64 ? 64 : nn);
    if (overlaps(c, raw_at(sg, ov[2]), raw_at(sg, ov[3])) ||
        mask_overlaps(c, raw_at(sg, ov[2]), raw_at(sg, ov[3]))) {
        label = "?";
        shown = 1;
    }
    if (atlassian_token(name, nn, v, vn)) {
        h->rule = R_ATLASSIAN;
        return true;
    }
    if (airtable_token(v, vn)) {
        h->rule = R_AIRTABLE;
        h->keep = 3;
        return true;
    }
    if (vault_legacy_token(v, vn)) {
        h->rule = R_VAULT;
        h->keep = 2;
        return true;
    }
    if (e > limit) {
        h->rule = R_ENTROPY;
        if (strcmp(cs, "hex") == 0) h->confidence = MOAT_AUDIT_LOW;
        snprintf(h->detail, sizeof(h->detail), " '%.*s' (%s entropy %.2f > %.1f)", shown, label, cs,
                 e, limit);
        return true;
    }
    bool password = icontains(name, nn, "passw") || icontains(name, nn, "pwd");
    if (c->masking && !password) {
        /* Snippets: any literal a secret-looking name holds is hidden, not
         * only the ones worth a finding ("key" alone is too common). */
        static const char *const secretish[] = {"secret", "token",   "credential",
                                                "apikey", "api_key", "private"};
        for (size_t i = 0; i < MOAT_ARRAY_LEN(secretish) && !password; i++)
            password = icontains(name, nn, secretish[i]);
    }
    if (password && (sg->kind == MOAT__SECRETS_CONFIG || c->masking)) {
        h->rule = R_PASSWORD;
        snprintf(h->detail, sizeof(h->detail), " '%.*s'", shown, label);
        return true;
    }
    return false;
}

#define NAMECH "[A-Za-z0-9_.\\-]"
#define ASSIGN "['\"]?\\]?[ \\t]*(?::=|=>|=|:)(?![=:])[ \\t]*"
#define KEYNAME NAMECH "{0,60}(?i:secret|token|passw|pwd|credential|key)" NAMECH "{0,60}"
static const detector detectors[] = {
    {R_GCP_SA,
     "\"private_key\"[ \\t]*:[ \\t]*\"(-----BEGIN[A-Z ]{0,30}PRIVATE KEY-----[^\"\\n]{0,8000})\"",
     1, 0, check_gcp_sa},
    {R_PRIVKEY, "-----BEGIN[A-Z ]{0,30}PRIVATE KEY(?: BLOCK)?-----", 0, 0, check_privkey},
    {R_AWS, "(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Za-z0-9])", 0, 4,
     check_token},
    {R_AWS_SECRET,
     "(?<![A-Za-z0-9])(?i:aws)" NAMECH "{0,20}(?i:secret)" NAMECH "{0,20}" ASSIGN
     "['\"]?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
     1, 0, check_token},
    {R_GCP_API, "(?<![A-Za-z0-9_\\-])AIza[0-9A-Za-z_\\-]{35}(?![0-9A-Za-z_\\-])", 0, 4,
     check_gcp_api},
    {R_AZURE,
     "(?:AccountKey|SharedAccessKey)[ \\t]*=[ \\t]*([A-Za-z0-9+/]{42,86}={0,2})(?![A-Za-z0-9+/=])",
     1, 0, check_token},
    {R_GITHUB,
     "(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})"
     "(?![A-Za-z0-9_])",
     0, 4, check_token},
    /* gitleaks' GitLab families: personal (glpat-, also the routable
     * glpat-...<27+>.<9>), pipeline trigger (glptt-), deploy (gldt-), feed
     * (glft-), runner (glrt-, and registration GR1348941...), SCIM (glsoat-),
     * feature flags (glffct-), incoming mail (glimt-), OAuth app secrets
     * (gloas-), Kubernetes agents (glagent-), CI job tokens (glcbt-), and
     * session cookies (_gitlab_session=). */
    {R_GITLAB,
     "(?<![A-Za-z0-9_\\-])(?:gl(?:pat|ptt|dt|ft|rt|soat|ffct|imt|oas|agent)-[A-Za-z0-9_\\-]{20,300}"
     "(?:\\.[0-9a-z]{9})?|glcbt-(?:[0-9a-fA-F]{2}_)?[A-Za-z0-9_\\-]{20,300}"
     "|GR1348941[A-Za-z0-9_\\-]{20}|_gitlab_session=[0-9a-z]{32})(?![A-Za-z0-9_\\-])",
     0, 4, check_gitlab},
    /* gitleaks' Slack rules, one branch each: bot (xoxb- with two digit
     * groups), user (xoxp-/xoxe- with three), legacy bot (xoxb- with one),
     * legacy (xoxo-/xoxs-), legacy workspace (xoxa-/xoxr-), configuration
     * access and refresh tokens (xoxe.xoxb-/xoxe.xoxp-, xoxe-) and app
     * tokens (xapp-). The digit-group lengths are what keeps look-alikes
     * (xoxb-12345-abcd, xoxp-1234-1234-1234-...) out. */
    {R_SLACK,
     "(?<![A-Za-z0-9])(?:xoxb-[0-9]{10,13}-[0-9]{10,13}(?:-[A-Za-z0-9]+)*"
     "|xox[pe](?:-[0-9]{10,13}){3}-[A-Za-z0-9\\-]{28,34}"
     "|xoxb-[0-9]{8,14}-[A-Za-z0-9]{18,26}|xox[os]-[0-9]+-[0-9]+-[0-9]+-[A-Fa-f0-9]+"
     "|xox[ar]-(?:[0-9]-)?[0-9A-Za-z]{8,48}(?:-[0-9A-Za-z]+)*|(?i:xoxe\\.xox[bp]-[0-9]-[A-Z0-9]{"
     "163,166})"
     "|(?i:xoxe-[0-9]-[A-Z0-9]{146})|(?i:xapp-[0-9]-[A-Z0-9]+-[0-9]+-[A-Z0-9]+))"
     "(?![A-Za-z0-9\\-])",
     0, 5, check_slack},
    {R_SLACK_WEBHOOK,
     "(?:https?://)?hooks\\.slack\\.com/(?:services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,}|"
     "(?:workflows|triggers)/[A-Za-z0-9+/]{20,}|services/[A-Za-z0-9+/]{43,56})(?![A-Za-z0-9+/])",
     0, 0, check_slack_webhook},
    {R_STRIPE, "(?<![A-Za-z0-9_])[sr]k_(?:live|test|prod)_[0-9A-Za-z]{10,99}(?![0-9A-Za-z])", 0, 8,
     check_stripe},
    {R_SENDGRID, "(?<![A-Za-z0-9_\\-])SG\\.[A-Za-z0-9=_\\-.]{66}(?![A-Za-z0-9=_\\-.])", 0, 3,
     check_token},
    {R_TWILIO_TOKEN,
     "(?<![A-Za-z0-9])" NAMECH "{0,30}(?i:auth_?token)" NAMECH "{0,30}" ASSIGN
     "['\"]?([0-9a-f]{32})(?![0-9A-Za-z])",
     1, 0, check_twilio_token},
    {R_TWILIO_KEY, "(?<![0-9A-Za-z])SK[0-9a-f]{32}(?![0-9A-Za-z])", 0, 2, check_token},
    {R_TWILIO_SID, "(?<![0-9A-Za-z])AC[0-9a-f]{32}(?![0-9A-Za-z])", 0, 2, check_twilio_sid},
    /* Every provider of providers.def in one pattern: group k is provider k. */
    {R_PROVIDER_FIRST,
     "(?<![A-Za-z0-9_\\-])(?:"
#define MOAT_SECRET_PROVIDER(e, id, name, conf, title, where, pattern, keep, keywords)             \
    "(" pattern ")|"
#include "audit/secrets/providers.def"
#undef MOAT_SECRET_PROVIDER
     "(?!))(?![A-Za-z0-9_.\\-])",
     0, 0, check_provider},
    {R_JWT,
     "(?<![A-Za-z0-9_\\-])eyJ[A-Za-z0-9_\\-]{10,}={0,2}\\.[A-Za-z0-9_\\-]{10,}={0,2}\\."
     "[A-Za-z0-9_\\-+/=]*",
     0, 3, check_jwt},
    {R_URL,
     "(?<![A-Za-z0-9+.\\-])[A-Za-z][A-Za-z0-9+.\\-]{1,15}://([^\\s:@/?#'\"`]{0,100}):"
     "([^\\s@/?#'\"`]{1,200})@[A-Za-z0-9\\[]",
     2, 0, check_url},
    /* NAME = "v" and its spellings: a type between name and = (Go's var x
     * string = "v", TS/Kotlin x: string = "v"; not after a quoted name: in
     * HTML's name="csrf_token" value="..." the value is no assignment),
     * .= += ?= ::= :::= := =>, a quoted name and its value as a call's
     * arguments (System.setProperty("x.token", "v")), and XML elements
     * (<apiKey>v</apiKey>, the value alone on its line too); branch reset
     * keeps the groups' numbers (1 name, 2 its closing quote, 3 the
     * operator, 4 the value's quote, 5 the value). */
    {R_ENTROPY,
     "(?|(?<![A-Za-z0-9_.\\-])(" KEYNAME ")(?![A-Za-z0-9_.\\-])(['\"]?)\\]?"
     "(?:(?<!['\"])[ \\t]*:?[ \\t]+[A-Za-z_][A-Za-z0-9_.]*(?:\\[\\])?(?=[ \\t]*=[^=]))?[ \\t]*"
     "(\\?=|:::=|::=|:=|\\.=|\\+=|=>|=|:|(?<=['\"]),)(?![=:])[ \\t]*"
     "(?:[rbuRBU]{1,2}(?=['\"]))?(['\"`]?)([^'\"`\\s]{0,400})"
     "|<(" KEYNAME ")>\\s*()()()([^<\\s]{1,400})(?=\\s*</\\1>))",
     5, 0, check_keyword},
};
#undef NAMECH
#undef ASSIGN
#undef KEYNAME

/* Capture pairs a match holds (the providers' pattern has one group each). */
#define MATCH_PAIRS 64

/* The Twilio auth-token pattern is also run over the whole file first: an
 * account SID is only a finding next to one. */
#define TWILIO_TOKEN_DETECTOR 12

#define MAX_KEYWORDS 128

struct moat_secrets {
    pcre2_code *code[MOAT_ARRAY_LEN(detectors)];
    pcre2_match_context *mctx;
    /* the providers' keywords (borrowed from providers.def), sorted by
     * their first two bytes; kw_first/kw_count: where those of a pair are */
    struct {
        const char *w;
        size_t n;
    } kw[MAX_KEYWORDS];
    uint8_t kw_first[65536];
    uint8_t kw_count[65536];
};

/* The keyword index of provider_keyword. */
static void keywords_index(moat_secrets *s)
{
    static const char *const keywords[P__COUNT] = {
#define MOAT_SECRET_PROVIDER(e, id, name, conf, title, where, pattern, keep, keywords) keywords,
#include "audit/secrets/providers.def"
#undef MOAT_SECRET_PROVIDER
    };
    size_t n = 0;
    for (size_t k = 0; k < P__COUNT; k++)
        for (const char *w = keywords[k]; *w;) {
            size_t len = strcspn(w, "|");
            MOAT_BUG_ON(len < 2 || n == MAX_KEYWORDS);
            size_t at = n++; /* insertion sort by the first pair */
            unsigned pair = (unsigned)(unsigned char)w[0] << 8 | (unsigned char)w[1];
            while (at > 0 && ((unsigned)(unsigned char)s->kw[at - 1].w[0] << 8 |
                              (unsigned char)s->kw[at - 1].w[1]) > pair) {
                s->kw[at] = s->kw[at - 1];
                at--;
            }
            s->kw[at].w = w;
            s->kw[at].n = len;
            w += len + (w[len] == '|');
        }
    for (size_t i = n; i-- > 0;) {
        unsigned pair = (unsigned)(unsigned char)s->kw[i].w[0] << 8 | (unsigned char)s->kw[i].w[1];
        s->kw_first[pair] = (uint8_t)i;
        s->kw_count[pair]++;
    }
}

int moat_secrets_new(moat_secrets **out)
{
    _Static_assert(MOAT_ARRAY_LEN(detectors) == R__COUNT - P__COUNT - 1,
                   "one detector per rule but the password and Airtable rules (the keyword "
                   "detector's) and one for every provider");
    _Static_assert(P__COUNT + 1 <= MATCH_PAIRS, "a match holds every provider's group");
    MOAT_BUG_ON(detectors[TWILIO_TOKEN_DETECTOR].rule != R_TWILIO_TOKEN);
    moat_secrets *s = moat_xcalloc(1, sizeof(*s));
    keywords_index(s);
    for (size_t i = 0; i < MOAT_ARRAY_LEN(detectors); i++) {
        int err;
        PCRE2_SIZE at;
        s->code[i] = pcre2_compile((PCRE2_SPTR)detectors[i].pattern, PCRE2_ZERO_TERMINATED, 0, &err,
                                   &at, NULL);
        if (!s->code[i]) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof(msg));
            fprintf(stderr, "moat: secrets pattern %s does not compile at %zu: %s\n",
                    rules[detectors[i].rule].id, (size_t)at, (const char *)msg);
            moat_secrets_free(s);
            return MOAT_EINTERNAL;
        }
        /* JIT is an optimisation: where it is unavailable the interpreter
         * gives the same answers, so a failure here is not an error. */
        (void)pcre2_jit_compile(s->code[i], PCRE2_JIT_COMPLETE);
    }
    s->mctx = pcre2_match_context_create(NULL);
    if (!s->mctx) moat__bug(__FILE__, __LINE__, "pcre2_match_context_create");
    /* Every pattern is bounded; the limit only guards against a mistake. */
    pcre2_set_match_limit(s->mctx, 1000000);
    *out = s;
    return 0;
}

size_t moat__secrets_jit_compiled(const moat_secrets *s, size_t *total)
{
    size_t n = 0;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(detectors); i++) {
        size_t jit = 0;
        if (pcre2_pattern_info(s->code[i], PCRE2_INFO_JITSIZE, &jit) == 0 && jit > 0) n++;
    }
    *total = MOAT_ARRAY_LEN(detectors);
    return n;
}

void moat_secrets_free(moat_secrets *s)
{
    if (!s) return;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(detectors); i++)
        pcre2_code_free(s->code[i]);
    pcre2_match_context_free(s->mctx);
    free(s);
}

bool moat_secrets_is_binary(const char *data, size_t len)
{
    return memchr(data, '\0', len < 8192 ? len : 8192) != NULL;
}

/* ---- spans ------------------------------------------------------------------ */

static size_t raw_at(const moat__secrets_segment *sg, size_t i)
{
    return sg->map ? sg->map[i] : sg->base + i;
}

/* Index of the first span starting at or after off. */
static size_t span_index(const moat__secrets_scan *c, size_t off)
{
    size_t lo = 0, hi = c->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->v[mid].start < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool overlaps(const moat__secrets_scan *c, size_t start, size_t end)
{
    size_t i = span_index(c, start);
    return (i > 0 && c->v[i - 1].end > start) || (i < c->len && c->v[i].start < end);
}

/* Adds a span unless it overlaps one already found (earlier detectors are
 * more specific). Spans stay sorted by start and never overlap. */
static void add_span(moat__secrets_scan *c, const moat__secrets_span *sp)
{
    if (overlaps(c, sp->start, sp->end)) return;
    size_t lo = span_index(c, sp->start);
    if (c->len == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = moat_xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    memmove(c->v + lo + 1, c->v + lo, (c->len - lo) * sizeof(*c->v));
    c->v[lo] = *sp;
    c->len++;
}

/* Index of the first mask that may reach offset off (masks are sorted by
 * start and none is longer than c->maxmask). */
static size_t mask_index(const moat__secrets_scan *c, size_t off)
{
    size_t from = off > c->maxmask ? off - c->maxmask : 0, lo = 0, hi = c->nmasks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->masks[mid].start < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool mask_overlaps(const moat__secrets_scan *c, size_t start, size_t end)
{
    for (size_t i = mask_index(c, start); i < c->nmasks && c->masks[i].start < end; i++)
        if (c->masks[i].end > start) return true;
    return false;
}

/* Records bytes to mask; kept sorted by start. */
static void add_mask(moat__secrets_scan *c, size_t start, size_t end)
{
    if (end <= start) return;
    size_t lo = 0, hi = c->nmasks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->masks[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->nmasks && c->masks[lo].start == start) {
        if (c->masks[lo].end < end) c->masks[lo].end = end;
    } else {
        if (c->nmasks == c->capmasks) {
            c->capmasks = c->capmasks ? c->capmasks * 2 : 16;
            c->masks = moat_xrealloc(c->masks, c->capmasks * sizeof(*c->masks));
        }
        memmove(c->masks + lo + 1, c->masks + lo, (c->nmasks - lo) * sizeof(*c->masks));
        c->masks[lo] = (moat__secrets_mask){start, end};
        c->nmasks++;
    }
    if (end - start > c->maxmask) c->maxmask = end - start;
}

/* Masks [start, end) but for the spans already found there: they mask their
 * own secret and keep their public prefix ("ghp_") visible. */
static void add_mask_around_spans(moat__secrets_scan *c, size_t start, size_t end)
{
    size_t i = span_index(c, start);
    if (i > 0 && c->v[i - 1].end > start) i--;
    size_t at = start;
    for (; i < c->len && c->v[i].start < end; i++) {
        if (c->v[i].start > at) add_mask(c, at, c->v[i].start);
        if (c->v[i].end > at) at = c->v[i].end;
    }
    if (at < end) add_mask(c, at, end);
}

/* Whether sg holds one of the providers' keywords: one pass over its bytes,
 * looking each pair up in the index of the keywords' first two bytes. */
static bool provider_keyword(const moat_secrets *s, const moat__secrets_segment *sg)
{
    const unsigned char *p = (const unsigned char *)sg->p;
    for (size_t i = 0; i + 1 < sg->n; i++) {
        unsigned pair = (unsigned)p[i] << 8 | p[i + 1];
        for (size_t k = s->kw_first[pair], end = k + s->kw_count[pair]; k < end; k++)
            if (s->kw[k].n <= sg->n - i && memcmp(p + i, s->kw[k].w, s->kw[k].n) == 0) return true;
    }
    return false;
}

static void run_detector(moat__secrets_scan *c, const moat__secrets_segment *sg, size_t di)
{
    const detector *d = &detectors[di];
    if (d->check == check_provider && !provider_keyword(c->s, sg)) return;
    const pcre2_code *code = c->s->code[di];
    PCRE2_SIZE off = 0;
    while (off <= sg->n) {
        int rc = pcre2_match(code, (PCRE2_SPTR)sg->p, sg->n, off, 0, c->md, c->s->mctx);
        if (rc < 0) break; /* no match, or the (never expected) match limit */
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        PCRE2_SIZE next = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
        if (ov[2 * d->group] == PCRE2_UNSET) {
            off = next;
            continue;
        }
        hit h = {
            .s = ov[2 * d->group], .e = ov[2 * d->group + 1], .keep = d->keep, .rule = d->rule};
        if (h.e > h.s && (!d->check || d->check(c, sg, ov, &h))) {
            if (h.keep > h.e - h.s) h.keep = h.e - h.s;
            moat__secrets_span sp = {.start = raw_at(sg, h.s),
                                     .mask = raw_at(sg, h.s + h.keep),
                                     .end = raw_at(sg, h.e),
                                     .rule = h.rule,
                                     .confidence = h.confidence};
            memcpy(sp.detail, h.detail, sizeof(sp.detail));
            add_mask_around_spans(c, sp.mask, sp.end);
            add_span(c, &sp);
        }
        off = next;
    }
}

void moat__secrets_scan_segment(moat__secrets_scan *c, const moat__secrets_segment *sg)
{
    for (size_t i = 0; i < MOAT_ARRAY_LEN(detectors); i++)
        run_detector(c, sg, i);
}

/* ---- findings ----------------------------------------------------------------- */

static int file_kind(const char *path)
{
    static const char *const code[] = {"py",  "pyi",   "pyw",  "js",  "mjs", "cjs",   "ts",
                                       "tsx", "jsx",   "java", "go",  "rb",  "php",   "c",
                                       "h",   "cc",    "cpp",  "hpp", "cs",  "swift", "kt",
                                       "rs",  "scala", "pyx",  "lua", "pl"};
    static const char *const config[] = {"env", "ini",  "cfg",  "conf",       "yaml",
                                         "yml", "toml", "json", "properties", "cnf"};
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, ".env", 4) == 0) return MOAT__SECRETS_CONFIG;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base) return MOAT__SECRETS_OTHER;
    const char *ext = dot + 1;
    size_t n = strlen(ext);
    if (iequals(ext, n, "ipynb")) return MOAT__SECRETS_NOTEBOOK;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(code); i++)
        if (iequals(ext, n, code[i])) return MOAT__SECRETS_CODE;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(config); i++)
        if (iequals(ext, n, config[i])) return MOAT__SECRETS_CONFIG;
    return MOAT__SECRETS_OTHER;
}

typedef struct lines {
    size_t *start; /* start offset of each line */
    size_t n;
} lines;

static void lines_index(lines *li, const char *p, size_t n)
{
    size_t cap = 64;
    li->start = moat_xmalloc(cap * sizeof(size_t));
    li->n = 0;
    li->start[li->n++] = 0;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(p + n - q))) != NULL; q++) {
        if (li->n == cap) {
            cap *= 2;
            li->start = moat_xrealloc(li->start, cap * sizeof(size_t));
        }
        li->start[li->n++] = (size_t)(q - p) + 1;
    }
}

/* 0-based index of the line holding offset off. */
static size_t line_of(const lines *li, size_t off)
{
    size_t lo = 0, hi = li->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (li->start[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Line l's bytes [*b, *e) without its line ending. */
static void line_bounds(const lines *li, const char *p, size_t n, size_t l, size_t *b, size_t *e)
{
    *b = li->start[l];
    *e = l + 1 < li->n ? li->start[l + 1] - 1 : n;
    if (*e > *b && p[*e - 1] == '\r') (*e)--;
}

static bool line_has(const char *p, size_t b, size_t e, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = b; i + m <= e; i++)
        if (memcmp(p + i, needle, m) == 0) return true;
    return false;
}

/* "pragma: allowlist secret" after any comment marker (#, //, ;, <!--), the
 * previous line's "pragma: allowlist nextline secret" (detect-secrets' two
 * forms), and the report module's `# nosec` / `# moat: ignore[ID]`. */
static bool suppressed(const moat__secrets_scan *c, const lines *li, size_t l, const char *rule)
{
    size_t b, e;
    line_bounds(li, c->raw, c->rawlen, l, &b, &e);
    if (line_has(c->raw, b, e, "pragma: allowlist secret")) return true;
    if (c->python) {
        if (moat_audit_suppressed_py(c->raw, c->rawlen, c->comments, c->ncomments, (unsigned)l + 1,
                                     (unsigned)l + 1, rule, "secrets"))
            return true;
    } else if (moat_audit_suppressed(c->raw + b, e - b, 1, 1, rule, "secrets")) {
        return true;
    }
    if (l == 0) return false;
    line_bounds(li, c->raw, c->rawlen, l - 1, &b, &e);
    return line_has(c->raw, b, e, "pragma: allowlist nextline secret");
}

#define SNIPPET_MAX 300

/* The line of span i with every secret on it masked (owned). Long lines
 * (minified files) are cut to a window around the secret, marked "...". */
static char *masked_line(const moat__secrets_scan *c, const lines *li, size_t l, size_t i)
{
    size_t b, e;
    line_bounds(li, c->raw, c->rawlen, l, &b, &e);
    char *m = moat_xstrndup(c->raw + b, e - b);
    for (size_t j = mask_index(c, b); j < c->nmasks && c->masks[j].start < e; j++)
        for (size_t k = c->masks[j].start > b ? c->masks[j].start : b; k < c->masks[j].end && k < e;
             k++)
            m[k - b] = '*';
    if (e - b <= SNIPPET_MAX) return m;
    size_t from = c->v[i].start - b > 80 ? c->v[i].start - b - 80 : 0;
    size_t n = e - b - from > SNIPPET_MAX ? SNIPPET_MAX : e - b - from;
    char *w = moat_xasprintf("%s%.*s%s", from ? "..." : "", (int)n, m + from,
                             from + n < e - b ? "..." : "");
    free(m);
    return w;
}

int moat_secrets_scan(const moat_secrets *s, const char *path, const char *data, size_t len,
                      moat_audit_findings *out, size_t *nsuppressed)
{
    if (moat_secrets_is_binary(data, len)) return 0;
    moat__secrets_scan c = {.s = s, .raw = data, .rawlen = len};
    c.md = pcre2_match_data_create(MATCH_PAIRS, NULL);
    if (!c.md) moat__bug(__FILE__, __LINE__, "pcre2_match_data_create");
    int kind = file_kind(path);
    c.twilio = icontains(data, len, "twilio");
    if (c.twilio) {
        int rc =
            pcre2_match(s->code[TWILIO_TOKEN_DETECTOR], (PCRE2_SPTR)data, len, 0, 0, c.md, s->mctx);
        c.twilio_token = rc >= 0;
    }
    if (kind == MOAT__SECRETS_NOTEBOOK) {
        moat__secrets_scan_notebook(&c);
    } else {
        moat__secrets_segment sg = {.p = data, .n = len, .kind = kind};
        moat__secrets_scan_segment(&c, &sg);
    }
    lines li;
    lines_index(&li, data, len);
    const char *dot = strrchr(path, '.');
    c.python = kind == MOAT__SECRETS_CODE && dot &&
               (iequals(dot, strlen(dot), ".py") || iequals(dot, strlen(dot), ".pyi") ||
                iequals(dot, strlen(dot), ".pyw"));
    if (c.python && c.len) c.comments = moat_audit_py_comments(data, len, &c.ncomments);
    for (size_t i = 0; i < c.len; i++) {
        const moat__secrets_span *sp = &c.v[i];
        size_t l = line_of(&li, sp->start);
        const moat_audit_rule *r = &rules[sp->rule];
        if (suppressed(&c, &li, l, r->id)) {
            if (nsuppressed) (*nsuppressed)++;
            continue;
        }
        moat_audit_finding *f = moat_audit_findings_push(out);
        f->rule = moat_xstrdup(r->id);
        f->kind = moat_xstrdup("secrets");
        f->severity = r->severity;
        f->confidence = sp->confidence ? sp->confidence : r->confidence;
        f->cwe = 798;
        f->path = moat_xstrdup(path);
        f->line = f->end_line = (unsigned)(l + 1);
        f->col = (unsigned)(sp->start - li.start[l] + 1);
        f->message = moat_xasprintf("%s%s", r->message, sp->detail);
        f->snippet = masked_line(&c, &li, l, i);
    }
    free(li.start);
    free(c.v);
    free(c.masks);
    free(c.comments);
    pcre2_match_data_free(c.md);
    return 0;
}

void moat_secrets_mask(const moat_secrets *s, const char *path, char *text)
{
    size_t len = strlen(text);
    if (len == 0) return;
    moat__secrets_scan c = {.s = s, .raw = text, .rawlen = len, .masking = true};
    c.md = pcre2_match_data_create(MATCH_PAIRS, NULL);
    if (!c.md) moat__bug(__FILE__, __LINE__, "pcre2_match_data_create");
    int kind = path ? file_kind(path) : MOAT__SECRETS_OTHER;
    if (kind == MOAT__SECRETS_NOTEBOOK) kind = MOAT__SECRETS_OTHER; /* a raw JSON line */
    c.twilio = icontains(text, len, "twilio");
    if (c.twilio)
        c.twilio_token = pcre2_match(s->code[TWILIO_TOKEN_DETECTOR], (PCRE2_SPTR)text, len, 0, 0,
                                     c.md, s->mctx) >= 0;
    /* Escaped quotes (a notebook's raw JSON line, a string in a string)
     * are scanned as quotes; map gives each scanned byte's offset in text. */
    char *plain = moat_xmalloc(len + 1);
    size_t *map = moat_xmalloc((len + 1) * sizeof(*map)), pn = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\\' && i + 1 < len && (text[i + 1] == '"' || text[i + 1] == '\'')) i++;
        map[pn] = i;
        plain[pn++] = text[i];
    }
    map[pn] = len;
    moat__secrets_segment sg = {.p = plain, .n = pn, .map = map, .kind = kind};
    moat__secrets_scan_segment(&c, &sg);
    free(plain);
    free(map);
    /* a backslash that escapes a quote stays: the text may be JSON or code */
    for (size_t j = 0; j < c.nmasks; j++)
        for (size_t k = c.masks[j].start; k < c.masks[j].end && k < len; k++)
            if (text[k] != '\n' &&
                !(text[k] == '\\' && k + 1 < len && (text[k + 1] == '"' || text[k + 1] == '\'')))
                text[k] = '*';
    free(c.v);
    free(c.masks);
    pcre2_match_data_free(c.md);
}

static moat_secrets *shared;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void shared_free(void)
{
    moat_secrets_free(shared);
    shared = NULL;
}

static void shared_init(void)
{
    /* The patterns are constants: failing to compile them is a bug. */
    MOAT_BUG_ON(moat_secrets_new(&shared) != 0);
    atexit(shared_free);
}

const moat_secrets *moat_secrets_shared(void)
{
    pthread_once(&shared_once, shared_init);
    return shared;
}
