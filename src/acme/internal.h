/* internal.h - shared inside src/acme only. */
#ifndef MOAT_ACME_INTERNAL_H
#define MOAT_ACME_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
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

/* How the certificate threads wait (sleeper.c): naps on the monotonic clock
 * that moat__sleeper_wake cuts short and moat__sleeper_stop ends (the
 * caller then joins the thread). */
typedef struct moat__sleeper {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool wake, stop; /* under lock */
} moat__sleeper;
void moat__sleeper_init(moat__sleeper *s);
void moat__sleeper_destroy(moat__sleeper *s);
bool moat__sleeper_stopping(moat__sleeper *s);
/* Sleeps up to ms, or until woken; false when asked to stop. */
bool moat__sleeper_nap(moat__sleeper *s, uint64_t ms);
void moat__sleeper_wake(moat__sleeper *s);
void moat__sleeper_stop(moat__sleeper *s);

/* libcurl, loaded with dlopen when a thread needs it (client.c). */
typedef struct moat__curl {
    void *lib;
    CURL *(*init)(void);
    CURLcode (*setopt)(CURL *, CURLoption, ...);
    CURLcode (*perform)(CURL *);
    CURLcode (*getinfo)(CURL *, CURLINFO, ...);
    void (*cleanup)(CURL *);
    void (*reset)(CURL *);
    const char *(*strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} moat__curl;
int moat__acme_load_curl(moat__curl *c, char **err);

/* ---- revocation checks (ocsp.c) ------------------------------------------
 * One checker per thread (the ACME thread, or the tls.cert thread); one
 * moat__ocsp_cert per chain file it watches. */
typedef struct moat__ocsp moat__ocsp;
typedef struct moat__ocsp_cert {
    char *path;           /* the PEM chain: leaf first, then its issuer */
    unsigned char fp[32]; /* SHA-256 of the leaf last seen; all zero: none yet */
    uint64_t next_ms;     /* monotonic: when to ask the responder next (0: now) */
    unsigned failures;    /* in a row, for the backoff */
    moat_ocsp_status status;
} moat__ocsp_cert;
/* managed: the certificate is ACME's (a revoked one is replaced). stopping
 * (with arg) is polled during a request so a stop does not wait for it. */
moat__ocsp *moat__ocsp_new(const moat_config *cfg, moat_seclog *log, moat__curl *cu, CURL *h,
                           bool managed, bool (*stopping)(void *), void *arg);
void moat__ocsp_free(moat__ocsp *o);
/* Reads c->path again (a new leaf starts over: its stored response is
 * stapled at once if still good) and asks the responder when due. Returns
 * what this call learnt: MOAT_OCSP_NONE when it asked nothing (not due, or
 * no responder), else the answer (MOAT_OCSP_FAILED: no usable answer).
 * Events: cert.revoked, cert.ocsp_failed. */
moat_ocsp_status moat__ocsp_poll(moat__ocsp *o, moat__ocsp_cert *c);
/* Milliseconds until c is due. */
uint64_t moat__ocsp_due_in(const moat__ocsp_cert *c);

#endif
