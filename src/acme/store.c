/* store.c - where ACME keeps things and what it shows: the files in the
 * state folder's acme/ directory, the facts `moat cert status` and the
 * renewal schedule read from a certificate, and the challenge answers
 * moat gives while a validation is under way (HTTP-01 key authorizations
 * for the gateway, TLS-ALPN-01 certificates for the TLS layer), shared
 * between the certificate thread and the workers under one lock. */
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme.h"
#include "internal.h"

void moat_acme_paths_init(const moat_config *cfg, moat_acme_paths *p)
{
    const char *db =
        cfg->store.url && strncmp(cfg->store.url, "sqlite:", 7) == 0 ? cfg->store.url + 7 : "";
    const char *slash = strrchr(db, '/');
    if (!slash)
        p->dir = moat_xstrdup("acme");
    else
        p->dir = moat_xasprintf("%.*s/acme", (int)(slash - db), db);
    p->cert = moat_xasprintf("%s/cert.pem", p->dir);
    p->key = moat_xasprintf("%s/key.pem", p->dir);
    p->account = moat_xasprintf("%s/account.key", p->dir);
    p->renew = moat_xasprintf("%s/renew", p->dir);
    if (!slash)
        p->ocsp = moat_xstrdup("ocsp");
    else
        p->ocsp = moat_xasprintf("%.*s/ocsp", (int)(slash - db), db);
}

void moat_acme_paths_free(moat_acme_paths *p)
{
    free(p->dir);
    free(p->cert);
    free(p->key);
    free(p->account);
    free(p->renew);
    free(p->ocsp);
    memset(p, 0, sizeof(*p));
}

static int64_t asn1_time_unix(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return (int64_t)timegm(&tm);
}

int moat_acme_cert_info(const char *path, moat_acme_certinfo *out)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "r");
    if (!f) return MOAT_ENOENT;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    if (!x) return MOAT_EINVAL;
    out->not_before = asn1_time_unix(X509_get0_notBefore(x));
    out->not_after = asn1_time_unix(X509_get0_notAfter(x));
    X509_NAME_oneline(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer));
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    moat_buf b;
    moat_buf_init(&b);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_DNS) continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        int len = ASN1_STRING_length(g->d.dNSName);
        moat_buf_printf(&b, "%s%.*s", b.len ? ", " : "", len, (const char *)d);
    }
    GENERAL_NAMES_free(sans);
    snprintf(out->names, sizeof(out->names), "%s", b.len ? b.data : "");
    moat_buf_free(&b);
    X509_free(x);
    return 0;
}

int64_t moat_acme_renew_at(const moat_acme_certinfo *ci)
{
    return ci->not_before + (ci->not_after - ci->not_before) * 2 / 3;
}

bool moat__acme_covers(const moat_acme_certinfo *ci, char *const *names, size_t n)
{
    /* Same set: every configured name in the certificate, and as many. */
    size_t count = 0;
    for (const char *p = ci->names; *p; p++)
        if (*p == ',') count++;
    if (ci->names[0]) count++;
    if (count != n) return false;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        bool found = false;
        for (const char *p = ci->names; *p && !found;) {
            const char *end = strstr(p, ", ");
            size_t l = end ? (size_t)(end - p) : strlen(p);
            found = l == len && strncasecmp(p, names[i], len) == 0;
            p = end ? end + 2 : p + l;
        }
        if (!found) return false;
    }
    return true;
}

bool moat__acme_pair_ok(const char *cert, const char *key)
{
    FILE *cf = fopen(cert, "r"), *kf = fopen(key, "r");
    X509 *x = cf ? PEM_read_X509(cf, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
    bool ok = x && k && X509_check_private_key(x, k) == 1;
    if (cf) fclose(cf);
    if (kf) fclose(kf);
    X509_free(x);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return ok;
}

/* ---- challenge answers --------------------------------------------------- */

#define MAX_CHALLENGES 100

typedef struct answer {
    char *name;    /* http-01: the token; tls-alpn-01: the domain */
    char *keyauth; /* token.thumbprint */
    X509 *cert;    /* tls-alpn-01 */
    EVP_PKEY *key;
} answer;

static pthread_mutex_t answers_lock = PTHREAD_MUTEX_INITIALIZER;
static answer answers[MAX_CHALLENGES];
static size_t nanswers;

bool moat_acme_http01(const char *token, size_t len, char *out, size_t outlen)
{
    bool found = false;
    pthread_mutex_lock(&answers_lock);
    for (size_t i = 0; i < nanswers && !found; i++) {
        if (answers[i].cert || strlen(answers[i].name) != len) continue;
        if (memcmp(answers[i].name, token, len) != 0) continue;
        found = strlen(answers[i].keyauth) < outlen;
        if (found) snprintf(out, outlen, "%s", answers[i].keyauth);
    }
    pthread_mutex_unlock(&answers_lock);
    return found;
}

int moat__acme_alpn_answer(const char *host, X509 **cert, EVP_PKEY **key)
{
    int rc = MOAT_ENOENT;
    pthread_mutex_lock(&answers_lock);
    for (size_t i = 0; i < nanswers; i++) {
        if (!answers[i].cert || strcasecmp(answers[i].name, host) != 0) continue;
        X509_up_ref(answers[i].cert);
        EVP_PKEY_up_ref(answers[i].key);
        *cert = answers[i].cert;
        *key = answers[i].key;
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&answers_lock);
    return rc;
}

/* RFC 8737 section 3: a self-signed certificate for the one name, with the
 * critical id-pe-acmeIdentifier extension holding SHA-256(key authorization). */
static int alpn_cert(const char *domain, const char *keyauth, X509 **out, EVP_PKEY **outkey)
{
    int rc = MOAT_EIO;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    if (!pkey || !x || !oid || !os) goto out;
    unsigned char der[2 + SHA256_DIGEST_LENGTH] = {0x04, SHA256_DIGEST_LENGTH};
    SHA256((const unsigned char *)keyauth, strlen(keyauth), der + 2);
    if (!ASN1_OCTET_STRING_set(os, der, sizeof(der))) goto out;
    ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, os);
    unsigned char serial[16];
    moat_random(serial, sizeof(serial));
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -300);
    X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400L);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)domain, -1, -1, 0);
    X509_set_issuer_name(x, name);
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    ASN1_STRING_set(ia5, domain, -1);
    GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
    sk_GENERAL_NAME_push(gens, g);
    int ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0);
    GENERAL_NAMES_free(gens);
    if (ok != 1 || !ext || !X509_add_ext(x, ext, -1) || !X509_sign(x, pkey, EVP_sha256())) goto out;
    *out = x;
    *outkey = pkey;
    x = NULL;
    pkey = NULL;
    rc = 0;
out:
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(oid);
    X509_free(x);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return rc;
}

int moat__acme_answer_add(bool alpn, const char *name, const char *keyauth)
{
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    if (alpn && alpn_cert(name, keyauth, &x, &k) < 0) return MOAT_EIO;
    pthread_mutex_lock(&answers_lock);
    if (nanswers == MAX_CHALLENGES) {
        pthread_mutex_unlock(&answers_lock);
        X509_free(x);
        EVP_PKEY_free(k);
        return MOAT_ETOOBIG;
    }
    answers[nanswers++] = (answer){moat_xstrdup(name), moat_xstrdup(keyauth), x, k};
    pthread_mutex_unlock(&answers_lock);
    return 0;
}

void moat__acme_answers_clear(void)
{
    pthread_mutex_lock(&answers_lock);
    for (size_t i = 0; i < nanswers; i++) {
        free(answers[i].name);
        free(answers[i].keyauth);
        X509_free(answers[i].cert);
        EVP_PKEY_free(answers[i].key);
    }
    nanswers = 0;
    pthread_mutex_unlock(&answers_lock);
}
