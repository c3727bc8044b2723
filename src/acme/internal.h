/* internal.h - shared inside src/acme only. */
#ifndef MOAT_ACME_INTERNAL_H
#define MOAT_ACME_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "acme.h"

/* True when the certificate's DNS names are exactly names[0..n). */
bool moat__acme_covers(const moat_acme_certinfo *ci, char *const *names, size_t n);
/* True when the PEM files hold a certificate and its private key. */
bool moat__acme_pair_ok(const char *cert, const char *key);
/* Publishes an answer: HTTP-01 (alpn false: name is the token) or
 * TLS-ALPN-01 (name is the domain; the certificate is made here). */
int moat__acme_answer_add(bool alpn, const char *name, const char *keyauth);
void moat__acme_answers_clear(void);
/* The TLS layer's challenge callback (moat_tls_set_challenge). */
int moat__acme_alpn_answer(const char *host, X509 **cert, EVP_PKEY **key);

#endif
