/* acme.h - certificates that take care of themselves: an RFC 8555 client
 * that obtains, stores and renews the one certificate of [tls.acme] on its
 * own thread, answers the CA's challenges (HTTP-01 through the gateway,
 * TLS-ALPN-01 through src/net/tls.c) and swaps each new certificate into
 * the TLS listener without a restart. The CA's JSON objects are read by
 * the parse functions below (fuzzed: tests/fuzz/fuzz_acme.c). */
#ifndef MOAT_ACME_H
#define MOAT_ACME_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "seclog/seclog.h"

/* ---- files (store.c) ----------------------------------------------------- */

/* The state folder's acme/ directory (beside store.url's database) and the
 * certificate, key and account key files in it; renew is the flag file
 * `moat cert renew` leaves (renew now, whatever the dates). Owned strings. */
typedef struct moat_acme_paths {
    char *dir, *cert, *key, *account, *renew;
    char *ocsp; /* the state folder's ocsp/: the last OCSP answer per chain file */
} moat_acme_paths;
void moat_acme_paths_init(const moat_config *cfg, moat_acme_paths *p);
void moat_acme_paths_free(moat_acme_paths *p);

/* What `moat cert status` and the renewal schedule need from a PEM file's
 * first certificate. */
typedef struct moat_acme_certinfo {
    int64_t not_before, not_after; /* Unix seconds */
    char issuer[256];              /* one line */
    char names[1024];              /* "a.example, b.example" */
} moat_acme_certinfo;
int moat_acme_cert_info(const char *path, moat_acme_certinfo *out);
/* Two thirds of the lifetime: when renewal starts. */
int64_t moat_acme_renew_at(const moat_acme_certinfo *ci);

/* ---- the client (client.c) ----------------------------------------------- */

typedef struct moat_acme moat_acme;

/* Starts the certificate thread for cfg's [tls.acme] (a copy is kept) and
 * registers the TLS-ALPN-01 answer with the TLS layer. Call after the
 * process took its serving user's identity: the files it writes are that
 * user's. Events (cert.issued, cert.renewed, cert.failed) go to log (may be
 * NULL). Returns 0, or a negative code with *err owned, nothing started. */
int moat_acme_start(const moat_config *cfg, moat_seclog *log, moat_acme **out, char **err);
/* Makes the thread look at its files again now (SIGHUP: a renewal asked
 * for with `moat cert renew`). NULL is fine. */
void moat_acme_wake(moat_acme *a);
/* Stops the thread (an attempt in progress is abandoned at its next step)
 * and frees a. NULL is fine. */
void moat_acme_stop(moat_acme *a);
/* Loads the stored certificate into the TLS layer's managed slot, or an
 * empty slot when there is none yet (or it does not load). *had says which. */
void moat_acme_serve_stored(const moat_config *cfg, bool *had);

/* HTTP-01: the key authorization for token (token[0..len)) while a
 * validation is under way. Copies it into out (NUL-terminated) and returns
 * true; false for any other token. Thread-safe. */
bool moat_acme_http01(const char *token, size_t len, char *out, size_t outlen);

/* ---- revocation of the served certificate (ocsp.c) ------------------------
 * OCSP (RFC 6960) for the certificates moat serves, ACME's and tls.cert's,
 * when tls.ocsp is on and the certificate names a responder: checked at
 * start and then every tls.ocsp_refresh (sooner when half the answer's
 * validity is shorter), the good answer stapled to handshakes, the last
 * answer kept in the state folder for `moat cert status`. */

typedef enum {
    MOAT_OCSP_NONE,    /* not asked (no responder, not due) */
    MOAT_OCSP_GOOD,    /* the responder vouches for it */
    MOAT_OCSP_REVOKED, /* the CA revoked it */
    MOAT_OCSP_UNKNOWN, /* the responder does not know it */
    MOAT_OCSP_FAILED,  /* no usable answer (unreachable, bad signature, out of date) */
} moat_ocsp_status;

typedef struct moat_ocsp_info {
    moat_ocsp_status status;
    int64_t this_update, next_update, revoked_at, checked; /* Unix seconds; 0 = none */
    char reason[128]; /* the revocation reason, or why the answer is not usable */
} moat_ocsp_info;

/* The last answer the running moat stored for the chain in cert_path,
 * verified again against that chain's issuer (its signature and dates as of
 * now; a stale answer is MOAT_OCSP_FAILED with the reason). Returns 0,
 * MOAT_ENOENT (none stored) or MOAT_EINVAL (the chain has no issuer or no
 * responder URL: *out->reason says which). */
int moat_ocsp_stored(const moat_config *cfg, const char *cert_path, moat_ocsp_info *out);

/* The thread that checks tls.cert files (the ACME certificate is checked
 * by its own thread). *out stays NULL when there is nothing to check
 * (tls.ocsp off, no tls.cert, [tls.acme]). Same contract as
 * moat_acme_start. */
typedef struct moat_ocsp moat_ocsp;
int moat_ocsp_start(const moat_config *cfg, moat_seclog *log, moat_ocsp **out, char **err);
/* SIGHUP: read the files again now (a replaced certificate is checked at
 * once). NULL is fine. */
void moat_ocsp_wake(moat_ocsp *o);
void moat_ocsp_stop(moat_ocsp *o);

/* ---- the CA's objects (parse.c) ------------------------------------------ */

typedef enum {
    MOAT_ACME_UNKNOWN,
    MOAT_ACME_PENDING,
    MOAT_ACME_READY,
    MOAT_ACME_PROCESSING,
    MOAT_ACME_VALID,
    MOAT_ACME_INVALID,
} moat_acme_status;

typedef struct moat_acme_directory {
    char *new_nonce, *new_account, *new_order, *revoke_cert;
    bool eab_required;
} moat_acme_directory;

typedef struct moat_acme_order {
    moat_acme_status status;
    char **authorizations;
    size_t nauthorizations;
    char *finalize, *certificate; /* certificate: NULL until valid */
    char *error;                  /* the problem's detail when invalid */
} moat_acme_order;

typedef struct moat_acme_authz {
    moat_acme_status status;
    char *domain;
    char *url, *token; /* the challenge of the asked type; token is base64url */
    moat_acme_status challenge_status;
    char *error; /* the challenge's problem detail, if any */
} moat_acme_authz;

typedef struct moat_acme_problem {
    char *type, *detail; /* type without "urn:ietf:params:acme:error:" */
} moat_acme_problem;

/* Each parses JSON text json[0..n) (not NUL-terminated) into out and
 * returns 0, or MOAT_EINVAL with *err owning why (out then holds nothing).
 * URLs must be https:// or http://; a challenge token must be base64url. */
int moat_acme_parse_directory(const char *json, size_t n, moat_acme_directory *out, char **err);
int moat_acme_parse_order(const char *json, size_t n, moat_acme_order *out, char **err);
int moat_acme_parse_authz(const char *json, size_t n, const char *type, moat_acme_authz *out,
                          char **err);
int moat_acme_parse_problem(const char *json, size_t n, moat_acme_problem *out);
void moat_acme_directory_free(moat_acme_directory *d);
void moat_acme_order_free(moat_acme_order *o);
void moat_acme_authz_free(moat_acme_authz *a);
void moat_acme_problem_free(moat_acme_problem *p);

#endif
