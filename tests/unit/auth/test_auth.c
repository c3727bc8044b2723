/* test_auth.c - unit tests of the auth module: base32 (RFC 4648 vectors),
 * TOTP (RFC 6238 appendix B vectors, window, replay), password hashes of
 * every supported format (vectors made by passlib, Django, Werkzeug, hashlib
 * and bcrypt), rehash detection, bounds on imported hashes, the NIST policy,
 * recovery codes, session ids and tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"

static const moat_argon2_params fast = {.m_kib = 64, .t = 1, .p = 1};

static void test_base32(void **state)
{
    (void)state;
    static const char *const vec[][2] = {{"", ""},
                                         {"f", "MY"},
                                         {"fo", "MZXQ"},
                                         {"foo", "MZXW6"},
                                         {"foob", "MZXW6YQ"},
                                         {"fooba", "MZXW6YTB"},
                                         {"foobar", "MZXW6YTBOI"}};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(vec); i++) {
        moat_buf b;
        moat_buf_init(&b);
        moat_base32_encode(&b, vec[i][0], strlen(vec[i][0]));
        assert_string_equal(b.data ? b.data : "", vec[i][1]);
        moat_buf_free(&b);
        uint8_t out[16];
        int n = moat_base32_decode(vec[i][1], strlen(vec[i][1]), out, sizeof(out));
        assert_int_equal(n, (int)strlen(vec[i][0]));
        assert_memory_equal(out, vec[i][0], (size_t)n);
    }
    uint8_t out[16];
    assert_int_equal(moat_base32_decode("mzxw 6ytb-oi======", 18, out, sizeof(out)), 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(moat_base32_decode("MZ1W", 4, out, sizeof(out)), MOAT_EINVAL);
    assert_int_equal(moat_base32_decode("MY==MY", 6, out, sizeof(out)), MOAT_EINVAL);
    assert_int_equal(moat_base32_decode("MZXW6YTBOI", 10, out, 3), MOAT_ETOOBIG);
}

/* RFC 6238 appendix B: 8 digits; keys are the ASCII seeds. */
static void test_totp_rfc6238(void **state)
{
    (void)state;
    static const struct {
        uint64_t t;
        const char *sha1, *sha256, *sha512;
    } vec[] = {
        {59, "94287082", "46119246", "90693936"},
        {1111111109, "07081804", "68084774", "25091201"},
        {1111111111, "14050471", "67062674", "99943326"},
        {1234567890, "89005924", "91819424", "93441116"},
        {2000000000, "69279037", "90698825", "38618901"},
        {20000000000, "65353130", "77737706", "47863826"},
    };
    const char *k1 = "12345678901234567890";
    const char *k256 = "12345678901234567890123456789012";
    const char *k512 = "1234567890123456789012345678901234567890123456789012345678901234";
    for (size_t i = 0; i < MOAT_ARRAY_LEN(vec); i++) {
        char out[9];
        moat_totp_params p = {.algo = MOAT_TOTP_SHA1, .digits = 8, .period = 30, .window = 0};
        moat_totp_code(&p, (const uint8_t *)k1, 20, vec[i].t / 30, out);
        assert_string_equal(out, vec[i].sha1);
        p.algo = MOAT_TOTP_SHA256;
        moat_totp_code(&p, (const uint8_t *)k256, 32, vec[i].t / 30, out);
        assert_string_equal(out, vec[i].sha256);
        p.algo = MOAT_TOTP_SHA512;
        moat_totp_code(&p, (const uint8_t *)k512, 64, vec[i].t / 30, out);
        assert_string_equal(out, vec[i].sha512);
        uint64_t step = 0;
        assert_int_equal(
            moat_totp_verify(&p, (const uint8_t *)k512, 64, vec[i].sha512, 8, vec[i].t, 0, &step),
            0);
        assert_int_equal(step, vec[i].t / 30);
    }
}

static void test_totp_window_replay(void **state)
{
    (void)state;
    const uint8_t *key = (const uint8_t *)"12345678901234567890";
    moat_totp_params p = MOAT_TOTP_DEFAULTS;
    uint64_t now = 1111111111, step = 0, matched = 0;
    char prev[9], cur[9], next[9], far[9];
    moat_totp_code(&p, key, 20, now / 30 - 1, prev);
    moat_totp_code(&p, key, 20, now / 30, cur);
    moat_totp_code(&p, key, 20, now / 30 + 1, next);
    moat_totp_code(&p, key, 20, now / 30 + 2, far);
    assert_int_equal(strlen(cur), 6);
    assert_string_equal(cur, "050471"); /* the RFC's SHA-1 vector, last 6 digits */
    assert_int_equal(moat_totp_verify(&p, key, 20, prev, 6, now, 0, &step), 0);
    assert_int_equal(step, now / 30 - 1);
    assert_int_equal(moat_totp_verify(&p, key, 20, next, 6, now, 0, &step), 0);
    assert_int_equal(step, now / 30 + 1);
    assert_int_equal(moat_totp_verify(&p, key, 20, far, 6, now, 0, &step), MOAT_ENOENT);
    /* replay: once cur's step is used, cur and prev are refused, next is not */
    assert_int_equal(moat_totp_verify(&p, key, 20, cur, 6, now, 0, &matched), 0);
    assert_int_equal(moat_totp_verify(&p, key, 20, cur, 6, now, matched, &step), MOAT_ENOENT);
    assert_int_equal(moat_totp_verify(&p, key, 20, prev, 6, now, matched, &step), MOAT_ENOENT);
    assert_int_equal(moat_totp_verify(&p, key, 20, next, 6, now, matched, &step), 0);
    assert_int_equal(moat_totp_verify(&p, key, 20, "12345", 5, now, 0, &step), MOAT_ENOENT);
    assert_int_equal(moat_totp_verify(&p, key, 20, "", 0, now, 0, &step), MOAT_ENOENT);

    moat_buf b;
    moat_buf_init(&b);
    moat_totp_uri(&b, &p, "My App", "al ice@x", key, 20);
    assert_string_equal(b.data, "otpauth://totp/My%20App:al%20ice%40x?secret="
                                "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=My%20App&algorithm=SHA1&"
                                "digits=6&period=30");
    moat_buf_free(&b);
}

/* Each: a hash of "correct horse" made by the Python ecosystem. */
static const char *const vectors[] = {
    "$pbkdf2-sha256$1000$jFGKEeJcS8k5x3ivdS4FwA$IIUrBhNeJ5W03tPeHZXX7y0z.tkNjXSLn63YLSIFV/4",
    "pbkdf2_sha256$260000$r2oGb9n7RRe6o7Atlxh4og$9PMGprQnVi/3Sd9H+CW3KsTLYok6qa6ZWT+HVQZJOwE=",
    "bcrypt_sha256$$2b$12$iL5kL6qq.X8WcsI6lTgB7O2tABJlNoiEhAs31b4Hr1Zy0ifgeiICO",
    "argon2$argon2id$v=19$m=102400,t=2,p=8$Sk5la1pLazMyc3Vkelp1SURHOEk5Rw$nlZTEH65Oert70tMISxN1A",
    "pbkdf2:sha256:1000$Y2DiEDqZjjgc8KOr$"
    "e3ec506ca1ce66e96e5dfaeb419e353d451542ac9e4d8a562b14825fb35f9757",
    "scrypt:16384:8:1$abcdefgh12345678$9ec841ec2e2f1bd98183762fcf8b885fd6d295008e9b447c02795886f"
    "8231a56b9a174e3cdb12657973c3b57d7e12edd3e1ca483451848eb84116de0f4fb415e",
    "$2b$04$quNBF5L5jOwV9hTzDZSFz.lpxufbNTFKGfVXkCMsiD3c0jpAu/8sy",
};

static void test_password_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(vectors); i++) {
        const char *why = NULL;
        assert_int_equal(moat_password_check_stored(vectors[i], &why), 0);
        assert_int_equal(moat_password_verify(vectors[i], "correct horse", 13), 0);
        assert_int_equal(moat_password_verify(vectors[i], "correct horsf", 13), MOAT_ENOENT);
        assert_int_equal(moat_password_verify(vectors[i], "", 0), MOAT_ENOENT);
        assert_true(moat_password_needs_rehash(vectors[i], &fast));
        assert_int_not_equal(moat_password_format(vectors[i]), MOAT_HASH_UNKNOWN);
    }
}

static void test_password_argon2(void **state)
{
    (void)state;
    char *h = NULL;
    assert_int_equal(moat_password_hash(&fast, "correct horse", 13, &h), 0);
    assert_non_null(strstr(h, "$argon2id$v=19$m=64,t=1,p=1$"));
    assert_int_equal(moat_password_verify(h, "correct horse", 13), 0);
    assert_int_equal(moat_password_verify(h, "correct hors", 12), MOAT_ENOENT);
    assert_false(moat_password_needs_rehash(h, &fast));
    moat_argon2_params other = fast;
    other.t = 2;
    assert_true(moat_password_needs_rehash(h, &other));
    char *h2 = NULL;
    assert_int_equal(moat_password_hash(&fast, "correct horse", 13, &h2), 0);
    assert_string_not_equal(h, h2); /* fresh salt */
    free(h);
    free(h2);
    moat_argon2_params bad = {.m_kib = 4, .t = 1, .p = 1};
    assert_int_equal(moat_password_hash(&bad, "x", 1, &h), MOAT_EINVAL);
    assert_null(h);
    moat_password_dummy_verify(&fast, "x", 1);
}

static void test_password_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "plaintext",
        "md5$abc$def",
        "$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", /* 1 GiB */
        "$argon2id$v=19$m=65536,t=100,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=65536,t=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=18$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "pbkdf2_sha256$999999999$salt$9PMGprQnVi/3Sd9H+CW3KsTLYok6qa6ZWT+HVQZJOwE=",
        "pbkdf2_sha256$1000$salt$short",
        "pbkdf2_md5$1000$salt$9PMGprQnVi/3Sd9H+CW3KsTLYok6qa6ZWT+HVQZJOwE=",
        "pbkdf2:sha256$salt$00",
        "pbkdf2:sha256:1000$salt$zz",
        "scrypt:16385:8:1$salt$00112233445566778899aabbccddeeff",
        "scrypt:4194304:8:1$salt$00112233445566778899aabbccddeeff",
        "$2b$04$short",
        "$2b$31$quNBF5L5jOwV9hTzDZSFz.lpxufbNTFKGfVXkCMsiD3c0jpAu/8sy",
        "$pbkdf2-sha256$1000$!!$IIUrBhNeJ5W03tPeHZXX7y0z.tkNjXSLn63YLSIFV/4",
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(bad); i++) {
        const char *why = NULL;
        assert_int_equal(moat_password_check_stored(bad[i], &why), MOAT_EINVAL);
        assert_non_null(why);
        assert_int_equal(moat_password_verify(bad[i], "correct horse", 13), MOAT_EINVAL);
    }
}

static void test_policy(void **state)
{
    (void)state;
    moat_password_policy pol = {.min_length = 8};
    const char *why = NULL;
    assert_int_equal(moat_password_policy_check(&pol, "alice", "correct horse", 13, &why), 0);
    assert_int_equal(moat_password_policy_check(&pol, "alice", "short", 5, &why), MOAT_EINVAL);
    assert_string_equal(why, "password too short");
    assert_int_equal(moat_password_policy_check(&pol, "alice", "Password1", 9, &why), MOAT_EINVAL);
    assert_non_null(strstr(why, "common"));
    assert_int_equal(moat_password_policy_check(&pol, "longusername", "LongUserName", 12, &why),
                     MOAT_EINVAL);
    assert_int_equal(moat_password_policy_check(&pol, NULL, "zzzzzzzzzzzz", 12, &why), MOAT_EINVAL);
    /* 8 code points of 2 bytes each */
    assert_int_equal(moat_password_policy_check(&pol, NULL,
                                                "\xc3\xa9\xc3\xa8\xc3\xa9\xc3\xa8"
                                                "\xc3\xa9\xc3\xa8\xc3\xa9\xc3\xa0",
                                                16, &why),
                     0);
    /* 7 code points but 14 bytes: too short */
    assert_int_equal(moat_password_policy_check(&pol, NULL,
                                                "\xc3\xa9\xc3\xa8\xc3\xa9\xc3\xa8"
                                                "\xc3\xa9\xc3\xa8\xc3\xa0",
                                                14, &why),
                     MOAT_EINVAL);
    assert_int_equal(moat_password_policy_check(&pol, NULL,
                                                "abc\x01"
                                                "defgh",
                                                9, &why),
                     MOAT_EINVAL);
    assert_int_equal(moat_password_policy_check(&pol, NULL,
                                                "abcd\xff"
                                                "efgh",
                                                9, &why),
                     MOAT_EINVAL);
    char big[2000];
    memset(big, 'a', sizeof(big));
    big[1] = 'b';
    assert_int_equal(moat_password_policy_check(&pol, NULL, big, 64, &why), 0);
    assert_int_equal(moat_password_policy_check(&pol, NULL, big, 1024, &why), 0);
    assert_int_equal(moat_password_policy_check(&pol, NULL, big, 1025, &why), MOAT_EINVAL);
    assert_true(moat_password_is_common("QWERTY123", 9));
    assert_true(moat_password_is_common("p@ssw0rd", 8));
    assert_false(moat_password_is_common("qwerty12345678x", 15));
}

static void test_secrets(void **state)
{
    (void)state;
    char code[MOAT_RECOVERY_CODE_LEN + 1], h1[65], h2[65];
    moat_recovery_code_new(code);
    assert_int_equal(strlen(code), MOAT_RECOVERY_CODE_LEN);
    assert_int_equal(code[4], '-');
    assert_int_equal(moat_recovery_code_hash(code, strlen(code), h1), 0);
    char upper[32];
    size_t k = 0;
    for (size_t i = 0; code[i]; i++)
        if (code[i] != '-') upper[k++] = (char)(code[i] >= 'a' ? code[i] - 32 : code[i]);
    assert_int_equal(moat_recovery_code_hash(upper, k, h2), 0);
    assert_string_equal(h1, h2);
    assert_int_equal(moat_recovery_code_hash("abcd", 4, h2), MOAT_EINVAL);
    assert_int_equal(moat_recovery_code_hash("abcd-abcd-abcd-abc1", 19, h2), MOAT_EINVAL);

    char s1[MOAT_SESSION_ID_LEN + 1], s2[MOAT_SESSION_ID_LEN + 1];
    moat_session_id_new(s1);
    moat_session_id_new(s2);
    assert_int_equal(strlen(s1), 43);
    assert_string_not_equal(s1, s2);
    assert_int_equal(strspn(s1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     43);
    char t[MOAT_TOKEN_LEN + 1];
    moat_token_new(t);
    assert_int_equal(strlen(t), MOAT_TOKEN_LEN);
    assert_memory_equal(t, "moat_", 5);
    moat_secret_hash("abc", 3, h1);
    assert_string_equal(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* The login decision over a real store in a temporary directory. */
static void test_login(void **state)
{
    (void)state;
    char dir[] = "/tmp/moat-login-XXXXXX", url[160], path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/moat.db", dir);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    moat_store *s = NULL;
    char *err = NULL;
    assert_int_equal(moat_store_open(url, &s, &err), 0);
    moat_auth_settings st = {
        .argon2 = fast,
        .policy = {8},
        .totp = MOAT_TOTP_DEFAULTS,
        .lockout = {.failures = 3, .window = 600, .duration = 900, .addr_failures = 100}};
    const char *pw = "correct horse";
    assert_int_equal(moat_store_user_add(s, "imported", vectors[4], NULL, 0, 1), 0);
    moat_login_result r;
    int64_t now = 1111111111;
    /* an imported Werkzeug hash verifies and is replaced by Argon2id */
    assert_int_equal(moat_auth_login(s, &st, "imported", pw, 13, NULL, 0, "192.0.2.9", now, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_OK);
    assert_true(r.rehashed);
    moat_user u;
    assert_int_equal(moat_store_user_get(s, "imported", &u), 0);
    assert_non_null(strstr(u.password_hash, "$argon2id$v=19$m=64,t=1,p=1$"));
    moat_user_clear(&u);
    assert_int_equal(moat_auth_login(s, &st, "imported", pw, 13, NULL, 0, NULL, now, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_OK);
    assert_false(r.rehashed);
    /* unknown user and wrong password look the same */
    assert_int_equal(moat_auth_login(s, &st, "nobody", pw, 13, NULL, 0, NULL, now, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_BAD);
    assert_string_equal(r.reason, "unknown_user");
    /* three failures lock; then even the right password is refused */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            moat_auth_login(s, &st, "imported", "wrong pass", 10, NULL, 0, NULL, now, &r), 0);
        assert_int_equal(r.status, MOAT_LOGIN_BAD);
    }
    assert_int_equal(r.locked_until, now + 900);
    assert_int_equal(moat_auth_login(s, &st, "imported", pw, 13, NULL, 0, NULL, now + 1, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_LOCKED);
    /* Retry-After: until the lock ends */
    assert_int_equal(r.retry_at, now + 900);
    assert_int_equal(moat_login_retry_after(&r, now + 1), 899);
    assert_int_equal(moat_login_retry_after(&r, now + 900), 1);
    assert_int_equal(moat_auth_login(s, &st, "imported", pw, 13, NULL, 0, NULL, now + 901, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_OK);
    int64_t later = now + 1000;
    /* second factor: TOTP once, then a recovery code once */
    const uint8_t *key = (const uint8_t *)"12345678901234567890";
    assert_int_equal(moat_store_totp_set(s, r.user_id, key, 20), 0);
    char code[9], rc1[MOAT_RECOVERY_CODE_LEN + 1], h[MOAT_SECRET_HASH_LEN + 1];
    moat_totp_code(&st.totp, key, 20, (uint64_t)later / 30, code);
    assert_int_equal(moat_auth_login(s, &st, "imported", pw, 13, code, 6, NULL, later, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_OK);
    assert_true(r.mfa);
    assert_int_equal(moat_auth_login(s, &st, "imported", pw, 13, code, 6, NULL, later, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_BAD);
    assert_string_equal(r.reason, "bad_code");
    moat_recovery_code_new(rc1);
    assert_int_equal(moat_recovery_code_hash(rc1, strlen(rc1), h), 0);
    const char *hs[] = {h};
    assert_int_equal(moat_store_recovery_set(s, r.user_id, hs, 1), 0);
    int64_t uid = r.user_id;
    assert_int_equal(moat_auth_verify_code(s, &st, uid, rc1, strlen(rc1), NULL, later, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_OK);
    assert_true(r.recovery_used);
    assert_int_equal(moat_auth_verify_code(s, &st, uid, rc1, strlen(rc1), NULL, later, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_BAD);
    /* the second factor has its own counter: mfa_failures wrong codes (the
     * one above included) lock it, then the right code is refused too, at
     * the step-up and at login; the password alone still logs in */
    st.lockout.mfa_failures = 3;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(moat_auth_verify_code(s, &st, uid, "000000", 6, NULL, later, &r), 0);
        assert_int_equal(r.status, MOAT_LOGIN_BAD);
    }
    assert_int_equal(r.locked_until, later + 900);
    moat_totp_code(&st.totp, key, 20, (uint64_t)later / 30 + 1, code);
    assert_int_equal(moat_auth_verify_code(s, &st, uid, code, 6, NULL, later, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_LOCKED);
    assert_string_equal(r.reason, "mfa_locked");
    assert_int_equal(moat_login_retry_after(&r, later), 900);
    assert_int_equal(moat_auth_login(s, &st, "imported", pw, 13, code, 6, NULL, later, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_LOCKED);
    assert_int_equal(moat_auth_login(s, &st, "imported", pw, 13, NULL, 0, NULL, later, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_OK);
    assert_false(r.mfa);
    /* after the lock the code works, and the counter starts over */
    int64_t t2 = later + 901;
    moat_totp_code(&st.totp, key, 20, (uint64_t)t2 / 30, code);
    assert_int_equal(moat_auth_verify_code(s, &st, uid, code, 6, NULL, t2, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_OK);
    /* a locked account cannot step up, nor check its password */
    for (int i = 0; i < 3; i++)
        assert_int_equal(moat_auth_check_password(s, &st, uid, "nope", 4, NULL, t2, &r), 0);
    assert_int_equal(r.locked_until, t2 + 900);
    assert_int_equal(moat_auth_check_password(s, &st, uid, pw, 13, NULL, t2, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_LOCKED);
    moat_totp_code(&st.totp, key, 20, (uint64_t)t2 / 30 + 1, code);
    assert_int_equal(moat_auth_verify_code(s, &st, uid, code, 6, NULL, t2 + 1, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_LOCKED);
    assert_string_equal(r.reason, "locked");
    /* an admin lock has no end: Retry-After is lockout.duration */
    assert_int_equal(moat_store_user_set_locked(s, uid, true), 0);
    assert_int_equal(moat_auth_verify_code(s, &st, uid, code, 6, NULL, t2 + 1, &r), 0);
    assert_string_equal(r.reason, "admin_locked");
    assert_int_equal(moat_login_retry_after(&r, t2 + 1), st.lockout.duration);
    assert_int_equal(moat_store_user_set_locked(s, uid, false), 0);
    /* wrong codes count against the address too, and tokens guessed from it */
    st.lockout.addr_failures = 3;
    assert_int_equal(moat_auth_verify_code(s, &st, uid, "111111", 6, "203.0.113.5", later, &r), 0);
    char th[MOAT_SECRET_HASH_LEN + 1];
    moat_secret_hash("moat_guess", 10, th);
    assert_int_equal(moat_auth_token(s, &st, th, "203.0.113.5", later, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_BAD);
    assert_int_equal(moat_auth_check_password(s, &st, uid, "nope", 4, "203.0.113.5", later, &r), 0);
    assert_int_not_equal(r.throttled_until, 0);
    assert_int_equal(moat_auth_token(s, &st, th, "203.0.113.5", later, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_THROTTLED);
    assert_int_equal(r.retry_at, later + 900);
    assert_int_equal(moat_login_retry_after(&r, later), 900);
    assert_int_equal(moat_auth_check_password(s, &st, uid, pw, 13, "203.0.113.5", later, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_THROTTLED);
    assert_int_equal(moat_auth_check_password(s, &st, uid, pw, 13, NULL, later, &r), 0);
    assert_int_equal(r.status, MOAT_LOGIN_OK);
    /* a name that is no user is logged as a keyed tag: stable, unreadable */
    char t1[MOAT_NAME_TAG_LEN + 1], tg[MOAT_NAME_TAG_LEN + 1];
    moat_auth_name_tag("Hunter2-password", t1);
    moat_auth_name_tag("hunter2-PASSWORD", tg);
    assert_string_equal(t1, tg);
    assert_int_equal(strlen(t1), 20);
    assert_int_equal(strncmp(t1, "unknown:", 8), 0);
    assert_null(strstr(t1, "unter"));
    moat_auth_name_tag("someone-else", tg);
    assert_string_not_equal(t1, tg);
    /* an address with too many failures is throttled */
    st.lockout.addr_failures = 2;
    for (int i = 0; i < 2; i++)
        assert_int_equal(moat_auth_login(s, &st, "x", "y", 1, NULL, 0, "198.51.100.1", now, &r), 0);
    assert_int_equal(moat_auth_login(s, &st, "imported", pw, 13, NULL, 0, "198.51.100.1", now, &r),
                     0);
    assert_int_equal(r.status, MOAT_LOGIN_THROTTLED);
    assert_true(moat_login_retry_after(&r, now) >= 1);
    /* the same Retry-After for a name that is no user */
    moat_login_result r2;
    assert_int_equal(moat_auth_login(s, &st, "nobody", pw, 13, NULL, 0, "198.51.100.1", now, &r2),
                     0);
    assert_int_equal(r2.status, MOAT_LOGIN_THROTTLED);
    assert_int_equal(moat_login_retry_after(&r2, now), moat_login_retry_after(&r, now));
    /* a check that went on has none */
    assert_int_equal(moat_auth_login(s, &st, "nobody", pw, 13, NULL, 0, NULL, now, &r2), 0);
    assert_int_equal(moat_login_retry_after(&r2, now), 0);
    moat_store_close(s);
    char p[200];
    const char *const sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base32),
        cmocka_unit_test(test_totp_rfc6238),
        cmocka_unit_test(test_totp_window_replay),
        cmocka_unit_test(test_password_vectors),
        cmocka_unit_test(test_password_argon2),
        cmocka_unit_test(test_password_malformed),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_login),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
