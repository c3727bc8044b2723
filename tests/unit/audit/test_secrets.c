/* test_secrets.c - unit tests of src/audit/secrets: for every detector a
 * fake secret of the right shape that must be found (at the right line and
 * column, masked in the snippet and absent from the message) and look-alikes
 * that must not be (placeholders, documentation samples, values read from
 * the environment, empty strings); detect-secrets' entropy numbers;
 * suppression comments; notebooks with their own line numbers; binary files;
 * and the tree walk's skips and notes. The fake secrets are generated from
 * a fixed seed at run time, so no token-shaped literal sits in this file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/secrets/internal.h"
#include "audit/secrets/secrets.h"
#include "../test_helpers.h"

static moat_secrets *S;

static int setup_all(void **state)
{
    (void)state;
    return moat_secrets_new(&S);
}

static int teardown_all(void **state)
{
    (void)state;
    moat_secrets_free(S);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char UPNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char HEXLO[] = "0123456789abcdef";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Appends n pseudo-random characters of charset (fixed seed per call site). */
static char *fake(char *out, const char *prefix, const char *charset, size_t n, unsigned seed)
{
    size_t m = strlen(charset), p = strlen(prefix);
    memcpy(out, prefix, p);
    uint32_t x = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        out[p + i] = charset[(x >> 16) % m];
    }
    out[p + n] = '\0';
    return out;
}

static size_t scan(const char *path, const char *text, moat_audit_findings *f)
{
    size_t sup = 0;
    assert_int_equal(moat_secrets_scan(S, path, text, strlen(text), f, &sup), 0);
    return sup;
}

/* The text must give exactly one finding: rule at line:col, with the secret
 * (all but its first keep bytes) in neither the snippet nor the message. */
static void expect_one(const char *path, const char *text, const char *rule, unsigned line,
                       unsigned col, const char *secret, size_t keep)
{
    moat_audit_findings f = {0};
    scan(path, text, &f);
    if (f.len != 1) {
        for (size_t i = 0; i < f.len; i++)
            print_error("  got %s at %u:%u\n", f.v[i].rule, f.v[i].line, f.v[i].col);
        fail_msg("%s: %zu findings, wanted one %s", path, f.len, rule);
    }
    const moat_audit_finding *x = &f.v[0];
    assert_string_equal(x->rule, rule);
    assert_string_equal(x->kind, "secrets");
    assert_string_equal(x->path, path);
    assert_int_equal(x->cwe, 798);
    assert_int_equal(x->line, line);
    assert_int_equal(x->col, col);
    assert_non_null(x->snippet);
    const char *hidden = secret + keep;
    assert_null(strstr(x->snippet, hidden));
    assert_null(strstr(x->message, hidden));
    /* at least 8 bytes (or all) of the secret were replaced by '*' */
    assert_non_null(strstr(x->snippet, "********") ? x->snippet : NULL);
    moat_audit_findings_free(&f);
}

static void expect_none(const char *path, const char *text)
{
    moat_audit_findings f = {0};
    scan(path, text, &f);
    if (f.len != 0)
        fail_msg("%s: unexpected %s at %u:%u (%s)", path, f.v[0].rule, f.v[0].line, f.v[0].col,
                 f.v[0].message);
    moat_audit_findings_free(&f);
}

static bool has_rule(const char *path, const char *text, const char *rule)
{
    moat_audit_findings f = {0};
    scan(path, text, &f);
    bool found = false;
    for (size_t i = 0; i < f.len; i++)
        found = found || strcmp(f.v[i].rule, rule) == 0;
    moat_audit_findings_free(&f);
    return found;
}

/* ---- one test per detector -------------------------------------------------- */

static void test_aws(void **state)
{
    (void)state;
    char key[32], sec[64], text[256];
    fake(key, "AKIA", UPNUM, 16, 1);
    snprintf(text, sizeof(text), "import boto3\nKEY_ID = \"%s\"\n", key);
    expect_one("app.py", text, "MOAT-S-AWS", 2, 11, key, 4);
    fake(key, "A3T7", UPNUM, 16, 61); /* gitleaks' A3T[A-Z0-9] prefix */
    snprintf(text, sizeof(text), "KEY_ID = \"%s\"\n", key);
    assert_true(has_rule("app.py", text, "MOAT-S-AWS"));
    fake(sec, "", B64, 40, 2);
    snprintf(text, sizeof(text), "[default]\naws_secret_access_key = %s\n", sec);
    expect_one("credentials.ini", text, "MOAT-S-AWS-SECRET", 2, 25, sec, 0);
    /* AWS's documented sample keys, lowercase, too short, part of a word */
    expect_none("app.py", "KEY_ID = \"AKIAIOSFODNN7EXAMPLE\"\n");
    expect_none("app.py", "aws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"\n");
    expect_none("app.py", "x = \"akiaabcdefghijklmnop\"\ny = \"AKIA1234ABCD\"\n");
    snprintf(text, sizeof(text), "x = \"X%s\"\n", key);
    expect_none("app.py", text);
    /* 40 random characters under a name that is not AWS's: not an AWS key */
    snprintf(text, sizeof(text), "color_table = \"%s\"\n", sec);
    expect_none("app.py", text);
}

static void test_gcp(void **state)
{
    (void)state;
    char body[80], key[64], text[1024];
    fake(body, "MII", B64, 60, 3);
    snprintf(text, sizeof(text),
             "{\n  \"type\": \"service_account\",\n  \"project_id\": \"p\",\n"
             "  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n%s\\n-----END PRIVATE "
             "KEY-----\\n\",\n  \"client_email\": \"a@p.iam.gserviceaccount.com\"\n}\n",
             body);
    expect_one("sa.json", text, "MOAT-S-GCP-SA", 4, 19, body, 0);
    /* the same key without "service_account" is a plain private key */
    char *plain = strstr(text, "service_account");
    memcpy(plain, "something_else!", 15);
    assert_true(has_rule("sa.json", text, "MOAT-S-PRIVKEY"));
    assert_false(has_rule("sa.json", text, "MOAT-S-GCP-SA"));

    fake(key, "AIza", ALNUM, 35, 4);
    snprintf(text, sizeof(text), "maps:\n  api_key: %s\n", key);
    expect_one("config.yaml", text, "MOAT-S-GCP-API", 2, 12, key, 4);
    fake(key, "AIza", ALNUM, 30, 4);
    snprintf(text, sizeof(text), "maps = '%s'\n", key);
    expect_none("x.py",
                text); /* a key the Firebase SDKs publish in their samples (gitleaks allows it) */
    expect_none("x.py", "maps = 'AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs'\n");
}

static void test_azure(void **state)
{
    (void)state;
    char key[100], text[512];
    fake(key, "", B64, 86, 5);
    memcpy(key + 86, "==", 3);
    snprintf(text, sizeof(text),
             "STORAGE = \"DefaultEndpointsProtocol=https;AccountName=moatfake;AccountKey=%s;"
             "EndpointSuffix=core.windows.net\"\n",
             key);
    expect_one("settings.py", text, "MOAT-S-AZURE", 1, (unsigned)(strstr(text, key) - text + 1),
               key, 0);
    expect_none("settings.py", "STORAGE = \"DefaultEndpointsProtocol=https;AccountName=x;"
                               "AccountKey=${AZURE_KEY}\"\n");
}

static void test_github_gitlab(void **state)
{
    (void)state;
    char tok[128], text[256];
    fake(tok, "ghp_", ALNUM, 36, 6);
    snprintf(text, sizeof(text), "GITHUB_TOKEN=%s\n", tok);
    expect_one(".env", text, "MOAT-S-GITHUB", 1, 14, tok, 4);
    fake(tok, "github_pat_", ALNUM, 22, 7);
    fake(tok + 33, "_", ALNUM, 59, 8);
    snprintf(text, sizeof(text), "gh = '%s'\n", tok);
    expect_one("ci.py", text, "MOAT-S-GITHUB", 1, 7, tok, 4);
    expect_none("ci.py", "gh = 'ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'\n");
    expect_none("ci.py", "gh = 'ghp_short'\n");

    fake(tok, "glpat-", ALNUM, 20, 9);
    snprintf(text, sizeof(text), "[gitlab]\nprivate = %s\n", tok);
    expect_one("ci.cfg", text, "MOAT-S-GITLAB", 2, 11, tok, 6);
    expect_none("ci.cfg", "[gitlab]\nprivate = glpat-XXXXXXXXXXXXXXXXXXXX\n");
    /* gitleaks' other GitLab families and the routable PAT format */
    static const struct {
        const char *prefix;
        size_t n;
    } gl[] = {{"gldt-", 20},   {"glft-", 20},     {"glrt-", 20},     {"glsoat-", 20},
              {"glffct-", 20}, {"glimt-", 25},    {"glagent-", 50},  {"gloas-", 64},
              {"glptt-", 40},  {"GR1348941", 20}, {"glcbt-a1_", 20}, {"glpat-", 27}};
    for (size_t i = 0; i < sizeof(gl) / sizeof(gl[0]); i++) {
        fake(tok, gl[i].prefix, ALNUM, gl[i].n, (unsigned)(40 + i));
        if (i == sizeof(gl) / sizeof(gl[0]) - 1) /* routable: .<2 hex><7 base36> */
            memcpy(tok + strlen(tok), ".01abcdefg", sizeof(".01abcdefg"));
        snprintf(text, sizeof(text), "token: %s\n", tok);
        assert_true(has_rule("ci.yml", text, "MOAT-S-GITLAB"));
    }
    /* GR1348941 is public: a made-up rest is not a token */
    expect_none("ci.yml", "token: GR134894112312312312312312312\n");
    fake(tok, "_gitlab_session=", "abcdefghijklmnopqrstuvwxyz0123456789", 32, 61);
    snprintf(text, sizeof(text), "cookie = \"%s\"\n", tok);
    expect_one("ci.py", text, "MOAT-S-GITLAB", 1, 11, tok, 16);
    /* a fine-grained PAT as gitleaks writes it: 82 word characters */
    fake(tok, "github_pat_", ALNUM, 82, 60);
    tok[30] = '_';
    snprintf(text, sizeof(text), "%s\n", tok);
    assert_true(has_rule("notes.txt", text, "MOAT-S-GITHUB"));
}

static void test_slack(void **state)
{
    (void)state;
    char tok[128], text[256];
    fake(tok, "xoxb-123456789012-1234567890123-", ALNUM, 24, 10);
    snprintf(text, sizeof(text), "slack:\n  bot: \"%s\"\n", tok);
    expect_one("slack.yml", text, "MOAT-S-SLACK", 2, 9, tok, 5);
    char hook[160];
    fake(tok, "", ALNUM, 24, 11);
    snprintf(hook, sizeof(hook), "https://hooks.slack.com/services/T0MOAT0FAKE/B0MOATFAKE/%s", tok);
    snprintf(text, sizeof(text), "HOOK = \"%s\"\n", hook);
    expect_one("notify.py", text, "MOAT-S-SLACK-WEBHOOK", 1, 9, hook, 33);
    expect_none("notify.py", "prefix = 'xoxb-'\nalso = 'xoxp-1-2'\n");
    /* gitleaks' other Slack families */
    fake(tok, "xoxo-1234567890-1234567890-1234567890-", "0123456789abcdef", 20, 111);
    snprintf(text, sizeof(text), "t = '%s'\n", tok);
    expect_one("slack.py", text, "MOAT-S-SLACK", 1, 6, tok, 5);
    /* gitleaks' own negatives: digit groups of the wrong length, a
     * configuration token too short */
    expect_none("slack.py", "a = 'xoxb-12345-abcd234'\n"
                            "b = 'xoxp-1234-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d'\n"
                            "c = 'xoxe.xoxp-1-SlackAppConfigurationAccessTokenHere'\n");
    fake(tok, "xoxr-", ALNUM, 20, 112);
    snprintf(text, sizeof(text), "t = '%s'\n", tok);
    expect_one("slack.py", text, "MOAT-S-SLACK", 1, 6, tok, 5);
    fake(tok, "xoxa-2-", ALNUM, 30, 113);
    snprintf(text, sizeof(text), "t = '%s'\n", tok);
    expect_one("slack.py", text, "MOAT-S-SLACK", 1, 6, tok, 5);
    fake(tok, "", ALNUM, 40, 114);
    snprintf(hook, sizeof(hook), "https://hooks.slack.com/workflows/T0MOAT0FAKE/%s", tok);
    snprintf(text, sizeof(text), "HOOK = \"%s\"\n", hook);
    expect_one("notify.py", text, "MOAT-S-SLACK-WEBHOOK", 1, 9, hook, 34);
    /* gitleaks' form: 43 to 56 characters after services/ */
    fake(tok, "", ALNUM, 44, 115);
    snprintf(hook, sizeof(hook), "hooks.slack.com/services/%s", tok);
    snprintf(text, sizeof(text), "HOOK = \"%s\"\n", hook);
    expect_one("notify.py", text, "MOAT-S-SLACK-WEBHOOK", 1, 9, hook, 25);
    expect_none(
        "notify.py",
        "HOOK = 'https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX'\n");
}

/* Every provider of providers.def: its own rule (the capture group of its
 * alternative maps to it), its prefix kept, the rest masked; an obvious
 * fake of the same shape is not reported. */
static void test_providers(void **state)
{
    (void)state;
    static const char LETTERS[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static const char LOWNUM[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    static const struct {
        const char *rule, *pre;
        const char *cs;
        size_t n;
        const char *mid;
        const char *cs2;
        size_t n2;
    } rows[] = {
        {"MOAT-S-OPENAI", "sk-proj-", ALNUM, 74, "T3BlbkFJ", ALNUM, 74},
        {"MOAT-S-ANTHROPIC", "sk-ant-api03-", ALNUM, 93, "AA", ALNUM, 0},
        {"MOAT-S-HUGGINGFACE", "hf_", LETTERS, 34, "", ALNUM, 0},
        {"MOAT-S-PYPI", "pypi-AgEIcHlwaS5vcmc", ALNUM, 60, "", ALNUM, 0},
        {"MOAT-S-NPM", "npm_", LOWNUM, 36, "", ALNUM, 0},
        {"MOAT-S-RUBYGEMS", "rubygems_", HEXLO, 48, "", ALNUM, 0},
        {"MOAT-S-CLOJARS", "CLOJARS_", LOWNUM, 60, "", ALNUM, 0},
        {"MOAT-S-ARTIFACTORY", "AKCp", ALNUM, 69, "", ALNUM, 0},
        {"MOAT-S-AWS-BEDROCK", "ABSK", ALNUM, 120, "", ALNUM, 0},
        {"MOAT-S-AZURE-AD", "abc1Q~", ALNUM, 32, "", ALNUM, 0},
        {"MOAT-S-ALIBABA", "LTAI", ALNUM, 20, "", ALNUM, 0},
        {"MOAT-S-DIGITALOCEAN", "dop_v1_", HEXLO, 64, "", ALNUM, 0},
        {"MOAT-S-CLOUDFLARE", "v1.0-", HEXLO, 24, "-", HEXLO, 146},
        {"MOAT-S-FLYIO", "fo1_", ALNUM, 43, "", ALNUM, 0},
        {"MOAT-S-HEROKU", "HRKU-AA", ALNUM, 58, "", ALNUM, 0},
        {"MOAT-S-SCALINGO", "tk-us-", ALNUM, 48, "", ALNUM, 0},
        {"MOAT-S-OPENSHIFT", "sha256~", ALNUM, 43, "", ALNUM, 0},
        {"MOAT-S-VAULT", "hvs.", ALNUM, 95, "", ALNUM, 0},
        {"MOAT-S-TERRAFORM", "", LOWNUM, 14, ".atlasv1.", LOWNUM, 65},
        {"MOAT-S-PULUMI", "pul-", HEXLO, 40, "", ALNUM, 0},
        {"MOAT-S-DOPPLER", "dp.pt.", LOWNUM, 43, "", ALNUM, 0},
        {"MOAT-S-1PASSWORD", "ops_eyJ", ALNUM, 260, "", ALNUM, 0},
        {"MOAT-S-DATABRICKS", "dapi", HEXLO, 32, "", ALNUM, 0},
        {"MOAT-S-DYNATRACE", "dt0c01.", UPNUM, 24, ".", UPNUM, 64},
        {"MOAT-S-GRAFANA", "glsa_", ALNUM, 32, "_", HEXLO, 8},
        {"MOAT-S-SENTRY", "sntryu_", HEXLO, 64, "", ALNUM, 0},
        {"MOAT-S-PREFECT", "pnu_", ALNUM, 36, "", ALNUM, 0},
        {"MOAT-S-README", "rdme_", LOWNUM, 70, "", ALNUM, 0},
        {"MOAT-S-INFRACOST", "ico-", ALNUM, 32, "", ALNUM, 0},
        {"MOAT-S-POSTMAN", "PMAK-", HEXLO, 24, "-", HEXLO, 34},
        {"MOAT-S-LINEAR", "lin_api_", LOWNUM, 40, "", ALNUM, 0},
        {"MOAT-S-ATLASSIAN", "ATATT3", ALNUM, 186, "", ALNUM, 0},
        {"MOAT-S-NOTION", "ntn_12345678901", ALNUM, 35, "", ALNUM, 0},
        {"MOAT-S-SHOPIFY", "shpat_", HEXLO, 32, "", ALNUM, 0},
        {"MOAT-S-SQUARE", "sq0csp-", ALNUM, 43, "", ALNUM, 0},
        {"MOAT-S-SHIPPO", "shippo_live_", HEXLO, 40, "", ALNUM, 0},
        {"MOAT-S-EASYPOST", "EZAK", ALNUM, 54, "", ALNUM, 0},
        {"MOAT-S-DUFFEL", "duffel_test_", ALNUM, 43, "", ALNUM, 0},
        {"MOAT-S-BREVO", "xkeysib-", HEXLO, 64, "-", LOWNUM, 16},
        {"MOAT-S-PERPLEXITY", "pplx-", ALNUM, 48, "", ALNUM, 0},
        {"MOAT-S-PLANETSCALE", "pscale_tkn_", ALNUM, 40, "", ALNUM, 0},
        {"MOAT-S-FACEBOOK", "EAAM", ALNUM, 110, "", ALNUM, 0},
        {"MOAT-S-ADOBE", "p8e-", ALNUM, 32, "", ALNUM, 0},
        {"MOAT-S-FRAMEIO", "fio-u-", ALNUM, 64, "", ALNUM, 0},
        {"MOAT-S-MAXMIND", "abc123_", ALNUM, 29, "_mmk", ALNUM, 0},
        {"MOAT-S-CLICKHOUSE", "4b1d", ALNUM, 38, "", ALNUM, 0},
        {"MOAT-S-SETTLEMINT", "sm_pat_", ALNUM, 16, "", ALNUM, 0},
    };
    size_t nrules;
    const moat_audit_rule *all = moat_secrets_rules(&nrules);
    char text[640];
    for (size_t i = 0; i < MOAT_ARRAY_LEN(rows); i++) {
        char tok[512];
        fake(tok, rows[i].pre, rows[i].cs, rows[i].n, (unsigned)(200 + i));
        if (*rows[i].mid || rows[i].n2)
            fake(tok + strlen(tok), rows[i].mid, rows[i].cs2, rows[i].n2, (unsigned)(300 + i));
        snprintf(text, sizeof(text), "TOKEN_FOR_IT = \"%s\"\n", tok);
        moat_audit_findings f = {0};
        scan("settings.py", text, &f);
        if (f.len != 1 || strcmp(f.v[0].rule, rows[i].rule) != 0)
            fail_msg("%s: %zu findings, first %s", rows[i].rule, f.len, f.len ? f.v[0].rule : "-");
        assert_non_null(moat_audit_rule_find(all, nrules, rows[i].rule));
        assert_null(strstr(f.v[0].snippet, tok + strlen(tok) - 12)); /* masked */
        moat_audit_findings_free(&f);
        /* the same shape made of one repeated character: a fake */
        memset(tok + strlen(rows[i].pre), 'x', rows[i].n);
        snprintf(text, sizeof(text), "TOKEN_FOR_IT = \"%s\"\n", tok);
        assert_false(has_rule("settings.py", text, rows[i].rule));
    }
    /* a look-alike without the provider's prefix */
    expect_none("x.py", "v = 'pulx0123456789abcdef0123456789abcdef01234567'\n");
    /* the older Atlassian and Vault forms need their names */
    expect_one("jira.py", "jira_api_token = '1g6bas3t3doit2yawmm7c452'\n", "MOAT-S-ATLASSIAN", 1,
               19, "1g6bas3t3doit2yawmm7c452", 0);
    expect_one("vault.yml", "vault_token: s.8MUuHRAtLid4D2wt3Ag7GPEg\n", "MOAT-S-VAULT", 1, 14,
               "s.8MUuHRAtLid4D2wt3Ag7GPEg", 2);
    expect_none("x.py", "x = 's.8MUuHRAtLid4D2wt3Ag7GPEg'\n");
    char at[128];
    fake(at, "patQ7rWk2ZpLm9XaB.", HEXLO, 64, 400);
    snprintf(text, sizeof(text), "airtable_token = '%s'\n", at);
    expect_one("x.py", text, "MOAT-S-AIRTABLE", 1, 19, at, 3);
    snprintf(text, sizeof(text), "pattern = '%s'\n", at + 3); /* not its shape */
    assert_false(has_rule("x.py", text, "MOAT-S-AIRTABLE"));
}

static void test_stripe_sendgrid(void **state)
{
    (void)state;
    char tok[128], text[256];
    fake(tok, "sk_live_", ALNUM, 24, 12);
    snprintf(text, sizeof(text), "stripe.api_key = \"%s\"\n", tok);
    expect_one("pay.py", text, "MOAT-S-STRIPE", 1, 19, tok, 8);
    fake(tok, "rk_live_", ALNUM, 32, 13);
    snprintf(text, sizeof(text), "{\"restricted\": \"%s\"}\n", tok);
    expect_one("keys.json", text, "MOAT-S-STRIPE", 1, 17, tok, 8);
    /* test-mode keys: reported (as gitleaks does), with low confidence */
    fake(tok, "sk_test_", ALNUM, 24, 12);
    snprintf(text, sizeof(text), "stripe_test = \"%s\"\n", tok);
    assert_true(has_rule("pay.py", text, "MOAT-S-STRIPE"));

    char a[32], b[64];
    fake(a, "", ALNUM, 22, 14);
    fake(b, "", ALNUM, 43, 15);
    snprintf(tok, sizeof(tok), "SG.%s.%s", a, b);
    snprintf(text, sizeof(text), "SENDGRID = '%s'\n", tok);
    expect_one("mail.py", text, "MOAT-S-SENDGRID", 1, 13, tok, 3);
    snprintf(text, sizeof(text), "SENDGRID = 'SG.%s.%.*s'\n", a, 20, b);
    expect_none("mail.py", text); /* gitleaks' form: 66 of [A-Za-z0-9=_.-] after SG. */
    fake(tok, "SG.", "abcdefghijklmnopqrstuvwxyz0123456789=_-", 66, 16);
    snprintf(text, sizeof(text), "key: %s\n", tok);
    expect_one("mail.yml", text, "MOAT-S-SENDGRID", 1, 6, tok, 3);
}

static void test_twilio(void **state)
{
    (void)state;
    char sk[64], sid[64], tokv[64], text[512];
    fake(sk, "SK", HEXLO, 32, 16);
    snprintf(text, sizeof(text), "api_key_sid = '%s'\n", sk);
    expect_one("sms.py", text, "MOAT-S-TWILIO-KEY", 1, 16, sk, 2);
    /* one hex digit short, or upper case: not a Twilio SID */
    snprintf(text, sizeof(text), "sid = '%.33s'\nSID = 'SK%s'\n", sk,
             "0123456789ABCDEF0123456789ABCDEF");
    expect_none("sms.py", text);

    fake(sid, "AC", HEXLO, 32, 17);
    fake(tokv, "", HEXLO, 32, 18);
    snprintf(text, sizeof(text),
             "from twilio.rest import Client\naccount = '%s'\nauth_token = '%s'\n", sid, tokv);
    moat_audit_findings f = {0};
    scan("sms.py", text, &f);
    assert_int_equal(f.len, 2);
    assert_string_equal(f.v[0].rule, "MOAT-S-TWILIO-SID");
    assert_int_equal(f.v[0].line, 2);
    assert_string_equal(f.v[1].rule, "MOAT-S-TWILIO-TOKEN");
    assert_int_equal(f.v[1].line, 3);
    assert_int_equal(f.v[1].col, 15);
    assert_null(strstr(f.v[1].snippet, tokv));
    moat_audit_findings_free(&f);

    /* an account SID alone is an identifier */
    snprintf(text, sizeof(text), "from twilio.rest import Client\naccount = '%s'\n", sid);
    expect_none("sms.py", text);
    /* a hex auth token where Twilio is not mentioned: only the generic rule */
    snprintf(text, sizeof(text), "auth_token = '%s'\n", tokv);
    assert_false(has_rule("other.py", text, "MOAT-S-TWILIO-TOKEN"));
    assert_true(has_rule("other.py", text, "MOAT-S-ENTROPY"));
}

static void test_private_key(void **state)
{
    (void)state;
    char body[80], text[512];
    fake(body, "", B64, 64, 19);
    snprintf(text, sizeof(text),
             "-----BEGIN RSA PRIVATE KEY-----\n%s\n%s\n-----END RSA PRIVATE KEY-----\n", body,
             body);
    moat_audit_findings f = {0};
    scan("id_rsa.pem", text, &f);
    assert_int_equal(f.len, 1);
    assert_string_equal(f.v[0].rule, "MOAT-S-PRIVKEY");
    assert_int_equal(f.v[0].line, 1);
    assert_int_equal(f.v[0].col, 1);
    assert_null(strstr(f.v[0].snippet, body));
    moat_audit_findings_free(&f);
    /* on one line (an .env value): the key material is masked */
    snprintf(text, sizeof(text),
             "KEY=\"-----BEGIN OPENSSH PRIVATE KEY-----\\n%s\\n-----END OPENSSH PRIVATE "
             "KEY-----\"\n",
             body);
    expect_one(".env", text, "MOAT-S-PRIVKEY", 1, 6, body, 0);
    /* code that only names the marker holds no key */
    expect_none("pem.py", "if line.startswith('-----BEGIN RSA PRIVATE KEY-----'):\n"
                          "    kind = 'rsa'\n");
    expect_none("pem.py", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n");
}

static void b64url(char *out, const char *in)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = t[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = t[v & 63];
    }
    out[o] = '\0';
}

static void test_jwt(void **state)
{
    (void)state;
    char h[128], p[128], sig[64], jwt[400], text[512];
    b64url(h, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    b64url(p, "{\"sub\":\"moat-test\",\"name\":\"Fake User\",\"iat\":1516239022}");
    fake(sig, "", ALNUM, 43, 20);
    snprintf(jwt, sizeof(jwt), "%s.%s.%s", h, p, sig);
    snprintf(text, sizeof(text), "headers = {'Authorization': 'Bearer %s'}\n", jwt);
    expect_one("client.py", text, "MOAT-S-JWT", 1, 37, jwt, 3);
    /* eyJ... that is not a JWT header (no "alg") */
    b64url(h, "{\"kind\":\"note\",\"v\":1234567}");
    snprintf(jwt, sizeof(jwt), "%s.%s.%s", h, p, sig);
    snprintf(text, sizeof(text), "blob = '%s'\n", jwt);
    expect_none("client.py", text);
}

static void test_url_password(void **state)
{
    (void)state;
    expect_one("settings.py", "DATABASE_URL = 'postgres://app:Tr0ub4dor-3@db.internal:5432/app'\n",
               "MOAT-S-URL-PASSWORD", 1, 32, "Tr0ub4dor-3", 0);
    expect_one(".env", "REDIS_URL=redis://:k9Zq2mWx7Lp@cache:6379/0\n", "MOAT-S-URL-PASSWORD", 1,
               20, "k9Zq2mWx7Lp", 0);
    expect_none("settings.py", "DATABASE_URL = 'postgres://${DB_USER}:${DB_PASSWORD}@db/app'\n"
                               "URL = f'postgres://{user}:{password}@{host}/app'\n"
                               "URL2 = 'mysql://%s:%s@%s/app' % (u, p, h)\n"
                               "DOC = 'https://user:password@example.com/'\n"
                               "DOC2 = 'https://<user>:<pass>@host/'\n"
                               "SSH = 'ssh://git@github.com/org/repo'\n");
}

static void test_entropy_assignments(void **state)
{
    (void)state;
    char v[64], text[256];
    fake(v, "", ALNUM, 32, 21);
    snprintf(text, sizeof(text), "SECRET_KEY = '%s'\n", v);
    expect_one("settings.py", text, "MOAT-S-ENTROPY", 1, 15, v, 0);
    snprintf(text, sizeof(text), "[app]\nsigning_secret: %s\n", v);
    expect_one("app.ini", text, "MOAT-S-ENTROPY", 2, 17, v, 0);
    snprintf(text, sizeof(text), "{\"api_token\": \"%s\"}\n", v);
    expect_one("c.json", text, "MOAT-S-ENTROPY", 1, 16, v, 0);
    snprintf(text, sizeof(text), "[tool.app]\napi_key = \"%s\"\n", v);
    expect_one("pyproject.toml", text, "MOAT-S-ENTROPY", 2, 12, v, 0);
    fake(v, "", HEXLO, 32, 22);
    snprintf(text, sizeof(text), "webhook_secret = \"%s\"\n", v);
    expect_one("hooks.py", text, "MOAT-S-ENTROPY", 1, 19, v, 0);

    /* what must stay quiet: environment reads, empties, placeholders, low
     * entropy, unquoted expressions in code, innocent names */
    expect_none("settings.py", "import os\n"
                               "SECRET_KEY = os.environ['SECRET_KEY']\n"
                               "API_TOKEN = os.getenv('API_TOKEN')\n"
                               "TOKEN2 = os.environ.get('TOKEN2', '')\n"
                               "password = ''\n"
                               "token = \"\"\n"
                               "api_key = '<your-api-key>'\n"
                               "secret = 'changeme'\n"
                               "SECRET_KEY = 'aaaaaaaabbbbbbbbccccccccdddddddd'\n"
                               "token = get_token(request)\n"
                               "token_url = 'https://oauth2.googleapis.com/token'\n"
                               "MAX_TOKEN_LENGTH = 4096\n"
                               "secret_key_file = '/run/secrets/key-2f8a9c7d1e3b4a5f6'\n");
    expect_none(".env", "SECRET_KEY=${SECRET_KEY}\nAPI_TOKEN=\nTOKEN=$(cat /run/token)\n"
                        "API_KEY=your-api-key-here\n");
    expect_none("values.yaml", "auth:\n  token: !vault |\n  password: \"{{ db_password }}\"\n");
    /* unquoted in Python is an expression, never a literal */
    fake(v, "", ALNUM, 32, 21);
    snprintf(text, sizeof(text), "SECRET_KEY = %s\n", v);
    expect_none("settings.py", text);
}

static void test_config_password(void **state)
{
    (void)state;
    expect_one(".env", "DB_USER=app\nDB_PASSWORD=hunter2hunter\n", "MOAT-S-PASSWORD", 2, 13,
               "hunter2hunter", 0);
    expect_one("db.yaml", "db:\n  password: 'letmein42'\n", "MOAT-S-PASSWORD", 2, 14, "letmein42",
               0);
    /* in code, a low-entropy password is the code analyser's B105, not ours */
    expect_none("db.py", "password = 'letmein42'\n");
    expect_none(".env", "DB_PASSWORD=\nDB_PASSWORD_FILE=/run/secrets/db\nPASSWORD=changeme\n");
}

static void test_suppression(void **state)
{
    (void)state;
    char key[32], text[512];
    fake(key, "AKIA", UPNUM, 16, 23);
    moat_audit_findings f = {0};
    snprintf(text, sizeof(text),
             "a = '%s'  # pragma: allowlist secret\n"
             "# pragma: allowlist nextline secret\n"
             "b = '%s'\n"
             "c = '%s'  # moat: ignore[MOAT-S-AWS]\n"
             "d = '%s'  # an ordinary comment\n",
             key, key, key, key);
    assert_int_equal(scan("k.py", text, &f), 3);
    assert_int_equal(f.len, 1);
    assert_int_equal(f.v[0].line, 5);
    moat_audit_findings_free(&f);
    snprintf(text, sizeof(text), "const a = '%s'; // pragma: allowlist secret\n", key);
    expect_none("k.js", text);
}

static void test_masking(void **state)
{
    (void)state;
    char a[64], b[64], text[256];
    fake(a, "ghp_", ALNUM, 36, 24);
    fake(b, "AKIA", UPNUM, 16, 25);
    snprintf(text, sizeof(text), "x = ['%s', '%s']\n", a, b);
    moat_audit_findings f = {0};
    scan("two.py", text, &f);
    assert_int_equal(f.len, 2);
    for (size_t i = 0; i < 2; i++) {
        /* each snippet hides both secrets, keeping the public prefixes */
        assert_null(strstr(f.v[i].snippet, a + 4));
        assert_null(strstr(f.v[i].snippet, b + 4));
        assert_non_null(strstr(f.v[i].snippet, "ghp_****"));
        assert_non_null(strstr(f.v[i].snippet, "AKIA****"));
        assert_int_equal(strlen(f.v[i].snippet), strlen(text) - 1);
    }
    moat_audit_findings_free(&f);

    /* a secret inside a name is not repeated by the message naming it */
    char v[64];
    fake(a, "ghp_", ALNUM, 36, 31);
    fake(v, "", ALNUM, 40, 32);
    snprintf(text, sizeof(text), "key-%s-x = %s\n", a, v);
    scan("odd.env", text, &f);
    assert_int_equal(f.len, 2);
    assert_string_equal(f.v[1].rule, "MOAT-S-ENTROPY");
    for (size_t i = 0; i < 2; i++) {
        assert_null(strstr(f.v[i].message, a + 4));
        assert_null(strstr(f.v[i].snippet, a + 4));
        assert_null(strstr(f.v[i].snippet, v));
    }
    moat_audit_findings_free(&f);

    /* a minified line: the snippet is a window around the secret, masked */
    char *big = malloc(20000);
    memset(big, 'a', 19000);
    fake(a, "ghp_", ALNUM, 36, 26);
    memcpy(big + 15000, " = '", 4);
    memcpy(big + 15004, a, strlen(a));
    memcpy(big + 15004 + strlen(a), "';", 3);
    scan("min.js", big, &f);
    assert_int_equal(f.len, 1);
    assert_int_equal(f.v[0].col, 15005);
    assert_true(strlen(f.v[0].snippet) <= 310);
    assert_null(strstr(f.v[0].snippet, a + 4));
    moat_audit_findings_free(&f);
    free(big);
}

static void test_notebook(void **state)
{
    (void)state;
    char tok[64], v[64], nb[2048];
    fake(tok, "ghp_", ALNUM, 36, 27);
    fake(v, "", ALNUM, 40, 28);
    snprintf(nb, sizeof(nb),
             "{\n"
             " \"cells\": [\n"
             "  {\n"
             "   \"cell_type\": \"code\",\n"
             "   \"source\": [\n"
             "    \"import os\\n\",\n"
             "    \"token = \\\"%s\\\"\\n\",\n"
             "    \"api_key = \\\"%s\\\"\\n\",\n"
             "    \"SECRET_KEY = os.environ[\\\"SECRET_KEY\\\"]\\n\",\n"
             "    \"caf\\u00e9 = 1\"\n"
             "   ],\n"
             "   \"outputs\": [{\"data\": {\"image/png\": \"%s%s\"}}]\n"
             "  }\n"
             " ],\n"
             " \"nbformat\": 4\n"
             "}\n",
             tok, v, "AKIAZZZZ", "YYYYQQQQ9876");
    moat_audit_findings f = {0};
    scan("analysis.ipynb", nb, &f);
    assert_int_equal(f.len, 2);
    assert_string_equal(f.v[0].rule, "MOAT-S-GITHUB");
    assert_int_equal(f.v[0].line, 7);
    assert_int_equal(f.v[0].col, 16); /* the column in the notebook file */
    assert_null(strstr(f.v[0].snippet, tok + 4));
    assert_string_equal(f.v[1].rule, "MOAT-S-ENTROPY");
    assert_int_equal(f.v[1].line, 8);
    assert_int_equal(f.v[1].col, 18);
    assert_null(strstr(f.v[1].snippet, v));
    moat_audit_findings_free(&f);

    /* not JSON at all: still scanned as text, outside quotes too */
    snprintf(nb, sizeof(nb), "x \"y\" = %s\n", tok);
    scan("fake.ipynb", nb, &f);
    assert_int_equal(f.len, 1);
    moat_audit_findings_free(&f);
    /* an unterminated string */
    snprintf(nb, sizeof(nb), "{\"source\": \"unterminated %s\n", tok);
    scan("broken.ipynb", nb, &f);
    assert_int_equal(f.len, 1);
    assert_string_equal(f.v[0].rule, "MOAT-S-GITHUB");
    moat_audit_findings_free(&f);
}

static void test_binary_and_edges(void **state)
{
    (void)state;
    char tok[64], buf[128];
    fake(tok, "ghp_", ALNUM, 36, 29);
    size_t n = (size_t)snprintf(buf, sizeof(buf), "x%cy = '%s'\n", '\0', tok);
    assert_true(moat_secrets_is_binary(buf, n));
    moat_audit_findings f = {0};
    assert_int_equal(moat_secrets_scan(S, "a.bin", buf, n, &f, NULL), 0);
    assert_int_equal(f.len, 0);
    assert_int_equal(moat_secrets_scan(S, "empty.py", "", 0, &f, NULL), 0);
    assert_int_equal(f.len, 0);
    /* CRLF line endings: the snippet has no '\r' */
    snprintf(buf, sizeof(buf), "a = 1\r\ntok = '%s'\r\n", tok);
    scan("crlf.py", buf, &f);
    assert_int_equal(f.len, 1);
    assert_int_equal(f.v[0].line, 2);
    assert_null(strchr(f.v[0].snippet, '\r'));
    moat_audit_findings_free(&f);
}

static void test_entropy_numbers(void **state)
{
    (void)state;
    const char *cs;
    double limit;
    /* values detect-secrets' HighEntropyStringsPlugin computes for these */
    assert_true(fabs(moat__secrets_entropy("0123456789abcdef", 16, &cs, &limit) - 4.0) < 1e-9);
    assert_string_equal(cs, "hex");
    assert_true(limit == 3.0);
    double digits = log2(10.0) - 1.2 / log2(10.0); /* all-digit strings are lowered */
    assert_true(fabs(moat__secrets_entropy("1234567890", 10, &cs, &limit) - digits) < 1e-9);
    assert_true(fabs(moat__secrets_entropy("ghij", 4, &cs, &limit) - 2.0) < 1e-9);
    assert_string_equal(cs, "base64");
    assert_true(limit == 4.5);
    moat__secrets_entropy("a b!", 4, &cs, &limit);
    assert_string_equal(cs, "text");
    assert_true(moat__secrets_placeholder("${SECRET}", 9));
    assert_true(moat__secrets_placeholder("AKIAIOSFODNN7EXAMPLE", 20));
    assert_false(moat__secrets_placeholder("k9Zq2mWx7Lp", 11));
}

static void test_rules_table(void **state)
{
    (void)state;
    /* compiled once, every pattern by the JIT where PCRE2 has one */
    uint32_t jit = 0;
    pcre2_config(PCRE2_CONFIG_JIT, &jit);
    size_t total, compiled = moat__secrets_jit_compiled(S, &total);
    assert_int_equal(compiled, jit ? total : 0);
    size_t n;
    const moat_audit_rule *r = moat_secrets_rules(&n);
    assert_true(n >= 18);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r[i].cwe, 798);
        assert_non_null(r[i].doc);
        assert_true(strncmp(r[i].id, "MOAT-S-", 7) == 0);
        assert_ptr_equal(moat_audit_rule_find(r, n, r[i].id), &r[i]);
    }
}

/* ---- the tree walk --------------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    moat_test_write(path, text, n);
}

static void test_walk(void **state)
{
    (void)state;
    char dir[] = "/tmp/moat-secrets-XXXXXX", sub[600], tok[64], text[128];
    assert_non_null(mkdtemp(dir));
    fake(tok, "ghp_", ALNUM, 36, 30);
    size_t n = (size_t)snprintf(text, sizeof(text), "t = '%s'\n", tok);
    const char *dirs[] = {"src", ".git", "node_modules", "__pycache__", "myenv", "src/deep"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(dirs); i++) {
        snprintf(sub, sizeof(sub), "%s/%s", dir, dirs[i]);
        assert_int_equal(mkdir(sub, 0700), 0);
    }
    write_file(dir, "src/app.py", text, n);
    write_file(dir, "src/deep/b.txt", text, n);
    write_file(dir, ".git/config", text, n);
    write_file(dir, "node_modules/x.js", text, n);
    write_file(dir, "__pycache__/a.py", text, n);
    write_file(dir, "myenv/pyvenv.cfg", "home = /usr/bin\n", 16);
    write_file(dir, "myenv/lib.py", text, n);
    text[1] = '\0'; /* a NUL: binary */
    write_file(dir, "blob.bin", text, n);
    char *big = malloc(3000);
    memset(big, '#', 3000);
    write_file(dir, "big.txt", big, 3000);
    free(big);
    snprintf(sub, sizeof(sub), "%s/src/app.py", dir);
    char link[600];
    snprintf(link, sizeof(link), "%s/link.py", dir);
    assert_int_equal(symlink(sub, link), 0);

    moat_audit_findings f = {0};
    moat_secrets_stats st = {0};
    moat_buf notes;
    moat_buf_init(&notes);
    char *err = NULL;
    const char *const exclude[] = {"*.txt"};
    assert_int_equal(moat_secrets_scan_tree(S, dir, NULL, 0, 2048, &f, &st, &notes, &err), 0);
    assert_null(err);
    assert_int_equal(f.len, 2);
    snprintf(sub, sizeof(sub), "%s/src/app.py", dir);
    assert_string_equal(f.v[0].path, sub);
    snprintf(sub, sizeof(sub), "%s/src/deep/b.txt", dir);
    assert_string_equal(f.v[1].path, sub);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.skipped_binary, 1);
    assert_int_equal(st.skipped_large, 1);
    assert_non_null(strstr(notes.data, "big.txt: skipped, 3000 bytes is over the 2048-byte limit"));
    moat_audit_findings_free(&f);

    /* exclude globs; a single file as the root; a missing root */
    assert_int_equal(moat_secrets_scan_tree(S, dir, exclude, 1, 0, &f, &st, &notes, &err), 0);
    assert_int_equal(f.len, 1);
    assert_non_null(strstr(f.v[0].path, "src/app.py"));
    moat_audit_findings_free(&f);
    snprintf(sub, sizeof(sub), "%s/src/app.py", dir);
    assert_int_equal(moat_secrets_scan_tree(S, sub, NULL, 0, 0, &f, &st, &notes, &err), 0);
    assert_int_equal(f.len, 1);
    moat_audit_findings_free(&f);
    snprintf(sub, sizeof(sub), "%s/nope", dir);
    assert_int_equal(moat_secrets_scan_tree(S, sub, NULL, 0, 0, &f, &st, &notes, &err),
                     MOAT_ENOENT);
    assert_non_null(strstr(err, "nope"));
    free(err);
    moat_buf_free(&notes);
    moat_test_rmtree(dir);
}

/* Several secrets on one line, overlapping detectors (a generic assignment
 * whose value holds an AWS key id and its secret): every snippet masks every
 * secret of its line, and moat_secrets_mask does the same to any text. */
static void test_mask_every_secret_of_a_line(void **state)
{
    (void)state;
    char g1[64], g2[64], aws[32], sec[64], gen[64], text[512];
    fake(g1, "ghp_", ALNUM, 36, 181);
    fake(g2, "ghp_", ALNUM, 36, 182);
    fake(aws, "AKIA", UPNUM, 16, 183);
    fake(sec, "", B64, 40, 184);
    fake(gen, "", ALNUM, 32, 185);
    snprintf(text, sizeof(text),
             "API_KEY = \"%s:%s\"; a = \"%s\"; b = \"%s\"\nSECRET_TOKEN = \"%s,%s\"\n", aws, sec,
             g1, g2, gen, g1);
    moat_audit_findings f = {0};
    scan("app.py", text, &f);
    assert_true(f.len >= 4);
    for (size_t i = 0; i < f.len; i++) {
        const char *sn = f.v[i].snippet;
        assert_null(strstr(sn, g1 + 4));
        assert_null(strstr(sn, g2 + 4));
        assert_null(strstr(sn, aws + 4));
        assert_null(strstr(sn, sec));
        assert_null(strstr(sn, gen));
    }
    moat_audit_findings_free(&f);

    char line[512];
    snprintf(line, sizeof(line),
             "x = eval(y); password = \"Hunter12Blue\"; k = \"%s\"; s = \"{\\\"token\\\": "
             "\\\"%s\\\"}\"",
             g1, gen);
    moat_secrets_mask(moat_secrets_shared(), "app.py", line);
    assert_null(strstr(line, "Hunter12Blue"));
    assert_null(strstr(line, g1 + 4));
    assert_null(strstr(line, gen));
    assert_non_null(strstr(line, "x = eval(y); password = \"*"));
    assert_non_null(strstr(line, "ghp_*"));
    /* nothing to hide: the text is left alone */
    snprintf(line, sizeof(line), "sorted(x, key=\"name\"); timeout = 30");
    moat_secrets_mask(moat_secrets_shared(), "app.py", line);
    assert_string_equal(line, "sorted(x, key=\"name\"); timeout = 30");
}

/* In Python files only real comments suppress: "# nosec" in a string does
 * not; in other files the marker is text after any '#'. */
static void test_nosec_in_a_string(void **state)
{
    (void)state;
    char g[64], text[256];
    fake(g, "ghp_", ALNUM, 36, 191);
    snprintf(text, sizeof(text), "k = \"%s\"; s = \"# nosec\"\nj = \"%s\"  # nosec\n", g, g);
    moat_audit_findings f = {0};
    assert_int_equal(scan("app.py", text, &f), 1);
    assert_int_equal(f.len, 1);
    assert_int_equal(f.v[0].line, 1);
    moat_audit_findings_free(&f);
    assert_int_equal(scan("notes.txt", text, &f), 2);
    assert_int_equal(f.len, 0);
    moat_audit_findings_free(&f);
}

/* Assignment shapes of other languages: Go and TypeScript types, PHP .=,
 * make ?= and ::=, a setter's (name, value) arguments, XML elements. */
static void test_assignment_shapes(void **state)
{
    (void)state;
    char v[64], text[256];
    static const struct {
        const char *path, *fmt;
        unsigned col;
    } shapes[] = {
        {"main.go", "var apiToken string = \"%s\"\n", 24},
        {"app.ts", "const apiKey: string = \"%s\";\n", 25},
        {"a.php", "$secret_key .= \"%s\";\n", 17},
        {"Makefile", "API_TOKEN ?= %s\n", 14},
        {"Makefile", "SECRET_KEY ::= %s\n", 16},
        {"App.java", "System.setProperty(\"svc.api.token\", \"%s\");\n", 38},
        {"conf.xml", "<cfg><apiKey>%s</apiKey></cfg>\n", 14},
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(shapes); i++) {
        fake(v, "", ALNUM, 36, (unsigned)(i == 5 ? 306 : 300 + i)); /* entropy > 4.5 */
        snprintf(text, sizeof(text), shapes[i].fmt, v);
        expect_one(shapes[i].path, text, "MOAT-S-ENTROPY", 1, shapes[i].col, v, 0);
    }
    /* comparisons and low-entropy values are not assignments of secrets */
    expect_none("main.go", "if apiToken == \"abc\" {}\nvar apiToken string = \"dev\"\n");
    expect_none("conf.xml", "<apiKey>${API_KEY}</apiKey>\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws),
        cmocka_unit_test(test_gcp),
        cmocka_unit_test(test_azure),
        cmocka_unit_test(test_github_gitlab),
        cmocka_unit_test(test_slack),
        cmocka_unit_test(test_providers),
        cmocka_unit_test(test_stripe_sendgrid),
        cmocka_unit_test(test_twilio),
        cmocka_unit_test(test_private_key),
        cmocka_unit_test(test_jwt),
        cmocka_unit_test(test_url_password),
        cmocka_unit_test(test_entropy_assignments),
        cmocka_unit_test(test_config_password),
        cmocka_unit_test(test_suppression),
        cmocka_unit_test(test_masking),
        cmocka_unit_test(test_notebook),
        cmocka_unit_test(test_binary_and_edges),
        cmocka_unit_test(test_entropy_numbers),
        cmocka_unit_test(test_rules_table),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_mask_every_secret_of_a_line),
        cmocka_unit_test(test_nosec_in_a_string),
        cmocka_unit_test(test_assignment_shapes),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
