/* test_acme.c - unit tests of src/acme that need no CA: the checks on the
 * CA's JSON objects (parse.c), the challenge answers the workers read
 * (HTTP-01 key authorizations, the RFC 8737 certificate), and the renewal
 * arithmetic. The exchange with a real CA is tests/integration/test_acme.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme.h"
#include "acme/internal.h"

#define S(lit) lit, sizeof(lit) - 1
#define TOKEN "Uj3T0F8bOWv3Yx0ZbCaXzQ4P8t6vZL2kQw1m0Zk0nBc"

static void test_directory(void **state)
{
    (void)state;
    moat_acme_directory d;
    char *err = NULL;
    assert_int_equal(moat_acme_parse_directory(
                         S("{\"newNonce\":\"https://ca/n\",\"newAccount\":\"https://ca/a\","
                           "\"newOrder\":\"https://ca/o\",\"meta\":{\"externalAccountRequired\":"
                           "true}}"),
                         &d, &err),
                     0);
    assert_string_equal(d.new_order, "https://ca/o");
    assert_true(d.eab_required);
    assert_null(d.revoke_cert);
    moat_acme_directory_free(&d);
    /* a missing URL, a URL that is not http(s), not an object, not JSON */
    const char *bad[] = {
        "{\"newNonce\":\"https://ca/n\",\"newAccount\":\"https://ca/a\"}",
        "{\"newNonce\":\"https://ca/n\",\"newAccount\":\"https://ca/a\",\"newOrder\":\"file:///"
        "x\"}",
        "{\"newNonce\":\"https://ca/n\",\"newAccount\":\"https://ca/a\",\"newOrder\":\"https://c "
        "a\"}",
        "[1]",
        "{",
        "{\"newOrder\":\"https://a\",\"newOrder\":\"https://b\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        assert_int_equal(moat_acme_parse_directory(bad[i], strlen(bad[i]), &d, &err), MOAT_EINVAL);
        assert_non_null(err);
        assert_null(d.new_nonce);
        free(err);
    }
}

static void test_order(void **state)
{
    (void)state;
    moat_acme_order o;
    char *err = NULL;
    assert_int_equal(moat_acme_parse_order(S("{\"status\":\"invalid\",\"finalize\":\"https://f\","
                                             "\"authorizations\":[\"https://a1\",\"https://a2\"],"
                                             "\"error\":{\"type\":\"urn:ietf:params:acme:error:"
                                             "unauthorized\",\"detail\":\"no\\nway\"}}"),
                                           &o, &err),
                     0);
    assert_int_equal(o.status, MOAT_ACME_INVALID);
    assert_int_equal(o.nauthorizations, 2);
    assert_null(o.certificate);
    /* the problem: its type without the URN prefix, no control characters,
     * and not "type: detail" (which the security log would redact) */
    assert_string_equal(o.error, "unauthorized (no way)");
    moat_acme_order_free(&o);
    const char *bad[] = {
        "{\"status\":\"pending\",\"finalize\":\"https://f\",\"authorizations\":[]}",
        "{\"status\":\"pending\",\"finalize\":\"https://f\",\"authorizations\":[1]}",
        "{\"status\":\"weird\",\"finalize\":\"https://f\",\"authorizations\":[\"https://a\"]}",
        "{\"status\":\"pending\",\"authorizations\":[\"https://a\"]}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        assert_int_equal(moat_acme_parse_order(bad[i], strlen(bad[i]), &o, &err), MOAT_EINVAL);
        free(err);
    }
}

static void test_authz(void **state)
{
    (void)state;
    moat_acme_authz a;
    char *err = NULL;
    static const char good[] =
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
        "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://c/1\",\"token\":\"" TOKEN "\"},"
        "{\"type\":\"tls-alpn-01\",\"url\":\"https://c/2\",\"token\":\"" TOKEN "\","
        "\"status\":\"pending\"}]}";
    assert_int_equal(moat_acme_parse_authz(good, strlen(good), "tls-alpn-01", &a, &err), 0);
    assert_string_equal(a.url, "https://c/2");
    assert_string_equal(a.domain, "a.example");
    assert_int_equal(a.challenge_status, MOAT_ACME_PENDING);
    moat_acme_authz_free(&a);
    /* no challenge of the asked type */
    assert_int_equal(moat_acme_parse_authz(good, strlen(good), "dns-01", &a, &err), MOAT_EINVAL);
    free(err);
    /* a token that is not base64url never reaches a path or a certificate */
    static const char traversal[] =
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
        "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://c/1\","
        "\"token\":\"../../../../etc/passwd/aaaaaa\"}]}";
    err = NULL;
    assert_int_equal(moat_acme_parse_authz(traversal, strlen(traversal), "http-01", &a, &err),
                     MOAT_EINVAL);
    free(err);
    /* a valid authorization needs no challenge */
    static const char valid[] =
        "{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
        "\"challenges\":[]}";
    assert_int_equal(moat_acme_parse_authz(valid, strlen(valid), "http-01", &a, &err), 0);
    assert_int_equal(a.status, MOAT_ACME_VALID);
    moat_acme_authz_free(&a);
}

static void test_problem(void **state)
{
    (void)state;
    moat_acme_problem p;
    assert_int_equal(moat_acme_parse_problem(S("{\"type\":\"urn:ietf:params:acme:error:badNonce\","
                                               "\"detail\":\"a\\u0007b\"}"),
                                             &p),
                     0);
    assert_string_equal(p.type, "badNonce");
    assert_string_equal(p.detail, "a b");
    moat_acme_problem_free(&p);
    assert_int_equal(moat_acme_parse_problem(S("<html>"), &p), MOAT_EINVAL);
}

static void test_http01_answers(void **state)
{
    (void)state;
    char out[256];
    assert_false(moat_acme_http01(S(TOKEN), out, sizeof(out)));
    assert_int_equal(moat__acme_answer_add(false, TOKEN, TOKEN ".thumb"), 0);
    assert_true(moat_acme_http01(S(TOKEN), out, sizeof(out)));
    assert_string_equal(out, TOKEN ".thumb");
    /* a prefix or a longer token is another token */
    assert_false(moat_acme_http01(TOKEN, sizeof(TOKEN) - 2, out, sizeof(out)));
    assert_false(moat_acme_http01(S(TOKEN "x"), out, sizeof(out)));
    /* an HTTP-01 answer is no TLS-ALPN-01 answer */
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    assert_int_equal(moat__acme_alpn_answer(TOKEN, &x, &k), MOAT_ENOENT);
    moat__acme_answers_clear();
    assert_false(moat_acme_http01(S(TOKEN), out, sizeof(out)));
}

static void test_alpn_certificate(void **state)
{
    (void)state;
    const char *keyauth = TOKEN ".thumb";
    assert_int_equal(moat__acme_answer_add(true, "a.example", keyauth), 0);
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    assert_int_equal(moat__acme_alpn_answer("other.example", &x, &k), MOAT_ENOENT);
    assert_int_equal(moat__acme_alpn_answer("A.Example", &x, &k), 0);
    assert_int_equal(X509_check_private_key(x, k), 1);
    assert_int_equal(X509_check_host(x, "a.example", 0, 0, NULL), 1);
    /* RFC 8737 3: id-pe-acmeIdentifier, critical, OCTET STRING of SHA-256 */
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    int at = X509_get_ext_by_OBJ(x, oid, -1);
    assert_true(at >= 0);
    X509_EXTENSION *ext = X509_get_ext(x, at);
    assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
    unsigned char want[2 + SHA256_DIGEST_LENGTH] = {0x04, 32};
    SHA256((const unsigned char *)keyauth, strlen(keyauth), want + 2);
    assert_int_equal(ASN1_STRING_length(v), sizeof(want));
    assert_memory_equal(ASN1_STRING_get0_data(v), want, sizeof(want));
    ASN1_OBJECT_free(oid);
    X509_free(x);
    EVP_PKEY_free(k);
    moat__acme_answers_clear();
    assert_int_equal(moat__acme_alpn_answer("a.example", &x, &k), MOAT_ENOENT);
}

static void test_renewal_and_names(void **state)
{
    (void)state;
    moat_acme_certinfo ci = {.not_before = 1000, .not_after = 1000 + 90 * 86400};
    assert_int_equal(moat_acme_renew_at(&ci), 1000 + 60 * 86400);
    snprintf(ci.names, sizeof(ci.names), "a.example, b.example");
    char *same[] = {"b.example", "A.example"};
    char *fewer[] = {"a.example"};
    char *other[] = {"a.example", "c.example"};
    char *more[] = {"a.example", "b.example", "c.example"};
    assert_true(moat__acme_covers(&ci, same, 2));
    assert_false(moat__acme_covers(&ci, fewer, 1));
    assert_false(moat__acme_covers(&ci, other, 2));
    assert_false(moat__acme_covers(&ci, more, 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_authz),
        cmocka_unit_test(test_problem),
        cmocka_unit_test(test_http01_answers),
        cmocka_unit_test(test_alpn_certificate),
        cmocka_unit_test(test_renewal_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
