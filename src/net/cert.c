/* cert.c - `moat cert selfsigned`: a development certificate (ECDSA P-256,
 * SHA-256, subjectAltName for every name, serverAuth) and its key, written
 * as PEM with the key readable by its owner only. For development and the
 * demo; production certificates come from a CA (ACME). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static FILE *open_private(const char *path, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return NULL;
    if (fchmod(fd, mode) < 0) {
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) close(fd);
    return f;
}

int moat_cert_selfsigned(const char *cert_path, const char *key_path, char *const *names, size_t n,
                         unsigned days, char *err, size_t errlen)
{
    int rc = MOAT_EIO;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    moat_buf san;
    moat_buf_init(&san);
    FILE *kf = NULL, *cf = NULL;
    if (!pkey || !x || n == 0) {
        snprintf(err, errlen, "cannot create a key");
        goto out;
    }
    unsigned char serial[16];
    moat_random(serial, sizeof(serial));
    serial[0] &= 0x7F;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -300);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400L);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)names[0], -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"moat development",
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    for (size_t i = 0; i < n; i++) {
        unsigned char ip[16];
        bool is_ip =
            inet_pton(AF_INET, names[i], ip) == 1 || inet_pton(AF_INET6, names[i], ip) == 1;
        moat_buf_printf(&san, "%s%s:%s", i ? "," : "", is_ip ? "IP" : "DNS", names[i]);
    }
    if (add_ext(x, NID_subject_alt_name, san.data) < 0 ||
        add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
        add_ext(x, NID_ext_key_usage, "serverAuth") < 0) {
        snprintf(err, errlen, "invalid name in the certificate");
        goto out;
    }
    if (!X509_sign(x, pkey, EVP_sha256())) {
        snprintf(err, errlen, "cannot sign the certificate");
        goto out;
    }
    kf = open_private(key_path, 0600);
    if (!kf || !PEM_write_PrivateKey(kf, pkey, NULL, NULL, 0, NULL, NULL)) {
        snprintf(err, errlen, "cannot write '%s': %s", key_path, strerror(errno));
        goto out;
    }
    cf = open_private(cert_path, 0644);
    if (!cf || !PEM_write_X509(cf, x)) {
        snprintf(err, errlen, "cannot write '%s': %s", cert_path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (kf && fclose(kf) != 0) rc = MOAT_EIO;
    if (cf && fclose(cf) != 0) rc = MOAT_EIO;
    moat_buf_free(&san);
    X509_free(x);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return rc;
}
