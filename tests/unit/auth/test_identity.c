/* test_identity.c - unit tests of the identity headers (identity.c): what a
 * client may not send (moat's list, its prefixes, auth.strip_headers, the
 * portal's X-Moat-Csrf kept only where asked), the method-override headers,
 * the headers moat sets (X-Moat-Identity's HMAC checked independently), the
 * setting each auth event names, and the portal's return URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/portal/portal.h"

static const char *value(moat_http_head *h, const char *name)
{
    moat_http_header *f = moat_http_head_find(h, name);
    return f ? f->value : NULL;
}

static void test_strip(void **state)
{
    (void)state;
    moat_arena *a = moat_arena_new();
    moat_http_head *h = moat_arena_calloc(a, sizeof(*h));
    const char *const sent[] = {"remote-user",
                                "Remote-Anything",
                                "X-Forwarded-User",
                                "x-amzn-oidc-data",
                                "X-Ms-Client-Principal-Name",
                                "X-Moat-Identity",
                                "X-Moat-Csrf",
                                "X-Tenant-User",
                                "X-Userx",
                                "Accept",
                                "X-Forwarded-For"};
    for (size_t i = 0; i < sizeof(sent) / sizeof(sent[0]); i++)
        moat_http_head_add(h, a, sent[i], "v");
    char *extra_items[] = {"X-Tenant-*"};
    moat_strlist extra = {.items = extra_items, .len = 1};
    moat_auth_identity_strip(h, &extra, true);
    assert_int_equal(h->nheaders, 4);
    assert_non_null(value(h, "X-Moat-Csrf"));
    assert_non_null(value(h, "X-Userx")); /* a name, not a prefix */
    assert_non_null(value(h, "Accept"));
    assert_non_null(value(h, "X-Forwarded-For"));
    assert_null(value(h, "X-Tenant-User"));
    moat_auth_identity_strip(h, NULL, false);
    assert_int_equal(h->nheaders, 3);
    assert_null(value(h, "X-Moat-Csrf"));
    assert_true(moat_auth_identity_header("X-WEBAUTH-USER", 14, NULL));
    assert_false(moat_auth_identity_header("X-Webauth", 9, NULL));

    moat_http_head_add(h, a, "X-HTTP-Method-Override", "DELETE");
    moat_http_head_add(h, a, "x-method-override", "DELETE");
    moat_http_head_add(h, a, "X-HTTP-Method", "PUT");
    moat_auth_method_override_strip(h);
    assert_int_equal(h->nheaders, 3);
    moat_arena_free(a);
}

static void test_identity_set(void **state)
{
    (void)state;
    moat_arena *a = moat_arena_new();
    moat_http_head *h = moat_arena_calloc(a, sizeof(*h));
    char *roles[] = {"admin", "ops"};
    moat_user u = {.id = 7, .name = "alice", .roles = roles, .nroles = 2};
    moat_auth_identity id = {.secret = "", .mfa = true, .now = 1700000000};
    moat_auth_identity_set(h, a, &u, &id);
    assert_string_equal(value(h, "Remote-User"), "alice");
    assert_string_equal(value(h, "Remote-Groups"), "admin,ops");
    assert_null(value(h, "X-Moat-Identity"));

    id.secret = "k3y";
    u.nroles = 0;
    moat_auth_identity_set(h, a, &u, &id);
    assert_int_equal(h->nheaders, 3); /* set, not added */
    assert_string_equal(value(h, "Remote-Groups"), "");
    const char *got = value(h, "X-Moat-Identity");
    assert_non_null(got);
    const char *msg = "v1;user=alice;groups=;mfa=1;via=session;ts=1700000000";
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), "k3y", 3, (const unsigned char *)msg, strlen(msg), mac, &n);
    char want[256];
    int off = snprintf(want, sizeof(want), "%s;sig=", msg);
    for (unsigned i = 0; i < n; i++)
        off += snprintf(want + off, sizeof(want) - (size_t)off, "%02x", mac[i]);
    assert_string_equal(got, want);

    id.token = true;
    id.mfa = false;
    moat_auth_identity_set(h, a, &u, &id);
    assert_non_null(strstr(value(h, "X-Moat-Identity"), ";mfa=0;via=token;"));
    moat_arena_free(a);
}

static void test_event_keys(void **state)
{
    (void)state;
    assert_string_equal(moat_auth_event_key("authz.denied"), "auth.rules");
    assert_string_equal(moat_auth_event_key("auth.mfa.lockout"), "auth.mfa_failures");
    assert_string_equal(moat_auth_event_key("auth.token.failure"), "auth.address_failures");
    assert_string_equal(moat_auth_event_key("auth.lockout"), "auth.lockout_failures");
    assert_string_equal(moat_auth_event_key("session.expired"), "auth.session_idle");
    assert_null(moat_auth_event_key("auth.login.success"));
    assert_null(moat_auth_event_key("waf.blocked"));
}

static void test_page_url(void **state)
{
    (void)state;
    moat_arena *a = moat_arena_new();
    assert_string_equal(moat_portal_page_url(a, "/.moat/login", "/admin/x?y=1&z"),
                        "/.moat/login?rd=/admin/x%3Fy%3D1%26z");
    assert_string_equal(moat_portal_page_url(a, "/.moat/login", "//evil.example"), "/.moat/login");
    assert_string_equal(moat_portal_page_url(a, "/.moat/mfa", NULL), "/.moat/mfa");
    moat_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strip),
        cmocka_unit_test(test_identity_set),
        cmocka_unit_test(test_event_keys),
        cmocka_unit_test(test_page_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
