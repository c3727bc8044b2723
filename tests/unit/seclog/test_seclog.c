/* test_seclog.c - unit tests of the security log: the redaction table
 * (secrets in fields, headers, text, paths and queries never survive), JSON
 * writing and reading, the chain's cryptography against OpenSSL computed
 * independently, the key file, the writer (sealing, epochs, rotation,
 * reopen, reload, restart, crash repair, queue overflow, a disk that refuses
 * writes, syslog) and the verifier against every kind of tampering. Each
 * test runs in a fresh temporary directory (chdir'd into, removed after). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "seclog/internal.h"
#include "seclog/seclog.h"
#include "../test_helpers.h"

/* ---- fixtures ------------------------------------------------------------- */

typedef moat_test_dir fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    if (moat_test_dir_make(f, "seclog", true) < 0) {
        free(f);
        return -1;
    }
    moat__seclog_queue_capacity = 16384;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = moat_test_dir_remove(f);
    free(f);
    return rc;
}

static char *slurp(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    if (moat_read_file(path, &data, &len) < 0) return NULL;
    return data;
}

static moat_config *make_cfg(const char *security, const char *seal_key)
{
    moat_config *c = moat_config_default();
    free(c->log.security);
    c->log.security = moat_xstrdup(security);
    free(c->log.seal_key);
    c->log.seal_key = moat_xstrdup(seal_key);
    return c;
}

static char *init_key(const char *path)
{
    char *vkey = NULL, *err = NULL;
    assert_int_equal(moat_seclog_keygen(path, false, &vkey, &err), 0);
    assert_non_null(vkey);
    return vkey;
}

static void record(moat_seclog *log, const char *event, const char *rid)
{
    moat_seclog_field f[] = {{"rule", "r1"}};
    moat_seclog_event ev = {.event = event,
                            .severity = MOAT_SECLOG_WARNING,
                            .request_id = rid,
                            .client = "192.0.2.7",
                            .method = "GET",
                            .path = "/x?password=hunter2",
                            .reason = "a test",
                            .stage = "limits",
                            .config_key = "limits.url_bytes",
                            .status = 414,
                            .fields = f,
                            .nfields = 1};
    moat_seclog_record(log, &ev);
}

static void write_events(moat_config *cfg, int n, const char *prefix)
{
    moat_seclog *log = NULL;
    char *err = NULL;
    assert_int_equal(moat_seclog_open(cfg, &log, &err), 0);
    assert_non_null(log);
    for (int i = 0; i < n; i++) {
        char rid[32];
        snprintf(rid, sizeof(rid), "%s%d", prefix, i);
        record(log, "http.rejected", rid);
    }
    moat_seclog_close(log);
}

/* Verifies files (NULL-terminated list of paths); returns the verdict. */
static int verify_files(const char *const *paths, const char *key, const char *anchor,
                        moat_seclog_verdict *v)
{
    moat_seclog_input in[16] = {{0}};
    char *data[16] = {0};
    size_t n = 0;
    for (; paths[n]; n++) {
        size_t len = 0;
        data[n] = NULL;
        assert_int_equal(moat_read_file(paths[n], &data[n], &len), 0);
        in[n] = (moat_seclog_input){paths[n], data[n], len};
    }
    moat_seclog_verify_opts o = {.key = key, .anchor = anchor};
    int rc = moat_seclog_verify(in, n, &o, v);
    for (size_t i = 0; i < n; i++)
        free(data[i]);
    return rc;
}

static int verify_text(const char *text, const char *key, moat_seclog_verdict *v)
{
    moat_seclog_input in = {"log", text, strlen(text)};
    moat_seclog_verify_opts o = {.key = key};
    return moat_seclog_verify(&in, 1, &o, v);
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* The text with its lines rearranged: order lists 1-based line numbers. */
static char *relines(const char *text, const int *order, size_t n)
{
    const char *lines[4096];
    size_t lens[4096], nl = 0;
    for (const char *p = text; *p && nl < 4096;) {
        const char *e = strchr(p, '\n');
        lines[nl] = p;
        lens[nl++] = (size_t)(e - p) + 1;
        p = e + 1;
    }
    moat_buf b;
    moat_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        assert_true(order[i] >= 1 && (size_t)order[i] <= nl);
        moat_buf_append(&b, lines[order[i] - 1], lens[order[i] - 1]);
    }
    return moat_buf_steal(&b);
}

/* ---- redaction ---------------------------------------------------------------- */

static void test_secret_names(void **state)
{
    (void)state;
    static const char *const secret[] = {"password",
                                         "Password",
                                         "passwd",
                                         "pass",
                                         "user_password",
                                         "PASSWORD_HASH",
                                         "pwd",
                                         "secret",
                                         "client_secret",
                                         "token",
                                         "access_token",
                                         "refresh-token",
                                         "api_key",
                                         "apikey",
                                         "X-Api-Key",
                                         "key",
                                         "authorization",
                                         "Authorization",
                                         "Proxy-Authorization",
                                         "auth",
                                         "cookie",
                                         "Set-Cookie",
                                         "session",
                                         "sessionid",
                                         "session_id",
                                         "PHPSESSID",
                                         "JSESSIONID",
                                         "csrf",
                                         "csrftoken",
                                         "csrfmiddlewaretoken",
                                         "X-CSRF-Token",
                                         "xsrf-token",
                                         "otp",
                                         "totp",
                                         "totp_code",
                                         "code",
                                         "otp-code",
                                         "mfa",
                                         "mfa_code",
                                         "pin",
                                         "card_number",
                                         "cardNumber",
                                         "cvv",
                                         "ssn",
                                         "credentials",
                                         "private_key",
                                         "signature",
                                         "sig",
                                         "jwt",
                                         "recovery_codes",
                                         "pass%77ord",
                                         "sortKey",
                                         "x.password",
                                         "Bearer"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(secret); i++) {
        if (!moat_seclog_secret_name(secret[i], strlen(secret[i])))
            fail_msg("'%s' should be a secret name", secret[i]);
    }
    static const char *const plain[] = {"user",    "username", "email", "next",   "q",
                                        "page",    "lang",     "rule",  "status", "keyboard",
                                        "zipcode", "shipping", "path",  "host",   "limit"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(plain); i++) {
        if (moat_seclog_secret_name(plain[i], strlen(plain[i])))
            fail_msg("'%s' should not be a secret name", plain[i]);
    }
}

typedef struct redact_case {
    char kind; /* 't' text, 'p' path, 'q' path keeping the query, 'f' field name=value */
    const char *name;
    const char *input;
    const char *secret;   /* must not appear in the output */
    const char *expected; /* exact output, or NULL */
} redact_case;

static const redact_case redact_cases[] = {
    /* fields, redacted by name */
    {'f', "password", "hunter2", "hunter2", "[redacted]"},
    {'f', "Authorization", "Bearer abcDEF123456", "abcDEF123456", "[redacted]"},
    {'f', "Cookie", "sessionid=abc123; theme=dark", "abc123", "[redacted]"},
    {'f', "Set-Cookie", "sid=zzz999; HttpOnly", "zzz999", "[redacted]"},
    {'f', "totp", "493021", "493021", "[redacted]"},
    {'f', "code", "493021", "493021", "[redacted]"},
    {'f', "csrfmiddlewaretoken", "Xy12", "Xy12", "[redacted]"},
    {'f', "session_id", "0123", "0123", "[redacted]"},
    {'f', "api_key", "k-1", "k-1", "[redacted]"},
    /* fields, redacted by look */
    {'f', "header", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig12345",
     "eyJzdWIiOiIxIn0", "Authorization: [redacted]"},
    {'f', "note", "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl here", "eyJzdWIi",
     "jwt [redacted] here"},
    {'f', "note", "sid 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a", "3f9a8b7c6d5e4f3a",
     "sid [redacted]"},
    {'f', "note", "card 4111 1111 1111 1111 used", "4111 1111", "card [redacted] used"},
    {'f', "note", "card 4111-1111-1111-1111", "1111-1111", "card [redacted]"},
    {'f', "rule", "942100", NULL, "942100"},
    /* free text */
    {'t', NULL, "login failed, form had password=hunter2&user=bob", "hunter2",
     "login failed, form had password=[redacted]&user=bob"},
    {'t', NULL, "{\"password\": \"hunter2\", \"user\": \"bob\"}", "hunter2",
     "{\"password\": \"[redacted]\", \"user\": \"bob\"}"},
    {'t', NULL, "token: abc.def.ghi", "abc.def", "token: [redacted]"},
    {'t', NULL, "Cookie: a=1; sessionid=xyz", "xyz", "Cookie: [redacted]"},
    {'t', NULL, "Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", "Authorization: [redacted]"},
    {'t', NULL, "got Bearer AbCdEf123456 from client", "AbCdEf123456",
     "got Bearer [redacted] from client"},
    {'t', NULL, "Basic authentication failed", NULL, "Basic authentication failed"},
    {'t', NULL, "url https://bob:hunter2@example.com/x", "hunter2",
     "url https://[redacted]@example.com/x"},
    {'t', NULL, "otp=123456", "123456", "otp=[redacted]"},
    {'t', NULL, "pass%77ord=hunter2", "hunter2", "pass%77ord=[redacted]"},
    {'t', NULL, "request id Ab3dEf6hIj9kLm2nOp5qRs stays", NULL,
     "request id Ab3dEf6hIj9kLm2nOp5qRs stays"},
    {'t', NULL, "Host 'evil.example' is not allowed", NULL, "Host 'evil.example' is not allowed"},
    {'t', NULL, "at 12:30:00, 2001:db8::1 tried", NULL, "at 12:30:00, 2001:db8::1 tried"},
    /* paths */
    {'p', NULL, "/login?password=hunter2&next=/", "hunter2", "/login"},
    {'p', NULL, "/a/b#frag", NULL, "/a/b"},
    {'p', NULL, "/x;jsessionid=ABC123?y=1", "ABC123", "/x;jsessionid=[redacted]"},
    {'p', NULL, "/reset/9f8e7d6c5b4a39281706f5e4d3c2b1a0fedcba98", "9f8e7d6c5b4a",
     "/reset/[redacted]"},
    {'p', NULL, "/static/app.css", NULL, "/static/app.css"},
    {'q', NULL, "/login?password=hunter2&next=/home", "hunter2",
     "/login?password=[redacted]&next=/home"},
    {'q', NULL, "/cb?code=abc&state=xyz&access_token=T0k3n", "T0k3n",
     "/cb?code=[redacted]&state=xyz&access_token=[redacted]"},
    {'q', NULL, "/s?q=hello+world&session%5Fid=zz9", "zz9",
     "/s?q=hello+world&session%5Fid=[redacted]"},
    {'q', NULL, "/s?flag&otp=1", NULL, "/s?flag&otp=[redacted]"},
};

static void test_redaction_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(redact_cases); i++) {
        const redact_case *c = &redact_cases[i];
        moat_buf b;
        moat_buf_init(&b);
        const char *out;
        moat_seclog_entry e = {0};
        if (c->kind == 'f') {
            moat_seclog_field f = {c->name, c->input};
            moat_seclog_event ev = {.event = "waf.blocked", .fields = &f, .nfields = 1};
            struct timespec ts = {0, 0};
            moat_buf_putc(&b, '{');
            moat__seclog_format_event(&b, &ev, false, &ts);
            moat_buf_putc(&b, '}');
            assert_int_equal(moat_seclog_entry_parse(b.data, b.len, &e), 0);
            char name[80];
            snprintf(name, sizeof(name), "%s", c->name);
            out = moat_seclog_entry_get(&e, name);
            assert_non_null(out);
        } else if (c->kind == 't') {
            moat_seclog_redact_text(&b, c->input, strlen(c->input));
            out = b.data;
        } else {
            moat_seclog_redact_path(&b, c->input, c->kind == 'q');
            out = b.data ? b.data : "";
        }
        if (c->secret && strstr(out, c->secret))
            fail_msg("case %zu (%s): secret '%s' leaked: %s", i, c->input, c->secret, out);
        if (c->expected && strcmp(out, c->expected) != 0)
            fail_msg("case %zu (%s): got '%s', expected '%s'", i, c->input, out, c->expected);
        moat_seclog_entry_free(&e);
        moat_buf_free(&b);
    }
}

/* Every standard field goes through redaction too, and the line stays one
 * well-formed object with bounded values. */
static void test_event_format(void **state)
{
    (void)state;
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    moat_seclog_field fields[] = {{"path", "shadowed"},    {"rule", "1"}, {"rule", "dup"},
                                  {"we\"ird\n", "v"},      {"long", big}, {"skip", NULL},
                                  {"ctl", "a\x01\x7f\xff"}};
    moat_seclog_event ev = {.event = "http.rejected",
                            .severity = MOAT_SECLOG_CRITICAL,
                            .request_id = "rid",
                            .client = "::1",
                            .user = "bob password=hunter2",
                            .method = "GET",
                            .path = "/p?token=zz",
                            .reason = "Bearer AbCdEf123456",
                            .status = 400,
                            .fields = fields,
                            .nfields = MOAT_ARRAY_LEN(fields)};
    struct timespec ts = {1700000000, 123456789};
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_putc(&b, '{');
    moat__seclog_format_event(&b, &ev, false, &ts);
    moat_buf_putc(&b, '}');
    assert_null(strstr(b.data, "hunter2"));
    assert_null(strstr(b.data, "AbCdEf123456"));
    assert_null(strstr(b.data, "zz"));
    moat_seclog_entry e;
    assert_int_equal(moat_seclog_entry_parse(b.data, b.len, &e), 0);
    assert_string_equal(moat_seclog_entry_get(&e, "time"), "2023-11-14T22:13:20.123456Z");
    assert_string_equal(moat_seclog_entry_get(&e, "severity"), "critical");
    assert_string_equal(moat_seclog_entry_get(&e, "path"), "/p");
    assert_string_equal(moat_seclog_entry_get(&e, "status"), "400");
    assert_string_equal(moat_seclog_entry_get(&e, "x_path"), "shadowed");
    assert_string_equal(moat_seclog_entry_get(&e, "rule"), "1");
    assert_string_equal(moat_seclog_entry_get(&e, "we_ird_"), "v");
    assert_null(moat_seclog_entry_get(&e, "skip"));
    assert_string_equal(moat_seclog_entry_get(&e, "ctl"), "a\x01\x7f\xef\xbf\xbd");
    const char *lng = moat_seclog_entry_get(&e, "long");
    assert_int_equal(strlen(lng), MOAT__SECLOG_VALUE_MAX + 5);
    assert_non_null(strstr(lng, "[...]"));
    moat_seclog_entry_free(&e);
    moat_buf_free(&b);
}

/* ---- JSON ------------------------------------------------------------------ */

static void test_json(void **state)
{
    (void)state;
    moat_seclog_entry e;
    const char *good = " {\"a\":\"x\\u00e9\\ud83d\\ude00\\n\",\"b\":-1.5e3,\"c\":true,\"d\":null} ";
    assert_int_equal(moat_seclog_entry_parse(good, strlen(good), &e), 0);
    assert_int_equal(e.n, 4);
    assert_string_equal(moat_seclog_entry_get(&e, "a"), "x\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_string_equal(moat_seclog_entry_get(&e, "b"), "-1.5e3");
    assert_true(e.is_string[0]);
    assert_false(e.is_string[1]);
    moat_seclog_entry_free(&e);
    static const char *const bad[] = {"",
                                      "{",
                                      "{}x",
                                      "{\"a\":{}}",
                                      "{\"a\":[1]}",
                                      "{\"a\":1,}",
                                      "{\"a\" 1}",
                                      "{\"a\":01}",
                                      "{\"a\":1,\"a\":2}",
                                      "{\"a\":\"\\u0000\"}",
                                      "{\"a\":\"\\ud800\"}",
                                      "{\"a\":\"\x01\"}",
                                      "{\"a\":\"\xff\"}",
                                      "{\"a\":tru}",
                                      "{\"a\":\"\\q\"}",
                                      "[1]"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(bad); i++) {
        if (moat_seclog_entry_parse(bad[i], strlen(bad[i]), &e) == 0)
            fail_msg("accepted bad JSON %zu: %s", i, bad[i]);
    }
    assert_int_equal(moat_seclog_entry_parse("{}", 2, &e), 0);
    assert_int_equal(e.n, 0);
    moat_seclog_entry_free(&e);

    moat_buf b;
    moat_buf_init(&b);
    moat_buf_put_json_string(&b, "q\"\\\t\r\n\x1f\xc3\x28 ok \xe2\x82\xac", 16);
    assert_string_equal(b.data, "\"q\\\"\\\\\\t\\r\\n\\u001f\\ufffd( ok \xe2\x82\xac\"");
    moat_buf_free(&b);

    time_t t;
    assert_int_equal(moat__seclog_parse_time("2023-11-14T22:13:20.123456Z", &t), 0);
    assert_int_equal((long long)t, 1700000000LL);
    assert_int_equal(moat__seclog_parse_time("2023-11-14T22:13:20Z", &t), 0);
    assert_int_not_equal(moat__seclog_parse_time("2023-11-14 22:13:20Z", &t), 0);
}

/* ---- the chain's cryptography ------------------------------------------------ */

static void test_crypto_known_answers(void **state)
{
    (void)state;
    uint8_t k0[32], k1[32], want[32];
    for (int i = 0; i < 32; i++)
        k0[i] = (uint8_t)i;
    /* K1 = HMAC-SHA256(K0, "moat-evolve") computed with OpenSSL directly. */
    unsigned len = 0;
    HMAC(EVP_sha256(), k0, 32, (const uint8_t *)"moat-evolve", 11, want, &len);
    moat__seclog_evolve(k0, k1);
    assert_memory_equal(k1, want, 32);

    /* A line MAC = HMAC(K, "moat-seclog-v1" || prev || be64 seq || be64 epoch || prefix). */
    uint8_t prev[32];
    memset(prev, 0xab, sizeof(prev));
    const char *prefix = "{\"seq\":258,\"epoch\":3,\"time\":\"t\"";
    uint8_t msg[256];
    size_t m = 0;
    memcpy(msg, "moat-seclog-v1", 14);
    m += 14;
    memcpy(msg + m, prev, 32);
    m += 32;
    uint8_t nums[16] = {0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 3};
    memcpy(msg + m, nums, 16);
    m += 16;
    memcpy(msg + m, prefix, strlen(prefix));
    m += strlen(prefix);
    HMAC(EVP_sha256(), k1, 32, msg, m, want, &len);
    moat__seclog_sealer *s = moat__seclog_sealer_new(k1);
    uint8_t got[32];
    moat__seclog_line_mac(s, prev, 258, 3, prefix, strlen(prefix), got);
    assert_memory_equal(got, want, 32);
    /* Reusing the sealer gives the same answer (the key is kept). */
    moat__seclog_line_mac(s, prev, 258, 3, prefix, strlen(prefix), got);
    assert_memory_equal(got, want, 32);
    moat__seclog_sealer_free(s);
    /* Unsealed: plain SHA-256 of the same input. */
    EVP_Digest(msg, m, want, &len, EVP_sha256(), NULL);
    s = moat__seclog_sealer_new(NULL);
    moat__seclog_line_mac(s, prev, 258, 3, prefix, strlen(prefix), got);
    assert_memory_equal(got, want, 32);
    moat__seclog_sealer_free(s);

    /* The verification key: round trip, case and blanks, checksum. */
    moat_buf b;
    moat_buf_init(&b);
    moat__seclog_vkey_encode(k0, &b);
    assert_int_equal(b.len, 78);
    uint8_t back[32];
    const char *why;
    assert_int_equal(moat__seclog_vkey_decode(b.data, back, &why), 0);
    assert_memory_equal(back, k0, 32);
    char *upper = moat_xasprintf("  %s\n", b.data);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
    upper[2] = 'M';
    upper[3] = 'V';
    upper[4] = 'K';
    assert_int_equal(moat__seclog_vkey_decode(upper, back, &why), 0);
    free(upper);
    b.data[10] = b.data[10] == '0' ? '1' : '0';
    assert_int_equal(moat__seclog_vkey_decode(b.data, back, &why), MOAT_EINVAL);
    assert_non_null(strstr(why, "checksum"));
    assert_int_equal(moat__seclog_vkey_decode("mvk1-zz", back, &why), MOAT_EINVAL);
    moat_buf_free(&b);

    char id1[33], id2[33];
    moat__seclog_chain_id(k0, id1);
    moat__seclog_chain_id(k1, id2);
    assert_int_equal(strlen(id1), 32);
    assert_string_not_equal(id1, id2);
}

static void test_keyfile(void **state)
{
    (void)state;
    char *vkey = init_key("seal.key");
    struct stat st;
    assert_int_equal(stat("seal.key", &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *err = NULL, *v2 = NULL;
    assert_int_equal(moat_seclog_keygen("seal.key", false, &v2, &err), MOAT_EINVAL);
    assert_non_null(strstr(err, "--force"));
    free(err);
    err = NULL;

    moat__seclog_keyfile kf;
    assert_int_equal(moat__seclog_keyfile_read("seal.key", &kf, &err), 0);
    assert_int_equal(kf.epoch, 1);
    assert_int_equal(kf.seq_next, 0);
    /* The file holds K1, never K0 (the verification key). */
    uint8_t k0[32], k1[32];
    const char *why;
    assert_int_equal(moat__seclog_vkey_decode(vkey, k0, &why), 0);
    moat__seclog_evolve(k0, k1);
    assert_memory_equal(kf.key, k1, 32);
    char hex0[65];
    moat__seclog_hex(k0, 32, hex0);
    char *text = slurp("seal.key");
    assert_null(strstr(text, hex0));
    free(text);

    /* A crash after the old file was wiped but before the rename: the
     * whole .tmp wins. */
    kf.epoch = 2;
    moat__seclog_evolve(kf.key, kf.key);
    assert_int_equal(moat__seclog_keyfile_write("seal.key", &kf, &err), 0);
    assert_int_equal(rename("seal.key", "seal.key.tmp"), 0);
    moat_test_write_text("seal.key", "");
    chmod("seal.key", 0600);
    moat__seclog_keyfile back;
    assert_int_equal(moat__seclog_keyfile_read("seal.key", &back, &err), 0);
    assert_int_equal(back.epoch, 2);
    assert_memory_equal(back.key, kf.key, 32);
    unlink("seal.key.tmp");

    /* Refused: readable by others, damaged, missing. */
    assert_int_equal(moat__seclog_keyfile_write("k2", &kf, &err), 0);
    chmod("k2", 0644);
    assert_int_equal(moat__seclog_keyfile_read("k2", &back, &err), MOAT_EINVAL);
    assert_non_null(strstr(err, "chmod 600"));
    free(err);
    moat_test_write_text("k3", "moat-seal-key v1\nepoch x\n");
    chmod("k3", 0600);
    assert_int_equal(moat__seclog_keyfile_read("k3", &back, &err), MOAT_EPARSE);
    free(err);
    assert_int_equal(moat__seclog_keyfile_read("nope", &back, &err), MOAT_ENOENT);
    assert_non_null(strstr(err, "moat log init"));
    free(err);
    free(vkey);
}

/* ---- the writer and the verifier ---------------------------------------------- */

static void assert_ok(const char *const *paths, const char *key)
{
    moat_seclog_verdict v;
    int rc = verify_files(paths, key, NULL, &v);
    if (rc != 0 || !v.ok) fail_msg("verify failed: %s", v.message ? v.message : "?");
    moat_seclog_verdict_free(&v);
}

static void test_sealed_log(void **state)
{
    (void)state;
    char *vkey = init_key("seal.key");
    moat_config *cfg = make_cfg("sec.log", "seal.key");
    cfg->log.seal_entries = 3;
    write_events(cfg, 20, "a");
    write_events(cfg, 5, "b"); /* a restart continues the chain */
    char *text = slurp("sec.log");
    assert_non_null(strstr(text, "\"event\":\"log.start\""));
    assert_non_null(
        strstr(text, "\"event\":\"log.seal\",\"severity\":\"info\",\"reason\":\"open\""));
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "\"reason\":\"interval\"")); /* 15 min did not pass */
    const char *paths[] = {"sec.log", NULL};
    assert_ok(paths, vkey);

    /* The key file moved on: it holds K_E for the last epoch E, and the
     * verifier derived the same key from K0. */
    moat__seclog_keyfile kf;
    char *err = NULL;
    assert_int_equal(moat__seclog_keyfile_read("seal.key", &kf, &err), 0);
    assert_true(kf.epoch > 5);
    uint8_t k[32];
    const char *why;
    assert_int_equal(moat__seclog_vkey_decode(vkey, k, &why), 0);
    for (uint64_t e = 0; e < kf.epoch; e++)
        moat__seclog_evolve(k, k);
    assert_memory_equal(k, kf.key, 32);
    assert_int_equal(kf.seq_next, count_lines(text));
    struct stat st;
    assert_int_equal(stat("seal.key.tmp", &st), -1);

    /* An unsealed reading of a sealed log is refused, not passed. */
    moat_seclog_verdict v;
    assert_int_equal(verify_text(text, NULL, &v), MOAT_EINVAL);
    assert_non_null(strstr(v.message, "--key"));
    moat_seclog_verdict_free(&v);
    free(text);
    free(vkey);
    moat_config_free(cfg);
}

typedef struct tamper_case {
    const char *what;
    int order[64];
    size_t n;
    const char *expect; /* in the verdict */
    uint64_t line;
} tamper_case;

static void test_tampering(void **state)
{
    (void)state;
    char *vkey = init_key("seal.key");
    moat_config *cfg = make_cfg("sec.log", "seal.key");
    cfg->log.seal_entries = 4;
    write_events(cfg, 12, "t");
    char *text = slurp("sec.log");
    size_t n = count_lines(text);
    assert_true(n >= 16 && n < 64);
    moat_seclog_verdict v;
    assert_int_equal(verify_text(text, vkey, &v), 0);
    assert_true(v.ok);
    moat_seclog_verdict_free(&v);

    tamper_case cases[] = {
        {"delete the first line", {0}, 0, "first line was deleted", 1},
        {"delete a middle line", {0}, 0, "a line was deleted before this one", 6},
        {"delete two lines", {0}, 0, "2 lines were deleted", 6},
        {"swap two lines", {0}, 0, "lines were reordered", 6},
        {"duplicate a line", {0}, 0, "a line was duplicated", 7},
        {"move a line later", {0}, 0, "lines were reordered", 4},
    };
    /* Build each order from the identity. */
    for (size_t c = 0; c < MOAT_ARRAY_LEN(cases); c++) {
        tamper_case *t = &cases[c];
        for (size_t i = 0; i < n; i++)
            t->order[t->n++] = (int)i + 1;
    }
    memmove(cases[0].order, cases[0].order + 1, (n - 1) * sizeof(int));
    cases[0].n--;
    memmove(cases[1].order + 5, cases[1].order + 6, (n - 6) * sizeof(int));
    cases[1].n--;
    memmove(cases[2].order + 5, cases[2].order + 7, (n - 7) * sizeof(int));
    cases[2].n -= 2;
    cases[3].order[5] = 7;
    cases[3].order[6] = 6;
    memmove(cases[4].order + 7, cases[4].order + 6, (n - 6) * sizeof(int));
    cases[4].order[6] = 6;
    cases[4].n++;
    memmove(cases[5].order + 3, cases[5].order + 4, 5 * sizeof(int));
    cases[5].order[8] = 4;
    for (size_t c = 0; c < MOAT_ARRAY_LEN(cases); c++) {
        char *t = relines(text, cases[c].order, cases[c].n);
        assert_int_equal(verify_text(t, vkey, &v), 0);
        if (v.ok || !strstr(v.message, cases[c].expect) || v.line != cases[c].line)
            fail_msg("%s: %s (line %llu)", cases[c].what, v.message, (unsigned long long)v.line);
        moat_seclog_verdict_free(&v);
        free(t);
    }

    /* Edit one character of a field: the MAC of that line fails. */
    char *t = moat_xstrdup(text);
    char *p = strstr(t, "\"client\":\"192.0.2.7\"");
    p[12] = '9';
    assert_int_equal(verify_text(t, vkey, &v), 0);
    assert_false(v.ok);
    assert_non_null(strstr(v.message, "changed or forged"));
    assert_int_equal(v.line, 2);
    moat_seclog_verdict_free(&v);
    free(t);

    /* Insert a forged line with the right seq and a made-up MAC, and one
     * rebuilt with a wrong key: both are caught at that line. */
    const char *line4 = text;
    for (int i = 0; i < 3; i++)
        line4 = strchr(line4, '\n') + 1;
    uint64_t seq, epoch;
    uint8_t mac[32];
    size_t plen;
    size_t l4 = (size_t)(strchr(line4, '\n') - line4);
    assert_int_equal(moat__seclog_frame(line4, l4, &seq, &epoch, mac, &plen), 0);
    moat_buf forged;
    moat_buf_init(&forged);
    moat_buf_append(&forged, text, (size_t)(line4 - text));
    moat_buf_printf(&forged,
                    "{\"seq\":%llu,\"epoch\":%llu,\"time\":\"2020-01-01T00:00:00.000000Z\","
                    "\"event\":\"auth.login.success\",\"severity\":\"info\",\"user\":\"admin\","
                    "\"mac\":\"%064d\"}\n",
                    (unsigned long long)seq, (unsigned long long)epoch, 0);
    moat_buf_puts(&forged, line4);
    assert_int_equal(verify_text(forged.data, vkey, &v), 0);
    assert_false(v.ok);
    assert_int_equal(v.line, 4);
    assert_non_null(strstr(v.message, "changed or forged"));
    moat_seclog_verdict_free(&v);
    moat_buf_free(&forged);

    /* A wrong key, of another chain. */
    char *other = NULL, *err = NULL;
    assert_int_equal(moat_seclog_keygen("other.key", false, &other, &err), 0);
    assert_int_equal(verify_text(text, other, &v), 0);
    assert_false(v.ok);
    assert_non_null(strstr(v.message, "wrong key"));
    moat_seclog_verdict_free(&v);
    free(other);

    /* The end cut off: invisible without an anchor, caught with one. */
    char hexmac[65];
    const char *last = text + strlen(text) - 1;
    while (last > text && last[-1] != '\n')
        last--;
    assert_int_equal(moat__seclog_frame(last, strlen(last) - 1, &seq, &epoch, mac, &plen), 0);
    moat__seclog_hex(mac, 32, hexmac);
    char anchor[96];
    snprintf(anchor, sizeof(anchor), "%llu:%.16s", (unsigned long long)seq, hexmac);
    t = moat_xstrndup(text, (size_t)(last - text));
    moat_seclog_input in = {"log", t, strlen(t)};
    moat_seclog_verify_opts o = {.key = vkey};
    assert_int_equal(moat_seclog_verify(&in, 1, &o, &v), 0);
    assert_true(v.ok);
    moat_seclog_verdict_free(&v);
    o.anchor = anchor;
    assert_int_equal(moat_seclog_verify(&in, 1, &o, &v), 0);
    assert_false(v.ok);
    assert_non_null(strstr(v.message, "cut from its end"));
    moat_seclog_verdict_free(&v);
    in = (moat_seclog_input){"log", text, strlen(text)};
    assert_int_equal(moat_seclog_verify(&in, 1, &o, &v), 0);
    assert_true(v.ok);
    moat_seclog_verdict_free(&v);
    o.anchor = "3:00000000000000";
    assert_int_equal(moat_seclog_verify(&in, 1, &o, &v), 0);
    assert_false(v.ok);
    assert_non_null(strstr(v.message, "does not match the anchor"));
    moat_seclog_verdict_free(&v);
    o.anchor = "x:1";
    assert_int_equal(moat_seclog_verify(&in, 1, &o, &v), MOAT_EINVAL);
    moat_seclog_verdict_free(&v);
    free(t);

    /* An incomplete last line (being written) is a note, elsewhere an error;
     * an inserted empty line or garbage is named. */
    t = moat_xasprintf("%s{\"seq\":99", text);
    assert_int_equal(verify_text(t, vkey, &v), 0);
    assert_true(v.ok);
    assert_non_null(strstr(v.detail, "incomplete"));
    moat_seclog_verdict_free(&v);
    free(t);
    t = moat_xasprintf("%s\n", text);
    assert_int_equal(verify_text(t, vkey, &v), 0);
    assert_false(v.ok);
    assert_non_null(strstr(v.message, "empty line"));
    moat_seclog_verdict_free(&v);
    free(t);
    t = moat_xasprintf("%shello\n", text);
    assert_int_equal(verify_text(t, vkey, &v), 0);
    assert_false(v.ok);
    assert_non_null(strstr(v.message, "not a moat security log line"));
    moat_seclog_verdict_free(&v);
    free(t);
    free(text);
    free(vkey);
    moat_config_free(cfg);
}

static void test_unsealed_log(void **state)
{
    (void)state;
    moat_config *cfg = make_cfg("plain.log", "");
    write_events(cfg, 5, "u");
    write_events(cfg, 5, "v");
    char *text = slurp("plain.log");
    assert_non_null(strstr(text, "\"sealed\":false"));
    assert_non_null(strstr(text, "\"event\":\"log.opened\""));
    assert_null(strstr(text, "log.seal\""));
    moat_seclog_verdict v;
    assert_int_equal(verify_text(text, NULL, &v), 0);
    assert_true(v.ok);
    assert_non_null(strstr(v.message, "unsealed"));
    moat_seclog_verdict_free(&v);
    /* Accidental damage is found... */
    char *t = moat_xstrdup(text);
    strstr(t, "u3")[1] = '4';
    assert_int_equal(verify_text(t, NULL, &v), 0);
    assert_false(v.ok);
    assert_non_null(strstr(v.message, "hash does not verify"));
    moat_seclog_verdict_free(&v);
    free(t);
    /* ...and a key given for an unsealed log is a failure, not a pass. */
    char *vkey = init_key("seal.key");
    assert_int_equal(verify_text(text, vkey, &v), 0);
    assert_false(v.ok);
    assert_non_null(strstr(v.message, "not sealed"));
    moat_seclog_verdict_free(&v);
    free(vkey);
    free(text);
    moat_config_free(cfg);
}

static void test_rotation(void **state)
{
    (void)state;
    char *vkey = init_key("seal.key");
    assert_int_equal(mkdir("logs", 0755), 0);
    moat_config *cfg = make_cfg("logs/sec.log", "seal.key");
    cfg->log.rotate_bytes = 1500;
    cfg->log.rotate_keep = 0;
    cfg->log.seal_entries = 5;
    moat_seclog *log = NULL;
    char *err = NULL;
    assert_int_equal(moat_seclog_open(cfg, &log, &err), 0);
    for (int i = 0; i < 30; i++) {
        record(log, "path.denied", "r");
        moat_seclog_flush(log); /* one batch each: rotation between them */
    }
    moat_seclog_close(log);
    char *names[64];
    size_t n = 0;
    FILE *ls = popen("ls logs", "r");
    char line[256];
    while (n < 63 && fgets(line, sizeof(line), ls)) {
        line[strcspn(line, "\n")] = '\0';
        names[n++] = moat_xasprintf("logs/%s", line);
    }
    pclose(ls);
    names[n] = NULL;
    assert_true(n >= 5);
    /* In any order: the verifier puts them in chain order. */
    const char *paths[65];
    for (size_t i = 0; i < n; i++)
        paths[i] = names[n - 1 - i];
    paths[n] = NULL;
    assert_ok(paths, vkey);
    char *cur = slurp("logs/sec.log");
    assert_non_null(strstr(cur, "\"event\":\"log.continued\""));
    assert_non_null(strstr(cur, "\"reason\":\"rotate\""));
    free(cur);
    /* A file missing from the middle is named. */
    const char *gap[64];
    size_t g = 0;
    for (size_t i = 0; i < n; i++)
        if (i != 2) gap[g++] = names[i]; /* names[1] is the oldest */
    gap[g] = NULL;
    moat_seclog_verdict v;
    assert_int_equal(verify_files(gap, vkey, NULL, &v), 0);
    assert_false(v.ok);
    assert_non_null(strstr(v.message, "missing in between"));
    moat_seclog_verdict_free(&v);
    /* The same file twice. */
    const char *twice[] = {names[0], names[1], names[1], NULL};
    assert_int_equal(verify_files(twice, vkey, NULL, &v), 0);
    if (v.ok) fail_msg("%s / %s / %s", names[0], names[1], v.message);
    moat_seclog_verdict_free(&v);
    /* The newest files alone verify, with a note that earlier ones exist. */
    const char *tail[] = {names[n - 2], names[n - 1], NULL};
    assert_int_equal(verify_files(tail, vkey, NULL, &v), 0);
    assert_true(v.ok);
    assert_non_null(strstr(v.detail, "was not given"));
    moat_seclog_verdict_free(&v);

    /* Pruning keeps rotate_keep rotated files. */
    cfg->log.rotate_keep = 2;
    assert_int_equal(moat_seclog_open(cfg, &log, &err), 0);
    for (int i = 0; i < 10; i++) {
        record(log, "path.denied", "r");
        moat_seclog_flush(log);
    }
    moat_seclog_close(log);
    ls = popen("ls logs | wc -l", "r");
    assert_non_null(fgets(line, sizeof(line), ls));
    pclose(ls);
    assert_int_equal(strtol(line, NULL, 10), 3);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(vkey);
    moat_config_free(cfg);
}

static void test_reopen_and_reload(void **state)
{
    (void)state;
    char *vkey = init_key("seal.key");
    moat_config *cfg = make_cfg("a.log", "seal.key");
    moat_seclog *log = NULL;
    char *err = NULL;
    assert_int_equal(moat_seclog_open(cfg, &log, &err), 0);
    record(log, "host.denied", "1");
    moat_seclog_flush(log);
    /* logrotate moves the file, then SIGHUP/SIGUSR1: a new file follows. */
    assert_int_equal(rename("a.log", "a.log.1"), 0);
    record(log, "host.denied", "2"); /* may land in either file */
    moat_seclog_reopen(log);
    record(log, "host.denied", "3");
    moat_seclog_flush(log);
    struct stat st;
    assert_int_equal(stat("a.log", &st), 0);
    /* A reload to another path: the chain follows into b.log. */
    moat_config *cfg2 = make_cfg("b.log", "seal.key");
    assert_int_equal(moat_seclog_reconfigure(log, cfg2, &err), 0);
    record(log, "host.denied", "4");
    /* The key cannot change on reload. */
    moat_config *cfg3 = make_cfg("b.log", "other.key");
    assert_int_equal(moat_seclog_reconfigure(log, cfg3, &err), MOAT_EINVAL);
    assert_non_null(strstr(err, "restart"));
    free(err);
    err = NULL;
    /* A path that cannot be opened is refused; the log carries on. */
    moat_config *cfg4 = make_cfg("no/such/dir/c.log", "seal.key");
    assert_int_equal(moat_seclog_reconfigure(log, cfg4, &err), MOAT_EIO);
    free(err);
    record(log, "host.denied", "5");
    moat_seclog_close(log);
    char *a = slurp("a.log"), *b = slurp("b.log");
    assert_non_null(strstr(a, "\"reason\":\"reopen\""));
    assert_non_null(strstr(b, "\"reason\":\"reconfigure\""));
    assert_non_null(strstr(b, "\"request_id\":\"5\""));
    free(a);
    free(b);
    const char *paths[] = {"a.log.1", "a.log", "b.log", NULL};
    assert_ok(paths, vkey);
    /* NULL is accepted everywhere (log off). */
    moat_config *off = make_cfg("", "");
    moat_seclog *none = (moat_seclog *)1;
    assert_int_equal(moat_seclog_open(off, &none, &err), 0);
    assert_null(none);
    moat_seclog_record(NULL, NULL);
    moat_seclog_reopen(NULL);
    moat_seclog_flush(NULL);
    moat_seclog_close(NULL);
    assert_int_equal(moat_seclog_reconfigure(NULL, off, &err), 0);
    assert_int_equal(moat_seclog_reconfigure(NULL, cfg, &err), MOAT_EINVAL);
    free(err);
    moat_config_free(off);
    moat_config_free(cfg);
    moat_config_free(cfg2);
    moat_config_free(cfg3);
    moat_config_free(cfg4);
    free(vkey);
}

/* A crash mid-write leaves a partial last line: the next start cuts it off,
 * says so in the log, and the chain stays whole. */
static void test_crash_repair(void **state)
{
    (void)state;
    char *vkey = init_key("seal.key");
    moat_config *cfg = make_cfg("sec.log", "seal.key");
    write_events(cfg, 3, "c");
    FILE *f = fopen("sec.log", "a");
    fputs("{\"seq\":7,\"epoch\":2,\"time\":\"2", f);
    fclose(f);
    write_events(cfg, 3, "d");
    char *text = slurp("sec.log");
    assert_non_null(strstr(text, "\"repaired_bytes\":"));
    free(text);
    const char *paths[] = {"sec.log", NULL};
    assert_ok(paths, vkey);

    /* The log file replaced by another chain's: moved aside, not appended to. */
    moat_test_write_text("sec.log",
                         "{\"seq\":0,\"epoch\":0,\"time\":\"x\",\"event\":\"log.start\"}\n");
    write_events(cfg, 2, "e");
    text = slurp("sec.log");
    assert_non_null(strstr(text, "\"event\":\"log.continued\""));
    free(text);
    assert_ok(paths, vkey);
    free(vkey);
    moat_config_free(cfg);
}

/* Entries the queue cannot take are counted, and the count is logged. */
static void test_queue_overflow(void **state)
{
    (void)state;
    moat__seclog_queue_capacity = 4;
    moat_config *cfg = make_cfg("q.log", "");
    moat_seclog *log = NULL;
    char *err = NULL;
    assert_int_equal(moat_seclog_open(cfg, &log, &err), 0);
    for (int i = 0; i < 20000; i++)
        record(log, "waf.blocked", "q");
    moat_seclog_flush(log);
    moat_seclog_stats st;
    moat_seclog_get_stats(log, &st);
    moat_seclog_close(log);
    assert_int_equal(st.recorded + st.dropped, 20000);
    /* The sum of the log.dropped entries is what was dropped. */
    char *text = slurp("q.log");
    uint64_t logged = 0, events = 0;
    for (char *p = text; *p;) {
        char *e = strchr(p, '\n');
        moat_seclog_entry en;
        assert_int_equal(moat_seclog_entry_parse(p, (size_t)(e - p), &en), 0);
        const char *ev = moat_seclog_entry_get(&en, "event");
        if (strcmp(ev, "log.dropped") == 0)
            logged += strtoull(moat_seclog_entry_get(&en, "dropped"), NULL, 10);
        if (strcmp(ev, "waf.blocked") == 0) events++;
        moat_seclog_entry_free(&en);
        p = e + 1;
    }
    assert_int_equal(logged, st.dropped);
    assert_int_equal(events, st.recorded);
    free(text);
    moat_config_free(cfg);
}

/* A disk that refuses writes (/dev/full): the gateway's calls never fail
 * or block, the loss is counted, and logged as soon as a sink works. */
static void test_disk_full(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0) skip();
    char *vkey = init_key("seal.key");
    moat_config *cfg = make_cfg("/dev/full", "seal.key");
    moat_seclog *log = NULL;
    char *err = NULL;
    assert_int_equal(moat_seclog_open(cfg, &log, &err), 0);
    for (int i = 0; i < 7; i++)
        record(log, "auth.lockout", "f");
    moat_seclog_flush(log);
    moat_seclog_stats st;
    moat_seclog_get_stats(log, &st);
    assert_int_equal(st.dropped, 7);
    assert_int_equal(st.written, 0);
    moat_config *good = make_cfg("ok.log", "seal.key");
    assert_int_equal(moat_seclog_reconfigure(log, good, &err), 0);
    record(log, "auth.lockout", "g");
    moat_seclog_close(log);
    char *text = slurp("ok.log");
    assert_non_null(strstr(text, "\"event\":\"log.dropped\""));
    assert_non_null(strstr(text, "\"dropped_write\":7"));
    assert_non_null(strstr(text, "No space left on device"));
    free(text);
    const char *paths[] = {"ok.log", NULL};
    assert_ok(paths, vkey);
    free(vkey);
    moat_config_free(cfg);
    moat_config_free(good);
}

/* The key evolves on time too, even with nothing to log. */
static void test_epoch_by_time(void **state)
{
    (void)state;
    char *vkey = init_key("seal.key");
    moat_config *cfg = make_cfg("t.log", "seal.key");
    cfg->log.seal_interval_ms = 40; /* below the config's minimum: tests only */
    moat_seclog *log = NULL;
    char *err = NULL;
    assert_int_equal(moat_seclog_open(cfg, &log, &err), 0);
    record(log, "session.expired", "s");
    moat_seclog_stats st;
    for (int i = 0; i < 500; i++) { /* a bounded wait: 3 epochs take ~120 ms */
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        moat_seclog_get_stats(log, &st);
        if (st.epoch >= 3) break;
    }
    moat_seclog_close(log);
    assert_true(st.epoch >= 3);
    char *text = slurp("t.log");
    assert_non_null(strstr(text, "\"reason\":\"interval\""));
    free(text);
    const char *paths[] = {"t.log", NULL};
    assert_ok(paths, vkey);
    free(vkey);
    moat_config_free(cfg);
}

/* rotate_interval: a file older than it is rotated at the writer's next
 * timer, and the chain goes on in the new file. */
static void test_rotation_by_time(void **state)
{
    (void)state;
    moat_config *cfg = make_cfg("r.log", "");
    cfg->log.rotate_interval_ms = 50; /* below the config's minimum unit: tests only */
    moat_seclog *log = NULL;
    char *err = NULL;
    assert_int_equal(moat_seclog_open(cfg, &log, &err), 0);
    record(log, "csp.violation", "1");
    moat_seclog_flush(log);
    struct timespec ts = {0, 250 * 1000000L};
    nanosleep(&ts, NULL);
    record(log, "csp.violation", "2");
    moat_seclog_close(log);
    /* Rotated at the timer once the first event was old enough (and again
     * when the second, written into a file already past its age, came). */
    FILE *ls = popen("ls r.log.*", "r");
    char names[8][256];
    const char *paths[10];
    size_t n = 0;
    while (n < 8 && fgets(names[n], sizeof(names[n]), ls)) {
        names[n][strcspn(names[n], "\n")] = '\0';
        paths[n] = names[n];
        n++;
    }
    pclose(ls);
    assert_true(n >= 1 && n <= 2);
    paths[n++] = "r.log";
    paths[n] = NULL;
    assert_ok(paths, NULL);
    char *text = slurp("r.log");
    assert_non_null(strstr(text, "\"reason\":\"rotate\""));
    assert_non_null(strstr(text, "\"event\":\"log.closed\""));
    free(text);
    moat_config_free(cfg);
}

static void test_syslog(void **state)
{
    (void)state;
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "dev-log");
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    moat__seclog_syslog_path = "dev-log";
    moat_config *cfg = make_cfg("s.log", "");
    cfg->log.syslog = true;
    moat_seclog *log = NULL;
    char *err = NULL;
    assert_int_equal(moat_seclog_open(cfg, &log, &err), 0);
    record(log, "authz.denied", "sys-1");
    moat_seclog_close(log);
    moat__seclog_syslog_path = "/dev/log";
    char buf[8192];
    bool seen = false;
    for (int i = 0; i < 10; i++) {
        ssize_t n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        if (n <= 0) break;
        buf[n] = '\0';
        if (strstr(buf, "sys-1")) {
            seen = true;
            /* authpriv (10) * 8 + warning (4) = 84; MSGID is the event. */
            assert_memory_equal(buf, "<84>1 ", 6);
            assert_non_null(strstr(buf, " moat "));
            assert_non_null(strstr(buf, " authz.denied - {\"seq\":"));
            assert_null(strstr(buf, "hunter2"));
        }
    }
    assert_true(seen);
    close(s);
    moat_config_free(cfg);
}

static void test_catalogue(void **state)
{
    (void)state;
    static const char *const required[] = {
        "http.rejected",    "path.denied",        "host.denied",          "waf.blocked",
        "waf.detected",     "auth.login.success", "auth.login.failure",   "auth.lockout",
        "auth.mfa.failure", "session.created",    "session.ended",        "session.expired",
        "authz.denied",     "csp.violation",      "config.reloaded",      "upstream.error",
        "auth.mfa.lockout", "auth.token.failure", "auth.password.failure"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(required); i++)
        assert_non_null(moat_seclog_event_lookup(required[i]));
    assert_null(moat_seclog_event_lookup("nope"));
    assert_string_equal(moat_seclog_severity_name(MOAT_SECLOG_NOTICE), "notice");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_secret_names),
        T(test_redaction_table),
        T(test_event_format),
        T(test_json),
        T(test_crypto_known_answers),
        T(test_keyfile),
        T(test_sealed_log),
        T(test_tampering),
        T(test_unsealed_log),
        T(test_rotation),
        T(test_reopen_and_reload),
        T(test_crash_repair),
        T(test_queue_overflow),
        T(test_disk_full),
        T(test_epoch_by_time),
        T(test_rotation_by_time),
        T(test_syslog),
        T(test_catalogue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
